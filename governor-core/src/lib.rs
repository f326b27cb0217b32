//! The runtime-independent core of **governor**: a supervisor for a
//! program's long-lived services.
//!
//! A program's `main` adds named services to a [`Governor`]. The governor
//! runs them, restarts them by [policy](RestartPolicy) when they end, fail
//! or panic, turns SIGINT, SIGTERM, SIGHUP and SIGQUIT into a graceful
//! shutdown, gives every service a [stop token](StopToken) and a
//! [sleep](ServiceCtx::sleep) that wakes early on stop, and
//! [waits](Governor::wait_for_shutdown) until all of them have stopped. It
//! is the Rust form of the Go package `governor`.
//!
//! This crate holds all of the policy and none of the runtime: it is
//! `#![no_std]` + `alloc`. A [runtime adapter](runtime::Runtime) supplies
//! spawning, timers and signals — use `governor-tokio`, or implement
//! [`runtime::Runtime`] for another executor. (It is unrelated to the
//! rate-limiting crate called `governor`.)
//!
//! # Features
//!
//! - `std` (default): panics in services and stop hooks are caught and
//!   recorded, [blocking services](Governor::add_blocking) run on the
//!   runtime's blocking pool, `shutdown` awaited by a service does not wait
//!   for itself, and locks are `std::sync::Mutex`.
//!
//! Without `std`, a panic in a service unwinds into (or aborts) the
//! executor, as any task's panic would.
//!
//! # Example
//!
//! ```
//! # use governor_core::runtime::{BoxSleep, BoxTask, Runtime};
//! # struct SomeRuntime;
//! # impl Runtime for SomeRuntime {
//! #     fn spawn(&self, task: BoxTask) { drop(task) }
//! #     fn sleep(&self, _: std::time::Duration) -> BoxSleep { Box::pin(core::future::pending()) }
//! #     fn now(&self) -> std::time::Duration { std::time::Duration::ZERO }
//! # }
//! use std::time::Duration;
//! use governor_core::{Governor, ServiceCtx, ServiceResult};
//!
//! async fn ticker(ctx: ServiceCtx) -> ServiceResult {
//!     loop {
//!         ctx.log("tick");
//!         ctx.sleep(Duration::from_secs(1)).await?;
//!     }
//! }
//!
//! # fn main() -> Result<(), governor_core::Error> {
//! // An adapter gives this in one line, e.g. `governor_tokio::new()`.
//! let gov = Governor::new(SomeRuntime).restart(Duration::from_secs(1));
//! gov.add("ticker", ticker)?;
//! gov.start()?;
//! // in async main: let report = gov.wait_for_shutdown().await;
//! # Ok(()) }
//! ```

#![no_std]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod activity;
mod config;
mod context;
mod error;
mod event;
mod governor;
mod handle;
mod inside;
#[cfg(all(test, loom))]
mod loom_models;
mod name_index;
mod outcome;
mod report;
mod restart;
pub mod runtime;
mod service;
mod sleep;
mod slot;
mod subtree;
mod supervisor;
mod supervisor_task;
mod sync;
mod token;
mod wait_list;

pub use config::ServiceConfig;
pub use context::ServiceCtx;
pub use error::Error;
pub use event::Event;
pub use governor::Governor;
pub use handle::ServiceHandle;
pub use outcome::{BoxError, Outcome, ServiceError, ServiceResult, StopService};
pub use report::{Report, ServiceReport, ServiceState, ShutdownCause};
pub use restart::{Backoff, Escalation, RestartPolicy};
pub use runtime::Signal;
#[cfg(feature = "std")]
pub use service::BlockingService;
pub use service::Service;
pub use sleep::Sleep;
pub use subtree::Subtree;
pub use token::{Cancelled, CancelledOwned, StopSource, StopToken, Stopped, UntilCancelled};
