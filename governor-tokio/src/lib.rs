//! **governor** on tokio: a supervisor for a program's long-lived services.
//!
//! A program's `main` adds named services to a [`Governor`]. The governor
//! runs them, restarts them by policy when they end, fail or panic, turns
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT into a graceful shutdown, gives
//! every service a stop token and a sleep that wakes early on stop, and
//! waits until all of them have stopped.
//!
//! This crate is the thin tokio adapter: [`runtime::TokioRuntime`] spawns
//! on a tokio [`Handle`](tokio::runtime::Handle), sleeps with tokio timers,
//! runs blocking services with `spawn_blocking` and catches signals with
//! `tokio::signal`. Everything else — the API re-exported here — lives in
//! [`governor_core`].
//!
//! # Async `main`
//!
//! ```no_run
//! use std::time::Duration;
//! use governor_tokio::{ServiceCtx, ServiceResult};
//!
//! async fn ticker(ctx: ServiceCtx) -> ServiceResult {
//!     loop {
//!         ctx.log("tick");
//!         ctx.sleep(Duration::from_secs(1)).await?;
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let gov = governor_tokio::new()?
//!         .catch_signals()
//!         .restart(Duration::from_secs(1));
//!     gov.add("ticker", ticker)?;
//!     gov.start()?;
//!     let report = gov.wait_for_shutdown().await; // until Ctrl-C
//!     print!("{report}");
//!     Ok(())
//! }
//! ```
//!
//! # Sync `main`
//!
//! [`run`] builds a multi-thread tokio runtime, a governor that catches
//! signals, lets you add services, starts them and waits:
//!
//! ```no_run
//! use governor_tokio::{ServiceCtx, ServiceResult};
//!
//! fn worker(ctx: ServiceCtx) -> ServiceResult {
//!     while ctx.sleep_blocking(std::time::Duration::from_secs(1)).is_ok() {}
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), governor_tokio::RunError> {
//!     let report = governor_tokio::run(|gov| {
//!         gov.add_blocking("worker", worker)?;
//!         Ok(())
//!     })?;
//!     std::process::exit(report.exit_code().into()); // 0 when clean
//! }
//! ```
//!
//! # A complete, runnable example
//!
//! ```
//! use std::time::Duration;
//! use governor_tokio::{Outcome, ServiceCtx, ServiceResult, ServiceState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gov = governor_tokio::new()?;
//! gov.add("worker", |ctx| async move {
//!     ctx.sleep(Duration::from_secs(3600)).await?; // wakes early on shutdown
//!     Ok(())
//! })?;
//! gov.start()?;
//! let report = gov.shutdown().await;
//! let worker = report.service("worker").unwrap();
//! assert_eq!(worker.state, ServiceState::Ended);
//! assert_eq!(worker.last_outcome, Some(Outcome::Completed));
//! # Ok(()) }
//! ```

//!
//! # Features
//!
//! - `tokio-util`: the `cancel` module, `tokio_util`'s
//!   `CancellationToken` both ways: tokens that follow a run's or the
//!   governor's stop, and a governor shut down by a token; and the
//!   `tracker` module, its `TaskTracker` both ways: a tracker drained as
//!   part of a run (within its shutdown timeout, named in the report past
//!   it), and a governor counted as a task of a tracker until its
//!   shutdown is complete.

use std::fmt;

#[cfg(feature = "tokio-util")]
pub mod cancel;
pub mod runtime;
#[cfg(feature = "tokio-util")]
pub mod tracker;

pub use governor_core;
// Everything at governor-core's root, in one line rather than a copied
// list of names: the adapter is the core plus a runtime. The adapter's
// own items (`runtime`, `new`, `run`, `RunError`, ...) shadow any core
// item of the same name (today only the `runtime` module).
#[doc(inline)]
pub use governor_core::*;
pub use runtime::{NoRuntime, TokioRuntime};

/// A governor on the tokio runtime this thread runs in (or has entered).
///
/// # Errors
///
/// [`NoRuntime`] outside a tokio runtime; use [`with_handle`] there.
pub fn new() -> Result<Governor, NoRuntime> {
    TokioRuntime::current().map(Governor::new)
}

/// A governor on the tokio runtime behind `handle`; usable from any thread.
pub fn with_handle(handle: tokio::runtime::Handle) -> Governor {
    Governor::new(TokioRuntime::with_handle(handle))
}

/// The whole life of a synchronous program in one call: builds a
/// multi-thread tokio runtime, a governor that
/// [catches signals](Governor::catch_signals), calls `setup` to add
/// services, starts them, waits until every service has stopped (after a
/// signal, a shutdown requested by a service, or because all ended), and
/// returns the final [`Report`].
///
/// It returns as soon as the report is built: the runtime is shut down
/// without waiting for blocking threads, so a blocking service abandoned
/// at its shutdown timeout (or by a forced shutdown) does not keep the
/// call, or the process once `main` returns, alive.
///
/// Built with this crate's `systemd` feature, it also notifies systemd
/// (`Governor::notify_systemd`: `READY=1`, `STATUS=`, `STOPPING=1`,
/// `WATCHDOG=1`) when `NOTIFY_SOCKET` is set, and does nothing more
/// otherwise.
///
/// # Errors
///
/// [`RunError::Runtime`] if the tokio runtime cannot be built,
/// [`RunError::Governor`] if `setup` or `start` fails (then every service
/// added so far is shut down before this returns).
pub fn run(setup: impl FnOnce(&Governor) -> Result<(), Error>) -> Result<Report, RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let gov = with_handle(runtime.handle().clone()).catch_signals();
    // Under systemd (feature `systemd`, `NOTIFY_SOCKET` set): READY=1,
    // STATUS=, STOPPING=1, WATCHDOG=1 (see `Governor::notify_systemd`).
    #[cfg(feature = "systemd")]
    let gov = gov.notify_systemd();
    let result = runtime.block_on(gov.run(setup));
    drop(gov);
    // Dropping the runtime would wait for every `spawn_blocking` thread,
    // including those of blocking services abandoned at their timeout or
    // by a forced shutdown, which may never return: the report is built,
    // so leave them behind and return.
    runtime.shutdown_background();
    result.map_err(RunError::Governor)
}

/// [`run`], ended with the exit status its outcome calls for: the
/// report's [`exit_code`](Report::exit_code) (0 for a clean shutdown,
/// including one on SIGTERM), or [`RunError::exit_code`] when there is no
/// report. The report is logged (`tracing`, INFO when clean, WARN
/// otherwise), as is the error (ERROR). Return it from `main`:
///
/// ```no_run
/// use governor_tokio::ServiceCtx;
///
/// fn main() -> std::process::ExitCode {
///     governor_tokio::run_to_exit(|gov| {
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

/// The exit status of `result`, logged (shared by the `run_to_exit` of
/// each adapter: the same words everywhere).
fn exit_status(result: Result<Report, RunError>) -> std::process::ExitCode {
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
    /// The tokio runtime could not be built.
    Runtime(std::io::Error),
    /// Adding or starting services failed.
    Governor(Error),
}

impl RunError {
    /// The exit code for this error (see [`exit_code`]):
    /// [`OS_ERROR`](exit_code::OS_ERROR) when the runtime could not be
    /// built, [`SETUP`](exit_code::SETUP) when adding or starting services
    /// failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Runtime(_) => exit_code::OS_ERROR,
            RunError::Governor(_) => exit_code::SETUP,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Runtime(e) => write!(f, "cannot build the tokio runtime: {e}"),
            RunError::Governor(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Runtime(e) => Some(e),
            RunError::Governor(e) => Some(e),
        }
    }
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Governor(e)
    }
}
