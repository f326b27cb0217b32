//! What a running service gets from the governor: its name, its stop
//! token, a sleep that ends early on stop, stop hooks and logging tagged with its name.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::governor::{Governor, Shared};
use crate::record::Record;
use crate::sleep::{Sleep, TimerCell};
use crate::sync::{AtomicUsize, Ordering};
use crate::token::{Interrupted, StopToken, UntilStop, WaitForStop, WaitForStopOwned};

/// A service's handle on the governor, passed to every run.
///
/// Cheap to clone. It is the Rust form of Go's embedded `ServiceCtx`.
///
/// ```
/// use std::time::Duration;
/// use governor_core::{ServiceCtx, ServiceResult};
///
/// async fn poller(ctx: ServiceCtx) -> ServiceResult {
///     while !ctx.stopping() {
///         // Any future can be raced against the stop request:
///         let _data = ctx.until_stop(async { 42 }).await?;
///         ctx.sleep(Duration::from_millis(100)).await?;
///     }
///     Ok(())
/// }
/// # let _ = poller;
/// ```
pub struct ServiceCtx {
    shared: Arc<Shared>,
    record: Arc<Record>,
    /// This run's token (stopped when the service is asked to stop for
    /// good, or this run alone to restart).
    token: StopToken,
    run: u64,
    /// The runtime's reusable timer, kept between sleeps (see
    /// [`Runtime::timer`](crate::runtime::Runtime::timer)); each clone
    /// has its own.
    timer: TimerCell,
    /// The number of the last reload [`reloaded`](Self::reloaded) handed
    /// out (at first, the latest reload before this context was made):
    /// each clone counts its own.
    reload_seen: AtomicUsize,
}

impl Clone for ServiceCtx {
    fn clone(&self) -> Self {
        let clone = ServiceCtx::new(
            self.shared.clone(),
            self.record.clone(),
            self.token.clone(),
            self.run,
        );
        let seen = self.reload_seen.load(Ordering::Acquire);
        clone.reload_seen.store(seen, Ordering::Release);
        clone
    }
}

impl ServiceCtx {
    pub(crate) fn new(
        shared: Arc<Shared>,
        record: Arc<Record>,
        token: StopToken,
        run: u64,
    ) -> Self {
        let reload_seen = AtomicUsize::new(shared.reload_generation());
        ServiceCtx {
            shared,
            record,
            token,
            run,
            timer: TimerCell::new(None),
            reload_seen,
        }
    }

    #[cfg(feature = "std")]
    pub(crate) fn runtime(&self) -> &Arc<dyn crate::runtime::Runtime> {
        &self.shared.runtime
    }

    /// Identifies the governor and this service (for "inside one of its
    /// services" checks).
    pub(crate) fn inside_marker(&self) -> (usize, usize) {
        (self.shared.id(), Arc::as_ptr(&self.record) as usize)
    }

    /// The name the service was added under.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Which run this is: 1 for the first, 2 after the first restart…
    pub fn run(&self) -> u64 {
        self.run
    }

    /// This run's stop token: stopped when the run is asked to stop —
    /// by a shutdown (after the services that depend on this one have
    /// stopped), or by the service's [handle](crate::ServiceHandle).
    ///
    /// It only observes: a service cannot stop (and so restart) itself
    /// through it, past its restart policy. To end by itself, a run
    /// returns (or returns [`StopService`](crate::StopService) to end for
    /// good); for work of its own it can make a
    /// [child source](StopToken::child), which it stops alone.
    ///
    /// ```compile_fail
    /// async fn selfish(ctx: governor_core::ServiceCtx) -> governor_core::ServiceResult {
    ///     ctx.token().stop(); // a token cannot stop
    ///     Ok(())
    /// }
    /// ```
    ///
    /// A run that ends without being asked to stop hands its token, still
    /// live, to the next run: a restart after such an end costs no new
    /// token. So a clone kept from an earlier run observes the stop of the
    /// run that follows it (a useful way to end leftovers of that run).
    pub fn token(&self) -> &StopToken {
        &self.token
    }

    /// Whether this run has been asked to stop: one atomic load.
    #[inline]
    pub fn stopping(&self) -> bool {
        self.token.stopping()
    }

    /// Completes once this run is asked to stop.
    pub fn wait_for_stop(&self) -> WaitForStop<'_> {
        self.token.wait_for_stop()
    }

    /// Completes once this run is asked to stop, as
    /// [`wait_for_stop`](ServiceCtx::wait_for_stop), but `'static`: it owns a
    /// handle on the run's token, so it can be handed to APIs that keep
    /// it, such as a server's graceful-shutdown signal
    /// (`axum::serve(..).with_graceful_shutdown(ctx.wait_for_stop_owned())`),
    /// or moved into a task of the service's own.
    ///
    /// ```
    /// use governor_core::{ServiceCtx, ServiceResult};
    ///
    /// fn keeps<F: core::future::Future<Output = ()> + Send + 'static>(_: F) {}
    ///
    /// async fn server(ctx: ServiceCtx) -> ServiceResult {
    ///     keeps(ctx.wait_for_stop_owned()); // outlives the borrow of `ctx`
    ///     Ok(())
    /// }
    /// # let _ = server;
    /// ```
    pub fn wait_for_stop_owned(&self) -> WaitForStopOwned {
        self.token.wait_for_stop_owned()
    }

    /// Sleeps for `duration` on the runtime's clock; returns
    /// `Err(Interrupted)` early as soon as this run is asked to stop.
    #[inline]
    pub fn sleep(&self, duration: Duration) -> Sleep<'_> {
        // The context's timer, created at the first sleep and re-armed for
        // each later one. Boxed sleeps when the runtime has no reusable
        // timer, or when another sleep of this context holds it now.
        let cancelled = self.token.wait_for_stop();
        if let Some(mut cell) = self.timer.try_lock() {
            if cell.is_none() {
                *cell = self.shared.runtime.timer();
            }
            if let Some(timer) = cell.as_mut() {
                timer.as_mut().reset(duration);
                return Sleep::reusing(cancelled, cell);
            }
        }
        Sleep::new(cancelled, self.shared.runtime.sleep(duration))
    }

    /// Runs `fut` until it completes or this run is asked to stop,
    /// whichever is first (`Err(Interrupted)` then; `fut` is dropped).
    pub fn until_stop<F: Future>(&self, fut: F) -> UntilStop<'_, F> {
        self.token.until_stop(fut)
    }

    /// Reports this run ready. Services that depend on this one, and
    /// [`Governor::wait_ready`], wait for it when the service was added
    /// with [`notify_ready`](crate::ServiceConfig::notify_ready); other
    /// services count as ready as soon as a run begins. Readiness is per
    /// run: it resets when the run ends. Calling it again does nothing.
    pub fn ready(&self) {
        if self.record.mark_ready(self.run) {
            self.shared.emit(|| crate::event::Event::Ready {
                service: self.record.name.clone(),
            });
        }
    }

    /// Waits for the next [reload](Governor::reload) this context has not
    /// been told about, and returns its number (1 for the first reload
    /// of the governor, then 2, ...); `Err(Interrupted)` once this run is
    /// asked to stop (the stop wins over a reload not handed out yet).
    ///
    /// Every reload after this context was made is handed out exactly
    /// once, in order, even those that happened while the service was busy
    /// elsewhere (each clone of the context counts its own): a service
    /// that loops on it reloads once per reload and misses none. A run
    /// begun after a reload (for instance restarted by it, see
    /// [`restart_on_reload`](crate::ServiceConfig::restart_on_reload)) is
    /// not told about it: it read the new configuration as it began.
    ///
    /// ```
    /// use governor_core::{ServiceCtx, ServiceResult};
    ///
    /// async fn server(ctx: ServiceCtx) -> ServiceResult {
    ///     // let mut config = load_config();
    ///     loop {
    ///         let reload = ctx.reloaded().await?; // Ok(()) on stop
    ///         ctx.log(format_args!("reload {reload}: reading the configuration again"));
    ///         // config = load_config();
    ///     }
    /// }
    /// # let _ = server;
    /// ```
    pub async fn reloaded(&self) -> Result<u64, Interrupted> {
        loop {
            if self.token.stopping() {
                return Err(Interrupted);
            }
            let seen = self.reload_seen.load(Ordering::Acquire);
            let (latest, next) = self.shared.reload_watch();
            if latest > seen {
                // A clone shares nothing, but two calls on one context
                // may race: each generation is handed out once.
                if self
                    .reload_seen
                    .compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Ok(seen as u64 + 1);
                }
                continue;
            }
            let reloaded = next.wait_for_stop();
            let stop = self.token.wait_for_stop();
            futures_util::future::select(reloaded, stop).await;
        }
    }

    /// A new, independent governor on the same runtime, for a subsystem
    /// this service supervises itself (see [`Subtree`](crate::Subtree)).
    ///
    /// A wait for *this* governor's shutdown awaited inside one of the
    /// child's services counts as awaited inside this service.
    pub fn child_governor(&self) -> Governor {
        let child = Governor::new(self.shared.runtime.clone());
        self.shared.add_child(child.shared(), self.record.clone());
        child
    }

    /// Registers a stop hook for the current run (Go's `Stoppable.Stop`).
    ///
    /// The governor calls it from its own side, once, right after this
    /// service is asked to stop, even while `run` is only starting; use it
    /// to unblock code that does not watch the token, e.g. by shutting down
    /// a socket a blocking read is parked on. If the stop was requested
    /// already, the hook runs at once, before this call returns. The hook
    /// belongs to this run: it is dropped when the run ends. Called on a
    /// context whose run has ended (a leftover of an earlier run), it runs
    /// at once too, and never attaches to a later run. A panic in a hook
    /// is caught and logged (`std`).
    pub fn on_stop(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.record.add_run_hook(self.run, Arc::new(hook));
    }

    /// The governor this service runs under (to add services, read
    /// status, or request shutdown from inside).
    pub fn governor(&self) -> Governor {
        Governor::from_shared(self.shared.clone())
    }

    /// Logs `message` at info level through `tracing`, tagged with the
    /// service's name (Go's `Log`). Every event a service emits while it
    /// runs is also inside a `service` span carrying its name.
    pub fn log(&self, message: impl fmt::Display) {
        tracing::info!(service = %self.record.name, "{message}");
    }

    /// Blocks the calling thread for `duration`, or until the service is
    /// asked to stop (`Err(Interrupted)`): the sleep for
    /// [blocking services](crate::BlockingService). Do not call it from
    /// async code: it blocks the executor's thread.
    #[cfg(feature = "std")]
    pub fn sleep_blocking(&self, duration: Duration) -> Result<(), crate::token::Interrupted> {
        futures_executor::block_on(self.sleep(duration))
    }
}

impl fmt::Debug for ServiceCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceCtx")
            .field("name", &self.record.name)
            .field("stopping", &self.stopping())
            .finish()
    }
}
