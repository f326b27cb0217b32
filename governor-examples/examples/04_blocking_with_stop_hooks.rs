//! A blocking service with a stop hook: a thread parked in a blocking call
//! that does not watch the stop token is woken by a hook the governor
//! calls when the service is asked to stop.
//!
//! Here the blocking call is a channel `recv`; in real code, a socket
//! read (shut the socket down in the hook) or a library's run loop (call
//! its stop function). `shutdown_timeout` bounds it anyway: a blocking run
//! that still does not return is abandoned.

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use governor_tokio::{ServiceCtx, ServiceResult};

fn worker(ctx: ServiceCtx) -> ServiceResult {
    let (wake, woken) = mpsc::channel::<&'static str>();
    let wake = Mutex::new(wake);
    ctx.on_stop(move || {
        let _ = wake.lock().unwrap().send("stop");
    });
    println!("worker: blocked in recv");
    let got = woken.recv().unwrap_or("closed");
    println!("worker: woken by {got:?}, returning");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    let gov = governor_tokio::with_handle(runtime.handle().clone())
        .shutdown_timeout(Duration::from_secs(5));
    gov.add_blocking("worker", worker)?;
    gov.start()?;
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_millis(50)).await; // let it block
        let report = gov.shutdown().await;
        print!("{report}");
        assert!(report.is_clean(), "stopped by its hook, not abandoned");
    });
    Ok(())
}
