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
use crate::runtime::BoxTask;
use crate::slot::{LaunchSettings, Slot};

/// What a supervisor needs once its service starts.
pub(crate) struct LaunchInputs {
    pub(crate) shared: Arc<Shared>,
    pub(crate) slot: Arc<Slot>,
    pub(crate) deps: Vec<Arc<Slot>>,
    pub(crate) settings: LaunchSettings,
}

/// A supervisor task not spawned yet, as its record holds it until its
/// service starts.
pub(crate) type BoxLaunch = Pin<Box<dyn Launch>>;

/// What a [`BoxLaunch`] can do: be launched (type-erased).
pub(crate) trait Launch: Send {
    /// Hands the task its inputs; the same allocation, ready to spawn.
    fn launch(self: Pin<Box<Self>>, inputs: LaunchInputs) -> BoxTask;
}

/// A supervisor task built from the supervising function `start` and the
/// service it runs (`runner`).
pub(crate) fn supervisor_task<R, Fut>(runner: R, start: fn(R, LaunchInputs) -> Fut) -> BoxLaunch
where
    R: Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Box::pin(SupervisorTask {
        stage: Stage::Waiting { runner, start },
        slot: None,
    })
}

pin_project_lite::pin_project! {
    struct SupervisorTask<R, Fut> {
        #[pin]
        stage: Stage<R, Fut>,
        // The record, to name the service if a panic escapes the
        // supervisor (outside any run, which catches its own).
        slot: Option<Arc<Slot>>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    #[project_replace = StageOwned]
    enum Stage<R, Fut> {
        Waiting { runner: R, start: fn(R, LaunchInputs) -> Fut },
        Running { #[pin] fut: Fut },
        Done,
    }
}

impl<R, Fut> Launch for SupervisorTask<R, Fut>
where
    R: Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn launch(mut self: Pin<Box<Self>>, inputs: LaunchInputs) -> BoxTask {
        let this = self.as_mut().project();
        *this.slot = Some(inputs.slot.clone());
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
                    log_escaped_panic(payload, this.slot.as_deref());
                    // What is left of it is dropped under a guard too.
                    let drop_rest = std::panic::AssertUnwindSafe(|| stage.set(Stage::Done));
                    if let Err(payload) = std::panic::catch_unwind(drop_rest) {
                        log_escaped_panic(payload, this.slot.as_deref());
                    }
                    Poll::Ready(())
                }
            }
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = this.slot;
            let mut step = step;
            step()
        }
    }
}

/// Logs a panic that escaped a supervisor (outside any run).
#[cfg(feature = "std")]
fn log_escaped_panic(payload: Box<dyn core::any::Any + Send>, slot: Option<&Slot>) {
    let outcome = crate::outcome::outcome_of_panic(payload);
    let service = slot.map_or("?", |slot| &slot.name);
    tracing::error!(%service, "supervisor {outcome} (outside any run)");
}
