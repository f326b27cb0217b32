//! A record from added to started: its launch (the supervisor task,
//! holding the service value) is taken by `start` (`Pending` to
//! `Starting`), put back if the start's checks fail, or dropped unlaunched
//! if the service is stopped or removed first (`Ended`). The service
//! value of a launch dropped unlaunched is dropped after every lock is
//! released ([`NeverStarted::complete`]).

use alloc::boxed::Box;
use alloc::sync::Arc;

use crate::report::ServiceState;
use crate::supervisor_task::PendingSupervisor;
use crate::wait_list::WakeAll;

use super::{drop_user_value, Launch, Record, RecordState, StartSettings};

impl Record {
    /// Takes what starts the service, if it has not started yet: its
    /// supervisor task, the names it depends on (no allocation when none)
    /// and its settings, in one visit (each visit of a record is a cache
    /// miss when there are many).
    pub(crate) fn take_launch(&self) -> Option<Launch> {
        let mut state = self.state.lock();
        let launch = state.launch.take()?;
        state.status = ServiceState::Starting;
        // Counted live by the caller in the same step of `start`, unless
        // the checks fail and `restore_launch` undoes this.
        state.live = true;
        let config = state.config();
        Some(Launch {
            launch,
            depends_on: config.depends_on.clone(),
            settings: StartSettings {
                restart: config.restart.map(Box::new),
                critical: config.critical,
                notify_ready: config.notify_ready,
            },
        })
    }

    /// Puts back what [`take_launch`](Record::take_launch) took, for a start
    /// that failed its checks: the service is pending again, unless it was
    /// stopped meanwhile (then it never starts, as if stopped before).
    ///
    /// Called under the governor's lock: what is returned is to be
    /// [completed](NeverStarted::complete) once that is released (it
    /// drops the service value, user code).
    #[must_use]
    pub(crate) fn restore_launch(&self, launch: PendingSupervisor) -> Option<NeverStarted> {
        let mut state = self.state.lock();
        state.live = false;
        if self.stopped() {
            return Some(self.end_unlaunched(&mut state, launch));
        }
        state.status = ServiceState::Pending;
        state.launch = Some(launch);
        None
    }

    /// A service stopped before it was started: it never will be.
    /// Calls `ended` (with no lock of the record held) after the service
    /// is marked ended and before its watchers are woken, if this call
    /// ended it.
    pub(crate) fn drop_launch_then(&self, ended: impl FnOnce()) -> bool {
        let cancelled = {
            let mut state = self.state.lock();
            let Some(launch) = state.launch.take() else {
                return false;
            };
            self.end_unlaunched(&mut state, launch)
        };
        ended();
        cancelled.complete();
        true
    }

    /// Marks a service that was never started as ended for good; its
    /// value (`launch`) is dropped once the lock is released.
    fn end_unlaunched(&self, state: &mut RecordState, launch: PendingSupervisor) -> NeverStarted {
        state.status = ServiceState::Ended;
        state.ended = true;
        NeverStarted {
            name: self.name.clone(),
            launch,
            wake: state.watchers.take(),
        }
    }
}

/// A service that will never start, ended under its record's lock (and
/// perhaps the governor's): what is left to do once they are released.
#[must_use]
pub(crate) struct NeverStarted {
    name: Arc<str>,
    launch: PendingSupervisor,
    wake: WakeAll,
}

impl NeverStarted {
    /// Wakes the record's watchers, then drops the service value (user
    /// code: its `Drop` may call back into the governor, or panic).
    pub(crate) fn complete(self) {
        self.wake.wake();
        drop_user_value(&self.name, "service value", self.launch);
    }
}
