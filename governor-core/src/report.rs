//! What the governor tells `main` about its services: a snapshot per
//! service and the report returned by shutdown.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::outcome::Outcome;
use crate::runtime::Signal;

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceState {
    /// Added, not started yet.
    Pending,
    /// A run is in progress.
    Running,
    /// Between two runs, waiting for the restart delay.
    Restarting,
    /// Ended for good: it will not run again.
    Stopped,
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceState::Pending => "pending",
            ServiceState::Running => "running",
            ServiceState::Restarting => "restarting",
            ServiceState::Stopped => "stopped",
        })
    }
}

/// Why the governor began to shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownCause {
    /// [`Governor::shutdown`](crate::Governor::shutdown) or
    /// [`request_shutdown`](crate::Governor::request_shutdown) was called
    /// (by `main`, by a service, or by any other code).
    Requested,
    /// A caught operating-system signal.
    Signal(Signal),
}

impl fmt::Display for ShutdownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownCause::Requested => f.write_str("requested"),
            ShutdownCause::Signal(signal) => write!(f, "signal {signal}"),
        }
    }
}

/// A snapshot of one service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceReport {
    /// The name it was added under.
    pub name: Arc<str>,
    /// Its state when the snapshot was taken.
    pub state: ServiceState,
    /// How many runs have begun.
    pub runs: u64,
    /// How many of those runs were restarts.
    pub restarts: u64,
    /// How its latest finished run ended; `None` if no run has finished.
    pub last_outcome: Option<Outcome>,
}

impl fmt::Display for ServiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.state)?;
        match &self.last_outcome {
            Some(outcome) => write!(f, ", last run {outcome}")?,
            None => f.write_str(", never finished a run")?,
        }
        write!(f, ", {} run(s), {} restart(s)", self.runs, self.restarts)
    }
}

/// The state of every service, as returned by
/// [`Governor::shutdown`](crate::Governor::shutdown),
/// [`Governor::wait_for_shutdown`](crate::Governor::wait_for_shutdown) and
/// [`Governor::report`](crate::Governor::report).
///
/// Services are listed in the order they were added.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// Why shutdown began, if it has.
    pub cause: Option<ShutdownCause>,
    /// One entry per service, in the order they were added.
    pub services: Vec<ServiceReport>,
}

impl Report {
    /// The entry for the service called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceReport> {
        self.services.iter().find(|s| &*s.name == name)
    }

    /// Whether every service's latest run ended without a failure: what a
    /// `main` usually turns into exit code 0.
    pub fn is_clean(&self) -> bool {
        self.services
            .iter()
            .all(|s| !s.last_outcome.as_ref().is_some_and(Outcome::is_failure))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cause {
            Some(cause) => writeln!(f, "shutdown ({cause}):")?,
            None => writeln!(f, "no shutdown requested:")?,
        }
        for service in &self.services {
            writeln!(f, "  {service}")?;
        }
        Ok(())
    }
}
