//! Per-service configuration, returned by `Governor::add` (Go's
//! `ServiceConfig`).

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use crate::error::Error;
use crate::governor::{Governor, Shared};
use crate::restart::RestartPolicy;
use crate::slot::Slot;

/// Configures one added service; chain its calls, then optionally
/// [`start`](ServiceConfig::start) it alone.
///
/// Dropping it leaves the service added, to be started by the next
/// [`Governor::start`]. Settings apply from the service's next restart
/// decision on, so they may be changed while it runs.
pub struct ServiceConfig {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
}

impl ServiceConfig {
    pub(crate) fn new(shared: Arc<Shared>, slot: Arc<Slot>) -> Self {
        ServiceConfig { shared, slot }
    }

    /// The service's name.
    pub fn name(&self) -> &str {
        &self.slot.name
    }

    /// Restart this service after `after` when it ends (zero allowed),
    /// overriding the governor's default.
    pub fn restart(self, after: Duration) -> Self {
        self.restart_policy(RestartPolicy::after(after))
    }

    /// Never restart this service, overriding the governor's default.
    pub fn no_restart(self) -> Self {
        self.restart_policy(RestartPolicy::never())
    }

    /// Sets this service's own restart policy.
    pub fn restart_policy(self, policy: RestartPolicy) -> Self {
        self.slot.set_restart(Some(policy));
        self
    }

    /// Adds a stop hook for every run of this service (Go's
    /// `Stoppable.Stop`); see [`ServiceCtx::on_stop`](crate::ServiceCtx::on_stop).
    pub fn on_stop(self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.slot.add_hook(Arc::new(hook));
        self
    }

    /// Starts this service now, alone (Go's `ServiceConfig.Start`).
    /// Errors as [`Governor::start`].
    pub fn start(self) -> Result<(), Error> {
        Governor::from_shared(self.shared.clone()).start_one(&self.slot)
    }
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("name", &self.slot.name)
            .finish_non_exhaustive()
    }
}
