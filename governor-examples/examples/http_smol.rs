//! An HTTP server on smol, run as a governor service: hyper, which is
//! runtime-free (it is given its IO and executor), over smol's `TcpListener`
//! through `smol-hyper`'s adapters (from the smol-rs project), with
//! hyper-util's `GracefulShutdown` (which needs only tokio's `sync`
//! channels, no tokio runtime) tied to the service's stop.
//!
//! Why hyper rather than a server crate made for smol: the well-kept
//! runtime-free servers are hyper and the blocking `tiny_http`; the
//! async-std/smol-native `async-h1` (http-rs) has seen no release in
//! years. hyper is the same engine as the tokio examples, so the three
//! behave alike.
//!
//! Same interface as `http_axum`: `ADDR`, `SLOW_MS`; prints
//! `listening on ADDR`, `request /slow`, `stopping`; exit code 0 for a
//! clean shutdown.

use std::convert::Infallible;
use std::time::Duration;

use governor_smol::{ServiceCtx, ServiceResult};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::server::graceful::GracefulShutdown;
use smol_hyper::rt::FuturesIo;

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

async fn handle(
    req: Request<Incoming>,
    slow: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/slow" => {
            println!("request /slow");
            smol::Timer::after(slow).await;
            "governor ".repeat(8 * 1024)
        }
        _ => "hello\n".to_string(),
    };
    Ok(Response::new(Full::new(Bytes::from(body))))
}

async fn web(ctx: ServiceCtx) -> ServiceResult {
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let slow = Duration::from_millis(
        std::env::var("SLOW_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(1500),
    );
    let listener = smol::net::TcpListener::bind(addr.as_str()).await?;
    println!("listening on {}", listener.local_addr()?);
    ctx.on_stop(|| println!("stopping"));
    ctx.ready();
    let graceful = GracefulShutdown::new();
    // Accept until the stop; `until_stop` drops the pending accept then.
    while let Ok(accepted) = ctx.until_stop(listener.accept()).await {
        let Ok((stream, _)) = accepted else { continue };
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(
            FuturesIo::new(stream),
            service_fn(move |req| handle(req, slow)),
        );
        let conn = graceful.watch(conn);
        smol::spawn(async move {
            let _ = conn.await;
        })
        .detach();
    }
    drop(listener); // refuse new connections while the others drain
    graceful.shutdown().await;
    Ok(())
}

fn main() -> Result<(), governor_smol::RunError> {
    let report = governor_smol::run(|gov| {
        gov.add("web", web)?
            .notify_ready()
            .shutdown_timeout(SHUTDOWN_TIMEOUT);
        Ok(())
    })?;
    print!("{report}");
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}
