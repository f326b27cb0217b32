//! Misuse of the governor's API, as typed errors that name the problem.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::runtime::SignalError;

/// What went wrong when configuring or starting a governor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A service was added with an empty name.
    EmptyName,
    /// A service with this name was added before.
    DuplicateName {
        /// The name both services asked for.
        name: Arc<str>,
    },
    /// A service was added after shutdown was requested.
    AddAfterShutdown {
        /// The service that was refused.
        name: Arc<str>,
    },
    /// `start` was called after shutdown was requested; nothing started,
    /// and the services that call covered are now
    /// [`ServiceState::Refused`](crate::ServiceState::Refused), for good.
    StartAfterShutdown,
    /// [`catch_signals`](crate::Governor::catch_signals) was asked for but
    /// the runtime could not start listening for signals.
    Signals(SignalError),
    /// A service depends on a name no service was added under; nothing
    /// was started.
    UnknownDependency {
        /// The service that names it.
        service: Arc<str>,
        /// The unknown name.
        dependency: Arc<str>,
    },
    /// Services depend on each other in a cycle; nothing was started.
    DependencyCycle {
        /// The services of the cycle, each depending on the next, the last
        /// on the first.
        cycle: Vec<Arc<str>>,
    },
    /// No service was added under this name.
    UnknownService {
        /// The name asked for.
        name: Arc<str>,
    },
    /// A service cannot be removed while a started service that depends
    /// on it has not ended for good; nothing was stopped.
    DependedOn {
        /// The service asked to be removed.
        service: Arc<str>,
        /// A service that depends on it and still runs.
        dependent: Arc<str>,
    },
    /// A service did not become ready within the time allowed.
    NotReady {
        /// The service.
        service: Arc<str>,
        /// The time it was given.
        timeout: Duration,
    },
    /// [`ServiceCtx::interval`](crate::ServiceCtx::interval) was given a
    /// zero period.
    ZeroPeriod,
    /// A service ended for good (or was never started) while something
    /// waited for it to become ready.
    EndedBeforeReady {
        /// The service.
        service: Arc<str>,
    },
    /// The [drain delay](crate::Governor::drain_delay) is not shorter
    /// than the [shutdown budget](crate::Governor::shutdown_budget): it
    /// would leave no time to stop anything. Nothing was started.
    DrainExceedsBudget {
        /// The drain delay.
        drain: Duration,
        /// The budget.
        budget: Duration,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyName => f.write_str("a service name must not be empty"),
            Error::DuplicateName { name } => {
                write!(f, "a service named {name:?} was already added")
            }
            Error::AddAfterShutdown { name } => {
                write!(
                    f,
                    "cannot add service {name:?}: the governor is shutting down"
                )
            }
            Error::StartAfterShutdown => f.write_str("cannot start: the governor is shutting down"),
            Error::Signals(e) => write!(f, "cannot catch signals: {e}"),
            Error::UnknownDependency {
                service,
                dependency,
            } => write!(
                f,
                "service {service:?} depends on {dependency:?}, which was never added"
            ),
            Error::DependencyCycle { cycle } => {
                f.write_str("services depend on each other in a cycle: ")?;
                for name in cycle {
                    write!(f, "{name:?} -> ")?;
                }
                match cycle.first() {
                    Some(first) => write!(f, "{first:?}"),
                    None => Ok(()),
                }
            }
            Error::UnknownService { name } => write!(f, "no service is named {name:?}"),
            Error::DependedOn { service, dependent } => write!(
                f,
                "cannot remove service {service:?}: {dependent:?} depends on it and has not ended"
            ),
            Error::NotReady { service, timeout } => {
                write!(
                    f,
                    "service {service:?} did not become ready within {timeout:?}"
                )
            }
            Error::ZeroPeriod => f.write_str("an interval's period must not be zero"),
            Error::EndedBeforeReady { service } => write!(
                f,
                "service {service:?} is not running and did not become ready"
            ),
            Error::DrainExceedsBudget { drain, budget } => write!(
                f,
                "the drain delay ({drain:?}) must be shorter than the shutdown budget ({budget:?})"
            ),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Signals(e) => Some(e),
            _ => None,
        }
    }
}
