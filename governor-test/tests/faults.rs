//! Each injected fault produces the outcome, restart and events it should,
//! at exact virtual times.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;

use governor_core::{Event, Governor, Outcome, RestartPolicy, ServiceCtx, ServiceState};
use governor_test::{Fault, Faulty, VirtualRuntime};

const SEC: Duration = Duration::from_secs(1);

/// The service under test, never edited: each run works 10 s and ends
/// cleanly (sooner if asked to stop).
async fn worker(ctx: ServiceCtx) -> governor_core::ServiceResult {
    let _ = ctx.sleep(10 * SEC).await;
    Ok(())
}

/// The events of `gov`'s service "w" as (virtual seconds, text), the text
/// being the event's kind and its detail.
fn record(rt: &VirtualRuntime, gov: &Governor) -> Arc<Mutex<Vec<(f64, String)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (log, clock) = (seen.clone(), rt.clone());
    gov.observe_events(move |event| {
        let text = match event {
            Event::RunStarted { run, .. } => format!("run {run}"),
            Event::RunEnded { outcome, .. } => format!("ended {}", outcome.kind()),
            Event::Panicked { message, .. } => format!("panicked: {message}"),
            Event::RestartScheduled { delay, .. } => format!("restart in {delay:?}"),
            Event::StopTimedOut { timeout, .. } => format!("timed out after {timeout:?}"),
            Event::Aborted { .. } => "aborted".into(),
            _ => return,
        };
        log.lock().unwrap().push((clock.now().as_secs_f64(), text));
    });
    seen
}

/// Runs `worker` under `fault` on run 2, restarted 1 s after every end,
/// with a 5 s shutdown timeout; shuts down at 30 s. Returns the events
/// and the final report's entry.
fn with_fault(fault: Fault) -> (Vec<(f64, String)>, governor_core::ServiceReport) {
    governor_test::run(|rt| async move {
        let gov = rt.governor();
        let seen = record(&rt, &gov);
        gov.add_service("w", Faulty::new(worker).on_run(2, fault))
            .unwrap()
            .restart_policy(RestartPolicy::always(SEC))
            .shutdown_timeout(5 * SEC);
        gov.start().unwrap();
        rt.sleep(30 * SEC).await;
        let report = gov.shutdown().await;
        let seen = seen.lock().unwrap().clone();
        (seen, report.service("w").unwrap().clone())
    })
}

fn events(list: &[(f64, &str)]) -> Vec<(f64, String)> {
    list.iter().map(|(t, e)| (*t, e.to_string())).collect()
}

#[test]
fn without_faults_the_worker_runs_every_11_s() {
    let (seen, w) = with_fault(Fault::Delay(Duration::ZERO));
    assert_eq!(
        seen,
        events(&[
            (0.0, "run 1"),
            (10.0, "ended completed"),
            (10.0, "restart in 1s"),
            (11.0, "run 2"),
            (21.0, "ended completed"),
            (21.0, "restart in 1s"),
            (22.0, "run 3"),
            (30.0, "ended completed"),
        ])
    );
    assert_eq!((w.runs, w.restarts), (3, 2));
}

#[test]
fn a_failed_run_fails_at_once_and_is_restarted() {
    let (seen, w) = with_fault(Fault::Fail("injected".into()));
    assert_eq!(
        seen[3..7],
        events(&[
            (11.0, "run 2"),
            (11.0, "ended failed"),
            (11.0, "restart in 1s"),
            (12.0, "run 3"),
        ])
    );
    assert_eq!((w.runs, w.restarts), (4, 3));
    assert_eq!(w.state, ServiceState::Ended);
}

#[test]
fn a_panicking_run_is_caught_reported_and_restarted() {
    let (seen, w) = with_fault(Fault::Panic("injected panic".into()));
    assert_eq!(
        seen[3..8],
        events(&[
            (11.0, "run 2"),
            (11.0, "panicked: injected panic"),
            (11.0, "ended panicked"),
            (11.0, "restart in 1s"),
            (12.0, "run 3"),
        ])
    );
    assert_eq!((w.runs, w.restarts), (4, 3));
}

#[test]
fn a_run_ending_with_stop_service_is_not_restarted() {
    let (seen, w) = with_fault(Fault::StopService);
    assert_eq!(
        seen[3..],
        events(&[(11.0, "run 2"), (11.0, "ended stop_service")])
    );
    assert_eq!((w.runs, w.restarts, w.state), (2, 1, ServiceState::Ended));
    assert_eq!(w.last_outcome, Some(Outcome::StopService));
}

#[test]
fn a_hung_run_ignores_its_stop_and_is_aborted_at_its_timeout() {
    let (seen, w) = with_fault(Fault::Hang);
    assert_eq!(
        seen[3..],
        events(&[
            (11.0, "run 2"),
            (35.0, "timed out after 5s"),
            (35.0, "aborted"),
            (35.0, "ended aborted"),
        ])
    );
    assert_eq!((w.runs, w.timed_out), (2, true));
    assert_eq!(w.stop_time, Some(5 * SEC));
    assert_eq!(w.last_outcome, Some(Outcome::Aborted));
}

#[test]
fn a_delayed_run_begins_its_work_late() {
    let (seen, _) = with_fault(Fault::Delay(3 * SEC));
    assert_eq!(
        seen[3..8],
        events(&[
            (11.0, "run 2"),
            (24.0, "ended completed"),
            (24.0, "restart in 1s"),
            (25.0, "run 3"),
            (30.0, "ended completed"),
        ])
    );
}

#[test]
fn a_panicking_stop_hook_does_not_keep_the_service_from_stopping() {
    governor_test::run(|rt| async move {
        let gov = rt.governor();
        let seen = record(&rt, &gov);
        let after = Arc::new(AtomicU32::new(0));
        let count = after.clone();
        let faulty = Faulty::new(worker).on_run(1, Fault::StopHookPanics("hook bug".into()));
        let injected = faulty.injected();
        gov.add_service("w", faulty)
            .unwrap()
            // A hook of the service's own, registered after the injected one.
            .on_stop(move || {
                count.fetch_add(1, Ordering::SeqCst);
            });
        gov.start().unwrap();
        rt.sleep(4 * SEC).await;
        let report = gov.shutdown().await;
        assert_eq!(
            injected.get(),
            [(1, Fault::StopHookPanics("hook bug".into()))],
            "the injected hook was called"
        );
        assert_eq!(after.load(Ordering::SeqCst), 1, "the other hook still ran");
        let w = report.service("w").unwrap();
        assert_eq!(w.last_outcome, Some(Outcome::Completed));
        assert_eq!(w.stop_time, Some(Duration::ZERO));
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(
            *seen.lock().unwrap(),
            events(&[(0.0, "run 1"), (4.0, "ended completed")])
        );
    });
}

#[test]
fn delayed_blocking_calls_end_late_in_virtual_time() {
    governor_test::run(|rt| async move {
        rt.delay_blocking(5 * SEC);
        let gov = rt.governor();
        let seen = record(&rt, &gov);
        // Woken at each end of a run. No timer of the test's own is pending
        // while a blocking thread runs, so the clock waits for it (the
        // driver moves past blocking work only when a timer is due).
        let (ended, mut ends) = futures_channel::mpsc::unbounded();
        gov.observe_events(move |event| {
            if matches!(event, Event::RunEnded { .. }) {
                let _ = ended.unbounded_send(());
            }
        });
        let calls = Arc::new(AtomicU32::new(0));
        let count = calls.clone();
        gov.add_blocking("w", move |_ctx| {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap()
        .restart_policy(RestartPolicy::always(SEC));
        gov.start().unwrap();
        for _ in 0..2 {
            ends.next().await;
        }
        let report = gov.shutdown().await;
        assert_eq!(
            *seen.lock().unwrap(),
            events(&[
                (0.0, "run 1"),
                (5.0, "ended completed"),
                (5.0, "restart in 1s"),
                (6.0, "run 2"),
                (11.0, "ended completed"),
                (11.0, "restart in 1s"),
            ])
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let w = report.service("w").unwrap();
        assert_eq!((w.runs, w.state), (2, ServiceState::Ended));
    });
}
