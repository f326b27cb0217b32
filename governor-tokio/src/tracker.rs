//! tokio-util interop (feature `tokio-util`): [`TaskTracker`]s both ways,
//! for libraries that spawn their tasks on one and programs that wait on
//! one.
//!
//! - [`DrainTracker::drain_tracker`] on a [`ServiceCtx`]: a tracker whose
//!   tasks belong to the run. At the run's stop (or when its main future
//!   returns) the tracker is closed, and the run ends only once it is
//!   empty: the tasks are drained within the service's shutdown timeout,
//!   and past it the run is aborted and its report names the tracker in
//!   [`aborted_tasks`](crate::ServiceReport::aborted_tasks), as for a task
//!   of [`ServiceCtx::spawn_named`].
//! - [`TrackedBy::tracked_by`] on a [`Governor`]: the governor counts as
//!   one task of a tracker of the program's own until its shutdown is
//!   complete, so the program's `tracker.close(); tracker.wait().await`
//!   also waits for every service to have stopped.
//!
//! What it does not do: abort a tracker's tasks. A [`TaskTracker`] holds
//! no handle to its tasks (only a count), so nothing can cut them off
//! through it; past the shutdown timeout they are left running, detached,
//! and a warning says how many (as the core warns of the tasks it aborts
//! with a run). Tasks that
//! must stop with the run watch its stop (a
//! [`cancellation_token`](crate::cancel::CancellationExt::cancellation_token),
//! the tokio-util pairing) or are spawned with [`ServiceCtx::spawn`],
//! which the governor can abort. Nor does it reopen a tracker: one shared
//! by several runs stays closed after the first stop, which only matters
//! to other code waiting on it (a closed tracker still accepts tasks).
//!
//! Why this shape: the drain is a named task of the run
//! ([`ServiceCtx::spawn_named`]), so the governor's own rules for run
//! tasks (the run waits for them, the shutdown timeout bounds the wait,
//! the report names what was cut off) apply unchanged; and the governor
//! holds a [`TaskTrackerToken`](tokio_util::task::task_tracker::TaskTrackerToken)
//! dropped by an [observer](Governor::observe_events) of its
//! [`ShutdownComplete`](crate::Event::ShutdownComplete) event, so no task
//! is spawned to follow it and the token is gone before
//! [`wait_for_shutdown`](Governor::wait_for_shutdown) returns.
//!
//! ```
//! use governor_tokio::cancel::{CancellationExt, CancellationToken, ShutdownOnCancel};
//! use governor_tokio::tracker::{DrainTracker, TaskTracker, TrackedBy};
//! use governor_tokio::{ServiceCtx, ServiceResult};
//!
//! /// A library that spawns a task per connection on a tracker and stops
//! /// them on a token.
//! fn serve(tracker: &TaskTracker, token: CancellationToken) {
//!     tracker.spawn(async move { token.cancelled().await });
//! }
//!
//! async fn server(ctx: ServiceCtx) -> ServiceResult {
//!     let connections = TaskTracker::new();
//!     ctx.drain_tracker("connections", &connections);
//!     serve(&connections, ctx.cancellation_token());
//!     ctx.wait_for_stop().await;
//!     Ok(()) // the run ends once `connections` is empty
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), governor_tokio::Error> {
//! // The program's own graceful shutdown, as in tokio's guide.
//! let (token, tracker) = (CancellationToken::new(), TaskTracker::new());
//! let gov = governor_tokio::new().unwrap();
//! gov.shutdown_on_cancel(token.clone());
//! gov.tracked_by(&tracker);
//! gov.add("server", server)?;
//! gov.start()?;
//! token.cancel();
//! tracker.close();
//! tracker.wait().await; // the governor's shutdown is complete
//! assert!(gov.report().shutdown_ended.is_some());
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};

pub use tokio_util::task::TaskTracker;

use crate::{Event, Governor, ServiceCtx};

/// A [`TaskTracker`] drained as part of a service's run.
///
/// Sealed: implemented for [`ServiceCtx`] only.
pub trait DrainTracker: sealed::Sealed {
    /// Makes `tracker`'s tasks part of this run: when the run is asked to
    /// stop, or its main future returns, `tracker` is
    /// [closed](TaskTracker::close) and the run ends only once it is
    /// empty. The wait is a task of the run called `name`
    /// ([`spawn_named`](ServiceCtx::spawn_named)): bounded by the
    /// service's shutdown timeout, past which the run is aborted, the
    /// report names `name` among its
    /// [`aborted_tasks`](crate::ServiceReport::aborted_tasks), and the
    /// tracker's tasks are left running (a tracker cannot abort them; a
    /// warning counts them). Call it before
    /// the run's main future returns: from then on it does nothing (as
    /// a task spawned then never starts).
    fn drain_tracker(&self, name: &str, tracker: &TaskTracker);
}

/// A [`Governor`] waited for by a [`TaskTracker`].
///
/// Sealed: implemented for [`Governor`] only.
pub trait TrackedBy: sealed::Sealed {
    /// Counts this governor as one task of `tracker` until its shutdown
    /// is complete (its [`ShutdownComplete`](crate::Event::ShutdownComplete)
    /// event, before [`wait_for_shutdown`](Governor::wait_for_shutdown)
    /// returns), so that `tracker.close(); tracker.wait().await` waits
    /// for every service to have stopped. At once if it is complete
    /// already. Adds an [observer](Governor::observe_events) for the
    /// governor's life; spawns nothing. A governor never shut down keeps
    /// the tracker's `wait` waiting.
    fn tracked_by(&self, tracker: &TaskTracker);
}

impl DrainTracker for ServiceCtx {
    fn drain_tracker(&self, name: &str, tracker: &TaskTracker) {
        let tracker = tracker.clone();
        let (service, tracker_name): (Arc<str>, Arc<str>) = (self.name().into(), name.into());
        self.spawn_named(name, move |task| async move {
            task.wait_for_stop().await;
            tracker.close();
            let mut left = LeftRunning {
                service,
                name: tracker_name,
                tracker: &tracker,
                drained: false,
            };
            tracker.wait().await;
            left.drained = true;
            Ok(())
        })
        .detach();
    }
}

/// Says, when the drain is cut off (dropped before the tracker emptied),
/// how many of the tracker's tasks go on running.
struct LeftRunning<'a> {
    service: Arc<str>,
    name: Arc<str>,
    tracker: &'a TaskTracker,
    drained: bool,
}

impl Drop for LeftRunning<'_> {
    fn drop(&mut self) {
        let left = self.tracker.len();
        if !self.drained && left > 0 {
            tracing::warn!(
                service = &*self.service,
                tracker = &*self.name,
                left,
                "tracker drain cut off: its tasks go on running (a TaskTracker cannot abort them)"
            );
        }
    }
}

impl TrackedBy for Governor {
    fn tracked_by(&self, tracker: &TaskTracker) {
        let token = Arc::new(Mutex::new(Some(tracker.token())));
        let held = token.clone();
        self.observe_events(move |event| {
            if let Event::ShutdownComplete { .. } = event {
                // Dropped outside the lock (a token's drop wakes waiters).
                let taken = held.lock().unwrap_or_else(|e| e.into_inner()).take();
                drop(taken);
            }
        });
        // After the observer is in: a shutdown completed before it was is
        // seen here, one completed after, there.
        if self.report().shutdown_ended.is_some() {
            let taken = token.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(taken);
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::ServiceCtx {}
    impl Sealed for crate::Governor {}
}
