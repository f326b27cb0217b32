//! Policy on the paths the other cases do not walk: a forced shutdown
//! that comes before a run's stop began, a critical service that ends
//! well, a handle's restart of a run that ignores its stop, settings
//! changed after start, restart decisions and their log level over many
//! restarts, and events that follow the record they describe.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{select, Either};
use governor_core::{
    Backoff, Event, Governor, Outcome, RestartPolicy, ServiceCtx, ServiceError, ServiceHandle,
    ServiceResult, ServiceState, ShutdownCause, StopService, StopSource, StopToken,
};

use super::seed::{idle, quick, state_of, IdleFut};
use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, until, Journal};

const MS: Duration = Duration::from_millis(1);

/// A stop-hook counter.
fn hook_counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    (calls, move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })
}

/// An async service that ignores every stop request; notes
/// `"<name>:run<n>"` as each run begins.
fn deaf(journal: &Journal) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let journal = journal.clone();
    move |ctx| {
        let journal = journal.clone();
        Box::pin(async move {
            journal.note(format!("{}:run{}", ctx.name(), ctx.run()));
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

/// A forced shutdown that comes while services still wait for their
/// dependents to stop (so their own stop has not begun) still begins every
/// run's stop exactly once — token cancelled, stop hooks called once, stop
/// recorded — and only then aborts (async) or abandons (blocking) it: a
/// blocking run looping on `sleep_blocking` ends.
#[cfg(feature = "std")]
pub async fn forced_shutdown_still_stops_every_run_once<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let db_token: Arc<Mutex<Option<StopToken>>> = Arc::default();
    let (db_hooks, db_hook) = hook_counter();
    let (cache_hooks, cache_hook) = hook_counter();
    let (api_hooks, api_hook) = hook_counter();
    let (jj, kept) = (j.clone(), db_token.clone());
    gov.add_blocking("db", move |ctx| {
        *kept.lock().unwrap() = Some(ctx.token().clone());
        jj.note("db:start");
        while ctx.sleep_blocking(10 * MS).is_ok() {}
        jj.note("db:exit");
        Ok(())
    })
    .unwrap()
    .on_stop(db_hook);
    gov.add("cache", idle(&j)).unwrap().on_stop(cache_hook);
    gov.add("api", deaf(&j))
        .unwrap()
        .depends_on(["db", "cache"])
        .on_stop(api_hook);
    gov.start().unwrap();
    for note in ["db:start", "cache:start", "api:run1"] {
        notes.until(note).await;
    }
    gov.request_shutdown();
    until(h, || state_of(&gov, "api") == ServiceState::Stopping).await;
    h.settle().await;
    for name in ["db", "cache"] {
        assert_eq!(
            state_of(&gov, name),
            ServiceState::Ready,
            "{name} waits for 'api' to stop"
        );
    }
    gov.force_shutdown();
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    for (name, calls) in [
        ("db", &db_hooks),
        ("cache", &cache_hooks),
        ("api", &api_hooks),
    ] {
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "{name}'s stop hooks are called once, forced or not"
        );
        assert!(
            report.service(name).unwrap().stop_time.is_some(),
            "{name}'s stop is recorded"
        );
    }
    let token = db_token.lock().unwrap().clone().unwrap();
    assert!(token.stopping(), "db's run token is cancelled");
    notes.until("db:exit").await; // the blocking loop ends
    let outcome = |name: &str| report.service(name).unwrap().last_outcome.clone();
    assert_eq!(outcome("db"), Some(Outcome::Abandoned));
    assert_eq!(outcome("cache"), Some(Outcome::Aborted));
    assert_eq!(outcome("api"), Some(Outcome::Aborted));
    h.settle().await;
    assert_eq!(
        (
            db_hooks.load(Ordering::SeqCst),
            cache_hooks.load(Ordering::SeqCst),
            api_hooks.load(Ordering::SeqCst)
        ),
        (1, 1, 1),
        "and never again"
    );
}

/// A critical service is OTP's significant child: its clean end (`Ok`,
/// `StopService`) shuts the governor down cleanly, the cause naming it;
/// its failure, panic or giving up shuts it down as a failure.
pub async fn critical_service_ending_well_shuts_down_cleanly<H: Harness>(h: &H) {
    async fn ends<H: Harness>(
        h: &H,
        result: fn() -> ServiceResult,
        policy: RestartPolicy,
    ) -> governor_core::Report {
        let (j, mut notes) = journal();
        let gov = h.governor();
        gov.add("server", idle(&j)).unwrap();
        gov.add("migrations", quick(&j, result))
            .unwrap()
            .critical()
            .restart_policy(policy);
        gov.start().unwrap();
        notes.until("server:start").await;
        let report = gov.wait_for_shutdown().await;
        assert_eq!(
            report.cause,
            Some(ShutdownCause::Critical {
                service: "migrations".into()
            })
        );
        assert_eq!(
            report.service("server").unwrap().last_outcome,
            Some(Outcome::Completed)
        );
        report
    }
    let never = RestartPolicy::never();
    let ok = ends(h, || Ok(()), never).await;
    assert!(ok.is_clean(), "a clean end is a clean shutdown:\n{ok}");
    let stop = ends(h, || Err(StopService.into()), never).await;
    assert!(stop.is_clean(), "StopService is a clean end:\n{stop}");
    let failed = ends(h, || Err(ServiceError::msg("bad schema")), never).await;
    assert!(!failed.is_clean(), "a failure is not:\n{failed}");
    let panicked = ends(h, || panic!("bad schema"), never).await;
    assert!(!panicked.is_clean(), "a panic is not:\n{panicked}");
    let gave_up = ends(
        h,
        || Err(ServiceError::msg("bad schema")),
        RestartPolicy::always(Duration::ZERO).limit(1, Duration::from_secs(3600)),
    )
    .await;
    let migrations = gave_up.service("migrations").unwrap();
    assert_eq!(
        (migrations.state, migrations.runs),
        (ServiceState::GaveUp, 2)
    );
    assert!(!gave_up.is_clean(), "giving up is not:\n{gave_up}");
}

/// `ServiceHandle::restart` restarts, whatever the policy, even a run that
/// ignores its stop: it is aborted at its shutdown timeout and the next run
/// begins; a critical service restarted so does not shut the governor
/// down. A blocking run cannot be taken back from its thread: abandoned,
/// it ends the service for good.
#[cfg(feature = "std")]
pub async fn handle_restart_survives_an_abort<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let handle = gov
        .add("deaf", deaf(&j))
        .unwrap()
        .no_restart()
        .critical()
        .shutdown_timeout(100 * MS)
        .handle();
    let (release, parked) = std::sync::mpsc::channel::<()>();
    let parked = Mutex::new(parked);
    let jj = j.clone();
    let stuck = gov
        .add_blocking("stuck", move |_ctx| {
            jj.note("stuck:start");
            let _ = parked.lock().unwrap().recv();
            Ok(())
        })
        .unwrap()
        .restart(Duration::ZERO)
        .shutdown_timeout(100 * MS)
        .handle();
    gov.start().unwrap();
    notes.until("deaf:run1").await;
    notes.until("stuck:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    assert!(handle.restart());
    {
        let rerun = std::pin::pin!(notes.until("deaf:run2"));
        let token = gov.token();
        let down = std::pin::pin!(token.wait_for_stop());
        if let Either::Right(_) = select(rerun, down).await {
            panic!(
                "the governor shut down instead of restarting:\n{}",
                gov.report()
            );
        }
    }
    assert_elapsed(h, runtime.now() - begin, 100 * MS);
    let report = handle.report();
    assert_eq!((report.runs, report.restarts), (2, 1));
    assert_eq!(report.last_outcome, Some(Outcome::Aborted));
    assert!(report.timed_out);
    assert!(!gov.stopping());

    assert!(stuck.restart());
    let stuck_report = stuck.wait().await;
    assert_eq!(
        (stuck_report.state, stuck_report.runs),
        (ServiceState::Ended, 1)
    );
    assert_eq!(stuck_report.last_outcome, Some(Outcome::Abandoned));
    assert!(!gov.stopping(), "stuck is not critical");
    let _ = release.send(());
    gov.force_shutdown();
    gov.wait_for_shutdown().await;
}

/// A restart policy and a shutdown timeout set through `ServiceConfig`
/// after the service started apply from its next decision: the next
/// restart decision, the next stop.
pub async fn settings_changed_after_start_apply<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    // A long default timeout, so that the case fails rather than hangs if
    // the service's own is ignored.
    let gov = h.governor().shutdown_timeout(Duration::from_secs(60));
    let latch = StopSource::new();
    let (jj, fail) = (j.clone(), latch.clone());
    let config = gov
        .add("svc", move |ctx| {
            let (j, fail) = (jj.clone(), fail.clone());
            async move {
                j.note(format!("svc:run{}", ctx.run()));
                if ctx.run() == 1 {
                    fail.wait_for_stop().await;
                    return Err(ServiceError::msg("run 1 failed"));
                }
                std::future::pending::<()>().await; // ignores its stop
                Ok(())
            }
        })
        .unwrap()
        .no_restart();
    let handle = config.handle();
    gov.start().unwrap();
    notes.until("svc:run1").await;
    let _config = config
        .restart_policy(RestartPolicy::on_failure(Duration::ZERO))
        .shutdown_timeout(100 * MS);
    assert!(latch.stop());
    {
        let rerun = std::pin::pin!(notes.until("svc:run2"));
        let ended = std::pin::pin!(handle.wait());
        if let Either::Right((report, _)) = select(rerun, ended).await {
            panic!("the restart policy set after start was ignored: {report}");
        }
    }
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, runtime.now() - begin, 100 * MS);
    let svc = report.service("svc").unwrap();
    assert_eq!((svc.runs, svc.timed_out), (2, true));
    assert_eq!(svc.last_outcome, Some(Outcome::Aborted));
}

/// A restart decision costs the same after any number of restarts (a
/// delay that cannot grow is not stepped through attempt by attempt), and
/// `RestartScheduled` is logged at WARN for trouble — a backoff that has
/// grown, a restart limit more than half used — not for the number of
/// restarts: a fixed delay restarting forever stays at INFO.
pub async fn restart_decisions_are_constant_time_and_logged_by_trouble<H: Harness>(h: &H) {
    for backoff in [
        Backoff::new(Duration::ZERO, Duration::from_secs(1)),
        Backoff::new(Duration::ZERO, Duration::from_secs(1)).factor(1.0),
        Backoff::new(100 * MS, Duration::from_secs(1)).factor(1.0),
    ] {
        let begin = Instant::now();
        let delay = backoff.nominal(u32::MAX);
        let took = begin.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "nominal(u32::MAX) took {took:?} for {backoff:?}"
        );
        assert!(delay <= Duration::from_secs(1));
    }
    assert_eq!(
        Backoff::new(100 * MS, Duration::from_secs(1)).nominal(u32::MAX),
        Duration::from_secs(1)
    );

    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let gov = h
        .governor()
        .on_event(move |e| sink.lock().unwrap().push(e.clone()));
    let (j, mut notes) = journal();
    let fails = || Err(ServiceError::msg("again"));
    gov.add("steady", super::seed::ends_n_times(&j, 6, fails))
        .unwrap()
        .restart(MS);
    gov.add("spiral", super::seed::ends_n_times(&j, 4, fails))
        .unwrap()
        .restart_policy(RestartPolicy::always(Duration::ZERO).backoff(Backoff::new(MS, 8 * MS)));
    gov.add("limited", super::seed::ends_n_times(&j, 4, fails))
        .unwrap()
        .restart_policy(RestartPolicy::always(MS).limit(4, Duration::from_secs(3600)));
    gov.start().unwrap();
    for note in ["steady:run7", "spiral:run5", "limited:run5"] {
        notes.until(note).await;
    }
    gov.shutdown().await;
    let levels = |name: &str| -> Vec<String> {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.service() == Some(name))
            .filter(|e| matches!(e, Event::RestartScheduled { .. }))
            .map(|e| e.level().to_string())
            .collect()
    };
    assert_eq!(levels("steady"), ["INFO"; 6], "a fixed delay is no trouble");
    assert_eq!(
        levels("spiral"),
        ["INFO", "WARN", "WARN", "WARN"],
        "a backoff that has grown is"
    );
    assert_eq!(
        levels("limited"),
        ["INFO", "INFO", "WARN", "WARN"],
        "a limit more than half used is"
    );
}

/// `RunEnded` and `GaveUp` are emitted once the record says so: a hook
/// that reads the service's report sees the run it is told about.
pub async fn events_follow_the_record_they_describe<H: Harness>(h: &H) {
    let handle: Arc<Mutex<Option<ServiceHandle>>> = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (reader, sink) = (handle.clone(), seen.clone());
    let gov: Governor = h.governor().on_event(move |event| {
        let Some(handle) = reader.lock().unwrap().clone() else {
            return;
        };
        let report = handle.report();
        match event {
            Event::RunEnded { outcome, .. } => sink.lock().unwrap().push(format!(
                "stopped {outcome}: record {:?}",
                report.last_outcome.map(|o| o.to_string())
            )),
            Event::GaveUp { restarts, .. } => sink.lock().unwrap().push(format!(
                "gave up after {restarts}: record {} after {}",
                report.state, report.restarts
            )),
            _ => {}
        }
    });
    let (j, _notes) = journal();
    let config = gov
        .add("flaky", quick(&j, || Err(ServiceError::msg("no"))))
        .unwrap()
        .restart_policy(RestartPolicy::always(Duration::ZERO).limit(1, Duration::from_secs(3600)));
    *handle.lock().unwrap() = Some(config.handle());
    gov.start().unwrap();
    gov.wait_for_shutdown().await;
    *handle.lock().unwrap() = None; // the hook's handle keeps the governor
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "stopped failed: no: record Some(\"failed: no\")",
            "stopped failed: no: record Some(\"failed: no\")",
            "gave up after 1: record gave up after 1",
        ]
    );
}

/// `ServiceHandle::stop` returns `false` for a service that has nothing
/// left to stop: one that ended for good by itself, and one stopped
/// before it started, asked a second time.
pub async fn stop_of_an_ended_service_returns_false<H: Harness>(h: &H) {
    let gov = h.governor();
    let once = gov
        .add("once", |_ctx| async { Ok(()) })
        .unwrap()
        .no_restart()
        .handle();
    let never = gov.add("never", |_ctx| async { Ok(()) }).unwrap().handle();
    assert!(
        never.stop(),
        "a pending service is stopped by the first call"
    );
    assert!(!never.stop(), "and not a second time");
    gov.start().unwrap();
    let ended = once.wait().await;
    assert_eq!(ended.state, ServiceState::Ended);
    assert!(
        !once.stop(),
        "a service that ended by itself has nothing to stop"
    );
    assert_eq!(once.report(), ended, "and the call changed nothing");
    gov.shutdown().await;
}

/// A run whose stop is asked for while it is being polled (here by the
/// run itself, through its handle; on a real runtime, by another thread
/// at that instant) and that ends in that same poll still has its stop
/// begun: its hooks called once, its stop time recorded.
pub async fn a_stop_asked_for_during_the_runs_last_poll_still_calls_its_hooks<H: Harness>(h: &H) {
    let gov = h.governor();
    let (hooks, hook) = hook_counter();
    let me: Arc<Mutex<Option<ServiceHandle>>> = Arc::default();
    let mine = me.clone();
    let svc = gov
        .add("quitter", move |ctx| {
            let me = mine.lock().unwrap().clone();
            async move {
                me.expect("the handle is set before start").stop();
                ctx.wait_for_stop().await; // ready at once: ends in this poll
                Ok(())
            }
        })
        .unwrap()
        .on_stop(hook)
        .handle();
    *me.lock().unwrap() = Some(svc.clone());
    gov.start().unwrap();
    let report = svc.wait().await;
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert_eq!(
        hooks.load(Ordering::SeqCst),
        1,
        "the stop hooks of a stopped run are called once: {report}"
    );
    assert!(report.stop_time.is_some(), "its stop is recorded: {report}");
    gov.shutdown().await;
}
