//! A sleep that wakes early when a stop is requested.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::runtime::{BoxSleep, BoxTimer};
use crate::sync::Mutex;
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
    timer: Wait<'a>,
}

/// What a [`Sleep`] waits on besides the stop token.
enum Wait<'a> {
    /// A sleep boxed for this call alone.
    Boxed(BoxSleep),
    /// A reusable timer, armed for this sleep, that goes back to `home`
    /// (its context's slot) when the sleep is dropped.
    Reused {
        /// `None` only once dropped.
        timer: Option<BoxTimer>,
        home: &'a TimerSlot,
        /// The timer fired: nothing to disarm.
        fired: bool,
    },
}

/// Where a [`ServiceCtx`](crate::ServiceCtx) keeps its reusable timer
/// between sleeps: empty before the first sleep and while a sleep has it.
pub(crate) type TimerSlot = Mutex<Option<BoxTimer>>;

impl<'a> Sleep<'a> {
    pub(crate) fn new(cancelled: Cancelled<'a>, sleep: BoxSleep) -> Self {
        Sleep {
            cancelled,
            timer: Wait::Boxed(sleep),
        }
    }

    /// A sleep on `timer`, which the caller has just armed; it goes back
    /// to `home` when the sleep is dropped (or is dropped itself if
    /// `home` has been refilled meanwhile).
    pub(crate) fn reusing(cancelled: Cancelled<'a>, timer: BoxTimer, home: &'a TimerSlot) -> Self {
        Sleep {
            cancelled,
            timer: Wait::Reused {
                timer: Some(timer),
                home,
                fired: false,
            },
        }
    }
}

impl Drop for Sleep<'_> {
    fn drop(&mut self) {
        if let Wait::Reused { timer, home, fired } = &mut self.timer {
            if let Some(mut timer) = timer.take() {
                if !*fired {
                    timer.as_mut().disarm();
                }
                let mut slot = home.lock();
                if slot.is_none() {
                    *slot = Some(timer);
                }
            }
        }
    }
}

impl Future for Sleep<'_> {
    type Output = Result<(), Stopped>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.cancelled.is_cancelled() {
            return Poll::Ready(Err(Stopped));
        }
        let elapsed = match &mut this.timer {
            Wait::Boxed(sleep) => sleep.as_mut().poll(cx).is_ready(),
            Wait::Reused {
                timer: Some(timer),
                fired,
                ..
            } => {
                *fired = *fired || timer.as_mut().poll_elapsed(cx).is_ready();
                *fired
            }
            Wait::Reused { timer: None, .. } => unreachable!("only a dropped sleep has no timer"),
        };
        if elapsed {
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
