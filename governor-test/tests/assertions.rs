//! The timeline, its helpers and the report diff: each passes on what
//! happened and fails, readably, on what did not.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use governor_core::{Backoff, Report, RestartPolicy, ServiceCtx, ServiceError, ServiceResult};
use governor_test::{assert_reports_eq, diff_reports, Timeline};

const SEC: Duration = Duration::from_secs(1);

async fn until_stop(ctx: ServiceCtx) -> ServiceResult {
    ctx.wait_for_stop().await;
    Ok(())
}

/// A service that fails at once, restarted with backoff 1 s, 2 s, 4 s, ...;
/// a chain gateway -> api -> store; shut down at 10 s.
fn program() -> (Timeline, Report) {
    governor_test::run(|rt| async move {
        let gov = rt.governor();
        let timeline = rt.timeline(&gov);
        gov.add("flaky", |_ctx| async { Err(ServiceError::msg("refused")) })
            .unwrap()
            .restart_policy(RestartPolicy::on_failure(SEC).backoff(Backoff::new(SEC, 60 * SEC)));
        gov.add("store", until_stop).unwrap();
        gov.add("api", until_stop).unwrap().depends_on(["store"]);
        gov.add("gateway", until_stop).unwrap().depends_on(["api"]);
        gov.start().unwrap();
        rt.sleep(10 * SEC).await;
        let report = gov.shutdown().await;
        (timeline, report)
    })
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the assertion should fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| payload.downcast_ref::<&str>().unwrap().to_string())
}

#[test]
fn restarts_are_read_off_the_timeline_exactly() {
    let (timeline, _) = program();
    assert_eq!(timeline.run_starts("flaky"), [0, 1, 3, 7].map(|s| s * SEC));
    timeline.assert_restarted_at("flaky", &[SEC, 3 * SEC, 7 * SEC]);
    assert_eq!(timeline.restarts("store"), []);
    assert_eq!(timeline.shutdown_requested(), Some(10 * SEC));

    let message = panic_message(|| timeline.assert_restarted_at("flaky", &[SEC, 2 * SEC]));
    assert!(
        message
            .starts_with("\"flaky\" restarted at [1s, 3s, 7s], expected [1s, 2s]\nits events:\n"),
        "{message}"
    );
    assert!(
        message.contains("          3s  flaky: started (run 3)\n"),
        "{message}"
    );
}

#[test]
fn stop_order_follows_the_dependencies() {
    let (timeline, _) = program();
    let order: Vec<String> = timeline
        .stop_order()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(order, ["gateway", "api", "store"]);
    timeline.assert_stopped_in_order(&["gateway", "api", "store"]);
    timeline.assert_stopped_in_order(&["gateway", "store"]);

    let message = panic_message(|| timeline.assert_stopped_in_order(&["store", "api"]));
    assert!(
        message.starts_with(
            "expected to stop in order [\"store\", \"api\"], but \"store\" stopped after \
             \"api\": they stopped in order [\"gateway\", \"api\", \"store\"]\ntimeline:\n"
        ),
        "{message}"
    );
    let message = panic_message(|| timeline.assert_stopped_in_order(&["api", "flaky"]));
    assert!(
        message.contains("\"flaky\" did not stop after the shutdown began"),
        "{message}"
    );
}

#[test]
fn the_same_program_gives_equal_reports() {
    let (_, first) = program();
    let (_, second) = program();
    assert!(diff_reports(&first, &second).is_empty());
    assert_reports_eq(&first, &second);
}

#[test]
fn a_report_diff_names_each_field_that_differs() {
    let (_, expected) = program();
    let actual = governor_test::run(|rt| async move {
        let gov = rt.governor();
        gov.add("flaky", |_ctx| async { Err(ServiceError::msg("refused")) })
            .unwrap();
        gov.add("api", until_stop).unwrap();
        gov.add("cache", until_stop).unwrap();
        gov.start().unwrap();
        rt.sleep(12 * SEC).await;
        gov.shutdown().await
    });
    let diff = diff_reports(&expected, &actual);
    assert_eq!(
        diff.lines(),
        [
            "shutdown began: expected Some(10s), got Some(12s)",
            "shutdown ended: expected Some(10s), got Some(12s)",
            "service \"flaky\": runs: expected 4, got 1",
            "service \"flaky\": restarts: expected 3, got 0",
            "service \"flaky\": last run: expected 7s to 7s, got 0ns to 0ns",
            "service \"store\": expected (store: ended, last run completed, 1 run(s), 0 \
             restart(s), stopped in 0ns), missing",
            "service \"api\": last run: expected 0ns to 10s, got 0ns to 12s",
            "service \"gateway\": expected (gateway: ended, last run completed, 1 run(s), 0 \
             restart(s), stopped in 0ns), missing",
            "service \"cache\": not expected, got (cache: ended, last run completed, 1 run(s), \
             0 restart(s), stopped in 0ns)",
        ]
    );
    let message = panic_message(|| assert_reports_eq(&expected, &actual));
    assert_eq!(message, format!("the reports differ:\n{diff}"));
}
