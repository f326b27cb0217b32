//! Restart propagation: restarts and ends that follow another service's.
//!
//! Two kinds, both policy only (no runtime is named here):
//!
//! - **Per dependency** ([`Bind`], set with
//!   [`ServiceConfig::depends_on_with`](crate::ServiceConfig::depends_on_with)):
//!   a dependent that is [`PartOf`](Bind::PartOf) (or
//!   [`BindsTo`](Bind::BindsTo)) its dependency restarts when that
//!   dependency restarts; one that [`BindsTo`](Bind::BindsTo) it also stops
//!   for good when that dependency ends for good.
//! - **Per group** ([`Strategy`], set with
//!   [`Governor::strategy`](crate::Governor::strategy)): OTP's
//!   supervision strategies over a governor's services (a
//!   [`Subtree`](crate::Subtree)'s, or the top one's).
//!
//! # Rules
//!
//! 1. A restart propagates once its service's run has ended and its
//!    restart is decided (by its policy, or by its handle's `restart`),
//!    before its next run begins. The services it reaches are stopped one
//!    at a time, each waited for until its run has ended: PartOf dependents
//!    deepest first (dependents before their dependencies, as in a
//!    shutdown), a group's members in reverse order of addition.
//! 2. Each service reached is *held* (`record/hold.rs`) before its run is
//!    stopped: no run of it begins until the restarting service releases
//!    it, just before its own next run (after its restart delay). Then
//!    every PartOf dependent waits until the dependencies it follows are
//!    ready, and a group's members start in their order: each waits until
//!    the one before it is ready (or has ended for good).
//! 3. A run stopped by propagation is stopped as by its handle's `restart`
//!    (token, stop hooks, shutdown timeout, then abort): its outcome is
//!    recorded as usual — what it returned, usually
//!    [`Outcome::Completed`](crate::Outcome::Completed) — with
//!    [`Event::StopPropagated`](crate::Event::StopPropagated) before it
//!    and `RunEnded` after; its restart is at once and does not count
//!    against its own restart limit (it did not fail). A restart caused
//!    by propagation propagates no further (the first one covered them).
//! 4. Group strategies act on restarts decided by a member's restart
//!    policy (a run that ended by itself), not on restarts asked for by a
//!    handle or by propagation. One group restart at a time: a member that
//!    ends while one is in progress restarts alone (it is held and stopped
//!    with the others if it has not been yet).
//! 5. The group's [restart limit](crate::Governor::group_restart_limit)
//!    counts group restarts; beyond it the group gives up: the member whose
//!    restart was one too many [gives up](crate::ServiceState::GaveUp) and
//!    the governor shuts down with
//!    [`ShutdownCause::Escalated`](crate::ShutdownCause::Escalated) naming
//!    it. A [`Subtree`](crate::Subtree) whose group gave up thus fails its
//!    parent's run, which escalates as any service does.
//! 6. An end for good (by itself, given up, stopped by its handle) stops
//!    every started [`BindsTo`](Bind::BindsTo) dependent for good, as its
//!    handle's `stop` does. Not during a shutdown, which stops everything
//!    in order anyway.
//! 7. No lock is held across an await; the group's lock is a leaf (nothing
//!    is locked under it); no user code runs under a lock.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use crate::event::Event;
use crate::governor::Shared;
use crate::handle::ServiceHandle;
use crate::outcome::Outcome;
use crate::record::Record;
use crate::restart::{Decision, Escalation, RestartHistory, RestartPolicy};

/// How a dependent follows one of its dependencies
/// ([`ServiceConfig::depends_on_with`](crate::ServiceConfig::depends_on_with)),
/// after systemd's unit dependencies.
///
/// Whatever the choice, the dependency orders the dependent's first start
/// (after the dependency is ready) and the shutdown (the dependent stops
/// first), and an unknown name or a cycle is refused by `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Bind {
    /// The dependency only orders start and stop
    /// ([`depends_on`](crate::ServiceConfig::depends_on); systemd's
    /// `After=` with `Wants=`). Its restarts and its end leave the
    /// dependent running.
    #[default]
    Order,
    /// systemd's `PartOf=`: when the dependency restarts, the dependent
    /// restarts too. Its run is stopped before the dependency's next run
    /// begins (dependents deepest first), and each of its runs begins only
    /// once the dependency is ready. The dependency's end for good leaves
    /// it running.
    PartOf,
    /// systemd's `BindsTo=`: as [`PartOf`](Bind::PartOf), and when the
    /// dependency ends for good (by itself, given up, or stopped by its
    /// handle) the dependent is stopped for good too.
    BindsTo,
}

impl Bind {
    /// Whether a dependent bound so restarts with its dependency.
    pub(crate) fn follows_restarts(self) -> bool {
        matches!(self, Bind::PartOf | Bind::BindsTo)
    }
}

/// How a group of services — a governor's (a [`Subtree`](crate::Subtree)'s
/// child, or the top one) — restarts when one of its members restarts by
/// its restart policy: OTP's supervision strategies
/// ([`Governor::strategy`](crate::Governor::strategy)).
///
/// Members are ordered as they were added. The member's own policy decides
/// whether it restarts and after what delay (counting against its own
/// limit); the strategy decides who restarts with it (counting against the
/// group's [limit](crate::Governor::group_restart_limit)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Only the member restarts (today's behaviour, the default).
    #[default]
    OneForOne,
    /// Every member restarts: the others are stopped in reverse order of
    /// addition, then all start again in order, each once the one before
    /// it is ready.
    OneForAll,
    /// The member and those added after it restart: those are stopped in
    /// reverse order, then all start again in order.
    RestForOne,
}

/// A governor's group settings and the history of its group restarts.
/// Behind a leaf lock of the governor's (`Shared::group`).
#[derive(Default)]
pub(crate) struct Group {
    strategy: Strategy,
    /// `None`: group restarts are not limited.
    limit: Option<RestartPolicy>,
    history: RestartHistory,
    /// A group restart is between its claim and its release.
    in_progress: bool,
}

impl Group {
    pub(crate) fn set_strategy(&mut self, strategy: Strategy) {
        self.strategy = strategy;
    }

    pub(crate) fn set_limit(&mut self, restarts: u32, within: Duration) {
        self.limit = Some(
            RestartPolicy::always(Duration::ZERO)
                .limit(restarts, within)
                .escalate(Escalation::Shutdown),
        );
    }
}

/// What a member's restart means for its group ([`claim_group_restart`]).
pub(crate) enum GroupClaim {
    /// Nothing: one-for-one, or a group restart is in progress already.
    Alone,
    /// This restart is a group restart, under this strategy: stop the
    /// others with [`stop_group`].
    Claimed(Strategy),
    /// The group's restart limit is reached: the group gives up.
    GiveUp,
}

/// Claims a group restart for a member whose restart its policy decided
/// (after its run ended with `outcome` at `now`), counting it against the
/// group's limit. Synchronous: decided before the run's end is recorded.
pub(crate) fn claim_group_restart(shared: &Shared, outcome: &Outcome, now: Duration) -> GroupClaim {
    let mut group = shared.group.lock();
    if group.strategy == Strategy::OneForOne || group.in_progress {
        return GroupClaim::Alone;
    }
    if let Some(limit) = group.limit {
        if let Decision::Escalate(_) = group.history.decide(&limit, outcome, now, Duration::ZERO) {
            return GroupClaim::GiveUp;
        }
    }
    group.in_progress = true;
    GroupClaim::Claimed(group.strategy)
}

/// Services held by a restart, released (each with the service its next
/// run waits for) when this is dropped: just before the restarting
/// service's next run, or when it stops instead.
#[derive(Default)]
pub(crate) struct Holds {
    released: Vec<(Arc<Record>, Option<Arc<Record>>)>,
    /// Set once a group restart was claimed: ended with the release.
    group: Option<Arc<Shared>>,
}

impl Holds {
    pub(crate) fn is_empty(&self) -> bool {
        self.released.is_empty() && self.group.is_none()
    }
}

impl Drop for Holds {
    fn drop(&mut self) {
        for (record, after) in self.released.drain(..) {
            record.release(after);
        }
        if let Some(shared) = self.group.take() {
            shared.group.lock().in_progress = false;
        }
    }
}

/// Stops `record`'s PartOf and BindsTo dependents, and theirs, deepest
/// first, each held and waited for until its run has ended (rules 1–3).
pub(crate) async fn stop_followers(shared: &Shared, record: &Arc<Record>, holds: &mut Holds) {
    for follower in followers_deepest_first(record) {
        stop_one(shared, &follower, &record.name).await;
        holds.released.push((follower, None));
    }
}

/// Stops the other members a claimed group restart reaches, in reverse
/// order, and sets the order they (and `record`) start again in.
pub(crate) async fn stop_group(
    shared: &Arc<Shared>,
    record: &Arc<Record>,
    strategy: Strategy,
    holds: &mut Holds,
) {
    holds.group = Some(shared.clone());
    let members = shared.group_members();
    let at = members.iter().position(|m| Arc::ptr_eq(m, record));
    let restarting: Vec<Arc<Record>> = match (strategy, at) {
        (Strategy::OneForAll, _) => members,
        (Strategy::RestForOne, Some(at)) => members[at..].to_vec(),
        _ => alloc::vec![record.clone()],
    };
    for member in restarting.iter().rev() {
        if !Arc::ptr_eq(member, record) {
            stop_one(shared, member, &record.name).await;
        }
    }
    let mut before: Option<Arc<Record>> = None;
    for member in restarting {
        let after = before.replace(member.clone());
        // One release per service: a follower stopped above is released
        // with its place in the group's order.
        match holds
            .released
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, &member))
        {
            Some(entry) => entry.1 = after,
            None => holds.released.push((member, after)),
        }
    }
}

/// Holds `service` and stops its run for `from`'s restart; waits until
/// that run has ended.
async fn stop_one(shared: &Shared, service: &Arc<Record>, from: &Arc<str>) {
    service.hold_and_stop_run(|| {
        shared.emit(|| Event::StopPropagated {
            service: service.name.clone(),
            from: from.clone(),
            restart: true,
        })
    });
    service.watch(|view| (!view.running).then_some(())).await;
}

/// `record`'s started dependents that follow its restarts, and theirs,
/// each once, every dependent before the services it depends on.
fn followers_deepest_first(record: &Arc<Record>) -> Vec<Arc<Record>> {
    let mut order: Vec<Arc<Record>> = Vec::new();
    // (service, its following dependents, next to visit): iterative
    // post-order, no recursion depth limit.
    let mut path: Vec<(Arc<Record>, Vec<Arc<Record>>, usize)> =
        alloc::vec![(record.clone(), following(record), 0)];
    while let Some((_, next_ones, next)) = path.last_mut() {
        let Some(dependent) = next_ones.get(*next).cloned() else {
            let (done, _, _) = path.pop().expect("path is not empty");
            if !Arc::ptr_eq(&done, record) && !order.iter().any(|o| Arc::ptr_eq(o, &done)) {
                order.push(done);
            }
            continue;
        };
        *next += 1;
        // Dependencies form no cycle (`start` refuses one): this ends.
        let theirs = following(&dependent);
        path.push((dependent, theirs, 0));
    }
    order
}

/// `record`'s started dependents that follow its restarts and have not
/// ended for good.
fn following(record: &Record) -> Vec<Arc<Record>> {
    let mut dependents = record.dependents();
    dependents.retain(|d| !d.ended() && d.bind_to(&record.name).follows_restarts());
    dependents
}

/// `record` ended for good: its BindsTo dependents are stopped for good
/// (rule 6).
pub(crate) fn stop_bound(shared: &Arc<Shared>, record: &Arc<Record>) {
    if shared.token.stopping() {
        return;
    }
    for dependent in record.dependents() {
        if dependent.ended()
            || dependent.stopped()
            || dependent.bind_to(&record.name) != Bind::BindsTo
        {
            continue;
        }
        shared.emit(|| Event::StopPropagated {
            service: dependent.name.clone(),
            from: record.name.clone(),
            restart: false,
        });
        ServiceHandle::new(shared.clone(), dependent).stop();
    }
}

/// Before a run begins: waits until `record` is not held, then until the
/// service a group release set before it is ready, then until every
/// dependency it follows is ready (each: or has ended for good). `false`
/// if it or the governor was asked to stop meanwhile.
pub(crate) async fn gate(shared: &Shared, record: &Record, followed: &[Arc<Record>]) -> bool {
    let released = record.watch(|view| (!view.held).then_some(()));
    if crate::supervisor::race_stop(shared, record, released)
        .await
        .is_none()
    {
        return false;
    }
    let after = record.take_after();
    for dependency in after.iter().chain(followed) {
        let ready = dependency.watch(|view| (view.ready || view.ended).then_some(()));
        if crate::supervisor::race_stop(shared, record, ready)
            .await
            .is_none()
        {
            return false;
        }
    }
    true
}

/// The dependencies `record` follows (PartOf or BindsTo), among `deps`.
pub(crate) fn followed(record: &Record, deps: &[Arc<Record>]) -> Vec<Arc<Record>> {
    deps.iter()
        .filter(|d| record.bind_to(&d.name).follows_restarts())
        .cloned()
        .collect()
}
