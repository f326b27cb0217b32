//! The task a service's supervisor runs as: allocated once, when the
//! service is added, holding the service until it starts; handed what it
//! needs (the governor, its record, its dependencies) when it starts, and
//! spawned as it is. No panic escapes it into the executor.
//!
//! One allocation per service for the whole supervisor, where a boxed
//! launcher (at add) followed by a boxed task (at start) took two.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::governor::Shared;
use crate::record::{Record, StartSettings};
use crate::runtime::BoxTask;

/// What a supervisor needs once its service starts.
pub(crate) struct SupervisorInputs {
    pub(crate) shared: Arc<Shared>,
    pub(crate) record: Arc<Record>,
    pub(crate) deps: Vec<Arc<Record>>,
    pub(crate) settings: StartSettings,
}

/// A supervisor task not spawned yet, as its record holds it until its
/// service starts.
pub(crate) type PendingSupervisor = Pin<Box<dyn StartSupervisor>>;

/// What a [`PendingSupervisor`] can do: be launched (type-erased).
pub(crate) trait StartSupervisor: Send {
    /// Hands the task its inputs; the same allocation, ready to spawn.
    fn launch(self: Pin<Box<Self>>, inputs: SupervisorInputs) -> BoxTask;
}

/// A supervisor task built from the supervising function `start` and the
/// service it runs (`runner`).
pub(crate) fn supervisor_task<R, Fut>(
    runner: R,
    start: fn(R, SupervisorInputs) -> Fut,
) -> PendingSupervisor
where
    R: Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::pin(SupervisorTask {
        stage: Stage::Waiting { runner, start },
        record: None,
    })
}

pin_project_lite::pin_project! {
    struct SupervisorTask<R, Fut> {
        #[pin]
        stage: Stage<R, Fut>,
        // The record, to name the service if a panic escapes the
        // supervisor (outside any run, which catches its own).
        record: Option<Arc<Record>>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    #[project_replace = StageOwned]
    enum Stage<R, Fut> {
        Waiting { runner: R, start: fn(R, SupervisorInputs) -> Fut },
        Running { #[pin] fut: Fut },
        Done,
    }
}

impl<R, Fut> StartSupervisor for SupervisorTask<R, Fut>
where
    R: Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn launch(mut self: Pin<Box<Self>>, inputs: SupervisorInputs) -> BoxTask {
        let this = self.as_mut().project();
        *this.record = Some(inputs.record.clone());
        let mut stage = this.stage;
        if let StageOwned::Waiting { runner, start } = stage.as_mut().project_replace(Stage::Done) {
            // Builds the supervising future only: no user code runs here.
            stage.set(Stage::Running {
                fut: start(runner, inputs),
            });
        }
        self
    }
}

impl<R, Fut: Future<Output = ()>> Future for SupervisorTask<R, Fut> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let mut stage = this.stage;
        let step = || {
            let StageProj::Running { fut } = stage.as_mut().project() else {
                return Poll::Ready(()); // not launched, or done
            };
            let poll = fut.poll(cx);
            if poll.is_ready() {
                // Dropped here, inside the panic guard: a `Drop` that
                // panics is caught like any other panic.
                stage.set(Stage::Done);
            }
            poll
        };
        #[cfg(feature = "std")]
        {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
                Ok(poll) => poll,
                Err(payload) => {
                    log_escaped_panic(payload, this.record.as_deref());
                    // What is left of it is dropped under a guard too.
                    let drop_rest = std::panic::AssertUnwindSafe(|| stage.set(Stage::Done));
                    if let Err(payload) = std::panic::catch_unwind(drop_rest) {
                        log_escaped_panic(payload, this.record.as_deref());
                    }
                    Poll::Ready(())
                }
            }
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = this.record;
            let mut step = step;
            step()
        }
    }
}

/// Logs a panic that escaped a supervisor (outside any run).
#[cfg(feature = "std")]
fn log_escaped_panic(payload: Box<dyn core::any::Any + Send>, record: Option<&Record>) {
    let outcome = crate::outcome::outcome_of_panic(payload);
    let service = record.map_or("?", |record| &record.name);
    tracing::error!(target: crate::targets::FAULT, %service, "supervisor {outcome} (outside any run)");
}

/// The size of the task [`supervisor_task`] allocates for `runner` and
/// `start`: the one allocation a service's whole supervisor takes. For
/// the `layout` test, and compiled where it is.
#[cfg(all(test, not(loom), not(miri)))]
pub(crate) fn task_size<R, Fut>(_start: fn(R, SupervisorInputs) -> Fut) -> usize {
    core::mem::size_of::<SupervisorTask<R, Fut>>()
}

/// The size of the supervising future `start` returns.
#[cfg(all(test, not(loom), not(miri)))]
pub(crate) fn future_size<R, Fut>(_start: fn(R, SupervisorInputs) -> Fut) -> usize {
    core::mem::size_of::<Fut>()
}
