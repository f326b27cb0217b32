//! What the ecosystem integrations stand on: observers of the event
//! stream that sit beside the user's hook (metrics, a service manager's
//! notifier, tokio-util tokens), and a governor shut down by a trigger
//! that already exists elsewhere in the program.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use governor_core::{Event, Outcome, ServiceCtx, ServiceState, ShutdownCause};

use crate::harness::Harness;
use crate::support::{journal, until};

/// Every observer and the hook see every event, in that order, each once;
/// a panicking observer is caught and neither the observers after it nor
/// the hook miss anything; an observer added later sees the events from
/// then on. Replacing the hook leaves the observers in place.
pub async fn observers_see_every_event_beside_the_hook<H: Harness>(h: &H) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let note = |who: &'static str| {
        let seen = seen.clone();
        move |event: &Event| {
            if event.service().is_some() || matches!(event, Event::ShutdownComplete { .. }) {
                seen.lock().unwrap().push(format!("{who}:{event}"));
            }
        }
    };
    let gov = h
        .governor()
        .on_event(|_| unreachable!("replaced before any event"));
    gov.observe_events(note("first"));
    gov.observe_events(|event| {
        if let Event::RunStarted { .. } = event {
            panic!("an observer that panics");
        }
    });
    let gov = gov.on_event(note("hook"));
    gov.observe_events(note("second"));
    gov.add("job", |_ctx: ServiceCtx| async { Ok(()) }).unwrap();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.services[0].last_outcome, Some(Outcome::Completed));
    // ShutdownComplete comes only with a shutdown.
    gov.shutdown().await;
    let late = Arc::new(AtomicBool::new(false));
    let saw_late = late.clone();
    gov.observe_events(move |_| saw_late.store(true, Ordering::SeqCst));
    let seen = seen.lock().unwrap().clone();
    // (`Starting` is for a service that waits for dependencies.)
    let expected: Vec<String> = ["started (run 1)", "ready", "run ended: completed"]
        .iter()
        .flat_map(|step| ["first", "second", "hook"].map(|who| format!("{who}:{step}")))
        .chain(["first", "second", "hook"].map(|who| format!("{who}:shutdown complete")))
        .collect();
    assert_eq!(seen, expected);
    assert!(!late.load(Ordering::SeqCst), "no event after the last one");
}

/// `shutdown_on(trigger)`: nothing happens until the trigger completes;
/// then the governor shuts down with cause `Requested`, its services
/// stopped as by `request_shutdown`. A trigger that is complete already
/// shuts the governor down as soon as its task runs.
pub async fn shutdown_on_a_trigger_shuts_the_governor_down<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let (tell, told) = futures_channel::oneshot::channel::<()>();
    let gov = h.governor();
    gov.shutdown_on(async move {
        let _ = told.await;
    });
    gov.add("server", move |ctx: ServiceCtx| {
        let j = j.clone();
        async move {
            j.note("serving");
            ctx.wait_for_stop().await;
            j.note("stopped");
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("serving").await;
    h.settle().await;
    assert!(!gov.stopping(), "the trigger has not completed");
    tell.send(()).unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
    assert_eq!(report.services[0].state, ServiceState::Ended);
    assert_eq!(report.services[0].last_outcome, Some(Outcome::Completed));
    assert_eq!(notes.next().await, "stopped");

    let gov = h.governor();
    gov.shutdown_on(async {});
    until(h, || gov.stopping()).await;
    assert_eq!(gov.report().cause, Some(ShutdownCause::Requested));
}

/// The trigger's task never keeps the governor alive, and ends with it:
/// dropping the last handle still shuts the services down (cause
/// `Dropped`), and the trigger, never completed, is dropped once the
/// governor has stopped; a governor shut down otherwise drops its trigger
/// too.
pub async fn shutdown_on_trigger_ends_with_the_governor<H: Harness>(h: &H) {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let trigger = |dropped: &Arc<AtomicBool>| {
        let flag = Flag(dropped.clone());
        async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        }
    };

    let dropped = Arc::new(AtomicBool::new(false));
    let gov = h.governor();
    gov.shutdown_on(trigger(&dropped));
    let handle = gov
        .add("server", |ctx: ServiceCtx| async move {
            ctx.wait_for_stop().await;
            Ok(())
        })
        .unwrap()
        .handle();
    gov.start().unwrap();
    let token = gov.token();
    drop(gov);
    let report = handle.wait().await;
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert!(token.stopping());
    until(h, || dropped.load(Ordering::SeqCst)).await;

    let dropped = Arc::new(AtomicBool::new(false));
    let gov = h.governor();
    gov.shutdown_on(trigger(&dropped));
    gov.shutdown().await;
    until(h, || dropped.load(Ordering::SeqCst)).await;
}
