//! Nested governors: a subsystem supervised as one service of its parent.
//!
//! The shard's `store` is critical: when it fails, the shard's governor
//! shuts down, the shard's run fails, and the parent's policy restarts
//! the whole shard (a fresh child governor, its services from scratch).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor_tokio::{Governor, RestartPolicy, ServiceCtx, ServiceError, Subtree};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store_runs = Arc::new(AtomicU32::new(0));
    let runs = store_runs.clone();
    let gov = governor_tokio::new()?;
    let shard = gov
        .add_service(
            "shard",
            Subtree::new(move |child: &Governor| {
                let runs = runs.clone();
                child
                    .add("store", move |ctx: ServiceCtx| {
                        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        async move {
                            println!("store: shard run {n}");
                            if n == 1 {
                                return Err(ServiceError::msg("disk gone"));
                            }
                            ctx.wait_for_stop().await;
                            Ok(())
                        }
                    })?
                    .critical();
                child.add("api", |ctx: ServiceCtx| async move {
                    ctx.wait_for_stop().await;
                    Ok(())
                })?;
                Ok(())
            }),
        )?
        .restart_policy(RestartPolicy::on_failure(Duration::from_millis(10)))
        .handle();
    gov.start()?;
    while store_runs.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await; // demo pacing only
    }
    println!("{}", shard.report()); // one restart of the whole shard
    let report = gov.shutdown().await;
    print!("{report}");
    Ok(())
}
