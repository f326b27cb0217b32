//! A record held by a propagation (`propagation.rs`): the record's side of
//! restarts that follow another service's.
//!
//! # Rules
//!
//! 1. `held` is set and cleared under the record's lock. `begin_run` reads
//!    it under the same lock and begins no run while it is set
//!    (`Record::begin_run` returns `None`): a hold either sees the current
//!    run (and stops it, [`Record::hold_and_stop_run`]) or keeps the next
//!    one from beginning. No run escapes a hold.
//! 2. A hold stops the current run as its handle's `restart` does (token,
//!    hooks, shutdown timeout), once per run, marked as propagated: the
//!    run's outcome is recorded as usual and its restart does not count
//!    against the service's restart limit.
//! 3. Every hold is released by whoever set it, on every path (the
//!    propagation's guard releases on drop): a held service waits, it is
//!    never forgotten in that state.
//! 4. Nothing here runs user code or takes another lock under the
//!    record's; watchers are woken after it is released.

use alloc::sync::Arc;

use super::Record;
use crate::propagation::Bind;

impl Record {
    /// Holds this service (no run begins until [`release`](Record::release))
    /// and stops its current run, if one is in progress and not already
    /// stopping, as a restart by propagation. `told` is called (no lock
    /// held) before the run is stopped, if this call stops it. Returns
    /// whether it stopped a run.
    pub(crate) fn hold_and_stop_run(&self, told: impl FnOnce()) -> bool {
        let token = {
            let mut state = self.state.lock();
            if state.status.is_final() {
                return false;
            }
            state.held = true;
            match &state.run_token {
                Some(token) if !state.restart_requested && !token.stopping() => {
                    let token = token.clone();
                    state.restart_requested = true;
                    state.propagated = true;
                    token
                }
                _ => return false,
            }
        };
        told();
        token.stop();
        true
    }

    /// Releases a hold: its next run may begin once `after` (if any) is
    /// ready. `after` is kept even on a record that was not held (the
    /// group's own failed member waits for its turn too).
    pub(crate) fn release(&self, after: Option<Arc<Record>>) {
        let (wake, old) = {
            let mut state = self.state.lock();
            state.held = false;
            let old = match after {
                Some(after) => state.links.get_or_insert_default().after.replace(after),
                None => state.links.as_mut().and_then(|links| links.after.take()),
            };
            (state.watchers.take(), old)
        };
        wake.wake();
        drop(old);
    }

    /// Takes the service its next run waits for, set by the last release.
    pub(crate) fn take_after(&self) -> Option<Arc<Record>> {
        self.state.lock().links.as_mut()?.after.take()
    }

    /// How this service follows `dependency` ([`Bind::Order`] unless set;
    /// bound twice, the stronger: `BindsTo` over `PartOf`).
    pub(crate) fn bind_to(&self, dependency: &str) -> Bind {
        let state = self.state.lock();
        let binds = state
            .config()
            .binds
            .iter()
            .filter(|(name, _)| &**name == dependency)
            .map(|(_, bind)| *bind);
        binds.fold(Bind::Order, |strongest, bind| match (strongest, bind) {
            (Bind::BindsTo, _) | (_, Bind::BindsTo) => Bind::BindsTo,
            (Bind::PartOf, _) | (_, Bind::PartOf) => Bind::PartOf,
            _ => Bind::Order,
        })
    }
}

impl Record {
    /// Added but not started yet.
    pub(crate) fn pending(&self) -> bool {
        self.state.lock().launch.is_some()
    }
}
