//! Tokens observe; owners cancel: what a service or any other code is
//! handed can only watch for a stop, and every stop goes through the
//! governor or a service's handle, with a cause.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor_core::{
    Event, Outcome, RestartPolicy, ServiceError, ServiceState, ShutdownCause, StopToken,
};

use super::seed::idle;
use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, timeline, until};

const MS: Duration = Duration::from_millis(1);

/// A run cannot stop itself through what its context hands out (its token
/// has no `cancel`: see the `compile_fail` example on `ServiceCtx::token`).
/// Run 1 cancels all it can, a child source of its token, which leaves the
/// run alone, and fails: its restart still waits for the policy's delay.
/// The token kept from run 1 is run 2's (run 1 ended by itself): it
/// observes run 2's stop by the handle, and could not have caused it.
pub async fn a_service_cannot_restart_itself_past_its_policy<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let kept: Arc<Mutex<Vec<StopToken>>> = Arc::default();
    let gov = h.governor();
    let tt = t.clone();
    let keep = kept.clone();
    let handle = gov
        .add("selfish", move |ctx| {
            let t = tt.clone();
            let keep = keep.clone();
            async move {
                t.mark(format!("run{}", ctx.run()));
                keep.lock().unwrap().push(ctx.token().clone());
                if ctx.run() == 1 {
                    let own = ctx.token().child();
                    let cancelled = own.stop();
                    t.mark(format!("run1:own={cancelled},stopping={}", ctx.stopping()));
                    return Err(ServiceError::msg("failed"));
                }
                ctx.wait_for_stop().await;
                t.mark("run2:stopped");
                Ok(())
            }
        })
        .unwrap()
        .restart_policy(RestartPolicy::on_failure(100 * MS))
        .handle();
    gov.start().unwrap();
    notes.until("run2").await;
    // A child source is its owner's to cancel, and that leaves the run
    // alone.
    assert!(t.position("run1:own=true,stopping=false") < t.position("run2"));
    assert_elapsed(h, t.at("run2") - t.at("run1"), 100 * MS);
    let first = kept.lock().unwrap()[0].clone();
    assert!(!first.stopping(), "run 2 is not stopped");
    assert!(handle.stop());
    notes.until("run2:stopped").await;
    assert!(first.stopping(), "run 1's token observes run 2's stop");
    let report = gov.wait_for_shutdown().await;
    let selfish = report.service("selfish").unwrap();
    assert_eq!((selfish.runs, selfish.restarts), (2, 1));
    assert_eq!(selfish.state, ServiceState::Ended);
    assert_eq!(selfish.last_outcome, Some(Outcome::Completed));
}

/// Every way user code can stop the whole governor names its cause, in
/// the report and in the `ShutdownRequested` event; each turns `add` and
/// `start` away afterwards, and the global token observes it.
pub async fn every_stop_of_the_governor_names_its_cause<H: Harness>(h: &H) {
    for path in ["request", "shutdown", "force", "drop"] {
        let (j, mut notes) = journal();
        let causes: Arc<Mutex<Vec<ShutdownCause>>> = Arc::default();
        let seen = causes.clone();
        let gov = h.governor().on_event(move |event| {
            if let Event::ShutdownRequested { cause } = event {
                seen.lock().unwrap().push(cause.clone());
            }
        });
        let handle = gov.add("svc", idle(&j)).unwrap().handle();
        gov.start().unwrap();
        notes.until("svc:start").await;
        let global = gov.token();
        assert!(!global.stopping());
        let (expected, forced) = match path {
            "request" => {
                assert!(gov.request_shutdown());
                (ShutdownCause::Requested, false)
            }
            "shutdown" => {
                gov.shutdown().await;
                (ShutdownCause::Requested, false)
            }
            "force" => {
                gov.force_shutdown();
                (ShutdownCause::Requested, true)
            }
            _ => {
                drop(gov);
                handle.wait().await;
                assert!(global.stopping(), "{path}: the global token observes it");
                until(h, || !causes.lock().unwrap().is_empty()).await;
                assert_eq!(*causes.lock().unwrap(), [ShutdownCause::Dropped], "{path}");
                continue;
            }
        };
        assert!(global.stopping(), "{path}: the global token observes it");
        let report = gov.wait_for_shutdown().await;
        assert_eq!(
            report.cause,
            Some(expected.clone()),
            "{path}: the report's cause"
        );
        assert_eq!(report.forced, forced, "{path}");
        assert_eq!(
            *causes.lock().unwrap(),
            [expected],
            "{path}: the event's cause"
        );
        assert!(
            gov.add("late", idle(&j)).is_err(),
            "{path}: add after the stop is refused"
        );
        assert!(
            gov.start().is_err(),
            "{path}: start after the stop is refused"
        );
        assert_eq!(handle.report().state, ServiceState::Ended, "{path}");
    }
}

/// A stop through a service's handle is not anonymous either: each
/// `stop()` and `restart()` that does something is told as
/// `Event::StopRequested`, naming the service and whether it restarts,
/// before the run it stops ends; one that does nothing tells nothing.
pub async fn a_handle_stop_is_told_with_its_cause<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let gov = h
        .governor()
        .on_event(move |event| sink.lock().unwrap().push(event.clone()));
    let svc = gov.add("svc", idle(&j)).unwrap().handle();
    gov.start().unwrap();
    notes.until("svc:start").await;
    assert!(svc.restart());
    until(h, || notes.count("svc:start") == 2).await;
    assert!(svc.stop());
    svc.wait().await;
    assert!(!svc.stop() && !svc.restart(), "nothing left to stop");
    gov.shutdown().await;
    let told: Vec<Event> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::StopRequested { .. } | Event::RunEnded { .. } | Event::RunStarted { .. }
            )
        })
        .cloned()
        .collect();
    let svc: Arc<str> = "svc".into();
    assert_eq!(
        told,
        [
            Event::RunStarted {
                service: svc.clone(),
                run: 1
            },
            Event::StopRequested {
                service: svc.clone(),
                restart: true
            },
            Event::RunEnded {
                service: svc.clone(),
                outcome: Outcome::Completed
            },
            Event::RunStarted {
                service: svc.clone(),
                run: 2
            },
            Event::StopRequested {
                service: svc.clone(),
                restart: false
            },
            Event::RunEnded {
                service: svc.clone(),
                outcome: Outcome::Completed
            },
        ],
        "each handle stop is told once, before the end of the run it stops"
    );
}

/// `ctx.wait_for_stop_owned()` is the run's stop as a `'static` future: moved
/// into a task of the runtime's that outlives the borrow of the context
/// (as a server's graceful-shutdown signal is), it completes when the run
/// is asked to stop, and not before.
pub async fn owned_stop_future_follows_the_run<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let runtime = h.runtime();
    let jj = j.clone();
    let svc = gov
        .add("server", move |ctx| {
            let (j, runtime) = (jj.clone(), runtime.clone());
            async move {
                let stop = ctx.wait_for_stop_owned();
                let jt = j.clone();
                runtime.spawn(Box::pin(async move {
                    stop.await;
                    jt.note("owned stop fired");
                }));
                j.note("server:start");
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .handle();
    gov.start().unwrap();
    notes.until("server:start").await;
    h.settle().await;
    assert_eq!(notes.count("owned stop fired"), 0, "not before the stop");
    assert!(svc.stop());
    notes.until("owned stop fired").await;
    gov.shutdown().await;
}
