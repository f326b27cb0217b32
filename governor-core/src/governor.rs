//! The governor's public API: [`Governor`], the handle `main` holds, and
//! its `Owner` (the last user handle dropped shuts the governor down).
//! Every method forwards to the shared state, which keeps the rules.
//!
//! - `governor/shared.rs`: the shared state, its invariants and the lock
//!   order (governor, then record, then token node);
//! - `governor/dependencies.rs`: dependency checks at start;
//! - `governor/signals.rs`: carrying out each caught signal's action;
//! - `governor/reload.rs`: reloads, delivered to the services that ask;
//! - `governor/budget.rs`: the shutdown budget and the drain delay.
//!
//! This file is over 400 lines because it is the public API: most of it
//! is rustdoc and examples, each method a few lines that forward.

mod budget;
mod dependencies;
mod reload;
mod shared;
mod signals;

pub use budget::BudgetReport;
pub(crate) use shared::{Defaults, Shared};
use shared::{StartedList, ToStart};
pub use signals::SignalAction;

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::config::ServiceConfig;
use crate::error::Error;
use crate::event::Event;
use crate::handle::ServiceHandle;
use crate::propagation::Strategy;
use crate::record::{drop_user_value, Record};
use crate::report::{Report, ServiceReport, ShutdownCause};
use crate::report_handle::ReportHandle;
use crate::restart::RestartPolicy;
use crate::runtime::{Runtime, Signal};
use crate::service::Service;
use crate::sleep::Sleep;
use crate::supervisor::{supervise, AsyncRunner};
use crate::supervisor_task::{supervisor_task, PendingSupervisor};
use crate::sync::Ordering;
use crate::token::StopToken;

/// Oversees a set of named services: starts them, restarts them by policy,
/// shuts them down and waits for them (Go's `Governor`).
///
/// Cheap to clone: clones share one governor. Every method may be called
/// from any task or thread, concurrently with any other.
///
/// # Dropping
///
/// When the last `Governor` handle is dropped while services still run, the
/// governor shuts down ([`ShutdownCause::Dropped`]): every service is asked
/// to stop, in order, rather than left running unsupervised. Service
/// contexts, configs and [`ServiceHandle`]s do not keep it alive; a handle
/// from [`ServiceCtx::governor`](crate::ServiceCtx::governor) does, while
/// the service holds it. Keep the governor in `main` until
/// [`wait_for_shutdown`](Governor::wait_for_shutdown) returns.
///
/// What outlives it: a [`ReportHandle`] (from
/// [`report_handle`](Governor::report_handle), or a [`ServiceHandle`]'s)
/// still gives the report and the shutdown cause, and waits for the
/// shutdown the drop began; [`ServiceHandle::wait`] and
/// [`ServiceHandle::report`] still give each service's own.
///
/// A runtime adapter gives the one-line constructor (for example
/// `governor_tokio::new()`); [`Governor::new`] takes any [`Runtime`].
///
/// ```
/// use std::time::Duration;
/// use governor_core::{Error, Governor, ServiceCtx, ServiceResult, ShutdownCause};
///
/// async fn worker(ctx: ServiceCtx) -> ServiceResult {
///     ctx.wait_for_stop().await;
///     Ok(())
/// }
///
/// # fn main() -> Result<(), Error> {
/// // What `governor_smol::new()` does: any `Runtime` will do.
/// let gov = Governor::new(governor_smol::SmolRuntime::new()).restart(Duration::from_secs(1));
/// gov.add("worker", worker)?;
/// assert_eq!(gov.add("worker", worker).unwrap_err(), Error::DuplicateName { name: "worker".into() });
/// gov.start()?;
/// let report = smol::block_on(gov.shutdown());
/// assert_eq!(report.cause, Some(ShutdownCause::Requested));
/// assert!(report.is_clean());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Governor {
    owner: Arc<Owner>,
}

/// What the user's `Governor` handles share: when the last one is dropped
/// while services still run, the governor shuts down — no service is left
/// running unsupervised. Contexts and configs hold `Shared` directly, so
/// they do not keep the governor alive.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        if self.shared.live_count.count() > 0 {
            self.shared.request_shutdown(ShutdownCause::Dropped);
        }
    }
}

impl Governor {
    /// A governor over `runtime`, with no services, no signal catching, no
    /// shutdown timeout and the default restart policy
    /// ([never](RestartPolicy::never)).
    pub fn new(runtime: impl Runtime) -> Governor {
        let shared = Arc::new(Shared::new(Arc::new(runtime)));
        let owner = Arc::new(Owner {
            shared: shared.clone(),
        });
        *shared.owner.lock() = Arc::downgrade(&owner);
        Governor { owner }
    }

    /// A handle for code that holds only the shared state (a service's
    /// context, a config): the users' owner while it lives.
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Governor {
        let owner = shared.owner.lock().upgrade();
        let owner = owner.unwrap_or_else(|| Arc::new(Owner { shared }));
        Governor { owner }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    /// Turns SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT (Ctrl-C only,
    /// off unix) into a graceful shutdown (Go's `CatchSignals`). A second
    /// signal during the shutdown forces it: everything still running is
    /// aborted and the shutdown returns at once (the report says
    /// `forced`); a shutdown signal after that is only logged, until the
    /// shutdown is complete.
    ///
    /// The handlers are installed by the next [`start`](Governor::start),
    /// which reports a failure to install them as [`Error::Signals`]. From
    /// then on the signals no longer end the process by themselves: the
    /// governor shuts down and `main` decides when to exit.
    ///
    /// Which signals are caught, and what each does, is
    /// [`on_signal`](Governor::on_signal)'s to change; the defaults above
    /// are Go's. Once the governor has finished (its shutdown is complete,
    /// before [`wait_for_shutdown`](Governor::wait_for_shutdown) returns
    /// its report) or has been dropped, it no longer catches them: a later
    /// SIGTERM or Ctrl-C gets the operating system's default action again,
    /// so a program still busy after its governor finished (a slow flush,
    /// a hang) can still be stopped.
    pub fn catch_signals(self) -> Self {
        self.shared().state.lock().catch_signals = true;
        self
    }

    /// Tells systemd what the governor does, through the notify protocol
    /// (feature `systemd`; `sd_notify(3)`), when the process runs under
    /// it: `NOTIFY_SOCKET` is read at this call, and without it (not under
    /// systemd, or a unit that is not `Type=notify`) nothing is ever sent
    /// and nothing is spawned. The adapters' `run` calls it for you when
    /// built with their `systemd` feature.
    ///
    /// From the next [`start`](Governor::start) on:
    ///
    /// - `STATUS=` lines say what the governor does: starting, how many
    ///   services run, which one restarts, which ones a shutdown waits for;
    /// - `READY=1` once every service that start started is ready (the rule
    ///   of [`start_wait_ready`](Governor::start_wait_ready)), at most once
    ///   per process;
    /// - `STOPPING=1` when a shutdown begins; then, every second,
    ///   `EXTEND_TIMEOUT_USEC=` the longest time left of the
    ///   [shutdown timeouts](Governor::shutdown_timeout) of the services
    ///   stopping, so that systemd's `TimeoutStopSec` does not kill a stop
    ///   that keeps its own timeouts (a service with no timeout asks for
    ///   nothing);
    /// - `WATCHDOG=1` every half of `WATCHDOG_USEC` (when set for this
    ///   process: `WATCHDOG_PID` unset or naming it), sent by a task on the
    ///   governor's runtime and only if a probe task spawned one period
    ///   earlier has run and taken the governor's lock. When the runtime
    ///   stops running the governor's tasks (its threads blocked), the
    ///   pings stop and systemd's `WatchdogSec` restarts the process. On a
    ///   multi-thread runtime, one blocked worker does not stop them while
    ///   others run the governor's tasks.
    ///
    /// One governor per process notifies: the first to call this (later
    /// calls on other governors log a warning and do nothing). The
    /// notifier sees every [`Event`] beside the hook of
    /// [`on_event`](Governor::on_event), which is not replaced. Off unix
    /// this does nothing.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # futures_executor::block_on(async {
    /// let gov = governor_smol::new().catch_signals().notify_systemd();
    /// gov.add("web", |ctx: governor_smol::ServiceCtx| async move {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// })?;
    /// gov.start()?; // READY=1 once `web` is ready
    /// gov.wait_for_shutdown().await; // STOPPING=1 at SIGTERM
    /// # Ok(()) })
    /// # }
    /// ```
    #[cfg(feature = "systemd")]
    pub fn notify_systemd(self) -> Self {
        #[cfg(unix)]
        crate::systemd::enable(self.shared());
        self
    }

    /// Sets what `signal` does once caught, and [catches
    /// signals](Governor::catch_signals). SIGINT, SIGTERM, SIGHUP and
    /// SIGQUIT are always caught (each defaults to
    /// [`SignalAction::Shutdown`]); SIGUSR1 and SIGUSR2 only when given an
    /// action here. Set before the first [`start`](Governor::start) (which
    /// installs the handlers) to catch SIGUSR1/SIGUSR2; an action may be
    /// changed at any time after.
    ///
    /// SIGHUP has two conventional meanings. In a terminal it means the
    /// terminal went away (the window was closed, the SSH session
    /// dropped): the program should stop, which is the default here (and
    /// Go's). A daemon has no terminal, and there SIGHUP conventionally
    /// means "reload your configuration" (systemd's `ExecReload=kill -HUP
    /// $MAINPID`): a daemon sets `on_signal(Signal::Hangup,
    /// SignalAction::Reload)`. A program run both ways may decide at
    /// start, e.g. by whether its standard input is a terminal.
    ///
    /// ```no_run
    /// use governor_smol::{Signal, SignalAction};
    ///
    /// # fn main() -> Result<(), governor_smol::Error> {
    /// let gov = governor_smol::new()
    ///     .on_signal(Signal::Hangup, SignalAction::Reload)
    ///     .on_signal(Signal::Quit, SignalAction::Ignore)
    ///     .on_signal(Signal::User1, SignalAction::call(|signal| {
    ///         eprintln!("{signal}: dumping state");
    ///     }));
    /// gov.start()?;
    /// let report = futures_executor::block_on(gov.wait_for_shutdown());
    /// std::process::exit(report.exit_code().into());
    /// # }
    /// ```
    pub fn on_signal(self, signal: Signal, action: SignalAction) -> Self {
        let old = {
            let mut state = self.shared().state.lock();
            state.catch_signals = true;
            match state.signal_actions.iter_mut().find(|(s, _)| *s == signal) {
                Some((_, record)) => Some(core::mem::replace(record, action)),
                None => {
                    state.signal_actions.push((signal, action));
                    None
                }
            }
        };
        // A replaced callback's captures are user values: dropped outside
        // the lock.
        if let Some(old) = old {
            drop_user_value("", "replaced signal action", old);
        }
        self
    }

    /// Reloads, as a signal whose action is [`SignalAction::Reload`]
    /// does: emits [`Event::Reloading`], delivers the reload to every
    /// service awaiting [`ServiceCtx::reloaded`](crate::ServiceCtx::reloaded)
    /// (each run gets each reload exactly once), restarts the current run
    /// of every service configured with
    /// [`restart_on_reload`](ServiceConfig::restart_on_reload), and emits
    /// [`Event::Reloaded`] once those are running and ready again.
    ///
    /// Returns `false`, doing nothing, once a shutdown has been requested:
    /// a reload never restarts a service the shutdown is stopping, and
    /// never loses one (a service between runs gets a fresh run anyway; a
    /// restarted one records the outcome of the run it ended).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use governor_smol::ServiceCtx;
    ///
    /// # fn main() -> Result<(), governor_smol::Error> {
    /// let (told, reloads) = mpsc::channel();
    /// let gov = governor_smol::new();
    /// gov.add("config", move |ctx: ServiceCtx| {
    ///     let told = told.clone();
    ///     async move {
    ///         while let Ok(n) = ctx.reloaded().await {
    ///             // ... read the configuration again ...
    ///             let _ = told.send(n);
    ///         }
    ///         Ok(())
    ///     }
    /// })?;
    /// futures_executor::block_on(gov.start_wait_ready(Duration::from_secs(5)))?;
    /// assert!(gov.reload());
    /// assert!(gov.reload());
    /// let wait = Duration::from_secs(5);
    /// assert_eq!(reloads.recv_timeout(wait).unwrap(), 1);
    /// assert_eq!(reloads.recv_timeout(wait).unwrap(), 2);
    /// futures_executor::block_on(gov.shutdown());
    /// assert!(!gov.reload(), "refused once a shutdown was requested");
    /// # Ok(()) }
    /// ```
    pub fn reload(&self) -> bool {
        self.shared().reload(None)
    }

    /// Sets the default restart policy to "restart after `after`" for
    /// every service that does not set its own (Go's `Restart`). Zero is
    /// allowed. Without it, services never restart.
    pub fn restart(self, after: Duration) -> Self {
        self.restart_policy(RestartPolicy::after(after))
    }

    /// Sets the default restart policy for every service that does not set
    /// its own. It applies from each service's next restart decision on.
    pub fn restart_policy(self, policy: RestartPolicy) -> Self {
        self.shared()
            .set_defaults(|defaults| defaults.restart = policy);
        self
    }

    /// How this governor's services restart together when one of them
    /// restarts by its restart policy ([`Strategy`]: OTP's one-for-one,
    /// the default, one-for-all or rest-for-one; members in the order
    /// added). For a [`Subtree`](crate::Subtree), call it on the child in
    /// its setup, or use [`Subtree::strategy`](crate::Subtree::strategy).
    /// The semantics are in the README's "Semantics".
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_core::{RestartPolicy, ServiceCtx, ServiceResult, Strategy};
    ///
    /// async fn idle(ctx: ServiceCtx) -> ServiceResult {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// }
    ///
    /// let gov = governor_smol::new()
    ///     .strategy(Strategy::RestForOne)
    ///     .group_restart_limit(3, Duration::from_secs(60))
    ///     .restart_policy(RestartPolicy::on_failure(Duration::from_millis(100)));
    /// gov.add("listener", idle)?;
    /// gov.add("workers", idle)?; // restarted whenever "listener" fails
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    pub fn strategy(self, strategy: Strategy) -> Self {
        self.shared().group.lock().set_strategy(strategy);
        self
    }

    /// Allows at most `restarts` group restarts (those of a one-for-all or
    /// rest-for-one [`strategy`](Governor::strategy)) within any window of
    /// `within`. The next one gives up instead: the member whose restart it
    /// was [gives up](crate::ServiceState::GaveUp), and the governor shuts
    /// down with [`ShutdownCause::Escalated`](crate::ShutdownCause::Escalated)
    /// naming it — a [`Subtree`](crate::Subtree)'s run then fails, and its
    /// parent's policy decides, as for any failing service. Each member's
    /// own [limit](RestartPolicy::limit) still counts its own failures.
    pub fn group_restart_limit(self, restarts: u32, within: Duration) -> Self {
        self.shared().group.lock().set_limit(restarts, within);
        self
    }

    /// Bounds how long each service may take to stop once asked to (the
    /// default for services that do not set their own). When it expires,
    /// an async run is dropped at its next await point and a blocking run
    /// is abandoned; both are reported as timed out. Without it, shutdown
    /// waits as long as it takes (as in Go).
    ///
    /// Each service's time starts when *it* is asked to stop, which in an
    /// ordered shutdown is after its dependents have stopped.
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        self.shared()
            .set_defaults(|defaults| defaults.shutdown_timeout = Some(timeout));
        self
    }

    /// One deadline for the whole ordered shutdown (Kubernetes'
    /// `terminationGracePeriodSeconds`, systemd's `TimeoutStopSec`),
    /// counted from the shutdown request, drain delay included.
    ///
    /// It is split across the shutdown's dependency-ordered phases (phase
    /// 0: the services nothing depends on, which stop first; phase `p+1`:
    /// those whose dependents are all in phases up to `p`). A service of
    /// phase `p` whose stop begins at `t` may take at most `(end - t) /
    /// (phases - p)`, an even share of what is left among the phases
    /// left, so that time an earlier phase did not use passes on to the
    /// later ones; a service's own [shutdown
    /// timeout](Governor::shutdown_timeout), if shorter, wins. Every
    /// deadline is at most the end: the phases together never take longer
    /// than the budget. A run cut off by its share is aborted (abandoned
    /// for a blocking run), reported as timed out, and the report's
    /// [`budget`](Report::budget) names the first phase that ran out.
    ///
    /// For instance, with a 9 s budget and a chain `api` → `db` → `disk`
    /// (`api` depends on `db`, `db` on `disk`) that all ignore their stop:
    /// `api` is cut off at 3 s, `db` at 6 s, `disk` at 9 s; if `api`
    /// stops at once, `db` may take until 4.5 s and `disk` until 9 s.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gov = governor_smol::new()
    ///     .shutdown_budget(Duration::from_secs(30)) // terminationGracePeriodSeconds
    ///     .drain_delay(Duration::from_secs(5)); // endpoints catch up meanwhile
    /// # drop(gov);
    /// ```
    pub fn shutdown_budget(self, budget: Duration) -> Self {
        self.shared().state.lock().budget = Some(budget);
        self
    }

    /// Waits `delay` after a shutdown is requested before the first
    /// service is asked to stop: services keep running and serving
    /// meanwhile, while the governor says it is
    /// [draining](Governor::draining) (and [`Event::Draining`] told it),
    /// which a readiness probe should report as *not ready*. This is for
    /// Kubernetes, which removes a terminating pod from its endpoints
    /// asynchronously: requests keep arriving for a moment after SIGTERM.
    ///
    /// The global token is stopped (and [`stopping`](Governor::stopping)
    /// turns true) when the delay ends. A second shutdown signal, or
    /// [`force_shutdown`](Governor::force_shutdown), ends it at once. The
    /// delay is spent out of the [budget](Governor::shutdown_budget), if
    /// any: [`start`](Governor::start) refuses a delay that is not shorter
    /// than the budget ([`Error::DrainExceedsBudget`]). Nothing is drained
    /// when no service is running.
    pub fn drain_delay(self, delay: Duration) -> Self {
        self.shared().state.lock().drain = Some(delay);
        self
    }

    /// Whether the governor is in its [drain delay](Governor::drain_delay):
    /// shutting down, services still running. Report the program as not
    /// ready while this is true.
    pub fn draining(&self) -> bool {
        self.shared().draining()
    }

    /// Sends every lifecycle [`Event`] to `hook` instead of logging it
    /// (call [`Event::log`] from the hook to do both). The hook runs on
    /// whatever thread the step happens; a panic in it is caught and
    /// logged.
    pub fn on_event(self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        let old = self.shared().events.lock().replace(Arc::new(hook));
        self.shared().hooked.store(true, Ordering::Release);
        if let Some(old) = old {
            // The replaced hook's captures are user values: dropped outside
            // the lock.
            drop_user_value("", "replaced event hook", old);
        }
        self
    }

    /// Adds an observer: `observer` receives every lifecycle [`Event`]
    /// *beside* the hook of [`on_event`](Governor::on_event) (or the
    /// default log), never instead of it. Any number of observers may be
    /// added, by any code holding the governor (a metrics exporter, a
    /// service manager's notifier, a test), and none replaces another;
    /// they are called in the order added, before the hook, on whatever
    /// thread the step happens, outside every lock of the governor. A
    /// panic in one is caught and logged, and the others still see the
    /// event. Observers are never removed: keep what they capture small.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use governor_smol::{Event, ServiceCtx};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let gov = governor_smol::new();
    /// let log = seen.clone();
    /// gov.observe_events(move |event| log.lock().unwrap().push(event.to_string()));
    /// gov.add("job", |_ctx: ServiceCtx| async { Ok(()) })?;
    /// gov.start()?;
    /// futures_executor::block_on(gov.wait_for_shutdown());
    /// assert!(seen.lock().unwrap().contains(&"run ended: completed".to_string()));
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    pub fn observe_events(&self, observer: impl Fn(&Event) + Send + Sync + 'static) {
        self.shared().observe(Arc::new(observer));
    }

    /// Records metrics through the [`metrics`](::metrics) facade (feature
    /// `metrics`): whatever recorder the program installed (a Prometheus
    /// exporter, StatsD, ...) shows them. Call it before
    /// [`start`](Governor::start), after installing the recorder; calling
    /// it again does nothing.
    ///
    /// Every series of a service is registered when it is added (for
    /// services added before this call, by this call): counters at 0, the
    /// state gauge at 1 for its state and 0 for the others, the histogram
    /// without samples — so an alert on the first restart fires. Label
    /// `service` is the service's name (services of nested governors share
    /// series when they share a name).
    ///
    /// | name | type | labels | counts / shows |
    /// |---|---|---|---|
    /// | `governor_service_runs_total` | counter | `service` | runs begun ([`Event::RunStarted`]) |
    /// | `governor_service_restarts_total` | counter | `service` | restarts scheduled by the policy ([`Event::RestartScheduled`]) |
    /// | `governor_service_failures_total` | counter | `service` | runs that ended with an error or a panic ([`Event::RunEnded`] with a [failure](crate::Outcome::is_failure)) |
    /// | `governor_service_panics_total` | counter | `service` | runs that panicked ([`Event::Panicked`]) |
    /// | `governor_service_give_ups_total` | counter | `service` | restart limits reached ([`Event::GaveUp`]) |
    /// | `governor_service_state` | gauge | `service`, `state` | 1 for the [state](crate::ServiceState) it is in, 0 for the others; `state` is one of `pending`, `starting`, `running`, `ready`, `restarting`, `stopping`, `ended`, `gave_up` |
    /// | `governor_service_stop_duration_seconds` | histogram | `service` | per stopped run: from the request to stop it to its end (or abort) |
    /// | `governor_shutdown_duration_seconds` | histogram | none | per shutdown: from its request to its completion |
    ///
    /// The names are also constants in the [`metrics`](crate::metrics)
    /// module. The updates are made by an
    /// [observer](Governor::observe_events), beside the program's own hook.
    ///
    /// ```
    /// use metrics_util::debugging::DebuggingRecorder;
    /// use governor_smol::ServiceCtx;
    ///
    /// let recorder = DebuggingRecorder::new();
    /// let snapshotter = recorder.snapshotter();
    /// recorder.install().unwrap(); // the program's exporter, in real life
    /// let gov = governor_smol::new().record_metrics();
    /// gov.add("job", |_ctx: ServiceCtx| async { Ok(()) })?;
    /// gov.start()?;
    /// futures_executor::block_on(gov.wait_for_shutdown());
    /// let runs = snapshotter.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
    ///     (key.key().name() == "governor_service_runs_total").then_some(value)
    /// });
    /// assert_eq!(runs, Some(metrics_util::debugging::DebugValue::Counter(1)));
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    #[cfg(feature = "metrics")]
    pub fn record_metrics(self) -> Self {
        crate::metrics::enable(self.shared());
        self
    }

    /// Shuts the governor down (as
    /// [`request_shutdown`](Governor::request_shutdown), cause
    /// [`ShutdownCause::Requested`]) once `trigger` completes: a stop
    /// signal that already exists elsewhere in the program — a
    /// `tokio_util` `CancellationToken`'s `cancelled_owned()`, a oneshot
    /// receiver, an admin endpoint's future.
    ///
    /// `trigger` is polled on a task of the governor's runtime, spawned
    /// now. The task holds the governor weakly: it ends, dropping
    /// `trigger`, when the governor shuts down for any other reason or is
    /// dropped, and never keeps it alive.
    ///
    /// ```
    /// use governor_smol::{ServiceCtx, ShutdownCause};
    ///
    /// let (tell, told) = futures_channel::oneshot::channel::<()>();
    /// let gov = governor_smol::new();
    /// gov.shutdown_on(async move { let _ = told.await; });
    /// gov.add("server", |ctx: ServiceCtx| async move {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// })?;
    /// gov.start()?;
    /// tell.send(()).unwrap();
    /// let report = futures_executor::block_on(gov.wait_for_shutdown());
    /// assert_eq!(report.cause, Some(ShutdownCause::Requested));
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    pub fn shutdown_on(&self, trigger: impl Future<Output = ()> + Send + 'static) {
        let (governor, stopping, dropped) = self.shared().weak_watch();
        let task = async move {
            let stopping = core::pin::pin!(stopping.wait_for_stop_owned());
            let dropped = core::pin::pin!(dropped.wait_for_stop_owned());
            let ended = futures_util::future::select(stopping, dropped);
            if let futures_util::future::Either::Left(_) =
                futures_util::future::select(core::pin::pin!(trigger), ended).await
            {
                if let Some(shared) = governor.upgrade() {
                    shared.request_shutdown(ShutdownCause::Requested);
                }
            }
        };
        self.shared().runtime.spawn(alloc::boxed::Box::pin(task));
    }

    /// Adds a service under `name` (Go's `Add`): an `async` fn or closure
    /// taking the service's [`ServiceCtx`](crate::ServiceCtx). It starts
    /// with the next [`start`](Governor::start), or alone with
    /// [`ServiceConfig::start`]; the returned config sets its own restart
    /// policy, dependencies, stop hooks and more.
    ///
    /// The bound names `FnMut(ServiceCtx)` itself, so a closure's parameter
    /// needs no type: `|ctx| async move { .. }` is enough. A type that
    /// implements [`Service`] (state kept across restarts, a
    /// [`Subtree`](crate::Subtree)) is added with
    /// [`add_service`](Governor::add_service).
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_core::Error;
    ///
    /// # fn main() -> Result<(), Error> {
    /// let gov = governor_smol::new();
    /// gov.add("ticker", |ctx| async move {
    ///     while !ctx.stopping() {
    ///         ctx.sleep(Duration::from_millis(10)).await?;
    ///     }
    ///     Ok(())
    /// })?;
    /// assert_eq!(
    ///     gov.add("ticker", |_| async { Ok(()) }).unwrap_err(),
    ///     Error::DuplicateName { name: "ticker".into() },
    /// );
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: [`Error::EmptyName`], [`Error::DuplicateName`],
    /// [`Error::AddAfterShutdown`]. A refused service is dropped, outside
    /// the governor's locks (its `Drop` may call back into the governor);
    /// a panic in its `Drop` is caught and logged.
    pub fn add<F, Fut>(&self, name: impl Into<Arc<str>>, service: F) -> Result<ServiceConfig, Error>
    where
        F: FnMut(crate::ServiceCtx) -> Fut + Send + 'static,
        Fut: Future<Output = crate::ServiceResult> + Send,
    {
        self.add_service(name, service)
    }

    /// Adds a value that implements [`Service`] under `name`: each run
    /// calls its [`run`](Service::run) again on the same value, so it may
    /// keep state across restarts. Otherwise as [`add`](Governor::add)
    /// (which takes closures, and is this with a bound that lets their
    /// parameter type be inferred).
    ///
    /// ```
    /// use governor_core::{Service, ServiceCtx, ServiceResult};
    ///
    /// struct Counter {
    ///     runs: u32,
    /// }
    ///
    /// impl Service for Counter {
    ///     async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
    ///         self.runs += 1;
    ///         ctx.wait_for_stop().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let gov = governor_smol::new();
    /// gov.add_service("counter", Counter { runs: 0 })?;
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    pub fn add_service<S: Service>(
        &self,
        name: impl Into<Arc<str>>,
        service: S,
    ) -> Result<ServiceConfig, Error> {
        let task = supervisor_task(AsyncRunner(service), supervise::<AsyncRunner<S>>);
        self.add_launch(name.into(), task)
    }

    /// Adds a blocking service: a closure or fn, taking the service's
    /// [`ServiceCtx`](crate::ServiceCtx), that runs on a thread of the
    /// runtime's blocking pool for as long as each run lasts. As with
    /// [`add`](Governor::add), the closure's parameter needs no type; a
    /// type that implements [`BlockingService`](crate::BlockingService) is
    /// added with [`add_blocking_service`](Governor::add_blocking_service).
    /// Otherwise as [`add`](Governor::add).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gov = governor_smol::new();
    /// gov.add_blocking("disk", |ctx| loop {
    ///     // ... blocking work ...
    ///     ctx.sleep_blocking(Duration::from_secs(5))?;
    /// })?;
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn add_blocking<F>(
        &self,
        name: impl Into<Arc<str>>,
        service: F,
    ) -> Result<ServiceConfig, Error>
    where
        F: FnMut(crate::ServiceCtx) -> crate::ServiceResult + Send + 'static,
    {
        self.add_blocking_service(name, service)
    }

    /// Adds a value that implements
    /// [`BlockingService`](crate::BlockingService) under `name` (state kept
    /// across restarts). Otherwise as [`add_blocking`](Governor::add_blocking).
    #[cfg(feature = "std")]
    pub fn add_blocking_service<S: crate::service::BlockingService>(
        &self,
        name: impl Into<Arc<str>>,
        service: S,
    ) -> Result<ServiceConfig, Error> {
        use crate::supervisor::BlockingRunner;
        let runner = BlockingRunner(Some(service));
        let task = supervisor_task(runner, supervise::<BlockingRunner<S>>);
        self.add_launch(name.into(), task)
    }

    /// Adds a [`BlockingService`](crate::BlockingService) made by `make`:
    /// for its first run, and again after a run that had to be abandoned
    /// (it was [hung](crate::ServiceConfig::watchdog) or did not stop
    /// within its shutdown timeout) kept the value on its thread. A service
    /// added with [`add_blocking`](Governor::add_blocking) cannot run
    /// again after that (it ends for good); one added here is restarted by
    /// its policy, on a fresh value. The abandoned thread's value is
    /// dropped there, if it ever returns. A panic in `make` is the run's
    /// outcome. Otherwise as [`add_blocking`](Governor::add_blocking).
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_smol::{RestartPolicy, ServiceCtx, ServiceResult};
    ///
    /// struct Poller { socket: u32 }
    ///
    /// fn connect() -> Poller { Poller { socket: 7 } }
    ///
    /// let gov = governor_smol::new();
    /// gov.add_blocking_with("poller", || {
    ///     let mut poller = connect();
    ///     move |ctx: ServiceCtx| -> ServiceResult {
    ///         let _ = poller.socket; // ... a read that may wedge ...
    ///         ctx.heartbeat();
    ///         ctx.sleep_blocking(Duration::from_secs(1))?;
    ///         Ok(())
    ///     }
    /// })?
    /// .watchdog(Duration::from_secs(10))
    /// .restart_policy(RestartPolicy::always(Duration::ZERO));
    /// # let _ = &mut Poller { socket: 0 }.socket;
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn add_blocking_with<S, M>(
        &self,
        name: impl Into<Arc<str>>,
        make: M,
    ) -> Result<ServiceConfig, Error>
    where
        S: crate::service::BlockingService,
        M: FnMut() -> S + Send + 'static,
    {
        use crate::supervisor::{BlockingRunner, FreshBlockingRunner};
        let runner = FreshBlockingRunner {
            inner: BlockingRunner(None),
            make,
        };
        let task = supervisor_task(runner, supervise::<FreshBlockingRunner<S, M>>);
        self.add_launch(name.into(), task)
    }

    fn add_launch(
        &self,
        name: Arc<str>,
        launch: PendingSupervisor,
    ) -> Result<ServiceConfig, Error> {
        if name.is_empty() {
            drop_user_value(&name, "refused service value", launch);
            return Err(Error::EmptyName);
        }
        // Taken only if the name is free; a refused service is dropped
        // after the lock is released (its `Drop` may call the governor),
        // with a panic there caught.
        let mut launch = Some(launch);
        let added = {
            let mut state = self.shared().state.lock();
            if state.cause.is_some() {
                Err(Error::AddAfterShutdown { name: name.clone() })
            } else {
                // One search of the index, not two.
                let added = state
                    .names
                    .insert_new(&name, || Arc::new(Record::new(name.clone(), launch.take())))
                    .map_err(|taken| Error::DuplicateName {
                        name: taken.name.clone(),
                    });
                if let Ok(record) = &added {
                    state.services.push(record.clone());
                    state.pending.push(record.clone());
                }
                added
            }
        };
        if let Some(refused) = launch {
            drop_user_value(&name, "refused service value", refused);
        }
        let added = added?;
        #[cfg(feature = "metrics")]
        if let Some(metrics) = self.shared().metrics.lock().clone() {
            metrics.register(&added); // after the governor's lock
        }
        Ok(ServiceConfig::new(self.shared().clone(), added))
    }

    /// Starts every added service that has not started yet (Go's `Start`);
    /// services already started are not affected. Adding and starting
    /// more services later works.
    ///
    /// Services start concurrently; one that
    /// [depends on](ServiceConfig::depends_on) others begins its first run
    /// once each of them is ready.
    ///
    /// Errors (then nothing is started): [`Error::StartAfterShutdown`]
    /// (every service it would have started is then
    /// [`Refused`](crate::ServiceState::Refused), for good; one added but
    /// never covered by a `start` stays
    /// [`Pending`](crate::ServiceState::Pending)), [`Error::DrainExceedsBudget`],
    /// [`Error::Signals`],
    /// [`Error::UnknownDependency`], [`Error::DependencyCycle`].
    pub fn start(&self) -> Result<(), Error> {
        self.check_budget()?;
        self.install_signals()?;
        self.shared()
            .start_records(ToStart::AllPending, StartedList::NotWanted)
            .map(drop)
    }

    /// [`start`](Governor::start), then waits until every service it
    /// started is ready, for at most `timeout` in all.
    ///
    /// Errors: those of `start`; [`Error::NotReady`] naming the first
    /// service (in the order added) that was not ready in time (one that
    /// became ready just as the time ran out counts as ready);
    /// [`Error::EndedBeforeReady`] for a service that ended for good
    /// without becoming ready. Services keep running after an error:
    /// shut down if that is what the program wants.
    pub async fn start_wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        self.check_budget()?;
        self.install_signals()?;
        let started = self
            .shared()
            .start_records(ToStart::AllPending, StartedList::Wanted)?;
        self.wait_all_ready(&started, timeout).await
    }

    /// Starts one service (see [`ServiceConfig::start`]).
    pub(crate) fn start_one(&self, record: &Arc<Record>) -> Result<(), Error> {
        self.check_budget()?;
        self.install_signals()?;
        self.shared()
            .start_records(ToStart::One(record), StartedList::NotWanted)
            .map(drop)
    }

    /// [`Error::DrainExceedsBudget`] if the drain delay would use up the
    /// whole shutdown budget.
    fn check_budget(&self) -> Result<(), Error> {
        let state = self.shared().state.lock();
        match (state.drain, state.budget) {
            (Some(drain), Some(budget)) if drain >= budget => {
                Err(Error::DrainExceedsBudget { drain, budget })
            }
            _ => Ok(()),
        }
    }

    /// Waits until the service called `name` is ready, for at most
    /// `timeout` (as the newer Go governor's `WaitReady`, without its
    /// races: readiness is per run and resets on restart).
    ///
    /// Errors: [`Error::UnknownService`], [`Error::NotReady`],
    /// [`Error::EndedBeforeReady`].
    pub async fn wait_ready(&self, name: &str, timeout: Duration) -> Result<(), Error> {
        let record = self.shared().record(name)?;
        self.wait_all_ready(&[record], timeout).await
    }

    async fn wait_all_ready(
        &self,
        records: &[Arc<Record>],
        timeout: Duration,
    ) -> Result<(), Error> {
        let all_ready = async {
            for record in records {
                ready_or_ended(record)
                    .await
                    .map_err(|()| Error::EndedBeforeReady {
                        service: record.name.clone(),
                    })?;
            }
            Ok(())
        };
        match with_timeout(&*self.shared().runtime, timeout, all_ready).await {
            Some(result) => result,
            None => {
                // Looked at again, in order: a service may have become
                // ready (or ended) since, on another thread. If every one
                // is ready now, the wait succeeded, just in time.
                for record in records {
                    match futures_util::FutureExt::now_or_never(ready_or_ended(record)) {
                        Some(Ok(())) => {}
                        Some(Err(())) => {
                            return Err(Error::EndedBeforeReady {
                                service: record.name.clone(),
                            })
                        }
                        None => {
                            return Err(Error::NotReady {
                                service: record.name.clone(),
                                timeout,
                            })
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Requests shutdown without waiting for it: stops the global token;
    /// each service is then asked to stop once the services that depend on
    /// it have stopped, and its stop hooks run. Returns `true` if this call
    /// started the shutdown, `false` if one was already under way. Safe to
    /// call from anywhere, any number of times, including from inside a
    /// service or a stop hook.
    pub fn request_shutdown(&self) -> bool {
        self.shared().request_shutdown(ShutdownCause::Requested)
    }

    /// Aborts every run still going (async ones are dropped at their next
    /// await point, blocking ones abandoned), after requesting shutdown if
    /// that has not happened yet. What a second Ctrl-C does.
    ///
    /// A run whose stop had not begun yet (one still waiting for its
    /// dependents to stop) is still stopped first: its token is stopped
    /// and its stop hooks are called, once, so that a blocking run that
    /// heeds its token ends on its thread.
    pub fn force_shutdown(&self) {
        self.shared().force(ShutdownCause::Requested);
    }

    /// Stops every service and waits until all have stopped (Go's
    /// `Shutdown`), then returns the final [`Report`].
    ///
    /// Dependents stop before their dependencies; unrelated services stop
    /// concurrently; each is bounded by its
    /// [shutdown timeout](Governor::shutdown_timeout), if any.
    ///
    /// Idempotent: later calls wait the same way and return the same kind
    /// of report. Awaited from inside a service (with `std`), it waits for
    /// every *other* service and then returns, so that the caller can
    /// return too; it never waits for itself. Services the caller depends
    /// on are stopped meanwhile, in order: once it is parked in this wait
    /// and the services that depend on it have stopped. From a service of
    /// a nested governor (see
    /// [`ServiceCtx::child_governor`](crate::ServiceCtx::child_governor)),
    /// it counts as awaited inside the enclosing service.
    pub async fn shutdown(&self) -> Report {
        self.shared().request_shutdown(ShutdownCause::Requested);
        self.wait_for_shutdown().await
    }

    /// Waits until no service is running any more (Go's
    /// `WaitForShutdown`), because of a shutdown or because every service
    /// ended for good, and returns the [`Report`].
    ///
    /// Like Go's, it returns at once if no service has been started. A
    /// service between two runs (waiting for its restart delay) counts as
    /// running, and a service counts until its value has been dropped.
    ///
    /// Awaited from inside a service (with `std`), it waits for every
    /// *other* service, as [`shutdown`](Governor::shutdown) does; awaited
    /// anywhere else, for every service, including what one does after its
    /// own wait returned.
    pub async fn wait_for_shutdown(&self) -> Report {
        self.shared().wait_for_shutdown().await
    }

    /// The whole life of a program's services: `setup` adds them, they
    /// start, and this waits until every one has stopped (after a signal, a
    /// shutdown request, or because all ended) and returns the final
    /// [`Report`]. If `setup` or `start` fails, whatever was added is shut
    /// down and the error returned. The adapters' one-line `run` is this.
    pub async fn run(
        &self,
        setup: impl FnOnce(&Governor) -> Result<(), Error>,
    ) -> Result<Report, Error> {
        match setup(self).and_then(|()| self.start()) {
            Ok(()) => Ok(self.wait_for_shutdown().await),
            Err(e) => {
                self.shutdown().await;
                Err(e)
            }
        }
    }

    /// [`shutdown`](Governor::shutdown) for synchronous code: blocks the
    /// calling thread. Never call it from an async task (it would block
    /// the executor thread the services may need).
    #[cfg(feature = "std")]
    pub fn shutdown_blocking(&self) -> Report {
        futures_executor::block_on(self.shutdown())
    }

    /// [`wait_for_shutdown`](Governor::wait_for_shutdown) for synchronous
    /// code: blocks the calling thread (not from an async task).
    #[cfg(feature = "std")]
    pub fn wait_for_shutdown_blocking(&self) -> Report {
        futures_executor::block_on(self.wait_for_shutdown())
    }

    /// The global stop token, for code outside services (Go's
    /// `GlobalContext`): stopped as soon as shutdown is requested.
    ///
    /// It only observes. Stopping the governor goes through
    /// [`request_shutdown`](Governor::request_shutdown),
    /// [`shutdown`](Governor::shutdown) or
    /// [`force_shutdown`](Governor::force_shutdown), so that every
    /// shutdown has a [cause](crate::ShutdownCause) in the report and
    /// turns later `add` and `start` away:
    ///
    /// ```compile_fail
    /// fn stop(gov: &governor_core::Governor) {
    ///     gov.token().stop(); // a token cannot stop
    /// }
    /// ```
    pub fn token(&self) -> StopToken {
        self.shared().token.token().clone()
    }

    /// Whether shutdown has been requested (Go's `Stopping`).
    #[inline]
    pub fn stopping(&self) -> bool {
        self.shared().token.stopping()
    }

    /// Sleeps for `duration`, or until shutdown is requested
    /// (`Err(Interrupted)`, Go's `stopped == true`).
    pub fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Sleep::new(
            self.shared().token.wait_for_stop(),
            self.shared().runtime.sleep(duration),
        )
    }

    /// A snapshot of every service: state, restarts, last outcome, time to
    /// the next restart, stop time. Services [removed](Governor::remove)
    /// or [forgotten](ServiceConfig::forget_when_ended) are not in it.
    pub fn report(&self) -> Report {
        self.shared().report()
    }

    /// A handle that reads this governor's report and shutdown cause, and
    /// waits for its shutdown, without keeping it alive: still usable
    /// once the last `Governor` handle has been dropped (see
    /// [Dropping](Governor#dropping)).
    pub fn report_handle(&self) -> ReportHandle {
        ReportHandle::new(self.shared().clone())
    }

    /// Removes the service called `name`: stops it if it runs (as its
    /// handle's [`stop`](ServiceHandle::stop) does: stop hooks, shutdown
    /// timeout; one not started yet never starts), waits until it has
    /// ended for good, then forgets it — it leaves the
    /// [`report`](Governor::report) and its name is free for a new
    /// service — and returns its final report. Its final outcome still
    /// reaches the events and every handle on it.
    ///
    /// Handles taken before keep the removed service's record: their
    /// `wait` and `report` give its final report, their `stop` and
    /// `restart` do nothing; they never reach a new service added later
    /// under the same name. Services not started yet resolve their
    /// dependencies by name when they start (a removed name is unknown).
    ///
    /// It waits for the service's end, so a service must not await its
    /// own removal (it would wait for itself): to leave, a service
    /// returns, and is forgotten if added with
    /// [`forget_when_ended`](ServiceConfig::forget_when_ended).
    ///
    /// Errors: [`Error::UnknownService`];
    /// [`Error::DependedOn`] while a started service that depends on it
    /// has not ended for good (remove that one first); then nothing is
    /// stopped.
    pub async fn remove(&self, name: &str) -> Result<ServiceReport, Error> {
        let record = self.shared().record(name)?;
        self.shared().remove(&record).await
    }

    /// A handle on the service called `name`: to stop or restart it alone,
    /// or wait for it. Error: [`Error::UnknownService`].
    pub fn service(&self, name: &str) -> Result<ServiceHandle, Error> {
        let record = self.shared().record(name)?;
        Ok(ServiceHandle::new(self.shared().clone(), record))
    }

    /// How many services are running (or waiting to restart) right now.
    pub fn running(&self) -> usize {
        self.shared().live_count.count()
    }
}

impl fmt::Debug for Governor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared().state.lock();
        f.debug_struct("Governor")
            .field("services", &(state.services.len() - state.forgotten))
            .field("shutdown", &state.cause)
            .finish_non_exhaustive()
    }
}

/// Completes with `Ok` once `record` is ready (or ended for good after being
/// ready), `Err` once it ended for good without.
pub(crate) fn ready_or_ended(record: &Record) -> impl Future<Output = Result<(), ()>> + '_ {
    record.watch(|view| {
        if view.ready || (view.ended && view.ever_ready) {
            Some(Ok(()))
        } else if view.ended {
            Some(Err(()))
        } else {
            None
        }
    })
}

/// `fut`'s output, or `None` if `timeout` passes first.
pub(crate) async fn with_timeout<F: Future>(
    runtime: &dyn Runtime,
    timeout: Duration,
    fut: F,
) -> Option<F::Output> {
    let sleep = runtime.sleep(timeout);
    match futures_util::future::select(core::pin::pin!(fut), sleep).await {
        futures_util::future::Either::Left((output, _)) => Some(output),
        futures_util::future::Either::Right(_) => None,
    }
}
