//! The seed API's cases: what the Go governor promises, in Rust form.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor_core::runtime::Signal;
use governor_core::{
    Error, Interrupted, Outcome, RestartPolicy, ServiceCtx, ServiceError, ServiceResult,
    ServiceState, ShutdownCause, StopService,
};

use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, Journal};

/// A service that notes `"<name>:start"`, waits for its stop, notes
/// `"<name>:stop"` and returns `Ok`.
pub(crate) fn idle(journal: &Journal) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let journal = journal.clone();
    move |ctx| {
        let journal = journal.clone();
        Box::pin(async move {
            journal.note(format!("{}:start", ctx.name()));
            ctx.wait_for_stop().await;
            journal.note(format!("{}:stop", ctx.name()));
            Ok(())
        })
    }
}

pub(crate) type IdleFut =
    std::pin::Pin<Box<dyn std::future::Future<Output = ServiceResult> + Send>>;

/// A service that notes `"<name>:run"` and returns `result()` at once.
pub(crate) fn quick(
    journal: &Journal,
    result: impl Fn() -> ServiceResult + Send + Sync + 'static,
) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let journal = journal.clone();
    let result = Arc::new(result);
    move |ctx| {
        let journal = journal.clone();
        let result = result.clone();
        Box::pin(async move {
            journal.note(format!("{}:run", ctx.name()));
            result()
        })
    }
}

pub(crate) fn state_of(gov: &governor_core::Governor, name: &str) -> ServiceState {
    gov.report().service(name).expect("service exists").state
}

// 1. Start ------------------------------------------------------------------

/// Services run on `start()`, not on `add()`.
pub async fn services_start_on_start_not_before<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("a", idle(&j)).unwrap();
    gov.add("b", idle(&j)).unwrap();
    h.settle().await;
    assert!(notes.all().is_empty(), "nothing runs before start");
    assert_eq!(state_of(&gov, "a"), ServiceState::Pending);
    assert_eq!(gov.running(), 0);

    gov.start().unwrap();
    let mut started = vec![notes.next().await, notes.next().await];
    started.sort();
    assert_eq!(started, ["a:start", "b:start"]);
    assert_eq!(gov.running(), 2);
    assert_eq!(
        state_of(&gov, "a"),
        ServiceState::Ready,
        "ready as soon as it runs"
    );
    gov.shutdown().await;
}

/// A second `start()` starts only the services added since.
pub async fn second_start_starts_only_new_services<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("first", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("first:start").await;
    gov.add("second", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("second:start").await;
    h.settle().await;
    assert_eq!(notes.count("first:start"), 1, "started ones are unaffected");
    assert_eq!(gov.report().service("first").unwrap().runs, 1);
    let report = gov.shutdown().await;
    assert!(report
        .services
        .iter()
        .all(|s| s.state == ServiceState::Ended));
}

/// A service added after `start()` and started alone runs; others added
/// meanwhile wait for the next `start()`.
pub async fn service_added_after_start_and_started_alone_runs<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.start().unwrap();
    gov.add("later", idle(&j)).unwrap();
    gov.add("alone", idle(&j)).unwrap().start().unwrap();
    notes.until("alone:start").await;
    h.settle().await;
    assert_eq!(notes.count("later:start"), 0);
    assert_eq!(state_of(&gov, "later"), ServiceState::Pending);
    gov.start().unwrap();
    notes.until("later:start").await;
    let report = gov.shutdown().await;
    assert_eq!(
        report.service("alone").unwrap().runs,
        1,
        "start() did not rerun it"
    );
}

/// A service started and stopped at once still gets its one run (seeing
/// `stopping()` already), so its outcome is never lost to scheduling.
pub async fn started_service_runs_once_even_if_stopped_at_once<H: Harness>(h: &H) {
    let (j, notes) = journal();
    // The run may not be polled before the stop request: on a runtime with
    // worker threads it would otherwise race `shutdown()` (and rightly see
    // `stopping() == false`). So the `Started` event, emitted just before
    // the run is first polled, waits for the gate. On one thread the gate
    // is open before the service's task first runs, so it never blocks.
    let (open_gate, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    let gov = h.governor().on_event(move |event| {
        if matches!(event, governor_core::Event::RunStarted { .. }) {
            let _ = gate.lock().unwrap().recv();
        }
    });
    let jj = j.clone();
    gov.add("brief", move |ctx| {
        let j = jj.clone();
        async move {
            j.note(format!("brief:stopping={}", ctx.stopping()));
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    assert!(gov.request_shutdown());
    drop(open_gate);
    let report = gov.shutdown().await;
    let brief = report.service("brief").unwrap();
    assert_eq!(brief.runs, 1);
    assert_eq!(brief.last_outcome, Some(Outcome::Completed));
    assert_eq!(brief.state, ServiceState::Ended);
    assert_eq!(
        notes.all(),
        ["brief:stopping=true"],
        "the one run began after the stop request, so it saw stopping()"
    );
}

// 2. Shutdown ---------------------------------------------------------------

/// Shutdown cancels every token, then runs stop hooks (which see the token
/// cancelled), waits for every service, and returns only after the last
/// one has stopped.
pub async fn shutdown_cancels_runs_hooks_and_waits_for_every_service<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    for name in ["a", "b", "slow"] {
        let jj = j.clone();
        let hook_j = j.clone();
        let runtime = h.runtime();
        gov.add(name, move |ctx| {
            let j = jj.clone();
            let hook_j = hook_j.clone();
            let runtime = runtime.clone();
            async move {
                let token = ctx.token().clone();
                ctx.on_stop(move || {
                    hook_j.note(format!("hook:cancelled={}", token.stopping()));
                });
                j.note(format!("{}:start", ctx.name()));
                ctx.wait_for_stop().await;
                if ctx.name() == "slow" {
                    // Still busy for a while after the stop request.
                    runtime.sleep(Duration::from_millis(50)).await;
                }
                j.note(format!("{}:stop", ctx.name()));
                Ok(())
            }
        })
        .unwrap();
    }
    gov.start().unwrap();
    for _ in 0..3 {
        assert!(notes.next().await.ends_with(":start"));
    }
    let report = gov.shutdown().await;
    let all = notes.all();
    assert_eq!(
        all.iter().filter(|n| *n == "hook:cancelled=true").count(),
        3
    );
    assert!(!all.iter().any(|n| n == "hook:cancelled=false"));
    for name in ["a", "b", "slow"] {
        assert!(
            all.contains(&format!("{name}:stop")),
            "{name} stopped before shutdown returned"
        );
        let s = report.service(name).unwrap();
        assert_eq!(s.state, ServiceState::Ended);
        assert_eq!(s.last_outcome, Some(Outcome::Completed));
    }
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
    assert_eq!(gov.running(), 0);
}

/// A second (and a concurrent) `shutdown()` is harmless and returns the
/// same final report.
pub async fn second_shutdown_is_harmless<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("a", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start").await;
    assert!(gov.request_shutdown());
    assert!(!gov.request_shutdown(), "only the first request counts");
    let (first, second) = futures_util::join!(gov.shutdown(), gov.shutdown());
    assert_eq!(first, second);
    let third = gov.shutdown().await;
    assert_eq!(first, third);
    assert_eq!(notes.count("a:stop"), 1);
}

/// A service may shut the whole governor down and wait for it: it waits
/// for every other service, not for itself.
pub async fn shutdown_from_inside_a_service<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("other", idle(&j)).unwrap();
    let jj = j.clone();
    gov.add("boss", move |ctx| {
        let j = jj.clone();
        async move {
            j.note("boss:start");
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap();
    let jj = j.clone();
    gov.add("quitter", move |ctx| {
        let j = jj.clone();
        async move {
            let report = ctx.governor().shutdown().await;
            let others_stopped = ["other", "boss"]
                .iter()
                .all(|n| report.service(n).unwrap().state == ServiceState::Ended);
            j.note(format!("quitter:others_stopped={others_stopped}"));
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("quitter:others_stopped=true").await;
    let report = gov.wait_for_shutdown().await;
    assert!(report
        .services
        .iter()
        .all(|s| s.state == ServiceState::Ended));
    assert_eq!(
        report.service("quitter").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

// 3. Waiting ------------------------------------------------------------------

/// `wait_for_shutdown()` returns once every service has ended by itself.
pub async fn wait_returns_when_all_services_end_by_themselves<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    gov.add("one", quick(&j, || Ok(()))).unwrap();
    gov.add("two", quick(&j, || Err(ServiceError::msg("boom"))))
        .unwrap();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, None, "nobody asked for a shutdown");
    assert_eq!(
        report.service("one").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    assert!(report
        .service("two")
        .unwrap()
        .last_outcome
        .as_ref()
        .unwrap()
        .is_failure());
    assert!(!gov.stopping());
}

/// `wait_for_shutdown()` returns after a shutdown requested elsewhere.
pub async fn wait_returns_after_shutdown<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("a", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start").await;
    let trigger = gov.clone();
    let waiting = gov.wait_for_shutdown();
    let (report, ()) = futures_util::join!(waiting, async move {
        trigger.request_shutdown();
    });
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
    assert_eq!(notes.count("a:stop"), 1);
}

/// With no service started, `wait_for_shutdown()` returns at once (as in Go).
pub async fn wait_returns_at_once_without_started_services<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    let empty = gov.wait_for_shutdown().await;
    assert!(empty.services.is_empty());
    gov.add("never-started", idle(&j)).unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(
        report.service("never-started").unwrap().state,
        ServiceState::Pending
    );
}

// 4. Restart ------------------------------------------------------------------

/// Without a policy, a service that returns is not restarted.
pub async fn no_restart_by_default<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    gov.add("once", quick(&j, || Ok(()))).unwrap();
    gov.add("fails", quick(&j, || Err(ServiceError::msg("no"))))
        .unwrap();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(notes.count("once:run"), 1);
    assert_eq!(notes.count("fails:run"), 1);
    assert_eq!(report.service("once").unwrap().restarts, 0);
}

/// A counting service that ends `runs` times (returning `result`) and then
/// waits for its stop.
pub(crate) fn ends_n_times(
    journal: &Journal,
    ends: usize,
    result: fn() -> ServiceResult,
) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let journal = journal.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    move |ctx| {
        let journal = journal.clone();
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            journal.note(format!("{}:run{run}", ctx.name()));
            if run <= ends {
                return result();
            }
            ctx.wait_for_stop().await;
            Ok(())
        })
    }
}

/// The governor's default restart policy applies to every service, on
/// clean returns, errors and panics alike (the seed's rule).
pub async fn governor_default_restart_applies<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().restart(Duration::ZERO);
    gov.add("ok", ends_n_times(&j, 2, || Ok(()))).unwrap();
    gov.add("err", ends_n_times(&j, 2, || Err(ServiceError::msg("e"))))
        .unwrap();
    gov.add("panic", ends_n_times(&j, 2, || panic!("p")))
        .unwrap();
    gov.start().unwrap();
    for name in ["ok", "err", "panic"] {
        notes.until(&format!("{name}:run3")).await;
    }
    let report = gov.shutdown().await;
    for name in ["ok", "err", "panic"] {
        let s = report.service(name).unwrap();
        assert_eq!((s.runs, s.restarts), (3, 2), "{name}");
    }
}

/// A per-service `restart` or `no_restart` overrides the default.
pub async fn per_service_policy_wins_over_default<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().restart(Duration::ZERO);
    gov.add("pinned", quick(&j, || Ok(())))
        .unwrap()
        .no_restart();
    gov.add("own", ends_n_times(&j, 1, || Ok(())))
        .unwrap()
        .restart(Duration::from_millis(10));
    let plain = h.governor();
    plain
        .add("plain-own", ends_n_times(&j, 1, || Ok(())))
        .unwrap()
        .restart_policy(RestartPolicy::after(Duration::ZERO));
    gov.start().unwrap();
    plain.start().unwrap();
    notes.until("own:run2").await;
    h.settle().await;
    assert_eq!(notes.count("pinned:run"), 1, "no_restart beats the default");
    assert_eq!(state_of(&gov, "pinned"), ServiceState::Ended);
    gov.shutdown().await;
    let report = plain.shutdown().await;
    assert_eq!(
        report.service("plain-own").unwrap().runs,
        2,
        "own policy without a default"
    );
}

/// A zero delay restarts at once, many times, without starving others.
pub async fn zero_delay_restart_works<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("spin", ends_n_times(&j, 200, || Ok(())))
        .unwrap()
        .restart(Duration::ZERO);
    gov.add("neighbour", idle(&j)).unwrap();
    gov.start().unwrap();
    // The neighbour runs although `spin` restarts with zero delay…
    notes.until("neighbour:start").await;
    notes.until("spin:run201").await;
    // …and only once: nothing restarts it.
    assert_eq!(notes.count("neighbour:start"), 1);
    let report = gov.shutdown().await;
    assert_eq!(report.service("spin").unwrap().restarts, 200);
}

/// The restart delay is respected (exactly, on virtual time).
pub async fn restart_delay_is_respected<H: Harness>(h: &H) {
    let delay = Duration::from_millis(300);
    let runtime = h.runtime();
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let gov = h.governor().restart(delay);
    let (j, mut notes) = journal();
    let t = times.clone();
    let rt = runtime.clone();
    let mut inner = ends_n_times(&j, 2, || Err(ServiceError::msg("again")));
    gov.add("delayed", move |ctx| {
        t.lock().unwrap().push(rt.now());
        inner(ctx)
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("delayed:run3").await;
    let times = times.lock().unwrap().clone();
    assert_eq!(times.len(), 3);
    assert_elapsed(h, times[1] - times[0], delay);
    assert_elapsed(h, times[2] - times[1], delay);
    gov.shutdown().await;
}

/// Once shutdown is requested, nothing restarts: neither a service that
/// ends during shutdown nor one waiting out its restart delay.
pub async fn no_restart_once_shutdown_is_requested<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().restart(Duration::ZERO);
    gov.add("ends-on-stop", idle(&j)).unwrap();
    gov.add("waiting", quick(&j, || Err(ServiceError::msg("x"))))
        .unwrap()
        .restart(Duration::from_secs(3600));
    gov.start().unwrap();
    notes.until("ends-on-stop:start").await;
    notes.until("waiting:run").await;
    let report = gov.shutdown().await;
    assert_eq!(notes.count("ends-on-stop:start"), 1);
    assert_eq!(notes.count("waiting:run"), 1);
    assert!(report
        .services
        .iter()
        .all(|s| s.state == ServiceState::Ended));
}

// 5. Outcomes -----------------------------------------------------------------

/// Ok, Err, panic and stop are each recorded; a panic's message is kept.
pub async fn every_outcome_is_recorded<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    gov.add("ok", quick(&j, || Ok(()))).unwrap();
    gov.add("err", quick(&j, || Err(ServiceError::msg("disk full"))))
        .unwrap();
    gov.add("panic", quick(&j, || panic!("bad state {}", 42)))
        .unwrap();
    gov.add("stop", quick(&j, || Err(StopService.into())))
        .unwrap();
    gov.add("stopped", quick(&j, || Err(Interrupted.into())))
        .unwrap();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    let outcome = |n: &str| report.service(n).unwrap().last_outcome.clone().unwrap();
    assert_eq!(outcome("ok"), Outcome::Completed);
    assert_eq!(outcome("err").to_string(), "failed: disk full");
    assert_eq!(outcome("panic"), Outcome::Panicked("bad state 42".into()));
    assert_eq!(outcome("stop"), Outcome::StopService);
    assert_eq!(
        outcome("stopped"),
        Outcome::Completed,
        "Interrupted via ? is a clean end"
    );
    assert!(!report.is_clean());
}

/// `StopService`, returned through `?` from deep inside or thrown with
/// `panic_any`, ends the service for good despite a restart policy.
pub async fn stop_service_is_never_restarted<H: Harness>(h: &H) {
    fn deep() -> Result<(), StopService> {
        Err(StopService)
    }
    let (j, _notes) = journal();
    let gov = h.governor().restart(Duration::ZERO);
    gov.add(
        "by-question-mark",
        quick(&j, || {
            deep()?;
            Ok(())
        }),
    )
    .unwrap();
    gov.add(
        "by-panic-any",
        quick(&j, || std::panic::panic_any(StopService)),
    )
    .unwrap()
    .restart(Duration::ZERO);
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    for name in ["by-question-mark", "by-panic-any"] {
        let s = report.service(name).unwrap();
        assert_eq!(s.last_outcome, Some(Outcome::StopService), "{name}");
        assert_eq!(s.runs, 1, "{name} must not restart");
    }
    assert!(report.is_clean());
}

/// `until_stop` returns the future's output while no stop is requested,
/// and `Err(Interrupted)` (dropping the future) once one is.
pub async fn until_stopped_races_a_future_against_stop<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add("racer", move |ctx| {
        let j = jj.clone();
        async move {
            let quick = ctx.until_stop(async { 7 }).await;
            j.note(format!("racer:quick:{quick:?}"));
            let never = ctx.until_stop(std::future::pending::<()>()).await;
            j.note(format!("racer:never:{never:?}"));
            never?;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    assert_eq!(notes.next().await, "racer:quick:Ok(7)");
    let report = gov.shutdown().await;
    assert_eq!(notes.next().await, "racer:never:Err(Interrupted)");
    assert_eq!(
        report.service("racer").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

// 6. Sleep, stopping and the global token --------------------------------------

/// `sleep` ends on time when nothing happens, and early (`Err(Interrupted)`)
/// on shutdown, for the governor and for a service.
pub async fn sleep_ends_on_time_or_early_on_stop<H: Harness>(h: &H) {
    let runtime = h.runtime();
    let gov = h.governor();
    let begin = runtime.now();
    assert_eq!(gov.sleep(Duration::from_millis(200)).await, Ok(()));
    assert_elapsed(h, runtime.now() - begin, Duration::from_millis(200));

    let (j, mut notes) = journal();
    let jj = j.clone();
    gov.add("sleeper", move |ctx| {
        let j = jj.clone();
        async move {
            j.note("sleeper:short");
            ctx.sleep(Duration::from_millis(10)).await?;
            j.note("sleeper:long");
            let result = ctx.sleep(Duration::from_secs(3600)).await;
            j.note(format!("sleeper:woke:{result:?}"));
            result?;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("sleeper:long").await;
    let global = gov.clone();
    let before = runtime.now();
    let (report, slept) = futures_util::join!(
        async {
            // Let the service park in its long sleep before the request.
            h.settle().await;
            gov.shutdown().await
        },
        global.sleep(Duration::from_secs(3600))
    );
    assert_eq!(slept, Err(Interrupted));
    assert!(runtime.now() - before < Duration::from_secs(3600));
    assert_eq!(notes.all().last().unwrap(), "sleeper:woke:Err(Interrupted)");
    assert_eq!(
        report.service("sleeper").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    assert_eq!(
        gov.sleep(Duration::from_secs(1)).await,
        Err(Interrupted),
        "at once when stopped"
    );
}

/// A context reuses one timer across its sleeps (when the runtime has
/// one): a sleep dropped before its deadline does not fire into the next
/// one, two sleeps of one context at once, and a clone's, each keep their
/// own deadline, and the next sleep still wakes on stop.
pub async fn context_sleeps_dropped_raced_and_cloned<H: Harness>(h: &H) {
    let runtime = h.runtime();
    let gov = h.governor();
    let (j, mut notes) = journal();
    let (tx, rx) = futures_channel::oneshot::channel();
    let mut tx = Some(tx);
    let clock = runtime.clone();
    gov.add("sleeper", move |ctx| {
        let (j, tx, clock) = (j.clone(), tx.take(), clock.clone());
        async move {
            let mut spans = Vec::new();
            // Polled once (registered) and dropped, then a short sleep.
            {
                let mut long = ctx.sleep(Duration::from_secs(3600));
                assert!(futures_util::poll!(&mut long).is_pending());
            }
            let t = clock.now();
            ctx.sleep(Duration::from_millis(20)).await?;
            spans.push(clock.now() - t);

            // Two at once: the shorter one ends first, on time.
            let t = clock.now();
            let short = ctx.sleep(Duration::from_millis(30));
            let long = ctx.sleep(Duration::from_secs(3600));
            match futures_util::future::select(short, long).await {
                futures_util::future::Either::Left((slept, _long)) => slept?,
                futures_util::future::Either::Right(_) => panic!("the 1 h sleep won"),
            }
            spans.push(clock.now() - t);

            // Both halves of a join complete, each after its own time.
            let t = clock.now();
            let clone = ctx.clone();
            let (a, b) = futures_util::join!(
                ctx.sleep(Duration::from_millis(10)),
                clone.sleep(Duration::from_millis(40))
            );
            a?;
            b?;
            spans.push(clock.now() - t);

            let _ = tx.expect("one run").send(spans);
            j.note("sleeper:long");
            let result = ctx.sleep(Duration::from_secs(3600)).await;
            assert_eq!(result, Err(Interrupted));
            result?;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    let spans = rx.await.expect("the sleeper reports");
    for (span, expected) in spans.into_iter().zip([20, 30, 40]) {
        assert_elapsed(h, span, Duration::from_millis(expected));
    }
    notes.until("sleeper:long").await;
    let before = runtime.now();
    let report = gov.shutdown().await;
    assert!(runtime.now() - before < Duration::from_secs(3600));
    assert_eq!(
        report.service("sleeper").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

/// `stopping()` is false until shutdown is requested and true right after;
/// the global token is cancelled by the request.
pub async fn stopping_flips_at_shutdown_and_global_token_is_cancelled<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let global = gov.token();
    let jj = j.clone();
    gov.add("watcher", move |ctx| {
        let j = jj.clone();
        async move {
            j.note(format!("before:{}", ctx.stopping()));
            ctx.wait_for_stop().await;
            j.note(format!("after:{}", ctx.stopping()));
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    assert_eq!(notes.next().await, "before:false");
    assert!(!gov.stopping() && !global.stopping());
    gov.request_shutdown();
    assert!(
        gov.stopping(),
        "flips with the request, before services stop"
    );
    assert!(global.stopping());
    assert_eq!(notes.next().await, "after:true");
    gov.wait_for_shutdown().await;
}

// 7. Stop hooks -------------------------------------------------------------------

/// Hooks (added at `add` time and from inside `run`) are called once per
/// shutdown, after cancellation; a hook added after the stop runs at once.
pub async fn stop_hooks_run_once_after_cancellation<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let hj = j.clone();
    let gj = gov.token();
    let rj = j.clone();
    gov.add("hooked", move |ctx| {
        let j = rj.clone();
        async move {
            let run_j = j.clone();
            let token = ctx.token().clone();
            ctx.on_stop(move || run_j.note(format!("run-hook:{}", token.stopping())));
            j.note("hooked:start");
            ctx.wait_for_stop().await;
            let late_j = j.clone();
            ctx.on_stop(move || late_j.note("late-hook"));
            j.note("hooked:after-late");
            Ok(())
        }
    })
    .unwrap()
    .on_stop(move || hj.note(format!("config-hook:{}", gj.stopping())));
    gov.start().unwrap();
    notes.until("hooked:start").await;
    assert!(
        notes.all().iter().all(|n| !n.contains("-hook")),
        "no hook before a stop"
    );
    gov.shutdown().await;
    gov.shutdown().await;
    let all = notes.all();
    assert_eq!(notes.count("config-hook:true"), 1, "{all:?}");
    assert_eq!(notes.count("run-hook:true"), 1, "{all:?}");
    let late = all.iter().position(|n| n == "late-hook").unwrap();
    let after = all.iter().position(|n| n == "hooked:after-late").unwrap();
    assert!(late < after, "a late hook runs inside on_stop: {all:?}");
}

#[cfg(feature = "std")] // blocking services need `std`
/// A blocking service parked in a socket read is unblocked by its stop
/// hook shutting the socket down, and stops.
pub async fn stop_hook_unblocks_a_blocking_socket_read<H: Harness>(h: &H) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add_blocking("reader", move |ctx| {
        let mut stream = TcpStream::connect(addr)?;
        let for_hook = stream.try_clone()?;
        ctx.on_stop(move || {
            let _ = for_hook.shutdown(Shutdown::Both);
        });
        jj.note("reader:parked");
        let mut buf = [0u8; 16];
        let n = stream.read(&mut buf)?; // blocks until the hook runs
        jj.note(format!("reader:read:{n}"));
        Ok(())
    })
    .unwrap();
    // Accept on a thread of its own: the case's task must not block.
    let acceptor = std::thread::spawn(move || listener.accept().map(|(peer, _)| peer));
    gov.start().unwrap();
    notes.until("reader:parked").await;
    let report = gov.shutdown().await;
    let _peer = acceptor.join().unwrap().unwrap(); // kept open until now
    assert_eq!(notes.next().await, "reader:read:0");
    assert_eq!(
        report.service("reader").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

/// A panicking hook is caught: shutdown goes on, other hooks still run.
pub async fn panicking_stop_hook_does_not_stop_shutdown<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("bad-hook", idle(&j))
        .unwrap()
        .on_stop(|| panic!("hook exploded"));
    let hj = j.clone();
    gov.add("good-hook", idle(&j))
        .unwrap()
        .on_stop(move || hj.note("good-hook:called"));
    gov.start().unwrap();
    notes.until("bad-hook:start").await;
    notes.until("good-hook:start").await;
    let report = gov.shutdown().await;
    assert_eq!(notes.count("good-hook:called"), 1);
    assert_eq!(notes.count("bad-hook:stop"), 1);
    assert!(report
        .services
        .iter()
        .all(|s| s.state == ServiceState::Ended));
    assert!(
        report.is_clean(),
        "a hook's panic is not the service's outcome"
    );
}

// 8. Blocking services ---------------------------------------------------------

#[cfg(feature = "std")] // blocking services need `std`
/// A blocking service sleeping with `sleep_blocking` wakes on stop.
pub async fn blocking_sleep_wakes_on_stop<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add_blocking("sleepy", move |ctx| {
        let thread = std::thread::current().id();
        jj.note("sleepy:sleeping");
        let result = ctx.sleep_blocking(Duration::from_secs(3600));
        assert_eq!(std::thread::current().id(), thread);
        jj.note(format!("sleepy:woke:{result:?}"));
        result?;
        Ok(())
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("sleepy:sleeping").await;
    let report = gov.shutdown().await;
    assert_eq!(notes.next().await, "sleepy:woke:Err(Interrupted)");
    assert_eq!(
        report.service("sleepy").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

#[cfg(feature = "std")] // blocking services need `std`
/// A blocking service is restarted on the same value, on a thread that is
/// not the test's, and keeps its state across runs.
pub async fn blocking_service_restarts<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    let test_thread = std::thread::current().id();
    let mut runs = 0;
    gov.add_blocking("counter", move |ctx| {
        runs += 1;
        assert_ne!(std::thread::current().id(), test_thread);
        jj.note(format!("counter:run{runs}"));
        if runs < 3 {
            return Err(ServiceError::msg("again"));
        }
        let _ = ctx.sleep_blocking(Duration::from_secs(3600));
        Ok(())
    })
    .unwrap()
    .restart(Duration::ZERO);
    gov.start().unwrap();
    notes.until("counter:run3").await;
    let report = gov.shutdown().await;
    let s = report.service("counter").unwrap();
    assert_eq!((s.runs, s.restarts), (3, 2));
}

// 9. Bad input ----------------------------------------------------------------------

/// Duplicate and empty names get typed errors; nothing else is disturbed.
pub async fn bad_names_are_refused<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("dup", idle(&j)).unwrap();
    assert_eq!(
        gov.add("dup", idle(&j)).unwrap_err(),
        Error::DuplicateName { name: "dup".into() }
    );
    assert_eq!(gov.add("", idle(&j)).unwrap_err(), Error::EmptyName);
    assert_eq!(gov.report().services.len(), 1);
    gov.start().unwrap();
    notes.until("dup:start").await;
    h.settle().await;
    assert_eq!(notes.count("dup:start"), 1, "the refused twin never ran");
    gov.shutdown().await;
}

/// Adding or starting after shutdown gets a typed error naming it.
pub async fn add_and_start_after_shutdown_are_refused<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    let pending = gov.add("pending", idle(&j)).unwrap();
    gov.shutdown().await;
    assert_eq!(
        gov.add("late", idle(&j)).unwrap_err(),
        Error::AddAfterShutdown {
            name: "late".into()
        }
    );
    assert_eq!(gov.start().unwrap_err(), Error::StartAfterShutdown);
    assert_eq!(pending.start().unwrap_err(), Error::StartAfterShutdown);
    let report = gov.report();
    assert_eq!(report.services.len(), 1);
    // Refused for good, and told apart from a service never started (see
    // `start_refused_by_shutdown_is_told_apart_from_never_started`).
    assert_eq!(
        report.service("pending").unwrap().state,
        ServiceState::Refused
    );
}

// 10. Signals --------------------------------------------------------------------

/// A caught SIGTERM shuts the governor down gracefully, with the signal as
/// the cause.
// Holding the signal lock across awaits is the point: the other signal
// case must wait, whatever runtime this one is on.
#[allow(clippy::await_holding_lock)]
pub async fn caught_signal_shuts_down_gracefully<H: Harness>(h: &H) {
    let _signals = crate::support::signal_lock();
    let (j, mut notes) = journal();
    let gov = h.governor().catch_signals();
    gov.add("a", idle(&j)).unwrap();
    gov.add("b", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start").await;
    notes.until("b:start").await;
    h.raise(Signal::Terminate);
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, Some(ShutdownCause::Signal(Signal::Terminate)));
    assert_eq!(notes.count("a:stop") + notes.count("b:stop"), 2);
    assert!(report.is_clean());
}
