//! The shutdown budget and the drain delay (issue 13, item 3): one
//! deadline for the whole ordered shutdown, split across its
//! dependency-ordered phases (exact on the virtual clock), never exceeded
//! in sum, with services' own timeouts as caps inside it; and a drain
//! delay during which services run on and the governor says it is
//! draining.

use std::time::Duration;

use governor_core::{Error, Event, ServiceCtx, ServiceState};

use super::seed::IdleFut;
use super::supervision::{recorded, stubborn};
use crate::harness::Harness;
use crate::support::{assert_elapsed, timeline, Timeline};

const MS: Duration = Duration::from_millis(1);

/// A service that marks `"<name>:start"`, and `"<name>:stop"` when it is
/// asked to stop, then returns.
fn polite(timeline: &Timeline) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let timeline = timeline.clone();
    move |ctx: ServiceCtx| {
        let timeline = timeline.clone();
        Box::pin(async move {
            timeline.mark(format!("{}:start", ctx.name()));
            ctx.wait_for_stop().await;
            timeline.mark(format!("{}:stop", ctx.name()));
            Ok(())
        })
    }
}

/// A chain `api` → `db` → `disk` that ignores every stop, with a 900 ms
/// budget: three phases of 300 ms each: `api` is cut off at 300 ms, `db`
/// at 600 ms, `disk` at 900 ms, exactly the budget; the report says the
/// first phase ran out.
pub async fn budget_splits_evenly_across_a_chain_of_phases<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor().shutdown_budget(900 * MS);
    gov.add("disk", stubborn(&t)).unwrap();
    gov.add("db", stubborn(&t)).unwrap().depends_on(["disk"]);
    gov.add("api", stubborn(&t)).unwrap().depends_on(["db"]);
    gov.start().unwrap();
    notes.until("api:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, t.at("api:dropped") - begin, 300 * MS);
    assert_elapsed(h, t.at("db:dropped") - begin, 600 * MS);
    assert_elapsed(h, t.at("disk:dropped") - begin, 900 * MS);
    assert_elapsed(h, runtime.now() - begin, 900 * MS);
    let budget = report.budget.clone().expect("a budget report");
    assert_eq!(budget.budget, 900 * MS);
    assert_eq!(budget.phases, 3);
    assert_eq!(budget.ran_out, Some(0), "the first phase ran out");
    assert!(report.services.iter().all(|s| s.timed_out), "{report}");
}

/// Time a phase does not use passes on, and a service's own timeout caps
/// its share: `api` stops at once, so `db` (phase 1 of 3) could take half
/// of the 900 ms, but its own 100 ms timeout cuts it off first (not the
/// budget); `disk` then gets all that is left, to 900 ms, and is the phase
/// that ran out. The whole shutdown never takes longer than the budget.
pub async fn unused_share_passes_on_and_own_timeouts_cap_the_share<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let (gov, events) = recorded(h.governor().shutdown_budget(900 * MS));
    gov.add("disk", stubborn(&t)).unwrap();
    gov.add("db", stubborn(&t))
        .unwrap()
        .depends_on(["disk"])
        .shutdown_timeout(100 * MS);
    gov.add("api", polite(&t)).unwrap().depends_on(["db"]);
    gov.start().unwrap();
    notes.until("api:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, t.at("api:stop") - begin, Duration::ZERO);
    assert_elapsed(h, t.at("db:dropped") - begin, 100 * MS);
    assert_elapsed(h, t.at("disk:dropped") - begin, 900 * MS);
    let budget = report.budget.clone().expect("a budget report");
    assert_eq!(budget.phases, 3);
    assert_eq!(
        budget.ran_out,
        Some(2),
        "db hit its own timeout, not the budget"
    );
    // The timeouts told are the ones applied: db's own, disk's share.
    let timeouts: Vec<(String, Duration)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::StopTimedOut { service, timeout } => Some((service.to_string(), *timeout)),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts.len(), 2);
    assert_eq!(timeouts[0], ("db".to_owned(), 100 * MS));
    assert_eq!(timeouts[1].0, "disk");
    if h.exact_time() {
        assert_eq!(timeouts[1].1, 800 * MS, "what was left of the budget");
    }
}

/// With a drain delay, services run on after the shutdown request, the
/// governor says it is draining (the report too, and an event), its
/// token is not cancelled; the first stop comes when the delay ends, and
/// the budget, counted from the request, still bounds the whole.
pub async fn drain_delay_keeps_serving_then_stops_within_the_budget<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let (gov, events) = recorded(h.governor().drain_delay(200 * MS).shutdown_budget(900 * MS));
    gov.add("web", polite(&t)).unwrap();
    gov.add("worker", stubborn(&t)).unwrap();
    gov.start().unwrap();
    notes.until("web:start").await;
    notes.until("worker:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    assert!(gov.request_shutdown());
    assert!(gov.draining());
    assert!(!gov.stopping(), "the token waits for the drain");
    let report = gov.report();
    assert!(report.draining);
    assert_eq!(
        report.service("web").unwrap().state,
        ServiceState::Ready,
        "still serving, not stopping"
    );
    assert!(!gov.request_shutdown(), "one shutdown");
    let report = gov.wait_for_shutdown().await;
    assert!(!gov.draining());
    assert!(!report.draining);
    assert_elapsed(h, t.at("web:stop") - begin, 200 * MS);
    assert_elapsed(h, t.at("worker:dropped") - begin, 900 * MS);
    assert_eq!(report.budget.clone().expect("a budget").ran_out, Some(0));
    let drained: Vec<Duration> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Draining { delay } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(drained, [200 * MS]);
}

/// A forced shutdown during the drain ends it at once: every run is
/// stopped and aborted then, not after the delay.
pub async fn force_during_the_drain_ends_it_at_once<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor().drain_delay(Duration::from_secs(3600));
    gov.add("worker", stubborn(&t)).unwrap();
    gov.add("web", polite(&t)).unwrap();
    gov.start().unwrap();
    notes.until("worker:start").await;
    notes.until("web:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    gov.request_shutdown();
    assert!(gov.draining());
    gov.force_shutdown();
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    assert_elapsed(h, runtime.now() - begin, Duration::ZERO);
    assert_elapsed(h, t.at("worker:dropped") - begin, Duration::ZERO);
    assert_eq!(report.budget, None, "no budget was set");
}

/// A drain delay that would use the whole budget is refused at start,
/// naming both; nothing starts.
pub async fn drain_not_shorter_than_the_budget_is_refused<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let gov = h.governor().shutdown_budget(500 * MS).drain_delay(500 * MS);
    gov.add("web", polite(&t)).unwrap();
    assert_eq!(
        gov.start(),
        Err(Error::DrainExceedsBudget {
            drain: 500 * MS,
            budget: 500 * MS
        })
    );
    assert_eq!(
        gov.report().service("web").unwrap().state,
        ServiceState::Pending
    );
    let gov = gov.drain_delay(499 * MS);
    gov.start().unwrap();
    gov.shutdown().await;
}

/// A second shutdown signal during the drain forces the shutdown at once,
/// as during any shutdown: the first starts the drain (services run on),
/// the second ends it and aborts what is left.
// Holding the signal lock across awaits is the point: the other signal
// cases must wait, whatever runtime this one is on.
#[allow(clippy::await_holding_lock)]
pub async fn second_signal_during_the_drain_forces<H: Harness>(h: &H) {
    let _signals = crate::support::signal_lock();
    let (t, mut notes) = timeline(h);
    let (gov, events) = recorded(
        h.governor()
            .catch_signals()
            .drain_delay(Duration::from_secs(3600)),
    );
    gov.add("worker", stubborn(&t)).unwrap();
    gov.start().unwrap();
    notes.until("worker:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    h.raise(governor_core::Signal::Terminate);
    crate::support::until(h, || gov.draining()).await;
    assert!(!gov.stopping());
    h.raise(governor_core::Signal::Interrupt);
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    assert!(!report.draining);
    // Not after the hour-long drain: at once (exact on virtual time; on a
    // real one the two `kill`s take their time on a loaded machine).
    let elapsed = runtime.now() - begin;
    if h.exact_time() {
        assert_eq!(elapsed, Duration::ZERO);
    } else {
        assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    }
    let drained = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Draining { .. }))
        .count();
    assert_eq!(drained, 1);
}
