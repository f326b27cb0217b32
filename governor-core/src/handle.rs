//! A handle on one service: stop it alone, restart it now, wait for it.

use alloc::sync::Arc;
use core::fmt;

use crate::error::Error;
use crate::governor::Shared;
use crate::record::{Record, StopScope};
use crate::report::ServiceReport;
use crate::report_handle::ReportHandle;

/// Controls one service at run time. Cheap to clone; get one from
/// [`Governor::service`](crate::Governor::service) or
/// [`ServiceConfig::handle`](crate::ServiceConfig::handle).
#[derive(Clone)]
pub struct ServiceHandle {
    shared: Arc<Shared>,
    record: Arc<Record>,
}

impl ServiceHandle {
    pub(crate) fn new(shared: Arc<Shared>, record: Arc<Record>) -> Self {
        ServiceHandle { shared, record }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Stops this service, for good: its run is asked to stop (stop
    /// hooks, shutdown timeout) and it is not restarted. Services that
    /// depend on it are not stopped, except those that
    /// [`BindsTo`](crate::Bind::BindsTo) it, which are stopped for good
    /// once it has ended. A service not started yet will not start.
    /// Returns `false` if it was already stopping or stopped.
    pub fn stop(&self) -> bool {
        let forget = || {
            if self.record.should_forget(self.shared.token.stopping()) {
                self.shared.forget(&self.record);
            }
        };
        self.record.drop_launch_then(forget)
            || self
                .record
                .stop_then(|| self.shared.stop_requested(&self.record, StopScope::ForGood))
    }

    /// Removes this service from its governor, as
    /// [`Governor::remove`](crate::Governor::remove) does: stops it if it
    /// runs, waits until it has ended for good, forgets it (its name is
    /// free again) and returns its final report. A service removed or
    /// forgotten already gives its final report at once. Error:
    /// [`Error::DependedOn`].
    pub async fn remove(&self) -> Result<ServiceReport, Error> {
        self.shared.remove(&self.record).await
    }

    /// Stops the current run and starts the next one at once, whatever the
    /// restart policy (this restart does not count against its limit).
    /// Returns `false` if no run was in progress. Its
    /// [`PartOf`](crate::Bind::PartOf) and `BindsTo` dependents restart
    /// with it: stopped (dependents first) once its run has ended, started
    /// again once it is ready.
    ///
    /// The run is asked to stop as usual (token, stop hooks, shutdown
    /// timeout). An async run that ignores the stop is aborted at the
    /// timeout and the next run still begins; a
    /// [critical](crate::ServiceConfig::critical) service restarted so
    /// does not shut the governor down. A blocking run that ignores it is
    /// abandoned and cannot be restarted (the service's value is still on
    /// its thread): the service ends for good with
    /// [`Outcome::Abandoned`](crate::Outcome::Abandoned), as if it had
    /// ended by itself (a critical one then shuts the governor down).
    pub fn restart(&self) -> bool {
        self.record
            .stop_run_then(|| self.shared.stop_requested(&self.record, StopScope::ThisRun))
    }

    /// Waits until this service has ended for good, and returns its
    /// report. Returns at once for a service that has not been started.
    /// A service [forgotten](crate::ServiceConfig::forget_when_ended) when
    /// it ends is forgotten by the time this returns.
    pub async fn wait(&self) -> ServiceReport {
        self.record
            .watch(|view| (view.ended || view.pending).then_some(()))
            .await;
        self.report()
    }

    /// A snapshot of this service.
    pub fn report(&self) -> ServiceReport {
        self.record.report(self.shared.runtime.now())
    }

    /// A handle on the whole governor's report and shutdown cause: as
    /// [`Governor::report_handle`](crate::Governor::report_handle), it
    /// outlives the last `Governor` handle.
    pub fn report_handle(&self) -> ReportHandle {
        ReportHandle::new(self.shared.clone())
    }
}

impl fmt::Debug for ServiceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceHandle")
            .field("name", &self.record.name)
            .finish_non_exhaustive()
    }
}
