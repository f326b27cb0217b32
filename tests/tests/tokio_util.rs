//! governor-tokio's `tokio-util` feature, both ways, on both tokio
//! schedulers: `CancellationToken`s that follow a run's or a governor's
//! stop, and a governor shut down by a `CancellationToken`.

use std::time::Duration;

use futures_channel::oneshot;
use governor_conformance::harness::Harness;
use governor_conformance::runtimes::{TokioCurrentThread, TokioMultiThread};
use governor_conformance::support::{run_case, until};
use governor_tokio::cancel::{CancellationExt, CancellationToken, ShutdownOnCancel};
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
        }
    };
}

cases!(tokio_current_thread, TokioCurrentThread::new());
cases!(tokio_multi_thread, TokioMultiThread::new());
