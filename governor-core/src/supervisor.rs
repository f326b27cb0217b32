//! The task that runs one service: run, record the outcome, restart by
//! policy, fire stop hooks when asked to stop, and count as live until the
//! service has ended for good.
//!
//! The supervising loop is here; how one run is made is in
//! `supervisor/runner.rs` (async or blocking), and how one run is watched
//! (shutdown order, stop hooks, timeout, forced shutdown) in
//! `supervisor/watched.rs`.
//!
//! Over 400 lines because the loop is one piece that must be read in
//! order (wait for dependencies, run, decide, publish, sleep, again) and
//! each step says why it is where it is; splitting it would hide that
//! order. `Live`, the guard that counts the service out however the loop
//! ends, stays beside it for the same reason.
//!
//! # Rules
//!
//! 1. One supervisor per launch; it counts its service as live (`Live`)
//!    from the start's step that launched it until it is dropped, whether
//!    it ended or the runtime dropped its task, polled or not: exactly
//!    one `service_ended` per launch.
//! 2. A run's outcome, and a give-up, are recorded in the record
//!    (`end_run`, `record_end`) before the events that tell them are
//!    emitted; the end for good is published to waiters (`publish_end`)
//!    only after those events.
//! 3. No panic escapes: runs are caught by the runners, hooks and user
//!    values' `Drop` by the record and `drop_user_value`; the service value
//!    is dropped while the service still counts as live.
//! 4. It holds no lock across an `.await`; every lock it takes is the
//!    record's or the governor's, briefly, through their methods.

mod heartbeat;
mod runner;
mod watched;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::context::ServiceCtx;
use crate::event::Event;
use crate::governor::Shared;
use crate::outcome::Outcome;
use crate::propagation::{self, GroupClaim, Holds};
use crate::record::{drop_user_value, AfterRun, BegunRun, EndForGood, Record};
use crate::report::ShutdownCause;
use crate::restart::{Decision, Escalation, RestartHistory};
use crate::supervisor_task::SupervisorInputs;
use crate::tasks::WithTasks;

pub(crate) use runner::{AsyncRunner, Runner};
#[cfg(feature = "std")]
pub(crate) use runner::{BlockingRunner, FreshBlockingRunner};
use watched::{Watched, WatchedEnd};

/// Supervises one service from its start to its end for good: waits for
/// its dependencies, runs it, records each outcome, restarts it by policy,
/// escalates, and keeps the shutdown order (see [`Watched`]).
///
/// A function returning an `async` block rather than an `async fn`: the
/// block uses what it captures in place, where an `async fn` kept its
/// arguments twice (as given, and rebound), in every idle supervisor.
// `shared` and `record` are references into `live` (below) where they were
// owned `Arc`s; the body borrows them as it did then.
#[allow(clippy::needless_borrow)]
pub(crate) fn supervise<R: Runner>(
    runner: R,
    inputs: SupervisorInputs,
) -> impl Future<Output = ()> + Send + 'static {
    let SupervisorInputs {
        shared,
        record,
        deps,
        settings: mut config,
    } = inputs;
    let mut runner = runner;
    // Counted out when it is dropped: when the supervisor ends, and also
    // when the runtime drops the task before its first poll (the block
    // owns it from the start).
    let mut live = Live {
        shared,
        record,
        finished: false,
    };
    async move {
        let live = &mut live;
        let shared = &live.shared;
        let record = &live.record;
        if !deps.is_empty() {
            shared.emit(|| Event::Starting {
                service: record.name.clone(),
            });
            let never_ran = match wait_for_dependencies(&shared, &record, &deps).await {
                Ok(()) => None,
                // Asked to stop while waiting.
                Err(None) => Some(Outcome::NotRun),
                Err(Some(dependency)) => {
                    shared.emit(|| Event::DependencyFailed {
                        service: record.name.clone(),
                        dependency: dependency.clone(),
                    });
                    Some(Outcome::DependencyFailed(dependency))
                }
            };
            if let Some(outcome) = never_ran {
                live.forget_if_asked(); // before `wait` returns
                                        // Its one outcome, although it never ran.
                record.end_unrun(outcome);
                live.finished = true;
                propagation::stop_bound(shared, record);
                // Dropped while the service still counts as live.
                drop_user_value(&record.name, "service value", runner);
                return;
            }
        }
        // Kept only if some subscriber records it: a disabled span is 40 bytes
        // of every idle supervisor for nothing.
        let span = service_span(&record.name);
        record.set_in_span(span.is_some());
        let start = shared.runtime.now();
        let mut history = RestartHistory::new(seed_for(&record.name, start));
        // When the next run begins, if known without reading the clock again
        // (a clock read is a good part of a quick restart): at the start, and
        // after a zero-delay restart, which only yields once.
        let mut next_begins = Some(start);
        let mut defaults = None;
        // Handed from a run that was not asked to stop to the next one.
        let mut reusable_token = None;
        // The dependencies it follows (PartOf, BindsTo): each run waits
        // until they are ready (`propagation.rs`). Empty for most.
        let followed = propagation::followed(&record, &deps);
        drop(deps);
        loop {
            let Some((
                BegunRun {
                    stop: run_token,
                    run,
                    liveness,
                },
                began,
            )) = begin_gated(
                &shared,
                &record,
                &followed,
                reusable_token.take(),
                next_begins.take(),
            )
            .await
            else {
                // Asked to stop while held or waiting for what it follows.
                if record.runs() == 0 {
                    live.forget_if_asked();
                    record.end_unrun(Outcome::NotRun);
                    live.finished = true;
                }
                break;
            };
            shared.emit(|| Event::RunStarted {
                service: record.name.clone(),
                run,
            });
            if liveness.health_reset {
                shared.emit(|| Event::HealthChanged {
                    service: record.name.clone(),
                    health: crate::health::Health::Healthy,
                });
            }
            if !config.notify_ready {
                shared.emit(|| Event::Ready {
                    service: record.name.clone(),
                });
            }
            let ctx = ServiceCtx::new(
                shared.clone(),
                record.clone(),
                crate::context::CtxStop::Run(run_token.token().clone()),
                run,
            );
            let WatchedEnd {
                outcome,
                timed_out,
                read_at,
            } = Watched::new(
                WithTasks::new(InSpan::new(runner.run_once(ctx), span.as_deref()), &record),
                &shared,
                &record,
                &run_token,
                &mut defaults,
                || R::ABORTED,
                // `liveness` moved in: not kept across the await.
                heartbeat::arm(&record, run, began, liveness),
            )
            .await;
            // A run cut off leaves its tasks: aborted with it, named in its
            // report, and waited for (they end at their next poll). A run
            // that ended by itself has waited for its tasks already.
            let aborted_tasks = if timed_out {
                abort_tasks(&record).await
            } else {
                Vec::new()
            };
            let now = read_at.unwrap_or_else(|| shared.runtime.now());
            let asked_to_stop = record.stopped() || shared.token.stopping();
            // Its token stopped without a stop for good: its handle's
            // `restart`, or its own tasks (a failure, or tasks left when
            // it returned), which go by the policy; so does a hung run,
            // whose token its watchdog stopped.
            // `propagated`: that restart was a propagation's
            // (`propagation.rs`), which propagates no further.
            let (requested, propagated) = if !asked_to_stop && run_token.stopping() {
                record.restart_requested()
            } else {
                (false, false)
            };
            let restart_now = requested && outcome != Outcome::Hung;
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
            } else if outcome.is_aborted() || !runner.can_run_again() {
                // An abandoned blocking run keeps its service value on its
                // thread (unless added with `add_blocking_with`).
                Decision::Done
            } else {
                // The settings as they are now: the service's own or the
                // defaults may have changed while this run ran.
                if let Some(own) = record.changed_restart_policy() {
                    config.restart = own.map(Box::new);
                }
                let policy = match &config.restart {
                    Some(own) => **own,
                    None => shared.defaults(&mut defaults).restart,
                };
                history.decide(&policy, &outcome, now, now.saturating_sub(began))
            };
            // A restart its policy decided may be a group restart
            // (`propagation.rs`), counted against the group's limit.
            let mut group = None;
            let decision = match decision {
                Decision::Restart { .. } if !restart_now => {
                    match propagation::claim_group_restart(&shared, &outcome, now) {
                        GroupClaim::Alone => decision,
                        GroupClaim::Claimed(strategy) => {
                            group = Some(strategy);
                            decision
                        }
                        GroupClaim::GiveUp => Decision::Escalate(Escalation::Shutdown),
                    }
                }
                _ => decision,
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
            record.end_run(outcome.clone(), now, timed_out, aborted_tasks, next);
            live.finished = next == AfterRun::Finish;
            // Emitted once the record says so: a hook that reads the report
            // sees the run it is told about.
            if let Outcome::Panicked(message) = &outcome {
                shared.emit(|| Event::Panicked {
                    service: record.name.clone(),
                    message: message.clone(),
                });
            }
            if timed_out {
                shared.emit(|| Event::Aborted {
                    service: record.name.clone(),
                });
            }
            shared.emit(|| Event::RunEnded {
                service: record.name.clone(),
                outcome,
            });
            if live.finished {
                // Its end is told to `wait()` once its events are out.
                record.publish_end();
            }
            match decision {
                Decision::Restart {
                    delay,
                    attempt,
                    trouble,
                } => {
                    if !restart_now {
                        shared.emit(|| Event::RestartScheduled {
                            service: record.name.clone(),
                            delay,
                            attempt,
                            trouble,
                        });
                    }
                    reusable_token = Some(run_token);
                    // Those that restart with it stop first, held until
                    // it begins again (released when `holds` is dropped).
                    let mut holds = Holds::default();
                    if !propagated {
                        propagation::stop_followers(&shared, &record, &mut holds).await;
                    }
                    if let Some(strategy) = group {
                        propagation::stop_group(&shared, &record, strategy, &mut holds).await;
                    }
                    // The delay counts from the run's end, as always: the
                    // stops above took part of it.
                    let waited = !holds.is_empty();
                    let delay = if waited {
                        delay.saturating_sub(shared.runtime.now().saturating_sub(now))
                    } else {
                        delay
                    };
                    if !wait_to_restart(&shared, &record, delay).await {
                        break;
                    }
                    drop(holds);
                    if delay.is_zero() && !waited {
                        next_begins = Some(now);
                    }
                }
                Decision::Done => {
                    if config.critical && !asked_to_stop {
                        shared.request_shutdown(ShutdownCause::Critical {
                            service: record.name.clone(),
                        });
                    }
                    break;
                }
                Decision::Escalate(escalation) => {
                    // Recorded before it is told.
                    live.forget_if_asked();
                    record.record_end(EndForGood::GaveUp);
                    live.finished = true;
                    shared.emit(|| Event::GaveUp {
                        service: record.name.clone(),
                        restarts: record.report(now).restarts,
                    });
                    record.publish_end();
                    if escalation == Escalation::Shutdown {
                        shared.request_shutdown(ShutdownCause::Escalated {
                            service: record.name.clone(),
                        });
                    } else if config.critical {
                        shared.request_shutdown(ShutdownCause::Critical {
                            service: record.name.clone(),
                        });
                    }
                    break;
                }
            }
        }
        // Its BindsTo dependents end with it (`propagation.rs`).
        propagation::stop_bound(shared, record);
        // The service value is dropped while the service still counts as
        // live (`live` is dropped after it): `shutdown()` and
        // `wait_for_shutdown()` return only once it is gone.
        drop_user_value(&record.name, "service value", runner);
    }
}

/// Aborts the tasks of a run that was cut off, waits until they have
/// ended, and returns their names.
async fn abort_tasks(record: &Record) -> Vec<Arc<str>> {
    let Some(scope) = record.close_run_tasks() else {
        return Vec::new();
    };
    let names = scope.abort_all();
    if !names.is_empty() {
        tracing::warn!(service = %record.name, tasks = ?names, "tasks aborted with their run");
    }
    scope.all_ended().await;
    names
}

/// The span a service's runs are entered into, boxed, if any subscriber
/// records it.
fn service_span(name: &str) -> Option<Box<tracing::Span>> {
    let span = tracing::info_span!(target: crate::targets::SERVICE, "service", name = %name);
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
    record: &Record,
    deps: &[Arc<Record>],
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
        let stopped = race_stop(shared, record, ready).await;
        match stopped {
            Some(Ok(())) => {}
            Some(Err(())) => return Err(Some(dep.name.clone())),
            None => return Err(None),
        }
    }
    Ok(())
}

/// Begins a run (at `began` if known, else now), first waiting at its
/// gate (`propagation::gate`) if it follows dependencies or is held:
/// `None` if asked to stop meanwhile. Returns the run and when it began.
async fn begin_gated(
    shared: &Shared,
    record: &Record,
    followed: &[Arc<Record>],
    mut reuse: Option<crate::token::StopSource>,
    mut began: Option<Duration>,
) -> Option<(BegunRun, Duration)> {
    let mut gated = !followed.is_empty();
    loop {
        if gated {
            if !propagation::gate(shared, record, followed).await {
                return None;
            }
            began = None;
        }
        let at = began.unwrap_or_else(|| shared.runtime.now());
        match record.begin_run(reuse.take(), at) {
            Some(run) => return Some((run, at)),
            None => gated = true,
        }
    }
}

/// Waits out a restart delay; `false` if asked to stop meanwhile.
async fn wait_to_restart(shared: &Shared, record: &Record, delay: Duration) -> bool {
    if delay.is_zero() {
        // A service that ends at once must not starve the executor.
        YieldNow(false).await;
        return !(record.stopped() || shared.token.stopping());
    }
    race_stop(shared, record, shared.runtime.sleep(delay))
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
pub(crate) async fn race_stop<F: Future>(
    shared: &Shared,
    record: &Record,
    fut: F,
) -> Option<F::Output> {
    let global = shared.token.wait_for_stop();
    let own = record.watch(|view| view.stopped.then_some(()));
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
    record: Arc<Record>,
    /// The record says ended already.
    finished: bool,
}

impl Live {
    /// The service is ending for good: forgets it if it asked for that
    /// (or is being removed), before its end wakes its watchers.
    fn forget_if_asked(&self) {
        if self.record.should_forget(self.shared.token.stopping()) {
            self.shared.forget(&self.record);
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // The runtime dropped the supervisor mid-run: no task outlives
        // the run (they end at their next poll, or with the runtime).
        if !self.finished {
            if let Some(scope) = self.record.close_run_tasks() {
                scope.abort_all();
            }
        }
        if !self.finished {
            self.forget_if_asked();
            self.record.finish(EndForGood::Ended);
        }
        self.shared.service_ended(&self.record);
    }
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
