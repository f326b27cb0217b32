//! A governor run as a service of another governor: a supervision tree.

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::time::Duration;

use futures_util::future::{select, Either};

use crate::context::ServiceCtx;
use crate::error::Error;
use crate::governor::Governor;
use crate::outcome::{ServiceError, ServiceResult};
use crate::propagation::Strategy;
use crate::service::Service;

type Setup = Arc<dyn Fn(&Governor) -> Result<(), Error> + Send + Sync + 'static>;

/// A subsystem supervised as one unit: a child governor, built afresh by
/// `setup` for every run, added as a service of a parent governor.
///
/// Each run creates a child governor on the parent's runtime, lets `setup`
/// add and configure its services, starts them (in their dependency order)
/// and waits. When the parent stops the subtree, the child shuts down in
/// its own order and within its own timeouts. When every child service has
/// ended by itself, the run ends: cleanly if the child's
/// [report](crate::Report::is_clean) is clean, as a failure otherwise — so
/// the parent's restart policy restarts the whole subtree, and a failing
/// subtree escalates like any service.
///
/// Give the subtree a parent-side shutdown timeout at least as long as the
/// child's own.
///
/// ```
/// use std::time::Duration;
/// use governor_core::{Governor, RestartPolicy, ServiceCtx, ServiceResult, Subtree};
///
/// async fn worker(ctx: ServiceCtx) -> ServiceResult {
///     ctx.wait_for_stop().await;
///     Ok(())
/// }
///
/// let parent = governor_smol::new();
/// parent
///     .add_service("workers", Subtree::new(|child| {
///         child.add("worker-1", worker)?.critical();
///         child.add("worker-2", worker)?;
///         Ok(())
///     }))?
///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)));
/// parent.start()?;
/// let report = smol::block_on(parent.shutdown());
/// assert!(report.is_clean());
/// # Ok::<(), governor_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Subtree {
    setup: Setup,
    strategy: Strategy,
    limit: Option<(u32, Duration)>,
}

impl Subtree {
    /// A subtree whose services `setup` adds to a fresh child governor at
    /// every run.
    pub fn new(setup: impl Fn(&Governor) -> Result<(), Error> + Send + Sync + 'static) -> Self {
        Subtree {
            setup: Arc::new(setup),
            strategy: Strategy::OneForOne,
            limit: None,
        }
    }

    /// The child governor's [`Strategy`] (one-for-one unless set), as
    /// [`Governor::strategy`] sets it, before `setup` runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_core::{RestartPolicy, ServiceCtx, ServiceResult, Strategy, Subtree};
    ///
    /// async fn idle(ctx: ServiceCtx) -> ServiceResult {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// }
    ///
    /// let parent = governor_smol::new();
    /// parent
    ///     .add_service(
    ///         "pipeline",
    ///         Subtree::new(|child| {
    ///             child.add("reader", idle)?;
    ///             child.add("writer", idle)?;
    ///             Ok(())
    ///         })
    ///         .strategy(Strategy::OneForAll)
    ///         .group_restart_limit(3, Duration::from_secs(10)),
    ///     )?
    ///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)));
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The child governor's [group restart limit](Governor::group_restart_limit),
    /// set before `setup` runs. Beyond it the child shuts down as
    /// escalated: the subtree's run fails, and the parent's policy decides.
    pub fn group_restart_limit(mut self, restarts: u32, within: Duration) -> Self {
        self.limit = Some((restarts, within));
        self
    }
}

impl fmt::Debug for Subtree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subtree").finish_non_exhaustive()
    }
}

impl Service for Subtree {
    fn run(&mut self, ctx: ServiceCtx) -> impl Future<Output = ServiceResult> + Send {
        let setup = self.setup.clone();
        let (strategy, limit) = (self.strategy, self.limit);
        async move {
            let mut child = ctx.child_governor().strategy(strategy);
            if let Some((restarts, within)) = limit {
                child = child.group_restart_limit(restarts, within);
            }
            if let Err(e) = setup(&child).and_then(|()| child.start()) {
                child.shutdown().await;
                return Err(ServiceError::new(Box::new(e) as crate::BoxError));
            }
            let report = {
                let ended = pin!(child.wait_for_shutdown());
                match select(ended, ctx.wait_for_stop()).await {
                    Either::Left((report, _)) => report,
                    Either::Right(_) => {
                        child.shutdown().await;
                        return Ok(());
                    }
                }
            };
            if report.is_clean() {
                Ok(())
            } else {
                Err(ServiceError::msg(format!(
                    "subtree failed: {}",
                    summary(&report)
                )))
            }
        }
    }
}

/// The first failing child and how, for the parent's outcome.
fn summary(report: &crate::Report) -> alloc::string::String {
    let failed = report.services.iter().find(|s| {
        s.state == crate::ServiceState::GaveUp
            || s.last_outcome
                .as_ref()
                .is_some_and(|o| o.is_failure() || o.is_aborted())
    });
    match (failed, &report.cause) {
        (Some(s), _) => format!("{s}"),
        (None, Some(cause)) => format!("{cause}"),
        (None, None) => "unclean".into(),
    }
}
