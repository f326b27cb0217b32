//! The fault catalogue: services and hooks that misbehave in every way a
//! supervisor must survive, checked for lost outcomes.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use governor_core::{
    Escalation, Event, Outcome, RestartPolicy, Service, ServiceCtx, ServiceError, ServiceResult,
    ServiceState, ShutdownCause,
};

use super::seed::{idle, IdleFut};
use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, timeline, Timeline};

const MS: Duration = Duration::from_millis(1);

#[cfg(feature = "std")] // blocking services need `std`
/// A service that ignores its stop (async) and one that blocks forever
/// (blocking) are both named at the timeout; the others stop cleanly.
pub async fn wedged_services_are_named_at_the_timeout<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().shutdown_timeout(250 * MS);
    let jj = j.clone();
    gov.add("deaf", move |_ctx| {
        let j = jj.clone();
        async move {
            j.note("deaf:start");
            std::future::pending::<ServiceResult>().await
        }
    })
    .unwrap();
    let (release, parked) = mpsc::channel::<()>();
    let parked = Mutex::new(parked);
    let jj = j.clone();
    gov.add_blocking("stuck", move |_ctx| {
        jj.note("stuck:start");
        let _ = parked.lock().unwrap().recv();
        Ok(())
    })
    .unwrap();
    for name in ["fine-1", "fine-2"] {
        gov.add(name, idle(&j)).unwrap();
    }
    gov.start().unwrap();
    for note in ["deaf:start", "stuck:start", "fine-1:start", "fine-2:start"] {
        notes.until(note).await;
    }
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, runtime.now() - begin, 250 * MS);
    let late: Vec<&str> = report.timed_out().map(|s| &*s.name).collect();
    assert_eq!(late, ["deaf", "stuck"]);
    assert_eq!(
        report.service("deaf").unwrap().last_outcome,
        Some(Outcome::Aborted)
    );
    assert_eq!(
        report.service("stuck").unwrap().last_outcome,
        Some(Outcome::Abandoned)
    );
    for name in ["fine-1", "fine-2"] {
        assert_eq!(
            report.service(name).unwrap().last_outcome,
            Some(Outcome::Completed)
        );
    }
    let _ = release.send(());
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct RudeError;

impl fmt::Display for RudeError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of an error panicked")
    }
}

impl std::error::Error for RudeError {}

/// A panic payload that is neither `&str` nor `String`, and whose
/// `Display` panics: the governor must never format it.
struct OddPayload;

impl fmt::Display for OddPayload {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of a panic payload panicked")
    }
}

/// A service whose value panics when dropped.
struct PanicsOnDrop {
    journal: crate::support::Journal,
}

impl Service for PanicsOnDrop {
    async fn run(&mut self, _ctx: ServiceCtx) -> ServiceResult {
        self.journal.note("drop-bomb:run");
        Ok(())
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.journal.note("drop-bomb:dropping");
        panic!("Drop panicked");
    }
}

/// Panics everywhere — in `run`, before `run`'s future exists, with an odd
/// payload, in an error's `Display`, in a stop hook, in an event hook, in
/// a service's `Drop` — are survived, and each service's outcome is
/// recorded exactly once.
pub async fn panics_everywhere_are_survived_and_recorded_once<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let calls = hook_calls.clone();
    let gov = h.governor().on_event(move |event| {
        calls.fetch_add(1, Ordering::SeqCst);
        if matches!(event, Event::RunEnded { .. }) {
            panic!("event hook panicked");
        }
    });
    gov.add("in-run", |_ctx| async move {
        panic!("run panicked");
        #[allow(unreachable_code)]
        Ok(())
    })
    .unwrap();
    gov.add("before-future", |_ctx| -> IdleFut { panic!("no future") })
        .unwrap();
    gov.add("odd-payload", |_ctx| async move {
        std::panic::panic_any(OddPayload);
        #[allow(unreachable_code)]
        Ok(())
    })
    .unwrap();
    gov.add("rude-error", |_ctx| async move {
        Err(ServiceError::from(RudeError))
    })
    .unwrap();
    gov.add("bad-hook", idle(&j))
        .unwrap()
        .on_stop(|| panic!("stop hook panicked"));
    gov.add_service("drop-bomb", PanicsOnDrop { journal: j.clone() })
        .unwrap();
    gov.add("bystander", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("bad-hook:start").await;
    notes.until("bystander:start").await;
    notes.until("drop-bomb:dropping").await;
    for name in [
        "in-run",
        "before-future",
        "odd-payload",
        "rude-error",
        "drop-bomb",
    ] {
        gov.service(name).unwrap().wait().await;
    }
    let report = gov.shutdown().await;
    let outcome = |n: &str| report.service(n).unwrap().last_outcome.clone();
    assert_eq!(
        outcome("in-run"),
        Some(Outcome::Panicked("run panicked".into()))
    );
    assert_eq!(
        outcome("before-future"),
        Some(Outcome::Panicked("no future".into()))
    );
    assert_eq!(
        outcome("odd-payload"),
        Some(Outcome::Panicked("<non-string panic payload>".into()))
    );
    assert!(matches!(outcome("rude-error"), Some(Outcome::Failed(_))));
    assert_eq!(outcome("drop-bomb"), Some(Outcome::Completed));
    assert_eq!(outcome("bad-hook"), Some(Outcome::Completed));
    assert_eq!(outcome("bystander"), Some(Outcome::Completed));
    for s in &report.services {
        assert_eq!(s.runs, 1, "{} ran once and is recorded once", s.name);
        assert_eq!(s.state, ServiceState::Ended);
    }
    assert!(hook_calls.load(Ordering::SeqCst) > 0);
}

/// A service that fails instantly with zero delay under a limit escalates
/// exactly as configured, with a bounded number of events.
pub async fn restart_storm_escalates_with_bounded_events<H: Harness>(h: &H) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let gov = h
        .governor()
        .on_event(move |e| sink.lock().unwrap().push(e.clone()));
    gov.add("storm", |_ctx| async move {
        Err(ServiceError::msg("instant failure"))
    })
    .unwrap()
    .restart_policy(
        RestartPolicy::always(Duration::ZERO)
            .limit(100, Duration::from_secs(3600))
            .escalate(Escalation::Shutdown),
    );
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    let storm = report.service("storm").unwrap();
    assert_eq!((storm.runs, storm.restarts), (101, 100));
    assert_eq!(
        report.cause,
        Some(ShutdownCause::Escalated {
            service: "storm".into()
        })
    );
    let events = events.lock().unwrap();
    let count = |f: fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Event::RunEnded { .. })), 101);
    assert_eq!(count(|e| matches!(e, Event::RestartScheduled { .. })), 100);
    assert_eq!(count(|e| matches!(e, Event::GaveUp { .. })), 1);
    assert_eq!(count(|e| matches!(e, Event::ShutdownRequested { .. })), 1);
    assert!(events.len() <= 101 * 4 + 4, "{} events", events.len());
}

/// Shutdown racing `add`, `start`, stop-one and other shutdowns from
/// several threads at once, many times: no deadlock, no lost service, one
/// cause.
pub async fn shutdown_races_add_start_and_stop_from_threads<H: Harness>(h: &H) {
    for round in 0..20 {
        let (t, _notes) = timeline(h);
        let gov = h.governor();
        gov.add("first", marks_start(&t)).unwrap();
        gov.start().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let gov = gov.clone();
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        let name = format!("t{thread}-{i}");
                        if gov.add(name.as_str(), marks_start(&t)).is_ok() {
                            let _ = gov.start();
                        }
                        if i % 3 == 0 {
                            if let Ok(handle) = gov.service(&name) {
                                handle.stop();
                            }
                        }
                        if thread == i % 4 && i >= 5 {
                            gov.request_shutdown();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let report = gov.shutdown().await;
        assert_eq!(
            report.cause,
            Some(ShutdownCause::Requested),
            "round {round}"
        );
        assert_eq!(gov.running(), 0);
        for s in &report.services {
            assert!(
                s.state.is_final() || s.state == ServiceState::Pending,
                "round {round}: {s}"
            );
            // Every run that began ended with exactly one outcome.
            assert_eq!(s.runs > 0, s.last_outcome.is_some(), "round {round}: {s}");
        }
        let again = gov.shutdown().await;
        assert_eq!(again.cause, report.cause);
    }
}

fn marks_start(t: &Timeline) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let t = t.clone();
    move |ctx| {
        let t = t.clone();
        Box::pin(async move {
            t.mark(format!("{}:start", ctx.name()));
            ctx.wait_for_stop().await;
            Ok(())
        })
    }
}

/// Dropping every governor handle without a shutdown stops every service:
/// nothing runs on unsupervised.
pub async fn dropped_governor_stops_every_service<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let a = gov.add("a", idle(&j)).unwrap().handle();
    let b = gov.add("b", idle(&j)).unwrap().handle();
    gov.start().unwrap();
    notes.until("a:start").await;
    notes.until("b:start").await;
    drop(gov);
    for handle in [a, b] {
        let report = handle.wait().await;
        assert_eq!(report.state, ServiceState::Ended);
        assert_eq!(report.last_outcome, Some(Outcome::Completed));
    }
    assert_eq!(notes.count("a:stop") + notes.count("b:stop"), 2);
}
