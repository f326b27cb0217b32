//! One service's shared record: what `main`, the service, its handle and
//! its supervisor all see (configuration, state, counters, last outcome,
//! readiness, stop hooks).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::activity::{Activity, Leaving};
use crate::outcome::Outcome;
use crate::report::{ServiceReport, ServiceState};
use crate::restart::RestartPolicy;
use crate::supervisor_task::BoxLaunch;
use crate::sync::{AtomicBool, Mutex, Ordering};
use crate::token::StopSource;
use crate::wait_list::{WaitList, WaiterKey, WakeAll};

/// A stop hook, shared so that it can be called outside the slot's lock.
pub(crate) type StopHook = Arc<dyn Fn() + Send + Sync + 'static>;

pub(crate) struct Slot {
    pub(crate) name: Arc<str>,
    /// Set (under `state`'s lock, read without it) when this service is
    /// asked to stop for good: its handle's `stop`, or its turn in an
    /// ordered shutdown. The current run's token is cancelled with it, and
    /// any later run's token is cancelled as it begins.
    ///
    /// A flag and the record's watchers rather than a token of its own:
    /// a token per service would be one more allocation, and a parent link
    /// for every run token, in every service.
    stopped: AtomicBool,
    /// Set once a started service depends on this one. Dependents are
    /// added when they start, which is refused once a shutdown is
    /// requested, so one that matters is always seen by the shutdown.
    has_dependents: AtomicBool,
    /// Set when the configuration changed after the service started: its
    /// supervisor reads its restart policy again at its next decision.
    reconfigured: AtomicBool,
    /// Forget this service once it ends for good, unless the governor is
    /// shutting down (`ServiceConfig::forget_when_ended`).
    forget_when_ended: AtomicBool,
    /// Being removed (`remove`): forgotten once it ends, whatever ends it.
    /// Set under the governor's lock; new dependents are refused.
    leaving: AtomicBool,
    /// No longer one of the governor's services (its name is free). Set
    /// under the governor's lock, once.
    forgotten: AtomicBool,
    state: Mutex<SlotState>,
}

/// Settings a service is launched with.
#[derive(Clone, Default)]
pub(crate) struct SlotConfig {
    /// `None`: the governor's default applies.
    pub(crate) restart: Option<RestartPolicy>,
    /// `None`: the governor's default applies.
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) critical: bool,
    pub(crate) notify_ready: bool,
    pub(crate) depends_on: Vec<Arc<str>>,
}

/// What [`Slot::take_launch`] takes.
pub(crate) struct Launching {
    pub(crate) launch: BoxLaunch,
    pub(crate) depends_on: Vec<Arc<str>>,
    pub(crate) settings: LaunchSettings,
}

/// The part of [`SlotConfig`] read when a service starts. The restart
/// policy is read again when it changes after the start (see
/// [`Slot::changed_restart_policy`]); the shutdown timeout is read from the
/// record as each stop begins.
pub(crate) struct LaunchSettings {
    /// Boxed: most services use the governor's default, and this lives in
    /// every supervisor's task.
    pub(crate) restart: Option<Box<RestartPolicy>>,
    pub(crate) critical: bool,
    pub(crate) notify_ready: bool,
}

struct SlotState {
    /// Boxed, and only once configured: most services keep the defaults,
    /// and every slot would otherwise carry the whole of it.
    config: Option<Box<SlotConfig>>,
    /// Present until the service is started.
    launch: Option<BoxLaunch>,
    /// Dependents and stop hooks, once there are any.
    links: Option<Box<Links>>,
    status: ServiceState,
    runs: u64,
    last_outcome: Option<Outcome>,
    /// The source of the current run's token, while a run is in progress.
    run_token: Option<StopSource>,
    ready: bool,
    ever_ready: bool,
    /// The supervisor has finished: the service will not run again.
    ended: bool,
    /// Runtime time of the next run, while restarting.
    restart_at: Option<Duration>,
    /// Runtime time the current stop was requested.
    stop_requested_at: Option<Duration>,
    stop_time: Option<Duration>,
    timed_out: bool,
    /// The current run's hooks have been called.
    hooks_fired: bool,
    /// The current run's restart was asked for by its handle
    /// ([`Slot::cancel_run_then`]): asked once per run.
    restart_requested: bool,
    /// Counted among its governor's live services (from its launch until
    /// its supervisor ends or is dropped).
    live: bool,
    /// Waiters for its governor's shutdown polled inside this service
    /// (see `Activity`); counted there while it is live.
    inside: usize,
    /// Woken on every change of `ready` and `ended`.
    watchers: WaitList,
}

/// What links a record to others and to user code: boxed, and only once
/// there is any, as most services have no dependents and no stop hooks
/// (three empty lists would be 72 bytes of every record).
#[derive(Default)]
struct Links {
    /// Started services that depend on this one (they stop before it).
    dependents: Vec<Arc<Slot>>,
    /// Hooks for every run (added with `ServiceConfig::on_stop`).
    hooks: Vec<StopHook>,
    /// Hooks for the current run (added with `ServiceCtx::on_stop`).
    run_hooks: Vec<StopHook>,
}

/// The settings of a service that was never configured.
static DEFAULT_CONFIG: SlotConfig = SlotConfig {
    restart: None,
    shutdown_timeout: None,
    critical: false,
    notify_ready: false,
    depends_on: Vec::new(),
};

impl SlotState {
    fn config(&self) -> &SlotConfig {
        self.config.as_deref().unwrap_or(&DEFAULT_CONFIG)
    }

    /// The service has ended for good; `gave_up` if by its restart limit
    /// (or if it gave up already). Its report says so at once; its
    /// watchers learn it only once `ended` is set too, which the
    /// supervisor does after emitting the events of that end (see
    /// [`Slot::publish_end`]): a hook reading the report sees the end it is
    /// told about, and `wait()` returns only once the events are out.
    fn end_for_good(&mut self, gave_up: bool) {
        self.status = if gave_up || self.status == ServiceState::GaveUp {
            ServiceState::GaveUp
        } else {
            ServiceState::Stopped
        };
        self.run_token = None;
        self.restart_at = None;
    }
}

/// What asking a service to stop for good leaves to do once its record's
/// lock is released: wake its watchers, cancel its current run.
struct StopForGood {
    run_token: Option<StopSource>,
    wake: WakeAll,
}

impl StopForGood {
    fn complete(self) {
        self.wake.wake();
        if let Some(token) = self.run_token {
            token.cancel();
        }
    }
}

impl Slot {
    pub(crate) fn new(name: Arc<str>, launch: Option<BoxLaunch>) -> Self {
        Slot {
            name,
            stopped: AtomicBool::new(false),
            has_dependents: AtomicBool::new(false),
            reconfigured: AtomicBool::new(false),
            forget_when_ended: AtomicBool::new(false),
            leaving: AtomicBool::new(false),
            forgotten: AtomicBool::new(false),
            state: Mutex::new(SlotState {
                config: None,
                launch,
                links: None,
                status: ServiceState::Pending,
                runs: 0,
                last_outcome: None,
                run_token: None,
                ready: false,
                ever_ready: false,
                ended: false,
                restart_at: None,
                stop_requested_at: None,
                stop_time: None,
                timed_out: false,
                hooks_fired: false,
                restart_requested: false,
                live: false,
                inside: 0,
                watchers: WaitList::new(),
            }),
        }
    }

    pub(crate) fn configure(&self, change: impl FnOnce(&mut SlotConfig)) {
        let mut state = self.state.lock();
        change(state.config.get_or_insert_default());
        if state.launch.is_none() {
            // Started already (its settings were taken): tell its
            // supervisor, under the lock, so that it reads them after this.
            self.reconfigured.store(true, Ordering::Release);
        }
    }

    /// The service's own restart policy (`None`: the governor's default
    /// applies), if its configuration changed since the last call (or
    /// since it started); one atomic load when it did not.
    pub(crate) fn changed_restart_policy(&self) -> Option<Option<RestartPolicy>> {
        if !self.reconfigured.load(Ordering::Acquire) {
            return None;
        }
        let state = self.state.lock();
        self.reconfigured.store(false, Ordering::Relaxed);
        Some(state.config().restart)
    }

    /// The names this service depends on (no allocation when none).
    pub(crate) fn depends_on(&self) -> Vec<Arc<str>> {
        self.state.lock().config().depends_on.clone()
    }

    pub(crate) fn add_hook(&self, hook: StopHook) {
        let mut state = self.state.lock();
        state.links.get_or_insert_default().hooks.push(hook);
    }

    pub(crate) fn add_dependent(&self, dependent: Arc<Slot>) {
        let mut state = self.state.lock();
        state
            .links
            .get_or_insert_default()
            .dependents
            .push(dependent);
        drop(state);
        self.has_dependents.store(true, Ordering::Release);
    }

    /// The started services that depend on this one (no lock, no
    /// allocation when there are none, the common case).
    pub(crate) fn dependents(&self) -> Vec<Arc<Slot>> {
        if !self.has_dependents.load(Ordering::Acquire) {
            return Vec::new();
        }
        let state = self.state.lock();
        state
            .links
            .as_ref()
            .map(|links| links.dependents.clone())
            .unwrap_or_default()
    }

    /// Takes what starts the service, if it has not started yet: its
    /// supervisor task, the names it depends on (no allocation when none)
    /// and its settings, in one visit (each visit of a record is a cache
    /// miss when there are many).
    pub(crate) fn take_launch(&self) -> Option<Launching> {
        let mut state = self.state.lock();
        let launch = state.launch.take()?;
        state.status = ServiceState::Starting;
        // Counted live by the caller in the same step of `start`, unless
        // the checks fail and `restore_launch` undoes this.
        state.live = true;
        let config = state.config();
        Some(Launching {
            launch,
            depends_on: config.depends_on.clone(),
            settings: LaunchSettings {
                restart: config.restart.map(Box::new),
                critical: config.critical,
                notify_ready: config.notify_ready,
            },
        })
    }

    /// Puts back what [`take_launch`](Slot::take_launch) took, for a start
    /// that failed its checks: the service is pending again, unless it was
    /// stopped meanwhile (then it never starts, as if stopped before).
    ///
    /// Called under the governor's lock: what is returned is to be
    /// [completed](CancelledLaunch::complete) once that is released (it
    /// drops the service value, user code).
    #[must_use]
    pub(crate) fn restore_launch(&self, launch: BoxLaunch) -> Option<CancelledLaunch> {
        let mut state = self.state.lock();
        state.live = false;
        if self.stopped() {
            return Some(self.end_unlaunched(&mut state, launch));
        }
        state.status = ServiceState::Pending;
        state.launch = Some(launch);
        None
    }

    /// A service stopped before it was started: it never will be.
    /// Calls `ended` (with no lock of the record held) after the service
    /// is marked ended and before its watchers are woken, if this call
    /// ended it.
    pub(crate) fn cancel_launch_then(&self, ended: impl FnOnce()) -> bool {
        let cancelled = {
            let mut state = self.state.lock();
            let Some(launch) = state.launch.take() else {
                return false;
            };
            self.end_unlaunched(&mut state, launch)
        };
        ended();
        cancelled.complete();
        true
    }

    /// Marks a service that was never started as ended for good; its
    /// value (`launch`) is dropped once the lock is released.
    fn end_unlaunched(&self, state: &mut SlotState, launch: BoxLaunch) -> CancelledLaunch {
        state.status = ServiceState::Stopped;
        state.ended = true;
        CancelledLaunch {
            name: self.name.clone(),
            launch,
            wake: state.watchers.take(),
        }
    }

    /// Forget this service once it ends for good (see
    /// [`should_forget`](Slot::should_forget)).
    pub(crate) fn set_forget_when_ended(&self) {
        self.forget_when_ended.store(true, Ordering::Release);
    }

    /// Marks this service as being removed (under the governor's lock).
    pub(crate) fn set_leaving(&self) {
        self.leaving.store(true, Ordering::Release);
    }

    /// Whether this service is being removed.
    pub(crate) fn leaving(&self) -> bool {
        self.leaving.load(Ordering::Acquire)
    }

    /// Whether this service, ending for good now, is to be forgotten:
    /// when it is being removed, or when it asked to be forgotten and the
    /// governor is not `shutting_down` (a shutdown's report keeps every
    /// service it stopped).
    pub(crate) fn should_forget(&self, shutting_down: bool) -> bool {
        self.leaving() || (self.forget_when_ended.load(Ordering::Acquire) && !shutting_down)
    }

    /// Marks this record forgotten (under the governor's lock); returns
    /// whether this call did.
    pub(crate) fn mark_forgotten(&self) -> bool {
        !self.forgotten.swap(true, Ordering::AcqRel)
    }

    /// Whether this record has been forgotten by the governor.
    pub(crate) fn forgotten(&self) -> bool {
        self.forgotten.load(Ordering::Acquire)
    }

    /// Whether this service has ended for good (its record says so,
    /// whether or not its watchers have been told yet).
    pub(crate) fn ended(&self) -> bool {
        self.state.lock().status.is_final()
    }

    /// Takes `dependent` out of this service's dependents (it is being
    /// forgotten); returns it, to be dropped outside any lock.
    pub(crate) fn remove_dependent(&self, dependent: &Arc<Slot>) -> Option<Arc<Slot>> {
        if !self.has_dependents.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state.lock();
        let dependents = &mut state.links.as_mut()?.dependents;
        let at = dependents.iter().position(|d| Arc::ptr_eq(d, dependent))?;
        Some(dependents.swap_remove(at))
    }

    /// Whether this service has been asked to stop for good.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Asks this service to stop for good: its current run's token is
    /// cancelled, and so will be any later run's. Returns whether this
    /// call did it: not for a service that has ended for good already
    /// (by itself, or stopped before it started), which has nothing left
    /// to stop.
    #[cfg(loom)]
    pub(crate) fn stop(&self) -> bool {
        self.stop_then(|| {})
    }

    /// Asks this service to stop for good (as `stop` describes), calling
    /// `told` (with no lock held) once, if this call does it, before the
    /// run is cancelled: what it says (an event) comes before anything the
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
    fn mark_stopped(&self, state: &mut SlotState) -> Option<StopForGood> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        self.stopped.store(true, Ordering::Release);
        Some(StopForGood {
            run_token: state.run_token.clone(),
            wake: state.watchers.take(),
        })
    }

    /// A run begins: returns its token and number. The token is `reuse`,
    /// the previous run's, unless that one was cancelled; it is cancelled
    /// at once if the service was asked to stop for good meanwhile.
    pub(crate) fn begin_run(&self, reuse: Option<StopSource>) -> (StopSource, u64) {
        let token = match reuse {
            Some(token) if !token.is_cancelled() => token,
            _ => StopSource::new(),
        };
        let stopped;
        let stale_hooks;
        let (run, wake) = {
            let mut state = self.state.lock();
            // Read under the lock that `stop` sets it under: either `stop`
            // sees this run's token, or this sees its flag.
            stopped = self.stopped.load(Ordering::Relaxed);
            state.runs += 1;
            state.hooks_fired = false;
            state.restart_requested = false;
            // Empty: `end_run` took the last run's hooks, and none can be
            // added between runs. Dropped outside the lock all the same.
            stale_hooks = state
                .links
                .as_mut()
                .map(|links| core::mem::take(&mut links.run_hooks));
            state.restart_at = None;
            state.stop_requested_at = None;
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
            token.cancel();
        }
        if let Some(hooks) = stale_hooks.filter(|hooks| !hooks.is_empty()) {
            drop_user_value(&self.name, "stop hook", hooks);
        }
        (token, run)
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
    pub(crate) fn end_run(&self, outcome: Outcome, now: Duration, timed_out: bool, next: AfterRun) {
        let (old_outcome, old_hooks, wake) = {
            let mut state = self.state.lock();
            if let Some(asked) = state.stop_requested_at {
                state.stop_time = Some(now.saturating_sub(asked));
                state.timed_out = timed_out;
            }
            let old_outcome = state.last_outcome.replace(outcome);
            state.run_token = None;
            state.ready = false;
            match next {
                AfterRun::Restart(delay) => {
                    state.status = ServiceState::Restarting;
                    state.restart_at = Some(now.saturating_add(delay));
                }
                AfterRun::Undecided => state.status = ServiceState::Stopping,
                // As `finish(false)`, in the same lock.
                AfterRun::Finish => state.end_for_good(false),
            }
            let hooks = state
                .links
                .as_mut()
                .map(|links| core::mem::take(&mut links.run_hooks))
                .unwrap_or_default();
            (old_outcome, hooks, state.watchers.take())
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
            state.end_for_good(false);
            state.ended = true;
            (old, state.watchers.take())
        };
        wake.wake();
        if let Some(old) = old {
            drop_user_value(&self.name, "previous outcome", old);
        }
    }

    /// The service ended for good; `gave_up` if by its restart limit.
    /// Recorded and told to its watchers at once.
    pub(crate) fn finish(&self, gave_up: bool) {
        self.record_end(gave_up);
        self.publish_end();
    }

    /// The service ended for good; `gave_up` if by its restart limit.
    /// Recorded only: [`publish_end`](Slot::publish_end) tells its
    /// watchers, once the events of that end are out.
    pub(crate) fn record_end(&self, gave_up: bool) {
        self.state.lock().end_for_good(gave_up);
    }

    /// Tells the watchers that the service has ended for good (after
    /// [`record_end`](Slot::record_end), or `end_run` with
    /// [`AfterRun::Finish`]).
    pub(crate) fn publish_end(&self) {
        let wake = {
            let mut state = self.state.lock();
            state.ended = true;
            state.watchers.take()
        };
        wake.wake();
    }

    /// Cancels the current run only (the service restarts at once).
    /// Calling `told` (with no lock held) once per run, if this call
    /// cancels it, before it does: one restart request per run wins,
    /// under the record's lock.
    pub(crate) fn cancel_run_then(&self, told: impl FnOnce()) -> bool {
        let token = {
            let mut state = self.state.lock();
            match &state.run_token {
                Some(token) if !state.restart_requested && !token.is_cancelled() => {
                    let token = token.clone();
                    state.restart_requested = true;
                    token
                }
                _ => return false,
            }
        };
        told();
        token.cancel();
        true
    }

    /// The current run's stop begins at runtime time `now`: recorded, and
    /// its stop hooks called (once per run). With `for_good`, the service
    /// is asked to stop for good first, as `stop_then` does. One
    /// lock of the record for all of it. Returns the service's own shutdown
    /// timeout as configured now (`None`: the governor's default applies).
    pub(crate) fn begin_stop(&self, now: Duration, for_good: bool) -> Option<Duration> {
        let (stop, hooks, timeout) = {
            let mut state = self.state.lock();
            let stop = if for_good {
                self.mark_stopped(&mut state)
            } else {
                None
            };
            state.stop_requested_at.get_or_insert(now);
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
                tracing::error!(service = %self.name, "stop hook {outcome}");
            }
        }
        #[cfg(not(feature = "std"))]
        hook();
    }

    /// A waiter for the governor's shutdown is polled inside this service:
    /// the service counts as waiting inside (if live). Returns the
    /// governor's waiters to wake once the locks are released.
    pub(crate) fn enter_inside(&self, activity: &Activity) -> Option<WakeAll> {
        let (watchers, waiters) = {
            let mut state = self.state.lock();
            state.inside += 1;
            if state.inside > 1 {
                return None;
            }
            let waiters = if state.live {
                activity.inside_changed(true)
            } else {
                None
            };
            (state.watchers.take(), waiters)
        };
        watchers.wake();
        waiters
    }

    /// A waiter inside this service is done or dropped.
    pub(crate) fn leave_inside(&self, activity: &Activity) {
        let watchers = {
            let mut state = self.state.lock();
            state.inside -= 1;
            if state.inside > 0 {
                return;
            }
            if state.live {
                // Losing one never makes anybody idle: nothing to wake.
                let _ = activity.inside_changed(false);
            }
            state.watchers.take()
        };
        watchers.wake();
    }

    /// The service's supervisor ended (or was dropped): it no longer counts
    /// as live, nor as waiting inside, in one step.
    pub(crate) fn leave_live(&self, activity: &Activity) -> Leaving {
        let mut state = self.state.lock();
        state.live = false;
        activity.begin_leave(state.inside > 0)
    }

    /// Completes when `check` says so, re-checked on every readiness or
    /// end change.
    pub(crate) fn watch<T, F>(&self, check: F) -> Watch<'_, F>
    where
        F: FnMut(&SlotView) -> Option<T> + Unpin,
    {
        Watch {
            slot: self,
            check,
            key: None,
        }
    }

    pub(crate) fn report(&self, now: Duration) -> ServiceReport {
        let state = self.state.lock();
        ServiceReport {
            name: self.name.clone(),
            state: state.status,
            runs: state.runs,
            // Every run after the first is a restart.
            restarts: state.runs.saturating_sub(1),
            last_outcome: state.last_outcome.clone(),
            restart_in: state.restart_at.map(|at| at.saturating_sub(now)),
            stop_time: state.stop_time,
            timed_out: state.timed_out,
        }
    }
}

/// A service that will never start, ended under its record's lock (and
/// perhaps the governor's): what is left to do once they are released.
#[must_use]
pub(crate) struct CancelledLaunch {
    name: Arc<str>,
    launch: BoxLaunch,
    wake: WakeAll,
}

impl CancelledLaunch {
    /// Wakes the record's watchers, then drops the service value (user
    /// code: its `Drop` may call back into the governor, or panic).
    pub(crate) fn complete(self) {
        self.wake.wake();
        drop_user_value(&self.name, "service value", self.launch);
    }
}

/// Drops `value`, which holds user code (a service, an error, a hook's
/// captures), never under a lock of the governor's: a panic in its `Drop`
/// is caught and logged (`std`), so it loses nothing the governor was
/// doing.
pub(crate) fn drop_user_value<T>(service: &str, what: &str, value: T) {
    #[cfg(feature = "std")]
    if let Err(payload) =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value)))
    {
        let outcome = crate::outcome::outcome_of_panic(payload);
        tracing::error!(%service, "dropping a {what}: {outcome}");
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = (service, what);
        drop(value);
    }
}

/// What follows a run's end (see [`Slot::end_run`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterRun {
    /// The next run, after this delay.
    Restart(Duration),
    /// The supervisor decides more before it ends (and calls
    /// [`Slot::finish`]).
    Undecided,
    /// The service has ended for good (recorded): the supervisor need not
    /// call [`Slot::finish`], only [`Slot::publish_end`] once the events
    /// of the end are out.
    Finish,
}

/// What a [`Slot::watch`] check sees.
pub(crate) struct SlotView {
    /// Asked to stop for good.
    pub(crate) stopped: bool,
    pub(crate) ready: bool,
    pub(crate) ever_ready: bool,
    pub(crate) ended: bool,
    pub(crate) pending: bool,
    /// Some waiter for the governor's shutdown is parked inside it.
    pub(crate) waiting_inside: bool,
}

/// The future returned by [`Slot::watch`].
pub(crate) struct Watch<'a, F> {
    slot: &'a Slot,
    check: F,
    key: Option<WaiterKey>,
}

impl<T, F> Future for Watch<'_, F>
where
    F: FnMut(&SlotView) -> Option<T> + Unpin,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let mut state = this.slot.state.lock();
        let view = SlotView {
            stopped: this.slot.stopped.load(Ordering::Relaxed),
            ready: state.ready,
            ever_ready: state.ever_ready,
            ended: state.ended,
            pending: state.launch.is_some(),
            waiting_inside: state.inside > 0,
        };
        match (this.check)(&view) {
            Some(done) => {
                if let Some(key) = this.key.take() {
                    state.watchers.remove(key);
                }
                Poll::Ready(done)
            }
            None => {
                state.watchers.register(&mut this.key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for Watch<'_, F> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.slot.state.lock().watchers.remove(key);
        }
    }
}
