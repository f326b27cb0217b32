//! The demo's services, written once against `governor_core` alone:
//! nothing here knows which runtime drives it, and `main.rs` runs the same
//! services on tokio, smol or async-std.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor_core::{
    Backoff, Governor, Report, RestartPolicy, ServiceCtx, ServiceError, ServiceResult,
};

/// Adds the demo's services to `gov`:
///
/// - `config`: "loads the configuration" for a moment, then reports ready;
/// - `ticker`: logs a tick every second (async);
/// - `echo-server`: a loopback TCP echo server on blocking `std::net`,
///   unblocked by its stop hook; starts once `config` is ready;
/// - `echo-client`: sends a line to the server every second and checks the
///   echo (blocking); starts after `echo-server`, stops before it;
/// - `flaky`: fails, panics or completes in turn after a short while, and
///   is restarted with exponential backoff (0.5 s, 1 s, 2 s, … up to 8 s);
/// - `wedged`: sends heartbeats for 2 s, then hangs (an await that never
///   ends and ignores its stop); its 1 s watchdog declares it hung, it is
///   aborted a second later and restarted by its `on_failure` policy.
///
/// At shutdown the chain stops in reverse: echo-client, echo-server,
/// config; each blocking service gets 5 s to stop before it is abandoned.
pub fn add_demo_services(gov: &Governor) -> Result<(), Box<dyn std::error::Error>> {
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0")?);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "echo server will listen");
    gov.add("config", config)?.notify_ready().critical();
    gov.add("ticker", ticker)?;
    gov.add_blocking("echo-server", echo_server(listener))?
        .depends_on(["config"])
        .restart(Duration::from_secs(1))
        .shutdown_timeout(Duration::from_secs(5));
    gov.add_blocking("echo-client", echo_client(addr))?
        .depends_on(["echo-server"])
        .restart(Duration::from_secs(1))
        .shutdown_timeout(Duration::from_secs(5));
    gov.add("flaky", flaky())?.restart_policy(
        RestartPolicy::always(Duration::ZERO).backoff(
            Backoff::new(Duration::from_millis(500), Duration::from_secs(8))
                .jitter(0.2)
                .reset_after(Duration::from_secs(30)),
        ),
    );
    gov.add("wedged", wedged)?
        .watchdog(Duration::from_secs(1))
        .shutdown_timeout(Duration::from_secs(1))
        .restart_policy(RestartPolicy::on_failure(Duration::from_millis(500)));
    if std::env::var_os("GOVERNOR_DEMO_LINGER").is_some() {
        gov.add("linger", linger)?
            .shutdown_timeout(Duration::from_secs(20));
    }
    Ok(())
}

/// Says the demo runs (the end-to-end tests wait for this line).
pub fn announce(gov: &Governor) {
    println!(
        "demo: running {} services; press Ctrl-C to stop",
        gov.report().services.len()
    );
}

/// Prints the closing lines, one per service, and exits with the report's
/// [`exit_code`](Report::exit_code): 0 after a clean shutdown (on a signal
/// too), 130 after a forced one (a second signal), 75 if a service had to
/// be aborted, and so on.
pub fn finish(report: &Report) -> std::process::ExitCode {
    match &report.cause {
        Some(cause) => println!("demo: shutdown ({cause})"),
        None => println!("demo: shutdown (all services ended)"),
    }
    for service in &report.services {
        println!("demo: {service}");
    }
    if report.forced {
        let aborted = report.timed_out().count();
        println!("demo: forced: {aborted} service(s) cut off");
    }
    std::process::ExitCode::from(report.exit_code())
}

async fn config(ctx: ServiceCtx) -> ServiceResult {
    ctx.log("loading configuration");
    ctx.sleep(Duration::from_millis(300)).await?;
    ctx.log("configuration loaded");
    ctx.ready();
    ctx.wait_for_stop().await;
    Ok(())
}

/// Alive for 2 s (a heartbeat every 200 ms), then stuck for good, deaf to
/// its stop: only its watchdog can tell, and only an abort ends it.
async fn wedged(ctx: ServiceCtx) -> ServiceResult {
    for _ in 0..10 {
        ctx.heartbeat();
        ctx.sleep(Duration::from_millis(200)).await?;
    }
    ctx.log(format_args!(
        "run {} wedged (no more heartbeats)",
        ctx.run()
    ));
    std::future::pending::<()>().await;
    Ok(())
}

async fn ticker(ctx: ServiceCtx) -> ServiceResult {
    let mut n = 0u64;
    loop {
        n += 1;
        ctx.log(format_args!("tick {n}"));
        ctx.sleep(Duration::from_secs(1)).await?;
    }
}

/// Serves one connection at a time. Its stop hook shuts the current
/// connection down (unblocking `read_line`) and connects to the listener
/// once (unblocking `accept`).
fn echo_server(listener: Arc<TcpListener>) -> impl FnMut(ServiceCtx) -> ServiceResult + Send {
    move |ctx| {
        let addr = listener.local_addr()?;
        let current: Arc<Mutex<Option<TcpStream>>> = Arc::default();
        let hook_current = current.clone();
        ctx.on_stop(move || {
            if let Some(stream) = hook_current.lock().unwrap().take() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        });
        while !ctx.stopping() {
            let (stream, peer) = listener.accept()?;
            if ctx.stopping() {
                break;
            }
            *current.lock().unwrap() = Some(stream.try_clone()?);
            if ctx.stopping() {
                break; // the hook may have run before the line above
            }
            tracing::debug!(%peer, "echo connection");
            let mut reader = BufReader::new(stream.try_clone()?);
            let mut writer = stream;
            let mut line = String::new();
            while reader.read_line(&mut line)? > 0 {
                writer.write_all(line.as_bytes())?;
                line.clear();
            }
            current.lock().unwrap().take();
        }
        Ok(())
    }
}

fn echo_client(addr: SocketAddr) -> impl FnMut(ServiceCtx) -> ServiceResult + Send {
    move |ctx| {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        let for_hook = stream.try_clone()?;
        ctx.on_stop(move || {
            let _ = for_hook.shutdown(Shutdown::Both);
        });
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut n = 0u64;
        while ctx.sleep_blocking(Duration::from_secs(1)).is_ok() {
            n += 1;
            writeln!(writer, "ping {n}")?;
            let mut echo = String::new();
            if reader.read_line(&mut echo)? == 0 {
                break; // the server went away, or our hook shut us down
            }
            ctx.log(format_args!("echoed {}", echo.trim_end()));
        }
        Ok(())
    }
}

/// Only with `GOVERNOR_DEMO_LINGER` set (the end-to-end tests' knob): says
/// so on stdout when asked to stop, then never stops by itself, so that the
/// shutdown lasts until a second signal forces it (or its 20 s timeout).
async fn linger(ctx: ServiceCtx) -> ServiceResult {
    ctx.wait_for_stop().await;
    println!("demo: linger: asked to stop");
    std::future::pending::<()>().await;
    Ok(())
}

/// Ends after a short while: with an error, a panic, or cleanly, in turn.
fn flaky() -> impl FnMut(
    ServiceCtx,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ServiceResult> + Send>>
       + Send {
    let mut run = 0u32;
    move |ctx| {
        run += 1;
        let this_run = run;
        Box::pin(async move {
            ctx.sleep(Duration::from_millis(1500)).await?;
            match this_run % 3 {
                1 => Err(ServiceError::msg(format!(
                    "run {this_run}: upstream timed out"
                ))),
                2 => panic!("run {this_run}: invariant violated"),
                _ => {
                    ctx.log(format_args!("run {this_run}: finished a batch"));
                    Ok(())
                }
            }
        })
    }
}
