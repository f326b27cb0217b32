//! The task that runs one service: run, record the outcome, restart by
//! policy, fire stop hooks when asked to stop, and count as live until the
//! service has ended for good.

use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use tracing::Instrument;

use crate::context::ServiceCtx;
use crate::governor::Shared;
use crate::outcome::{outcome_of, Outcome};
use crate::service::Service;
use crate::slot::Slot;
use crate::token::Cancelled;

/// Runs a service once and turns however it ends into an [`Outcome`].
pub(crate) trait Runner: Send + 'static {
    fn run_once(&mut self, ctx: ServiceCtx) -> impl Future<Output = Outcome> + Send;
}

/// Runs an async [`Service`] inside the supervisor's own task.
pub(crate) struct AsyncRunner<S>(pub(crate) S);

impl<S: Service> Runner for AsyncRunner<S> {
    async fn run_once(&mut self, ctx: ServiceCtx) -> Outcome {
        #[cfg(feature = "std")]
        {
            use futures_util::FutureExt;
            use std::panic::{catch_unwind, AssertUnwindSafe};
            // `run` itself may panic before it hands out a future.
            let fut = {
                let _inside = inside::Guard::enter();
                catch_unwind(AssertUnwindSafe(|| self.0.run(ctx)))
            };
            match fut {
                Ok(fut) => match AssertUnwindSafe(InService { fut }).catch_unwind().await {
                    Ok(result) => outcome_of(result),
                    Err(payload) => crate::outcome::outcome_of_panic(payload),
                },
                Err(payload) => crate::outcome::outcome_of_panic(payload),
            }
        }
        #[cfg(not(feature = "std"))]
        {
            outcome_of(
                InService {
                    fut: self.0.run(ctx),
                }
                .await,
            )
        }
    }
}

/// Runs a [`BlockingService`](crate::BlockingService) on the runtime's
/// blocking pool, one thread per run; the value travels to the thread and
/// back so that the next run uses it again.
#[cfg(feature = "std")]
pub(crate) struct BlockingRunner<S>(pub(crate) Option<S>);

#[cfg(feature = "std")]
impl<S: crate::service::BlockingService> Runner for BlockingRunner<S> {
    async fn run_once(&mut self, ctx: ServiceCtx) -> Outcome {
        use alloc::boxed::Box;
        use std::panic::{catch_unwind, AssertUnwindSafe};

        let Some(mut service) = self.0.take() else {
            return Outcome::Panicked(Arc::from("blocking service lost by an earlier run"));
        };
        let runtime = ctx.runtime().clone();
        let span = tracing::Span::current();
        let (done, result) = futures_channel::oneshot::channel();
        runtime.spawn_blocking(Box::new(move || {
            let _span = span.enter();
            let caught = {
                let _inside = inside::Guard::enter();
                catch_unwind(AssertUnwindSafe(|| service.run(ctx)))
            };
            let outcome = match caught {
                Ok(result) => outcome_of(result),
                Err(payload) => crate::outcome::outcome_of_panic(payload),
            };
            // The supervisor may be gone (aborted); then the value is
            // dropped here.
            let _ = done.send((service, outcome));
        }));
        match result.await {
            Ok((service, outcome)) => {
                self.0 = Some(service);
                outcome
            }
            Err(_) => Outcome::Panicked(Arc::from("blocking thread ended without a result")),
        }
    }
}

/// Supervises one service from its start to its end for good.
pub(crate) async fn supervise<R: Runner>(mut runner: R, shared: Arc<Shared>, slot: Arc<Slot>) {
    let _live = Live {
        shared: &shared,
        slot: &slot,
    };
    // A started service always gets its first run, even if a stop was
    // requested since `start` (it then sees `stopping()` at once): every
    // started service ends with exactly one final outcome, whatever the
    // scheduling.
    let span = tracing::info_span!("service", name = %slot.name);
    loop {
        slot.begin_run();
        tracing::debug!(service = %slot.name, "started");
        let ctx = ServiceCtx::new(shared.clone(), slot.clone());
        let run = runner.run_once(ctx).instrument(span.clone());
        let outcome = WithStopHooks {
            run,
            cancelled: slot.token.cancelled(),
            slot: &slot,
            fired: false,
        }
        .await;
        log_outcome(&slot.name, &outcome);
        let Some(delay) = slot.end_run(outcome, shared.default_restart()) else {
            break;
        };
        tracing::info!(service = %slot.name, ?delay, "restarting");
        if delay.is_zero() {
            // A service that ends at once must not starve the executor.
            YieldNow(false).await;
        } else if slot
            .token
            .run_until_cancelled(shared.runtime.sleep(delay))
            .await
            .is_err()
        {
            break;
        }
        if slot.token.is_cancelled() {
            break;
        }
    }
}

fn log_outcome(name: &str, outcome: &Outcome) {
    match outcome {
        Outcome::Completed => tracing::info!(service = %name, "stopped: {outcome}"),
        Outcome::Stopped => tracing::info!(service = %name, "stopped: {outcome}"),
        Outcome::Failed(_) => tracing::warn!(service = %name, "stopped: {outcome}"),
        Outcome::Panicked(_) => tracing::error!(service = %name, "stopped: {outcome}"),
    }
}

/// Counts the service as live; on drop (its end for good, or the runtime
/// dropping the task) marks it stopped and lets shutdown waiters know.
struct Live<'a> {
    shared: &'a Shared,
    slot: &'a Slot,
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.slot.finish();
        self.shared.activity.leave();
    }
}

pin_project_lite::pin_project! {
    /// Polls a run; the first time the service's token is seen cancelled,
    /// calls the stop hooks (before polling the run again).
    struct WithStopHooks<'a, F> {
        #[pin]
        run: F,
        cancelled: Cancelled<'a>,
        slot: &'a Slot,
        fired: bool,
    }
}

impl<F: Future> Future for WithStopHooks<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.fired && Pin::new(this.cancelled).poll(cx).is_ready() {
            *this.fired = true;
            this.slot.fire_hooks();
        }
        this.run.poll(cx)
    }
}

/// Yields once to the executor.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// Marks the current thread as "inside a service" while the service's
    /// future is polled, so that `Governor::shutdown` awaited by a service
    /// does not wait for that service itself.
    struct InService<F> {
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for InService<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _inside = inside::Guard::enter();
        self.project().fut.poll(cx)
    }
}

/// Whether the caller is being polled (or run, for blocking services) by a
/// service's supervisor. Always `false` without `std`, which has no
/// thread-locals: there, a service must not await `Governor::shutdown`
/// (use `request_shutdown`).
pub(crate) fn polled_inside_service() -> bool {
    inside::get()
}

#[cfg(feature = "std")]
mod inside {
    use std::cell::Cell;

    std::thread_local! {
        static DEPTH: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) struct Guard;

    impl Guard {
        pub(super) fn enter() -> Guard {
            DEPTH.with(|d| d.set(d.get() + 1));
            Guard
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }

    pub(super) fn get() -> bool {
        DEPTH.with(|d| d.get() > 0)
    }
}

#[cfg(not(feature = "std"))]
mod inside {
    pub(super) struct Guard;

    impl Guard {
        pub(super) fn enter() -> Guard {
            Guard
        }
    }

    pub(super) fn get() -> bool {
        false
    }
}
