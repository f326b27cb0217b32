//! Restart policies: when an ended service runs again.
//!
//! `never` (the default) leaves it ended; `on_failure` restarts errors and
//! panics but not a clean return; `always` restarts both. A service that
//! returns `StopService` is never restarted, whatever its policy.

use std::time::Duration;

use governor_tokio::{RestartPolicy, ServiceCtx, ServiceError, ServiceResult, StopService};

const SOON: Duration = Duration::from_millis(10);

/// Fails on its first two runs, then returns cleanly.
async fn flaky(ctx: ServiceCtx) -> ServiceResult {
    println!("flaky: run {}", ctx.run());
    if ctx.run() < 3 {
        return Err(ServiceError::msg("not yet"));
    }
    Ok(())
}

/// Returns cleanly three times, then ends for good with `StopService`.
async fn ticker(ctx: ServiceCtx) -> ServiceResult {
    println!("ticker: run {}", ctx.run());
    if ctx.run() == 3 {
        return Err(StopService.into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gov = governor_tokio::new()?;
    gov.add("once", |_ctx: ServiceCtx| async { Ok(()) })?; // never restarted
    gov.add("flaky", flaky)?
        .restart_policy(RestartPolicy::on_failure(SOON));
    gov.add("ticker", ticker)?
        .restart_policy(RestartPolicy::always(SOON));
    gov.start()?;
    let report = gov.wait_for_shutdown().await; // every service ended for good
    print!("{report}");
    Ok(())
}
