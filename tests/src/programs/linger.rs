//! A program that goes on after its governor has finished, run by this
//! crate's examples `tokio-linger`, `smol-linger` and `async-std-linger`
//! (each hands it its adapter's `run`). The end-to-end tests
//! (`tests/tests/signal_default.rs`) send it SIGTERM twice: the first shuts
//! the governor down cleanly (the report's exit code is 0), the second,
//! once `run` has returned and the program lingers, must end it with the
//! operating system's default action, as if it had never been caught.

use std::fmt::Display;
use std::process::ExitCode;

use governor_core::{Error, Governor, Report, ServiceCtx};

/// Adds `idle`: a service that says it runs and waits for its stop.
pub fn setup(gov: &Governor) -> Result<(), Error> {
    gov.add("idle", |ctx: ServiceCtx| async move {
        println!("linger: running");
        ctx.wait_for_stop().await;
        Ok(())
    })?;
    Ok(())
}

/// Runs the program with an adapter's `run`, prints the report's exit
/// code, then lingers for ever (a slow flush, a hang): only a signal with
/// its default action can end it now.
pub fn main_with<E: Display>(
    run: impl FnOnce(fn(&Governor) -> Result<(), Error>) -> Result<Report, E>,
) -> ExitCode {
    match run(setup) {
        Ok(report) => {
            println!("linger: exit code {}", report.exit_code());
            println!("linger: lingering");
            loop {
                std::thread::park(); // never unparked
            }
        }
        Err(e) => {
            println!("linger: run failed: {e}");
            ExitCode::FAILURE
        }
    }
}
