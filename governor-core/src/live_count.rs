//! Counting the services that are still alive, and waiting until none is.
//!
//! A service counts from the moment `start` hands it to the runtime until
//! its supervisor ends for good or is dropped by the runtime (polled or
//! not). Waiting is done with [`WaitIdle`].
//!
//! A waiter that sits *inside* a live service of the governor (a service
//! awaiting `Governor::shutdown` or `wait_for_shutdown` itself, directly
//! or from a nested governor's service under it) marks that service as
//! waiting inside. Such a waiter is done once every live service other
//! than those waiting inside has ended: otherwise a service asking for
//! shutdown would wait for itself (or for another that waits for it)
//! forever. Every other waiter — `main`'s — is done only once no service
//! is live at all, clean-up after an inside wait included.

use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::record::Record;
use crate::sync::Mutex;
use crate::wait_list::{WaitList, WaiterKey, WakeAll};

#[derive(Default)]
pub(crate) struct LiveCount {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Live services.
    live: usize,
    /// Live services with at least one waiter inside them (a subset of
    /// `live`; kept by [`Record`], under its lock).
    inside: usize,
    /// The last service has left and its `last` step (publishing the end
    /// of the shutdown) is still running: nobody counts as idle yet.
    publishing: usize,
    waiters: WaitList,
}

impl State {
    /// Whether a waiter is done: one inside a service once only services
    /// waiting inside are left, any other once none is.
    fn is_idle(&self, inside: bool) -> bool {
        self.publishing == 0
            && if inside {
                self.live <= self.inside
            } else {
                self.live == 0
            }
    }

    /// The waiters to wake after a change: those inside may be done once
    /// only services waiting inside are left (every waiter re-checks its
    /// own condition).
    fn wake_if_any_idle(&mut self) -> Option<WakeAll> {
        (self.publishing == 0 && self.live <= self.inside).then(|| self.waiters.take())
    }
}

impl LiveCount {
    /// One service starts.
    #[cfg(loom)]
    pub(crate) fn enter(&self) {
        self.enter_many(1);
    }

    /// `n` services start (one lock for all of them).
    pub(crate) fn enter_many(&self, n: usize) {
        if n > 0 {
            self.state.lock().live += n;
        }
    }

    /// One service ended (with no waiter inside it counted). If it was
    /// the last one, `last` runs (outside the lock) before any
    /// waiter can see the governor idle, so that what it publishes (the
    /// `ShutdownComplete` event) happens before `shutdown()` returns.
    #[cfg(loom)]
    pub(crate) fn leave(&self, last: impl FnOnce()) {
        self.finish_leave(self.begin_leave(false), last);
    }

    /// The counting half of a service's end: called under its record's
    /// lock (record, then live_count: the one lock order), so that its
    /// inside waiters and its end are counted in one step. Then
    /// [`finish_leave`](LiveCount::finish_leave) outside any lock.
    pub(crate) fn begin_leave(&self, was_inside: bool) -> Leaving {
        let mut state = self.state.lock();
        state.live -= 1;
        if was_inside {
            state.inside -= 1;
        }
        if state.live == 0 {
            state.publishing += 1;
            Leaving {
                wake: None,
                was_last: true,
            }
        } else {
            Leaving {
                wake: state.wake_if_any_idle(),
                was_last: false,
            }
        }
    }

    /// The rest of a service's end, outside every lock (see
    /// [`begin_leave`](LiveCount::begin_leave)).
    pub(crate) fn finish_leave(&self, leaving: Leaving, last: impl FnOnce()) {
        if let Some(wake) = leaving.wake {
            wake.wake();
        }
        if leaving.was_last {
            last();
            let wake = {
                let mut state = self.state.lock();
                state.publishing -= 1;
                state.wake_if_any_idle()
            };
            if let Some(wake) = wake {
                wake.wake();
            }
        }
    }

    /// A live service gained its first waiter inside (`+1`) or lost its
    /// last (`-1`); called under the service's record's lock. Returns the
    /// waiters to wake once every lock is released.
    pub(crate) fn inside_changed(&self, gained: bool) -> Option<WakeAll> {
        let mut state = self.state.lock();
        if gained {
            state.inside += 1;
            // This may make the governor idle for the other inside waiters.
            state.wake_if_any_idle()
        } else {
            state.inside -= 1;
            None
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.state.lock().live
    }

    /// A future that completes when no service is live, or, for a waiter
    /// inside one, when only services waiting inside are left (see the
    /// module docs). `inside` finds, at the first poll, the service (if
    /// any) the waiter is polled inside.
    pub(crate) fn wait_idle<F>(&self, inside: F) -> WaitIdle<'_, F>
    where
        F: FnOnce() -> Option<Arc<Record>>,
    {
        WaitIdle {
            live_count: self,
            find_inside: Some(inside),
            inside: None,
            key: None,
        }
    }
}

/// What [`LiveCount::begin_leave`] leaves to do.
#[must_use = "a leave must be finished"]
pub(crate) struct Leaving {
    wake: Option<WakeAll>,
    was_last: bool,
}

#[must_use = "futures do nothing unless polled"]
pub(crate) struct WaitIdle<'a, F> {
    live_count: &'a LiveCount,
    /// Until the first poll.
    find_inside: Option<F>,
    /// The service this waiter is inside of, counted as waiting inside.
    inside: Option<Arc<Record>>,
    key: Option<WaiterKey>,
}

impl<F> Unpin for WaitIdle<'_, F> {}

impl<F: FnOnce() -> Option<Arc<Record>>> Future for WaitIdle<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(find) = this.find_inside.take() {
            if let Some(record) = find() {
                if let Some(wake) = record.enter_inside(this.live_count) {
                    wake.wake();
                }
                this.inside = Some(record);
            }
        }
        let ready = {
            let mut state = this.live_count.state.lock();
            if state.is_idle(this.inside.is_some()) {
                true
            } else {
                state.waiters.register(&mut this.key, cx.waker());
                false
            }
        };
        if ready {
            this.release();
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<F> WaitIdle<'_, F> {
    fn release(&mut self) {
        if let Some(key) = self.key.take() {
            self.live_count.state.lock().waiters.remove(key);
        }
        if let Some(record) = self.inside.take() {
            record.leave_inside(self.live_count);
        }
    }
}

impl<F> Drop for WaitIdle<'_, F> {
    fn drop(&mut self) {
        self.release();
    }
}
