//! End to end: each adapter's `run` returns once the report is built, and
//! the process then exits, even though a blocking service that ignored its
//! stop was abandoned and its thread is still blocked (issue 10, item 3).
//! The program is `src/programs/abandoned.rs`, on each adapter (this
//! crate's `<adapter>-abandoned` examples), run as a real child process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the program may take from its start to its exit. It needs
/// about 200 ms (its service's shutdown timeout); a hang must still end.
const BOUND: Duration = Duration::from_secs(60);

/// Runs the example; it must print the report and exit 0 within [`BOUND`].
fn exits_after_its_report(package: &str, example: &str) {
    let binary = governor_conformance::example_binary::example_binary(package, example, &[]);
    let mut child = Command::new(&binary)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let pid = child.id();
    let (exited_tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let status = child.wait().expect("the program is waited for");
        let _ = exited_tx.send((status, lines));
    });
    let (status, lines) = match exited.recv_timeout(BOUND) {
        Ok(done) => done,
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            let (_, lines) = exited.recv().expect("the killed program is reaped");
            panic!("{example} did not exit within {BOUND:?} after start; it printed {lines:?}");
        }
    };
    assert!(
        lines.contains(&"abandoned: stubborn running".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"abandoned: report: stubborn Some(Abandoned)".to_owned()),
        "run returned the report naming the abandoned service: {lines:?}"
    );
    assert!(
        status.success(),
        "{example} exited with {status}: {lines:?}"
    );
}

#[test]
fn tokio_run_returns_and_the_process_exits_despite_an_abandoned_thread() {
    exits_after_its_report("governor-conformance", "tokio-abandoned");
}

#[test]
fn smol_run_returns_and_the_process_exits_despite_an_abandoned_thread() {
    exits_after_its_report("governor-conformance", "smol-abandoned");
}

#[test]
fn async_std_run_returns_and_the_process_exits_despite_an_abandoned_thread() {
    exits_after_its_report("governor-conformance", "async-std-abandoned");
}
