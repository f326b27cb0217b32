//! A record through its runs: a run begins (`begin_run`) and may report
//! ready, its stop begins (`begin_stop`: stop hooks, once per run), it ends
//! (`end_run`: restart, or the end for good), and the service is asked to
//! stop for good (`stop_then`) or to restart (`stop_run_then`). Tokens
//! are stopped, watchers woken and hooks called after the record's lock
//! is released (see the rules in `record.rs`).

use alloc::vec::Vec;
use core::time::Duration;

use crate::outcome::Outcome;
use crate::report::ServiceState;
use crate::sync::Ordering;
use crate::token::StopSource;
use crate::wait_list::WakeAll;

use super::{drop_user_value, At, EndForGood, Record, RecordState, StopHook, StopScope};

/// What asking a service to stop for good leaves to do once its record's
/// lock is released: wake its watchers, stop its current run.
struct StopForGood {
    run_token: Option<StopSource>,
    wake: WakeAll,
}

impl StopForGood {
    fn complete(self) {
        self.wake.wake();
        if let Some(token) = self.run_token {
            token.stop();
        }
    }
}

/// A run that [`Record::begin_run`] began.
pub(crate) struct BegunRun {
    /// Its stop source: the governor stops the run through it.
    pub(crate) stop: StopSource,
    /// Its number, from 1.
    pub(crate) run: u64,
    /// Its watchdog, and whether its health was reset.
    pub(crate) liveness: super::RunLiveness,
}

impl Record {
    /// Asks this service to stop for good: its current run's token is
    /// stopped, and so will be any later run's. Returns whether this
    /// call did it: not for a service that has ended for good already
    /// (by itself, or stopped before it started), which has nothing left
    /// to stop.
    #[cfg(loom)]
    pub(crate) fn stop(&self) -> bool {
        self.stop_then(|| {})
    }

    /// Asks this service to stop for good (as `stop` describes), calling
    /// `told` (with no lock held) once, if this call does it, before the
    /// run is stopped: what it says (an event) comes before anything the
    /// run's end says.
    pub(crate) fn stop_then(&self, told: impl FnOnce()) -> bool {
        let stop = {
            let mut state = self.state.lock();
            if state.status.is_final() {
                return false;
            }
            self.mark_stopped(&mut state)
        };
        let Some(stop) = stop else {
            return false;
        };
        told();
        stop.complete();
        true
    }

    /// Sets the "stopped" flag under the record's lock (`state`), unless
    /// it was set already; what is left to do after the lock.
    fn mark_stopped(&self, state: &mut RecordState) -> Option<StopForGood> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        self.stopped.store(true, Ordering::Release);
        Some(StopForGood {
            run_token: state.run_token.clone(),
            wake: state.watchers.take(),
        })
    }

    /// A run begins, at runtime time `now`: returns its stop source and
    /// number. The source is `reuse`,
    /// the previous run's, unless that one was stopped; it is stopped
    /// at once if the service was asked to stop for good meanwhile.
    ///
    /// `None` if the record is held by a propagation (`record/hold.rs`),
    /// or a group release set a service to wait for: no run begins until
    /// it is released and that one is ready (`propagation::gate`). Checked under the lock a hold
    /// is set under: either the hold sees this run and stops it, or this
    /// sees the hold.
    pub(crate) fn begin_run(&self, reuse: Option<StopSource>, now: Duration) -> Option<BegunRun> {
        let token = match reuse {
            Some(token) if !token.stopping() => token,
            _ => StopSource::new(),
        };
        let stopped;
        let stale_hooks;
        let liveness;
        let (run, wake) = {
            let mut state = self.state.lock();
            if state.held || state.links.as_ref().is_some_and(|l| l.after.is_some()) {
                return None;
            }
            liveness = state.liveness_begin_run();
            // Read under the lock that `stop` sets it under: either `stop`
            // sees this run's token, or this sees its flag.
            stopped = self.stopped.load(Ordering::Relaxed);
            state.runs += 1;
            state.last_run.begin(now);
            state.hooks_fired = false;
            state.tasks_closed = false;
            state.restart_requested = false;
            state.propagated = false;
            // Empty: `end_run` took the last run's hooks, and none can be
            // added between runs. Dropped outside the lock all the same.
            stale_hooks = state
                .links
                .as_mut()
                .map(|links| core::mem::take(&mut links.run_hooks));
            state.restart_at = At::NONE;
            state.stop_requested_at = At::NONE;
            state.run_token = Some(token.clone());
            if state.config().notify_ready {
                state.status = ServiceState::Running;
                (state.runs, None)
            } else {
                state.status = ServiceState::Ready;
                state.ready = true;
                state.ever_ready = true;
                (state.runs, Some(state.watchers.take()))
            }
        };
        if let Some(wake) = wake {
            wake.wake();
        }
        if stopped {
            token.stop();
        }
        if let Some(hooks) = stale_hooks.filter(|hooks| !hooks.is_empty()) {
            drop_user_value(&self.name, "stop hook", hooks);
        }
        Some(BegunRun {
            stop: token,
            run,
            liveness,
        })
    }

    /// Run number `run` reports ready; returns whether that changed anything.
    pub(crate) fn mark_ready(&self, run: u64) -> bool {
        let wake = {
            let mut state = self.state.lock();
            if state.runs != run || state.ready || state.run_token.is_none() {
                return false;
            }
            state.ready = true;
            state.ever_ready = true;
            if state.status == ServiceState::Running {
                state.status = ServiceState::Ready;
            }
            state.watchers.take()
        };
        wake.wake();
        true
    }

    /// The current run ended with `outcome` at runtime time `now`; `next`
    /// says what follows.
    ///
    /// The outcome it replaces and the run's hooks are dropped after the
    /// record's lock is released (a user error's or closure's `Drop` may
    /// call back into the governor), with a panic there caught: it loses
    /// neither the decision recorded here nor the supervisor.
    ///
    /// `aborted_tasks` names the run's tasks that were aborted with it.
    pub(crate) fn end_run(
        &self,
        outcome: Outcome,
        now: Duration,
        timed_out: bool,
        aborted_tasks: Vec<alloc::sync::Arc<str>>,
        next: AfterRun,
    ) {
        let (old_outcome, old_hooks, wake, _tasks, _names) = {
            let mut state = self.state.lock();
            let names = if aborted_tasks.is_empty() {
                // No list is made when there are none (the common case).
                state
                    .links
                    .as_mut()
                    .map(|links| core::mem::take(&mut links.aborted_tasks))
                    .unwrap_or_default()
            } else {
                let links = state.links.get_or_insert_with(Default::default);
                core::mem::replace(&mut links.aborted_tasks, aborted_tasks)
            };
            // The run's tasks have all ended (the supervisor waited).
            let tasks = state.tasks.take();
            state.tasks_closed = true;
            if let Some(asked) = state.stop_requested_at.get() {
                state.stop_time = At::some(now.saturating_sub(asked));
                state.timed_out = timed_out;
            }
            let old_outcome = state.last_outcome.replace(outcome);
            state.last_run.end(now);
            state.run_token = None;
            state.ready = false;
            match next {
                AfterRun::Restart(delay) => {
                    state.status = ServiceState::Restarting;
                    state.restart_at = At::some(now.saturating_add(delay));
                }
                AfterRun::Undecided => state.status = ServiceState::Stopping,
                // As `finish(false)`, in the same lock.
                AfterRun::Finish => state.end_for_good(EndForGood::Ended),
            }
            let hooks = state
                .links
                .as_mut()
                .map(|links| core::mem::take(&mut links.run_hooks))
                .unwrap_or_default();
            (old_outcome, hooks, state.watchers.take(), tasks, names)
        };
        wake.wake();
        // User values: their `Drop` runs outside the lock, caught.
        if !old_hooks.is_empty() {
            drop_user_value(&self.name, "stop hook", old_hooks);
        }
        if let Some(old) = old_outcome {
            drop_user_value(&self.name, "previous outcome", old);
        }
    }

    /// A started service ended for good without ever running (see
    /// [`Outcome::NotRun`] and [`Outcome::DependencyFailed`]): `outcome`
    /// is recorded as its one outcome.
    pub(crate) fn end_unrun(&self, outcome: Outcome) {
        let (old, wake) = {
            let mut state = self.state.lock();
            let old = state.last_outcome.replace(outcome);
            state.end_for_good(EndForGood::Ended);
            state.ended = true;
            (old, state.watchers.take())
        };
        wake.wake();
        if let Some(old) = old {
            drop_user_value(&self.name, "previous outcome", old);
        }
    }

    /// The service ended for good, as `how` says. Recorded and told to
    /// its watchers at once.
    pub(crate) fn finish(&self, how: EndForGood) {
        self.record_end(how);
        self.publish_end();
    }

    /// The service ended for good, as `how` says. Recorded only:
    /// [`publish_end`](Record::publish_end) tells its watchers, once the
    /// events of that end are out.
    pub(crate) fn record_end(&self, how: EndForGood) {
        self.state.lock().end_for_good(how);
    }

    /// Tells the watchers that the service has ended for good (after
    /// [`record_end`](Record::record_end), or `end_run` with
    /// [`AfterRun::Finish`]).
    pub(crate) fn publish_end(&self) {
        let wake = {
            let mut state = self.state.lock();
            state.ended = true;
            state.watchers.take()
        };
        wake.wake();
    }

    /// Stops the current run only (the service restarts at once).
    /// Calling `told` (with no lock held) once per run, if this call
    /// stops it, before it does: one restart request per run wins,
    /// under the record's lock.
    pub(crate) fn stop_run_then(&self, told: impl FnOnce()) -> bool {
        let token = {
            let mut state = self.state.lock();
            match &state.run_token {
                Some(token) if !state.restart_requested && !token.stopping() => {
                    let token = token.clone();
                    state.restart_requested = true;
                    token
                }
                _ => return false,
            }
        };
        told();
        token.stop();
        true
    }

    /// The current run's stop begins at runtime time `now`: recorded, and
    /// its stop hooks called (once per run). With [`StopScope::ForGood`],
    /// the service is asked to stop for good first, as `stop_then` does. One
    /// lock of the record for all of it. Returns the service's own shutdown
    /// timeout as configured now (`None`: the governor's default applies).
    pub(crate) fn begin_stop(&self, now: Duration, scope: StopScope) -> Option<Duration> {
        let (stop, hooks, timeout) = {
            let mut state = self.state.lock();
            let stop = if scope == StopScope::ForGood {
                self.mark_stopped(&mut state)
            } else {
                None
            };
            if state.stop_requested_at.get().is_none() {
                state.stop_requested_at = At::some(now);
            }
            state.status = ServiceState::Stopping;
            let fire = !core::mem::replace(&mut state.hooks_fired, true);
            // No list is built when there are none (the common case).
            let hooks: Vec<StopHook> = match &state.links {
                Some(links) if fire => links
                    .hooks
                    .iter()
                    .chain(&links.run_hooks)
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            (stop, hooks, state.config().shutdown_timeout)
        };
        if let Some(stop) = stop {
            stop.complete();
        }
        for hook in hooks {
            self.call_hook(&hook);
        }
        timeout
    }

    /// Adds a hook for run number `run`, if that run is in progress and
    /// its hooks have not fired yet; otherwise (it was asked to stop
    /// already, or it has ended: a stale context) calls it at once. A hook
    /// never attaches to another run than its own.
    pub(crate) fn add_run_hook(&self, run: u64, hook: StopHook) {
        {
            let mut state = self.state.lock();
            if state.runs == run && state.run_token.is_some() && !state.hooks_fired {
                state.links.get_or_insert_default().run_hooks.push(hook);
                return;
            }
        }
        self.call_hook(&hook);
        drop_user_value(&self.name, "stop hook", hook);
    }

    fn call_hook(&self, hook: &StopHook) {
        #[cfg(feature = "std")]
        {
            let call = std::panic::AssertUnwindSafe(|| hook());
            if let Err(payload) = std::panic::catch_unwind(call) {
                let outcome = crate::outcome::outcome_of_panic(payload);
                tracing::error!(target: crate::targets::FAULT, service = %self.name, "stop hook {outcome}");
            }
        }
        #[cfg(not(feature = "std"))]
        hook();
    }
}

/// What follows a run's end (see [`Record::end_run`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterRun {
    /// The next run, after this delay.
    Restart(Duration),
    /// The supervisor decides more before it ends (and calls
    /// [`Record::finish`]).
    Undecided,
    /// The service has ended for good (recorded): the supervisor need not
    /// call [`Record::finish`], only [`Record::publish_end`] once the events
    /// of the end are out.
    Finish,
}
