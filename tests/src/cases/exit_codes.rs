//! Exit codes (issue 13, item 4): every kind of ending maps to its own
//! documented code through `Report::exit_code`, a clean shutdown on SIGTERM
//! to 0, and when several kinds apply the one that explains the others
//! wins.

use std::time::Duration;

use governor_core::{exit_code, Escalation, RestartPolicy, ServiceError, ServiceState, Signal};

use super::seed::{idle, quick};
use super::supervision::{fails_then_idles, stubborn};
use crate::harness::Harness;
use crate::support::{journal, timeline};

const MS: Duration = Duration::from_millis(1);

/// The codes are the documented numbers, and all distinct.
pub async fn exit_codes_are_the_documented_distinct_numbers<H: Harness>(_h: &H) {
    let codes = [
        exit_code::CLEAN,
        exit_code::FAILED,
        exit_code::ESCALATED,
        exit_code::CRITICAL,
        exit_code::ABORTED,
        exit_code::FORCED,
        exit_code::OS_ERROR,
        exit_code::SETUP,
    ];
    assert_eq!(codes, [0, 1, 69, 70, 75, 130, 71, 78]);
    let mut sorted = codes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), codes.len());
}

/// A clean shutdown exits 0, whatever started it: a request, or SIGTERM
/// (systemd and Kubernetes count the stop they asked for as a success);
/// a failed run exits 1.
// Holding the signal lock across awaits is the point: the other signal
// cases must wait, whatever runtime this one is on.
#[allow(clippy::await_holding_lock)]
pub async fn clean_shutdown_exits_zero_even_on_sigterm<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("a", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start").await;
    assert_eq!(gov.shutdown().await.exit_code(), exit_code::CLEAN);

    let _signals = crate::support::signal_lock();
    let gov = h.governor().catch_signals();
    gov.add("b", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("b:start").await;
    h.raise(Signal::Terminate);
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.exit_code(), exit_code::CLEAN, "{report}");
}

/// A run that failed (and was not restarted) exits 1.
pub async fn failed_run_exits_one<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("bad", quick(&j, || Err(ServiceError::msg("no"))))
        .unwrap();
    gov.add("ok", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("bad:run").await;
    notes.until("ok:start").await;
    let report = gov.shutdown().await;
    assert_eq!(report.exit_code(), exit_code::FAILED, "{report}");
}

/// An escalation exits 69 (`EX_UNAVAILABLE`), even though it also left a
/// service given up.
pub async fn escalation_exits_69<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let gov = h.governor();
    gov.add("storm", fails_then_idles(&t, usize::MAX, Duration::ZERO))
        .unwrap()
        .restart_policy(
            RestartPolicy::on_failure(Duration::ZERO)
                .limit(1, Duration::from_secs(3600))
                .escalate(Escalation::Shutdown),
        );
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.exit_code(), exit_code::ESCALATED, "{report}");
}

/// A critical service that fails exits 70 (`EX_SOFTWARE`); one that ends
/// well shuts down cleanly and exits 0.
pub async fn critical_failure_exits_70_and_a_clean_end_0<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    gov.add("server", idle(&j)).unwrap();
    gov.add("job", quick(&j, || Err(ServiceError::msg("broke"))))
        .unwrap()
        .critical();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.exit_code(), exit_code::CRITICAL, "{report}");

    let gov = h.governor();
    gov.add("server", idle(&j)).unwrap();
    gov.add("job", quick(&j, || Ok(()))).unwrap().critical();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.exit_code(), exit_code::CLEAN, "{report}");
}

/// A service aborted at its shutdown timeout exits 75 (`EX_TEMPFAIL`).
pub async fn aborted_service_exits_75<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    gov.add("stubborn", stubborn(&t))
        .unwrap()
        .shutdown_timeout(10 * MS);
    gov.add("polite", idle(&journal().0)).unwrap();
    gov.start().unwrap();
    notes.until("stubborn:start").await;
    let report = gov.shutdown().await;
    assert_eq!(
        report.service("stubborn").unwrap().state,
        ServiceState::Ended
    );
    assert_eq!(report.exit_code(), exit_code::ABORTED, "{report}");
}

/// A forced shutdown exits 130, before the aborts it caused (75) and
/// anything else.
pub async fn forced_shutdown_exits_130<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    gov.add("stubborn", stubborn(&t)).unwrap();
    gov.start().unwrap();
    notes.until("stubborn:start").await;
    gov.request_shutdown();
    gov.force_shutdown();
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    assert_eq!(report.exit_code(), exit_code::FORCED, "{report}");
}

/// A governor whose services all ended well by themselves, without any
/// shutdown, exits 0.
pub async fn no_shutdown_and_no_failure_exits_zero<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("once", quick(&j, || Ok(()))).unwrap();
    gov.start().unwrap();
    notes.until("once:run").await;
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, None);
    assert_eq!(report.exit_code(), exit_code::CLEAN, "{report}");
}
