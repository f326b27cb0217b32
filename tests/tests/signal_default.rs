//! End to end, per adapter: once the governor has finished, a shutdown
//! signal gets the operating system's default action again (issue 13,
//! item 2). The program is `src/programs/linger.rs`, on each adapter
//! (this crate's `<adapter>-linger` examples), run as a real child
//! process: a first SIGTERM
//! shuts its governor down cleanly (exit code 0 in the report), `run`
//! returns and the program lingers for ever; a second SIGTERM must then
//! kill it, as if no handler had ever been installed. Before the fix the
//! handlers stayed for the life of the process and swallowed it.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long each step may take: the program needs milliseconds; a
/// swallowed signal (the bug) must still end the test.
const BOUND: Duration = Duration::from_secs(60);

fn kill(signal: &str, pid: u32) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(sent, "kill -{signal} {pid} failed");
}

enum Seen {
    Line(String),
    Exited(ExitStatus),
}

/// The example, SIGTERM once it runs, SIGTERM again once it lingers: it
/// must die of that second SIGTERM.
fn second_sigterm_kills_the_lingering_program(package: &str, example: &str) {
    let binary = governor_conformance::example_binary::example_binary(package, example, &[]);
    let mut child = Command::new(&binary)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(Seen::Line(line));
        }
        let status = child.wait().expect("the program is waited for");
        let _ = tx.send(Seen::Exited(status));
    });
    let mut lines = Vec::new();
    let expect = |what: &str, lines: &mut Vec<String>| -> Option<ExitStatus> {
        loop {
            match seen.recv_timeout(BOUND) {
                Ok(Seen::Line(line)) => {
                    let found = line == what;
                    lines.push(line);
                    if found {
                        return None;
                    }
                }
                Ok(Seen::Exited(status)) => return Some(status),
                Err(_) => {
                    kill("KILL", pid);
                    panic!("{example}: no {what:?} within {BOUND:?}; it printed {lines:?}");
                }
            }
        }
    };
    assert_eq!(expect("linger: running", &mut lines), None, "{lines:?}");
    kill("TERM", pid);
    assert_eq!(expect("linger: lingering", &mut lines), None, "{lines:?}");
    assert!(
        lines.contains(&"linger: exit code 0".to_owned()),
        "a clean shutdown on SIGTERM has exit code 0: {lines:?}"
    );
    kill("TERM", pid);
    let status = expect("(the end)", &mut lines).expect("the program ended");
    assert_eq!(
        status.signal(),
        Some(15),
        "{example} must die of the default SIGTERM action, not exit: {status}; {lines:?}"
    );
}

#[test]
fn tokio_gives_sigterm_its_default_action_back_after_run() {
    second_sigterm_kills_the_lingering_program("governor-conformance", "tokio-linger");
}

#[test]
fn smol_gives_sigterm_its_default_action_back_after_run() {
    second_sigterm_kills_the_lingering_program("governor-conformance", "smol-linger");
}

#[test]
fn async_std_gives_sigterm_its_default_action_back_after_run() {
    second_sigterm_kills_the_lingering_program("governor-conformance", "async-std-linger");
}
