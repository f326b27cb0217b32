//! Restart propagation: dependents that follow their dependency's restarts
//! and ends ([`Bind::PartOf`], [`Bind::BindsTo`]) and the group strategies
//! ([`Strategy::OneForAll`], [`Strategy::RestForOne`]) with the group's
//! restart limit. Stop and start orders are read from marks the services
//! write themselves; times are exact on the virtual runtime; every case
//! checks that each run begun has its outcome recorded.

use std::sync::Arc;
use std::time::Duration;

use governor_core::runtime::Runtime;
use governor_core::{
    Bind, Event, Governor, Outcome, Report, RestartPolicy, ServiceCtx, ServiceState, ShutdownCause,
    Strategy, Subtree,
};

use super::liveness::{timed_events, TimedEvents};
use super::seed::IdleFut;
use crate::harness::Harness;
use crate::support::{assert_elapsed, timeline, Timeline};

const MS: Duration = Duration::from_millis(1);
/// How long a run warms up before it reports ready.
const WARM: Duration = Duration::from_millis(10);
/// How long a run that fails runs once ready.
const UP: Duration = Duration::from_millis(100);
/// How long a run cleans up once asked to stop.
const CLEAN: Duration = Duration::from_millis(10);

/// A member service (add it with `notify_ready`). Each run marks
/// `<name>:start<run>`, warms up for [`WARM`], marks `<name>:ready<run>`
/// and reports ready. If `fails(name, run)`, it fails [`UP`] later
/// (`<name>:fail<run>`); else it waits for its stop (`<name>:stop<run>`),
/// cleans up for [`CLEAN`] and returns `Ok` (`<name>:end<run>`).
fn member(
    t: &Timeline,
    runtime: &Arc<dyn Runtime>,
    fails: fn(&str, u64) -> bool,
) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let (t, runtime) = (t.clone(), runtime.clone());
    move |ctx: ServiceCtx| {
        let (t, runtime) = (t.clone(), runtime.clone());
        Box::pin(async move {
            let (name, run) = (ctx.name().to_owned(), ctx.run());
            t.mark(format!("{name}:start{run}"));
            ctx.sleep(WARM).await?;
            // Marked before it is told: what waits for it comes after.
            t.mark(format!("{name}:ready{run}"));
            ctx.ready();
            if fails(&name, run) {
                ctx.sleep(UP).await?;
                t.mark(format!("{name}:fail{run}"));
                return Err(governor_core::ServiceError::msg(format!(
                    "{name} run {run} failed"
                )));
            }
            ctx.wait_for_stop().await;
            t.mark(format!("{name}:stop{run}"));
            runtime.sleep(CLEAN).await;
            t.mark(format!("{name}:end{run}"));
            Ok(())
        })
    }
}

/// Asserts that `labels` were marked in this order.
#[track_caller]
fn in_order(t: &Timeline, labels: &[&str]) {
    let positions: Vec<usize> = labels.iter().map(|l| t.position(l)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "expected in this order: {labels:?}; marked: {:?}",
        t.labels()
    );
}

/// No outcome lost: each service's every run begun ended with its
/// outcome told (`RunEnded`), and its report counts them all.
#[track_caller]
fn no_outcome_lost(events: &TimedEvents, report: &Report) {
    let events = events.lock().unwrap();
    for service in &report.services {
        let name = &*service.name;
        let started = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::RunStarted { service, .. } if &**service == name))
            .count() as u64;
        let ended = events
            .iter()
            .filter(|(_, e)| matches!(e, Event::RunEnded { service, .. } if &**service == name))
            .count() as u64;
        assert_eq!(started, service.runs, "{name}: runs begun");
        assert_eq!(ended, service.runs, "{name}: outcomes told");
        assert!(service.state.is_final(), "{name}: {:?}", service.state);
        assert!(service.last_outcome.is_some(), "{name}: an outcome");
    }
}

/// Each `StopPropagated` as (service, from, restart), in order.
fn propagated(events: &TimedEvents) -> Vec<(String, String, bool)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::StopPropagated {
                service,
                from,
                restart,
            } => Some((service.to_string(), from.to_string(), *restart)),
            _ => None,
        })
        .collect()
}

fn names(list: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    list.iter()
        .map(|(s, f, r)| (s.to_string(), f.to_string(), *r))
        .collect()
}

/// A chain of three, `c` PartOf `b` PartOf `a` (and `d`, which only
/// orders after `a`): when `a` fails and restarts, `c` stops, then `b`
/// (dependents first, each once the one before has ended), before `a`'s
/// next run begins; then `a`, `b`, `c` start again, each once the one it
/// follows is ready. `d` is left running. The stopped runs end as
/// `Completed`, and their restarts do not count against their own limit
/// (zero restarts allowed).
pub async fn part_of_chain_of_three_restarts_in_dependency_order<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(h.governor(), runtime.clone());
    let fails = |name: &str, run: u64| name == "a" && run == 1;
    let strict = RestartPolicy::always(Duration::ZERO).limit(0, Duration::from_secs(3600));
    gov.add("a", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .restart_policy(RestartPolicy::on_failure(50 * MS));
    gov.add("b", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .depends_on_with("a", Bind::PartOf)
        .restart_policy(strict);
    gov.add("c", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .depends_on_with("b", Bind::PartOf)
        .restart_policy(strict);
    gov.add("d", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .depends_on(["a"]);
    let begin = runtime.now();
    gov.start().unwrap();
    notes.until("c:ready2").await;
    in_order(
        &t,
        &[
            "a:fail1", "c:stop1", "c:end1", "b:stop1", "b:end1", "a:start2", "a:ready2",
            "b:start2", "b:ready2", "c:start2", "c:ready2",
        ],
    );
    // a: ready at 10, fails at 110; c stops at 110, b once c ended (120);
    // a's delay (50 ms) from its end (160), b and c each once the one they
    // follow is ready (10 ms after it began).
    for (label, at) in [
        ("a:fail1", 110),
        ("c:stop1", 110),
        ("b:stop1", 120),
        ("a:start2", 160),
        ("b:start2", 170),
        ("c:start2", 180),
    ] {
        assert_elapsed(h, t.at(label) - begin, at * MS);
    }
    assert_eq!(
        propagated(&events),
        names(&[("c", "a", true), ("b", "a", true)])
    );
    gov.wait_ready("c", Duration::from_secs(5)).await.unwrap();
    let now = gov.report();
    for name in ["b", "c"] {
        let s = now.service(name).unwrap();
        assert_eq!((s.runs, s.state), (2, ServiceState::Ready), "{name}");
        assert_eq!(s.last_outcome, Some(Outcome::Completed), "{name}");
    }
    assert_eq!(now.service("d").unwrap().runs, 1, "d only orders");
    let report = gov.shutdown().await;
    assert!(report.is_clean(), "{report}");
    no_outcome_lost(&events, &report);
}

/// A chain of three, `c` BindsTo `b` BindsTo `a` (and `d`, which only
/// orders after `a`): a restart of `a` by its handle restarts `b` and `c`
/// (as PartOf); then `a` fails and ends for good, and `b` is stopped for
/// good, then `c` once `b` has ended. `d` is left running.
pub async fn binds_to_chain_of_three_ends_with_its_dependency<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(h.governor(), runtime.clone());
    let fails = |name: &str, run: u64| name == "a" && run == 2;
    let a = gov
        .add("a", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .handle();
    gov.add("b", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .depends_on_with("a", Bind::BindsTo);
    gov.add("c", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .depends_on_with("b", Bind::BindsTo);
    gov.add("d", member(&t, &runtime, fails))
        .unwrap()
        .notify_ready()
        .depends_on(["a"]);
    gov.start().unwrap();
    notes.until("c:ready1").await;
    let restarted = runtime.now();
    assert!(a.restart());
    notes.until("c:ready2").await;
    in_order(
        &t,
        &[
            "a:stop1", "a:end1", "c:stop1", "c:end1", "b:stop1", "b:end1", "a:start2", "a:ready2",
            "b:start2", "b:ready2", "c:start2",
        ],
    );
    // a ends 10 ms after its stop, then c and b take 10 ms each; a begins
    // at once (no delay) and b, c each 10 ms after the one before.
    assert_elapsed(h, t.at("c:start2") - restarted, 50 * MS);
    // a's second run fails (no restart): a ends for good, then b, then c.
    notes.until("c:end2").await;
    in_order(&t, &["a:fail2", "b:stop2", "b:end2", "c:stop2", "c:end2"]);
    assert_elapsed(h, t.at("c:stop2") - t.at("a:fail2"), CLEAN);
    assert_eq!(
        propagated(&events),
        names(&[
            ("c", "a", true),
            ("b", "a", true),
            ("b", "a", false),
            ("c", "b", false),
        ])
    );
    let c = gov.service("c").unwrap().wait().await;
    assert_eq!(c.state, ServiceState::Ended);
    let now = gov.report();
    assert_eq!(now.service("d").unwrap().state, ServiceState::Ready);
    assert_eq!(now.service("b").unwrap().state, ServiceState::Ended);
    assert!(matches!(
        now.service("a").unwrap().last_outcome,
        Some(Outcome::Failed(_))
    ));
    let report = gov.shutdown().await;
    no_outcome_lost(&events, &report);
}

/// One for all: when `b` fails, the others are stopped in reverse order
/// (`c`, then `a`), then all start again in order (`a`, `b`, `c`), each
/// once the one before it is ready; the others' restarts do not count
/// against their own limits (one restart allowed, none used).
pub async fn one_for_all_restarts_all_in_order<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(
        h.governor()
            .strategy(Strategy::OneForAll)
            .restart_policy(RestartPolicy::on_failure(50 * MS).limit(1, Duration::from_secs(3600))),
        runtime.clone(),
    );
    let fails = |name: &str, run: u64| name == "b" && run == 1;
    for name in ["a", "b", "c"] {
        gov.add(name, member(&t, &runtime, fails))
            .unwrap()
            .notify_ready();
    }
    let begin = runtime.now();
    gov.start().unwrap();
    notes.until("c:ready2").await;
    in_order(
        &t,
        &[
            "b:fail1", "c:stop1", "c:end1", "a:stop1", "a:end1", "a:start2", "a:ready2",
            "b:start2", "b:ready2", "c:start2", "c:ready2",
        ],
    );
    for (label, at) in [
        ("b:fail1", 110),
        ("c:stop1", 110),
        ("a:stop1", 120),
        ("a:start2", 160),
        ("b:start2", 170),
        ("c:start2", 180),
    ] {
        assert_elapsed(h, t.at(label) - begin, at * MS);
    }
    assert_eq!(
        propagated(&events),
        names(&[("c", "b", true), ("a", "b", true)])
    );
    let report = gov.shutdown().await;
    assert!(report.is_clean(), "{report}");
    for name in ["a", "b", "c"] {
        assert_eq!(report.service(name).unwrap().runs, 2, "{name}");
    }
    no_outcome_lost(&events, &report);
}

/// Rest for one: when `b` fails, the members added after it (`c`, `d`)
/// are stopped in reverse order and all three start again in order; `a`,
/// added before, is left running.
pub async fn rest_for_one_restarts_the_member_and_those_after_it<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(
        h.governor()
            .strategy(Strategy::RestForOne)
            .restart_policy(RestartPolicy::on_failure(50 * MS)),
        runtime.clone(),
    );
    let fails = |name: &str, run: u64| name == "b" && run == 1;
    for name in ["a", "b", "c", "d"] {
        gov.add(name, member(&t, &runtime, fails))
            .unwrap()
            .notify_ready();
    }
    let begin = runtime.now();
    gov.start().unwrap();
    notes.until("d:ready2").await;
    in_order(
        &t,
        &[
            "b:fail1", "d:stop1", "d:end1", "c:stop1", "c:end1", "b:start2", "b:ready2",
            "c:start2", "c:ready2", "d:start2",
        ],
    );
    for (label, at) in [
        ("d:stop1", 110),
        ("c:stop1", 120),
        ("b:start2", 160),
        ("c:start2", 170),
        ("d:start2", 180),
    ] {
        assert_elapsed(h, t.at(label) - begin, at * MS);
    }
    assert_eq!(
        propagated(&events),
        names(&[("d", "b", true), ("c", "b", true)])
    );
    let report = gov.shutdown().await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.service("a").unwrap().runs, 1, "a was added before b");
    no_outcome_lost(&events, &report);
}

/// The group's restart limit counts group restarts: with one allowed, the
/// second gives up — the member whose restart it was gives up and the
/// governor shuts down as escalated, naming it.
pub async fn group_restart_limit_gives_up_and_escalates<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(
        h.governor()
            .strategy(Strategy::OneForAll)
            .group_restart_limit(1, Duration::from_secs(3600))
            .restart_policy(RestartPolicy::on_failure(50 * MS)),
        runtime.clone(),
    );
    let fails = |name: &str, _run: u64| name == "x";
    for name in ["x", "y"] {
        gov.add(name, member(&t, &runtime, fails))
            .unwrap()
            .notify_ready();
    }
    let begin = runtime.now();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    notes.until("y:end2").await;
    // x fails at 110; y stops (ends at 120); x runs again at 160, y once
    // x is ready (170); x fails again at 270: the second group restart.
    in_order(
        &t,
        &[
            "x:fail1", "y:stop1", "x:start2", "y:start2", "x:fail2", "y:stop2",
        ],
    );
    assert_elapsed(h, t.at("x:fail2") - begin, 270 * MS);
    assert_elapsed(h, t.at("y:stop2") - begin, 270 * MS);
    assert_eq!(
        report.cause,
        Some(ShutdownCause::Escalated {
            service: "x".into()
        })
    );
    assert!(!report.is_clean());
    assert_eq!(report.service("x").unwrap().state, ServiceState::GaveUp);
    assert_eq!(report.service("x").unwrap().runs, 2);
    assert_eq!(report.service("y").unwrap().runs, 2);
    assert_eq!(propagated(&events), names(&[("y", "x", true)]));
    no_outcome_lost(&events, &report);
}

/// A subtree whose group gives up fails its parent's run, and the
/// parent's policy restarts it (escalation as for any service); the
/// child's services start afresh with the new run.
pub async fn subtree_group_giving_up_fails_its_parents_run<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let runtime = h.runtime();
    let (parent, events) = timed_events(h.governor(), runtime.clone());
    let (tt, rt) = (t.clone(), runtime.clone());
    let subtree = parent
        .add_service(
            "group",
            Subtree::new(move |child: &Governor| {
                let fails = |name: &str, run: u64| name == "x" && run <= 2;
                child
                    .add("x", member(&tt, &rt, fails))?
                    .notify_ready()
                    .restart_policy(RestartPolicy::on_failure(Duration::ZERO));
                child
                    .add("y", member(&tt, &rt, fails))?
                    .notify_ready()
                    .restart_policy(RestartPolicy::on_failure(Duration::ZERO));
                Ok(())
            })
            .strategy(Strategy::OneForAll)
            .group_restart_limit(0, Duration::from_secs(3600)),
        )
        .unwrap()
        .restart_policy(
            RestartPolicy::on_failure(Duration::ZERO).limit(1, Duration::from_secs(3600)),
        )
        .handle();
    parent.start().unwrap();
    // First subtree run: x fails at 110, no group restart allowed: the
    // child shuts down as escalated (y stops), the subtree's run fails and
    // the parent restarts it; in the second, x (run 1 of a fresh child)
    // fails again: the subtree gives up by the parent's own limit.
    let report = subtree.wait().await;
    notes.until("y:end1").await;
    assert_eq!(t.labels().iter().filter(|l| *l == "x:fail1").count(), 2);
    assert_eq!(report.runs, 2);
    assert_eq!(report.state, ServiceState::GaveUp);
    let failed = report.last_outcome.unwrap().to_string();
    assert!(failed.contains("subtree failed: x: gave up"), "{failed}");
    let report = parent.shutdown().await;
    no_outcome_lost(&events, &report);
}

/// `depends_on_with` keeps `depends_on`'s typed refusals: an unknown name
/// and a cycle (through bound and plain dependencies alike) are refused
/// by `start`, naming them, and nothing runs.
pub async fn bound_dependencies_refuse_unknown_names_and_cycles<H: Harness>(h: &H) {
    let (t, notes) = timeline(h);
    let runtime = h.runtime();
    let never = |_: &str, _: u64| false;
    let gov = h.governor();
    gov.add("a", member(&t, &runtime, never))
        .unwrap()
        .depends_on_with("missing", Bind::PartOf);
    assert_eq!(
        gov.start(),
        Err(governor_core::Error::UnknownDependency {
            service: "a".into(),
            dependency: "missing".into()
        })
    );
    let cyclic = h.governor();
    cyclic
        .add("x", member(&t, &runtime, never))
        .unwrap()
        .depends_on_with("y", Bind::BindsTo);
    cyclic
        .add("y", member(&t, &runtime, never))
        .unwrap()
        .depends_on(["z"]);
    cyclic
        .add("z", member(&t, &runtime, never))
        .unwrap()
        .depends_on_with("x", Bind::PartOf);
    assert_eq!(
        cyclic.start(),
        Err(governor_core::Error::DependencyCycle {
            cycle: vec!["x".into(), "y".into(), "z".into()]
        })
    );
    h.settle().await;
    assert!(notes.all().is_empty(), "nothing ran: {:?}", notes.all());
    for g in [&gov, &cyclic] {
        assert!(g
            .report()
            .services
            .iter()
            .all(|s| s.state == ServiceState::Pending));
    }
}
