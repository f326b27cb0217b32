//! The HTTP examples end to end, each as a real child process driven by a
//! real client (`curl`, installed by `.ci/run` when missing; a raw socket
//! where a client must hold a connection open): a request in flight when
//! SIGTERM arrives completes with its full body; new connections are
//! refused while it drains; an idle keep-alive connection does not hold
//! the shutdown (the drain ends well before the service's 5 s shutdown
//! timeout, which would otherwise abort it and exit 1); exit code 0.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one step may take: generous for a loaded CI machine, and
/// still an end to a hang.
const BOUND: Duration = Duration::from_secs(60);
/// The examples' shutdown timeout: a drain that reaches it is a failure.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `GET /slow` takes: long enough to try new connections while
/// it is in flight.
const SLOW_MS: &str = "3000";

fn example(name: &str) -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args(["build", "-p", "governor-examples", "--example", name])
        .arg("--message-format=json")
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building {name} failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|line| line.contains(&format!(r#""name":"{name}""#)))
        .find_map(|line| {
            let start = line.find(r#""executable":""#)? + r#""executable":""#.len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .expect("cargo reports the example's executable")
}

/// A running example: its process, its output lines, its address.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: String,
}

impl Server {
    fn start(name: &str) -> Server {
        let mut child = Command::new(example(name))
            .env("SLOW_MS", SLOW_MS)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            lines,
            addr: String::new(),
        };
        let line = server.wait_for("listening on ");
        server.addr = line["listening on ".len()..].to_string();
        server
    }

    /// Waits for a line starting with `prefix`; panics past [`BOUND`].
    fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line {prefix:?} from the example: {e}"),
            }
        }
    }

    fn sigterm(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM failed");
    }

    /// Waits for the exit; panics past [`BOUND`].
    fn exit(mut self) -> ExitStatus {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the example did not exit within {BOUND:?}");
            }
            std::thread::sleep(Duration::from_millis(10)); // polling a child process
        }
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .expect("curl runs (the Debian package `curl`; .ci/run installs it)")
}

fn slow_body() -> String {
    "governor ".repeat(8 * 1024)
}

fn in_flight_request_completes_and_new_connections_are_refused(name: &str) {
    let mut server = Server::start(name);
    let url = format!("http://{}/slow", server.addr);
    let (done_tx, done) = mpsc::channel();
    let slow = std::thread::spawn(move || {
        let output = curl(&[&url]);
        let _ = done_tx.send(());
        output
    });
    server.wait_for("request /slow");
    server.sigterm();
    server.wait_for("stopping");
    // The listener closes as the drain begins: a new connection is
    // refused (curl's exit code 7) while the slow request is in flight.
    let url = format!("http://{}/", server.addr);
    let deadline = Instant::now() + BOUND;
    loop {
        let output = curl(&["--max-time", "2", &url]);
        if output.status.code() == Some(7) {
            break;
        }
        assert!(Instant::now() < deadline, "new connections still accepted");
    }
    assert!(
        done.try_recv().is_err(),
        "the slow request had already finished when a new connection was refused"
    );
    let output = slow.join().unwrap();
    assert!(output.status.success(), "curl: {output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), slow_body());
    assert_eq!(server.exit().code(), Some(0));
}

fn idle_keep_alive_connection_does_not_hold_the_shutdown(name: &str) {
    let mut server = Server::start(name);
    let mut conn = TcpStream::connect(&server.addr).expect("connects");
    conn.set_read_timeout(Some(BOUND)).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !response.ends_with(b"hello\n") {
        let n = conn.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before the response ended");
        response.extend_from_slice(&buf[..n]);
    }
    // The connection stays open, idle, kept alive.
    let asked = Instant::now();
    server.sigterm();
    server.wait_for("stopping");
    // The server closes it (end of stream) rather than waiting for it.
    let n = conn.read(&mut buf).expect("end of stream");
    assert_eq!(n, 0, "the idle connection was closed");
    let status = server.exit();
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "a clean shutdown");
    assert!(
        took < SHUTDOWN_TIMEOUT,
        "the drain took {took:?}: the idle connection held it"
    );
}

#[test]
fn axum_in_flight_request_completes_and_new_connections_are_refused() {
    in_flight_request_completes_and_new_connections_are_refused("http_axum");
}

#[test]
fn axum_idle_keep_alive_connection_does_not_hold_the_shutdown() {
    idle_keep_alive_connection_does_not_hold_the_shutdown("http_axum");
}

#[test]
fn hyper_in_flight_request_completes_and_new_connections_are_refused() {
    in_flight_request_completes_and_new_connections_are_refused("http_hyper");
}

#[test]
fn hyper_idle_keep_alive_connection_does_not_hold_the_shutdown() {
    idle_keep_alive_connection_does_not_hold_the_shutdown("http_hyper");
}

#[test]
fn smol_in_flight_request_completes_and_new_connections_are_refused() {
    in_flight_request_completes_and_new_connections_are_refused("http_smol");
}

#[test]
fn smol_idle_keep_alive_connection_does_not_hold_the_shutdown() {
    idle_keep_alive_connection_does_not_hold_the_shutdown("http_smol");
}
