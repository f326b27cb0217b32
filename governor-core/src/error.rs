//! Misuse of the governor's API, as typed errors that name the problem.

use alloc::sync::Arc;
use core::fmt;

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
    /// `start` was called after shutdown was requested; nothing started.
    StartAfterShutdown,
    /// [`catch_signals`](crate::Governor::catch_signals) was asked for but
    /// the runtime could not start listening for signals.
    Signals(SignalError),
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
