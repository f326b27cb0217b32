//! The task that runs one service: run, record the outcome, restart by
//! policy, fire stop hooks when asked to stop, and count as live until the
//! service has ended for good.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::context::ServiceCtx;
use crate::event::Event;
use crate::governor::{Defaults, Shared};
use crate::outcome::ServiceResult;
use crate::outcome::{outcome_of, Outcome};
use crate::report::ShutdownCause;
use crate::restart::{Decision, Escalation, RestartHistory};
use crate::runtime::BoxSleep;
use crate::service::Service;
use crate::slot::{drop_user_value, AfterRun, Slot};
use crate::supervisor_task::LaunchInputs;
use crate::token::{Cancelled, StopSource};

/// Runs a service once and turns however it ends into an [`Outcome`].
pub(crate) trait Runner: Send + 'static {
    /// What a run cut off by a timeout or a forced shutdown ended with.
    const ABORTED: Outcome;

    fn run_once(&mut self, ctx: ServiceCtx) -> impl Future<Output = Outcome> + Send;
}

/// Runs an async [`Service`] inside the supervisor's own task.
pub(crate) struct AsyncRunner<S>(pub(crate) S);

impl<S: Service> Runner for AsyncRunner<S> {
    const ABORTED: Outcome = Outcome::Aborted;

    fn run_once(&mut self, ctx: ServiceCtx) -> impl Future<Output = Outcome> + Send {
        let id = ctx.inside_marker();
        RunOnce::new(move || self.0.run(ctx), id)
    }
}

pin_project_lite::pin_project! {
    /// One run of an async service: calls `run` when first polled, then
    /// polls the future it returned, with panics caught (`std`) and the
    /// thread marked as inside this service (`id`: governor, service)
    /// meanwhile.
    ///
    /// Written out rather than as an `async fn` so that it holds the
    /// service's future and little else: it lives inside every
    /// supervisor's task, and an `async fn` kept a second copy of the
    /// context and the future. An enum, as the call and the future it
    /// returns never exist at once.
    struct RunOnce<F, Fut> {
        #[pin]
        stage: RunStage<F, Fut>,
        id: (usize, usize),
    }
}

pin_project_lite::pin_project! {
    #[project = RunStageProj]
    #[project_replace = RunStageOwned]
    enum RunStage<F, Fut> {
        Call { start: F },
        Running { #[pin] fut: Fut },
        Done,
    }
}

impl<F, Fut> RunOnce<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ServiceResult>,
{
    fn new(start: F, id: (usize, usize)) -> Self {
        RunOnce {
            stage: RunStage::Call { start },
            id,
        }
    }
}

impl<F, Fut> Future for RunOnce<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ServiceResult>,
{
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.project();
        let mut stage = this.stage;
        let _inside = inside::Guard::enter(*this.id);
        if let RunStageProj::Call { .. } = stage.as_mut().project() {
            if let RunStageOwned::Call { start } = stage.as_mut().project_replace(RunStage::Done) {
                // `run` itself may panic before it hands out a future.
                #[cfg(feature = "std")]
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
                    Ok(fut) => stage.set(RunStage::Running { fut }),
                    Err(payload) => return Poll::Ready(crate::outcome::outcome_of_panic(payload)),
                }
                #[cfg(not(feature = "std"))]
                stage.set(RunStage::Running { fut: start() });
            }
        }
        let RunStageProj::Running { fut } = stage.as_mut().project() else {
            return Poll::Pending; // done already; never polled again
        };
        #[cfg(feature = "std")]
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx)))
        {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => outcome_of(result),
            Err(payload) => crate::outcome::outcome_of_panic(payload),
        };
        #[cfg(not(feature = "std"))]
        let outcome = match fut.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => outcome_of(result),
        };
        // Dropped here, as the run ends.
        stage.set(RunStage::Done);
        Poll::Ready(outcome)
    }
}

/// Runs a [`BlockingService`](crate::BlockingService) on the runtime's
/// blocking pool, one thread per run; the value travels to the thread and
/// back so that the next run uses it again.
#[cfg(feature = "std")]
pub(crate) struct BlockingRunner<S>(pub(crate) Option<S>);

#[cfg(feature = "std")]
impl<S: crate::service::BlockingService> Runner for BlockingRunner<S> {
    const ABORTED: Outcome = Outcome::Abandoned;

    async fn run_once(&mut self, ctx: ServiceCtx) -> Outcome {
        use alloc::boxed::Box;
        use std::panic::{catch_unwind, AssertUnwindSafe};

        let Some(mut service) = self.0.take() else {
            return Outcome::Panicked(Arc::from("blocking service lost by an earlier run"));
        };
        let runtime = ctx.runtime().clone();
        let id = ctx.inside_marker();
        let span = tracing::Span::current();
        let (done, result) = futures_channel::oneshot::channel();
        runtime.spawn_blocking(Box::new(move || {
            let _span = span.enter();
            let caught = {
                let _inside = inside::Guard::enter(id);
                catch_unwind(AssertUnwindSafe(|| service.run(ctx)))
            };
            let outcome = match caught {
                Ok(result) => outcome_of(result),
                Err(payload) => crate::outcome::outcome_of_panic(payload),
            };
            // The supervisor may be gone (aborted); then the value is
            // dropped here.
            let _ = done.send((service, outcome));
        }));
        match result.await {
            Ok((service, outcome)) => {
                self.0 = Some(service);
                outcome
            }
            Err(_) => Outcome::Panicked(Arc::from("blocking thread ended without a result")),
        }
    }
}

/// Supervises one service from its start to its end for good: waits for
/// its dependencies, runs it, records each outcome, restarts it by policy,
/// escalates, and keeps the shutdown order (see [`Watched`]).
///
/// A function returning an `async` block rather than an `async fn`: the
/// block uses what it captures in place, where an `async fn` kept its
/// arguments twice (as given, and rebound), in every idle supervisor.
// `shared` and `slot` are references into `live` (below) where they were
// owned `Arc`s; the body borrows them as it did then.
#[allow(clippy::needless_borrow)]
pub(crate) fn supervise<R: Runner>(
    runner: R,
    inputs: LaunchInputs,
) -> impl Future<Output = ()> + Send + 'static {
    let LaunchInputs {
        shared,
        slot,
        deps,
        settings: mut config,
    } = inputs;
    let mut runner = runner;
    // Counted out when it is dropped: when the supervisor ends, and also
    // when the runtime drops the task before its first poll (the block
    // owns it from the start).
    let mut live = Live {
        shared,
        slot,
        finished: false,
    };
    async move {
        let live = &mut live;
        let shared = &live.shared;
        let slot = &live.slot;
        if !deps.is_empty() {
            shared.emit(|| Event::Starting {
                service: slot.name.clone(),
            });
            let never_ran = match wait_for_dependencies(&shared, &slot, &deps).await {
                Ok(()) => None,
                // Asked to stop while waiting.
                Err(None) => Some(Outcome::NotRun),
                Err(Some(dependency)) => {
                    shared.emit(|| Event::DependencyFailed {
                        service: slot.name.clone(),
                        dependency: dependency.clone(),
                    });
                    Some(Outcome::DependencyFailed(dependency))
                }
            };
            if let Some(outcome) = never_ran {
                live.forget_if_asked(); // before `wait` returns
                                        // Its one outcome, although it never ran.
                slot.end_unrun(outcome);
                live.finished = true;
                // Dropped while the service still counts as live.
                drop_user_value(&slot.name, "service value", runner);
                return;
            }
        }
        // Kept only if some subscriber records it: a disabled span is 40 bytes
        // of every idle supervisor for nothing.
        let span = service_span(&slot.name);
        let start = shared.runtime.now();
        let mut history = RestartHistory::new(seed_for(&slot.name, start));
        // When the next run begins, if known without reading the clock again
        // (a clock read is a good part of a quick restart): at the start, and
        // after a zero-delay restart, which only yields once.
        let mut next_begins = Some(start);
        let mut defaults = None;
        // Handed from a run that was not asked to stop to the next one.
        let mut reusable_token = None;
        loop {
            let (run_token, run) = slot.begin_run(reusable_token.take());
            shared.emit(|| Event::Started {
                service: slot.name.clone(),
                run,
            });
            if !config.notify_ready {
                shared.emit(|| Event::Ready {
                    service: slot.name.clone(),
                });
            }
            let began = next_begins.take().unwrap_or_else(|| shared.runtime.now());
            let ctx = ServiceCtx::new(shared.clone(), slot.clone(), run_token.token().clone(), run);
            let (outcome, timed_out, read_at) = Watched::new(
                InSpan::new(runner.run_once(ctx), span.as_deref()),
                &shared,
                &slot,
                &run_token,
                &mut defaults,
                || R::ABORTED,
            )
            .await;
            let now = read_at.unwrap_or_else(|| shared.runtime.now());
            let asked_to_stop = slot.stopped() || shared.token.is_cancelled();
            let restart_now = !asked_to_stop && run_token.is_cancelled();
            // A restart asked for by the handle is honoured whatever the
            // policy, even after an abort at the shutdown timeout (the
            // service's value is back); not after a blocking run was
            // abandoned: its value is still on that thread.
            let decision = if asked_to_stop {
                Decision::Done
            } else if restart_now && !matches!(outcome, Outcome::Abandoned) {
                Decision::Restart {
                    delay: Duration::ZERO,
                    attempt: 0,
                    trouble: false,
                }
            } else if outcome.is_aborted() {
                Decision::Done
            } else {
                // The settings as they are now: the service's own or the
                // defaults may have changed while this run ran.
                if let Some(own) = slot.changed_restart_policy() {
                    config.restart = own.map(Box::new);
                }
                let policy = match &config.restart {
                    Some(own) => **own,
                    None => shared.defaults(&mut defaults).restart,
                };
                history.decide(&policy, &outcome, now, now.saturating_sub(began))
            };
            let next = match decision {
                Decision::Restart { delay, .. } => AfterRun::Restart(delay),
                // Nothing left to do but end: recorded in the same lock.
                Decision::Done if !config.critical || asked_to_stop => AfterRun::Finish,
                _ => AfterRun::Undecided,
            };
            if next == AfterRun::Finish {
                live.forget_if_asked(); // before `wait` returns
            }
            slot.end_run(outcome.clone(), now, timed_out, next);
            live.finished = next == AfterRun::Finish;
            // Emitted once the record says so: a hook that reads the report
            // sees the run it is told about.
            if let Outcome::Panicked(message) = &outcome {
                shared.emit(|| Event::Panicked {
                    service: slot.name.clone(),
                    message: message.clone(),
                });
            }
            if timed_out {
                shared.emit(|| Event::Aborted {
                    service: slot.name.clone(),
                });
            }
            shared.emit(|| Event::Stopped {
                service: slot.name.clone(),
                outcome,
            });
            if live.finished {
                // Its end is told to `wait()` once its events are out.
                slot.publish_end();
            }
            match decision {
                Decision::Restart {
                    delay,
                    attempt,
                    trouble,
                } => {
                    if !restart_now {
                        shared.emit(|| Event::RestartScheduled {
                            service: slot.name.clone(),
                            delay,
                            attempt,
                            trouble,
                        });
                    }
                    reusable_token = Some(run_token);
                    if !wait_to_restart(&shared, &slot, delay).await {
                        break;
                    }
                    if delay.is_zero() {
                        next_begins = Some(now);
                    }
                }
                Decision::Done => {
                    if config.critical && !asked_to_stop {
                        shared.request_shutdown(ShutdownCause::Critical {
                            service: slot.name.clone(),
                        });
                    }
                    break;
                }
                Decision::Escalate(escalation) => {
                    // Recorded before it is told.
                    live.forget_if_asked();
                    slot.record_end(true);
                    live.finished = true;
                    shared.emit(|| Event::GaveUp {
                        service: slot.name.clone(),
                        restarts: slot.report(now).restarts,
                    });
                    slot.publish_end();
                    if escalation == Escalation::Shutdown {
                        shared.request_shutdown(ShutdownCause::Escalated {
                            service: slot.name.clone(),
                        });
                    } else if config.critical {
                        shared.request_shutdown(ShutdownCause::Critical {
                            service: slot.name.clone(),
                        });
                    }
                    break;
                }
            }
        }
        // The service value is dropped while the service still counts as
        // live (`live` is dropped after it): `shutdown()` and
        // `wait_for_shutdown()` return only once it is gone.
        drop_user_value(&slot.name, "service value", runner);
    }
}

/// The span a service's runs are entered into, boxed, if any subscriber
/// records it.
fn service_span(name: &str) -> Option<Box<tracing::Span>> {
    let span = tracing::info_span!("service", name = %name);
    (!span.is_disabled()).then(|| Box::new(span))
}

/// A seed for restart jitter: different per service and per start.
fn seed_for(name: &str, now: Duration) -> u64 {
    // FNV-1a over the name, mixed with the start time.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash ^ (now.as_nanos() as u64)
}

/// Waits until every dependency is ready (or has ended for good after
/// being ready: a finished one-shot job). `Err(Some(dep))`: `dep` ended
/// for good without ever being ready. `Err(None)`: this service or the
/// governor was asked to stop meanwhile.
async fn wait_for_dependencies(
    shared: &Shared,
    slot: &Slot,
    deps: &[Arc<Slot>],
) -> Result<(), Option<Arc<str>>> {
    for dep in deps {
        let ready = dep.watch(|view| {
            if view.ready || (view.ended && view.ever_ready) {
                Some(Ok(()))
            } else if view.ended {
                Some(Err(()))
            } else {
                None
            }
        });
        let stopped = race_stop(shared, slot, ready).await;
        match stopped {
            Some(Ok(())) => {}
            Some(Err(())) => return Err(Some(dep.name.clone())),
            None => return Err(None),
        }
    }
    Ok(())
}

/// Waits out a restart delay; `false` if asked to stop meanwhile.
async fn wait_to_restart(shared: &Shared, slot: &Slot, delay: Duration) -> bool {
    if delay.is_zero() {
        // A service that ends at once must not starve the executor.
        YieldNow(false).await;
        return !(slot.stopped() || shared.token.is_cancelled());
    }
    race_stop(shared, slot, shared.runtime.sleep(delay))
        .await
        .is_some()
}

/// Runs `fut` unless this service or the whole governor is asked to stop
/// first (`None`). Nothing of this service runs meanwhile, so there is no
/// order to keep.
///
/// The stop is polled first: when both are ready at once (a shutdown that
/// ends the very dependency this service waits for), the stop wins, so a
/// dependent the shutdown finds waiting is recorded as stopped while it
/// waited (`NotRun`), never as failed by a dependency the shutdown ended,
/// whichever wake-up its task sees first.
async fn race_stop<F: Future>(shared: &Shared, slot: &Slot, fut: F) -> Option<F::Output> {
    let global = shared.token.cancelled();
    let own = slot.watch(|view| view.stopped.then_some(()));
    let stop = futures_util::future::select(global, own);
    match futures_util::future::select(stop, core::pin::pin!(fut)).await {
        futures_util::future::Either::Left(_) => None,
        futures_util::future::Either::Right((output, _)) => Some(output),
    }
}

/// Counts the service as live; on drop (its end for good, or the runtime
/// dropping the task, polled or not) marks it ended and lets shutdown
/// waiters know: exactly once per launch.
struct Live {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    /// The record says ended already.
    finished: bool,
}

impl Live {
    /// The service is ending for good: forgets it if it asked for that
    /// (or is being removed), before its end wakes its watchers.
    fn forget_if_asked(&self) {
        if self.slot.should_forget(self.shared.token.is_cancelled()) {
            self.shared.forget(&self.slot);
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if !self.finished {
            self.forget_if_asked();
            self.slot.finish(false);
        }
        self.shared.service_ended(&self.slot);
    }
}

pin_project_lite::pin_project! {
    /// Watches one run: keeps the shutdown order, fires the stop hooks,
    /// enforces the shutdown timeout and a forced shutdown.
    ///
    /// - The run's own token cancelled (its handle's `stop` or `restart`):
    ///   the stop begins at once.
    /// - The governor shutting down: the stop begins once every started
    ///   service that depends on this one has ended; then this service's
    ///   token is cancelled. Dependents stop before their dependencies.
    /// - When the stop begins: stop hooks run, and the shutdown timeout (if
    ///   any, as configured at that moment) starts; when it expires the run
    ///   is dropped (aborted).
    /// - A forced shutdown begins the stop (if it has not begun: token,
    ///   hooks) and drops the run at once.
    struct Watched<'a, F> {
        #[pin]
        run: F,
        shared: &'a Shared,
        slot: &'a Slot,
        global: Cancelled<'a>,
        run_stop: Cancelled<'a>,
        force: Cancelled<'a>,
        dependents: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
        stopping: bool,
        // The supervisor's cache of the governor's defaults, for the
        // shutdown timeout when the stop begins.
        defaults: &'a mut Option<(usize, Arc<Defaults>)>,
        timeout: Option<Duration>,
        deadline: Option<BoxSleep>,
        // A function rather than the value: one word in every supervisor.
        aborted: fn() -> Outcome,
    }
}

impl<'a, F> Watched<'a, F> {
    fn new(
        run: F,
        shared: &'a Shared,
        slot: &'a Slot,
        run_token: &'a StopSource,
        defaults: &'a mut Option<(usize, Arc<Defaults>)>,
        aborted: fn() -> Outcome,
    ) -> Self {
        Watched {
            run,
            shared,
            slot,
            global: shared.token.cancelled(),
            run_stop: run_token.cancelled(),
            force: shared.force.cancelled(),
            dependents: None,
            stopping: false,
            defaults,
            timeout: None,
            deadline: None,
            aborted,
        }
    }
}

impl<F: Future<Output = Outcome>> Future for Watched<'_, F> {
    /// The outcome, whether the run was cut off, and the runtime's time
    /// if this poll read it (when the stop began in the poll that ended
    /// the run, the end needs no second clock read).
    type Output = (Outcome, bool, Option<Duration>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // While nothing asks this run to stop (three atomic loads), poll it
        // first, and park on the stop tokens only if it is still pending:
        // a run that ends at once (a quick restart) never takes their locks.
        let mut run_polled = false;
        if !*this.stopping
            && !this.force.is_cancelled()
            && !this.run_stop.is_cancelled()
            && !this.global.is_cancelled()
        {
            if let Poll::Ready(outcome) = this.run.as_mut().poll(cx) {
                let now = begin_stop_asked_meanwhile(
                    this.stopping,
                    this.run_stop,
                    this.shared,
                    this.slot,
                );
                return Poll::Ready((outcome, false, now));
            }
            run_polled = true;
        }
        if this.force.is_cancelled() {
            let mut now = None;
            if !*this.stopping {
                // Its stop had not begun (e.g. it still waited for its
                // dependents): begin it now, so that the run is cancelled
                // and its hooks called once, as on every other path, and
                // a blocking run that heeds its token ends.
                *this.stopping = true;
                let at = this.shared.runtime.now();
                this.slot.begin_stop(at, true);
                now = Some(at);
            }
            return Poll::Ready(((this.aborted)(), true, now));
        }
        let mut now = None;
        if !*this.stopping {
            let mut for_good = false;
            let mut begin = Pin::new(&mut *this.run_stop).poll(cx).is_ready();
            if !begin && Pin::new(&mut *this.global).poll(cx).is_ready() {
                let dependents_ended = match this.dependents {
                    Some(waiting) => waiting.as_mut().poll(cx).is_ready(),
                    None => {
                        let dependents = this.slot.dependents();
                        // No dependent (the common case): nothing to wait
                        // for, nothing to allocate.
                        dependents.is_empty()
                            || this
                                .dependents
                                .insert(Box::pin(all_ended(dependents)))
                                .as_mut()
                                .poll(cx)
                                .is_ready()
                    }
                };
                if dependents_ended {
                    for_good = true;
                    begin = true;
                }
            }
            if begin {
                *this.stopping = true;
                let at = this.shared.runtime.now();
                let own = this.slot.begin_stop(at, for_good);
                now = Some(at);
                *this.timeout =
                    own.or_else(|| this.shared.defaults(this.defaults).shutdown_timeout);
                if let Some(timeout) = *this.timeout {
                    *this.deadline = Some(this.shared.runtime.sleep(timeout));
                }
                run_polled = false; // the stop began since: poll it again
            }
        }
        if !run_polled {
            if let Poll::Ready(outcome) = this.run.poll(cx) {
                let late = begin_stop_asked_meanwhile(
                    this.stopping,
                    this.run_stop,
                    this.shared,
                    this.slot,
                );
                return Poll::Ready((outcome, false, now.or(late)));
            }
        }
        if let Some(deadline) = this.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                this.shared.emit(|| Event::StopTimedOut {
                    service: this.slot.name.clone(),
                    timeout: this.timeout.unwrap_or_default(),
                });
                return Poll::Ready(((this.aborted)(), true, now));
            }
        }
        // A forced shutdown always follows the global token's
        // cancellation, whose wake-up brings this back here first: park on
        // the force token only once that has happened, or once this run is
        // stopping (it may no longer be parked on the global token). Idle
        // services thus cost the force token nothing.
        if (*this.stopping || this.global.is_cancelled())
            && Pin::new(&mut *this.force).poll(cx).is_ready()
        {
            cx.waker().wake_by_ref(); // forced meanwhile: abort at the next poll
        }
        Poll::Pending
    }
}

/// A run that ends in the poll during which its own token was cancelled
/// (by another thread, or by the run itself through its handle) saw its
/// stop: that stop begins now, as on every other path — recorded, its
/// hooks called once. Returns the time read, if it began.
fn begin_stop_asked_meanwhile(
    stopping: &mut bool,
    run_stop: &Cancelled<'_>,
    shared: &Shared,
    slot: &Slot,
) -> Option<Duration> {
    if *stopping || !run_stop.is_cancelled() {
        return None;
    }
    *stopping = true;
    let at = shared.runtime.now();
    slot.begin_stop(at, false);
    Some(at)
}

pin_project_lite::pin_project! {
    /// `fut`, entered into `span` (if any subscriber records it) whenever
    /// it is polled or dropped (as `tracing`'s `Instrumented`, but
    /// borrowing the supervisor's span
    /// instead of holding a clone of it per run).
    struct InSpan<'a, F> {
        #[pin]
        fut: Option<F>,
        span: Option<&'a tracing::Span>,
    }

    impl<'a, F> PinnedDrop for InSpan<'a, F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let _entered = this.span.map(tracing::Span::enter);
            this.fut.set(None);
        }
    }
}

impl<'a, F> InSpan<'a, F> {
    fn new(fut: F, span: Option<&'a tracing::Span>) -> Self {
        InSpan {
            fut: Some(fut),
            span,
        }
    }
}

impl<F: Future> Future for InSpan<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.span.map(tracing::Span::enter);
        match this.fut.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => Poll::Pending,
        }
    }
}

/// Completes once every slot in `slots` has ended for good, or is parked
/// awaiting its governor's shutdown from inside after its own stop began
/// (its dependents are done, and it has nothing left to do but return
/// once the others, this one included, have stopped).
async fn all_ended(slots: Vec<Arc<Slot>>) {
    for slot in &slots {
        slot.watch(|view| (view.ended || (view.waiting_inside && view.stopped)).then_some(()))
            .await;
    }
}

/// Yields once to the executor.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The governor and the service (their addresses) whose supervisor is
/// polling the caller (or running it, for blocking services), if any.
/// Always `None` without `std`, which has no thread-locals: there, a
/// service must not await its own governor's `shutdown` (use
/// `request_shutdown`).
pub(crate) fn polled_inside() -> Option<(usize, usize)> {
    inside::current()
}

#[cfg(feature = "std")]
mod inside {
    use std::cell::Cell;

    std::thread_local! {
        /// The governor and service whose run this thread is in, if any.
        static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    }

    pub(super) struct Guard(Option<(usize, usize)>);

    impl Guard {
        pub(super) fn enter(id: (usize, usize)) -> Guard {
            Guard(CURRENT.with(|c| c.replace(Some(id))))
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }

    pub(super) fn current() -> Option<(usize, usize)> {
        CURRENT.with(Cell::get)
    }
}

#[cfg(not(feature = "std"))]
mod inside {
    pub(super) struct Guard;

    impl Guard {
        pub(super) fn enter(_id: (usize, usize)) -> Guard {
            Guard
        }
    }

    pub(super) fn current() -> Option<(usize, usize)> {
        None
    }
}
