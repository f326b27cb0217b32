//! A blocking service that ignores its stop is abandoned at its shutdown
//! timeout; the process must still exit once `governor_tokio::run` has
//! returned the report (checked by `tests/tests/exit_after_report.rs`).

fn main() -> std::process::ExitCode {
    governor_conformance::programs::abandoned::main_with(governor_tokio::run)
}
