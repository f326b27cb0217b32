//! Liveness: the heartbeat watchdog ([`ServiceConfig::watchdog`],
//! `ctx.heartbeat()`, `ctx.busy_for(..)`). A run that sends no heartbeat
//! for its timeout is declared hung at exactly that deadline, stopped as
//! any run is (token, hooks, shutdown timeout, abort or abandon), recorded
//! as [`Outcome::Hung`] and restarted by its policy, counting against its
//! limit. Times are read from the event hook and from the services' own
//! marks, so each is exact on the virtual runtime.
//!
//! [`ServiceConfig::watchdog`]: governor_core::ServiceConfig::watchdog

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use governor_core::runtime::Runtime;
use governor_core::{
    Event, Governor, Health, HealthLevel, Outcome, RestartPolicy, ServiceCtx, ServiceError,
    ServiceState,
};

use super::seed::IdleFut;
use crate::harness::Harness;
use crate::support::{assert_elapsed, timeline, Timeline};

const MS: Duration = Duration::from_millis(1);

/// Every event the governor emits, with the runtime's time it was emitted
/// at.
pub(crate) type TimedEvents = Arc<Mutex<Vec<(Duration, Event)>>>;

/// Records every event with its time.
pub(crate) fn timed_events(gov: Governor, runtime: Arc<dyn Runtime>) -> (Governor, TimedEvents) {
    let events = TimedEvents::default();
    let sink = events.clone();
    let gov = gov.on_event(move |event| sink.lock().unwrap().push((runtime.now(), event.clone())));
    (gov, events)
}

/// When, and with what silence, each `Event::Hung` of `service` came.
fn hangs(events: &TimedEvents, service: &str) -> Vec<(Duration, u64, Duration)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(at, event)| match event {
            Event::Hung {
                service: s,
                run,
                silent_for,
            } if &**s == service => Some((*at, *run, *silent_for)),
            _ => None,
        })
        .collect()
}

/// The outcomes of `service`'s ended runs, in order.
fn run_outcomes(events: &TimedEvents, service: &str) -> Vec<Outcome> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, event)| match event {
            Event::RunEnded {
                service: s,
                outcome,
            } if &**s == service => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

/// When `service`'s first event matching `what` came.
fn first_at(events: &TimedEvents, service: &str, what: impl Fn(&Event) -> bool) -> Duration {
    events
        .lock()
        .unwrap()
        .iter()
        .find(|(_, event)| event.service() == Some(service) && what(event))
        .map(|(at, _)| *at)
        .unwrap_or_else(|| panic!("no such event for {service}"))
}

/// Marks `"dropped<run>"` when the run's future is dropped.
struct OnDrop(Timeline, String);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.mark(self.1.clone());
    }
}

/// A run that stops sending heartbeats is declared hung at exactly its
/// watchdog timeout after its last one; its stop hooks are called then;
/// one deaf to its stop is aborted at its shutdown timeout, one that
/// heeds it ends, and either way its outcome is `Hung` (not `Aborted`,
/// not the error it returned); it is unhealthy meanwhile, and its
/// `on_failure` policy restarts it after its delay, counting each hang
/// against its limit (here: gave up after the second).
pub async fn hung_run_is_declared_at_its_timeout_stopped_and_restarted<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(h.governor(), runtime.clone());
    let marks = t.clone();
    let service = gov
        .add("wedge", move |ctx: ServiceCtx| -> IdleFut {
            let t = marks.clone();
            Box::pin(async move {
                let run = ctx.run();
                let hook = t.clone();
                ctx.on_stop(move || hook.mark(format!("hook{run}")));
                ctx.heartbeat();
                if run == 1 {
                    ctx.sleep(40 * MS).await?;
                    ctx.heartbeat();
                    t.mark("beat1");
                    let _dropped = OnDrop(t.clone(), "dropped1".into());
                    std::future::pending::<()>().await; // deaf to its stop
                    Ok(())
                } else {
                    t.mark(format!("beat{run}"));
                    ctx.wait_for_stop().await; // heeds its stop
                    t.mark(format!("stopped{run}"));
                    Err(ServiceError::msg("an error after the stop"))
                }
            })
        })
        .unwrap()
        .watchdog(100 * MS)
        .shutdown_timeout(30 * MS)
        .restart_policy(RestartPolicy::on_failure(50 * MS).limit(1, Duration::from_secs(60)))
        .handle();
    gov.start().unwrap();
    let report = service.wait().await;

    // Run 1: hung exactly 100 ms after its last heartbeat, hooks then,
    // aborted 30 ms later.
    let hung = hangs(&events, "wedge");
    assert_eq!(hung.len(), 2, "{hung:?}");
    let (hung1, run1, silent1) = hung[0];
    assert_eq!(run1, 1);
    assert_elapsed(h, hung1 - t.at("beat1"), 100 * MS);
    assert_elapsed(h, silent1, 100 * MS);
    assert_elapsed(h, t.at("hook1") - hung1, Duration::ZERO);
    assert_elapsed(h, t.at("dropped1") - hung1, 30 * MS);
    // Run 2 began after the policy's delay, and was hung 100 ms after its
    // only heartbeat (at its beginning); it heeded its stop at once.
    let began2 = first_at(&events, "wedge", |e| {
        matches!(e, Event::RunStarted { run: 2, .. })
    });
    assert_elapsed(h, began2 - t.at("dropped1"), 50 * MS);
    let (hung2, run2, _) = hung[1];
    assert_eq!(run2, 2);
    assert_elapsed(h, hung2 - t.at("beat2"), 100 * MS);
    assert_elapsed(h, t.at("hook2") - hung2, Duration::ZERO);
    assert_elapsed(h, t.at("stopped2") - hung2, Duration::ZERO);
    // Every run's outcome is recorded, as hung; the second hang was past
    // the limit of one restart.
    assert_eq!(
        run_outcomes(&events, "wedge"),
        [Outcome::Hung, Outcome::Hung]
    );
    assert_eq!(report.state, ServiceState::GaveUp);
    assert_eq!(report.runs, 2);
    assert_eq!(report.last_outcome, Some(Outcome::Hung));
    // Run 1 was aborted (told), run 2 was not.
    let aborted = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, e)| matches!(e, Event::Aborted { .. }))
        .count();
    assert_eq!(aborted, 1);
    // A hung run is unhealthy, from its hang on, and stays so once the
    // service gave up (no later run made it healthy again).
    let unhealthy = first_at(&events, "wedge", |e| {
        matches!(
            e,
            Event::HealthChanged {
                health: Health::Unhealthy(_),
                ..
            }
        )
    });
    assert_elapsed(h, unhealthy - hung1, Duration::ZERO);
    assert!(
        matches!(report.health, Health::Unhealthy(_)),
        "{:?}",
        report.health
    );
    let health = gov.health();
    assert!(!health.is_live());
    assert_eq!(health.level, HealthLevel::Unhealthy);
    assert_eq!(health.services.len(), 1);
    assert_eq!(&*health.services[0].0, "wedge");
    let report = gov.shutdown().await;
    assert!(!report.is_clean(), "a hang is a failure");
}

/// A run that declares itself busy is not declared hung while it is,
/// even without heartbeats; after that its deadline is its last heartbeat
/// plus the timeout again, or the end of its busy time if later. Beside
/// it, the same run without the declaration is hung at the timeout.
pub async fn busy_run_is_not_declared_hung<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(h.governor(), runtime.clone());
    let watched = |gov: &Governor, name: &str, busy: Option<Duration>, then_beat: bool| {
        let t = t.clone();
        gov.add(name, move |ctx: ServiceCtx| -> IdleFut {
            let t = t.clone();
            Box::pin(async move {
                ctx.heartbeat();
                if let Some(busy) = busy {
                    ctx.busy_for(busy);
                }
                t.mark(format!("{}:begin", ctx.name()));
                if then_beat {
                    ctx.sleep(250 * MS).await?; // past the timeout, busy
                    ctx.heartbeat();
                    t.mark(format!("{}:beat", ctx.name()));
                }
                ctx.wait_for_stop().await;
                Ok(())
            })
        })
        .unwrap()
        .watchdog(100 * MS);
    };
    watched(&gov, "busy-then-beat", Some(300 * MS), true);
    watched(&gov, "busy-only", Some(300 * MS), false);
    watched(&gov, "idle", None, false);
    gov.start().unwrap();
    for name in ["busy-then-beat", "busy-only", "idle"] {
        gov.service(name).unwrap().wait().await;
    }
    // Without the declaration: hung at the timeout.
    let idle = hangs(&events, "idle");
    assert_eq!(idle.len(), 1);
    assert_elapsed(h, idle[0].0 - t.at("idle:begin"), 100 * MS);
    // Busy for 300 ms, no heartbeat: hung when the busy time ends.
    let busy_only = hangs(&events, "busy-only");
    assert_eq!(busy_only.len(), 1);
    assert_elapsed(h, busy_only[0].0 - t.at("busy-only:begin"), 300 * MS);
    assert_elapsed(h, busy_only[0].2, 300 * MS);
    // Busy for 300 ms, a heartbeat at 250 ms: alive past both the busy
    // time and its first timeout, hung 100 ms after that heartbeat.
    let beat = hangs(&events, "busy-then-beat");
    assert_eq!(beat.len(), 1);
    assert_elapsed(
        h,
        t.at("busy-then-beat:beat") - t.at("busy-then-beat:begin"),
        250 * MS,
    );
    assert_elapsed(h, beat[0].0 - t.at("busy-then-beat:beat"), 100 * MS);
    assert_elapsed(h, beat[0].2, 100 * MS);
    // Each one outcome, hung; none restarted (no policy).
    for name in ["busy-then-beat", "busy-only", "idle"] {
        assert_eq!(run_outcomes(&events, name), [Outcome::Hung], "{name}");
    }
    gov.shutdown().await;
}

#[cfg(feature = "std")] // blocking services need `std`
/// A hung blocking run (deaf to its stop and its hooks) is abandoned at
/// its shutdown timeout, and restarted on a fresh value when added with
/// `add_blocking_with`; added with `add_blocking`, its value is lost on
/// the thread, so it ends for good, as hung. A heartbeat sent from the
/// new run's blocking thread moves its deadline.
pub async fn hung_blocking_service_is_abandoned_and_restarted<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(h.governor(), runtime.clone());
    // Wedged threads park here until the case ends.
    let (release, parked) = mpsc::channel::<()>();
    let parked = Arc::new(Mutex::new(parked));
    let made = Arc::new(AtomicUsize::new(0));
    let wedge = {
        let (t, parked) = (t.clone(), parked.clone());
        move |name: &'static str| {
            let (t, parked) = (t.clone(), parked.clone());
            move |ctx: ServiceCtx| -> Result<(), ServiceError> {
                let run = ctx.run();
                let hook = t.clone();
                ctx.on_stop(move || hook.mark(format!("{name}:hook{run}")));
                if run == 1 {
                    t.mark(format!("{name}:wedged"));
                    let _ = parked.lock().unwrap().recv(); // deaf to its stop
                    return Ok(());
                }
                // Alive for 50 ms, then a heartbeat from this thread, then
                // silence until its stop.
                let _ = ctx.sleep_blocking(50 * MS);
                ctx.heartbeat();
                t.mark(format!("{name}:beat{run}"));
                let _ = ctx.sleep_blocking(Duration::from_secs(3600));
                Ok(())
            }
        }
    };
    let counter = made.clone();
    let make_wedge = wedge.clone();
    gov.add_blocking_with("fresh", move || {
        counter.fetch_add(1, Ordering::SeqCst);
        make_wedge("fresh")
    })
    .unwrap()
    .watchdog(100 * MS)
    .shutdown_timeout(50 * MS)
    .restart_policy(RestartPolicy::on_failure(Duration::ZERO).limit(1, Duration::from_secs(60)));
    gov.add_blocking("plain", wedge("plain"))
        .unwrap()
        .watchdog(100 * MS)
        .shutdown_timeout(50 * MS)
        .restart_policy(RestartPolicy::on_failure(Duration::ZERO));
    gov.start().unwrap();
    let plain = gov.service("plain").unwrap().wait().await;
    let fresh = gov.service("fresh").unwrap().wait().await;
    // Watched from each run's beginning (no heartbeat): hung at exactly
    // the timeout, hooks then, abandoned at the shutdown timeout.
    for name in ["fresh", "plain"] {
        let began = first_at(&events, name, |e| {
            matches!(e, Event::RunStarted { run: 1, .. })
        });
        let hung = hangs(&events, name);
        assert_eq!(hung[0].1, 1, "{name}: {hung:?}");
        assert_elapsed(h, hung[0].0 - began, 100 * MS);
        assert_elapsed(
            h,
            t.at(&format!("{name}:hook1")) - hung[0].0,
            Duration::ZERO,
        );
        let ended = first_at(&events, name, |e| matches!(e, Event::RunEnded { .. }));
        assert_elapsed(h, ended - hung[0].0, 50 * MS);
        assert_eq!(run_outcomes(&events, name)[0], Outcome::Hung, "{name}");
    }
    // The plain one cannot run again: ended for good, as hung.
    assert_eq!(plain.state, ServiceState::Ended);
    assert_eq!(plain.runs, 1);
    assert_eq!(plain.last_outcome, Some(Outcome::Hung));
    assert!(plain.timed_out);
    // The fresh one runs again, on a second value, at once (zero delay);
    // the heartbeat its thread sent 50 ms in moved its deadline: hung
    // 100 ms after that heartbeat, 150 ms after it began (it heeded that
    // stop), past its limit of one restart.
    let began2 = first_at(&events, "fresh", |e| {
        matches!(e, Event::RunStarted { run: 2, .. })
    });
    let ended1 = first_at(&events, "fresh", |e| matches!(e, Event::RunEnded { .. }));
    assert_elapsed(h, began2 - ended1, Duration::ZERO);
    assert_eq!(made.load(Ordering::SeqCst), 2);
    let hung = hangs(&events, "fresh");
    assert_eq!(hung.len(), 2, "{hung:?}");
    assert_elapsed(h, t.at("fresh:beat2") - began2, 50 * MS);
    assert_elapsed(h, hung[1].0 - t.at("fresh:beat2"), 100 * MS);
    assert_eq!(fresh.runs, 2);
    assert_eq!(fresh.state, ServiceState::GaveUp);
    assert_eq!(
        run_outcomes(&events, "fresh"),
        [Outcome::Hung, Outcome::Hung]
    );
    gov.shutdown().await;
    drop(release); // the wedged threads end
}

/// A zero watchdog is none (a run without heartbeats is never hung), and
/// a heartbeat without a watchdog does nothing. A run declared hung while
/// the governor then shuts down is not restarted, whatever its policy: it
/// is aborted at its shutdown timeout, counted from its hang, and the
/// shutdown's report records it as hung.
pub async fn zero_watchdog_is_off_and_a_hang_at_shutdown_is_not_restarted<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let runtime = h.runtime();
    let (gov, events) = timed_events(h.governor(), runtime.clone());
    gov.add("off", |ctx: ServiceCtx| async move {
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap()
    .watchdog(Duration::ZERO);
    gov.add("no-watchdog", |ctx: ServiceCtx| async move {
        ctx.heartbeat();
        ctx.busy_for(Duration::from_secs(1));
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap();
    let marks = t.clone();
    gov.add("deaf", move |ctx: ServiceCtx| -> IdleFut {
        let t = marks.clone();
        Box::pin(async move {
            t.mark(format!("deaf:run{}", ctx.run()));
            let _dropped = OnDrop(t.clone(), "deaf:dropped".into());
            std::future::pending::<()>().await;
            Ok(())
        })
    })
    .unwrap()
    .watchdog(100 * MS)
    .shutdown_timeout(200 * MS)
    .restart_policy(RestartPolicy::always(Duration::ZERO));
    gov.start().unwrap();
    gov.sleep(150 * MS).await.unwrap();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    let hung = hangs(&events, "deaf");
    assert_eq!(hung.len(), 1, "{hung:?}");
    assert_elapsed(h, hung[0].0 - t.at("deaf:run1"), 100 * MS);
    // Aborted 200 ms after its hang, and the shutdown over then: 150 ms
    // after it began on virtual time. (On real time the case's own 150 ms
    // sleep may wake later than the hang's timer, so only the virtual
    // clock can tell the shutdown's length exactly.)
    assert_elapsed(h, t.at("deaf:dropped") - hung[0].0, 200 * MS);
    assert_elapsed(h, runtime.now() - t.at("deaf:dropped"), Duration::ZERO);
    if h.exact_time() {
        assert_eq!(runtime.now() - begin, 150 * MS);
    }
    let deaf = report.service("deaf").unwrap();
    assert_eq!(deaf.runs, 1);
    assert_eq!(deaf.state, ServiceState::Ended);
    assert_eq!(deaf.last_outcome, Some(Outcome::Hung));
    assert!(deaf.timed_out);
    for name in ["off", "no-watchdog"] {
        assert!(hangs(&events, name).is_empty(), "{name}");
        let service = report.service(name).unwrap();
        assert_eq!(service.last_outcome, Some(Outcome::Completed), "{name}");
        assert_eq!(service.health, Health::Healthy, "{name}");
    }
    assert_eq!(
        t.labels()
            .iter()
            .filter(|l| l.starts_with("deaf:run"))
            .count(),
        1
    );
}
