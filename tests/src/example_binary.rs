//! Building an example and finding its executable, for the end-to-end
//! tests that run a program as a child process and act as its service
//! manager (signals, exit codes, the systemd notify socket).
//!
//! Each example is built once per test process, through the `cargo` that
//! runs the tests, and located from cargo's JSON messages (the path of an
//! example's executable is cargo's business, not a fixed layout).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Builds `package`'s example `example` with `features` (once per test
/// process and combination) and returns its executable. Panics, failing
/// the test, if the build fails or cargo names no executable.
pub fn example_binary(package: &str, example: &str, features: &[&str]) -> PathBuf {
    type Key = (String, String, Vec<String>);
    static BUILT: Mutex<BTreeMap<Key, PathBuf>> = Mutex::new(BTreeMap::new());
    let key: Key = (
        package.to_owned(),
        example.to_owned(),
        features.iter().map(|f| (*f).to_owned()).collect(),
    );
    // Held while building: cargo serialises builds anyway, and a second
    // test asking for the same example waits for the first build.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(key)
        .or_insert_with(|| build(package, example, features))
        .clone()
}

fn build(package: &str, example: &str, features: &[&str]) -> PathBuf {
    let mut command = Command::new(env!("CARGO"));
    command.args(["build", "-p", package, "--example", example]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command
        .arg("--message-format=json")
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building {package}'s {example} failed"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|line| line.contains(&format!(r#""name":"{example}""#)))
        .find_map(|line| {
            let start = line.find(r#""executable":""#)? + r#""executable":""#.len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .expect("cargo reports the example's executable")
}
