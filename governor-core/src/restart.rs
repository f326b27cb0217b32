//! Restart policy: whether, and after how long, a service that ended is
//! run again.

use core::time::Duration;

use crate::outcome::Outcome;

/// When and how soon a service is run again after a run ends.
///
/// The default is [`RestartPolicy::never`], as in the Go governor:
/// services never restart unless a policy is set. [`after`] is the Go
/// `Restart(after)`: restart after any clean return, error or panic, after
/// a fixed delay (zero allowed).
///
/// Whatever the policy, a service is never restarted once it ended with
/// [`StopService`](crate::StopService) or once a stop was requested
/// (shutdown, or the service's own token cancelled).
///
/// ```
/// use std::time::Duration;
/// use governor_core::{Outcome, RestartPolicy};
///
/// let policy = RestartPolicy::after(Duration::from_secs(2));
/// assert_eq!(policy.delay_after(&Outcome::Completed), Some(Duration::from_secs(2)));
/// assert_eq!(policy.delay_after(&Outcome::Stopped), None);
/// assert_eq!(RestartPolicy::never().delay_after(&Outcome::Completed), None);
/// ```
///
/// [`after`]: RestartPolicy::after
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RestartPolicy {
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
enum Mode {
    #[default]
    Never,
    After(Duration),
}

impl RestartPolicy {
    /// Never restart (the default).
    pub const fn never() -> Self {
        RestartPolicy { mode: Mode::Never }
    }

    /// Restart after any ending but a stop, once `delay` has passed
    /// (`Duration::ZERO` restarts at once, after yielding to the runtime).
    pub const fn after(delay: Duration) -> Self {
        RestartPolicy {
            mode: Mode::After(delay),
        }
    }

    /// Whether this policy ever restarts anything.
    pub const fn restarts(&self) -> bool {
        !matches!(self.mode, Mode::Never)
    }

    /// The delay before the next run after a run ended with `outcome`, or
    /// `None` when the service is not to run again.
    pub fn delay_after(&self, outcome: &Outcome) -> Option<Duration> {
        match (self.mode, outcome) {
            (_, Outcome::Stopped) | (Mode::Never, _) => None,
            (Mode::After(delay), _) => Some(delay),
        }
    }
}
