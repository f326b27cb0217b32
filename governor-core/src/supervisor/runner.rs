//! The runners: how one run of a service is made and turned into an
//! [`Outcome`], whatever way it ends (return, error, panic). An async
//! service runs inside the supervisor's own task ([`AsyncRunner`], one run
//! a [`RunOnce`]); a blocking one on the runtime's blocking pool
//! ([`BlockingRunner`]). Either way the run is marked as inside its
//! service (`crate::inside`) while it runs, and no panic escapes.

#[cfg(feature = "std")]
use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::context::ServiceCtx;
use crate::outcome::ServiceResult;
use crate::outcome::{outcome_of, Outcome};
use crate::service::Service;

/// Runs a service once and turns however it ends into an [`Outcome`].
pub(crate) trait Runner: Send + 'static {
    /// What a run cut off by a timeout or a forced shutdown ended with.
    const ABORTED: Outcome;

    fn run_once(&mut self, ctx: ServiceCtx) -> impl Future<Output = Outcome> + Send;

    /// Whether there is a service to run again (not after a blocking run
    /// was abandoned with its value on its thread).
    fn can_run_again(&self) -> bool {
        true
    }
}

/// Runs an async [`Service`] inside the supervisor's own task.
pub(crate) struct AsyncRunner<S>(pub(crate) S);

impl<S: Service> Runner for AsyncRunner<S> {
    const ABORTED: Outcome = Outcome::Aborted;

    fn run_once(&mut self, ctx: ServiceCtx) -> impl Future<Output = Outcome> + Send {
        let id = ctx.inside_marker();
        RunOnce::new(move || self.0.run(ctx), id)
    }
}

pin_project_lite::pin_project! {
    /// One run of an async service: calls `run` when first polled, then
    /// polls the future it returned, with panics caught (`std`) and the
    /// thread marked as inside this service (`id`: governor, service)
    /// meanwhile.
    ///
    /// Written out rather than as an `async fn` so that it holds the
    /// service's future and little else: it lives inside every
    /// supervisor's task, and an `async fn` kept a second copy of the
    /// context and the future. An enum, as the call and the future it
    /// returns never exist at once.
    struct RunOnce<F, Fut> {
        #[pin]
        stage: RunStage<F, Fut>,
        id: crate::inside::InsideMarker,
    }
}

pin_project_lite::pin_project! {
    #[project = RunStageProj]
    #[project_replace = RunStageOwned]
    enum RunStage<F, Fut> {
        Call { start: F },
        Running { #[pin] fut: Fut },
        Done,
    }
}

impl<F, Fut> RunOnce<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ServiceResult>,
{
    fn new(start: F, id: crate::inside::InsideMarker) -> Self {
        RunOnce {
            stage: RunStage::Call { start },
            id,
        }
    }
}

impl<F, Fut> Future for RunOnce<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ServiceResult>,
{
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.project();
        let mut stage = this.stage;
        let _inside = crate::inside::Guard::enter(*this.id);
        if let RunStageProj::Call { .. } = stage.as_mut().project() {
            if let RunStageOwned::Call { start } = stage.as_mut().project_replace(RunStage::Done) {
                // `run` itself may panic before it hands out a future.
                #[cfg(feature = "std")]
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(start)) {
                    Ok(fut) => stage.set(RunStage::Running { fut }),
                    Err(payload) => return Poll::Ready(crate::outcome::outcome_of_panic(payload)),
                }
                #[cfg(not(feature = "std"))]
                stage.set(RunStage::Running { fut: start() });
            }
        }
        let RunStageProj::Running { fut } = stage.as_mut().project() else {
            return Poll::Pending; // done already; never polled again
        };
        #[cfg(feature = "std")]
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx)))
        {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => outcome_of(result),
            Err(payload) => crate::outcome::outcome_of_panic(payload),
        };
        #[cfg(not(feature = "std"))]
        let outcome = match fut.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => outcome_of(result),
        };
        // Dropped here, as the run ends.
        stage.set(RunStage::Done);
        Poll::Ready(outcome)
    }
}

/// Runs a [`BlockingService`](crate::BlockingService) on the runtime's
/// blocking pool, one thread per run; the value travels to the thread and
/// back so that the next run uses it again.
#[cfg(feature = "std")]
pub(crate) struct BlockingRunner<S>(pub(crate) Option<S>);

#[cfg(feature = "std")]
impl<S: crate::service::BlockingService> Runner for BlockingRunner<S> {
    const ABORTED: Outcome = Outcome::Abandoned;

    fn can_run_again(&self) -> bool {
        self.0.is_some()
    }

    async fn run_once(&mut self, ctx: ServiceCtx) -> Outcome {
        use alloc::boxed::Box;
        use std::panic::{catch_unwind, AssertUnwindSafe};

        let Some(mut service) = self.0.take() else {
            return Outcome::Panicked(Arc::from("blocking service lost by an earlier run"));
        };
        let runtime = ctx.runtime().clone();
        let id = ctx.inside_marker();
        let span = tracing::Span::current();
        let (done, result) = futures_channel::oneshot::channel();
        runtime.spawn_blocking(Box::new(move || {
            let _span = span.enter();
            let caught = {
                let _inside = crate::inside::Guard::enter(id);
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

/// A [`BlockingRunner`] that makes its service value with `make` for the
/// first run, and again whenever a run was abandoned with the value on its
/// thread (`Governor::add_blocking_with`): such a service can be restarted
/// after a hung or timed-out run was abandoned.
#[cfg(feature = "std")]
pub(crate) struct FreshBlockingRunner<S, M> {
    pub(crate) inner: BlockingRunner<S>,
    pub(crate) make: M,
}

#[cfg(feature = "std")]
impl<S, M> Runner for FreshBlockingRunner<S, M>
where
    S: crate::service::BlockingService,
    M: FnMut() -> S + Send + 'static,
{
    const ABORTED: Outcome = Outcome::Abandoned;

    async fn run_once(&mut self, ctx: ServiceCtx) -> Outcome {
        use std::panic::{catch_unwind, AssertUnwindSafe};

        if self.inner.0.is_none() {
            let _inside = crate::inside::Guard::enter(ctx.inside_marker());
            match catch_unwind(AssertUnwindSafe(&mut self.make)) {
                Ok(service) => self.inner.0 = Some(service),
                Err(payload) => return crate::outcome::outcome_of_panic(payload),
            }
        }
        self.inner.run_once(ctx).await
    }
}
