//! A program for the systemd end-to-end tests (`tests/tests/systemd.rs`),
//! run by this crate's examples `tokio-systemd`, `smol-systemd` and
//! `async-std-systemd` (each hands it its adapter's `run`, which notifies
//! systemd when built with this crate's `systemd` feature, which turns on
//! the adapters', and `NOTIFY_SOCKET` is set).
//!
//! - `web` reports ready after 300 ms (never, with
//!   `SYSTEMD_DEMO_NEVER_READY` set), then runs until asked to stop;
//! - `flaky` fails its first run at once and is restarted after 200 ms;
//! - `slow` (blocking) takes 3.5 s to stop, within its 10 s shutdown
//!   timeout: a long shutdown that keeps its timeouts;
//! - an event hook of its own prints the end of the shutdown;
//! - with `SYSTEMD_DEMO_FREEZE_MS=n`, `freeze` blocks its runtime thread
//!   for good n ms after it starts (printing `systemd-demo: freezing`
//!   first): the governor is then stuck on a one-thread runtime;
//! - with `SYSTEMD_DEMO_RELOAD` set, SIGHUP reloads (the daemon's
//!   convention) and `web` prints `systemd-demo: web reloaded <n>` for
//!   each reload it receives;
//! - with `SYSTEMD_DEMO_BUDGET_MS=n`, the whole shutdown has a budget of
//!   n ms (`Governor::shutdown_budget`);
//! - with `SYSTEMD_DEMO_UNHEALTHY_MS=n`, `sick` declares itself unhealthy
//!   n ms after it starts (printing `systemd-demo: unhealthy`).

use std::fmt::Display;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor_core::{
    Error, Event, Governor, Health, Report, ServiceCtx, ServiceError, Signal, SignalAction,
};

/// How long `slow` takes to stop once asked to.
pub const SLOW_STOP: Duration = Duration::from_millis(3500);

/// Adds the services described above, and an event hook of the program's
/// own, which the systemd notifier must not replace: it prints
/// `systemd-demo: hook: shutdown complete` at the end.
pub fn setup(gov: &Governor) -> Result<(), Error> {
    let _ = gov.clone().on_event(|event| {
        if matches!(event, Event::ShutdownComplete { .. }) {
            println!("systemd-demo: hook: shutdown complete");
        }
    });
    let never_ready = std::env::var_os("SYSTEMD_DEMO_NEVER_READY").is_some();
    if let Some(ms) = std::env::var("SYSTEMD_DEMO_BUDGET_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        let _ = gov.clone().shutdown_budget(Duration::from_millis(ms));
    }
    if std::env::var_os("SYSTEMD_DEMO_RELOAD").is_some() {
        let _ = gov.clone().on_signal(Signal::Hangup, SignalAction::Reload);
    }
    gov.add("web", move |ctx: ServiceCtx| async move {
        ctx.sleep(Duration::from_millis(300)).await?;
        if !never_ready {
            ctx.ready();
            println!("systemd-demo: web ready");
        }
        // Each reload, until the stop (which ends the wait).
        while let Ok(n) = ctx.reloaded().await {
            println!("systemd-demo: web reloaded {n}");
        }
        Ok(())
    })?
    .notify_ready();
    let failed = Arc::new(AtomicBool::new(false));
    gov.add("flaky", move |ctx: ServiceCtx| {
        let first = !failed.swap(true, Ordering::Relaxed);
        async move {
            if first {
                return Err(ServiceError::msg("the first run fails"));
            }
            ctx.wait_for_stop().await;
            Ok(())
        }
    })?
    .restart(Duration::from_millis(200));
    gov.add_blocking("slow", |ctx: ServiceCtx| {
        while ctx.sleep_blocking(Duration::from_secs(3600)).is_ok() {}
        std::thread::sleep(SLOW_STOP); // a long, legitimate stop
        Ok(())
    })?
    .shutdown_timeout(Duration::from_secs(10));
    if let Some(ms) = std::env::var("SYSTEMD_DEMO_UNHEALTHY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        gov.add("sick", move |ctx: ServiceCtx| async move {
            ctx.sleep(Duration::from_millis(ms)).await?;
            ctx.set_health(Health::unhealthy("the demo says so"));
            println!("systemd-demo: unhealthy");
            ctx.wait_for_stop().await;
            Ok(())
        })?;
    }
    if let Some(ms) = std::env::var("SYSTEMD_DEMO_FREEZE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        gov.add("freeze", move |ctx: ServiceCtx| async move {
            ctx.sleep(Duration::from_millis(ms)).await?;
            println!("systemd-demo: freezing");
            // Blocks the runtime thread this task runs on, for good.
            std::thread::sleep(Duration::from_secs(3600));
            Ok(())
        })?;
    }
    Ok(())
}

/// Runs the program with an adapter's `run`; exits 0 after a clean
/// shutdown.
pub fn main_with<E: Display>(
    run: impl FnOnce(fn(&Governor) -> Result<(), Error>) -> Result<Report, E>,
) -> ExitCode {
    match run(setup) {
        Ok(report) if report.is_clean() => ExitCode::SUCCESS,
        Ok(report) => {
            print!("systemd-demo: {report}");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("systemd-demo: run failed: {e}");
            ExitCode::FAILURE
        }
    }
}
