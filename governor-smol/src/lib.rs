//! **governor** on smol: a supervisor for a program's long-lived services.
//!
//! A program's `main` adds named services to a [`Governor`]. The governor
//! runs them, restarts them by policy when they end, fail or panic, turns
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT into a graceful shutdown, gives
//! every service a stop token and a sleep that wakes early on stop, and
//! waits until all of them have stopped.
//!
//! This crate is the thin smol adapter: [`SmolRuntime`] spawns on smol's
//! global executor (or on an [`Executor`](smol::Executor) you run
//! yourself), sleeps with async-io timers, runs blocking services on the
//! `blocking` crate's thread pool and catches signals with `async-signal`.
//! Everything else — the API re-exported here — lives in
//! [`governor_core`].
//!
//! # Sync `main`
//!
//! [`run`] makes a governor on smol's global executor that catches
//! signals, lets you add services, starts them and blocks until they have
//! all stopped:
//!
//! ```no_run
//! use std::time::Duration;
//! use governor_smol::{ServiceCtx, ServiceResult};
//!
//! async fn ticker(ctx: ServiceCtx) -> ServiceResult {
//!     loop {
//!         ctx.log("tick");
//!         ctx.sleep(Duration::from_secs(1)).await?;
//!     }
//! }
//!
//! fn main() -> Result<(), governor_smol::RunError> {
//!     let report = governor_smol::run(|gov| {
//!         gov.add("ticker", ticker)?.restart(Duration::from_secs(1));
//!         Ok(())
//!     })?; // until Ctrl-C, SIGTERM, SIGHUP or SIGQUIT
//!     print!("{report}");
//!     std::process::exit(report.exit_code().into()); // 0 when clean
//! }
//! ```
//!
//! # Async `main`
//!
//! [`run_async`] is the same inside a future you already drive, and
//! [`new`] gives the governor itself:
//!
//! ```no_run
//! use governor_smol::{ServiceCtx, ServiceResult};
//!
//! fn worker(ctx: ServiceCtx) -> ServiceResult {
//!     while ctx.sleep_blocking(std::time::Duration::from_secs(1)).is_ok() {}
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smol::block_on(async {
//!         let gov = governor_smol::new().catch_signals();
//!         gov.add_blocking("worker", worker)?;
//!         gov.start()?;
//!         let report = gov.wait_for_shutdown().await; // until a signal
//!         print!("{report}");
//!         Ok(())
//!     })
//! }
//! ```
//!
//! # A complete, runnable example
//!
//! ```
//! use std::time::Duration;
//! use governor_smol::{Outcome, ServiceCtx, ServiceState};
//!
//! # fn main() -> Result<(), governor_smol::Error> {
//! smol::block_on(async {
//!     let gov = governor_smol::new();
//!     gov.add("worker", |ctx| async move {
//!         ctx.sleep(Duration::from_secs(3600)).await?; // wakes early on shutdown
//!         Ok(())
//!     })?;
//!     gov.add("once", |_ctx| async { Ok(()) })?;
//!     gov.start()?;
//!     let report = gov.shutdown().await;
//!     let worker = report.service("worker").unwrap();
//!     assert_eq!(worker.state, ServiceState::Ended);
//!     assert_eq!(worker.last_outcome, Some(Outcome::Completed));
//!     assert!(report.is_clean());
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Your own executor
//!
//! [`with_executor`] spawns the services on an
//! [`Executor`](smol::Executor) that you run, on the threads you choose:
//!
//! ```
//! use std::sync::Arc;
//! use governor_smol::ServiceCtx;
//!
//! # fn main() -> Result<(), governor_smol::Error> {
//! let ex = Arc::new(smol::Executor::new());
//! let gov = governor_smol::with_executor(ex.clone());
//! gov.add("greeter", |ctx| async move {
//!     ctx.log("hello");
//!     Ok(())
//! })?;
//! gov.start()?;
//! // The services run while this thread runs the executor.
//! let report = smol::block_on(ex.run(gov.wait_for_shutdown()));
//! assert_eq!(report.service("greeter").unwrap().runs, 1);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

pub mod runtime;

pub use governor_core;
// Everything at governor-core's root, in one line rather than a copied
// list of names: the adapter is the core plus a runtime. The adapter's
// own items (`runtime`, `new`, `run`, `RunError`, ...) shadow any core
// item of the same name (today only the `runtime` module).
#[doc(inline)]
pub use governor_core::*;
pub use runtime::SmolRuntime;

/// A governor on smol's global executor (the one behind [`smol::spawn`]).
///
/// Works from any thread, inside or outside an executor: the global
/// executor runs on its own threads.
pub fn new() -> Governor {
    Governor::new(SmolRuntime::new())
}

/// A governor that spawns its services on `executor`, which you run
/// yourself (see [`SmolRuntime::with_executor`]).
pub fn with_executor(executor: Arc<smol::Executor<'static>>) -> Governor {
    Governor::new(SmolRuntime::with_executor(executor))
}

/// The whole life of a synchronous program in one call: a governor on
/// smol's global executor that [catches signals](Governor::catch_signals),
/// `setup` to add services, start, and then blocks (with
/// [`smol::block_on`]) until every service has stopped — after a signal, a
/// shutdown requested by a service, or because all ended — and returns
/// the final [`Report`].
///
/// It returns as soon as the report is built: the blocking pool's threads
/// are never waited for, so a blocking service abandoned at its shutdown
/// timeout (or by a forced shutdown) does not keep the call, or the
/// process once `main` returns, alive.
///
/// Built with this crate's `systemd` feature, it also notifies systemd
/// (`Governor::notify_systemd`: `READY=1`, `STATUS=`, `STOPPING=1`,
/// `WATCHDOG=1`) when `NOTIFY_SOCKET` is set, and does nothing more
/// otherwise.
///
/// # Errors
///
/// [`RunError::Governor`] if `setup` or `start` fails (then every service
/// added so far is shut down before this returns).
pub fn run(setup: impl FnOnce(&Governor) -> Result<(), Error>) -> Result<Report, RunError> {
    smol::block_on(run_async(setup))
}

/// [`run`] for async code: the same life, awaited in a future you already
/// drive (by [`smol::block_on`], an executor, or another runtime). The
/// services run on smol's global executor either way.
///
/// # Errors
///
/// As [`run`].
pub async fn run_async(
    setup: impl FnOnce(&Governor) -> Result<(), Error>,
) -> Result<Report, RunError> {
    let gov = new().catch_signals();
    // Under systemd (feature `systemd`, `NOTIFY_SOCKET` set): READY=1,
    // STATUS=, STOPPING=1, WATCHDOG=1 (see `Governor::notify_systemd`).
    #[cfg(feature = "systemd")]
    let gov = gov.notify_systemd();
    gov.run(setup).await.map_err(RunError::Governor)
}

/// [`run`], ended with the exit status its outcome calls for: the
/// report's [`exit_code`](Report::exit_code) (0 for a clean shutdown,
/// including one on SIGTERM), or [`RunError::exit_code`] when there is no
/// report. The report is logged (`tracing`, INFO when clean, WARN
/// otherwise), as is the error (ERROR). Return it from `main`:
///
/// ```no_run
/// use governor_smol::ServiceCtx;
///
/// fn main() -> std::process::ExitCode {
///     governor_smol::run_to_exit(|gov| {
///         gov.add("worker", |ctx: ServiceCtx| async move {
///             ctx.wait_for_stop().await;
///             Ok(())
///         })?;
///         Ok(())
///     })
/// }
/// ```
pub fn run_to_exit(setup: impl FnOnce(&Governor) -> Result<(), Error>) -> std::process::ExitCode {
    exit_status(run(setup))
}

/// The exit status of `result`, logged (also what governor-std's
/// `run_to_exit` uses).
#[doc(hidden)]
pub fn exit_status(result: Result<Report, RunError>) -> std::process::ExitCode {
    let code = match result {
        Ok(report) => {
            let code = report.exit_code();
            if code == exit_code::CLEAN {
                tracing::info!(code, "{report}");
            } else {
                tracing::warn!(code, "{report}");
            }
            code
        }
        Err(e) => {
            let code = e.exit_code();
            tracing::error!(code, "{e}");
            code
        }
    };
    std::process::ExitCode::from(code)
}

/// Why [`run`] could not run the program.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// Adding or starting services failed.
    Governor(Error),
}

impl RunError {
    /// The exit code for this error (see [`exit_code`]):
    /// [`SETUP`](exit_code::SETUP), adding or starting services failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Governor(_) => exit_code::SETUP,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Governor(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Governor(e) => Some(e),
        }
    }
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Governor(e)
    }
}

// What only smol has: `with_executor`. The checks of `run` and `run_async`
// are the conformance crate's `run` contract (`tests/src/run_contract.rs`),
// shared with the other adapters.
#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Runs `f` on its own thread; fails the test instead of hanging it.
    fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("finished within 10 s")
    }

    #[test]
    fn with_executor_spawns_on_that_executor() {
        let report = within(|| {
            // Only this thread runs the executor.
            let ex = Arc::new(smol::Executor::new());
            let gov = with_executor(ex.clone());
            let here = std::thread::current().id();
            gov.add("where", move |_ctx| async move {
                assert_eq!(std::thread::current().id(), here);
                Ok(())
            })
            .unwrap();
            gov.start().unwrap();
            smol::block_on(ex.run(gov.wait_for_shutdown()))
        });
        assert_eq!(
            report.service("where").unwrap().last_outcome,
            Some(Outcome::Completed)
        );
    }
}
