//! Every numbered example runs to its end on its own and exits 0, saying
//! what it shows (one line of its output each): they are built by
//! `cargo test`, and this keeps them working, not only compiling.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Each example, and a line its output must contain.
const EXAMPLES: [(&str, &str); 12] = [
    (
        "01_restart_policies",
        "ticker: ended, last run ended for good (StopService), 3 run(s), 2 restart(s)",
    ),
    (
        "02_backoff_and_limits",
        "failing: gave up, last run failed: run 4 failed, 4 run(s), 3 restart(s)",
    ),
    (
        "03_dependencies_and_readiness",
        "database: closed (after api)",
    ),
    (
        "04_blocking_with_stop_hooks",
        "worker: woken by \"stop\", returning",
    ),
    (
        "05_nested_governors",
        "shard: ended, last run completed, 2 run(s), 1 restart(s)",
    ),
    (
        "06_events_and_status",
        "observer: b was asked to stop by its handle",
    ),
    ("07_custom_runtime", "tick 3 on a thread of its own"),
    ("08_tokio_entry", "job: working on tokio"),
    ("09_smol_entry", "job: working on smol"),
    ("10_async_std_entry", "job: working on async-std"),
    ("11_tokio_util", "library: ended, last run completed"),
    (
        "12_metrics",
        "governor_service_runs_total{service=\"flaky\"} Counter(3)",
    ),
];

/// Generous for a loaded machine; an example that hangs still ends.
const BOUND: Duration = Duration::from_secs(60);

/// Builds every example once; their executables by name.
fn executables() -> BTreeMap<String, String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "governor-examples",
            "--examples",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building the examples failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let name_at = line.find(r#""name":""#)? + r#""name":""#.len();
            let name = &line[name_at..name_at + line[name_at..].find('"')?];
            let exe_at = line.find(r#""executable":""#)? + r#""executable":""#.len();
            let exe = &line[exe_at..exe_at + line[exe_at..].find('"')?];
            Some((name.to_string(), exe.to_string()))
        })
        .collect()
}

#[test]
fn every_example_runs_and_shows_what_it_says() {
    let built = executables();
    for (name, expected) in EXAMPLES {
        let exe = built
            .get(name)
            .unwrap_or_else(|| panic!("{name} was not built"));
        let mut child = Command::new(exe)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example starts");
        let deadline = Instant::now() + BOUND;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{name} did not end within {BOUND:?}");
            }
            std::thread::sleep(Duration::from_millis(10)); // polling a child process
        };
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
        assert_eq!(status.code(), Some(0), "{name} failed:\n{stdout}");
        assert!(
            stdout.contains(expected),
            "{name} did not say {expected:?}:\n{stdout}"
        );
    }
}
