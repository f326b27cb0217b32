//! The runtime-independent core of **governor**: a supervisor for a
//! program's long-lived services.
//!
//! A program's `main` adds named services to a [`Governor`]. The governor
//! runs them, restarts them by [policy](RestartPolicy) when they end, fail
//! or panic, turns SIGINT, SIGTERM, SIGHUP and SIGQUIT into a graceful
//! shutdown, gives every service a [stop token](StopToken) and a
//! [sleep](ServiceCtx::sleep) that wakes early on stop, and
//! [waits](Governor::wait_for_shutdown) until all of them have stopped. It
//! is the Rust form of the Go package `governor`. (It is unrelated to the
//! rate-limiting crate called `governor`.)
//!
//! This crate holds all of the policy and none of the runtime: it is
//! `#![no_std]` + `alloc`. A program uses it through a runtime adapter,
//! which supplies spawning, timers, a blocking pool and signals and
//! re-exports this whole API: `governor-tokio`, `governor-smol`, or
//! `governor-std` (async-std). For another executor, implement
//! [`runtime::Runtime`].
//!
//! # A complete program
//!
//! On smol, with `governor-smol` as the only dependency (the names below
//! are its re-exports of this crate's items):
//!
//! ```
//! use std::time::Duration;
//! use governor_smol::{ServiceCtx, ServiceResult, ShutdownCause};
//!
//! /// A long-lived service: works until it is asked to stop.
//! async fn ticker(ctx: ServiceCtx) -> ServiceResult {
//!     loop {
//!         ctx.log("tick");
//!         // `Err(Interrupted)` as soon as this service is asked to stop:
//!         // `?` then ends the run, cleanly.
//!         ctx.sleep(Duration::from_millis(100)).await?;
//!     }
//! }
//!
//! /// A one-shot job: being critical, its end shuts the program down.
//! async fn migrate(ctx: ServiceCtx) -> ServiceResult {
//!     ctx.log("migrating");
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), governor_smol::RunError> {
//!     // Catches the signals, adds the services, starts them (in their
//!     // dependency order) and blocks until every one of them has stopped:
//!     // here when `migrate` has ended, or at Ctrl-C, SIGTERM, SIGHUP or
//!     // SIGQUIT, whichever comes first.
//!     let report = governor_smol::run(|gov| {
//!         gov.add("ticker", ticker)?.restart(Duration::from_secs(1));
//!         gov.add("migrate", migrate)?.depends_on(["ticker"]).critical();
//!         Ok(())
//!     })?;
//!     print!("{report}");
//!     assert!(matches!(report.cause, Some(ShutdownCause::Critical { .. })));
//!     std::process::exit(report.exit_code().into()); // 0 when clean
//! }
//! ```
//!
//! # A tour
//!
//! - **[`Governor`]** oversees a set of named services; clones share it.
//!   An adapter's `new()` makes one ([`Governor::new`] takes any
//!   [`Runtime`](runtime::Runtime)); builder calls set the defaults every
//!   service shares ([`restart`](Governor::restart),
//!   [`shutdown_timeout`](Governor::shutdown_timeout),
//!   [`catch_signals`](Governor::catch_signals)).
//! - **Services** are async functions or closures taking a [`ServiceCtx`]
//!   and returning a [`ServiceResult`], added with [`Governor::add`]
//!   (`|ctx| async move { .. }` needs no type); a type implementing the
//!   [`Service`] trait keeps state across restarts and is added with
//!   [`Governor::add_service`]. Blocking code is added with
//!   [`Governor::add_blocking`] (a [`BlockingService`] type with
//!   [`Governor::add_blocking_service`]). The context names the run, carries its
//!   [stop token](ServiceCtx::token), and offers a
//!   [sleep](ServiceCtx::sleep) and a
//!   [wait for the stop](ServiceCtx::wait_for_stop) that both end early when
//!   the service is asked to stop. A service
//!   ends with `Ok`, an error ([`ServiceError`]), a panic (caught, with
//!   `std`) or [`StopService`] (ended for good, never restarted).
//! - **Restart policy:** [`Governor::add`] returns a [`ServiceConfig`] for
//!   that one service. A [`RestartPolicy`] says whether and after how long
//!   an ended service runs again (never, by default, as in Go), with a
//!   [`Backoff`], and what to do when it restarts too often
//!   ([`Escalation`]).
//! - **Dependencies and readiness:** a service starts after those it
//!   [depends on](ServiceConfig::depends_on) are ready, and stops before
//!   them. It is ready when its run begins, or when it calls
//!   [`ServiceCtx::ready`] if it was added with
//!   [`notify_ready`](ServiceConfig::notify_ready);
//!   [`Governor::start_wait_ready`] and [`Governor::wait_ready`] wait for
//!   that.
//! - **Shutdown and [`Report`]:** a signal,
//!   [`request_shutdown`](Governor::request_shutdown),
//!   [`shutdown`](Governor::shutdown), the end of a
//!   [critical](ServiceConfig::critical) service or an escalation stops
//!   every service in reverse dependency order, each within its shutdown
//!   timeout if it has one.
//!   [`wait_for_shutdown`](Governor::wait_for_shutdown) then returns a
//!   [`Report`]: the [`ShutdownCause`], and per service a
//!   [`ServiceReport`] with its [`ServiceState`], last [`Outcome`] and
//!   the [times](RunTimes) of its latest run.
//!   [`Report::is_clean`] is what `main` turns into its exit code. A
//!   [`ReportHandle`] reads the report after the last `Governor` handle
//!   is gone.
//! - **Liveness and health:** a service with a
//!   [watchdog](ServiceConfig::watchdog) sends
//!   [heartbeats](ServiceCtx::heartbeat) (or declares itself
//!   [busy](ServiceCtx::busy_for)); a run that stops sending them is
//!   hung ([`Outcome::Hung`], [`Event::Hung`]): stopped as any run and
//!   restarted by its policy. Services [say how they are](ServiceCtx::set_health)
//!   ([`Health`]); [`Governor::health`] aggregates it into a
//!   [`HealthReport`] for liveness and readiness probes.
//! - **Events:** every step of every service's life is an [`Event`],
//!   logged through `tracing` or handed to a hook set with
//!   [`Governor::on_event`].
//! - **Handles:** a [`ServiceHandle`] (from [`Governor::service`] or
//!   [`ServiceConfig::handle`]) stops, restarts, removes or waits for one
//!   service while the others run on.
//! - **Tokens:** a [`StopToken`] is observed (polled, awaited, or given
//!   [children](StopToken::child)); a [`StopSource`] owns one and stops
//!   it. The governor holds the source of each service's token; for work
//!   a service stops itself, make a [child](StopToken::child) of
//!   [its token](ServiceCtx::token).
//! - **Tasks and time:** [`ServiceCtx::spawn`] starts a task that belongs
//!   to the run (it sees the run's stop, the run waits for it, its unread
//!   failure fails the run; see [`TaskHandle`]);
//!   [`ServiceCtx::spawn_blocking`] does the same on the blocking pool;
//!   [`ServiceCtx::timeout`], [`ServiceCtx::interval`] and
//!   [`ServiceCtx::now`] run on the runtime's clock. A library can ship a
//!   whole service on these without naming a runtime.
//! - **[`Subtree`]:** a child governor supervised as one service of its
//!   parent (added with [`Governor::add_service`]), restarted as a whole: a
//!   supervision tree.
//! - **Restarts that follow:** [`ServiceConfig::depends_on_with`] with
//!   [`Bind::PartOf`] or [`Bind::BindsTo`] (systemd's) restarts a dependent
//!   with its dependency, or ends it with it; [`Governor::strategy`]
//!   ([`Strategy`]: OTP's one-for-all, rest-for-one) restarts a group
//!   together, within [`Governor::group_restart_limit`].
//! - **The [`Runtime`](runtime::Runtime) trait** is all an adapter
//!   implements: spawn a task, sleep, tell the time, and optionally run
//!   blocking work and listen for signals.
//! - **[`Error`]** names what the governor refused, and why.
//!
//! # Features
//!
//! - `std` (default): panics in services and stop hooks are caught and
//!   recorded, [blocking services](Governor::add_blocking) run on the
//!   runtime's blocking pool, `shutdown` awaited by a service does not wait
//!   for itself, and locks are `std::sync::Mutex`.
//! - `systemd` (implies `std`; unix only, a no-op elsewhere):
//!   `Governor::notify_systemd` tells systemd when the program is ready,
//!   what it does, when it stops, and that its runtime is alive (the
//!   watchdog), through the `sd-notify` crate.
//!
//! - `metrics` (implies `std`): `Governor::record_metrics` counts runs,
//!   restarts, failures, panics and give-ups per service, shows each
//!   service's state and times its stops through the `metrics` facade;
//!   the series are listed in the `metrics` module.
//!
//! Without `std`, a panic in a service unwinds into (or aborts) the
//! executor, as any task's panic would.

// # Reading the source: one service from `add` to its outcome
//
// The file list is the architecture. Read in this order, one service's
// life goes through:
//
// 1. `governor.rs` — `Governor::add` wraps the service in a runner
//    (`supervisor/runner.rs`: `AsyncRunner`, or `BlockingRunner` for
//    `add_blocking`) and builds its supervisor task, not spawned yet
//    (`supervisor_task.rs`: a `PendingSupervisor`). `Record::new`
//    (`record.rs`) holds it; `name_index.rs` files the record under its
//    name; `config.rs` is the `ServiceConfig` returned.
// 2. `governor/shared.rs` — `start` (`Shared::start_records`) takes each
//    record's `Launch` under the governor's lock (`record/launch.rs`),
//    checks dependencies (`governor/dependencies.rs`), counts the service
//    live (`live_count.rs`) and spawns the supervisor on the `Runtime`
//    (`runtime.rs`).
// 3. `supervisor.rs` — the supervising loop: wait until the dependencies
//    are ready (`record/watch.rs`), begin a run (`Record::begin_run` in
//    `record/run.rs`, with a fresh `StopSource` from `token.rs` and
//    `token/tree_node.rs`), hand the service a `ServiceCtx`
//    (`context.rs`, its sleep in `sleep.rs`) and run it through its
//    runner, which catches panics and marks the thread as inside the
//    service (`inside.rs`).
// 4. `supervisor/watched.rs` — while the run runs: a stop for good, a
//    shutdown in dependency order, a restart, a forced shutdown or its
//    watchdog declaring it hung (`supervisor/heartbeat.rs`, its pulse in
//    `record/liveness.rs`) begins its stop (`Record::begin_stop`: token,
//    stop hooks, timeout), and the timeout or the force aborts it.
// 5. Back in `supervisor.rs` — the run's `Outcome` (`outcome.rs`) meets the
//    `RestartPolicy` (`restart.rs`) through the service's `RestartHistory`
//    (`restart/history.rs`): restart after a delay, end for good, or
//    escalate. `Record::end_run` records it, then the `Event`s
//    (`event.rs`) that tell it are emitted (`Shared::emit`), then the end
//    is published to waiters (`Record::publish_end`). A restart propagates
//    (`propagation.rs`: PartOf/BindsTo dependents, the group's strategy
//    and restart limit) before the next run begins; the services it stops
//    are held (`record/hold.rs`) until then.
// 6. `live_count.rs` — the supervisor counts the service out as it ends;
//    `wait_for_shutdown` waits there until none is live, and
//    `Shared::report` builds the `Report` (`report.rs`) from every record.
//
// Beside that path: `governor/signals.rs` turns signals into a shutdown,
// `handle.rs` acts on one record (`ServiceHandle`), `health.rs` aggregates
// the services' health (`Governor::health`), `subtree.rs` runs a
// governor as one service of another, `error.rs` names every refusal,
// `sync.rs` and `wait_list.rs` are the locks and waker lists that loom
// swaps (`loom_models.rs`). Each file opens with its rules; the lock order
// is governor, then record, then live count or token node.

#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod caught;
mod config;
mod context;
mod error;
mod event;
mod governor;
mod handle;
mod health;
mod inside;
// Not under loom (its atomics and locks have other sizes) nor miri (a
// nightly compiler may lay futures out differently).
#[cfg(all(test, not(loom), not(miri)))]
mod layout;
mod live_count;
#[cfg(all(test, loom))]
mod loom_models;
#[cfg(feature = "metrics")]
pub mod metrics;
mod name_index;
mod outcome;
mod propagation;
mod record;
mod report;
mod report_handle;
mod restart;
pub mod runtime;
mod service;
mod sleep;
mod subtree;
mod supervisor;
mod supervisor_task;
mod sync;
#[cfg(all(feature = "systemd", unix))]
mod systemd;
pub mod targets;
mod tasks;
mod time;
mod token;
mod wait_list;

pub use config::ServiceConfig;
pub use context::ServiceCtx;
pub use error::Error;
pub use event::Event;
pub use governor::{BudgetReport, Governor, SignalAction};
pub use handle::ServiceHandle;
pub use health::{Health, HealthLevel, HealthReport};
pub use outcome::{BoxError, Outcome, ServiceError, ServiceResult, StopService};
pub use propagation::{Bind, Strategy};
pub use report::{exit_code, Report, RunTimes, ServiceReport, ServiceState, ShutdownCause};
pub use report_handle::ReportHandle;
pub use restart::{Backoff, Escalation, RestartPolicy};
pub use runtime::Signal;
#[cfg(feature = "std")]
pub use service::BlockingService;
pub use service::Service;
pub use sleep::Sleep;
pub use subtree::Subtree;
pub use tasks::{TaskError, TaskHandle};
pub use time::{Interval, Timeout, TimeoutError};
pub use token::{Interrupted, StopSource, StopToken, UntilStop, WaitForStop, WaitForStopOwned};
