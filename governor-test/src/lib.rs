//! Test governor services on virtual time: restarts, backoff, timeouts,
//! stops and signals, exactly and deterministically, without sleeping.
//!
//! A complete test of a small service, a poller whose upstream refuses the
//! first two connections: an hour of supervision passes in milliseconds,
//! and every time in it is exact. In your crate it is a `#[test] fn`, as
//! it stands: [`run`] needs no macro and no async test attribute.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use governor_core::{Backoff, RestartPolicy, ServiceError, ServiceState};
//!
//! const SEC: Duration = Duration::from_secs(1);
//!
//! fn the_poller_rides_out_a_flaky_upstream() {
//!     governor_test::run(|rt| async move {
//!         let connects = Arc::new(AtomicU32::new(0));
//!         let gov = rt.governor();
//!         let seen = connects.clone();
//!         gov.add("poller", move |ctx| {
//!             let attempt = seen.fetch_add(1, Ordering::SeqCst) + 1;
//!             async move {
//!                 if attempt <= 2 {
//!                     return Err(ServiceError::msg("upstream refused"));
//!                 }
//!                 // Poll every 10 s until asked to stop.
//!                 while ctx.sleep(10 * SEC).await.is_ok() {}
//!                 Ok(())
//!             }
//!         })?
//!         .restart_policy(RestartPolicy::on_failure(SEC).backoff(Backoff::new(SEC, 60 * SEC)));
//!         gov.start()?;
//!
//!         rt.sleep(3600 * SEC).await;
//!         let report = gov.shutdown().await;
//!
//!         let poller = report.service("poller").unwrap();
//!         assert_eq!((poller.runs, poller.restarts), (3, 2));
//!         assert_eq!(poller.state, ServiceState::Ended);
//!         // Backoff 1 s, then 2 s: the third run began at t = 3 s.
//!         assert_eq!(poller.last_run.unwrap().started, 3 * SEC);
//!         assert!(report.is_clean());
//!         assert_eq!(rt.now(), 3600 * SEC);
//!         Ok::<(), governor_core::Error>(())
//!     })
//!     .unwrap();
//! }
//! # the_poller_rides_out_a_flaky_upstream();
//! ```
//!
//! # What is here
//!
//! - [`run`] (and [`Test`] to configure it): the `#[test]`-friendly entry.
//!   It makes a fresh [`VirtualRuntime`], runs the test body on it to
//!   completion, and fails the test, saying why, instead of hanging: on a
//!   [`Deadlock`] (naming the services still waiting), or past its
//!   [`Limits`].
//! - [`VirtualRuntime`]: the runtime itself. One thread drives every task;
//!   the clock starts at zero and jumps to the next timer whenever nothing
//!   can run (auto-advance), or moves when told to
//!   ([`advance`](VirtualRuntime::advance), with
//!   [`run_until_idle`](VirtualRuntime::run_until_idle) between, outside
//!   [`block_on`](VirtualRuntime::block_on)).
//!   [`governor`](VirtualRuntime::governor) builds a governor on it in one
//!   call; [`raise`](VirtualRuntime::raise) delivers a shutdown signal.
//!   The report is the governor's own ([`Governor::report`],
//!   [`Governor::shutdown`]), its times on the virtual clock.
//! - Determinism: unseeded, ready tasks are polled in the order they were
//!   woken, so the same test gives the same schedule
//!   ([`schedule_fingerprint`](VirtualRuntime::schedule_fingerprint)) and
//!   the same timeline on every run. Seeded
//!   ([`Test::seed`], [`VirtualRuntime::with_seed`], or the
//!   `GOVERNOR_TEST_SEED` environment variable), the next ready task is
//!   picked by a generator with that seed: each seed is one schedule,
//!   replayable. [`Test::explore`] runs a test under many seeds and, at the
//!   first that fails, names it ([`SeedFailure`]) so that
//!   `GOVERNOR_TEST_SEED=<seed> cargo test <name>` replays it. One limit:
//!   blocking work (blocking services, `spawn_blocking`) runs on real
//!   threads. A thread that waits on the runtime (`ctx.sleep_blocking`,
//!   through [`Runtime::block_on`](governor_core::runtime::Runtime::block_on))
//!   costs nothing and is waited for as soon as it is woken, so blocking
//!   services that sleep and heartbeat are exact. But while a thread runs
//!   code of its own (a computation, a socket read) with a timer pending,
//!   the driver waits only [`BLOCKING_GRACE`] of real time for it before
//!   it moves the clock; a call slower than that sees virtual time move
//!   on. Await an event rather than a sleep while such work runs when its
//!   timing must be exact.
//! - Faults, injected without editing the service: [`Faulty`] wraps it
//!   and makes chosen runs fail, panic, hang (ignore their stop), end with
//!   `StopService`, begin late, or register a panicking stop hook
//!   ([`Fault`]); [`delay_blocking`](VirtualRuntime::delay_blocking)
//!   makes blocking calls slow, in virtual time.
//! - Assertions: [`Timeline`] ([`VirtualRuntime::timeline`]) records a
//!   governor's events with their virtual times and says when a service
//!   restarted ([`assert_restarted_at`](Timeline::assert_restarted_at)) and
//!   in which order services stopped
//!   ([`assert_stopped_in_order`](Timeline::assert_stopped_in_order));
//!   [`assert_reports_eq`] fails with a [`ReportDiff`], one line per
//!   field that differs.
//!
//! The crate is itself tested by governor's conformance suite, which runs
//! every case on this runtime through this public API.
//!
//! # Where things are
//!
//! - `runtime/`: [`VirtualRuntime`], one file per concern (executor and
//!   seeded order, clock, blocking work, signals, the idle step and its
//!   errors, the services watch), described in `runtime/mod.rs`;
//! - `entry.rs`: [`run`], [`Test`], seeds and their errors;
//! - `faults.rs`: [`Faulty`] and [`Fault`];
//! - `timeline.rs`: [`Timeline`];
//! - `diff.rs`: [`diff_reports`] and [`assert_reports_eq`].
//!
//! No user code runs under a lock of this crate: the runtime's locks
//! guard its queue, clock, tasks and signal feeds only (wakers are woken
//! and tasks dropped after they are released), and the event observers
//! take their own list's lock only to push an entry.
//!
//! [`Governor::report`]: governor_core::Governor::report
//! [`Governor::shutdown`]: governor_core::Governor::shutdown

mod diff;
mod entry;
mod faults;
mod runtime;
mod timeline;

pub use diff::{assert_reports_eq, diff_reports, ReportDiff};
pub use entry::{run, SeedError, SeedFailure, Test, SEED_VAR};
pub use faults::{Fault, Faulty, Injected};
pub use runtime::{Deadlock, ExternalWork, Limits, Stuck, VirtualRuntime, BLOCKING_GRACE};
pub use timeline::{Entry, Timeline};
