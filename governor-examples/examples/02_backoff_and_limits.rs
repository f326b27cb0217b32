//! Backoff and restart limits: how soon a failing service runs again, and
//! what happens when it fails too often.
//!
//! The delay doubles from 10 ms (10, 20, 40, ...); after 3 restarts within
//! a minute the service gives up (`Escalation::GiveUp`, the default) and
//! the others carry on. `Escalation::Shutdown` would stop the governor.

use std::time::Duration;

use governor_tokio::{
    Backoff, Event, RestartPolicy, ServiceCtx, ServiceError, ServiceResult, ServiceState,
};

async fn always_fails(ctx: ServiceCtx) -> ServiceResult {
    Err(ServiceError::msg(format!("run {} failed", ctx.run())))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gov = governor_tokio::new()?.on_event(|event| {
        if let Event::RestartScheduled { delay, attempt, .. } = event {
            println!("restart {attempt} in {delay:?}");
        }
    });
    let failing = gov
        .add("failing", always_fails)?
        .restart_policy(
            RestartPolicy::on_failure(Duration::ZERO)
                .backoff(
                    Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).factor(2.0),
                )
                .limit(3, Duration::from_secs(60)),
        )
        .handle();
    gov.start()?;
    let last = failing.wait().await;
    assert_eq!(last.state, ServiceState::GaveUp);
    println!("{last}");
    Ok(())
}
