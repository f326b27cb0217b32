//! A sleep that wakes early when a stop is requested.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::runtime::BoxSleep;
use crate::token::{Cancelled, Stopped};

/// The future returned by [`ServiceCtx::sleep`](crate::ServiceCtx::sleep)
/// and [`Governor::sleep`](crate::Governor::sleep): `Ok(())` once the
/// duration has passed, `Err(Stopped)` as soon as a stop is requested
/// (at once if it already was).
///
/// `Err(Stopped)` converts into a clean end of the service with `?`, so
/// `ctx.sleep(d).await?` is the whole "wait, unless asked to stop" idiom.
/// Go's `Sleep` returns `cancelled bool`; here that is `.is_err()`.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep<'a> {
    cancelled: Cancelled<'a>,
    sleep: BoxSleep,
}

impl<'a> Sleep<'a> {
    pub(crate) fn new(cancelled: Cancelled<'a>, sleep: BoxSleep) -> Self {
        Sleep { cancelled, sleep }
    }
}

impl Future for Sleep<'_> {
    type Output = Result<(), Stopped>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.cancelled.is_cancelled() {
            return Poll::Ready(Err(Stopped));
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        // Parked on the token only while the sleep itself is pending: a
        // sleep that is over at its first poll never takes the token's lock.
        if Pin::new(&mut this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(Err(Stopped));
        }
        Poll::Pending
    }
}

impl fmt::Debug for Sleep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").finish_non_exhaustive()
    }
}
