//! The governor's shared state ([`Shared`]): what its handles, its
//! services' contexts and handles and their supervisors all hold. It keeps
//! the list of records and their names, the defaults, the event hook, the
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
//!    [`Error::StartAfterShutdown`]) and it is never cleared.
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
//! the other way round. `events`, `children`, `reload`, `open_reloads`
//! and `signal_stream` are leaf locks, held only to copy, swap or poll
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
use crate::record::{Launch, NeverStarted, Record};
use crate::report::{Report, ServiceReport, ShutdownCause};
use crate::restart::RestartPolicy;
use crate::runtime::{Runtime, Signal, SignalStream};
use crate::supervisor_task::SupervisorInputs;
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::token::StopSource;

/// A hook that receives every [`Event`].
pub(crate) type EventHook = Arc<dyn Fn(&Event) + Send + Sync + 'static>;

/// State shared by the governor's handles, its services' contexts and
/// their supervisors.
pub(crate) struct Shared {
    pub(crate) runtime: Arc<dyn Runtime>,
    /// The global stop token (Go's `GlobalContext`): stopped as soon as
    /// shutdown is requested. Services' own tokens follow in order.
    pub(crate) token: StopSource,
    /// WaitForStop by a forced shutdown: every run is dropped at once.
    pub(crate) force: StopSource,
    pub(crate) live_count: LiveCount,
    pub(super) state: Mutex<State>,
    /// Bumped (under the state's lock) whenever the defaults change.
    pub(super) defaults_version: AtomicUsize,
    pub(super) events: Mutex<Option<EventHook>>,
    /// A hook has been set (it is never unset): without one, and with no
    /// `tracing` subscriber interested in anything, an event goes nowhere
    /// and is dropped at once, without taking the lock.
    pub(super) hooked: AtomicBool,
    /// `ShutdownComplete` has been emitted.
    pub(super) complete_reported: AtomicBool,
    /// WaitForStop when the governor is dropped: ends its signal listener.
    pub(super) dropped: StopSource,
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
            }),
            defaults_version: AtomicUsize::new(0),
            events: Mutex::new(None),
            hooked: AtomicBool::new(false),
            complete_reported: AtomicBool::new(false),
            dropped: StopSource::new(),
            finished: StopSource::new(),
            signal_stream: Mutex::new(None),
            reload_generation: AtomicUsize::new(0),
            reload: Mutex::new(StopSource::new()),
            open_reloads: Mutex::new(Vec::new()),
            budget: Mutex::new(None),
            owner: Mutex::new(Weak::new()),
            children: Mutex::new(Vec::new()),
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

    /// Hands `event` to the hook, or logs it. A panic there (in the hook,
    /// or in a user error's `Display` while logging) is caught.
    ///
    /// The event is built only if it goes somewhere: without a hook, and
    /// with no `tracing` subscriber interested in anything, it is not.
    #[inline]
    pub(crate) fn emit(&self, event: impl FnOnce() -> Event) {
        if !self.hooked.load(Ordering::Acquire)
            && tracing::level_filters::LevelFilter::current()
                == tracing::level_filters::LevelFilter::OFF
        {
            return; // no hook, and `Event::log` would record nothing
        }
        self.deliver(event());
    }

    /// Hands a built event to the hook, or logs it (out of line: the
    /// common case, nowhere to go, is the check in `emit`).
    #[inline(never)]
    fn deliver(&self, event: Event) {
        let hook = self.events.lock().clone();
        let deliver = || match &hook {
            Some(hook) => hook(&event),
            None => event.log(),
        };
        #[cfg(feature = "std")]
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(deliver)) {
            let outcome = crate::outcome::outcome_of_panic(payload);
            tracing::error!(service = event.service(), "event hook {outcome}");
        }
        #[cfg(not(feature = "std"))]
        deliver();
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
        let (governor, record) = crate::inside::polled_inside()?;
        self.find_inside(governor, record)
    }

    /// The service of this governor under which the service at `record` of
    /// governor `governor` runs (the service itself if `governor` is this
    /// one).
    fn find_inside(&self, governor: usize, record: usize) -> Option<Arc<Record>> {
        if governor == self.id() {
            let state = self.state.lock();
            return state
                .services
                .iter()
                .find(|s| Arc::as_ptr(s) as usize == record)
                .cloned();
        }
        // Copied out: the search goes on under no lock of this governor.
        let children = self.children.lock().clone();
        children.into_iter().find_map(|(child, under)| {
            let child = child.upgrade()?;
            child.find_inside(governor, record).map(|_| under)
        })
    }

    pub(super) fn report_complete(&self) {
        if !self.complete_reported.swap(true, Ordering::AcqRel) {
            let forced = self.state.lock().forced;
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
        let requested = self.runtime.now();
        let drain = {
            let mut state = self.state.lock();
            if state.cause.is_some() {
                return false;
            }
            state.cause = Some(cause.clone());
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

    pub(super) fn report(&self) -> Report {
        let now = self.runtime.now();
        // Each record is read under the governor's lock (the order `start`
        // takes them in too): no copy of the list.
        let state = self.state.lock();
        let budget = self.budget_report();
        Report {
            cause: state.cause.clone(),
            forced: state.forced,
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
    /// A service's handle asked `record` to stop (for good, or to
    /// `restart`): told as [`Event::StopRequested`], so that no stop is
    /// anonymous.
    pub(crate) fn stop_requested(&self, record: &Record, restart: bool) {
        self.emit(|| Event::StopRequested {
            service: record.name.clone(),
            restart,
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
            record.stop_then(|| self.stop_requested(record, false));
        }
        record.watch(|view| view.ended.then_some(())).await;
        self.forget(record);
        Ok(record.report(self.runtime.now()))
    }

    pub(super) fn record(&self, name: &str) -> Result<Arc<Record>, Error> {
        self.state
            .lock()
            .names
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownService { name: name.into() })
    }

    /// Starts the given pending records (those not started meanwhile), after
    /// checking their dependencies: all or nothing.
    pub(super) fn start_records(
        self: &Arc<Self>,
        all_pending: bool,
        one: Option<&Arc<Record>>,
        keep_started: bool,
    ) -> StartResult {
        let mut launched = Vec::new();
        {
            let mut state = self.state.lock();
            if state.cause.is_some() {
                return Err(Error::StartAfterShutdown);
            }
            let candidates: Vec<Arc<Record>> = if all_pending {
                core::mem::take(&mut state.pending)
            } else {
                one.into_iter().cloned().collect()
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
                    if let Some(c) = record.restore_launch(taken.launch) {
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
                launched.push((taken.launch, inputs));
            }
            self.live_count.enter_many(launched.len());
        }
        let started = if keep_started {
            launched
                .iter()
                .map(|(_, inputs)| inputs.record.clone())
                .collect()
        } else {
            Vec::new()
        };
        for (launch, inputs) in launched {
            self.runtime.spawn(launch.launch(inputs));
        }
        Ok(started)
    }
}

pub(super) type StartResult = Result<Vec<Arc<Record>>, Error>;

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
