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
use crate::governor::{Defaults, Shared};
use crate::outcome::Outcome;
use crate::propagation::{self, GroupClaim, Holds};
use crate::record::{drop_user_value, AfterRun, BegunRun, EndForGood, Record, StartSettings};
use crate::report::ShutdownCause;
use crate::restart::{Decision, Escalation, RestartHistory, RestartPolicy};
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
///
/// # Layout
///
/// This future is most of what an idle service holds, and what it holds
/// across the run's await (the idle state) is only what each run needs:
/// the run watcher (with the service's own future inside), the run's
/// token and start, and the state kept from run to run ([`Kept`]). A
/// local kept across more than one await is given a slot of its own that
/// no other state shares, so the loop awaits only the run's begin
/// ([`begin_gated`]), the run, and what follows a run ([`after_run`], then
/// [`restart_after`]), each a future whose locals share the run's space;
/// what lives across the loop is in [`Kept`]. The waits only some services
/// take are boxed when taken, and the dependencies and restart history
/// are boxed once there are any. Its size for an idle service is pinned
/// by the `layout` test.
pub(crate) fn supervise<R: Runner>(
    runner: R,
    inputs: SupervisorInputs,
) -> impl Future<Output = ()> + Send + 'static {
    let SupervisorInputs {
        shared,
        record,
        deps,
        settings,
    } = inputs;
    let deps = (!deps.is_empty()).then(|| {
        Box::new(Deps {
            followed: propagation::followed(&record, &deps),
            waiting_for: deps,
        })
    });
    let StartSettings {
        restart,
        critical,
        notify_ready,
    } = settings;
    // Counted out when it is dropped: when the supervisor ends, and also
    // when the runtime drops the task before its first poll (the block
    // owns it from the start).
    let mut kept = Kept {
        live: Live {
            shared,
            record,
            restart,
            critical,
            notify_ready,
            finished: false,
        },
        runner,
        span: None,
        history: None,
        defaults: None,
        deps,
    };
    async move {
        // A block: the list waited for, and the wait's result, take no
        // space across the runs.
        {
            let waiting_for = kept.take_waiting_for();
            if !waiting_for.is_empty() {
                let (shared, record) = (&kept.live.shared, &kept.live.record);
                shared.emit(|| Event::Starting {
                    service: record.name.clone(),
                });
                let never_ran = match wait_for_dependencies(shared, record, &waiting_for).await {
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
                    // Forgotten (if asked) before `wait` returns; then its
                    // one outcome, although it never ran.
                    kept.live.forget_if_asked();
                    record.end_unrun(outcome);
                    kept.live.finished = true;
                    propagation::stop_bound(shared, record);
                    kept.end();
                    return;
                }
            }
        }
        let start = {
            let (shared, record) = (&kept.live.shared, &kept.live.record);
            // Kept only if some subscriber records it: a disabled span is 40 bytes
            // of every idle supervisor for nothing.
            kept.span = service_span(&record.name);
            record.set_in_span(kept.span.is_some());
            shared.runtime.now()
        };
        // When the next run begins, if known without reading the clock again
        // (a clock read is a good part of a quick restart): at the start, and
        // after a zero-delay restart, which only yields once; and the token
        // handed from a run that was not asked to stop to the next one.
        // Moved into each begin, so that it takes no space across a run.
        let mut next = Next {
            reuse: None,
            begins: Some(start),
        };
        loop {
            let Some((begun, began, reloads_seen)) =
                begin_gated(&kept.live.shared, &kept.live.record, kept.followed(), next).await
            else {
                // Asked to stop while held or waiting for what it follows.
                if kept.live.record.runs() == 0 {
                    kept.live.forget_if_asked();
                    kept.live.record.end_unrun(Outcome::NotRun);
                    kept.live.finished = true;
                }
                break;
            };
            let (run_token, ctx, watchdog) = open_run(&kept, begun, began, reloads_seen);
            let Kept {
                live,
                runner,
                span,
                defaults,
                ..
            } = &mut kept;
            let (shared, record) = (&live.shared, &live.record);
            let end = Watched::new(
                WithTasks::new(InSpan::new(runner.run_once(ctx), span.as_deref()), record),
                shared,
                record,
                &run_token,
                defaults,
                R::ABORTED,
                watchdog,
            )
            .await;
            let Some(restart) = after_run(&mut kept, run_token, began, end).await else {
                break;
            };
            match restart_after(&kept.live, restart).await {
                Some(then) => next = then,
                None => break,
            }
        }
        // Its BindsTo dependents end with it (`propagation.rs`).
        propagation::stop_bound(&kept.live.shared, &kept.live.record);
        kept.end();
    }
}

/// What the next run begins with (see [`begin_gated`]).
struct Next {
    /// The token of a run that was not asked to stop, to reuse.
    reuse: Option<crate::token::StopSource>,
    /// When it begins, if known without reading the clock.
    begins: Option<Duration>,
}

/// A run has begun (at `began`, after reload `reloads_seen`): tells it
/// (`RunStarted`, and `Ready` unless the service notifies its readiness
/// itself), arms its watchdog if it has one, and returns its token, its
/// context and its watchdog timeout. A plain function, so that none of
/// what it reads is kept across the run.
fn open_run<R>(
    kept: &Kept<R>,
    begun: BegunRun,
    began: Duration,
    reloads_seen: usize,
) -> (crate::token::StopSource, ServiceCtx, Option<Duration>) {
    let BegunRun {
        stop: run_token,
        run,
        liveness,
    } = begun;
    let (shared, record) = (&kept.live.shared, &kept.live.record);
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
    if !kept.live.notify_ready {
        shared.emit(|| Event::Ready {
            service: record.name.clone(),
        });
    }
    let ctx = ServiceCtx::new(
        shared.clone(),
        record.clone(),
        crate::context::CtxStop::Run(run_token.token().clone()),
        run,
        reloads_seen,
    );
    let watchdog = heartbeat::arm(record, run, began, liveness);
    (run_token, ctx, watchdog)
}

/// A service's dependencies, boxed in its supervisor once it has any.
struct Deps {
    /// Those it waits for before its first run (emptied then).
    waiting_for: Vec<Arc<Record>>,
    /// Those it follows (PartOf, BindsTo): each run waits until they are
    /// ready (`propagation.rs`).
    followed: Vec<Arc<Record>>,
}

/// What a supervisor keeps from run to run (see [`supervise`]'s Layout).
///
/// The service value (`runner`) comes first: it is dropped before `live`,
/// while the service still counts as live, also when the runtime drops
/// the task.
struct Kept<R> {
    runner: R,
    /// Counts the service as live until it is dropped; with its settings.
    live: Live,
    /// The span its runs are polled in, if some subscriber records it.
    span: Option<Box<tracing::Span>>,
    /// Its restarts, once a run's end was decided by its policy: boxed,
    /// and made then (most services never end a run before the shutdown).
    history: Option<Box<RestartHistory>>,
    /// The supervisor's cache of the governor's defaults.
    defaults: Option<(usize, Arc<Defaults>)>,
    /// Its dependencies, boxed, once it has any (most have none).
    deps: Option<Box<Deps>>,
}

impl<R> Kept<R> {
    /// The dependencies it waits for before its first run, taken out
    /// (empty for most, and ever after).
    fn take_waiting_for(&mut self) -> Vec<Arc<Record>> {
        self.deps
            .as_mut()
            .map_or_else(Vec::new, |deps| core::mem::take(&mut deps.waiting_for))
    }

    /// The dependencies it follows: each run waits until they are ready.
    fn followed(&self) -> &[Arc<Record>] {
        self.deps.as_deref().map_or(&[], |deps| &deps.followed)
    }

    /// The end for good: the service value is dropped while the service
    /// still counts as live (`live` is dropped after it): `shutdown()` and
    /// `wait_for_shutdown()` return only once it is gone.
    fn end(self) {
        let Kept { runner, live, .. } = self;
        drop_user_value(&live.record.name, "service value", runner);
        drop(live);
    }
}

/// What follows a run: its outcome recorded and told, the decision (done,
/// restart, give up), the stops a restart propagates, and the restart's
/// delay. `Some` (the token to reuse, when the next run begins if known)
/// to run again, `None` to end.
///
/// An `async fn` of its own so that its locals share the space of the
/// run's (see [`supervise`]'s Layout), rather than a slot each in every
/// idle supervisor.
async fn after_run<R: Runner>(
    kept: &mut Kept<R>,
    run_token: crate::token::StopSource,
    began: Duration,
    end: WatchedEnd,
) -> Option<Restart> {
    // A run cut off leaves its tasks: aborted with it, named in its
    // report, and waited for (they end at their next poll). A run
    // that ended by itself has waited for its tasks already.
    let aborted_tasks = if end.timed_out {
        Box::pin(abort_tasks(&kept.live.record)).await
    } else {
        Vec::new()
    };
    settle(kept, run_token, began, end, aborted_tasks)
}

/// A restart [`after_run`] decided: the stops it propagates (those that
/// restart with it stop first, held until it begins again), then its
/// delay. `Some` (the token to reuse, and when the next run begins if
/// known) to run again, `None` if asked to stop meanwhile.
///
/// Apart from [`after_run`] so that neither keeps the other's locals:
/// both share the run's space (see [`supervise`]'s Layout).
async fn restart_after(live: &Live, restart: Restart) -> Option<Next> {
    let Restart {
        run_token,
        delay,
        now,
        propagated,
        group,
    } = restart;
    let (shared, record) = (&live.shared, &live.record);
    // Those that restart with it stop first, held until
    // it begins again (released when `holds` is dropped).
    let mut holds = Holds::default();
    // A service nothing depends on (most) has no follower to stop: no
    // boxed wait, no walk of the dependency graph per restart.
    if !propagated && record.has_dependents() {
        Box::pin(propagation::stop_followers(shared, record, &mut holds)).await;
    }
    if let Some(strategy) = group {
        Box::pin(propagation::stop_group(
            shared, record, strategy, &mut holds,
        ))
        .await;
    }
    // The delay counts from the run's end, as always: the
    // stops above took part of it.
    let waited = !holds.is_empty();
    let delay = if waited {
        delay.saturating_sub(shared.runtime.now().saturating_sub(now))
    } else {
        delay
    };
    if !wait_to_restart(shared, record, delay).await {
        return None;
    }
    drop(holds);
    Some(Next {
        reuse: Some(run_token),
        begins: (delay.is_zero() && !waited).then_some(now),
    })
}

/// A restart [`settle`] decided: what [`restart_after`] needs.
struct Restart {
    /// The run's token, reused by the next run.
    run_token: crate::token::StopSource,
    delay: Duration,
    /// When the run ended.
    now: Duration,
    /// The restart was a propagation's: it propagates no further.
    propagated: bool,
    /// It is a group restart, with this strategy.
    group: Option<propagation::Strategy>,
}

/// The decision after a run (done, restart, give up), recorded and told:
/// its outcome in the record, its events, its end for good. `Some` to
/// restart. Not `async`: nothing here is kept across an await.
fn settle<R: Runner>(
    kept: &mut Kept<R>,
    run_token: crate::token::StopSource,
    began: Duration,
    end: WatchedEnd,
    aborted_tasks: Vec<Arc<str>>,
) -> Option<Restart> {
    let WatchedEnd {
        outcome,
        timed_out,
        read_at,
    } = end;
    let Kept {
        live,
        runner,
        history,
        defaults,
        ..
    } = kept;
    let shared = &live.shared;
    let record = &live.record;
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
            live.restart = own.map(Box::new);
        }
        let policy = match &live.restart {
            Some(own) => **own,
            None => shared.defaults(defaults).restart,
        };
        history
            .get_or_insert_with(|| Box::new(RestartHistory::new(seed_for(&record.name, began))))
            .decide(&policy, &outcome, now, now.saturating_sub(began))
    };
    // A restart its policy decided may be a group restart
    // (`propagation.rs`), counted against the group's limit.
    let mut group = None;
    let decision = match decision {
        Decision::Restart { .. } if !restart_now => {
            match propagation::claim_group_restart(shared, &outcome, now) {
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
        Decision::Done if !live.critical || asked_to_stop => AfterRun::Finish,
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
            Some(Restart {
                run_token,
                delay,
                now,
                propagated,
                group,
            })
        }
        Decision::Done => {
            if live.critical && !asked_to_stop {
                shared.request_shutdown(ShutdownCause::Critical {
                    service: record.name.clone(),
                });
            }
            None
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
            } else if live.critical {
                shared.request_shutdown(ShutdownCause::Critical {
                    service: record.name.clone(),
                });
            }
            None
        }
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

/// A seed for restart jitter: different per service and per start (mixed
/// with when the first run its policy decided on began).
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
/// `None` if asked to stop meanwhile. Returns the run, when it began and
/// the latest reload before it began.
async fn begin_gated(
    shared: &Shared,
    record: &Record,
    followed: &[Arc<Record>],
    next: Next,
) -> Option<(BegunRun, Duration, usize)> {
    let Next {
        mut reuse,
        begins: mut began,
    } = next;
    let mut gated = !followed.is_empty();
    loop {
        if gated {
            // Boxed: rare (a service that follows others, or is held),
            // and this wait would otherwise take its space in every
            // supervisor (`supervise`'s Layout).
            if !Box::pin(propagation::gate(shared, record, followed)).await {
                return None;
            }
            began = None;
        }
        let at = began.unwrap_or_else(|| shared.runtime.now());
        // Read before `begin_run` can mark the run ready: whoever sees it
        // ready and then reloads asks for a later reload, which the run's
        // `reloaded` hands out (its context, made after `Ready` is told,
        // would be too late to read it).
        let reloads_seen = shared.reload_generation();
        match record.begin_run(reuse.take(), at) {
            Some(run) => return Some((run, at, reloads_seen)),
            None => gated = true,
        }
    }
}

/// Waits out a restart delay; `false` if asked to stop meanwhile.
///
/// The rare waits that follow a run (a cut-off run's tasks, a restart's
/// propagation, a restart's delay) are boxed where they are awaited: each
/// would otherwise take its space in every supervisor, idle or not.
async fn wait_to_restart(shared: &Shared, record: &Record, delay: Duration) -> bool {
    if delay.is_zero() {
        // A service that ends at once must not starve the executor.
        YieldNow(false).await;
        return !(record.stopped() || shared.token.stopping());
    }
    // Boxed: a delayed restart is rare beside a run, and this wait would
    // otherwise take its space in every supervisor (`supervise`'s Layout).
    Box::pin(race_stop(shared, record, shared.runtime.sleep(delay)))
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
///
/// It also keeps the service's settings (`StartSettings`, taken apart):
/// their flags share the padding beside `finished`.
struct Live {
    shared: Arc<Shared>,
    record: Arc<Record>,
    /// Its own restart policy (`None`: the governor's default); read
    /// again when it changes.
    restart: Option<Box<RestartPolicy>>,
    critical: bool,
    notify_ready: bool,
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
