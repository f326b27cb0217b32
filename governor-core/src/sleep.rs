//! A sleep that wakes early when a stop is requested.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::runtime::{BoxSleep, BoxTimer};
use crate::token::{Interrupted, WaitForStop};

/// The future returned by [`ServiceCtx::sleep`](crate::ServiceCtx::sleep)
/// and [`Governor::sleep`](crate::Governor::sleep): `Ok(())` once the
/// duration has passed, `Err(Interrupted)` as soon as a stop is requested
/// (at once if it already was).
///
/// `Err(Interrupted)` converts into a clean end of the service with `?`, so
/// `ctx.sleep(d).await?` is the whole "wait, unless asked to stop" idiom.
/// Go's `Sleep` returns `stopped bool`; here that is `.is_err()`.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep<'a> {
    cancelled: WaitForStop<'a>,
    timer: Wait<'a>,
}

/// What a [`Sleep`] waits on besides the stop token.
enum Wait<'a> {
    /// A sleep boxed for this call alone.
    Boxed(BoxSleep),
    /// The context's reusable timer, armed for this sleep and held (the
    /// cell locked) until the sleep is dropped.
    Reused {
        /// Never empty: [`Sleep::reusing`] is only given a filled cell.
        cell: TimerGuard<'a>,
        /// The timer fired: nothing to disarm.
        fired: bool,
    },
}

/// Where a [`ServiceCtx`](crate::ServiceCtx) keeps its reusable timer:
/// empty until the first sleep, locked while a sleep uses the timer.
///
/// A spin lock even with `std` (not [`crate::sync::Mutex`]): it is only
/// ever tried, never waited on (a second sleep of the same context at the
/// same time boxes a sleep of its own), and it spares every sleep the
/// poison bookkeeping of `std::sync::Mutex`. Nothing loom models uses it.
pub(crate) type TimerCell = spin::Mutex<Option<BoxTimer>>;

/// A sleep's hold on its context's [`TimerCell`].
pub(crate) type TimerGuard<'a> = spin::MutexGuard<'a, Option<BoxTimer>>;

impl<'a> Sleep<'a> {
    pub(crate) fn new(cancelled: WaitForStop<'a>, sleep: BoxSleep) -> Self {
        Sleep {
            cancelled,
            timer: Wait::Boxed(sleep),
        }
    }

    /// A sleep on the timer in `cell` (which must hold one), which the
    /// caller has just armed; the cell stays locked until the sleep is
    /// dropped.
    #[inline]
    pub(crate) fn reusing(cancelled: WaitForStop<'a>, cell: TimerGuard<'a>) -> Self {
        debug_assert!(cell.is_some());
        Sleep {
            cancelled,
            timer: Wait::Reused { cell, fired: false },
        }
    }
}

impl Drop for Sleep<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Wait::Reused { cell, fired } = &mut self.timer {
            if !*fired {
                if let Some(timer) = cell.as_mut() {
                    timer.as_mut().disarm();
                }
            }
        }
    }
}

impl Future for Sleep<'_> {
    type Output = Result<(), Interrupted>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.cancelled.stopping() {
            return Poll::Ready(Err(Interrupted));
        }
        let elapsed = match &mut this.timer {
            Wait::Boxed(sleep) => sleep.as_mut().poll(cx).is_ready(),
            Wait::Reused { cell, fired } => {
                if !*fired {
                    *fired = cell
                        .as_mut()
                        .is_none_or(|timer| timer.as_mut().poll_elapsed(cx).is_ready());
                }
                *fired
            }
        };
        if elapsed {
            return Poll::Ready(Ok(()));
        }
        // Parked on the token only while the sleep itself is pending: a
        // sleep that is over at its first poll never takes the token's lock.
        if Pin::new(&mut this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(Err(Interrupted));
        }
        Poll::Pending
    }
}

impl fmt::Debug for Sleep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").finish_non_exhaustive()
    }
}
