//! The governor's shared state ([`Shared`]): what its handles, its
//! services' contexts and handles and their supervisors all hold. It keeps
//! the list of records and their names, the defaults, the event hook and
//! observers, the
//! shutdown cause, and does the governor's work under its lock: starting
//! (`start_records`), forgetting, reporting, requesting shutdown.
//!
//! Over 400 lines because starting, forgetting and reporting all work on
//! the private `State` under its one lock; apart, they would each need it
//! exposed.
//!
//! # Invariants
//!
//! 1. A name in `names` maps to exactly one record that is not forgotten;
//!    a forgotten record stays in `services`/`pending` only until the next
//!    compaction (`forgotten` counts them) and is skipped by reports.
//! 2. `cause` is set once, under the lock, before the global token is
//!    stopped; once set, nothing starts (`start_records` refuses with
//!    [`Error::StartAfterShutdown`], marking the records it covered
//!    `Refused`) and it is never cleared. `shutdown_began` is set with it,
//!    `shutdown_ended` when `ShutdownComplete` is emitted.
//! 3. A record is started at most once: `start_records` takes its launch
//!    under the lock, checks every dependency of the whole batch
//!    (all or nothing, `dependencies.rs`) and only then counts the batch
//!    as live (`LiveCount::enter_many`) before spawning anything.
//! 4. `defaults_version` changes only under the lock, after the defaults
//!    did, so a supervisor's cached copy is refreshed on its next run.
//! 5. `ShutdownComplete` is emitted once (`complete_reported`), when the
//!    global token is stopped and no service is live.
//!
//! # The governor's own states
//!
//! | state               | entered by                                  | seen as                               |
//! |---------------------|---------------------------------------------|---------------------------------------|
//! | running             | `Shared::new`                               | `cause` is `None`                     |
//! | shutting down       | `request_shutdown` (first call, once)       | `cause` set, global `token` stopped |
//! | forced              | `force` (after `request_shutdown`)          | `forced` set, `force` token stopped |
//! | complete            | `report_complete` (no service live)         | `complete_reported`                   |
//!
//! # Lock order and user code
//!
//! The governor's `state` lock comes first: under it a record's lock may
//! be taken (report, start, forget), and under that a token node's; never
//! the other way round. `events`, `observers`, `children`, `reload`,
//! `open_reloads` and `signal_stream` are leaf locks, held only to copy, swap or poll
//! what they hold. No user code runs under any of them: the event hook is
//! cloned out and called after unlocking (and a panic in it is caught),
//! records dropped by forgetting go to a `garbage` list dropped after
//! unlocking, and tasks are spawned after the lock is released.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::time::Duration;

use super::dependencies::check_dependencies;
use super::signals::SignalAction;
use super::Owner;
use crate::error::Error;
use crate::event::Event;
use crate::live_count::LiveCount;
use crate::name_index::NameIndex;
use crate::record::{Launch, NeverStarted, Record, StopScope};
use crate::report::{Report, ServiceReport, ShutdownCause};
use crate::restart::RestartPolicy;
use crate::runtime::{Runtime, Signal, SignalStream};
use crate::supervisor_task::SupervisorInputs;
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::token::{StopSource, StopToken};

/// Runs `deliver` (one consumer of `event`), catching a panic (`std`).
fn caught(event: &Event, who: &str, deliver: impl FnOnce()) {
    #[cfg(feature = "std")]
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(deliver)) {
        let outcome = crate::outcome::outcome_of_panic(payload);
        tracing::error!(target: crate::targets::FAULT, service = event.service(), "{who} {outcome}");
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = (event, who);
        deliver();
    }
}

/// A hook that receives every [`Event`].
pub(crate) type EventHook = Arc<dyn Fn(&Event) + Send + Sync + 'static>;

/// State shared by the governor's handles, its services' contexts and
/// their supervisors.
pub(crate) struct Shared {
    pub(crate) runtime: Arc<dyn Runtime>,
    /// The global stop token (Go's `GlobalContext`): stopped as soon as
    /// shutdown is requested. Services' own tokens follow in order.
    pub(crate) token: StopSource,
    /// Stopped by a forced shutdown: every run is dropped at once.
    pub(crate) force: StopSource,
    pub(crate) live_count: LiveCount,
    pub(super) state: Mutex<State>,
    /// Bumped (under the state's lock) whenever the defaults change.
    pub(super) defaults_version: AtomicUsize,
    pub(super) events: Mutex<Option<EventHook>>,
    /// The observers ([`Governor::observe_events`](crate::Governor::observe_events)),
    /// in the order added: each sees every event beside the hook (or the
    /// log). Copy-on-write, so that delivering an event clones one `Arc`
    /// under this leaf lock, never the list.
    pub(super) observers: Mutex<Arc<[EventHook]>>,
    /// A hook or an observer has been set (neither is ever unset): without
    /// one, and with no `tracing` subscriber interested in anything, an
    /// event goes nowhere and is dropped at once, without taking a lock.
    pub(super) hooked: AtomicBool,
    /// `ShutdownComplete` has been emitted.
    pub(super) complete_reported: AtomicBool,
    /// Stopped when the governor is dropped: ends its signal listener.
    pub(crate) dropped: StopSource,
    /// Stopped once the shutdown is complete (with `ShutdownComplete`):
    /// ends the signal listener too.
    pub(super) finished: StopSource,
    /// The runtime's signal stream while signals are caught: polled by the
    /// listener (under this leaf lock, never across an await), taken and
    /// dropped when the shutdown is complete, before `wait_for_shutdown`
    /// returns, so that a later signal gets its default action again
    /// (the adapters' promise on dropping the stream). Dropped with the
    /// governor otherwise.
    pub(super) signal_stream: Mutex<Option<SignalStream>>,
    /// The number of the latest reload (0 before any); changed under
    /// `reload`'s lock (see `governor/reload.rs`).
    pub(super) reload_generation: AtomicUsize,
    /// Stopped by the next reload (and then replaced): what
    /// `ServiceCtx::reloaded` waits on. A leaf lock.
    pub(super) reload: Mutex<StopSource>,
    /// The group's strategy, restart limit and group restarts
    /// (`propagation.rs`). A leaf lock.
    pub(crate) group: Mutex<crate::propagation::Group>,
    /// The shutdown budget's plan, once the stop began with a budget set
    /// (see `governor/budget.rs`). A leaf lock.
    pub(super) budget: Mutex<Option<alloc::boxed::Box<super::budget::Plan>>>,
    /// The reloads told (`Reloading`) and not closed (`Reloaded`) yet. A
    /// leaf lock.
    pub(super) open_reloads: Mutex<Vec<u64>>,
    /// The user handles' owner, while any handle lives.
    pub(super) owner: Mutex<Weak<Owner>>,
    /// Governors created by this one's services
    /// ([`ServiceCtx::child_governor`](crate::ServiceCtx::child_governor)),
    /// each with the service it runs under: a wait for this governor's
    /// shutdown polled inside one of their services is inside that service.
    pub(super) children: Mutex<Vec<(Weak<Shared>, Arc<Record>)>>,
    /// The systemd notifier ([`Governor::notify_systemd`](crate::Governor::notify_systemd)),
    /// once set: it sees every event besides the user's hook. A leaf
    /// lock, held only to clone it out.
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) notifier: Mutex<Option<Arc<crate::systemd::Notifier>>>,
    /// A notifier is set (it is never unset): events are built for it
    /// even without a hook or a `tracing` subscriber.
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) notifying: AtomicBool,
    /// The metrics ([`Governor::record_metrics`](crate::Governor::record_metrics)),
    /// once turned on: `add` registers each new service's series. A leaf
    /// lock, held only to clone it out.
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Mutex<Option<Arc<crate::metrics::Metrics>>>,
}

/// The settings every service shares unless it sets its own.
#[derive(Clone)]
pub(crate) struct Defaults {
    pub(crate) restart: RestartPolicy,
    pub(crate) shutdown_timeout: Option<Duration>,
}

pub(super) struct State {
    pub(super) defaults: Arc<Defaults>,
    pub(super) catch_signals: bool,
    pub(super) signals_installed: bool,
    /// The whole shutdown's budget, and the drain delay before its first
    /// stop (see `governor/budget.rs`).
    pub(super) budget: Option<Duration>,
    pub(super) drain: Option<Duration>,
    /// The drain delay is running: a shutdown was requested, the global
    /// token is not stopped yet.
    pub(super) draining: bool,
    /// The stop has begun (the plan made, the token stopped): once.
    pub(super) stop_begun: bool,
    /// The signals caught and what each does (see `governor/signals.rs`).
    pub(super) signal_actions: Vec<(Signal, SignalAction)>,
    /// Every service, in the order added, and some forgotten ones (see
    /// `forgotten`), until the list is next compacted.
    pub(super) services: Vec<Arc<Record>>,
    /// How many records in `services` (and perhaps `pending`) are
    /// forgotten: they are taken out once they are half of the list, so
    /// that forgetting costs O(1) amortised and the lists stay as long as
    /// the services kept, within a factor of two.
    pub(super) forgotten: usize,
    pub(super) names: NameIndex,
    /// Added but not started by `start` yet (some may have been started
    /// alone since; `start` skips those).
    pub(super) pending: Vec<Arc<Record>>,
    pub(super) cause: Option<ShutdownCause>,
    pub(super) forced: bool,
    /// Runtime time `cause` was set.
    pub(super) shutdown_began: Option<Duration>,
    /// Runtime time `ShutdownComplete` was emitted.
    pub(super) shutdown_ended: Option<Duration>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.dropped.stop();
    }
}

impl Shared {
    /// A governor's state over `runtime`: no services, no signal
    /// catching, no shutdown timeout, the default restart policy.
    pub(super) fn new(runtime: Arc<dyn Runtime>) -> Shared {
        Shared {
            runtime,
            token: StopSource::new(),
            force: StopSource::new(),
            live_count: LiveCount::default(),
            state: Mutex::new(State {
                defaults: Arc::new(Defaults {
                    restart: RestartPolicy::never(),
                    shutdown_timeout: None,
                }),
                catch_signals: false,
                signals_installed: false,
                signal_actions: super::signals::default_actions(),
                budget: None,
                drain: None,
                draining: false,
                stop_begun: false,
                services: Vec::new(),
                forgotten: 0,
                names: NameIndex::default(),
                pending: Vec::new(),
                cause: None,
                forced: false,
                shutdown_began: None,
                shutdown_ended: None,
            }),
            defaults_version: AtomicUsize::new(0),
            events: Mutex::new(None),
            observers: Mutex::new(Arc::from(Vec::new())),
            hooked: AtomicBool::new(false),
            complete_reported: AtomicBool::new(false),
            dropped: StopSource::new(),
            finished: StopSource::new(),
            signal_stream: Mutex::new(None),
            reload_generation: AtomicUsize::new(0),
            reload: Mutex::new(StopSource::new()),
            group: Mutex::new(crate::propagation::Group::default()),
            open_reloads: Mutex::new(Vec::new()),
            budget: Mutex::new(None),
            owner: Mutex::new(Weak::new()),
            children: Mutex::new(Vec::new()),
            #[cfg(all(feature = "systemd", unix))]
            notifier: Mutex::new(None),
            #[cfg(all(feature = "systemd", unix))]
            notifying: AtomicBool::new(false),
            #[cfg(feature = "metrics")]
            metrics: Mutex::new(None),
        }
    }

    /// A number unique to this governor while it lives: its address.
    pub(crate) fn id(&self) -> usize {
        self as *const Shared as usize
    }

    /// The governor-wide defaults, from `cache` unless they changed since
    /// it was filled: one atomic load on every run of every service rather
    /// than a lock of the governor's state (and one word in each
    /// supervisor for the cache).
    pub(crate) fn defaults<'c>(
        &self,
        cache: &'c mut Option<(usize, Arc<Defaults>)>,
    ) -> &'c Defaults {
        let version = self.defaults_version.load(Ordering::Acquire);
        if cache.as_ref().is_some_and(|(seen, _)| *seen != version) {
            *cache = None;
        }
        let (_, defaults) = cache.get_or_insert_with(|| {
            let state = self.state.lock();
            // Read under the lock, which every change holds.
            let version = self.defaults_version.load(Ordering::Relaxed);
            (version, state.defaults.clone())
        });
        defaults
    }

    /// Changes the governor-wide defaults.
    pub(super) fn set_defaults(&self, change: impl FnOnce(&mut Defaults)) {
        let mut state = self.state.lock();
        change(Arc::make_mut(&mut state.defaults));
        self.defaults_version.fetch_add(1, Ordering::Release);
    }

    /// Hands `event` to every observer, then to the hook or the log. A
    /// panic there (in an observer, the hook, or a user error's `Display`
    /// while logging) is caught, and the others still see the event.
    ///
    /// The event is built only if it goes somewhere: without a hook, and
    /// with no `tracing` subscriber interested in anything, it is not.
    #[inline]
    pub(crate) fn emit(&self, event: impl FnOnce() -> Event) {
        #[cfg(all(feature = "systemd", unix))]
        let notifying = self.notifying.load(Ordering::Acquire);
        #[cfg(not(all(feature = "systemd", unix)))]
        let notifying = false;
        if !notifying
            && !self.hooked.load(Ordering::Acquire)
            && tracing::level_filters::LevelFilter::current()
                == tracing::level_filters::LevelFilter::OFF
        {
            return; // no hook, and `Event::log` would record nothing
        }
        self.deliver(event());
    }

    /// Hands a built event to the observers, then the hook or the log (out
    /// of line: the common case, nowhere to go, is the check in `emit`).
    #[inline(never)]
    fn deliver(&self, event: Event) {
        // The systemd notifier first (crate code, beside the observers and
        // the user's hook, never instead of them), outside every lock.
        #[cfg(all(feature = "systemd", unix))]
        if let Some(notifier) = self.notifier.lock().clone() {
            caught(&event, "systemd notifier", || {
                notifier.on_event(self, &event)
            });
        }
        let observers = self.observers.lock().clone();
        for observer in observers.iter() {
            caught(&event, "event observer", || observer(&event));
        }
        let hook = self.events.lock().clone();
        caught(&event, "event hook", || match &hook {
            Some(hook) => hook(&event),
            None => event.log_naming(!self.named_by_span(&event)),
        });
    }

    /// Whether `event` is emitted inside a run of the service it is about,
    /// in that run's recorded span (then the log names it once, there).
    fn named_by_span(&self, event: &Event) -> bool {
        let Some(name) = event.service() else {
            return false;
        };
        // Cheap checks first: most events are emitted by supervisors,
        // outside every run.
        if crate::inside::polled_inside().is_none_or(|at| at.governor != self.id()) {
            return false;
        }
        self.record(name).is_ok_and(|record| record.named_by_span())
    }

    /// Adds an observer of every event (see `Governor::observe_events`).
    pub(crate) fn observe(&self, observer: EventHook) {
        let mut observers = self.observers.lock();
        let more: Vec<EventHook> = observers.iter().cloned().chain([observer]).collect();
        *observers = Arc::from(more);
        drop(observers);
        self.hooked.store(true, Ordering::Release);
    }

    /// Every service not forgotten, in the order added (a copy).
    #[cfg(feature = "metrics")]
    pub(crate) fn records(&self) -> Vec<Arc<Record>> {
        let state = self.state.lock();
        state
            .services
            .iter()
            .filter(|record| !record.forgotten())
            .cloned()
            .collect()
    }

    /// The governor's stop (the global token), whether it is dropped, and
    /// the governor held weakly: what a task of the governor's own needs to
    /// end with it without keeping it alive.
    pub(super) fn weak_watch(self: &Arc<Self>) -> (Weak<Shared>, StopToken, StopToken) {
        (
            Arc::downgrade(self),
            self.token.token().clone(),
            self.dropped.token().clone(),
        )
    }

    /// The supervisor of the service `record` ended (or was dropped).
    pub(crate) fn service_ended(&self, record: &Record) {
        let leaving = record.leave_live(&self.live_count);
        self.live_count.finish_leave(leaving, || {
            if self.token.stopping() {
                self.report_complete();
            }
        });
    }

    /// Records `child`, created by the service `record` of this governor.
    pub(crate) fn add_child(&self, child: &Arc<Shared>, record: Arc<Record>) {
        let mut children = self.children.lock();
        // Those gone (a subtree's earlier runs) are forgotten here.
        children.retain(|(child, _)| child.strong_count() > 0);
        children.push((Arc::downgrade(child), record));
    }

    /// The service of this governor the caller is polled (or run) inside,
    /// directly or through the services of governors it created; `None`
    /// outside all of them.
    pub(crate) fn inside_service(&self) -> Option<Arc<Record>> {
        self.find_inside(crate::inside::polled_inside()?)
    }

    /// The service of this governor under which the service `at` names
    /// runs (that service itself if it is one of this governor's).
    fn find_inside(&self, at: crate::inside::InsideMarker) -> Option<Arc<Record>> {
        if at.governor == self.id() {
            let state = self.state.lock();
            return state
                .services
                .iter()
                .find(|s| Arc::as_ptr(s) as usize == at.record)
                .cloned();
        }
        // Copied out: the search goes on under no lock of this governor.
        let children = self.children.lock().clone();
        children.into_iter().find_map(|(child, under)| {
            let child = child.upgrade()?;
            child.find_inside(at).map(|_| under)
        })
    }

    /// Takes the governor's lock and lets go: the watchdog's probe, which
    /// answers only if the runtime runs the governor's tasks and its lock
    /// is not held for ever.
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) fn answer_probe(&self) {
        drop(self.state.lock());
    }

    /// Whether a start must list the services it started (for the
    /// systemd notifier's `READY=1`).
    fn wants_started(&self) -> bool {
        #[cfg(all(feature = "systemd", unix))]
        return self.notifying.load(Ordering::Acquire);
        #[cfg(not(all(feature = "systemd", unix)))]
        false
    }

    /// How many services have a run in progress (running or ready).
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) fn running_services(&self) -> usize {
        use crate::report::ServiceState;
        self.report()
            .services
            .iter()
            .filter(|s| matches!(s.state, ServiceState::Running | ServiceState::Ready))
            .count()
    }

    /// The services whose stop is under way, in the order added, each with
    /// the time left of its shutdown timeout at runtime time `now`
    /// (`None`: it has none, and may take as long as it likes).
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) fn stopping_services(&self, now: Duration) -> Vec<(Arc<str>, Option<Duration>)> {
        // A shutdown budget caps every service's time: none is asked for
        // past its end (a leaf lock, read before the governor's).
        let budget_left = self.budget_end().map(|end| end.saturating_sub(now));
        let state = self.state.lock();
        let default = state.defaults.shutdown_timeout;
        state
            .services
            .iter()
            .filter(|record| !record.forgotten())
            .filter_map(|record| {
                let (asked, own) = record.stop_progress()?;
                let own_left = own
                    .or(default)
                    .map(|timeout| asked.saturating_add(timeout).saturating_sub(now));
                let left = match (own_left, budget_left) {
                    (Some(own), Some(budget)) => Some(own.min(budget)),
                    (own, budget) => own.or(budget),
                };
                Some((record.name.clone(), left))
            })
            .collect()
    }

    pub(super) fn report_complete(&self) {
        if !self.complete_reported.swap(true, Ordering::AcqRel) {
            // The clock is the runtime's code: read before the lock.
            let now = self.runtime.now();
            let forced = {
                let mut state = self.state.lock();
                state.shutdown_ended = Some(now);
                state.forced
            };
            self.emit(|| Event::ShutdownComplete { forced });
            self.release_signals();
            self.finished.stop();
        }
    }

    /// Stops catching signals: the runtime's stream is dropped (outside
    /// the lock), which gives them their default action back.
    pub(super) fn release_signals(&self) {
        let stream = self.signal_stream.lock().take();
        if stream.is_some() {
            drop(stream);
            tracing::debug!("no longer catching signals");
        }
    }

    /// Whether a shutdown has been requested (its cause is set).
    pub(crate) fn shutdown_requested(&self) -> bool {
        self.state.lock().cause.is_some()
    }

    /// What `signal` does, cloned out of the lock; `None` if it is not
    /// configured (then it is one of the shutdown signals' defaults).
    pub(super) fn signal_action(&self, signal: Signal) -> Option<SignalAction> {
        let state = self.state.lock();
        state
            .signal_actions
            .iter()
            .find(|(s, _)| *s == signal)
            .map(|(_, action)| action.clone())
    }

    /// Requests shutdown; returns whether this call did. With a drain
    /// delay (and services live), the stop begins once it has passed.
    pub(crate) fn request_shutdown(self: &Arc<Self>, cause: ShutdownCause) -> bool {
        // The clock is the runtime's code: read before the lock.
        let requested = self.runtime.now();
        let drain = {
            let mut state = self.state.lock();
            if state.cause.is_some() {
                return false;
            }
            state.cause = Some(cause.clone());
            state.shutdown_began = Some(requested);
            let drain = state
                .drain
                .filter(|d| !d.is_zero() && self.live_count.count() > 0);
            state.draining = drain.is_some();
            drain
        };
        self.emit(|| Event::ShutdownRequested { cause });
        self.close_all_reloads();
        match drain {
            Some(delay) => self.drain_then_stop(requested, delay),
            None => self.begin_stopping(requested),
        }
        true
    }

    /// Forces the shutdown: every run left is aborted at once (a drain
    /// under way ends now).
    pub(super) fn force(self: &Arc<Self>, cause: ShutdownCause) {
        self.request_shutdown(cause);
        self.state.lock().forced = true;
        // Ends a drain under way (once: `begin_stopping` says so).
        self.begin_stopping(self.runtime.now());
        self.force.stop();
    }

    /// Whether the drain delay is running (see
    /// [`Governor::draining`](super::Governor::draining)).
    pub(crate) fn draining(&self) -> bool {
        self.state.lock().draining
    }

    pub(crate) fn report(&self) -> Report {
        let now = self.runtime.now();
        // Each record is read under the governor's lock (the order `start`
        // takes them in too): no copy of the list.
        let state = self.state.lock();
        let budget = self.budget_report();
        Report {
            cause: state.cause.clone(),
            forced: state.forced,
            shutdown_began: state.shutdown_began,
            shutdown_ended: state.shutdown_ended,
            draining: state.draining,
            budget,
            services: state
                .services
                .iter()
                .filter(|record| !record.forgotten())
                .map(|record| record.report(now))
                .collect(),
        }
    }

    /// Why shutdown began, if it has.
    pub(crate) fn cause(&self) -> Option<ShutdownCause> {
        self.state.lock().cause.clone()
    }

    /// Waits until no service is live (or, inside one, only those waiting
    /// inside are), then returns the report.
    pub(crate) async fn wait_for_shutdown(&self) -> Report {
        self.live_count.wait_idle(|| self.inside_service()).await;
        self.report()
    }

    /// The services' health, read as `report` reads them (see
    /// `health.rs`).
    pub(crate) fn health(&self) -> crate::health::HealthReport {
        let state = self.state.lock();
        let mut report = crate::health::HealthReport {
            shutting_down: state.cause.is_some(),
            ..Default::default()
        };
        for record in state.services.iter().filter(|r| !r.forgotten()) {
            let (status, health) = record.health_view();
            report.add(&record.name, status, health);
        }
        report
    }

    /// Forgets `record`: its name is free again, and it no longer appears
    /// in reports. Idempotent.
    pub(crate) fn forget(&self, record: &Arc<Record>) {
        let mut garbage = Vec::new();
        forget_locked(&mut self.state.lock(), record, &mut garbage);
        drop(garbage); // records' (user values') Drop runs outside the lock
    }

    /// Removes `record` from the governor: refused while a started service
    /// that depends on it has not ended for good; otherwise stops it (if
    /// it has not started, it never will), waits until it has ended for
    /// good, forgets it and returns its final report.
    /// A service's handle asked `record` to stop (for good, or its run
    /// only, to `restart`): told as [`Event::StopRequested`], so that no stop is
    /// anonymous.
    /// The group's members (`propagation.rs`): the started services that
    /// have not ended for good, in the order they were added.
    pub(crate) fn group_members(&self) -> Vec<Arc<Record>> {
        let members: Vec<Arc<Record>> = {
            let state = self.state.lock();
            state
                .services
                .iter()
                .filter(|r| !r.forgotten())
                .cloned()
                .collect()
        };
        members
            .into_iter()
            .filter(|r| !r.pending() && !r.ended())
            .collect()
    }

    pub(crate) fn stop_requested(&self, record: &Record, scope: StopScope) {
        self.emit(|| Event::StopRequested {
            service: record.name.clone(),
            restart: scope == StopScope::ThisRun,
        });
    }

    pub(crate) async fn remove(&self, record: &Arc<Record>) -> Result<ServiceReport, Error> {
        {
            let state = self.state.lock();
            if !record.forgotten() {
                let dependents = record.dependents();
                if let Some(dependent) = dependents.iter().find(|d| !d.ended()) {
                    return Err(Error::DependedOn {
                        service: record.name.clone(),
                        dependent: dependent.name.clone(),
                    });
                }
                // Under the lock `start` checks dependencies under: no
                // new dependent from now on.
                record.set_leaving();
            }
            drop(state);
        }
        if !record.drop_launch_then(|| self.forget(record)) {
            record.stop_then(|| self.stop_requested(record, StopScope::ForGood));
        }
        record.watch(|view| view.ended.then_some(())).await;
        self.forget(record);
        Ok(record.report(self.runtime.now()))
    }

    pub(crate) fn record(&self, name: &str) -> Result<Arc<Record>, Error> {
        self.state
            .lock()
            .names
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownService { name: name.into() })
    }

    /// Starts the pending records `which` names (those not started
    /// meanwhile), after checking their dependencies: all or nothing.
    /// Returns the records started if `list` asks for them (a list costs
    /// an allocation that a plain `start` does not need).
    pub(super) fn start_records(
        self: &Arc<Self>,
        which: ToStart<'_>,
        list: StartedList,
    ) -> StartResult {
        let all_pending = matches!(which, ToStart::AllPending);
        let mut launched = Vec::new();
        {
            let mut state = self.state.lock();
            if state.cause.is_some() {
                // The services this start covers are told apart from those
                // never started: `Refused`, for good (the cause is never
                // cleared). Their values are dropped after the lock.
                let covered: Vec<Arc<Record>> = match which {
                    ToStart::AllPending => core::mem::take(&mut state.pending),
                    ToStart::One(record) => alloc::vec![record.clone()],
                };
                let refused: Vec<NeverStarted> = covered
                    .iter()
                    .filter_map(|record| record.refuse_launch())
                    .collect();
                drop(state);
                for refused in refused {
                    refused.complete();
                }
                return Err(Error::StartAfterShutdown);
            }
            let candidates: Vec<Arc<Record>> = match which {
                ToStart::AllPending => core::mem::take(&mut state.pending),
                ToStart::One(record) => alloc::vec![record.clone()],
            };
            // One visit per record: take what starts it, if it is still
            // pending (and put it back if the checks fail).
            let to_start: Vec<(&Arc<Record>, Launch)> = candidates
                .iter()
                .filter_map(|record| record.take_launch().map(|taken| (record, taken)))
                .collect();
            if let Err(e) = check_dependencies(&state.names, &to_start) {
                // Services stopped meanwhile are not put back; their values
                // are dropped once the lock is released (and they are
                // forgotten now if asked: they have ended).
                let mut cancelled: Vec<NeverStarted> = Vec::new();
                let mut garbage = Vec::new();
                for (record, taken) in to_start {
                    if let Some(c) = record.restore_launch(taken.supervisor) {
                        cancelled.push(c);
                    }
                    if record.should_forget(state.cause.is_some()) && record.ended() {
                        forget_locked(&mut state, record, &mut garbage);
                    }
                }
                if all_pending {
                    state.pending = candidates; // nothing started
                }
                drop(state);
                drop(garbage);
                for cancelled in cancelled {
                    cancelled.complete();
                }
                return Err(e);
            }
            launched.reserve(to_start.len());
            for (record, taken) in to_start {
                let deps: Vec<Arc<Record>> = taken
                    .depends_on
                    .iter()
                    .filter_map(|name| state.names.get(name).cloned())
                    .collect();
                for dep in &deps {
                    dep.add_dependent(record.clone());
                }
                let inputs = SupervisorInputs {
                    shared: self.clone(),
                    record: record.clone(),
                    deps,
                    settings: taken.settings,
                };
                launched.push((taken.supervisor, inputs));
            }
            self.live_count.enter_many(launched.len());
        }
        let started: Vec<Arc<Record>> = if list == StartedList::Wanted || self.wants_started() {
            launched
                .iter()
                .map(|(_, inputs)| inputs.record.clone())
                .collect()
        } else {
            Vec::new()
        };
        // The systemd notifier hears of the first start before any of its
        // services runs (its `STATUS=starting` comes first).
        #[cfg(all(feature = "systemd", unix))]
        crate::systemd::started(self, &started);
        for (launch, inputs) in launched {
            self.runtime.spawn(launch.launch(inputs));
        }
        Ok(started)
    }
}

pub(super) type StartResult = Result<Vec<Arc<Record>>, Error>;

/// Which services a start starts.
pub(super) enum ToStart<'a> {
    /// Every service added and not started yet (`Governor::start`).
    AllPending,
    /// This one, if it has not started yet (`ServiceConfig::start`).
    One(&'a Arc<Record>),
}

/// Whether a start returns the records it started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StartedList {
    /// `start_wait_ready` waits for them.
    Wanted,
    /// A plain start: no list is built.
    NotWanted,
}

/// Forgets `record` (see [`Shared::forget`]) under the governor's lock;
/// what is to be dropped goes to `garbage`, for after the lock.
pub(super) fn forget_locked(
    state: &mut State,
    record: &Arc<Record>,
    garbage: &mut Vec<Arc<Record>>,
) {
    if !record.mark_forgotten() {
        return;
    }
    garbage.extend(state.names.remove(record));
    // Its dependencies no longer wait for it at shutdown.
    for dependency in record.depends_on() {
        if let Some(dependency) = state.names.get(&dependency) {
            garbage.extend(dependency.remove_dependent(record));
        }
    }
    state.forgotten += 1;
    if state.forgotten >= 32 && state.forgotten * 2 >= state.services.len() {
        for list in [&mut state.services, &mut state.pending] {
            let all = core::mem::take(list);
            list.reserve(all.len().saturating_sub(state.forgotten));
            for record in all {
                if record.forgotten() {
                    garbage.push(record);
                } else {
                    list.push(record);
                }
            }
        }
        state.forgotten = 0;
    }
}
