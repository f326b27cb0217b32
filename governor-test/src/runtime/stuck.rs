//! When nothing can run: the driver's idle step, which waits for blocking
//! work, moves the clock to the next timer, or gives up, and the errors it
//! gives up with. [`Deadlock`]: nothing can ever wake the main future.
//! [`Stuck`]: that, or one of the [`Limits`] the conformance harness runs
//! each case within has passed (the clock would pass its virtual-time
//! limit, or the call its real-time limit).

use std::fmt;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::{VirtualRuntime, BLOCKING_GRACE};

/// The error of [`VirtualRuntime::try_block_on`]: the main future is
/// pending, no task can run, no timer is pending and no blocking work is
/// outstanding, so nothing can ever wake it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlock {
    /// The virtual time at which the driver gave up.
    pub now: Duration,
    /// Tasks alive (spawned and not yet finished or dropped) at that moment.
    pub live_tasks: usize,
    /// What was still waiting, as far as the runtime can tell: each
    /// service of a governor built with
    /// [`VirtualRuntime::governor`] (or [`watch`](VirtualRuntime::watch)ed)
    /// whose run was in progress or that waited for its dependencies, as
    /// `service "name" (run 2, ready, asked to stop)`.
    pub waiting: Vec<String>,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "virtual runtime deadlock: main future pending with nothing runnable \
             (virtual time {:?}, {} live tasks, no pending timers, no blocking work)",
            self.now, self.live_tasks
        )?;
        if !self.waiting.is_empty() {
            write!(f, "; still waiting: {}", self.waiting.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Deadlock {}

/// How far [`VirtualRuntime::try_block_on_within`] lets a future run.
///
/// The [default](Limits::default) (what [`run`](crate::run) uses): a week
/// of virtual time, and a minute of real time (unbounded under miri).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The virtual time the clock may not pass: a future still pending
    /// when the next timer is due later than this has failed.
    pub virtual_time: Duration,
    /// The real time the whole call may take (`None`: unbounded, e.g.
    /// under miri, where real time means little).
    pub real_time: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            virtual_time: Duration::from_secs(7 * 24 * 3600),
            real_time: (!cfg!(miri)).then_some(Duration::from_secs(60)),
        }
    }
}

/// Why [`VirtualRuntime::try_block_on_within`] gave up on its future.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stuck {
    /// Nothing can ever wake the future.
    Deadlock(Deadlock),
    /// Only timers past [`Limits::virtual_time`] could: the clock would
    /// have to move to `next_timer`.
    PastVirtualLimit {
        /// The virtual time now.
        now: Duration,
        /// The earliest pending timer.
        next_timer: Duration,
    },
    /// [`Limits::real_time`] passed (e.g. a case that yields forever
    /// without time moving, or blocking work that never ends).
    PastRealLimit {
        /// The virtual time then.
        now: Duration,
    },
}

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stuck::Deadlock(deadlock) => deadlock.fmt(f),
            Stuck::PastVirtualLimit { now, next_timer } => write!(
                f,
                "did not finish within its virtual time limit (now {now:?}, next timer at \
                 {next_timer:?})"
            ),
            Stuck::PastRealLimit { now } => write!(
                f,
                "did not finish within its real time limit (virtual time {now:?})"
            ),
        }
    }
}

impl std::error::Error for Stuck {}

impl VirtualRuntime {
    /// Nothing is runnable: wait, advance the clock (up to
    /// `virtual_limit`), or give up.
    pub(super) fn idle(
        &self,
        virtual_limit: Option<Duration>,
        real_deadline: Option<Instant>,
    ) -> Result<(), Stuck> {
        let inner = &*self.inner;
        let advance = |deadline: Duration| match virtual_limit {
            Some(limit) if deadline > limit => Err(Stuck::PastVirtualLimit {
                now: self.now(),
                next_timer: deadline,
            }),
            _ => {
                inner.advance_to(deadline);
                Ok(())
            }
        };
        // Read the blocking count before re-checking the queue: a blocking
        // job wakes its task before it stops counting as outstanding.
        let blocking = inner.blocking.load(Ordering::SeqCst);
        if inner.has_runnable() {
            return Ok(());
        }
        match (blocking > 0, inner.next_deadline()) {
            (true, None) => {
                match real_deadline {
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return Err(Stuck::PastRealLimit { now: self.now() });
                        }
                        thread::park_timeout(deadline - now);
                    }
                    None => thread::park(),
                }
                Ok(())
            }
            (true, Some(_)) => {
                let until = Instant::now() + BLOCKING_GRACE;
                loop {
                    if inner.has_runnable() {
                        return Ok(());
                    }
                    let now = Instant::now();
                    if now >= until || inner.blocking.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    thread::park_timeout(until - now);
                }
                match inner.next_deadline() {
                    Some(deadline) => advance(deadline),
                    None => Ok(()),
                }
            }
            (false, Some(deadline)) => advance(deadline),
            (false, None) => Err(Stuck::Deadlock(Deadlock {
                now: self.now(),
                live_tasks: self.live_tasks(),
                waiting: super::lock(&inner.watch).waiting(),
            })),
        }
    }
}
