//! A hyper server run as a governor service (tokio), with hyper-util's
//! `GracefulShutdown` tied to the service's stop.
//!
//! - The listener is bound inside the service, which then reports ready.
//! - On stop (`ctx.wait_for_stop_owned()`), the accept loop ends and the
//!   listener is dropped (new connections are refused), then every
//!   connection is told to shut down gracefully: requests in flight
//!   finish, idle keep-alive connections close.
//! - The service's shutdown timeout bounds the drain.
//!
//! Same interface as `http_axum`: `ADDR`, `SLOW_MS`; prints
//! `listening on ADDR`, `request /slow`, `stopping`; exit code 0 for a
//! clean shutdown.

use std::convert::Infallible;
use std::time::Duration;

use governor_tokio::{ServiceCtx, ServiceResult};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

async fn handle(
    req: Request<Incoming>,
    slow: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.uri().path() {
        "/slow" => {
            println!("request /slow");
            tokio::time::sleep(slow).await;
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
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    ctx.on_stop(|| println!("stopping"));
    ctx.ready();
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(ctx.wait_for_stop_owned());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| handle(req, slow)),
                );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut stop => break,
        }
    }
    drop(listener); // refuse new connections while the others drain
    graceful.shutdown().await;
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
