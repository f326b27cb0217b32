//! Per-service configuration, returned by `Governor::add` (Go's
//! `ServiceConfig`).

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use crate::error::Error;
use crate::governor::{Governor, Shared};
use crate::handle::ServiceHandle;
use crate::propagation::Bind;
use crate::record::Record;
use crate::restart::RestartPolicy;

/// Configures one added service; chain its calls, then optionally
/// [`start`](ServiceConfig::start) it alone.
///
/// Dropping it leaves the service added, to be started by the next
/// [`Governor::start`]. Kept after the start, it still changes the
/// service: its restart policy applies from the service's next restart
/// decision on, its shutdown timeout from its next stop (the run in
/// progress included, if its stop has not begun); dependencies, readiness
/// and criticality are read when it starts.
///
/// ```
/// use std::time::Duration;
/// use governor_core::{RestartPolicy, ServiceCtx, ServiceResult, ServiceState};
///
/// async fn config_loader(ctx: ServiceCtx) -> ServiceResult {
///     // ... load ...
///     ctx.ready();
///     ctx.wait_for_stop().await;
///     Ok(())
/// }
/// async fn server(ctx: ServiceCtx) -> ServiceResult {
///     ctx.wait_for_stop().await;
///     Ok(())
/// }
///
/// # fn main() -> Result<(), governor_core::Error> {
/// let gov = governor_smol::new();
/// gov.add("config", config_loader)?.notify_ready().critical();
/// gov.add("server", server)?
///     .depends_on(["config"])
///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)))
///     .shutdown_timeout(Duration::from_secs(5));
/// smol::block_on(async {
///     gov.start_wait_ready(Duration::from_secs(5)).await?;
///     assert_eq!(gov.report().service("server").unwrap().state, ServiceState::Ready);
///     let report = gov.shutdown().await;
///     assert!(report.is_clean());
///     Ok(())
/// })
/// # }
/// ```
pub struct ServiceConfig {
    shared: Arc<Shared>,
    record: Arc<Record>,
}

impl ServiceConfig {
    pub(crate) fn new(shared: Arc<Shared>, record: Arc<Record>) -> Self {
        ServiceConfig { shared, record }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Restart this service after `after` when it ends (zero allowed),
    /// overriding the governor's default.
    pub fn restart(self, after: Duration) -> Self {
        self.restart_policy(RestartPolicy::after(after))
    }

    /// Never restart this service, overriding the governor's default.
    pub fn no_restart(self) -> Self {
        self.restart_policy(RestartPolicy::never())
    }

    /// Sets this service's own restart policy.
    pub fn restart_policy(self, policy: RestartPolicy) -> Self {
        self.record.configure(|c| c.restart = Some(policy));
        self
    }

    /// This service's first run waits until each of these services is
    /// ready; at shutdown, this service stops before them (their restarts
    /// and ends leave it running; to follow them, see
    /// [`depends_on_with`](ServiceConfig::depends_on_with)). Unknown names
    /// and cycles are reported by `start`. Names add up over calls. The
    /// iterator and the conversions run before any lock of the governor's
    /// is taken: they may call back into it.
    ///
    /// A dependent asked to stop while it still waits never runs (its
    /// outcome: [`Outcome::NotRun`](crate::Outcome::NotRun)); one whose
    /// dependency ends for good without being ready never runs either
    /// ([`Outcome::DependencyFailed`](crate::Outcome::DependencyFailed)).
    pub fn depends_on<I>(self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Arc<str>>,
    {
        // The user's iterator and conversions run before the record's lock
        // is taken: they may call back into the governor.
        let mut names: alloc::vec::Vec<Arc<str>> = names.into_iter().map(Into::into).collect();
        self.record.configure(|c| c.depends_on.append(&mut names));
        self
    }

    /// As [`depends_on`](ServiceConfig::depends_on) for one dependency,
    /// choosing how this service follows it ([`Bind`]): with
    /// [`Bind::PartOf`] it restarts whenever `name` restarts (stopped
    /// before `name`'s next run begins, started again once `name` is
    /// ready); with [`Bind::BindsTo`], also stopped for good when `name`
    /// ends for good. Unknown names and cycles are refused by `start`, as
    /// for `depends_on`. Read when this service starts.
    ///
    /// ```
    /// use governor_core::{Bind, ServiceCtx, ServiceResult, ServiceState};
    ///
    /// async fn idle(ctx: ServiceCtx) -> ServiceResult {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// }
    ///
    /// let gov = governor_smol::new();
    /// gov.add("db", idle)?;
    /// let pool = gov.add("pool", idle)?.depends_on_with("db", Bind::PartOf).handle();
    /// let db = gov.service("db")?;
    /// smol::block_on(async {
    ///     gov.start()?;
    ///     gov.wait_ready("pool", std::time::Duration::from_secs(5)).await?;
    ///     db.restart(); // "pool" restarts with it, after "db" is ready again
    ///     while pool.report().runs < 2 {
    ///         smol::Timer::after(std::time::Duration::from_millis(1)).await;
    ///     }
    ///     assert_eq!(pool.report().restarts, 1);
    ///     assert!(gov.shutdown().await.is_clean());
    ///     Ok::<(), governor_core::Error>(())
    /// })?;
    /// # let _ = ServiceState::Ended;
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    pub fn depends_on_with(self, name: impl Into<Arc<str>>, bind: Bind) -> Self {
        let name = name.into();
        self.record.configure(|c| {
            c.depends_on.push(name.clone());
            if bind != Bind::Order {
                c.binds.push((name, bind));
            }
        });
        self
    }

    /// This service reports readiness itself with
    /// [`ServiceCtx::ready`](crate::ServiceCtx::ready) (like systemd's
    /// `Type=notify`); dependents and `wait_ready` wait for that. Without
    /// it, a service is ready as soon as a run begins (`Type=simple`).
    pub fn notify_ready(self) -> Self {
        self.record.configure(|c| c.notify_ready = true);
        self
    }

    /// When this service ends for good by itself (however it ended, gave
    /// up included), the whole governor shuts down, with
    /// [`ShutdownCause::Critical`](crate::ShutdownCause::Critical) naming
    /// it: OTP's significant child. A clean end (`Ok`, `StopService`) is a
    /// clean shutdown ([`Report::is_clean`](crate::Report::is_clean)
    /// holds, e.g. a one-shot migration job); a failure, a panic or giving
    /// up is not. A restart by its [handle](crate::ServiceHandle::restart)
    /// is not an end.
    pub fn critical(self) -> Self {
        self.record.configure(|c| c.critical = true);
        self
    }

    /// Every [reload](Governor::reload) restarts this service's current
    /// run, as its handle's [`restart`](ServiceHandle::restart) does (stop
    /// hooks, shutdown timeout; the restart does not count against its
    /// restart limit), for a service that reads its configuration only
    /// when a run begins. [`Event::ReloadRestart`](crate::Event::ReloadRestart)
    /// tells it; [`Event::Reloaded`](crate::Event::Reloaded) waits until
    /// the new run is ready. A service that can reload in place awaits
    /// [`ServiceCtx::reloaded`](crate::ServiceCtx::reloaded) instead.
    pub fn restart_on_reload(self) -> Self {
        self.record.configure(|c| c.restart_on_reload = true);
        self
    }

    /// Bounds how long this service may take to stop, overriding the
    /// governor's [`shutdown_timeout`](Governor::shutdown_timeout).
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        self.record
            .configure(|c| c.shutdown_timeout = Some(timeout));
        self
    }

    /// Watches this service's runs for hangs: a run that sends no
    /// [heartbeat](crate::ServiceCtx::heartbeat) for `timeout` (counted
    /// from its beginning, then from each heartbeat, and not while it is
    /// [busy](crate::ServiceCtx::busy_for)) is declared hung, exactly at
    /// that deadline: [`Event::Hung`](crate::Event::Hung) is emitted, its
    /// [health](crate::Health) becomes unhealthy, and it is stopped as any
    /// run is (its token, its stop hooks, its shutdown timeout — the
    /// watchdog's `timeout` if it has none — then abort, or abandon for a
    /// blocking run). Its outcome is [`Outcome::Hung`](crate::Outcome::Hung),
    /// a failure: its restart policy restarts it (an
    /// [`on_failure`](RestartPolicy::on_failure) one included), counting
    /// against its restart limit. A blocking service whose hung run is
    /// abandoned is restarted only if added with
    /// [`add_blocking_with`](Governor::add_blocking_with).
    ///
    /// `Duration::ZERO` turns the watchdog off. Read as each run begins.
    /// A service without a watchdog pays nothing for this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_smol::{RestartPolicy, ServiceCtx, ServiceResult};
    ///
    /// async fn consumer(ctx: ServiceCtx) -> ServiceResult {
    ///     loop {
    ///         ctx.heartbeat();
    ///         ctx.sleep(Duration::from_secs(1)).await?; // a receive, say
    ///     }
    /// }
    ///
    /// let gov = governor_smol::new();
    /// gov.add("consumer", consumer)?
    ///     .watchdog(Duration::from_secs(30))
    ///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)));
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    pub fn watchdog(self, timeout: Duration) -> Self {
        self.record.configure(|c| c.watchdog = Some(timeout));
        self
    }

    /// Forgets this service once it ends for good (a one-off job, a
    /// connection; OTP's temporary child): it leaves the governor's
    /// [`report`](Governor::report) and its name is free again, so that a
    /// program adding such services without end does not grow. Its
    /// restart policy still applies: a run that is restarted is not the
    /// end. The final outcome still reaches the events, and
    /// [`ServiceHandle::wait`] and [`ServiceHandle::report`] on a handle
    /// taken before. A service that ends because the governor shuts down
    /// is not forgotten: the shutdown's report names every service it
    /// stopped.
    pub fn forget_when_ended(self) -> Self {
        self.record.set_forget_when_ended();
        self
    }

    /// Adds a stop hook for every run of this service (Go's
    /// `Stoppable.Stop`); see [`ServiceCtx::on_stop`](crate::ServiceCtx::on_stop).
    pub fn on_stop(self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.record.add_hook(Arc::new(hook));
        self
    }

    /// A handle to stop, restart or wait for this service later.
    pub fn handle(&self) -> ServiceHandle {
        ServiceHandle::new(self.shared.clone(), self.record.clone())
    }

    /// Starts this service now, alone (Go's `ServiceConfig.Start`).
    /// Errors as [`Governor::start`]; refused because shutdown had begun,
    /// this service alone becomes
    /// [`Refused`](crate::ServiceState::Refused).
    pub fn start(self) -> Result<(), Error> {
        Governor::from_shared(self.shared.clone()).start_one(&self.record)
    }
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("name", &self.record.name)
            .finish_non_exhaustive()
    }
}
