//! tokio-util interop (governor-tokio feature `tokio-util`): a
//! `CancellationToken` for a library that takes one, cancelled when the
//! run is asked to stop; and a governor shut down by a token the program
//! already has.

use std::time::Duration;

use governor_tokio::cancel::{CancellationExt, CancellationToken, ShutdownOnCancel};
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
    library_worker(ctx.cancellation_token()).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let program = CancellationToken::new(); // e.g. from a framework
    let gov = governor_tokio::new()?;
    gov.shutdown_on_cancel(program.clone());
    gov.add("library", service)?;
    gov.start()?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    program.cancel();
    let report = gov.wait_for_shutdown().await;
    print!("{report}");
    Ok(())
}
