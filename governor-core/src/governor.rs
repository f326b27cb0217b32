//! The governor: the set of services, the defaults they share, start and
//! shutdown.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use futures_util::StreamExt;

use crate::activity::Activity;
use crate::config::ServiceConfig;
use crate::error::Error;
use crate::report::{Report, ShutdownCause};
use crate::restart::RestartPolicy;
use crate::runtime::{Runtime, SignalStream};
use crate::service::Service;
use crate::sleep::Sleep;
use crate::slot::{Launch, Slot};
use crate::supervisor::{supervise, AsyncRunner};
use crate::sync::Mutex;
use crate::token::StopToken;

/// Oversees a set of named services: starts them, restarts them by policy,
/// shuts them down and waits for them (Go's `Governor`).
///
/// Cheap to clone: clones share one governor. Every method may be called
/// from any task or thread, concurrently with any other.
///
/// A runtime adapter gives the one-line constructor (for example
/// `governor_tokio::new()`); [`Governor::new`] takes any [`Runtime`].
///
/// ```
/// # use governor_core::runtime::{BoxSleep, BoxTask, Runtime};
/// # use core::time::Duration;
/// # struct Rt;
/// # impl Runtime for Rt {
/// #     fn spawn(&self, task: BoxTask) { drop(task) }
/// #     fn sleep(&self, _: Duration) -> BoxSleep { Box::pin(core::future::pending()) }
/// #     fn now(&self) -> Duration { Duration::ZERO }
/// # }
/// use governor_core::{Error, Governor, ServiceCtx, ServiceResult};
///
/// async fn worker(ctx: ServiceCtx) -> ServiceResult {
///     ctx.cancelled().await;
///     Ok(())
/// }
///
/// let gov = Governor::new(Rt).restart(Duration::from_secs(1));
/// gov.add("worker", worker)?;
/// assert_eq!(gov.add("worker", worker).unwrap_err(), Error::DuplicateName { name: "worker".into() });
/// gov.start()?;
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct Governor {
    shared: Arc<Shared>,
}

/// State shared by the governor's handles, its services' contexts and
/// their supervisors.
pub(crate) struct Shared {
    pub(crate) runtime: Arc<dyn Runtime>,
    /// The global stop token (Go's `GlobalContext`); parent of every
    /// service's token.
    pub(crate) token: StopToken,
    pub(crate) activity: Activity,
    state: Mutex<State>,
    /// Cancelled when the governor is dropped: ends its signal listener.
    dropped: StopToken,
}

struct State {
    restart: RestartPolicy,
    catch_signals: bool,
    signals_installed: bool,
    /// Every service, in the order added.
    services: Vec<Arc<Slot>>,
    names: BTreeSet<Arc<str>>,
    /// Added but not started by `start` yet (some may have been started
    /// alone since; `start` skips those).
    pending: Vec<Arc<Slot>>,
    cause: Option<ShutdownCause>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.dropped.cancel();
    }
}

impl Shared {
    pub(crate) fn default_restart(&self) -> RestartPolicy {
        self.state.lock().restart
    }

    /// Starts `slot`'s supervisor if it has not started yet. The caller
    /// holds the governor's state lock and has checked that no shutdown
    /// was requested, so a shutdown cannot slip in between and miss it.
    fn launch(self: &Arc<Self>, slot: &Arc<Slot>, to_spawn: &mut Vec<(Launch, Arc<Slot>)>) {
        if let Some(launch) = slot.take_launch() {
            self.activity.enter();
            to_spawn.push((launch, slot.clone()));
        }
    }

    fn spawn_all(self: &Arc<Self>, to_spawn: Vec<(Launch, Arc<Slot>)>) {
        for (launch, slot) in to_spawn {
            self.runtime.spawn(launch(self.clone(), slot));
        }
    }

    /// Requests shutdown; returns whether this call did.
    fn request_shutdown(&self, cause: ShutdownCause) -> bool {
        {
            let mut state = self.state.lock();
            if state.cause.is_some() {
                return false;
            }
            state.cause = Some(cause);
        }
        tracing::info!(%cause, "shutdown requested");
        self.token.cancel();
        true
    }

    fn report(&self) -> Report {
        let (cause, services) = {
            let state = self.state.lock();
            (state.cause, state.services.clone())
        };
        Report {
            cause,
            services: services.iter().map(|slot| slot.report()).collect(),
        }
    }
}

impl Governor {
    /// A governor over `runtime`, with no services, no signal catching and
    /// the default restart policy ([never](RestartPolicy::never)).
    pub fn new(runtime: impl Runtime) -> Governor {
        Governor {
            shared: Arc::new(Shared {
                runtime: Arc::new(runtime),
                token: StopToken::new(),
                activity: Activity::default(),
                state: Mutex::new(State {
                    restart: RestartPolicy::never(),
                    catch_signals: false,
                    signals_installed: false,
                    services: Vec::new(),
                    names: BTreeSet::new(),
                    pending: Vec::new(),
                    cause: None,
                }),
                dropped: StopToken::new(),
            }),
        }
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Governor {
        Governor { shared }
    }

    /// Turns SIGINT (Ctrl-C), SIGTERM, SIGHUP and SIGQUIT (Ctrl-C only,
    /// off unix) into a graceful shutdown (Go's `CatchSignals`).
    ///
    /// The handlers are installed by the next [`start`](Governor::start),
    /// which reports a failure to install them as [`Error::Signals`]. From
    /// then on the signals no longer end the process by themselves: the
    /// governor shuts down and `main` decides when to exit.
    pub fn catch_signals(self) -> Self {
        self.shared.state.lock().catch_signals = true;
        self
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
        self.shared.state.lock().restart = policy;
        self
    }

    /// Adds a service under `name` (Go's `Add`). It starts with the next
    /// [`start`](Governor::start), or alone with
    /// [`ServiceConfig::start`]; the returned config sets its own restart
    /// policy and stop hooks.
    ///
    /// Errors: [`Error::EmptyName`], [`Error::DuplicateName`],
    /// [`Error::AddAfterShutdown`]. A refused service is dropped.
    pub fn add<S: Service>(
        &self,
        name: impl Into<Arc<str>>,
        service: S,
    ) -> Result<ServiceConfig, Error> {
        let launch: Launch =
            Box::new(move |shared, slot| Box::pin(supervise(AsyncRunner(service), shared, slot)));
        self.add_launch(name.into(), launch)
    }

    /// Adds a [`BlockingService`](crate::BlockingService): each run owns a
    /// thread of the runtime's blocking pool. Otherwise as
    /// [`add`](Governor::add).
    ///
    /// ```
    /// # use governor_core::runtime::{BoxSleep, BoxTask, Runtime};
    /// # use core::time::Duration;
    /// # struct Rt;
    /// # impl Runtime for Rt {
    /// #     fn spawn(&self, task: BoxTask) { drop(task) }
    /// #     fn sleep(&self, _: Duration) -> BoxSleep { Box::pin(core::future::pending()) }
    /// #     fn now(&self) -> Duration { Duration::ZERO }
    /// # }
    /// use governor_core::{Governor, ServiceCtx, ServiceResult};
    ///
    /// fn poll_disk(ctx: ServiceCtx) -> ServiceResult {
    ///     loop {
    ///         // ... blocking work ...
    ///         ctx.sleep_blocking(Duration::from_secs(5))?;
    ///     }
    /// }
    ///
    /// let gov = Governor::new(Rt);
    /// gov.add_blocking("disk", poll_disk)?;
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn add_blocking<S: crate::service::BlockingService>(
        &self,
        name: impl Into<Arc<str>>,
        service: S,
    ) -> Result<ServiceConfig, Error> {
        use crate::supervisor::BlockingRunner;
        let launch: Launch = Box::new(move |shared, slot| {
            Box::pin(supervise(BlockingRunner(Some(service)), shared, slot))
        });
        self.add_launch(name.into(), launch)
    }

    fn add_launch(&self, name: Arc<str>, launch: Launch) -> Result<ServiceConfig, Error> {
        if name.is_empty() {
            return Err(Error::EmptyName);
        }
        let slot = {
            let mut state = self.shared.state.lock();
            if state.cause.is_some() {
                return Err(Error::AddAfterShutdown { name });
            }
            if state.names.contains(&name) {
                return Err(Error::DuplicateName { name });
            }
            let slot = Arc::new(Slot::new(
                name.clone(),
                self.shared.token.child_token(),
                launch,
            ));
            state.names.insert(name);
            state.services.push(slot.clone());
            state.pending.push(slot.clone());
            slot
        };
        Ok(ServiceConfig::new(self.shared.clone(), slot))
    }

    /// Starts every added service that has not started yet (Go's `Start`);
    /// services already started are not affected. Adding and starting
    /// more services later works.
    ///
    /// Errors: [`Error::StartAfterShutdown`] (nothing is started), or
    /// [`Error::Signals`] when signals were to be caught and could not be
    /// (nothing is started either).
    pub fn start(&self) -> Result<(), Error> {
        self.install_signals()?;
        let mut to_spawn = Vec::new();
        {
            let mut state = self.shared.state.lock();
            if state.cause.is_some() {
                return Err(Error::StartAfterShutdown);
            }
            for slot in core::mem::take(&mut state.pending) {
                self.shared.launch(&slot, &mut to_spawn);
            }
        }
        self.shared.spawn_all(to_spawn);
        Ok(())
    }

    /// Starts one service (see [`ServiceConfig::start`]).
    pub(crate) fn start_one(&self, slot: &Arc<Slot>) -> Result<(), Error> {
        self.install_signals()?;
        let mut to_spawn = Vec::new();
        {
            let state = self.shared.state.lock();
            if state.cause.is_some() {
                return Err(Error::StartAfterShutdown);
            }
            self.shared.launch(slot, &mut to_spawn);
        }
        self.shared.spawn_all(to_spawn);
        Ok(())
    }

    fn install_signals(&self) -> Result<(), Error> {
        {
            let mut state = self.shared.state.lock();
            if !state.catch_signals || state.signals_installed {
                return Ok(());
            }
            state.signals_installed = true;
        }
        let signals = match self.shared.runtime.shutdown_signals() {
            Ok(signals) => signals,
            Err(e) => {
                self.shared.state.lock().signals_installed = false;
                return Err(Error::Signals(e));
            }
        };
        let listener = listen_for_signals(
            signals,
            Arc::downgrade(&self.shared),
            self.shared.dropped.clone(),
        );
        self.shared.runtime.spawn(Box::pin(listener));
        Ok(())
    }

    /// Requests shutdown without waiting for it: cancels the global token
    /// and every service's token, which makes each service's stop hooks
    /// run. Returns `true` if this call started the shutdown, `false` if
    /// one was already under way. Safe to call from anywhere, any number
    /// of times, including from inside a service or a stop hook.
    pub fn request_shutdown(&self) -> bool {
        self.shared.request_shutdown(ShutdownCause::Requested)
    }

    /// Stops every service and waits until all have stopped (Go's
    /// `Shutdown`), then returns the final [`Report`].
    ///
    /// Idempotent: later calls wait the same way and return the same kind
    /// of report. Awaited from inside a service (with `std`), it waits for
    /// every *other* service and then returns, so that the caller can
    /// return too; it never waits for itself.
    pub async fn shutdown(&self) -> Report {
        self.shared.request_shutdown(ShutdownCause::Requested);
        self.wait_for_shutdown().await
    }

    /// Waits until no service is running any more (Go's
    /// `WaitForShutdown`), because of a shutdown or because every service
    /// ended for good, and returns the [`Report`].
    ///
    /// Like Go's, it returns at once if no service has been started. A
    /// service between two runs (waiting for its restart delay) counts as
    /// running.
    pub async fn wait_for_shutdown(&self) -> Report {
        self.shared.activity.wait_idle().await;
        self.shared.report()
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
    /// `GlobalContext`): cancelled as soon as shutdown is requested.
    pub fn token(&self) -> StopToken {
        self.shared.token.clone()
    }

    /// Whether shutdown has been requested (Go's `Stopping`).
    #[inline]
    pub fn stopping(&self) -> bool {
        self.shared.token.is_cancelled()
    }

    /// Sleeps for `duration`, or until shutdown is requested
    /// (`Err(Stopped)`, Go's `cancelled == true`).
    pub fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Sleep::new(
            self.shared.token.cancelled(),
            self.shared.runtime.sleep(duration),
        )
    }

    /// A snapshot of every service's state, restarts and last outcome.
    pub fn report(&self) -> Report {
        self.shared.report()
    }

    /// How many services are running (or waiting to restart) right now.
    pub fn running(&self) -> usize {
        self.shared.activity.live()
    }
}

impl fmt::Debug for Governor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Governor")
            .field("services", &state.services.len())
            .field("shutdown", &state.cause)
            .finish_non_exhaustive()
    }
}

/// Turns each delivered signal into a shutdown request, until the governor
/// is dropped.
async fn listen_for_signals(mut signals: SignalStream, governor: Weak<Shared>, dropped: StopToken) {
    while let Ok(Some(signal)) = dropped.run_until_cancelled(signals.next()).await {
        let Some(shared) = governor.upgrade() else {
            return;
        };
        tracing::info!(%signal, "signal received");
        if !shared.request_shutdown(ShutdownCause::Signal(signal)) {
            tracing::warn!(%signal, "signal received again; shutdown already under way");
        }
    }
}
