//! The run watcher ([`Watched`]): wraps one run and keeps, while it
//! runs, the rules of stopping it: the shutdown order (dependents first),
//! stop hooks fired once when its stop begins, the shutdown timeout, a
//! forced shutdown, and its heartbeat watchdog (`supervisor/heartbeat.rs`)
//! if it has one. It never runs user code under a lock: hooks are
//! called by the record after it unlocks (`Record::begin_stop`).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use crate::event::Event;
use crate::governor::{Defaults, Shared};
use crate::outcome::Outcome;
use crate::record::{Record, StopScope};
use crate::runtime::BoxSleep;
use crate::token::{StopSource, WaitForStop};

use super::heartbeat::{hung_or, poll_hung, Watch};

pin_project_lite::pin_project! {
    /// Watches one run: keeps the shutdown order, fires the stop hooks,
    /// enforces the shutdown timeout and a forced shutdown.
    ///
    /// - The run's own token stopped (its handle's `stop` or `restart`):
    ///   the stop begins at once.
    /// - The governor shutting down: the stop begins once every started
    ///   service that depends on this one has ended; then this service's
    ///   token is stopped. Dependents stop before their dependencies.
    /// - When the stop begins: stop hooks run, and the shutdown timeout (if
    ///   any, as configured at that moment) starts; when it expires the run
    ///   is dropped (aborted).
    /// - A forced shutdown begins the stop (if it has not begun: token,
    ///   hooks) and drops the run at once.
    /// - Its watchdog (if any) declaring the run hung stops its token and
    ///   begins its stop (hooks, then its shutdown timeout, or the
    ///   watchdog's timeout if it has none); it ends as `Outcome::Hung`.
    pub(super) struct Watched<'a, F> {
        #[pin]
        run: F,
        shared: &'a Shared,
        record: &'a Record,
        global: WaitForStop<'a>,
        run_stop: WaitForStop<'a>,
        // The waker `run_stop` and `global` hold (both registered with it,
        // neither stopped since): a later poll with a waker that wakes the
        // same task need not lock their nodes again to re-register. Their
        // registrations stay until the node is stopped (only a stop takes
        // a node's waiters), and a stop wakes this waker.
        parked: Option<Waker>,
        // What only a stop or a watchdog needs (the force token's wait,
        // the wait for dependents, the timeout, the deadline): boxed, and
        // made once the run's stop begins or the governor's shutdown is
        // seen (at once for a run with a watchdog), so that an idle run
        // pays one word for it.
        stop: Option<Box<StopState<'a>>>,
        stopping: bool,
        // The supervisor's cache of the governor's defaults, for the
        // shutdown timeout when the stop begins.
        defaults: &'a mut Option<(usize, Arc<Defaults>)>,
        // Whether a run cut off is abandoned (blocking) rather than
        // aborted: a flag rather than the outcome (or a function giving
        // it), in the padding beside `stopping`.
        abandons: bool,
        watch: Watch,
    }
}

impl<'a, F> Watched<'a, F> {
    pub(super) fn new(
        run: F,
        shared: &'a Shared,
        record: &'a Record,
        run_token: &'a StopSource,
        defaults: &'a mut Option<(usize, Arc<Defaults>)>,
        aborted: Outcome,
        watchdog: Option<Duration>,
    ) -> Self {
        Watched {
            run,
            shared,
            record,
            global: shared.token.wait_for_stop(),
            run_stop: run_token.wait_for_stop(),
            parked: None,
            stop: watchdog.map(|timeout| {
                let mut stop = StopState::new(shared);
                stop.deadline = Some(shared.runtime.sleep(timeout));
                Box::new(stop)
            }),
            stopping: false,
            defaults,
            abandons: matches!(aborted, Outcome::Abandoned),
            watch: if watchdog.is_some() {
                Watch::Watching
            } else {
                Watch::Off
            },
        }
    }
}

/// What a run's watch needs once its stop begins or the governor's
/// shutdown is seen (see `Watched::stop`).
struct StopState<'a> {
    force: WaitForStop<'a>,
    dependents: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
    timeout: Option<Duration>,
    /// The phase of the shutdown budget whose share set `timeout`, if it
    /// did (rather than the service's own timeout).
    budget_phase: Option<usize>,
    /// Once the stop began, its shutdown deadline; before, the watchdog's
    /// timer, if `Watched::watch` says so (`supervisor/heartbeat.rs`).
    deadline: Option<BoxSleep>,
}

impl<'a> StopState<'a> {
    /// The stop state in `slot`, made if it was not yet.
    fn of<'s>(slot: &'s mut Option<Box<StopState<'a>>>, shared: &'a Shared) -> &'s mut Self {
        slot.get_or_insert_with(|| Box::new(StopState::new(shared)))
    }

    fn new(shared: &'a Shared) -> Self {
        StopState {
            force: shared.force.wait_for_stop(),
            dependents: None,
            timeout: None,
            budget_phase: None,
            deadline: None,
        }
    }
}

/// How a watched run ended.
pub(crate) struct WatchedEnd {
    pub(crate) outcome: Outcome,
    /// It did not end within its shutdown timeout (or the shutdown was
    /// forced): `outcome` is the runner's aborted outcome.
    pub(crate) timed_out: bool,
    /// The runtime's time, if the poll that ended the run read it (when
    /// the stop began in that poll, the end needs no second clock read).
    pub(crate) read_at: Option<Duration>,
}

impl<F: Future<Output = Outcome>> Future for Watched<'_, F> {
    type Output = WatchedEnd;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // While nothing asks this run to stop (three atomic loads), poll it
        // first, and park on the stop tokens only if it is still pending:
        // a run that ends at once (a quick restart) never takes their locks.
        let mut run_polled = false;
        if !*this.stopping
            && !this.shared.force.stopping()
            && !this.run_stop.stopping()
            && !this.global.stopping()
        {
            if let Poll::Ready(outcome) = this.run.as_mut().poll(cx) {
                let now = begin_stop_asked_meanwhile(
                    this.stopping,
                    this.run_stop,
                    this.shared,
                    this.record,
                );
                return Poll::Ready(WatchedEnd {
                    outcome: hung_or(*this.watch, this.record, outcome),
                    timed_out: false,
                    read_at: now,
                });
            }
            run_polled = true;
        }
        if this.shared.force.stopping() {
            let mut now = None;
            if !*this.stopping {
                // Its stop had not begun (e.g. it still waited for its
                // dependents): begin it now, so that the run is cancelled
                // and its hooks called once, as on every other path, and
                // a blocking run that heeds its token ends.
                *this.stopping = true;
                let at = this.shared.runtime.now();
                this.record.begin_stop(at, StopScope::ForGood);
                now = Some(at);
            }
            return Poll::Ready(WatchedEnd {
                outcome: hung_or(*this.watch, this.record, aborted_outcome(*this.abandons)),
                timed_out: true,
                read_at: now,
            });
        }
        let mut now = None;
        // Parked already on both tokens with this task's waker, and both
        // seen not stopped before the run was polled in this poll: a stop
        // since then wakes that waker, so there is nothing to register.
        let parked = run_polled
            && this
                .parked
                .as_ref()
                .is_some_and(|parked| parked.will_wake(cx.waker()));
        if !*this.stopping {
            let mut scope = StopScope::ThisRun;
            let mut begin = !parked && Pin::new(&mut *this.run_stop).poll(cx).is_ready();
            let global_ready = !parked && !begin && Pin::new(&mut *this.global).poll(cx).is_ready();
            if !parked && !begin && !global_ready {
                // Both pending: registered with this waker.
                match this.parked {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => *this.parked = Some(cx.waker().clone()),
                }
            }
            if global_ready {
                let dependents = &mut StopState::of(this.stop, this.shared).dependents;
                let dependents_ended = match dependents {
                    Some(waiting) => waiting.as_mut().poll(cx).is_ready(),
                    None => {
                        // No dependent (the common case): nothing to wait
                        // for, nothing to allocate.
                        let records = this.record.dependents();
                        records.is_empty()
                            || dependents
                                .insert(Box::pin(all_ended(records)))
                                .as_mut()
                                .poll(cx)
                                .is_ready()
                    }
                };
                if dependents_ended {
                    scope = StopScope::ForGood;
                    begin = true;
                }
            }
            let mut hung_timeout = None;
            if !begin && *this.watch == Watch::Watching {
                // Its watchdog: a hung run's token is stopped there, and
                // its stop begins here as any other.
                let timer = &mut StopState::of(this.stop, this.shared).deadline;
                hung_timeout = poll_hung(this.watch, timer, cx, this.shared, this.record);
                begin = hung_timeout.is_some();
            }
            if begin {
                *this.stopping = true;
                let stop = StopState::of(this.stop, this.shared);
                stop.deadline = None; // the watchdog's timer, if any
                let at = this.shared.runtime.now();
                let own = this.record.begin_stop(at, scope);
                now = Some(at);
                stop.timeout = own
                    .or_else(|| this.shared.defaults(this.defaults).shutdown_timeout)
                    // A hung run always ends: bounded by its watchdog.
                    .or(hung_timeout);
                if scope == StopScope::ForGood {
                    // The shutdown budget's share caps the service's own.
                    if let Some((share, phase)) = this.shared.budget_share(this.record, at) {
                        if stop.timeout.is_none_or(|own| share < own) {
                            stop.timeout = Some(share);
                            stop.budget_phase = Some(phase);
                        }
                    }
                }
                if let Some(timeout) = stop.timeout {
                    stop.deadline = Some(this.shared.runtime.sleep(timeout));
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
                    this.record,
                );
                return Poll::Ready(WatchedEnd {
                    outcome: hung_or(*this.watch, this.record, outcome),
                    timed_out: false,
                    read_at: now.or(late),
                });
            }
        }
        let timed_out = *this.stopping
            && this
                .stop
                .as_mut()
                .and_then(|stop| stop.deadline.as_mut())
                .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
        if timed_out {
            let stop = this.stop.as_deref();
            if let Some(phase) = stop.and_then(|stop| stop.budget_phase) {
                this.shared.budget_ran_out(&this.record.name, phase);
            }
            this.shared.emit(|| Event::StopTimedOut {
                service: this.record.name.clone(),
                timeout: stop.and_then(|stop| stop.timeout).unwrap_or_default(),
            });
            return Poll::Ready(WatchedEnd {
                outcome: hung_or(*this.watch, this.record, aborted_outcome(*this.abandons)),
                timed_out: true,
                read_at: now,
            });
        }
        // A forced shutdown always follows the global token's
        // cancellation, whose wake-up brings this back here first: park on
        // the force token only once that has happened, or once this run is
        // stopping (it may no longer be parked on the global token). Idle
        // services thus cost the force token nothing.
        if (*this.stopping || this.global.stopping())
            && Pin::new(&mut StopState::of(this.stop, this.shared).force)
                .poll(cx)
                .is_ready()
        {
            cx.waker().wake_by_ref(); // forced meanwhile: abort at the next poll
        }
        Poll::Pending
    }
}

/// A run that ends in the poll during which its own token was stopped
/// (by another thread, or by the run itself through its handle) saw its
/// stop: that stop begins now, as on every other path — recorded, its
/// hooks called once. Returns the time read, if it began.
fn begin_stop_asked_meanwhile(
    stopping: &mut bool,
    run_stop: &WaitForStop<'_>,
    shared: &Shared,
    record: &Record,
) -> Option<Duration> {
    if *stopping || !run_stop.stopping() {
        return None;
    }
    *stopping = true;
    let at = shared.runtime.now();
    record.begin_stop(at, StopScope::ThisRun);
    Some(at)
}

/// Completes once every record in `records` has ended for good, or is parked
/// awaiting its governor's shutdown from inside after its own stop began
/// (its dependents are done, and it has nothing left to do but return
/// once the others, this one included, have stopped).
async fn all_ended(records: Vec<Arc<Record>>) {
    for record in &records {
        record
            .watch(|view| (view.ended || (view.waiting_inside && view.stopped)).then_some(()))
            .await;
    }
}

/// What a run cut off ended with: `Abandoned` (a blocking run, left on its
/// thread) or `Aborted` (an async run, dropped).
fn aborted_outcome(abandons: bool) -> Outcome {
    if abandons {
        Outcome::Abandoned
    } else {
        Outcome::Aborted
    }
}
