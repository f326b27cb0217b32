//! What a running service gets from the governor: its name, its stop
//! token, a sleep that ends early on stop, stop hooks and logging tagged with its name.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::governor::{Governor, Shared};
use crate::outcome::ServiceError;
use crate::record::Record;
use crate::sleep::{Sleep, TimerCell};
use crate::sync::{AtomicUsize, OnceCell, Ordering};
#[cfg(doc)]
use crate::tasks::TaskError;
use crate::tasks::{Control, RunTasks, TaskCell, TaskHandle, TaskStop};
#[cfg(doc)]
use crate::time::TimeoutError;
use crate::time::{Interval, Timeout};
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
    /// good, or this run alone to restart), or a task's own.
    stop: CtxStop,
    /// The run's task scope, once this context has spawned into it (a
    /// task's context finds its scope through its task instead): later
    /// spawns skip the record's lock. A scope is closed when its run
    /// ends, so a scope kept here past its run refuses new tasks, as the
    /// record would.
    scope: OnceCell<Arc<RunTasks>>,
    run: u64,
    /// The runtime's reusable timer, kept between sleeps (see
    /// [`Runtime::timer`](crate::runtime::Runtime::timer)); each clone
    /// has its own.
    timer: TimerCell,
    /// The number of the last reload [`reloaded`](Self::reloaded) handed
    /// out (at first, the latest reload before the run began, or, for a
    /// task's context, before the task was spawned): each clone counts
    /// its own.
    reload_seen: AtomicUsize,
}

/// Whose stop a context observes.
#[derive(Clone)]
pub(crate) enum CtxStop {
    /// The run's token (the run's own context).
    Run(StopToken),
    /// A task's own stop, made at its first use (see `TaskStop`), and
    /// the task's scope: a task's context spawns into it directly.
    Task(Arc<dyn Control>),
}

impl CtxStop {
    #[inline]
    fn token(&self) -> &StopToken {
        match self {
            CtxStop::Run(token) => token,
            CtxStop::Task(task) => task.stop().source().token(),
        }
    }

    #[inline]
    fn stopping(&self) -> bool {
        match self {
            CtxStop::Run(token) => token.stopping(),
            CtxStop::Task(task) => task.stop().stopping(),
        }
    }
}

impl Clone for ServiceCtx {
    fn clone(&self) -> Self {
        ServiceCtx::new(
            self.shared.clone(),
            self.record.clone(),
            self.stop.clone(),
            self.run,
            self.reload_seen.load(Ordering::Acquire),
        )
    }
}

impl ServiceCtx {
    /// A context for run `run` that has handed out every reload up to
    /// `reload_seen` already (see [`reloaded`](Self::reloaded)).
    pub(crate) fn new(
        shared: Arc<Shared>,
        record: Arc<Record>,
        stop: CtxStop,
        run: u64,
        reload_seen: usize,
    ) -> Self {
        let reload_seen = AtomicUsize::new(reload_seen);
        ServiceCtx {
            shared,
            record,
            stop,
            scope: OnceCell::new(),
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
    pub(crate) fn inside_marker(&self) -> crate::inside::InsideMarker {
        crate::inside::InsideMarker {
            governor: self.shared.id(),
            record: Arc::as_ptr(&self.record) as usize,
        }
    }

    /// The governor, the record and the run number, for the liveness
    /// methods kept beside the watchdog (`supervisor/heartbeat.rs`).
    pub(crate) fn parts(&self) -> (&Arc<Shared>, &Arc<Record>, u64) {
        (&self.shared, &self.record, self.run)
    }

    /// The name the service was added under.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Which run this is: 1 for the first, 2 after the first restart…
    pub fn run(&self) -> u64 {
        self.run
    }

    /// This run's stop token (for the context of a task, the task's own: a
    /// child of the spawning context's, made the first time it is asked
    /// for, see [`spawn`](ServiceCtx::spawn)):
    /// stopped when the run is asked to stop —
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
        self.stop.token()
    }

    /// Whether this run has been asked to stop: one atomic load (two in
    /// a task's context: whether its own token is made, then that token's
    /// flag or its parent's).
    #[inline]
    pub fn stopping(&self) -> bool {
        self.stop.stopping()
    }

    /// Completes once this run is asked to stop.
    pub fn wait_for_stop(&self) -> WaitForStop<'_> {
        self.stop.token().wait_for_stop()
    }

    /// Completes once this run is asked to stop, as
    /// [`wait_for_stop`](ServiceCtx::wait_for_stop), but `'static`: it
    /// owns a handle on the run's token, so it can be handed to APIs that
    /// keep it, such as a server's graceful-shutdown signal — with axum,
    /// `axum::serve(listener, app).with_graceful_shutdown(ctx.wait_for_stop_owned())` —
    /// or moved into a task of the service's own.
    ///
    /// ```
    /// use std::future::Future;
    ///
    /// /// A server in the style of axum's `Serve`: it keeps its shutdown
    /// /// signal (here, in a task of its own), so the signal is `'static`.
    /// struct Serve;
    ///
    /// impl Serve {
    ///     async fn with_graceful_shutdown(
    ///         self,
    ///         signal: impl Future<Output = ()> + Send + 'static,
    ///     ) -> std::io::Result<()> {
    ///         // ... accept connections until the signal ...
    ///         smol::spawn(signal).await;
    ///         Ok(()) // ... and drain them
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), governor_core::Error> {
    /// let gov = governor_smol::new();
    /// gov.add("http", |ctx| async move {
    ///     Serve.with_graceful_shutdown(ctx.wait_for_stop_owned()).await?;
    ///     Ok(())
    /// })?;
    /// gov.start()?;
    /// let report = smol::block_on(gov.shutdown());
    /// assert!(report.is_clean());
    /// # Ok(()) }
    /// ```
    pub fn wait_for_stop_owned(&self) -> WaitForStopOwned {
        self.stop.token().wait_for_stop_owned()
    }

    /// Sleeps for `duration` on the runtime's clock; returns
    /// `Err(Interrupted)` early as soon as this run is asked to stop.
    #[inline]
    pub fn sleep(&self, duration: Duration) -> Sleep<'_> {
        // The context's timer, created at the first sleep and re-armed for
        // each later one. Boxed sleeps when the runtime has no reusable
        // timer, or when another sleep of this context holds it now.
        let cancelled = self.stop.token().wait_for_stop();
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

    /// The runtime's clock: monotonic time since an arbitrary, fixed origin
    /// (the virtual clock under a virtual-time runtime). What
    /// [`Interval::tick`](crate::Interval::tick) returns is on it.
    #[inline]
    pub fn now(&self) -> Duration {
        self.shared.runtime.now()
    }

    /// Runs `fut` until it completes, `duration` passes on the runtime's
    /// clock ([`TimeoutError::Elapsed`]), or this context is asked to stop
    /// ([`TimeoutError::Interrupted`]), whichever comes first; `fut` is
    /// dropped unless it completed. The deadline is fixed by this call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_core::{ServiceCtx, ServiceResult, TimeoutError};
    ///
    /// async fn poller(ctx: ServiceCtx) -> ServiceResult {
    ///     let slow = std::future::pending::<()>();
    ///     match ctx.timeout(Duration::from_millis(5), slow).await {
    ///         Err(TimeoutError::Elapsed(_)) => ctx.log("too slow"),
    ///         Err(TimeoutError::Interrupted) => return Ok(()), // asked to stop
    ///         Err(other) => return Err(other.into()),
    ///         Ok(()) => {}
    ///     }
    ///     // `?` turns `Elapsed` into a failure, `Interrupted` into a clean end:
    ///     ctx.timeout(Duration::from_millis(5), async { 7 }).await?;
    ///     Ok(())
    /// }
    /// futures_executor::block_on(async {
    ///     let gov = governor_smol::new();
    ///     gov.add("poller", poller)?.critical();
    ///     gov.start()?;
    ///     let report = gov.wait_for_shutdown().await;
    ///     assert!(report.is_clean());
    ///     Ok::<_, governor_smol::Error>(())
    /// }).unwrap();
    /// ```
    #[inline]
    pub fn timeout<F: Future>(&self, duration: Duration, fut: F) -> Timeout<'_, F> {
        Timeout::new(fut, self.sleep(duration), duration)
    }

    /// Ticks every `period` on the runtime's clock, the first tick at
    /// once; missed ticks are skipped (see [`Interval`]). Each
    /// [`tick`](Interval::tick) ends early with `Err(Interrupted)` once this
    /// context is asked to stop. A zero `period` is refused
    /// ([`Error::ZeroPeriod`](crate::Error::ZeroPeriod)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_core::{ServiceCtx, ServiceResult};
    ///
    /// async fn heartbeat(ctx: ServiceCtx) -> ServiceResult {
    ///     let mut every = ctx.interval(Duration::from_secs(1))?;
    ///     loop {
    ///         let at = every.tick().await?; // `?`: a clean end on stop
    ///         ctx.log(format_args!("beat at {at:?}"));
    ///     }
    /// }
    /// # let _ = heartbeat;
    /// ```
    pub fn interval(&self, period: Duration) -> Result<Interval<'_>, crate::Error> {
        if period.is_zero() {
            return Err(crate::Error::ZeroPeriod);
        }
        Ok(Interval::new(self, period))
    }

    /// Spawns a task of this run: `task` is called at once with the task's
    /// own context and the future it returns runs on the runtime, beside
    /// the run. Returns its [`TaskHandle`]: await it for the output, or
    /// [`abort`](TaskHandle::abort) or [`stop`](TaskHandle::stop) it.
    ///
    /// The task **belongs to the run** (see README "Semantics", *Tasks*):
    ///
    /// - its context's token is a child of this context's: it sees the
    ///   run's stop (and, for a task spawned by a task, its parent's), and
    ///   its handle can stop it alone. The child is made the first time
    ///   the task (or its handle's `stop`) needs it; until then checking
    ///   [`stopping`](ServiceCtx::stopping) reads the parent's, so a task
    ///   that never waits for its stop costs no token. Its context spawns into the same
    ///   run; everything else (`sleep`, `timeout`, `log`, …) is as the
    ///   run's own;
    /// - the run does not count as ended until all its tasks have ended.
    ///   When the run's main future returns with tasks still running,
    ///   they are asked to stop (the run's stop begins: stop hooks, and
    ///   the shutdown timeout counts), and the run waits for them; unlike
    ///   tokio's `JoinSet`, dropping does not abort at once;
    /// - tasks still running at the service's shutdown timeout (or a
    ///   forced shutdown) are aborted with the run, and named in its
    ///   report ([`ServiceReport::aborted_tasks`](crate::ServiceReport::aborted_tasks));
    /// - a task that fails, panics or returns `StopService` and whose
    ///   result nobody reads from its handle fails the run: the run is
    ///   asked to stop, ends with that outcome, and its restart policy
    ///   applies. A result read from the handle is the service's to
    ///   handle (see [`TaskHandle`]);
    /// - a task spawned once the run's main future has returned (or from
    ///   a context of an ended run) never starts: its handle yields
    ///   [`TaskError::NotStarted`].
    ///
    /// ```
    /// use governor_core::{ServiceCtx, ServiceError, ServiceResult, TaskError};
    ///
    /// async fn fan_out(ctx: ServiceCtx) -> ServiceResult {
    ///     // Awaited: its output, or its failure to handle here.
    ///     let sum = ctx.spawn(|_task| async { Ok(1 + 2) });
    ///     assert_eq!(sum.await, Ok(3));
    ///     let failing = ctx.spawn(|_task| async { Err::<(), _>(ServiceError::msg("boom")) });
    ///     assert!(matches!(failing.await, Err(TaskError::Failed(_))));
    ///     // Detached: runs until the run's stop; the run waits for it.
    ///     ctx.spawn(|task| async move {
    ///         task.wait_for_stop().await;
    ///         Ok(())
    ///     })
    ///     .detach();
    ///     Ok(()) // returning asks the detached task to stop
    /// }
    /// futures_executor::block_on(async {
    ///     let gov = governor_smol::new();
    ///     gov.add("fan-out", fan_out)?.critical();
    ///     gov.start()?;
    ///     let report = gov.wait_for_shutdown().await;
    ///     assert!(report.is_clean(), "{report}");
    ///     Ok::<_, governor_smol::Error>(())
    /// }).unwrap();
    /// ```
    pub fn spawn<F, Fut, T>(&self, task: F) -> TaskHandle<T>
    where
        F: FnOnce(ServiceCtx) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_inner(None, task)
    }

    /// As [`spawn`](ServiceCtx::spawn), with a name for the task: the
    /// report names it so if it has to be aborted (unnamed tasks are
    /// `task #n`, numbered from 1 in each run).
    pub fn spawn_named<F, Fut, T>(&self, name: &str, task: F) -> TaskHandle<T>
    where
        F: FnOnce(ServiceCtx) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>> + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_inner(Some(Arc::from(name)), task)
    }

    fn spawn_inner<F, Fut, T>(&self, name: Option<Arc<str>>, task: F) -> TaskHandle<T>
    where
        F: FnOnce(ServiceCtx) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>> + Send + 'static,
        T: Send + 'static,
    {
        // A task's context spawns into its task's scope; the run's own
        // looks the run's up (made at its first spawn) once.
        let scope = match (&self.stop, self.scope.get()) {
            (CtxStop::Task(task), _) => task.scope().cloned(),
            (CtxStop::Run(_), Some(scope)) => Some(scope.clone()),
            (CtxStop::Run(_), None) => {
                let scope = self.record.run_tasks(self.run);
                if let Some(scope) = &scope {
                    self.scope.get_or_init(|| scope.clone());
                }
                scope
            }
        };
        let of_run = matches!(self.stop, CtxStop::Run(_));
        let cell = Arc::new(TaskCell::new(TaskStop::new(
            self.stop.token(),
            of_run,
            scope,
        )));
        let ctx = ServiceCtx::new(
            self.shared.clone(),
            self.record.clone(),
            CtxStop::Task(cell.clone()),
            self.run,
            self.shared.reload_generation(),
        );
        // User code: called before anything is counted, so that its panic
        // (caught by the run) leaves nothing behind.
        let fut = task(ctx);
        crate::tasks::start(&*self.shared.runtime, cell, name, self.inside_marker(), fut)
    }

    /// Runs blocking `work` on the runtime's blocking pool, as a task of
    /// this run (see [`spawn`](ServiceCtx::spawn) for what that means):
    /// its handle yields its result, or [`TaskError::Panicked`] with the
    /// text of its panic; unread failures fail the run. `work` gets the
    /// task's context, to poll [`stopping`](ServiceCtx::stopping) or
    /// sleep with [`sleep_blocking`](ServiceCtx::sleep_blocking).
    ///
    /// A thread cannot be cut off: aborting the task (or the run's
    /// shutdown timeout) stops waiting for it; the closure runs on and its
    /// result is dropped.
    ///
    /// ```
    /// use governor_core::{ServiceCtx, ServiceResult};
    ///
    /// async fn hasher(ctx: ServiceCtx) -> ServiceResult {
    ///     let digest = ctx.spawn_blocking(|_task| Ok((1..=10u64).product::<u64>()));
    ///     assert_eq!(digest.await?, 3_628_800);
    ///     Ok(())
    /// }
    /// futures_executor::block_on(async {
    ///     let gov = governor_smol::new();
    ///     gov.add("hasher", hasher)?.critical();
    ///     gov.start()?;
    ///     assert!(gov.wait_for_shutdown().await.is_clean());
    ///     Ok::<_, governor_smol::Error>(())
    /// }).unwrap();
    /// ```
    #[cfg(feature = "std")]
    pub fn spawn_blocking<W, T>(&self, work: W) -> TaskHandle<T>
    where
        W: FnOnce(ServiceCtx) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self.shared.runtime.clone();
        self.spawn(move |ctx| crate::tasks::blocking(&*runtime, move || work(ctx)))
    }

    /// How many tasks of this run are running (spawned and not ended).
    /// A task is counted out just after its handle receives its result,
    /// so right after awaiting a handle the count may still include that
    /// task for an instant on a multi-thread runtime.
    pub fn running_tasks(&self) -> usize {
        self.record
            .current_run_tasks(self.run)
            .map_or(0, |tasks| tasks.running())
    }

    /// Runs `fut` until it completes or this run is asked to stop,
    /// whichever is first (`Err(Interrupted)` then; `fut` is dropped).
    pub fn until_stop<F: Future>(&self, fut: F) -> UntilStop<'_, F> {
        self.stop.token().until_stop(fut)
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
    /// Every reload after the run began is handed out exactly once, in
    /// order, even those that happened while the service was busy
    /// elsewhere, or before its code got this context: a reload asked for
    /// once the run is seen running or ready (its
    /// [`RunStarted`](crate::Event::RunStarted) or
    /// [`Ready`](crate::Event::Ready) event, or
    /// [`Governor::start_wait_ready`] returning) reaches it. Each clone of
    /// the context counts its own; a task's context
    /// ([`spawn`](Self::spawn)) starts from the task's spawn. A service
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
            if self.stop.stopping() {
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
            let stop = self.stop.token().wait_for_stop();
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

    /// Logs `message` at info level through `tracing` (Go's `Log`), under
    /// the target `governor::service`, naming the service once: inside its
    /// run, the `service` span the run is polled in carries the name (as
    /// it does for the service's own `tracing` events); elsewhere (a task
    /// the service spawned, a context kept past its run) the line carries
    /// it as the `service` field.
    pub fn log(&self, message: impl fmt::Display) {
        let service = (!self.record.named_by_span()).then_some(&*self.record.name);
        tracing::info!(target: crate::targets::SERVICE, service, "{message}");
    }

    /// Blocks the calling thread for `duration`, or until the service is
    /// asked to stop (`Err(Interrupted)`): the sleep for
    /// [blocking services](crate::BlockingService). Do not call it from
    /// async code: it blocks the executor's thread.
    #[cfg(feature = "std")]
    pub fn sleep_blocking(&self, duration: Duration) -> Result<(), crate::token::Interrupted> {
        let mut slept = Ok(());
        {
            let wait = core::pin::pin!(async { slept = self.sleep(duration).await });
            // Through the runtime: a virtual clock must know that this
            // thread waits for it (see `Runtime::block_on`).
            self.shared.runtime.block_on(wait);
        }
        slept
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
