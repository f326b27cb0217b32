//! What a service is: something the governor can run, again and again.

use core::future::Future;

use crate::context::ServiceCtx;
use crate::outcome::ServiceResult;

/// A long-lived service.
///
/// The governor calls [`run`](Service::run) when the service starts, and
/// again on the same value each time its restart policy restarts it. A run
/// ends with `Ok(())`, an error, a panic (caught with the `std` feature) or
/// [`StopService`](crate::StopService); see [`ServiceError`](crate::ServiceError).
///
/// Any `FnMut(ServiceCtx) -> impl Future<Output = ServiceResult>` closure is
/// a service, so most services are written as an `async` fn or a closure,
/// added with [`Governor::add`](crate::Governor::add) (whose bound lets a
/// closure's `ctx` go without a type: `|ctx| async move { .. }`):
///
/// ```
/// use std::time::Duration;
/// use governor_core::{ServiceCtx, ServiceResult};
///
/// async fn ticker(ctx: ServiceCtx) -> ServiceResult {
///     loop {
///         ctx.log(format_args!("tick"));
///         ctx.sleep(Duration::from_secs(1)).await?; // returns when asked to stop
///     }
/// }
/// # let _ = ticker;
/// ```
///
/// A type that keeps state across restarts implements the trait itself,
/// and is added with [`Governor::add_service`](crate::Governor::add_service):
///
/// ```
/// use governor_core::{Service, ServiceCtx, ServiceResult};
///
/// struct Counter {
///     runs: u32,
/// }
///
/// impl Service for Counter {
///     async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
///         self.runs += 1;
///         ctx.wait_for_stop().await;
///         Ok(())
///     }
/// }
/// ```
pub trait Service: Send + 'static {
    /// Runs the service once, until it ends or is asked to stop
    /// (`ctx.stopping()`, `ctx.wait_for_stop()`, `ctx.sleep(..)`).
    fn run(&mut self, ctx: ServiceCtx) -> impl Future<Output = ServiceResult> + Send;
}

impl<F, Fut> Service for F
where
    F: FnMut(ServiceCtx) -> Fut + Send + 'static,
    Fut: Future<Output = ServiceResult> + Send,
{
    fn run(&mut self, ctx: ServiceCtx) -> impl Future<Output = ServiceResult> + Send {
        self(ctx)
    }
}

/// A service built on blocking code, run on the runtime's blocking pool
/// (added with [`Governor::add_blocking`](crate::Governor::add_blocking)).
///
/// This is the Go model: `run` owns a thread for as long as it runs. It
/// learns about a stop by polling [`ServiceCtx::stopping`], by sleeping with
/// [`ServiceCtx::sleep_blocking`], or through a stop hook
/// ([`ServiceCtx::on_stop`]) that unblocks it, e.g. by shutting down the
/// socket it reads from.
///
/// Any `FnMut(ServiceCtx) -> ServiceResult + Send + 'static` closure is one
/// (added with [`Governor::add_blocking`](crate::Governor::add_blocking),
/// `|ctx| ..` needing no type); a type implementing it is added with
/// [`Governor::add_blocking_service`](crate::Governor::add_blocking_service).
#[cfg(feature = "std")]
pub trait BlockingService: Send + 'static {
    /// Runs the service once, blocking the calling thread.
    fn run(&mut self, ctx: ServiceCtx) -> ServiceResult;
}

#[cfg(feature = "std")]
impl<F> BlockingService for F
where
    F: FnMut(ServiceCtx) -> ServiceResult + Send + 'static,
{
    fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
        self(ctx)
    }
}
