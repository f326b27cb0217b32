//! Health: what each service says of itself ([`Health`], set with
//! `ServiceCtx::set_health`, made unhealthy by a hang), and the
//! governor's aggregate of it ([`HealthReport`], from
//! [`Governor::health`] or [`Report::health`](crate::Report::health)),
//! the one call a program serves as a liveness or readiness probe.
//!
//! # Rules
//!
//! 1. A service's health belongs to its runs: each run begins
//!    [`Healthy`](Health::Healthy); the run changes it; it stays as the
//!    last run left it until the next run begins (a service that gave up
//!    after a hang stays unhealthy). It is kept in the service's record,
//!    under the record's lock, boxed and only once it is not healthy (or
//!    the service has a watchdog): a service that never reports its
//!    health pays one word for it.
//! 2. The aggregate is read under the governor's lock, then each
//!    record's (the lock order everywhere); no user code runs meanwhile.
//! 3. The worst wins: one unhealthy service makes the aggregate
//!    unhealthy, and the report names every service that is not healthy.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::context::ServiceCtx;
use crate::event::Event;
use crate::governor::Governor;
use crate::report::ServiceState;

/// How a service says it is doing (see
/// [`ServiceCtx::set_health`](crate::ServiceCtx::set_health)).
///
/// ```
/// use governor_core::{Health, HealthLevel};
///
/// let h = Health::degraded("cache cold");
/// assert_eq!(h.level(), HealthLevel::Degraded);
/// assert_eq!(h.reason(), Some("cache cold"));
/// assert_eq!(h.to_string(), "degraded: cache cold");
/// assert!(Health::unhealthy("db gone").level() > HealthLevel::Degraded);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Health {
    /// Working as it should (every run begins so).
    #[default]
    Healthy,
    /// Working, but less well; the reason says how.
    Degraded(Arc<str>),
    /// Not working; the reason says why. A hung run is unhealthy.
    Unhealthy(Arc<str>),
}

impl Health {
    /// [`Degraded`](Health::Degraded), for `reason`.
    pub fn degraded(reason: impl Into<Arc<str>>) -> Self {
        Health::Degraded(reason.into())
    }

    /// [`Unhealthy`](Health::Unhealthy), for `reason`.
    pub fn unhealthy(reason: impl Into<Arc<str>>) -> Self {
        Health::Unhealthy(reason.into())
    }

    /// How bad it is, without the reason.
    pub fn level(&self) -> HealthLevel {
        match self {
            Health::Healthy => HealthLevel::Healthy,
            Health::Degraded(_) => HealthLevel::Degraded,
            Health::Unhealthy(_) => HealthLevel::Unhealthy,
        }
    }

    /// The reason given, unless healthy.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Healthy => None,
            Health::Degraded(reason) | Health::Unhealthy(reason) => Some(reason),
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Degraded(reason) => write!(f, "degraded: {reason}"),
            Health::Unhealthy(reason) => write!(f, "unhealthy: {reason}"),
        }
    }
}

/// A [`Health`] without its reason, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum HealthLevel {
    /// Every service is healthy.
    #[default]
    Healthy,
    /// Some service is degraded, none unhealthy.
    Degraded,
    /// Some service is unhealthy.
    Unhealthy,
}

impl fmt::Display for HealthLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HealthLevel::Healthy => "healthy",
            HealthLevel::Degraded => "degraded",
            HealthLevel::Unhealthy => "unhealthy",
        })
    }
}

/// The governor's health: the worst of its services', with every service
/// that is not healthy named, and what a probe needs to answer.
///
/// From [`Governor::health`] (cheap enough to call for every probe or
/// watchdog ping: one pass over the services, no allocation while all are
/// healthy and ready) or [`Report::health`](crate::Report::health).
///
/// - [`is_live`](HealthReport::is_live) — for a Kubernetes **liveness**
///   probe, and the systemd watchdog: no service is unhealthy. A failing
///   liveness probe gets the process restarted, so only what a restart
///   could mend counts: a hung run (until its stop ends and the next run
///   begins), or a service that says it is unhealthy.
/// - [`is_ready`](HealthReport::is_ready) — for a **readiness** probe:
///   live, not shutting down, and no service starting up or between runs
///   (every run in progress is [ready](crate::ServiceCtx::ready)).
///   Degraded services are still ready: they serve, less well.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HealthReport {
    /// The worst health of any service.
    pub level: HealthLevel,
    /// Every service that is not healthy, in the order they were added.
    pub services: Vec<(Arc<str>, Health)>,
    /// Services not ready: starting, in a run not reported ready yet,
    /// waiting to restart or stopping (in the order they were added).
    pub unready: Vec<Arc<str>>,
    /// The governor is shutting down.
    pub shutting_down: bool,
}

impl HealthReport {
    /// No service is unhealthy (see the type's documentation).
    ///
    /// ```
    /// use governor_core::HealthReport;
    /// assert!(HealthReport::default().is_live());
    /// ```
    pub fn is_live(&self) -> bool {
        self.level < HealthLevel::Unhealthy
    }

    /// Live, not shutting down, and every service's run ready (see the
    /// type's documentation).
    pub fn is_ready(&self) -> bool {
        self.is_live() && !self.shutting_down && self.unready.is_empty()
    }

    /// The health of the service called `name` if it is not healthy.
    pub fn service(&self, name: &str) -> Option<&Health> {
        self.services
            .iter()
            .find(|(service, _)| &**service == name)
            .map(|(_, health)| health)
    }

    pub(crate) fn add(&mut self, name: &Arc<str>, state: ServiceState, health: Option<Health>) {
        if matches!(
            state,
            ServiceState::Starting
                | ServiceState::Running
                | ServiceState::Restarting
                | ServiceState::Stopping
        ) {
            self.unready.push(name.clone());
        }
        if let Some(health) = health.filter(|h| *h != Health::Healthy) {
            self.level = self.level.max(health.level());
            self.services.push((name.clone(), health));
        }
    }
}

impl fmt::Display for HealthReport {
    /// `healthy`, or the level and every service that is not healthy:
    /// `unhealthy: db (unhealthy: gone), cache (degraded: cold)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.level)?;
        for (at, (name, health)) in self.services.iter().enumerate() {
            let sep = if at == 0 { ": " } else { ", " };
            write!(f, "{sep}{name} ({health})")?;
        }
        Ok(())
    }
}

impl Governor {
    /// The governor's health now: the worst of its services', naming
    /// those that are not healthy, with what a liveness or readiness probe
    /// needs ([`HealthReport::is_live`], [`HealthReport::is_ready`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_smol::{Health, ServiceCtx, ServiceResult};
    ///
    /// async fn cache(ctx: ServiceCtx) -> ServiceResult {
    ///     ctx.set_health(Health::degraded("cold"));
    ///     ctx.ready();
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// }
    ///
    /// futures_executor::block_on(async {
    ///     let gov = governor_smol::new();
    ///     gov.add("cache", cache)?.notify_ready();
    ///     gov.start_wait_ready(Duration::from_secs(10)).await?;
    ///     let health = gov.health();
    ///     // Degraded: still live and ready.
    ///     assert!(health.is_live() && health.is_ready());
    ///     assert_eq!(health.to_string(), "degraded: cache (degraded: cold)");
    ///     gov.shutdown().await;
    ///     assert!(!gov.health().is_ready()); // shutting down
    ///     Ok::<(), governor_smol::Error>(())
    /// })?;
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    pub fn health(&self) -> HealthReport {
        self.shared().health()
    }
}

impl ServiceCtx {
    /// Says how this run is doing: kept in the service's
    /// [report](crate::ServiceReport::health), aggregated by
    /// [`Governor::health`] (the worst wins), and told as
    /// [`Event::HealthChanged`] when it changes. Each run begins
    /// [`Healthy`](Health::Healthy); the health a run leaves stays until
    /// the next run begins. From a context whose run has ended, or once
    /// the run was declared hung (unhealthy until it ends), it does
    /// nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_smol::{Health, ServiceCtx, ServiceResult};
    ///
    /// async fn replica(ctx: ServiceCtx) -> ServiceResult {
    ///     loop {
    ///         let lag = Duration::from_secs(3); // measured, say
    ///         ctx.set_health(if lag > Duration::from_secs(60) {
    ///             Health::unhealthy("replication stopped")
    ///         } else if lag > Duration::from_secs(1) {
    ///             Health::degraded(format!("lagging {lag:?}"))
    ///         } else {
    ///             Health::Healthy
    ///         });
    ///         ctx.sleep(Duration::from_secs(1)).await?;
    ///     }
    /// }
    /// # let _ = replica;
    /// ```
    pub fn set_health(&self, health: Health) {
        let (shared, record, run) = self.parts();
        if let Some(health) = record.set_health(run, health) {
            shared.emit(|| Event::HealthChanged {
                service: record.name.clone(),
                health,
            });
        }
    }
}
