//! **governor** on async-std: a supervisor for a program's long-lived
//! services.
//!
//! # async-std is discontinued: prefer `governor-smol`
//!
//! async-std has been discontinued by its maintainers, who recommend smol
//! instead (see its README and the advisory
//! [RUSTSEC-2025-0052](https://rustsec.org/advisories/RUSTSEC-2025-0052)).
//! It receives no more fixes. This crate keeps working — it passes
//! governor's whole conformance suite and the end-to-end signal tests —
//! so that programs already on async-std can use governor, but new code
//! should depend on **`governor-smol`**, which has the same API: replace
//! `governor_std::` with `governor_smol::`.
//!
//! # What it is
//!
//! A program's `main` adds named services to a [`Governor`]. The governor
//! runs them, restarts them by policy when they end, fail or panic, turns
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT into a graceful shutdown, gives
//! every service a stop token and a sleep that wakes early on stop, and
//! waits until all of them have stopped.
//!
//! This crate is the thin async-std adapter: [`AsyncStdRuntime`] spawns
//! with `async_std::task::spawn`, sleeps with `async_std::task::sleep`,
//! runs blocking services with `async_std::task::spawn_blocking` and
//! catches signals with `async-signal`. Everything else — the API
//! re-exported here — lives in [`governor_core`].
//!
//! # Sync `main`
//!
//! [`run`] makes a governor that catches signals, lets you add services,
//! starts them and blocks until they have all stopped:
//!
//! ```no_run
//! use std::time::Duration;
//! use governor_std::{ServiceCtx, ServiceResult};
//!
//! async fn ticker(ctx: ServiceCtx) -> ServiceResult {
//!     loop {
//!         ctx.log("tick");
//!         ctx.sleep(Duration::from_secs(1)).await?;
//!     }
//! }
//!
//! fn main() -> Result<(), governor_std::RunError> {
//!     let report = governor_std::run(|gov| {
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
//! [`new`] gives the governor itself (and [`run_async`] is [`run`] for
//! async code):
//!
//! ```no_run
//! use governor_std::{ServiceCtx, ServiceResult};
//!
//! fn worker(ctx: ServiceCtx) -> ServiceResult {
//!     while ctx.sleep_blocking(std::time::Duration::from_secs(1)).is_ok() {}
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     async_std::task::block_on(async {
//!         let gov = governor_std::new().catch_signals();
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
//! use governor_std::{Outcome, ServiceCtx, ServiceState};
//!
//! # fn main() -> Result<(), governor_std::Error> {
//! async_std::task::block_on(async {
//!     let gov = governor_std::new();
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

pub mod runtime;

pub use governor_core;
// Everything at governor-core's root, in one line rather than a copied
// list of names: the adapter is the core plus a runtime. The adapter's
// own items (`runtime`, `new`, `run`, `RunError`, ...) shadow any core
// item of the same name (today only the `runtime` module).
#[doc(inline)]
pub use governor_core::*;
pub use runtime::AsyncStdRuntime;

/// A governor on async-std's global runtime. Works from any thread.
pub fn new() -> Governor {
    Governor::new(AsyncStdRuntime::new())
}

/// The whole life of a synchronous program in one call: a governor on
/// async-std that [catches signals](Governor::catch_signals), `setup` to
/// add services, start, and then blocks (with
/// [`async_std::task::block_on`]) until every service has stopped — after
/// a signal, a shutdown requested by a service, or because all ended — and
/// returns the final [`Report`].
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
    async_std::task::block_on(run_async(setup))
}

/// [`run`], ended with the exit status its outcome calls for: the
/// report's [`exit_code`](Report::exit_code) (0 for a clean shutdown,
/// including one on SIGTERM), or [`RunError::exit_code`] when there is no
/// report; both logged through `tracing`. Return it from `main`:
///
/// ```no_run
/// use governor_std::ServiceCtx;
///
/// fn main() -> std::process::ExitCode {
///     governor_std::run_to_exit(|gov| {
///         gov.add("worker", |ctx: ServiceCtx| async move {
///             ctx.wait_for_stop().await;
///             Ok(())
///         })?;
///         Ok(())
///     })
/// }
/// ```
pub fn run_to_exit(setup: impl FnOnce(&Governor) -> Result<(), Error>) -> std::process::ExitCode {
    governor_smol::exit_status(run(setup))
}

/// [`run`] for async code: the same life, awaited in a future you already
/// drive. The services run on async-std either way.
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

/// Why [`run`] could not run the program: the same error as
/// governor-smol's (async-std's setup can fail in no other way).
pub use governor_smol::RunError;

// The checks of `run` and `run_async` are the conformance crate's `run`
// contract (`tests/src/run_contract.rs`), shared with the other adapters.
