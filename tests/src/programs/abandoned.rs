//! A program whose blocking service ignores its stop and is abandoned at
//! its shutdown timeout, run by this crate's examples `tokio-abandoned`,
//! `smol-abandoned` and `async-std-abandoned` (each hands it its adapter's
//! `run`). The
//! end-to-end tests (`tests/tests/exit_after_report.rs`) check that the
//! process exits once `run` has returned its report, although the
//! abandoned thread is still blocked.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::Duration;

use governor_core::{Error, Governor, Report};

/// Adds `stubborn`: a blocking service that asks for shutdown and then
/// ignores it for ever (parked), with a short shutdown timeout.
pub fn setup(gov: &Governor) -> Result<(), Error> {
    gov.add_blocking("stubborn", |ctx| {
        println!("abandoned: stubborn running");
        ctx.governor().request_shutdown();
        loop {
            std::thread::park(); // never unparked: ignores its stop
        }
    })?
    .shutdown_timeout(Duration::from_millis(200));
    Ok(())
}

/// Runs the program with an adapter's `run` and prints the report's
/// verdict on `stubborn`; exits 0 if it was abandoned as documented.
pub fn main_with<E: Display>(
    run: impl FnOnce(fn(&Governor) -> Result<(), Error>) -> Result<Report, E>,
) -> ExitCode {
    match run(setup) {
        Ok(report) => {
            let stubborn = report.service("stubborn");
            let outcome = stubborn.and_then(|s| s.last_outcome.clone());
            println!("abandoned: report: stubborn {outcome:?}");
            if stubborn.is_some_and(|s| s.timed_out) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            println!("abandoned: run failed: {e}");
            ExitCode::FAILURE
        }
    }
}
