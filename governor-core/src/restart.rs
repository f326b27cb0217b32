//! Restart policy: whether, after how long, and how often a service that
//! ended is run again — and what happens when it restarts too often.

use core::time::Duration;

use crate::outcome::Outcome;

mod history;

pub(crate) use history::{Decision, RestartHistory};

/// When and how soon a service is run again after a run ends, and how many
/// restarts are too many.
///
/// Built from one of three constructors, then refined by chained calls:
///
/// | constructor | restarts after |
/// |---|---|
/// | [`never`](RestartPolicy::never) (the default) | nothing |
/// | [`on_failure(delay)`](RestartPolicy::on_failure) | an error or a panic |
/// | [`always(delay)`](RestartPolicy::always) ([`after`](RestartPolicy::after)) | any ending: `Ok`, error or panic |
///
/// Whatever the policy, a service is never restarted once it ended with
/// [`StopService`](crate::StopService) or once a stop was requested for it
/// (shutdown, or its [handle](crate::ServiceHandle)'s `stop`).
///
/// ```
/// use std::time::Duration;
/// use governor_core::{Backoff, Escalation, RestartPolicy};
///
/// // Restart failures with exponential backoff 100 ms, 200 ms, 400 ms, … up
/// // to 30 s (±10 % jitter), back to 100 ms after a minute of healthy
/// // running; more than 5 restarts within 60 s shuts everything down.
/// let policy = RestartPolicy::on_failure(Duration::ZERO)
///     .backoff(
///         Backoff::new(Duration::from_millis(100), Duration::from_secs(30))
///             .factor(2.0)
///             .jitter(0.1)
///             .reset_after(Duration::from_secs(60)),
///     )
///     .limit(5, Duration::from_secs(60))
///     .escalate(Escalation::Shutdown);
/// # let _ = policy;
/// ```
///
/// # Defaults, next to OTP and systemd
///
/// | | governor | Erlang/OTP supervisor | systemd |
/// |---|---|---|---|
/// | restart | never (as the Go governor) | `permanent` children: always | `Restart=no` |
/// | delay | none until set | none | `RestartSec=100ms` |
/// | limit | none until set | intensity 1 in 5 s, then the supervisor exits | `StartLimitBurst=5` in `StartLimitIntervalSec=10s` |
/// | over the limit | [`Escalation::GiveUp`] unless set | escalate to the parent | unit fails |
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RestartPolicy {
    on: RestartOn,
    delay: Delay,
    limit: Option<Limit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum RestartOn {
    #[default]
    Never,
    Failure,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Delay {
    Fixed(Duration),
    Backoff(Backoff),
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Fixed(Duration::ZERO)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limit {
    restarts: u32,
    within: Duration,
    then: Escalation,
}

/// What happens when a service restarts more often than its policy's
/// [`limit`](RestartPolicy::limit) allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Escalation {
    /// The service is not restarted and stays stopped; its state says
    /// [`GaveUp`](crate::ServiceState::GaveUp).
    #[default]
    GiveUp,
    /// The whole governor shuts down, with
    /// [`ShutdownCause::Escalated`](crate::ShutdownCause::Escalated) naming
    /// the service.
    Shutdown,
}

/// Exponential backoff between restarts: `initial`, then each delay
/// multiplied by `factor`, capped at `max`, scaled by a random factor in
/// `[1 - jitter, 1 + jitter]` (and capped at `max` again), and back to
/// `initial` after a run that stayed up for `reset_after`.
///
/// Out-of-range settings are clamped, not refused: `factor` below 1 (or
/// NaN) counts as 1, `jitter` is clamped to `[0, 1]` (NaN counts as 0),
/// and `max` below `initial` counts as `initial`. Defaults: factor 2,
/// jitter 0, reset after 30 s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    factor: f64,
    jitter: f64,
    reset_after: Duration,
}

impl Backoff {
    /// Backoff from `initial` up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: if max < initial { initial } else { max },
            factor: 2.0,
            jitter: 0.0,
            reset_after: Duration::from_secs(30),
        }
    }

    /// Each delay is the previous one times `factor` (at least 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor >= 1.0 { factor } else { 1.0 };
        self
    }

    /// Each delay is scaled by a random factor in `[1 - jitter, 1 + jitter]`
    /// (`jitter` clamped to `[0, 1]`), so that services failing together do
    /// not restart in lockstep.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter >= 0.0 { jitter.min(1.0) } else { 0.0 };
        self
    }

    /// A run that stays up at least this long is healthy: the next delay
    /// starts from `initial` again.
    pub fn reset_after(mut self, healthy: Duration) -> Self {
        self.reset_after = healthy;
        self
    }

    /// The delay before restart number `attempt` (0 for the first), before
    /// jitter: `initial × factor^attempt`, capped at `max`. Computed in
    /// constant time, whatever `attempt`.
    pub fn nominal(&self, attempt: u32) -> Duration {
        if attempt == 0 || self.initial.is_zero() || self.factor <= 1.0 {
            // A delay that cannot grow.
            return self.initial.min(self.max);
        }
        let scale = pow_u32(self.factor, attempt);
        mul_f64_saturating(self.initial, scale).min(self.max)
    }
}

/// `base` to the power `exp` by squaring: at most 32 steps, whatever `exp`
/// (`f64::powi` is not in `core`).
fn pow_u32(mut base: f64, mut exp: u32) -> f64 {
    let mut result = 1.0;
    while exp > 0 {
        if exp & 1 == 1 {
            result *= base;
        }
        exp >>= 1;
        base *= base;
    }
    result
}

fn mul_f64_saturating(d: Duration, factor: f64) -> Duration {
    let secs = d.as_secs_f64() * factor;
    if secs.is_finite() && secs < u64::MAX as f64 {
        Duration::from_secs_f64(secs)
    } else {
        Duration::MAX
    }
}

impl RestartPolicy {
    /// Never restart (the default).
    pub const fn never() -> Self {
        RestartPolicy {
            on: RestartOn::Never,
            delay: Delay::Fixed(Duration::ZERO),
            limit: None,
        }
    }

    /// Restart after any ending (clean return, error or panic) once
    /// `delay` has passed. `Duration::ZERO` restarts at once, after
    /// yielding to the runtime.
    pub const fn always(delay: Duration) -> Self {
        RestartPolicy {
            on: RestartOn::Always,
            delay: Delay::Fixed(delay),
            limit: None,
        }
    }

    /// The Go governor's `Restart(after)`: the same as
    /// [`always`](RestartPolicy::always).
    pub const fn after(delay: Duration) -> Self {
        RestartPolicy::always(delay)
    }

    /// Restart after an error or a panic, once `delay` has passed; a clean
    /// `Ok` return ends the service for good.
    pub const fn on_failure(delay: Duration) -> Self {
        RestartPolicy {
            on: RestartOn::Failure,
            delay: Delay::Fixed(delay),
            limit: None,
        }
    }

    /// Waits with exponential `backoff` instead of a fixed delay.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.delay = Delay::Backoff(backoff);
        self
    }

    /// Allows at most `restarts` restarts within any window of `within`
    /// (a sliding window); the next one is escalated instead, as set by
    /// [`escalate`](RestartPolicy::escalate) (giving up by default).
    ///
    /// The count is exact up to 64 restarts. Beyond, the history kept is
    /// bounded (whatever `restarts`): restarts are counted in slices of
    /// `within / 64`, and a restart leaves the count up to one slice late,
    /// so the escalation never comes later than an exact count would say.
    pub fn limit(mut self, restarts: u32, within: Duration) -> Self {
        let then = self.limit.map_or(Escalation::GiveUp, |l| l.then);
        self.limit = Some(Limit {
            restarts,
            within,
            then,
        });
        self
    }

    /// What to do beyond the [`limit`](RestartPolicy::limit); it takes
    /// effect only together with a limit.
    pub fn escalate(mut self, then: Escalation) -> Self {
        match &mut self.limit {
            Some(limit) => limit.then = then,
            None => {
                self.limit = Some(Limit {
                    restarts: u32::MAX,
                    within: Duration::ZERO,
                    then,
                })
            }
        }
        self
    }

    /// Whether this policy ever restarts anything.
    pub const fn restarts(&self) -> bool {
        !matches!(self.on, RestartOn::Never)
    }

    /// The nominal delay before the next run after a run ended with
    /// `outcome`, ignoring backoff state, jitter and limits; `None` when
    /// the policy does not restart after it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_core::{Outcome, RestartPolicy};
    ///
    /// let policy = RestartPolicy::on_failure(Duration::from_secs(2));
    /// assert_eq!(policy.delay_after(&Outcome::Completed), None);
    /// assert_eq!(policy.delay_after(&Outcome::Panicked("x".into())), Some(Duration::from_secs(2)));
    /// assert_eq!(RestartPolicy::always(Duration::ZERO).delay_after(&Outcome::StopService), None);
    /// ```
    pub fn delay_after(&self, outcome: &Outcome) -> Option<Duration> {
        self.wants_restart(outcome).then(|| match self.delay {
            Delay::Fixed(delay) => delay,
            Delay::Backoff(backoff) => backoff.nominal(0),
        })
    }

    fn wants_restart(&self, outcome: &Outcome) -> bool {
        match (self.on, outcome) {
            (_, Outcome::StopService) | (RestartOn::Never, _) => false,
            (RestartOn::Failure, outcome) => outcome.is_failure(),
            (RestartOn::Always, _) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_up_to_max() {
        let b = Backoff::new(100 * MS, 1000 * MS);
        let delays: alloc::vec::Vec<_> = (0..6).map(|a| b.nominal(a)).collect();
        assert_eq!(
            delays,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
    }

    #[test]
    fn out_of_range_settings_are_clamped() {
        let b = Backoff::new(100 * MS, 10 * MS).factor(0.5).jitter(7.0);
        assert_eq!(b.nominal(3), 100 * MS);
        assert_eq!(b.jitter, 1.0);
        assert_eq!(Backoff::new(MS, MS).jitter(f64::NAN).jitter, 0.0);
        assert_eq!(Backoff::new(MS, MS).factor(f64::NAN).factor, 1.0);
    }
}
