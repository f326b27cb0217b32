//! One service's shared record ([`Record`]): what `main`, the service, its
//! handle and its supervisor all see (configuration, state, counters,
//! last outcome, readiness, stop hooks). This file holds the record and
//! its bookkeeping; its life is in three more, in the order it is lived:
//! `record/launch.rs` (from added to started, or never started),
//! `record/run.rs` (each run, its stop, its end) and `record/watch.rs`
//! (waiting for a change of it); `record/hold.rs` is its side of restart
//! propagation (held between runs while another service restarts).
//!
//! Over 400 lines because the record's rules are written here in full
//! (invariants, the transition table, lock order, layout: a hundred lines
//! before any code) and its fields carry their reasons; the code proper is
//! the bookkeeping every part of the record's life shares.
//!
//! # Invariants
//!
//! 1. `status` ([`ServiceState`]) changes only under the record's lock,
//!    and only as the table below says. `Ended`, `GaveUp` and `Refused`
//!    are final: nothing leaves them, and `stop_then` refuses a final
//!    record.
//! 2. `launch` (the supervisor task, holding the service value) is present
//!    only while the service is `Pending`; it is taken once, so a record
//!    is launched at most once (or dropped unlaunched, once).
//! 3. The `stopped` flag is set once, under the record's lock
//!    (`mark_stopped`), and read without it. `begin_run` reads it under the
//!    same lock it installs the run's token under: either the stop sees the
//!    run's token and stops it, or the run sees the flag and stops its
//!    own token. No run escapes a stop for good.
//! 4. `run_token` is present exactly while a run is in progress (from
//!    `begin_run` to `end_run`, or the end for good). A run's stop hooks
//!    belong to that run and fire at most once per run (`hooks_fired`).
//! 5. `ended` is set only once `status` is final, and, for a service that
//!    ran, only after the events of that end are out (`publish_end`):
//!    whoever waits for the end sees the report and events that tell it.
//! 6. `live` is set from `take_launch` (undone by `restore_launch`) until
//!    `leave_live`, in step with the governor's `LiveCount` count.
//! 7. `forgotten` and `leaving` are set under the governor's lock, once.
//! 8. `held` (and a group release's `after`) is read by `begin_run` under
//!    the record's lock, the lock a hold is set under: while either is
//!    set no run begins (`record/hold.rs`).
//!
//! # `ServiceState` transitions
//!
//! | from                       | to                     | by                                             |
//! |----------------------------|------------------------|------------------------------------------------|
//! | `Pending`                  | `Starting`             | `take_launch` (under the governor's lock, from `Shared::start_records`) |
//! | `Starting`                 | `Pending`              | `restore_launch` (the start's checks failed)   |
//! | `Starting`                 | `Ended`                | `restore_launch`, if stopped meanwhile         |
//! | `Pending`                  | `Ended`                | `drop_launch_then` (stopped or removed before it started) |
//! | `Pending`                  | `Refused`              | `refuse_launch` (a `start` covered it after shutdown began, from `Shared::start_records`) |
//! | `Starting`, `Restarting`   | `Running` or `Ready`   | `begin_run` (`Ready` at once unless it notifies readiness) |
//! | `Running`                  | `Ready`                | `mark_ready`                                   |
//! | `Running`, `Ready`         | `Stopping`             | `begin_stop` (its stop begins)                 |
//! | a run's state, `Stopping`  | `Restarting`           | `end_run` with `AfterRun::Restart`             |
//! | a run's state, `Stopping`  | `Stopping`             | `end_run` with `AfterRun::Undecided`           |
//! | a run's state, `Stopping`  | `Ended`                | `end_run` with `AfterRun::Finish`              |
//! | `Starting`                 | `Ended`                | `end_unrun` (never ran: `NotRun`, `DependencyFailed`) |
//! | any but final              | `Ended` or `GaveUp`    | `record_end` / `finish` (`GaveUp`: restart limit) |
//!
//! # Lock order, wakers and user code
//!
//! The record's lock comes after the governor's (`start`, `report` and
//! `forget` take it under that one) and before a token node's (a run's
//! `StopSource` may be dropped under it) and the governor's `LiveCount`
//! lock (`enter_inside`, `leave_live`). Nothing takes the governor's lock
//! under it. No waker and no user code runs under it: each method takes
//! what is to be done out of the lock (watchers as a `WakeAll`, a stop
//! as a `StopForGood`, a never-started service as a `NeverStarted`,
//! hooks and old outcomes as values) and does it after unlocking; stop
//! hooks and user values' `Drop` are called with panics caught
//! ([`drop_user_value`]).
//!
//! # Layout
//!
//! One record per service, so it is kept small: flags read without the
//! lock are atomics beside it; the configuration is boxed and allocated
//! only once configured (most services keep the defaults); dependents
//! and stop hooks ([`Links`]) are boxed and allocated only once there is
//! one, and so are the names of the tasks a cut-off run aborted (kept in
//! the same box); the restart policy a service launches with is boxed in
//! [`StartSettings`]. The notes at each field say what each choice saves.
//! The latest run's times are kept inline (every service that runs has
//! them) as two nanosecond counts ([`RunClock`], 16 bytes) rather than an
//! `Option<RunTimes>` (32), and the restart, stop request and stop times
//! as one each ([`At`], 8 bytes rather than 16). Its watchers are boxed
//! when the first one comes ([`LazyWaitList`], 8 bytes rather than 48):
//! most services are never watched. 184 bytes in all (pinned by the
//! `layout` test).

mod hold;
mod launch;
mod liveness;
mod run;
mod watch;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use crate::live_count::{Leaving, LiveCount};
use crate::outcome::Outcome;
use crate::report::{RunTimes, ServiceReport, ServiceState};
use crate::restart::RestartPolicy;
use crate::supervisor_task::PendingSupervisor;
use crate::sync::{AtomicBool, Mutex, Ordering};
use crate::tasks::RunTasks;
use crate::token::StopSource;
use crate::wait_list::{LazyWaitList, WakeAll};

pub(crate) use launch::NeverStarted;
pub(crate) use liveness::{PulseCheck, RunLiveness};
pub(crate) use run::{AfterRun, BegunRun};

/// How a service ends for good: its final [`ServiceState`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EndForGood {
    /// `Ended`: it returned for good, was stopped, or never ran.
    Ended,
    /// `GaveUp`: its restart limit was reached.
    GaveUp,
}

/// What a stop asks of a service.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StopScope {
    /// Its current run only: it runs again at once (`restart`), or as its
    /// policy decides.
    ThisRun,
    /// The service, for good: no later run begins.
    ForGood,
}

/// A stop hook, shared so that it can be called outside the record's lock.
pub(crate) type StopHook = Arc<dyn Fn() + Send + Sync + 'static>;

pub(crate) struct Record {
    pub(crate) name: Arc<str>,
    /// Set (under `state`'s lock, read without it) when this service is
    /// asked to stop for good: its handle's `stop`, or its turn in an
    /// ordered shutdown. The current run's token is stopped with it, and
    /// any later run's token is stopped as it begins.
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
    /// Its runs are polled inside a `service` span some subscriber records
    /// (set by its supervisor): what is logged inside a run gets the name
    /// from the span, not again as a field.
    in_span: AtomicBool,
    state: Mutex<RecordState>,
}

/// Settings a service is launched with.
#[derive(Clone, Default)]
pub(crate) struct RecordConfig {
    /// `None`: the governor's default applies.
    pub(crate) restart: Option<RestartPolicy>,
    /// `None`: the governor's default applies.
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) critical: bool,
    pub(crate) notify_ready: bool,
    pub(crate) depends_on: Vec<Arc<str>>,
    /// How it follows some of those (`ServiceConfig::depends_on_with`);
    /// the others only order its start and stop.
    pub(crate) binds: Vec<(Arc<str>, crate::propagation::Bind)>,
    /// The heartbeat timeout (`ServiceConfig::watchdog`), read as each
    /// run begins.
    pub(crate) watchdog: Option<Duration>,
    /// Its current run is restarted by every reload.
    pub(crate) restart_on_reload: bool,
}

/// What [`Record::take_launch`] takes.
pub(crate) struct Launch {
    pub(crate) supervisor: PendingSupervisor,
    pub(crate) depends_on: Vec<Arc<str>>,
    pub(crate) settings: StartSettings,
}

/// The part of [`RecordConfig`] read when a service starts. The restart
/// policy is read again when it changes after the start (see
/// [`Record::changed_restart_policy`]); the shutdown timeout is read from the
/// record as each stop begins.
pub(crate) struct StartSettings {
    /// Boxed: most services use the governor's default, and this lives in
    /// every supervisor's task.
    pub(crate) restart: Option<Box<RestartPolicy>>,
    pub(crate) critical: bool,
    pub(crate) notify_ready: bool,
}

struct RecordState {
    /// Boxed, and only once configured: most services keep the defaults,
    /// and every record would otherwise carry the whole of it.
    config: Option<Box<RecordConfig>>,
    /// Present until the service is started.
    launch: Option<PendingSupervisor>,
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
    restart_at: At,
    /// Runtime time the current stop was requested.
    stop_requested_at: At,
    stop_time: At,
    timed_out: bool,
    /// When the latest run began and ended (runtime time).
    last_run: RunClock,
    /// The current run's hooks have been called.
    hooks_fired: bool,
    /// The current run's restart was asked for by its handle
    /// ([`Record::stop_run_then`]) or by a propagation
    /// ([`Record::hold_and_stop_run`]): asked once per run.
    restart_requested: bool,
    /// That restart was asked for by a propagation (`propagation.rs`):
    /// its supervisor propagates it no further.
    propagated: bool,
    /// Held by a propagation: no run begins until it is released
    /// (`record/hold.rs`).
    held: bool,
    /// Counted among its governor's live services (from its launch until
    /// its supervisor ends or is dropped).
    live: bool,
    /// Waiters for its governor's shutdown polled inside this service
    /// (see `LiveCount`); counted there while it is live.
    inside: usize,
    /// The current run's tasks, once it has spawned one (see `tasks.rs`).
    tasks: Option<Arc<RunTasks>>,
    /// The current run takes no new tasks (its main future has ended).
    tasks_closed: bool,
    /// Woken on every change of `ready` and `ended`.
    watchers: LazyWaitList,
}

/// A time on the runtime's clock, if any, in 8 bytes (an
/// `Option<Duration>` takes 16): nanoseconds, [`At::NONE`] for none.
/// Exact for any time under 584 years.
#[derive(Clone, Copy)]
pub(crate) struct At(u64);

impl At {
    pub(crate) const NONE: At = At(u64::MAX);

    pub(crate) fn some(at: Duration) -> At {
        At(RunClock::nanos(at))
    }

    pub(crate) fn get(self) -> Option<Duration> {
        (self.0 != u64::MAX).then(|| Duration::from_nanos(self.0))
    }
}

/// The latest run's [`RunTimes`] in 16 bytes: nanoseconds on the
/// runtime's clock, [`RunClock::UNSET`] for none. Exact for any time under
/// 584 years.
#[derive(Clone, Copy)]
pub(crate) struct RunClock {
    started: u64,
    ended: u64,
}

impl RunClock {
    const UNSET: u64 = u64::MAX;
    const NONE: RunClock = RunClock {
        started: Self::UNSET,
        ended: Self::UNSET,
    };

    fn nanos(at: Duration) -> u64 {
        u64::try_from(at.as_nanos()).map_or(Self::UNSET - 1, |n| n.min(Self::UNSET - 1))
    }

    /// A run began at `now`.
    pub(crate) fn begin(&mut self, now: Duration) {
        *self = RunClock {
            started: Self::nanos(now),
            ended: Self::UNSET,
        };
    }

    /// The run that began ended at `now`.
    pub(crate) fn end(&mut self, now: Duration) {
        if self.started != Self::UNSET {
            self.ended = Self::nanos(now);
        }
    }

    fn times(self) -> Option<RunTimes> {
        (self.started != Self::UNSET).then(|| RunTimes {
            started: Duration::from_nanos(self.started),
            ended: (self.ended != Self::UNSET).then(|| Duration::from_nanos(self.ended)),
        })
    }
}

/// What links a record to others and to user code (and its liveness):
/// boxed, and only once there is any, as most services have no dependents and no stop hooks
/// (three empty lists would be 72 bytes of every record).
#[derive(Default)]
struct Links {
    /// Started services that depend on this one (they stop before it).
    dependents: Vec<Arc<Record>>,
    /// Hooks for every run (added with `ServiceConfig::on_stop`).
    hooks: Vec<StopHook>,
    /// Hooks for the current run (added with `ServiceCtx::on_stop`).
    run_hooks: Vec<StopHook>,
    /// Heartbeats and health, once there is a watchdog or a health other
    /// than healthy (`record/liveness.rs`); here rather than in the record
    /// itself, where it would be a word of every record.
    liveness: liveness::LivenessBox,
    /// Set when a group restart releases it (`record/hold.rs`): its next
    /// run waits until this one is ready (the group's start order).
    after: Option<Arc<Record>>,
    /// The tasks aborted at the end of its last run (rare: a run cut off
    /// with tasks running).
    aborted_tasks: Vec<Arc<str>>,
}

/// The settings of a service that was never configured.
static DEFAULT_CONFIG: RecordConfig = RecordConfig {
    restart: None,
    shutdown_timeout: None,
    critical: false,
    notify_ready: false,
    depends_on: Vec::new(),
    binds: Vec::new(),
    watchdog: None,
    restart_on_reload: false,
};

impl RecordState {
    fn config(&self) -> &RecordConfig {
        self.config.as_deref().unwrap_or(&DEFAULT_CONFIG)
    }

    /// The service has ended for good, as `how` says (or
    /// `GaveUp`, if it gave up already). Its report says so at once; its
    /// watchers learn it only once `ended` is set too, which the
    /// supervisor does after emitting the events of that end (see
    /// [`Record::publish_end`]): a hook reading the report sees the end it is
    /// told about, and `wait()` returns only once the events are out.
    fn end_for_good(&mut self, how: EndForGood) {
        self.status = if how == EndForGood::GaveUp || self.status == ServiceState::GaveUp {
            ServiceState::GaveUp
        } else {
            ServiceState::Ended
        };
        self.run_token = None;
        self.restart_at = At::NONE;
    }
}

impl Record {
    pub(crate) fn new(name: Arc<str>, launch: Option<PendingSupervisor>) -> Self {
        Record {
            name,
            stopped: AtomicBool::new(false),
            has_dependents: AtomicBool::new(false),
            reconfigured: AtomicBool::new(false),
            forget_when_ended: AtomicBool::new(false),
            leaving: AtomicBool::new(false),
            forgotten: AtomicBool::new(false),
            in_span: AtomicBool::new(false),
            state: Mutex::new(RecordState {
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
                restart_at: At::NONE,
                stop_requested_at: At::NONE,
                stop_time: At::NONE,
                timed_out: false,
                last_run: RunClock::NONE,
                hooks_fired: false,
                restart_requested: false,
                propagated: false,
                held: false,
                live: false,
                inside: 0,
                tasks: None,
                tasks_closed: false,
                watchers: LazyWaitList::new(),
            }),
        }
    }

    /// Its state now, and how long the stop of its last run took if that
    /// run was asked to stop (read after `RunEnded`, before the next run
    /// begins: the metrics' view).
    #[cfg(feature = "metrics")]
    pub(crate) fn state_and_stop(&self) -> (ServiceState, Option<Duration>) {
        let state = self.state.lock();
        let stop = state.stop_requested_at.get().and(state.stop_time.get());
        (state.status, stop)
    }

    /// Whether its runs are polled inside a recorded `service` span.
    pub(crate) fn set_in_span(&self, in_span: bool) {
        self.in_span.store(in_span, Ordering::Relaxed);
    }

    /// Whether the calling thread is inside a run of this service, polled
    /// (or run) in its recorded `service` span: a log line there shows the
    /// name once, through the span.
    pub(crate) fn named_by_span(self: &Arc<Self>) -> bool {
        self.in_span.load(Ordering::Relaxed)
            && crate::inside::polled_inside()
                .is_some_and(|at| at.record == Arc::as_ptr(self) as usize)
    }

    /// Whether every reload restarts its current run.
    pub(crate) fn restarts_on_reload(&self) -> bool {
        self.state.lock().config().restart_on_reload
    }

    /// How many runs have begun.
    pub(crate) fn runs(&self) -> u64 {
        self.state.lock().runs
    }

    pub(crate) fn configure(&self, change: impl FnOnce(&mut RecordConfig)) {
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

    pub(crate) fn add_dependent(&self, dependent: Arc<Record>) {
        let mut state = self.state.lock();
        state
            .links
            .get_or_insert_default()
            .dependents
            .push(dependent);
        drop(state);
        self.has_dependents.store(true, Ordering::Release);
    }

    /// Whether a service has ever been recorded as depending on this one
    /// (one atomic load: the fast path of a restart with nobody to
    /// propagate it to).
    pub(crate) fn has_dependents(&self) -> bool {
        self.has_dependents.load(Ordering::Acquire)
    }

    /// The started services that depend on this one (no lock, no
    /// allocation when there are none, the common case).
    pub(crate) fn dependents(&self) -> Vec<Arc<Record>> {
        if !self.has_dependents() {
            return Vec::new();
        }
        let state = self.state.lock();
        state
            .links
            .as_ref()
            .map(|links| links.dependents.clone())
            .unwrap_or_default()
    }

    /// Forget this service once it ends for good (see
    /// [`should_forget`](Record::should_forget)).
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
    pub(crate) fn remove_dependent(&self, dependent: &Arc<Record>) -> Option<Arc<Record>> {
        if !self.has_dependents() {
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

    /// A waiter for the governor's shutdown is polled inside this service:
    /// the service counts as waiting inside (if live). Returns the
    /// governor's waiters to wake once the locks are released.
    pub(crate) fn enter_inside(&self, live_count: &LiveCount) -> Option<WakeAll> {
        let (watchers, waiters) = {
            let mut state = self.state.lock();
            state.inside += 1;
            if state.inside > 1 {
                return None;
            }
            let waiters = if state.live {
                live_count.inside_entered()
            } else {
                None
            };
            (state.watchers.take(), waiters)
        };
        watchers.wake();
        waiters
    }

    /// A waiter inside this service is done or dropped.
    pub(crate) fn leave_inside(&self, live_count: &LiveCount) {
        let watchers = {
            let mut state = self.state.lock();
            state.inside -= 1;
            if state.inside > 0 {
                return;
            }
            if state.live {
                // Losing one never makes anybody idle: nothing to wake.
                live_count.inside_left();
            }
            state.watchers.take()
        };
        watchers.wake();
    }

    /// The service's supervisor ended (or was dropped): it no longer counts
    /// as live, nor as waiting inside, in one step.
    pub(crate) fn leave_live(&self, live_count: &LiveCount) -> Leaving {
        let mut state = self.state.lock();
        state.live = false;
        live_count.begin_leave(state.inside > 0)
    }

    /// While a stop of the current run is under way: the runtime time it
    /// was asked for, and the service's own shutdown timeout (`None`: the
    /// governor's default applies). For the systemd notifier's
    /// `EXTEND_TIMEOUT_USEC`.
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) fn stop_progress(&self) -> Option<(Duration, Option<Duration>)> {
        let state = self.state.lock();
        match (state.status, state.stop_requested_at.get()) {
            (ServiceState::Stopping, Some(asked)) if state.run_token.is_some() => {
                Some((asked, state.config().shutdown_timeout))
            }
            _ => None,
        }
    }

    /// Run number `run`'s tasks, made at its first spawn; `None` if that
    /// run is not in progress or takes no new tasks (its main future has
    /// ended).
    pub(crate) fn run_tasks(&self, run: u64) -> Option<Arc<RunTasks>> {
        let mut state = self.state.lock();
        if state.runs != run || state.tasks_closed {
            return None;
        }
        let run_stop = state.run_token.clone()?;
        let name = self.name.clone();
        Some(
            state
                .tasks
                .get_or_insert_with(|| Arc::new(RunTasks::new(name, run_stop)))
                .clone(),
        )
    }

    /// Run number `run`'s tasks, if it is in progress and has any.
    pub(crate) fn current_run_tasks(&self, run: u64) -> Option<Arc<RunTasks>> {
        let state = self.state.lock();
        if state.runs != run {
            return None;
        }
        state.tasks.clone()
    }

    /// The current run takes no new tasks: returns its tasks, if any.
    pub(crate) fn close_run_tasks(&self) -> Option<Arc<RunTasks>> {
        let mut state = self.state.lock();
        state.tasks_closed = true;
        state.tasks.clone()
    }

    /// Whether the current run's stop was asked for by its handle's
    /// `restart` or by a propagation (not by a shutdown, nor by its own
    /// tasks), and if so whether by a propagation.
    pub(crate) fn restart_requested(&self) -> (bool, bool) {
        let state = self.state.lock();
        (state.restart_requested, state.propagated)
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
            restart_in: state.restart_at.get().map(|at| at.saturating_sub(now)),
            stop_time: state.stop_time.get(),
            timed_out: state.timed_out,
            aborted_tasks: state
                .links
                .as_ref()
                .map_or_else(Vec::new, |links| links.aborted_tasks.clone()),
            last_run: state.last_run.times(),
            health: Record::health_of(&state),
        }
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
        tracing::error!(target: crate::targets::FAULT, %service, "dropping a {what}: {outcome}");
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = (service, what);
        drop(value);
    }
}
