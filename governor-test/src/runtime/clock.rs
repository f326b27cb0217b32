//! The virtual clock of [`VirtualRuntime`]: the current time and the
//! pending timers, ordered by (deadline, registration order). The clock
//! moves only forward, only when told to (by the driver when nothing can
//! run, see `stuck.rs`, or by [`advance`](VirtualRuntime::advance)), and
//! then fires every timer due, in order. Sleeps and the reusable timer
//! register here; a zero-duration sleep registers nothing and yields once.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[cfg(doc)]
use governor_core::runtime::Runtime;
use governor_core::runtime::{BoxSleep, BoxTimer, Timer};

use super::{lock, Inner, VirtualRuntime};

/// The virtual time and its pending timers.
#[derive(Default)]
pub(super) struct Clock {
    pub(super) now: Duration,
    next_seq: u64,
    /// Pending timers by (deadline, registration order); the waker of the
    /// sleep's last poll. A timer leaves the map when it fires or when its
    /// sleep is dropped, so "absent" means "fired" to a live sleep.
    timers: BTreeMap<(Duration, u64), Option<Waker>>,
}

impl Inner {
    /// The earliest pending timer's deadline.
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        lock(&self.clock)
            .timers
            .first_key_value()
            .map(|(&(deadline, _), _)| deadline)
    }

    /// Moves the clock to `target` (never backwards) and wakes every timer
    /// due by then, in deadline order, then registration order.
    pub(super) fn advance_to(&self, target: Duration) {
        let due = {
            let mut clock = lock(&self.clock);
            if target > clock.now {
                clock.now = target;
            }
            let now = clock.now;
            let mut due = Vec::new();
            while let Some(entry) = clock.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            due
        };
        for waker in due.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl VirtualRuntime {
    /// Moves the clock forward by `by` and fires every timer due by then (in
    /// deadline order, then registration order). The woken tasks run in the
    /// next `block_on` or [`run_until_idle`](Self::run_until_idle) and see
    /// the new time, not their own deadlines. Callable from any thread,
    /// including from tasks.
    pub fn advance(&self, by: Duration) {
        let target = self.now().saturating_add(by);
        self.inner.advance_to(target);
    }

    /// Timers registered by live sleeps that have not fired yet.
    pub fn pending_timers(&self) -> usize {
        lock(&self.inner.clock).timers.len()
    }

    /// What [`Runtime::sleep`] returns: a registered timer, or one yield
    /// for `Duration::ZERO`.
    pub(super) fn sleep_for(&self, duration: Duration) -> BoxSleep {
        match VirtualSleep::new(&self.inner, duration) {
            VirtualSleep::Timer(sleep) => Box::pin(sleep),
            VirtualSleep::Yield(sleep) => Box::pin(sleep),
        }
    }

    /// What [`Runtime::timer`] returns: a disarmed [`VirtualTimer`].
    pub(super) fn new_timer(&self) -> BoxTimer {
        Box::pin(VirtualTimer {
            inner: Arc::downgrade(&self.inner),
            armed: None,
        })
    }
}

struct Sleep {
    inner: Weak<Inner>,
    key: (Duration, u64),
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = self.inner.upgrade() else {
            return Poll::Pending; // the runtime is gone: time stands still
        };
        let mut clock = lock(&inner.clock);
        match clock.timers.get_mut(&self.key) {
            None => Poll::Ready(()),
            Some(slot) => {
                match slot {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            let waker = lock(&inner.clock).timers.remove(&self.key);
            drop(waker);
        }
    }
}

/// What one sleep of [`VirtualRuntime`] is.
enum VirtualSleep {
    Timer(Sleep),
    Yield(YieldOnce),
}

impl VirtualSleep {
    /// Registers a timer at `now + duration` at once (nothing for
    /// `Duration::ZERO`, which yields once instead).
    fn new(inner: &Arc<Inner>, duration: Duration) -> Self {
        if duration.is_zero() {
            return VirtualSleep::Yield(YieldOnce { yielded: false });
        }
        let key = {
            let mut clock = lock(&inner.clock);
            let deadline = clock.now.saturating_add(duration);
            let seq = clock.next_seq;
            clock.next_seq += 1;
            clock.timers.insert((deadline, seq), None);
            (deadline, seq)
        };
        VirtualSleep::Timer(Sleep {
            inner: Arc::downgrade(inner),
            key,
        })
    }
}

/// [`VirtualRuntime`]'s reusable timer: the sleep of its last reset.
struct VirtualTimer {
    inner: Weak<Inner>,
    armed: Option<VirtualSleep>,
}

impl Timer for VirtualTimer {
    fn reset(self: Pin<&mut Self>, duration: Duration) {
        let this = self.get_mut();
        // The old registration goes first, as a dropped sleep's would.
        this.armed = None;
        // The runtime is gone: time stands still, nothing ever fires.
        this.armed = this
            .inner
            .upgrade()
            .map(|inner| VirtualSleep::new(&inner, duration));
    }

    fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().armed {
            Some(VirtualSleep::Timer(sleep)) => Pin::new(sleep).poll(cx),
            Some(VirtualSleep::Yield(sleep)) => Pin::new(sleep).poll(cx),
            None => Poll::Pending,
        }
    }

    fn disarm(self: Pin<&mut Self>) {
        self.get_mut().armed = None;
    }
}

/// The zero-duration sleep: pending once (waking itself), then ready.
struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
