//! The first five minutes, as tried by a new user (issue 11, item 6):
//! what `main` learns after it has let go of the governor, a start refused
//! by a shutdown told apart from a service never started, and the times of
//! each run and of the shutdown on the governor's clock. (A closure service
//! written `|ctx| async move { .. }` is proven by every case of the suite
//! that adds one: they compile.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor_core::{Error, Outcome, ServiceState, ShutdownCause};

use super::seed::idle;
use crate::harness::Harness;
use crate::support::{assert_elapsed, journal};

const MS: Duration = Duration::from_millis(1);

/// The last `Governor` handle dropped: the governor shuts down, and a
/// `ReportHandle` taken before still reads the cause, waits for the end
/// and gives the final report, as does a service handle's.
pub async fn report_and_cause_outlive_the_last_governor_handle<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let a = gov.add("a", idle(&j)).unwrap().handle();
    gov.add("b", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start").await;
    notes.until("b:start").await;
    let reports = gov.report_handle();
    let from_service = a.report_handle();
    assert_eq!(reports.cause(), None);
    drop(gov);
    let report = reports.wait_for_shutdown().await;
    assert_eq!(report.cause, Some(ShutdownCause::Dropped));
    assert!(report.shutdown_ended.is_some(), "{report:?}");
    for name in ["a", "b"] {
        let service = report.service(name).unwrap();
        assert_eq!(service.state, ServiceState::Ended, "{name}");
        assert_eq!(service.last_outcome, Some(Outcome::Completed), "{name}");
    }
    assert!(report.is_clean());
    assert_eq!(notes.count("a:stop") + notes.count("b:stop"), 2);
    // Later reads, through either handle, say the same.
    assert_eq!(reports.cause(), Some(ShutdownCause::Dropped));
    assert_eq!(from_service.report(), report);
    assert_eq!(a.report(), *report.service("a").unwrap());
}

/// A service a `start` covered after shutdown began is `Refused`, for
/// good, and says so; one no `start` covered is still "added, not
/// started". Neither makes the report unclean.
pub async fn start_refused_by_shutdown_is_told_apart_from_never_started<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    let alone = gov.add("alone", idle(&j)).unwrap();
    let alone_handle = alone.handle();
    gov.add("rest", idle(&j)).unwrap();
    gov.shutdown().await;
    let before = gov.report();
    assert_eq!(
        before.service("alone").unwrap().state,
        ServiceState::Pending
    );
    assert_eq!(
        before.service("alone").unwrap().to_string(),
        "alone: added, not started"
    );

    // Started alone: only that one is refused.
    assert_eq!(alone.start().unwrap_err(), Error::StartAfterShutdown);
    let report = gov.report();
    let refused = report.service("alone").unwrap();
    assert_eq!(refused.state, ServiceState::Refused);
    assert!(refused.state.is_final());
    assert_eq!(refused.runs, 0);
    assert_eq!(refused.last_outcome, None);
    assert_eq!(refused.to_string(), "alone: refused: shutdown had begun");
    assert_eq!(report.service("rest").unwrap().state, ServiceState::Pending);
    // Final: its handle's wait returns, and a stop has nothing to stop.
    assert_eq!(alone_handle.wait().await.state, ServiceState::Refused);
    assert!(!alone_handle.stop());

    // `start` covers every pending service: the rest is refused too.
    assert_eq!(gov.start().unwrap_err(), Error::StartAfterShutdown);
    let report = gov.report();
    assert_eq!(report.service("rest").unwrap().state, ServiceState::Refused);
    assert!(report.is_clean());
    assert!(
        report
            .to_string()
            .contains("rest: refused: shutdown had begun"),
        "{report}"
    );
    assert_eq!(notes.all(), Vec::<String>::new(), "nothing ran");
}

/// Reports carry when each service's latest run began and ended, and when
/// the shutdown began and was complete, on the runtime's clock: exact on
/// virtual time.
pub async fn reports_carry_run_and_shutdown_times<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let runtime = h.runtime();
    let gov = h.governor();
    // One run of 300 ms, never restarted.
    gov.add("once", |ctx| async move {
        ctx.sleep(300 * MS).await?;
        Ok(())
    })
    .unwrap();
    // A first run of 300 ms, restarted after 100 ms; the second run takes
    // 100 ms to stop.
    let runs = Arc::new(AtomicU32::new(0));
    let (jj, rt) = (j.clone(), runtime.clone());
    gov.add("again", move |ctx| {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        let (j, rt) = (jj.clone(), rt.clone());
        async move {
            j.note(format!("again:run{run}"));
            if run == 1 {
                ctx.sleep(300 * MS).await?;
            } else {
                ctx.wait_for_stop().await;
                rt.sleep(100 * MS).await; // cleaning up
            }
            Ok(())
        }
    })
    .unwrap()
    .restart(100 * MS);
    assert_eq!(gov.report().service("once").unwrap().last_run, None);
    let t0 = runtime.now();
    gov.start().unwrap();
    notes.until("again:run2").await;

    let report = gov.report();
    assert_eq!((report.shutdown_began, report.shutdown_ended), (None, None));
    let once = report.service("once").unwrap().last_run.unwrap();
    let ended = once.ended.expect("the run ended");
    assert_elapsed(h, once.started - t0, Duration::ZERO);
    assert_elapsed(h, ended - once.started, 300 * MS);
    assert_eq!(once.duration(), Some(ended - once.started));
    // The latest run is the second, in progress.
    let again = report.service("again").unwrap();
    let second = again.last_run.unwrap();
    assert_eq!(second.ended, None);
    assert_eq!(second.duration(), None);
    assert_eq!(again.last_outcome, Some(Outcome::Completed));
    assert_elapsed(h, second.started - t0, 400 * MS);

    let asked = runtime.now();
    let report = gov.shutdown().await;
    let began = report.shutdown_began.expect("shutdown began");
    let complete = report.shutdown_ended.expect("shutdown complete");
    assert_elapsed(h, began - asked, Duration::ZERO);
    let second = report.service("again").unwrap().last_run.unwrap();
    let second_ended = second.ended.expect("the second run ended");
    assert_elapsed(h, second_ended - began, 100 * MS);
    assert_elapsed(h, complete - second_ended, Duration::ZERO);
    if h.exact_time() {
        assert_eq!(began, t0 + 400 * MS);
        assert_eq!(complete, t0 + 500 * MS);
    }
}
