//! A program that runs under systemd (or the test acting as it,
//! `tests/tests/systemd.rs`): build with `--features systemd` and run it
//! with `NOTIFY_SOCKET` set.

fn main() -> std::process::ExitCode {
    governor_conformance::programs::systemd::main_with(governor_tokio::run)
}
