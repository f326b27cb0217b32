//! The shutdown budget and the drain delay ([`Governor::shutdown_budget`],
//! [`Governor::drain_delay`]): one deadline for the whole ordered
//! shutdown, split across its dependency-ordered phases.
//!
//! # The plan
//!
//! When the stop begins (at the shutdown request, or when the drain delay
//! ends), each live service gets a *phase*: 0 if no live service depends
//! on it (it stops first), else one more than the highest phase of those
//! that depend on it; `phases` is the highest plus one. The budget's end
//! is fixed at the request: `requested + budget` (the drain delay is
//! spent out of it, as Kubernetes' grace period includes the `preStop`
//! wait).
//!
//! # Rules
//!
//! 1. A service of phase `p` whose stop begins at `t` may take at most
//!    `(end - t) / (phases - p)`: an even share of what is left among the
//!    phases left, so time its phase did not use passes on to the later
//!    ones; its own shutdown timeout, if shorter, wins. Every deadline is
//!    at most `end`: the sum over the phases never exceeds the budget.
//! 2. A run cut off by its share (not by its own timeout) is recorded:
//!    the report's [`BudgetReport::ran_out`] is the first phase (lowest
//!    number) that happened to.
//! 3. The plan is made under the governor's lock (services' records under
//!    it, as the lock order allows) and kept in a leaf lock (`budget`),
//!    read once per service as its stop begins.
//! 4. During the drain delay the governor has a shutdown cause but its
//!    global token is not stopped: services run on; a shutdown signal or
//!    [`force_shutdown`](Governor::force_shutdown) ends the drain and
//!    forces at once.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

#[cfg(doc)]
use super::Governor;
use super::Shared;
use crate::event::Event;
use crate::record::Record;

/// What a report says about the [shutdown budget](Governor::shutdown_budget)
/// of the shutdown it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetReport {
    /// The budget configured.
    pub budget: Duration,
    /// How many dependency-ordered phases the stop had (phase 0 stops
    /// first: the services nothing depends on).
    pub phases: usize,
    /// The first phase in which a service was cut off because its share
    /// of the budget ran out (not its own shutdown timeout); `None` if
    /// the budget held.
    pub ran_out: Option<usize>,
}

/// The plan of one shutdown (see the module's docs).
#[derive(Default)]
pub(crate) struct Plan {
    /// The budget and its end on the runtime's clock, if one is set.
    budget: Option<(Duration, Duration)>,
    phases: usize,
    /// Each live service's record (by address) and phase.
    phase_of: BTreeMap<usize, usize>,
    ran_out: Option<usize>,
}

impl Shared {
    /// The end of the shutdown budget on the runtime's clock, once the
    /// stop began with a budget set (the systemd notifier's
    /// `EXTEND_TIMEOUT_USEC` never asks for more).
    #[cfg(all(feature = "systemd", unix))]
    pub(crate) fn budget_end(&self) -> Option<Duration> {
        self.budget
            .lock()
            .as_ref()
            .and_then(|plan| plan.budget)
            .map(|(_, end)| end)
    }

    /// Makes the plan, if a budget is set: called as the stop begins,
    /// with `requested` the time of the shutdown request.
    pub(super) fn plan_budget(&self, requested: Duration) {
        let (budget, records) = {
            let state = self.state.lock();
            let Some(budget) = state.budget else {
                return;
            };
            let records: Vec<Arc<Record>> = state
                .services
                .iter()
                .filter(|record| !record.forgotten() && !record.ended())
                .cloned()
                .collect();
            (budget, records)
        };
        let mut phase_of = BTreeMap::new();
        for record in &records {
            phase(record, &mut phase_of, 0);
        }
        let phases = phase_of.values().map(|p| p + 1).max().unwrap_or(0);
        *self.budget.lock() = Some(Box::new(Plan {
            budget: Some((budget, requested.saturating_add(budget))),
            phases,
            phase_of,
            ran_out: None,
        }));
    }

    /// The share of the budget of `record`, whose stop begins at `now`,
    /// with its phase; `None` without a budget (or for a service the plan
    /// does not know: one that was not live when it was made).
    pub(crate) fn budget_share(&self, record: &Record, now: Duration) -> Option<(Duration, usize)> {
        let plan = self.budget.lock();
        let plan = plan.as_ref()?;
        let (_, end) = plan.budget?;
        let key = record as *const Record as usize;
        let phase = plan.phase_of.get(&key)?;
        let left = (plan.phases - phase).max(1) as u32;
        Some((end.saturating_sub(now) / left, *phase))
    }

    /// A run of phase `phase` was cut off by its share of the budget.
    pub(crate) fn budget_ran_out(&self, service: &Arc<str>, phase: usize) {
        {
            let mut plan = self.budget.lock();
            if let Some(plan) = plan.as_mut() {
                plan.ran_out = Some(plan.ran_out.map_or(phase, |p| p.min(phase)));
            }
        }
        tracing::warn!(service = %service, phase, "shutdown budget ran out");
    }

    /// What the report says about the budget.
    pub(super) fn budget_report(&self) -> Option<BudgetReport> {
        let plan = self.budget.lock();
        let plan = plan.as_ref()?;
        let (budget, _) = plan.budget?;
        Some(BudgetReport {
            budget,
            phases: plan.phases,
            ran_out: plan.ran_out,
        })
    }

    /// The stop begins: the plan is made, the global token stopped.
    pub(super) fn begin_stopping(&self, requested: Duration) {
        {
            let mut state = self.state.lock();
            state.draining = false;
            if core::mem::replace(&mut state.stop_begun, true) {
                return; // the drain's end and a force raced: once
            }
        }
        self.plan_budget(requested);
        self.token.stop();
        if self.live_count.count() == 0 {
            self.report_complete();
        }
    }

    /// A shutdown was requested at `requested` with a drain delay: the
    /// stop begins once it has passed (or at once if forced meanwhile).
    pub(super) fn drain_then_stop(self: &Arc<Self>, requested: Duration, delay: Duration) {
        self.emit(|| Event::Draining { delay });
        let shared = self.clone();
        let sleep = self.runtime.sleep(delay);
        self.runtime.spawn(Box::pin(async move {
            let forced = shared.force.wait_for_stop();
            futures_util::future::select(sleep, forced).await;
            shared.begin_stopping(requested);
        }));
    }
}

/// The phase of `record` (memoised in `phase_of`): 0 without live
/// dependents, else one more than theirs. `depth` bounds the recursion
/// (dependencies have no cycles; a bound keeps a bug from overflowing).
fn phase(record: &Arc<Record>, phase_of: &mut BTreeMap<usize, usize>, depth: usize) -> usize {
    let key = Arc::as_ptr(record) as usize;
    if let Some(p) = phase_of.get(&key) {
        return *p;
    }
    let mut p = 0;
    if depth < 10_000 {
        for dependent in record.dependents() {
            if !dependent.ended() && !dependent.forgotten() {
                p = p.max(phase(&dependent, phase_of, depth + 1) + 1);
            }
        }
    }
    phase_of.insert(key, p);
    p
}
