//! A service's restart history, and the decision it feeds: after each
//! run, [`RestartHistory::decide`] applies the service's
//! [`RestartPolicy`] to the outcome and to what came before (the backoff
//! attempt, the restarts inside the limit's window) and says restart,
//! done, or escalate.
//!
//! # Rules
//!
//! 1. O(1) per decision, whatever the restart count: a limit of up to
//!    [`EXACT_LIMIT`] restarts keeps the time of each; a larger one counts
//!    them in slices of `within / EXACT_LIMIT`, so that at most about
//!    `EXACT_LIMIT + 2` entries are ever kept.
//! 2. The backoff attempt resets after a run that lasted longer than the
//!    backoff's reset (a healthy run).
//! 3. Jitter comes from a per-supervisor xorshift: no global state, no
//!    lock, the same sequence for the same seed (exact tests).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::time::Duration;

use super::{mul_f64_saturating, Delay, Escalation, RestartPolicy};
use crate::outcome::Outcome;

/// What the supervisor does after a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Run again after this delay; `attempt` counts restarts since the last
    /// healthy run (1 for the first); `trouble`: the backoff has grown, or
    /// the restart limit is more than half used.
    Restart {
        delay: Duration,
        attempt: u32,
        trouble: bool,
    },
    /// The policy does not restart after this ending.
    Done,
    /// Over the limit: escalate.
    Escalate(Escalation),
}

/// One service's restart history: backoff attempts and the restarts inside
/// the limit's window.
#[derive(Debug, Default)]
pub(crate) struct RestartHistory {
    attempt: u32,
    /// Boxed, and only once a limit is in force: most services have no
    /// limit, and this lives in every supervisor (the window inline is
    /// five words; the box is one).
    window: Option<Box<Window>>,
    rng: u64,
}

/// Limits up to this many restarts are counted exactly.
const EXACT_LIMIT: u32 = 64;

/// The restarts inside a limit's window: (time of the first, how many)
/// per slice, oldest first. A slice is one restart (exact, for limits up
/// to [`EXACT_LIMIT`]) or the restarts within `within / EXACT_LIMIT` of
/// its first, so that at most about `EXACT_LIMIT + 2` slices are kept.
#[derive(Debug, Default)]
struct Window {
    slices: VecDeque<(Duration, u32)>,
    total: u64,
}

impl RestartHistory {
    pub(crate) fn new(seed: u64) -> Self {
        RestartHistory {
            attempt: 0,
            window: None,
            // xorshift must not start at zero
            rng: seed | 1,
        }
    }

    /// Decides what follows a run that ended with `outcome` at `now` after
    /// running for `ran_for`.
    pub(crate) fn decide(
        &mut self,
        policy: &RestartPolicy,
        outcome: &Outcome,
        now: Duration,
        ran_for: Duration,
    ) -> Decision {
        if !policy.wants_restart(outcome) {
            return Decision::Done;
        }
        let mut trouble = false;
        if let Some(limit) = policy.limit {
            let window = self.window.get_or_insert_default();
            let slice = if limit.restarts > EXACT_LIMIT {
                limit.within / EXACT_LIMIT
            } else {
                Duration::ZERO
            };
            // A slice leaves once its last restart may have: its first plus
            // the slice's length.
            let kept_for = limit.within.saturating_add(slice);
            while let Some(&(first, count)) = window.slices.front() {
                if now.saturating_sub(first) < kept_for {
                    break;
                }
                window.slices.pop_front();
                window.total -= u64::from(count);
            }
            if window.total >= u64::from(limit.restarts) {
                return Decision::Escalate(limit.then);
            }
            match window.slices.back_mut() {
                Some((first, count)) if now.saturating_sub(*first) < slice => *count += 1,
                _ => window.slices.push_back((now, 1)),
            }
            window.total += 1;
            trouble = window.total.saturating_mul(2) > u64::from(limit.restarts);
        }
        let delay = match policy.delay {
            Delay::Fixed(delay) => delay,
            Delay::Backoff(backoff) => {
                if ran_for >= backoff.reset_after {
                    self.attempt = 0;
                }
                let nominal = backoff.nominal(self.attempt);
                trouble |= nominal > backoff.initial;
                self.jittered(nominal, backoff.jitter).min(backoff.max)
            }
        };
        self.attempt = self.attempt.saturating_add(1);
        Decision::Restart {
            delay,
            attempt: self.attempt,
            trouble,
        }
    }

    fn jittered(&mut self, delay: Duration, jitter: f64) -> Duration {
        if jitter == 0.0 {
            return delay;
        }
        // xorshift64*: plenty for spreading restarts, no dependency.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let bits = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        let unit = bits as f64 / (1u64 << 53) as f64; // [0, 1)
        mul_f64_saturating(delay, 1.0 - jitter + 2.0 * jitter * unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restart::Backoff;

    const MS: Duration = Duration::from_millis(1);

    fn fail() -> Outcome {
        Outcome::Panicked("x".into())
    }

    #[test]
    fn jitter_stays_in_its_band() {
        let policy =
            RestartPolicy::always(MS).backoff(Backoff::new(1000 * MS, 1000 * MS).jitter(0.2));
        let mut history = RestartHistory::new(42);
        for _ in 0..1000 {
            let Decision::Restart { delay, .. } =
                history.decide(&policy, &fail(), Duration::ZERO, Duration::ZERO)
            else {
                panic!("restarts");
            };
            assert!(delay >= 800 * MS && delay <= 1000 * MS, "{delay:?}");
        }
    }

    #[test]
    fn limit_is_a_sliding_window() {
        let policy = RestartPolicy::always(MS).limit(2, 10 * MS);
        let mut h = RestartHistory::new(1);
        let at =
            |h: &mut RestartHistory, t: u32| h.decide(&policy, &fail(), t * MS, Duration::ZERO);
        assert!(matches!(at(&mut h, 0), Decision::Restart { .. }));
        assert!(matches!(at(&mut h, 5), Decision::Restart { .. }));
        assert_eq!(at(&mut h, 9), Decision::Escalate(Escalation::GiveUp));
        // t = 10: the restart at 0 left the window.
        assert!(matches!(at(&mut h, 10), Decision::Restart { .. }));
    }

    #[test]
    fn a_huge_limit_keeps_a_bounded_history_and_still_counts() {
        let policy = RestartPolicy::always(MS).limit(u32::MAX, Duration::from_secs(3600));
        let mut h = RestartHistory::new(1);
        for t in 0..20_000u32 {
            let decision = h.decide(&policy, &fail(), t * MS, Duration::ZERO);
            assert!(matches!(decision, Decision::Restart { .. }), "{t}");
        }
        let window = h.window.as_ref().unwrap();
        assert_eq!(window.total, 20_000);
        assert!(window.slices.len() <= 66, "{}", window.slices.len());

        // 1000 restarts within a second: the 1001st escalates, and once
        // the storm is a window (and a slice) behind, restarts resume.
        let policy = RestartPolicy::always(MS).limit(1000, Duration::from_secs(1));
        let mut h = RestartHistory::new(1);
        for t in 0..1000u32 {
            assert!(matches!(
                h.decide(&policy, &fail(), t * MS, Duration::ZERO),
                Decision::Restart { .. }
            ));
        }
        assert_eq!(
            h.decide(&policy, &fail(), 999 * MS, Duration::ZERO),
            Decision::Escalate(Escalation::GiveUp)
        );
        assert!(h.window.as_ref().unwrap().slices.len() <= 66);
        assert!(matches!(
            h.decide(&policy, &fail(), 2100 * MS, Duration::ZERO),
            Decision::Restart { .. }
        ));
    }

    #[test]
    fn trouble_is_a_grown_backoff_or_a_limit_half_used() {
        let trouble = |policy: &RestartPolicy, n: u32| -> alloc::vec::Vec<bool> {
            let mut h = RestartHistory::new(1);
            (0..n)
                .map(
                    |t| match h.decide(policy, &fail(), t * MS, Duration::ZERO) {
                        Decision::Restart { trouble, .. } => trouble,
                        other => panic!("{other:?}"),
                    },
                )
                .collect()
        };
        assert_eq!(trouble(&RestartPolicy::always(MS), 5), [false; 5]);
        let backoff = RestartPolicy::always(MS).backoff(Backoff::new(MS, 4 * MS));
        assert_eq!(trouble(&backoff, 4), [false, true, true, true]);
        let flat = RestartPolicy::always(MS).backoff(Backoff::new(MS, 4 * MS).factor(1.0));
        assert_eq!(trouble(&flat, 4), [false; 4]);
        let limited = RestartPolicy::always(MS).limit(4, Duration::from_secs(1));
        assert_eq!(trouble(&limited, 4), [false, false, true, true]);
    }
}
