//! A handle that reads a governor's reports without keeping it running:
//! [`ReportHandle`], for code that must learn how the governor ended after
//! the last [`Governor`](crate::Governor) handle is gone.
//!
//! It holds the governor's shared state, not the users' owner: dropping
//! the last `Governor` still shuts the governor down
//! ([`ShutdownCause::Dropped`]), and this handle then reads the cause and
//! waits for the final report. It takes no lock but the governor's own
//! (through `Shared::report`) and runs no user code.

use alloc::sync::Arc;
use core::fmt;

use crate::governor::Shared;
use crate::report::{Report, ShutdownCause};

/// Reads a governor's [`Report`] and [`ShutdownCause`], and waits for its
/// shutdown, without keeping it alive: it stays usable after the last
/// [`Governor`](crate::Governor) handle has been dropped. Cheap to clone;
/// get one from [`Governor::report_handle`](crate::Governor::report_handle)
/// or [`ServiceHandle::report_handle`](crate::ServiceHandle::report_handle).
///
/// A `Governor` handle keeps its services running: when the last one is
/// dropped, the governor shuts down. Code that only watches (a status
/// page, a test, whatever `main` runs after handing the governor away)
/// holds this instead, and can still read how it ended:
///
/// ```
/// use governor_core::{ServiceState, ShutdownCause};
///
/// let gov = governor_smol::new();
/// gov.add("worker", |ctx| async move {
///     ctx.wait_for_stop().await;
///     Ok(())
/// })?;
/// gov.start()?;
/// let reports = gov.report_handle();
/// drop(gov); // the last handle: the governor shuts down
///
/// let report = smol::block_on(reports.wait_for_shutdown());
/// assert_eq!(report.cause, Some(ShutdownCause::Dropped));
/// assert_eq!(report.service("worker").unwrap().state, ServiceState::Ended);
/// assert_eq!(reports.cause(), Some(ShutdownCause::Dropped));
/// # Ok::<(), governor_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ReportHandle {
    shared: Arc<Shared>,
}

impl ReportHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        ReportHandle { shared }
    }

    /// A snapshot of every service and the shutdown, as
    /// [`Governor::report`](crate::Governor::report).
    pub fn report(&self) -> Report {
        self.shared.report()
    }

    /// Why the governor began to shut down, if it has.
    pub fn cause(&self) -> Option<ShutdownCause> {
        self.shared.cause()
    }

    /// Waits until no service is running any more and returns the
    /// [`Report`], as
    /// [`Governor::wait_for_shutdown`](crate::Governor::wait_for_shutdown)
    /// (the same wait: returns at once if no service has been started, and
    /// awaited inside a service it waits for every other one).
    pub async fn wait_for_shutdown(&self) -> Report {
        self.shared.wait_for_shutdown().await
    }

    /// [`wait_for_shutdown`](ReportHandle::wait_for_shutdown) for
    /// synchronous code: blocks the calling thread (not from an async
    /// task).
    #[cfg(feature = "std")]
    pub fn wait_for_shutdown_blocking(&self) -> Report {
        futures_executor::block_on(self.wait_for_shutdown())
    }
}

impl fmt::Debug for ReportHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportHandle")
            .field("cause", &self.cause())
            .finish_non_exhaustive()
    }
}
