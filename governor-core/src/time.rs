//! Time for services, on the runtime's clock: a timeout around any future
//! ([`Timeout`], from [`ServiceCtx::timeout`](crate::ServiceCtx::timeout))
//! and a periodic tick ([`Interval`], from
//! [`ServiceCtx::interval`](crate::ServiceCtx::interval)). Both wake early
//! when their context is asked to stop, as [`Sleep`] does, and use the
//! context's reusable timer when it is free (no allocation per wait).
//!
//! Neither holds a lock across a poll of user code; the only lock they
//! touch is the context's timer record (see `sleep.rs`), only ever tried.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use crate::context::ServiceCtx;
use crate::sleep::Sleep;
use crate::token::Interrupted;

/// Why a [`Timeout`] ended without its future's output.
///
/// Distinct from a plain [`Interrupted`]: a deadline that passed is not a
/// stop. With `?` in a service it converts as its meaning says:
/// [`Elapsed`](TimeoutError::Elapsed) is a failure (the run fails),
/// [`Interrupted`](TimeoutError::Interrupted) a clean end (the run was
/// asked to stop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutError {
    /// The deadline passed before the future completed (the future was
    /// dropped). Holds the duration that was allowed.
    Elapsed(Duration),
    /// The context was asked to stop before either (the future was
    /// dropped).
    Interrupted,
}

impl TimeoutError {
    /// Whether the deadline passed.
    pub fn is_elapsed(&self) -> bool {
        matches!(self, TimeoutError::Elapsed(_))
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::Elapsed(after) => write!(f, "deadline of {after:?} elapsed"),
            TimeoutError::Interrupted => fmt::Display::fmt(&Interrupted, f),
        }
    }
}

impl core::error::Error for TimeoutError {}

pin_project_lite::pin_project! {
    /// The future returned by [`ServiceCtx::timeout`](crate::ServiceCtx::timeout):
    /// the future's output, or [`TimeoutError`] once the deadline passed or
    /// the context was asked to stop, whichever comes first.
    ///
    /// The future is polled first: if it completes in the very poll in
    /// which the deadline is found to have passed, its output wins (as
    /// with tokio's `timeout`). The deadline is fixed when `timeout` is
    /// called, not at the first poll.
    #[must_use = "futures do nothing unless polled"]
    pub struct Timeout<'a, F> {
        #[pin]
        fut: F,
        sleep: Sleep<'a>,
        after: Duration,
    }
}

impl<'a, F> Timeout<'a, F> {
    pub(crate) fn new(fut: F, sleep: Sleep<'a>, after: Duration) -> Self {
        Timeout { fut, sleep, after }
    }
}

impl<F: Future> Future for Timeout<'_, F> {
    type Output = Result<F::Output, TimeoutError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.fut.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(TimeoutError::Elapsed(*this.after))),
            Poll::Ready(Err(Interrupted)) => Poll::Ready(Err(TimeoutError::Interrupted)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

/// Ticks every `period` on the runtime's clock: from
/// [`ServiceCtx::interval`](crate::ServiceCtx::interval).
///
/// The ticks are scheduled on a fixed grid: `start`, `start + period`,
/// `start + 2 × period`… where `start` is the moment `interval` was called;
/// the first tick is due at once. [`tick`](Interval::tick) waits for the
/// next scheduled tick and returns its scheduled time.
///
/// **Missed ticks are skipped** (tokio's `MissedTickBehavior::Skip`): when
/// `tick` is called after one or more ticks were due (the service was busy),
/// it returns the earliest due tick at once, and the ticks that fell due
/// after it are dropped; the next one returned is the first grid point
/// after the moment it returned. A slow service thus never gets a burst of
/// catch-up ticks, and the grid does not drift. The gap between the
/// scheduled times of two returned ticks says how many were skipped.
///
/// `tick` returns `Err(Interrupted)` as soon as the context is asked to
/// stop (at once if it already was).
#[derive(Debug)]
pub struct Interval<'a> {
    ctx: &'a ServiceCtx,
    period: Duration,
    /// The scheduled time of the next tick.
    next: Duration,
}

impl<'a> Interval<'a> {
    pub(crate) fn new(ctx: &'a ServiceCtx, period: Duration) -> Self {
        Interval {
            ctx,
            period,
            next: ctx.now(),
        }
    }

    /// The period between two scheduled ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for the next tick; returns its scheduled time on the
    /// runtime's clock (see the type's docs for missed ticks), or
    /// `Err(Interrupted)` once the context is asked to stop.
    pub async fn tick(&mut self) -> Result<Duration, Interrupted> {
        let now = self.ctx.now();
        if now < self.next {
            self.ctx.sleep(self.next - now).await?;
        } else if self.ctx.stopping() {
            return Err(Interrupted);
        }
        let scheduled = self.next;
        let now = self.ctx.now();
        // Ticks whose time passed while this one was late: skipped.
        let late = now.saturating_sub(scheduled);
        let skipped = late.as_nanos() / self.period.as_nanos();
        let steps = u32::try_from(skipped.saturating_add(1)).unwrap_or(u32::MAX);
        self.next = scheduled.saturating_add(self.period.saturating_mul(steps));
        Ok(scheduled)
    }
}
