//! Lingers after `governor_std::run` has returned; a SIGTERM then must end it
//! with the default action (checked by `tests/tests/signal_default.rs`).

fn main() -> std::process::ExitCode {
    governor_conformance::programs::linger::main_with(governor_std::run)
}
