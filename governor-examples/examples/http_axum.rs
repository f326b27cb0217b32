//! An axum server run as a governor service (tokio).
//!
//! - The listener is bound inside the service, which then reports ready
//!   (`notify_ready` + `ctx.ready()`): dependents and `wait_ready` wait
//!   for a server that accepts connections.
//! - `with_graceful_shutdown(ctx.wait_for_stop_owned())`: at SIGTERM (or
//!   Ctrl-C) the server stops accepting, lets requests in flight finish
//!   and closes idle keep-alive connections.
//! - The service's shutdown timeout bounds that drain: a request still
//!   running then is cut off, and the report says the service timed out.
//!
//! `ADDR` (default `127.0.0.1:0`) is where it listens; `SLOW_MS` (default
//! 1500) how long `GET /slow` takes. It prints `listening on ADDR` once
//! bound, `request /slow` as a slow request begins and `stopping` when
//! asked to stop; the exit code is 0 for a clean shutdown.
//!
//! `cargo run -p governor-examples --example http_axum`, then
//! `curl http://ADDR/slow` and Ctrl-C while it runs.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use governor_tokio::{ServiceCtx, ServiceResult};

/// How long the whole drain may take before the server is cut off.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The body of `GET /slow`: long enough to be sent in several writes.
fn slow_body() -> String {
    "governor ".repeat(8 * 1024)
}

async fn web(ctx: ServiceCtx) -> ServiceResult {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let slow = Duration::from_millis(
        std::env::var("SLOW_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(1500),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    ctx.on_stop(|| println!("stopping"));
    ctx.ready();
    let app = Router::new().route("/", get(|| async { "hello\n" })).route(
        "/slow",
        get(move || async move {
            println!("request /slow");
            tokio::time::sleep(slow).await;
            slow_body()
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(ctx.wait_for_stop_owned())
        .await?;
    Ok(())
}

fn main() -> Result<(), governor_tokio::RunError> {
    let report = governor_tokio::run(|gov| {
        gov.add("web", web)?
            .notify_ready()
            .shutdown_timeout(SHUTDOWN_TIMEOUT);
        Ok(())
    })?;
    print!("{report}");
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}
