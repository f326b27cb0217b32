//! Dependencies and readiness: `api` starts once `database` says it is
//! ready, and stops before it.
//!
//! `notify_ready` makes the governor wait for `ctx.ready()` (a service
//! without it is ready as soon as its run begins); `start_wait_ready`
//! returns once every service started is ready, or names the laggard.

use std::time::Duration;

use governor_tokio::{ServiceCtx, ServiceResult};

async fn database(ctx: ServiceCtx) -> ServiceResult {
    println!("database: opening");
    ctx.sleep(Duration::from_millis(50)).await?; // connecting...
    ctx.ready();
    println!("database: ready");
    ctx.wait_for_stop().await;
    println!("database: closed (after api)");
    Ok(())
}

async fn api(ctx: ServiceCtx) -> ServiceResult {
    println!("api: serving (database is ready)");
    ctx.wait_for_stop().await;
    println!("api: stopped");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gov = governor_tokio::new()?;
    gov.add("database", database)?.notify_ready();
    gov.add("api", api)?.depends_on(["database"]);
    gov.start_wait_ready(Duration::from_secs(5)).await?;
    println!("main: everything is ready");
    let report = gov.shutdown().await; // api stops first, then database
    print!("{report}");
    Ok(())
}
