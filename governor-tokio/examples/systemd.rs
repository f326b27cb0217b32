//! A program that runs under systemd (or the test acting as it,
//! `tests/tests/systemd.rs`): build with `--features systemd` and run it
//! with `NOTIFY_SOCKET` set.

#[path = "../../tests/demo/systemd.rs"]
mod systemd;

fn main() -> std::process::ExitCode {
    systemd::main_with(governor_tokio::run)
}
