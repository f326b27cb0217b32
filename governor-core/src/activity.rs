//! Counting the services that are still alive, and waiting until none is.
//!
//! A service counts from the moment `start` hands it to the runtime until
//! its supervisor ends for good (or is dropped by the runtime). Waiting is
//! done with [`WaitIdle`]. A waiter that sits *inside* a service (a service
//! awaiting `Governor::shutdown` itself) registers as such, and the
//! governor counts as idle once every live service is one of those waiters:
//! otherwise a service asking for shutdown would wait for itself forever.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::sync::Mutex;
use crate::wait_list::{WaitList, WaiterKey};

#[derive(Default)]
pub(crate) struct Activity {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Live services.
    live: usize,
    /// Waiters polled from inside a live service.
    waiting_inside: usize,
    /// The last service has left and its `last` step (publishing the end
    /// of the shutdown) is still running: nobody counts as idle yet.
    publishing: usize,
    waiters: WaitList,
}

impl State {
    fn is_idle(&self) -> bool {
        self.live <= self.waiting_inside && self.publishing == 0
    }
}

impl Activity {
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

    /// One service ended. If it was the last one, `last` runs (outside the
    /// lock) before any waiter can see the governor idle, so that what it
    /// publishes (the `ShutdownComplete` event) happens before
    /// `shutdown()` returns.
    pub(crate) fn leave(&self, last: impl FnOnce()) {
        let (wake, was_last) = {
            let mut state = self.state.lock();
            state.live -= 1;
            if state.live == 0 {
                state.publishing += 1;
                (None, true)
            } else {
                (state.is_idle().then(|| state.waiters.take()), false)
            }
        };
        if let Some(wake) = wake {
            wake.wake();
        }
        if was_last {
            last();
            let wake = {
                let mut state = self.state.lock();
                state.publishing -= 1;
                state.is_idle().then(|| state.waiters.take())
            };
            if let Some(wake) = wake {
                wake.wake();
            }
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.state.lock().live
    }

    /// A future that completes when no service is live (not counting those
    /// that are themselves waiting from inside, see the module docs).
    ///
    /// `governor` identifies the governor this activity belongs to.
    pub(crate) fn wait_idle(&self, governor: usize) -> WaitIdle<'_> {
        WaitIdle {
            activity: self,
            governor,
            key: None,
            counted_inside: false,
        }
    }
}

#[must_use = "futures do nothing unless polled"]
pub(crate) struct WaitIdle<'a> {
    activity: &'a Activity,
    governor: usize,
    key: Option<WaiterKey>,
    counted_inside: bool,
}

impl Future for WaitIdle<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut wake = None;
        let ready = {
            let mut state = this.activity.state.lock();
            if !this.counted_inside && crate::supervisor::polled_inside_service(this.governor) {
                this.counted_inside = true;
                state.waiting_inside += 1;
                // This may make the governor idle for the other waiters.
                if state.is_idle() {
                    wake = Some(state.waiters.take());
                }
            }
            if state.is_idle() {
                true
            } else {
                state.waiters.register(&mut this.key, cx.waker());
                false
            }
        };
        if let Some(wake) = wake {
            wake.wake();
        }
        if ready {
            this.release();
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl WaitIdle<'_> {
    fn release(&mut self) {
        if self.key.is_none() && !self.counted_inside {
            return;
        }
        let mut state = self.activity.state.lock();
        if let Some(key) = self.key.take() {
            state.waiters.remove(key);
        }
        if core::mem::take(&mut self.counted_inside) {
            state.waiting_inside -= 1;
        }
    }
}

impl Drop for WaitIdle<'_> {
    fn drop(&mut self) {
        self.release();
    }
}
