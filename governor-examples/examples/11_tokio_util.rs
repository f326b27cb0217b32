//! tokio-util interop (governor-tokio feature `tokio-util`): a
//! `CancellationToken` for a library that takes one, cancelled when the
//! run is asked to stop, and a `TaskTracker` the library spawns on,
//! drained as part of the run; and, the other way, a governor shut down by
//! a token the program already has and waited for by its tracker (tokio's
//! graceful-shutdown pattern).

use std::time::Duration;

use governor_tokio::cancel::{CancellationExt, CancellationToken, ShutdownOnCancel};
use governor_tokio::tracker::{DrainTracker, TaskTracker, TrackedBy};
use governor_tokio::{ServiceCtx, ServiceResult};

/// Stands for a library whose API takes a `CancellationToken`.
async fn library_worker(token: CancellationToken) {
    let mut ticks = 0;
    while !token.is_cancelled() {
        tokio::select! {
            () = token.cancelled() => {}
            () = tokio::time::sleep(Duration::from_millis(10)) => ticks += 1,
        }
    }
    println!("library: cancelled after {ticks} tick(s)");
}

async fn service(ctx: ServiceCtx) -> ServiceResult {
    // The library's tasks, on a tracker: closed at the run's stop, and the
    // run ends once they have (within its shutdown timeout).
    let tasks = TaskTracker::new();
    ctx.drain_tracker("library-tasks", &tasks);
    tasks.spawn(library_worker(ctx.cancellation_token()));
    ctx.wait_for_stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The program's own, e.g. from a framework.
    let (program, tracker) = (CancellationToken::new(), TaskTracker::new());
    let gov = governor_tokio::new()?;
    gov.shutdown_on_cancel(program.clone());
    gov.tracked_by(&tracker);
    gov.add("library", service)?;
    gov.start()?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    program.cancel();
    tracker.close();
    tracker.wait().await; // the governor's shutdown is complete
    print!("{}", gov.report());
    Ok(())
}
