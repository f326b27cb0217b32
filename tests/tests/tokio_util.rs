//! governor-tokio's `tokio-util` feature, both ways, on both tokio
//! schedulers: `CancellationToken`s that follow a run's or a governor's
//! stop, and a governor shut down by a `CancellationToken`; a
//! `TaskTracker` drained as part of a run, and a governor waited for by a
//! `TaskTracker`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::oneshot;
use governor_conformance::harness::Harness;
use governor_conformance::runtimes::{TokioCurrentThread, TokioMultiThread};
use governor_conformance::support::{assert_elapsed, run_case, until};
use governor_tokio::cancel::{CancellationExt, CancellationToken, ShutdownOnCancel};
use governor_tokio::tracker::{DrainTracker, TaskTracker, TrackedBy};
use governor_tokio::{Outcome, ServiceCtx, ServiceState, ShutdownCause};

/// Far past what any step here needs, and far below the harness's own
/// limit: a token that never follows shows as an abort at this timeout.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A run's token is cancelled when the run is asked to stop: a service
/// that waits on nothing but its library's token still ends cleanly (an
/// abort at the shutdown timeout otherwise). A token taken after the stop
/// began is cancelled at once.
async fn run_token_cancels_at_the_runs_stop<H: Harness>(h: &H) {
    let (tokens, mut taken) = futures_channel::mpsc::unbounded::<(CancellationToken, bool)>();
    let gov = h.governor().shutdown_timeout(STOP_TIMEOUT);
    let handle = gov
        .add("library", move |ctx: ServiceCtx| {
            let tokens = tokens.clone();
            async move {
                let token = ctx.cancellation_token();
                tokens.unbounded_send((token.clone(), false)).unwrap();
                token.cancelled().await; // what a library does
                let late = ctx.cancellation_token();
                tokens
                    .unbounded_send((late.clone(), late.is_cancelled()))
                    .unwrap();
                Ok(())
            }
        })
        .unwrap()
        .handle();
    gov.start().unwrap();
    let (token, _) = futures_util::StreamExt::next(&mut taken).await.unwrap();
    h.settle().await;
    assert!(!token.is_cancelled(), "the run was not asked to stop yet");
    assert!(handle.stop());
    let report = handle.wait().await;
    assert!(token.is_cancelled());
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert!(!report.timed_out);
    let (_, late_cancelled) = futures_util::StreamExt::next(&mut taken).await.unwrap();
    assert!(late_cancelled, "taken after the stop: cancelled at once");
}

/// A run that ends by itself cancels its token as it ends: what a library
/// spawned with it does not outlive the run. The next run has a new one.
async fn run_token_cancels_when_the_run_ends<H: Harness>(h: &H) {
    let (tokens, mut taken) = futures_channel::mpsc::unbounded::<CancellationToken>();
    let (go, gone) = oneshot::channel::<()>();
    let gone = std::sync::Mutex::new(Some(gone));
    let gov = h.governor();
    let handle = gov
        .add("job", move |ctx: ServiceCtx| {
            let tokens = tokens.clone();
            let gone = gone.lock().unwrap().take();
            async move {
                tokens.unbounded_send(ctx.cancellation_token()).unwrap();
                if let Some(gone) = gone {
                    let _ = gone.await;
                }
                Ok(())
            }
        })
        .unwrap()
        .handle();
    gov.start().unwrap();
    let token = futures_util::StreamExt::next(&mut taken).await.unwrap();
    h.settle().await;
    assert!(!token.is_cancelled(), "the run goes on");
    go.send(()).unwrap();
    let report = handle.wait().await;
    assert_eq!(report.state, ServiceState::Ended);
    until(h, || token.is_cancelled()).await;
}

/// A governor's token is cancelled when its shutdown begins, before
/// `request_shutdown` returns; one taken after is cancelled at once.
async fn governor_token_cancels_when_shutdown_begins<H: Harness>(h: &H) {
    let gov = h.governor();
    let token = gov.cancellation_token();
    gov.add("idle", |ctx: ServiceCtx| async move {
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap();
    gov.start().unwrap();
    h.settle().await;
    assert!(!token.is_cancelled());
    assert!(gov.request_shutdown());
    assert!(token.is_cancelled(), "cancelled as the shutdown began");
    assert!(gov.cancellation_token().is_cancelled());
    gov.wait_for_shutdown().await;
}

/// A governor shut down by a `CancellationToken` of the program's own:
/// nothing until it is cancelled, then a graceful shutdown (cause
/// `Requested`); a token cancelled already shuts it down at once.
async fn cancelled_token_shuts_the_governor_down<H: Harness>(h: &H) {
    let outside = CancellationToken::new();
    let gov = h.governor();
    gov.shutdown_on_cancel(outside.clone());
    gov.add("idle", |ctx: ServiceCtx| async move {
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap();
    gov.start().unwrap();
    h.settle().await;
    assert!(!gov.stopping());
    outside.cancel();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
    assert_eq!(report.services[0].last_outcome, Some(Outcome::Completed));

    let already = CancellationToken::new();
    already.cancel();
    let gov = h.governor();
    gov.shutdown_on_cancel(already);
    until(h, || gov.stopping()).await;
}

/// A tracker drained as part of a run: at the run's stop it is closed and
/// the run ends only once the task a library spawned on it has ended
/// (which it does when told to, after the stop), cleanly, with nothing
/// aborted.
async fn tracker_is_drained_within_the_runs_stop<H: Harness>(h: &H) {
    let tracker = TaskTracker::new();
    let finished = Arc::new(AtomicBool::new(false));
    let (release, released) = oneshot::channel::<()>();
    let released = Mutex::new(Some(released));
    let gov = h.governor().shutdown_timeout(STOP_TIMEOUT);
    let (in_run, task_done) = (tracker.clone(), finished.clone());
    let handle = gov
        .add("server", move |ctx: ServiceCtx| {
            let (tracker, finished) = (in_run.clone(), task_done.clone());
            let released = released.lock().unwrap().take();
            async move {
                ctx.drain_tracker("connections", &tracker);
                let token = ctx.cancellation_token();
                tracker.spawn(async move {
                    token.cancelled().await;
                    if let Some(released) = released {
                        let _ = released.await; // a slow goodbye
                    }
                    finished.store(true, Ordering::SeqCst);
                });
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .handle();
    gov.start().unwrap();
    until(h, || tracker.len() == 1).await;
    assert!(handle.stop());
    until(h, || tracker.is_closed()).await;
    h.settle().await;
    let server = &gov.report().services[0];
    assert_eq!(
        server.state,
        ServiceState::Stopping,
        "the tracker holds the run"
    );
    assert_eq!(tracker.len(), 1);
    release.send(()).unwrap();
    let report = handle.wait().await;
    assert!(
        finished.load(Ordering::SeqCst),
        "the run ended after its tracker"
    );
    assert!(tracker.is_empty());
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert!(!report.timed_out);
    assert!(
        report.aborted_tasks.is_empty(),
        "{:?}",
        report.aborted_tasks
    );
}

/// A tracker whose task ignores the stop holds the run until the
/// service's shutdown timeout, exactly (within the real-time slack); then
/// the run is aborted, its report names the tracker, and the task is left
/// running (a tracker cannot abort it).
async fn tracker_past_the_timeout_is_named_and_left_running<H: Harness>(h: &H) {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let tracker = TaskTracker::new();
    let gov = h.governor();
    let in_run = tracker.clone();
    let handle = gov
        .add("server", move |ctx: ServiceCtx| {
            let tracker = in_run.clone();
            async move {
                ctx.drain_tracker("connections", &tracker);
                tracker.spawn(std::future::pending::<()>()); // deaf to the stop
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .shutdown_timeout(TIMEOUT)
        .handle();
    gov.start().unwrap();
    until(h, || tracker.len() == 1).await;
    let runtime = h.runtime();
    let begin = runtime.now();
    assert!(handle.stop());
    let report = handle.wait().await;
    assert_elapsed(h, runtime.now() - begin, TIMEOUT);
    assert!(report.timed_out);
    assert_eq!(report.last_outcome, Some(Outcome::Aborted));
    let named: Vec<&str> = report.aborted_tasks.iter().map(|n| &**n).collect();
    assert_eq!(named, ["connections"]);
    assert_eq!(tracker.len(), 1, "left running: a tracker holds no handle");
}

/// A governor waited for by the program's own tracker (tokio's graceful
/// shutdown pattern): the closed tracker's `wait` does not complete while
/// the governor runs, nor while a service is still stopping after the
/// program's token started the shutdown; it does once the shutdown is
/// complete, and the governor is no longer counted when
/// `wait_for_shutdown` returns. A governor complete already is not
/// counted at all.
async fn tracker_waits_for_the_governors_shutdown<H: Harness>(h: &H) {
    let tracker = TaskTracker::new();
    let program = CancellationToken::new();
    let (release, released) = oneshot::channel::<()>();
    let released = Mutex::new(Some(released));
    let gov = h.governor().shutdown_timeout(STOP_TIMEOUT);
    gov.shutdown_on_cancel(program.clone());
    gov.tracked_by(&tracker);
    gov.add("slow", move |ctx: ServiceCtx| {
        let released = released.lock().unwrap().take();
        async move {
            ctx.wait_for_stop().await;
            if let Some(released) = released {
                let _ = released.await; // a slow stop
            }
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    h.settle().await;
    tracker.close();
    assert_eq!(tracker.len(), 1, "the governor is one task");
    let mut wait = Box::pin(tracker.wait());
    assert!(futures_util::FutureExt::now_or_never(wait.as_mut()).is_none());
    program.cancel();
    until(h, || gov.stopping()).await;
    h.settle().await;
    assert!(
        futures_util::FutureExt::now_or_never(wait.as_mut()).is_none(),
        "`slow` is still stopping"
    );
    release.send(()).unwrap();
    let report = gov.wait_for_shutdown().await;
    assert!(
        tracker.is_empty(),
        "no longer counted once the shutdown is complete"
    );
    wait.await;
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
    assert_eq!(report.services[0].last_outcome, Some(Outcome::Completed));

    let late = TaskTracker::new();
    gov.tracked_by(&late);
    assert!(late.is_empty(), "complete already: not counted");
}

macro_rules! cases {
    ($runtime:ident, $make:expr) => {
        mod $runtime {
            use super::*;
            #[test]
            fn run_token_cancels_at_the_runs_stop() {
                let h = $make;
                run_case(
                    &h,
                    "run_token_cancels_at_the_runs_stop",
                    super::run_token_cancels_at_the_runs_stop(&h),
                );
            }
            #[test]
            fn run_token_cancels_when_the_run_ends() {
                let h = $make;
                run_case(
                    &h,
                    "run_token_cancels_when_the_run_ends",
                    super::run_token_cancels_when_the_run_ends(&h),
                );
            }
            #[test]
            fn governor_token_cancels_when_shutdown_begins() {
                let h = $make;
                run_case(
                    &h,
                    "governor_token_cancels_when_shutdown_begins",
                    super::governor_token_cancels_when_shutdown_begins(&h),
                );
            }
            #[test]
            fn cancelled_token_shuts_the_governor_down() {
                let h = $make;
                run_case(
                    &h,
                    "cancelled_token_shuts_the_governor_down",
                    super::cancelled_token_shuts_the_governor_down(&h),
                );
            }
            #[test]
            fn tracker_is_drained_within_the_runs_stop() {
                let h = $make;
                run_case(
                    &h,
                    "tracker_is_drained_within_the_runs_stop",
                    super::tracker_is_drained_within_the_runs_stop(&h),
                );
            }
            #[test]
            fn tracker_past_the_timeout_is_named_and_left_running() {
                let h = $make;
                run_case(
                    &h,
                    "tracker_past_the_timeout_is_named_and_left_running",
                    super::tracker_past_the_timeout_is_named_and_left_running(&h),
                );
            }
            #[test]
            fn tracker_waits_for_the_governors_shutdown() {
                let h = $make;
                run_case(
                    &h,
                    "tracker_waits_for_the_governors_shutdown",
                    super::tracker_waits_for_the_governors_shutdown(&h),
                );
            }
        }
    };
}

cases!(tokio_current_thread, TokioCurrentThread::new());
cases!(tokio_multi_thread, TokioMultiThread::new());
