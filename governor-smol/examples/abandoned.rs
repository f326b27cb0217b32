//! A blocking service that ignores its stop is abandoned at its shutdown
//! timeout; the process must still exit once `governor_smol::run` has
//! returned the report (checked by `tests/tests/exit_after_report.rs`).

#[path = "../../tests/demo/abandoned.rs"]
mod abandoned;

fn main() -> std::process::ExitCode {
    abandoned::main_with(governor_smol::run)
}
