//! Events and status: every step of every service as an `Event`, the
//! state of all of them as a `Report`, and a `ServiceHandle` to act on one.
//!
//! `on_event` replaces the default `tracing` log (call `event.log()` to
//! keep it); `observe_events` adds observers beside it (metrics, a
//! notifier, ...).

use governor_tokio::{Event, ServiceCtx, ServiceResult};

async fn worker(ctx: ServiceCtx) -> ServiceResult {
    ctx.wait_for_stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gov = governor_tokio::new()?.on_event(|event: &Event| {
        println!(
            "event: {:<8} {event} (level {})",
            event.service().unwrap_or("-"),
            event.level()
        );
    });
    gov.observe_events(|event| {
        if let Event::StopRequested { service, .. } = event {
            println!("observer: {service} was asked to stop by its handle");
        }
    });
    gov.add("a", worker)?;
    gov.add("b", worker)?;
    gov.start_wait_ready(std::time::Duration::from_secs(5))
        .await?;
    for service in gov.report().services {
        println!("status: {service}");
    }
    let b = gov.service("b")?;
    b.restart(); // a new run now
    b.stop(); // for good, alone
    println!("b: {}", b.wait().await);
    let report = gov.shutdown().await;
    print!("{report}");
    Ok(())
}
