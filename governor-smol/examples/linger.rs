//! Lingers after `governor_smol::run` has returned; a SIGTERM then must end it
//! with the default action (checked by `tests/tests/signal_default.rs`).

#[path = "../../tests/demo/linger.rs"]
mod linger;

fn main() -> std::process::ExitCode {
    linger::main_with(governor_smol::run)
}
