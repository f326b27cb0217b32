//! End to end: the test acts as systemd. It binds a real unix datagram
//! socket, runs the `systemd` program (`src/programs/systemd.rs`) on each
//! adapter (this crate's `<adapter>-systemd` examples, built with its
//! `systemd` feature, which turns on the adapters') as a child process with
//! `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` set, and checks
//! every message it receives (issue 13): the status lines and `READY=1`
//! after readiness, `WATCHDOG=1` at half of `WATCHDOG_USEC`, `STOPPING=1`
//! at SIGTERM, `EXTEND_TIMEOUT_USEC=` during a long stop; no `READY=1`
//! while a service is not ready; no pings once the governor's runtime is
//! stuck, none for a `WATCHDOG_PID` naming another process, and nothing
//! at all without `NOTIFY_SOCKET`.
//!
//! The runtimes get one worker thread each (`TOKIO_WORKER_THREADS`,
//! `SMOL_THREADS`, `ASYNC_STD_THREAD_COUNT`), so that the example's
//! `freeze` service, which blocks its thread, leaves the governor stuck.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// How long the program's `slow` service takes to stop: its own constant.
use governor_conformance::programs::systemd::SLOW_STOP;

/// The deadline of every wait: generous (a loaded 2-core machine is slow),
/// but a hang still ends.
const BOUND: Duration = Duration::from_secs(60);

/// `WATCHDOG_USEC` given to the child: pings are due every 300 ms.
const WATCHDOG: Duration = Duration::from_millis(600);

/// The shutdown timeout of the program's `slow` service, which takes
/// `SLOW_STOP` to stop (see `src/programs/systemd.rs`).
const SLOW_TIMEOUT: Duration = Duration::from_secs(10);

/// One datagram: its lines, and when it arrived.
#[derive(Debug, Clone)]
struct Message {
    lines: Vec<String>,
    at: Instant,
}

impl Message {
    fn is_ping(&self) -> bool {
        self.lines == ["WATCHDOG=1"]
    }
}

/// How the child is started.
struct Setup {
    notify_socket: bool,
    /// `WATCHDOG_PID` names the child (else another process, pid 1).
    watchdog_for_child: bool,
    freeze_after: Option<Duration>,
    /// `web` never reports ready.
    never_ready: bool,
    /// SIGHUP reloads.
    reload: bool,
    /// `sick` declares itself unhealthy this long after it starts.
    unhealthy_after: Option<Duration>,
    /// The whole shutdown's budget.
    budget: Option<Duration>,
}

impl Setup {
    /// The usual start: the socket set, the watchdog for the child, none
    /// of the demo's special modes.
    fn notifying() -> Setup {
        Setup {
            notify_socket: true,
            watchdog_for_child: true,
            freeze_after: None,
            never_ready: false,
            reload: false,
            unhealthy_after: None,
            budget: None,
        }
    }
}

/// The service manager's side: the socket, the child, what each sent.
struct Manager {
    example: &'static str,
    child: std::process::Child,
    messages: mpsc::Receiver<Message>,
    stdout: mpsc::Receiver<String>,
    socket_path: PathBuf,
    /// Everything received so far, for failure messages.
    seen: Vec<Message>,
}

impl Manager {
    fn start(package: &str, example: &'static str, setup: Setup) -> Manager {
        static SOCKETS: AtomicUsize = AtomicUsize::new(0);
        let binary =
            governor_conformance::example_binary::example_binary(package, example, &["systemd"]);
        let socket_path = std::env::temp_dir().join(format!(
            "governor-sd-{}-{}.sock",
            std::process::id(),
            SOCKETS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&socket_path);
        let socket = UnixDatagram::bind(&socket_path).expect("the notify socket binds");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a read timeout");
        let (messages_tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let message = Message {
                            lines: text.lines().map(str::to_owned).collect(),
                            at: Instant::now(),
                        };
                        if messages_tx.send(message).is_err() {
                            return;
                        }
                    }
                    // Timed out: still wanted?
                    Err(_) => {
                        if messages_tx
                            .send(Message {
                                lines: Vec::new(),
                                at: Instant::now(),
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        // WATCHDOG_PID is the child's own pid, known only once it runs:
        // a shell sets it to its `$$` and `exec`s the example in place.
        let watchdog_pid = if setup.watchdog_for_child { "$$" } else { "1" };
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(r#"WATCHDOG_PID={watchdog_pid} exec "$0""#))
            .arg(&binary)
            .env("WATCHDOG_USEC", WATCHDOG.as_micros().to_string())
            .env("TOKIO_WORKER_THREADS", "1")
            .env("SMOL_THREADS", "1")
            .env("ASYNC_STD_THREAD_COUNT", "1")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("SYSTEMD_DEMO_FREEZE_MS")
            .env_remove("SYSTEMD_DEMO_NEVER_READY")
            .env_remove("SYSTEMD_DEMO_RELOAD")
            .env_remove("SYSTEMD_DEMO_UNHEALTHY_MS")
            .env_remove("SYSTEMD_DEMO_BUDGET_MS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if setup.notify_socket {
            command.env("NOTIFY_SOCKET", &socket_path);
        }
        if setup.never_ready {
            command.env("SYSTEMD_DEMO_NEVER_READY", "1");
        }
        if let Some(budget) = setup.budget {
            command.env("SYSTEMD_DEMO_BUDGET_MS", budget.as_millis().to_string());
        }
        if setup.reload {
            command.env("SYSTEMD_DEMO_RELOAD", "1");
        }
        if let Some(after) = setup.unhealthy_after {
            command.env("SYSTEMD_DEMO_UNHEALTHY_MS", after.as_millis().to_string());
        }
        if let Some(after) = setup.freeze_after {
            command.env("SYSTEMD_DEMO_FREEZE_MS", after.as_millis().to_string());
        }
        let mut child = command.spawn().expect("the example starts");
        let out = child.stdout.take().expect("piped stdout");
        let (stdout_tx, stdout) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if stdout_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Manager {
            example,
            child,
            messages,
            stdout,
            socket_path,
            seen: Vec::new(),
        }
    }

    /// The next datagram, or `None` if `until` passes first.
    fn next_before(&mut self, until: Instant) -> Option<Message> {
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            match self.messages.recv_timeout(left) {
                Ok(message) if message.lines.is_empty() => continue, // a read timeout
                Ok(message) => {
                    self.seen.push(message.clone());
                    return Some(message);
                }
                Err(_) => return None,
            }
        }
    }

    /// The next datagram; fails the case after [`BOUND`].
    fn next(&mut self) -> Message {
        let until = Instant::now() + BOUND;
        match self.next_before(until) {
            Some(message) => message,
            None => panic!(
                "{}: no message within {BOUND:?}; so far: {:?}",
                self.example,
                self.texts()
            ),
        }
    }

    /// The next datagram that is not a watchdog ping; fails the case
    /// after [`BOUND`] (pings alone do not keep it waiting).
    fn next_not_ping(&mut self) -> Message {
        let until = Instant::now() + BOUND;
        loop {
            match self.next_before(until) {
                Some(message) if message.is_ping() => {}
                Some(message) => return message,
                None => panic!(
                    "{}: nothing but pings within {BOUND:?}; so far: {:?}",
                    self.example,
                    self.texts()
                ),
            }
        }
    }

    /// Waits for the child to print `line`, then asserts that it pinged
    /// at least twice before and not at all in the 2 s (more than 6
    /// periods) after, but for 100 ms of grace for a ping in flight.
    fn assert_pings_stop_after(&mut self, line: &str, what: &str) {
        let at = self.wait_line(line);
        let until = at + Duration::from_secs(2);
        let mut late = Vec::new();
        while let Some(message) = self.next_before(until) {
            if message.is_ping() && message.at > at + Duration::from_millis(100) {
                late.push(message.at - at);
            }
        }
        let before = self
            .seen
            .iter()
            .filter(|m| m.is_ping() && m.at <= at)
            .count();
        assert!(before >= 2, "pings before {line:?}: {:?}", self.texts());
        assert!(
            late.is_empty(),
            "{} pinged {what}, at {late:?} after",
            self.example
        );
    }

    /// Waits for the message with `READY=1`; fails after [`BOUND`].
    fn wait_ready(&mut self) {
        while !self.next_not_ping().lines.iter().any(|l| l == "READY=1") {}
    }

    /// Waits for a line of the child's stdout; fails after [`BOUND`].
    fn wait_line(&mut self, wanted: &str) -> Instant {
        loop {
            match self.stdout.recv_timeout(BOUND) {
                Ok(line) if line == wanted => return Instant::now(),
                Ok(_) => {}
                Err(_) => panic!("{}: no {wanted:?} within {BOUND:?}", self.example),
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Every message received after the child exits, and how it exited;
    /// fails the case if it does not exit within [`BOUND`].
    fn wait_exit(&mut self) -> (ExitStatus, Vec<Message>) {
        let until = Instant::now() + BOUND;
        let mut after = Vec::new();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child is waited for") {
                // What it sent before exiting is queued already.
                while let Ok(message) = self.messages.try_recv() {
                    if !message.lines.is_empty() {
                        self.seen.push(message.clone());
                        after.push(message);
                    }
                }
                return (status, after);
            }
            match self.next_before((Instant::now() + Duration::from_millis(50)).min(until)) {
                Some(message) => after.push(message),
                None if Instant::now() >= until => panic!(
                    "{}: did not exit within {BOUND:?}; messages: {:?}",
                    self.example,
                    self.texts()
                ),
                None => {}
            }
        }
    }

    fn texts(&self) -> Vec<String> {
        self.seen.iter().map(|m| m.lines.join("|")).collect()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        // On success the child has exited; on failure it must not outlive
        // the case.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket_path);
    }
}

fn lines(message: &Message) -> Vec<&str> {
    message.lines.iter().map(String::as_str).collect()
}

/// The whole life under systemd: the exact messages up to `READY=1`,
/// pings at half of `WATCHDOG_USEC`, `STOPPING=1` at SIGTERM, a decreasing
/// `EXTEND_TIMEOUT_USEC=` while `slow` takes its time to stop, `stopped`,
/// and exit code 0.
fn speaks_to_systemd(package: &str, example: &'static str) {
    let mut manager = Manager::start(package, example, Setup::notifying());
    let before_ready = [
        vec!["STATUS=starting: 3 services"],
        vec!["STATUS=restarting flaky in 200ms (attempt 1)"],
        vec!["READY=1", "STATUS=running: 3 services"],
    ];
    for expected in before_ready {
        let message = manager.next_not_ping();
        assert_eq!(lines(&message), expected, "{:?}", manager.texts());
    }

    // Pings every 300 ms: at least 6 of them, none closer than 150 ms
    // (not spammed), a median interval under 450 ms (half the period, not
    // the whole 600 ms). Nothing else while the services just run.
    let mut pings = Vec::new();
    while pings.len() < 6 {
        let message = manager.next();
        assert!(message.is_ping(), "{:?}", manager.texts());
        pings.push(message.at);
    }
    let mut intervals: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort();
    assert!(
        intervals[0] >= Duration::from_millis(150),
        "pings too close: {intervals:?}"
    );
    assert!(
        intervals[intervals.len() / 2] <= Duration::from_millis(450),
        "pings too far apart: {intervals:?}"
    );

    manager.signal("TERM");
    let stopping = manager.next_not_ping();
    assert_eq!(
        lines(&stopping),
        ["STOPPING=1", "STATUS=stopping: signal SIGTERM"],
        "{:?}",
        manager.texts()
    );
    let (status, after) = manager.wait_exit();
    let after: Vec<&Message> = after.iter().filter(|m| !m.is_ping()).collect();
    let (last, during) = after.split_last().expect("messages after STOPPING=1");
    assert_eq!(lines(last), ["STATUS=stopped"], "{:?}", manager.texts());

    // While `slow` stops: each message extends by the time left of its
    // 10 s timeout plus the 1 s until the next message; the time left
    // shrinks; at least two of them in its 3.5 s stop. Statuses say what
    // the shutdown waits for, `slow` among it, until it ends.
    let mut extends = Vec::new();
    let mut waiting_for_slow_alone = false;
    for message in during {
        for line in &message.lines {
            if let Some(usec) = line.strip_prefix("EXTEND_TIMEOUT_USEC=") {
                extends.push(Duration::from_micros(usec.parse().expect("a number")));
            } else if let Some(waiting) = line.strip_prefix("STATUS=stopping: waiting for ") {
                let names: Vec<&str> = waiting.split(", ").collect();
                assert!(names.contains(&"slow"), "{:?}", manager.texts());
                assert!(
                    names.iter().all(|n| ["web", "flaky", "slow"].contains(n)),
                    "{:?}",
                    manager.texts()
                );
                waiting_for_slow_alone |= names == ["slow"];
            } else {
                panic!(
                    "unexpected during the stop: {line:?} in {:?}",
                    manager.texts()
                );
            }
        }
    }
    assert!(waiting_for_slow_alone, "{:?}", manager.texts());
    assert!(extends.len() >= 2, "{:?}", manager.texts());
    let most = SLOW_TIMEOUT + Duration::from_secs(1);
    let least = SLOW_TIMEOUT - SLOW_STOP - Duration::from_secs(2) + Duration::from_secs(1);
    for (i, extend) in extends.iter().enumerate() {
        assert!(
            least <= *extend && *extend <= most,
            "EXTEND_TIMEOUT_USEC out of [{least:?}, {most:?}]: {extends:?}"
        );
        if i > 0 {
            assert!(extends[i - 1] > *extend, "not shrinking: {extends:?}");
        }
    }
    let readies = manager
        .seen
        .iter()
        .filter(|m| m.lines.iter().any(|l| l == "READY=1"))
        .count();
    assert_eq!(readies, 1, "READY=1 once: {:?}", manager.texts());
    // The program's own event hook still saw everything.
    manager.wait_line("systemd-demo: hook: shutdown complete");
    assert!(status.success(), "{example} exited with {status}");
}

/// Once the governor's only runtime thread is blocked (the `freeze`
/// service), the pings stop: none in the 2 s (more than 6 periods) after
/// it, though they came every 300 ms before.
fn stops_pinging_when_stuck(package: &str, example: &'static str) {
    let mut manager = Manager::start(
        package,
        example,
        Setup {
            freeze_after: Some(Duration::from_millis(1500)),
            ..Setup::notifying()
        },
    );
    manager.assert_pings_stop_after("systemd-demo: freezing", "after its runtime froze");
}

/// A reload by SIGHUP (`Type=notify-reload`): `RELOADING=1` with
/// `MONOTONIC_USEC=` as it begins, then `READY=1` once every service has
/// it; the service saw reload 1; the program still stops cleanly.
fn wraps_a_reload(package: &str, example: &'static str) {
    let mut manager = Manager::start(
        package,
        example,
        Setup {
            reload: true,
            ..Setup::notifying()
        },
    );
    manager.wait_ready();
    manager.signal("HUP");
    let reloading = manager.next_not_ping();
    assert_eq!(
        reloading.lines.first().map(String::as_str),
        Some("RELOADING=1"),
        "{:?}",
        manager.texts()
    );
    let usec = reloading
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC: {:?}", manager.texts()));
    assert!(usec.parse::<u64>().is_ok_and(|us| us > 0), "{usec}");
    let ready = manager.next_not_ping();
    assert_eq!(
        ready.lines.first().map(String::as_str),
        Some("READY=1"),
        "{:?}",
        manager.texts()
    );
    manager.wait_line("systemd-demo: web reloaded 1");
    manager.signal("TERM");
    let (status, _) = manager.wait_exit();
    assert!(status.success(), "{example} exited with {status}");
}

/// Once a service declares itself unhealthy, the pings stop (systemd's
/// `WatchdogSec` then restarts the process), though the runtime runs on.
fn stops_pinging_when_unhealthy(package: &str, example: &'static str) {
    let mut manager = Manager::start(
        package,
        example,
        Setup {
            unhealthy_after: Some(Duration::from_millis(1500)),
            ..Setup::notifying()
        },
    );
    manager.assert_pings_stop_after("systemd-demo: unhealthy", "while unhealthy");
}

/// With a shutdown budget shorter than `slow`'s own 10 s timeout, no
/// `EXTEND_TIMEOUT_USEC=` asks for more than what is left of the budget
/// (plus the 1 s until the next message): the service manager is never
/// told the stop may run past the budget.
fn extends_within_the_budget(package: &str, example: &'static str) {
    let budget = Duration::from_secs(6);
    let mut manager = Manager::start(
        package,
        example,
        Setup {
            budget: Some(budget),
            ..Setup::notifying()
        },
    );
    manager.wait_ready();
    manager.signal("TERM");
    let (status, after) = manager.wait_exit();
    assert!(status.success(), "{example} exited with {status}");
    let extends: Vec<Duration> = after
        .iter()
        .flat_map(|m| m.lines.iter())
        .filter_map(|l| l.strip_prefix("EXTEND_TIMEOUT_USEC="))
        .map(|usec| Duration::from_micros(usec.parse().expect("a number")))
        .collect();
    assert!(extends.len() >= 2, "{:?}", manager.texts());
    let most = budget + Duration::from_secs(1);
    assert!(
        extends.iter().all(|e| *e <= most),
        "EXTEND_TIMEOUT_USEC past the budget ({most:?}): {extends:?}"
    );
}

#[test]
fn tokio_extends_within_the_budget() {
    extends_within_the_budget("governor-conformance", "tokio-systemd");
}

#[test]
fn tokio_wraps_a_reload() {
    wraps_a_reload("governor-conformance", "tokio-systemd");
}

#[test]
fn smol_wraps_a_reload() {
    wraps_a_reload("governor-conformance", "smol-systemd");
}

#[test]
fn async_std_wraps_a_reload() {
    wraps_a_reload("governor-conformance", "async-std-systemd");
}

#[test]
fn tokio_stops_pinging_when_unhealthy() {
    stops_pinging_when_unhealthy("governor-conformance", "tokio-systemd");
}

#[test]
fn tokio_speaks_to_systemd() {
    speaks_to_systemd("governor-conformance", "tokio-systemd");
}

#[test]
fn smol_speaks_to_systemd() {
    speaks_to_systemd("governor-conformance", "smol-systemd");
}

#[test]
fn async_std_speaks_to_systemd() {
    speaks_to_systemd("governor-conformance", "async-std-systemd");
}

#[test]
fn tokio_stops_pinging_when_stuck() {
    stops_pinging_when_stuck("governor-conformance", "tokio-systemd");
}

#[test]
fn smol_stops_pinging_when_stuck() {
    stops_pinging_when_stuck("governor-conformance", "smol-systemd");
}

#[test]
fn async_std_stops_pinging_when_stuck() {
    stops_pinging_when_stuck("governor-conformance", "async-std-systemd");
}

/// `WATCHDOG_PID` names another process: no pings, though the rest of
/// the protocol goes on.
#[test]
fn no_pings_for_another_pid() {
    let mut manager = Manager::start(
        "governor-conformance",
        "tokio-systemd",
        Setup {
            watchdog_for_child: false,
            ..Setup::notifying()
        },
    );
    loop {
        let message = manager.next();
        assert!(!message.is_ping(), "{:?}", manager.texts());
        if message.lines.iter().any(|l| l == "READY=1") {
            break;
        }
    }
    // Six periods after READY=1.
    let until = Instant::now() + WATCHDOG * 3;
    while let Some(message) = manager.next_before(until) {
        assert!(!message.is_ping(), "{:?}", manager.texts());
    }
    manager.signal("TERM");
    let (status, after) = manager.wait_exit();
    assert!(after.iter().all(|m| !m.is_ping()), "{:?}", manager.texts());
    assert!(status.success());
}

/// Without `NOTIFY_SOCKET` (not under systemd), the program runs and stops
/// as ever and nothing is sent, though `WATCHDOG_USEC` is set.
fn silent_without_notify_socket(package: &str, example: &'static str) {
    let mut manager = Manager::start(
        package,
        example,
        Setup {
            notify_socket: false,
            ..Setup::notifying()
        },
    );
    manager.wait_line("systemd-demo: web ready");
    manager.signal("TERM");
    let (status, after) = manager.wait_exit();
    assert!(after.is_empty(), "{:?}", manager.texts());
    assert!(manager.seen.is_empty(), "{:?}", manager.texts());
    assert!(status.success(), "{example} exited with {status}");
}

#[test]
fn tokio_silent_without_notify_socket() {
    silent_without_notify_socket("governor-conformance", "tokio-systemd");
}

#[test]
fn smol_silent_without_notify_socket() {
    silent_without_notify_socket("governor-conformance", "smol-systemd");
}

#[test]
fn async_std_silent_without_notify_socket() {
    silent_without_notify_socket("governor-conformance", "async-std-systemd");
}

/// A service that never reports ready withholds `READY=1` for good: none
/// in the second after the others are up (three times what `web` takes
/// to be ready otherwise), none after SIGTERM; the shutdown is told as
/// ever.
#[test]
fn no_ready_while_a_service_is_not_ready() {
    let mut manager = Manager::start(
        "governor-conformance",
        "tokio-systemd",
        Setup {
            never_ready: true,
            ..Setup::notifying()
        },
    );
    for expected in [
        vec!["STATUS=starting: 3 services"],
        vec!["STATUS=restarting flaky in 200ms (attempt 1)"],
    ] {
        let message = manager.next_not_ping();
        assert_eq!(lines(&message), expected, "{:?}", manager.texts());
    }
    let until = Instant::now() + Duration::from_secs(1);
    while let Some(message) = manager.next_before(until) {
        assert!(message.is_ping(), "{:?}", manager.texts());
    }
    manager.signal("TERM");
    let stopping = manager.next_not_ping();
    assert_eq!(
        lines(&stopping),
        ["STOPPING=1", "STATUS=stopping: signal SIGTERM"],
        "{:?}",
        manager.texts()
    );
    let (status, _) = manager.wait_exit();
    assert!(
        manager
            .seen
            .iter()
            .all(|m| !m.lines.iter().any(|l| l == "READY=1")),
        "{:?}",
        manager.texts()
    );
    assert_eq!(
        manager.seen.iter().rev().find(|m| !m.is_ping()).map(lines),
        Some(vec!["STATUS=stopped"]),
        "{:?}",
        manager.texts()
    );
    assert!(status.success(), "exited with {status}");
}
