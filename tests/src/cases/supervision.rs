//! Supervision beyond the seed: restart policies and limits, dependencies
//! and readiness, ordered and bounded shutdown, events, status, handles and
//! subtrees. Every time-dependent case is exact on the virtual runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use governor_core::runtime::{Runtime, Signal};
use governor_core::{
    Backoff, Error, Escalation, Event, Governor, Outcome, RestartPolicy, ServiceCtx, ServiceError,
    ServiceState, ShutdownCause, StopSource, StopToken, Subtree,
};

use super::seed::{ends_n_times, idle, quick, state_of, IdleFut};
use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, timeline, until, Timeline, REAL_TIME_SLACK};

const MS: Duration = Duration::from_millis(1);

/// Records every event the governor emits.
pub(crate) fn recorded(gov: Governor) -> (Governor, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let gov = gov.on_event(move |event| sink.lock().unwrap().push(event.clone()));
    (gov, events)
}

/// A service that fails at once on each of its first `fails` runs, marking
/// `"<name>:run<n>"` at each start, and then waits for its stop.
pub(crate) fn fails_then_idles(
    timeline: &Timeline,
    fails: usize,
    run_for: Duration,
) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let timeline = timeline.clone();
    move |ctx| {
        let timeline = timeline.clone();
        Box::pin(async move {
            let run = ctx.run();
            timeline.mark(format!("{}:run{run}", ctx.name()));
            if run as usize <= fails {
                if !run_for.is_zero() {
                    ctx.sleep(run_for).await?;
                }
                timeline.mark(format!("{}:fail{run}", ctx.name()));
                return Err(ServiceError::msg(format!("run {run} failed")));
            }
            ctx.wait_for_stop().await;
            Ok(())
        })
    }
}

/// A service that ignores every stop request; notes `"<name>:dropped"`
/// when its run is dropped.
pub(crate) fn stubborn(timeline: &Timeline) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    struct OnDrop(Timeline, String);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.mark(format!("{}:dropped", self.1));
        }
    }
    let timeline = timeline.clone();
    move |ctx| {
        let timeline = timeline.clone();
        Box::pin(async move {
            let _guard = OnDrop(timeline.clone(), ctx.name().to_owned());
            timeline.mark(format!("{}:start", ctx.name()));
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

// Restart policy ------------------------------------------------------------

/// `on_failure` restarts errors and panics; a clean return ends the service.
pub async fn on_failure_restarts_failures_not_clean_returns<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let policy = RestartPolicy::on_failure(Duration::ZERO);
    gov.add("errs", ends_n_times(&j, 2, || Err(ServiceError::msg("e"))))
        .unwrap()
        .restart_policy(policy);
    gov.add("panics", ends_n_times(&j, 2, || panic!("p")))
        .unwrap()
        .restart_policy(policy);
    let clean = gov
        .add("clean", quick(&j, || Ok(())))
        .unwrap()
        .restart_policy(policy)
        .handle();
    gov.start().unwrap();
    notes.until("errs:run3").await;
    notes.until("panics:run3").await;
    let clean = clean.wait().await;
    assert_eq!((clean.runs, clean.state), (1, ServiceState::Ended));
    let report = gov.shutdown().await;
    assert_eq!(report.service("errs").unwrap().restarts, 2);
    assert_eq!(report.service("panics").unwrap().restarts, 2);
}

/// Exponential backoff waits exactly initial, ×factor, … up to max.
pub async fn backoff_delays_are_exact<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let backoff = Backoff::new(100 * MS, 800 * MS)
        .factor(2.0)
        .reset_after(Duration::from_secs(3600));
    gov.add("backoff", fails_then_idles(&t, 5, Duration::ZERO))
        .unwrap()
        .restart_policy(RestartPolicy::on_failure(Duration::ZERO).backoff(backoff));
    gov.start().unwrap();
    notes.until("backoff:run6").await;
    let starts: Vec<Duration> = (1..=6).map(|n| t.at(&format!("backoff:run{n}"))).collect();
    let expected = [100, 200, 400, 800, 800];
    for (i, ms) in expected.iter().enumerate() {
        assert_elapsed(h, starts[i + 1] - starts[i], *ms * MS);
    }
    gov.shutdown().await;
}

/// After a run that stayed up for the healthy period, backoff starts over.
pub async fn backoff_resets_after_a_healthy_run<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let backoff = Backoff::new(100 * MS, Duration::from_secs(10)).reset_after(500 * MS);
    let t2 = t.clone();
    gov.add("healthy-once", move |ctx| {
        let t = t2.clone();
        async move {
            let run = ctx.run();
            t.mark(format!("run{run}"));
            if run == 3 {
                ctx.sleep(500 * MS).await?; // healthy for the whole period
            }
            if run <= 4 {
                t.mark(format!("fail{run}"));
                return Err(ServiceError::msg("again"));
            }
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap()
    .restart_policy(RestartPolicy::on_failure(Duration::ZERO).backoff(backoff));
    gov.start().unwrap();
    notes.until("run5").await;
    assert_elapsed(h, t.at("run2") - t.at("fail1"), 100 * MS);
    assert_elapsed(h, t.at("run3") - t.at("fail2"), 200 * MS);
    assert_elapsed(h, t.at("fail3") - t.at("run3"), 500 * MS);
    assert_elapsed(h, t.at("run4") - t.at("fail3"), 100 * MS);
    assert_elapsed(h, t.at("run5") - t.at("fail4"), 200 * MS);
    gov.shutdown().await;
}

/// Jitter keeps every delay within [1 - jitter, 1 + jitter] × nominal,
/// capped at the maximum.
pub async fn jittered_backoff_stays_in_its_band<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let backoff = Backoff::new(200 * MS, 200 * MS).jitter(0.5);
    gov.add("jittery", fails_then_idles(&t, 5, Duration::ZERO))
        .unwrap()
        .restart_policy(RestartPolicy::on_failure(Duration::ZERO).backoff(backoff));
    gov.start().unwrap();
    notes.until("jittery:run6").await;
    let slack = if h.exact_time() {
        Duration::ZERO
    } else {
        REAL_TIME_SLACK
    };
    for n in 1..=5 {
        let delay = t.at(&format!("jittery:run{}", n + 1)) - t.at(&format!("jittery:fail{n}"));
        assert!(
            delay >= 100 * MS && delay <= 200 * MS + slack,
            "delay {n} was {delay:?}"
        );
    }
    gov.shutdown().await;
}

/// Over its limit, a service gives up (stays stopped, says why) and the
/// others carry on.
pub async fn restart_limit_gives_up_and_others_carry_on<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let (gov, events) = recorded(h.governor());
    let storm = gov
        .add("storm", fails_then_idles(&t, usize::MAX, Duration::ZERO))
        .unwrap()
        .restart_policy(RestartPolicy::always(Duration::ZERO).limit(3, Duration::from_secs(3600)))
        .handle();
    let (steady_journal, mut steady_notes) = journal();
    gov.add("steady", idle(&steady_journal)).unwrap();
    gov.start().unwrap();
    steady_notes.until("steady:start").await;
    let storm = storm.wait().await;
    assert_eq!(storm.state, ServiceState::GaveUp);
    assert_eq!(
        (storm.runs, storm.restarts),
        (4, 3),
        "the 4th restart escalates"
    );
    notes.until("storm:run4").await;
    assert!(!gov.stopping());
    assert_eq!(state_of(&gov, "steady"), ServiceState::Ready);
    let gave_up = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::GaveUp { service, restarts: 3 } if &**service == "storm"))
        .count();
    assert_eq!(gave_up, 1);
    let report = gov.shutdown().await;
    assert!(!report.is_clean(), "a service that gave up is not clean");
}

/// The limit is a sliding window: the N+1th restart within T escalates;
/// restarts spaced beyond T never do.
pub async fn restart_limit_window_slides<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let policy = RestartPolicy::always(Duration::ZERO).limit(1, 500 * MS);
    let bursty = gov
        .add("bursty", fails_then_idles(&t, usize::MAX, 100 * MS))
        .unwrap()
        .restart_policy(policy)
        .handle();
    gov.add("spaced", fails_then_idles(&t, usize::MAX, 600 * MS))
        .unwrap()
        .restart_policy(policy);
    gov.start().unwrap();
    let bursty = bursty.wait().await;
    assert_eq!(bursty.state, ServiceState::GaveUp);
    assert_eq!(bursty.runs, 2, "restart 2 came 100 ms after restart 1");
    notes.until("spaced:run4").await;
    let report = gov.shutdown().await;
    let spaced = report.service("spaced").unwrap();
    assert!(spaced.restarts >= 3);
    assert_eq!(spaced.state, ServiceState::Ended, "never gave up");
}

/// Escalation by shutdown stops everything, with the service named in the
/// cause; the report is not clean.
pub async fn escalation_shuts_the_governor_down_naming_the_service<H: Harness>(h: &H) {
    let (t, _notes) = timeline(h);
    let gov = h.governor();
    gov.add("storm", fails_then_idles(&t, usize::MAX, Duration::ZERO))
        .unwrap()
        .restart_policy(
            RestartPolicy::on_failure(Duration::ZERO)
                .limit(2, Duration::from_secs(3600))
                .escalate(Escalation::Shutdown),
        );
    gov.add("bystander", idle(&journal().0)).unwrap();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(
        report.cause,
        Some(ShutdownCause::Escalated {
            service: "storm".into()
        })
    );
    assert!(!report.is_clean());
    assert_eq!(report.service("storm").unwrap().state, ServiceState::GaveUp);
    assert_eq!(report.service("storm").unwrap().runs, 3);
    let bystander = report.service("bystander").unwrap();
    assert_eq!(bystander.last_outcome, Some(Outcome::Completed));
}

/// A critical service that ends for good (even cleanly) shuts the governor
/// down.
pub async fn critical_service_ending_shuts_the_governor_down<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    gov.add("server", idle(&j)).unwrap();
    gov.add("job", quick(&j, || Ok(()))).unwrap().critical();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(
        report.cause,
        Some(ShutdownCause::Critical {
            service: "job".into()
        })
    );
    assert_eq!(report.service("server").unwrap().state, ServiceState::Ended);
}

// Dependencies and readiness --------------------------------------------------

/// A dependent starts once its dependencies are ready; independent services
/// start at once. (Here they report it after marking their start: one that does not
/// report readiness is ready as its run begins, before its first poll, so
/// marks could not order them.)
pub async fn dependents_start_once_dependencies_are_ready<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let latch = StopSource::new();
    let (tt, l) = (t.clone(), latch.token().clone());
    gov.add("config", move |ctx| {
        let (t, latch) = (tt.clone(), l.clone());
        async move {
            t.mark("config:loading");
            latch.wait_for_stop().await; // "loading" until the case lets it finish
            t.mark("config:ready");
            ctx.ready();
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap()
    .notify_ready();
    // Each reports ready only once it has marked its start: a service
    // without `notify_ready` is ready as its run begins, before its first
    // poll, so on a multi-thread executor its dependent could be polled
    // (and mark) first, although it started after the readiness, as
    // promised.
    let mark_start = |t: &Timeline| {
        let t = t.clone();
        move |ctx: ServiceCtx| {
            let t = t.clone();
            async move {
                t.mark(format!("{}:start", ctx.name()));
                ctx.ready();
                ctx.wait_for_stop().await;
                Ok(())
            }
        }
    };
    gov.add("server", mark_start(&t))
        .unwrap()
        .depends_on(["config"])
        .notify_ready();
    gov.add("worker", mark_start(&t))
        .unwrap()
        .depends_on(["server"])
        .notify_ready();
    gov.add("metrics", mark_start(&t)).unwrap();
    gov.start().unwrap();
    notes.until("config:loading").await;
    // An independent service starts while `config` is still loading…
    notes.until("metrics:start").await;
    h.settle().await;
    // …but the dependents wait.
    assert_eq!(state_of(&gov, "server"), ServiceState::Starting);
    assert_eq!(state_of(&gov, "worker"), ServiceState::Starting);
    assert_eq!(
        state_of(&gov, "config"),
        ServiceState::Running,
        "not ready yet"
    );
    assert!(t.labels().iter().all(|l| l != "server:start"));
    latch.stop();
    notes.until("worker:start").await;
    assert!(t.position("config:ready") < t.position("server:start"));
    assert!(t.position("server:start") < t.position("worker:start"));
    gov.shutdown().await;
}

/// Readiness belongs to a run: after a restart the service is not ready
/// until it says so again, and `wait_ready` waits for that.
pub async fn readiness_resets_on_restart<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let latch = StopSource::new();
    let (tt, l) = (t.clone(), latch.token().clone());
    let handle = gov
        .add("svc", move |ctx| {
            let (t, latch) = (tt.clone(), l.clone());
            async move {
                t.mark(format!("svc:run{}", ctx.run()));
                if ctx.run() > 1 {
                    latch.wait_for_stop().await;
                }
                ctx.ready();
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .notify_ready()
        .handle();
    gov.start().unwrap();
    gov.wait_ready("svc", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(state_of(&gov, "svc"), ServiceState::Ready);
    assert!(handle.restart());
    notes.until("svc:run2").await;
    assert_eq!(state_of(&gov, "svc"), ServiceState::Running);
    assert_eq!(
        gov.wait_ready("svc", 100 * MS).await,
        Err(Error::NotReady {
            service: "svc".into(),
            timeout: 100 * MS
        })
    );
    latch.stop();
    gov.wait_ready("svc", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(state_of(&gov, "svc"), ServiceState::Ready);
    gov.shutdown().await;
}

/// `start_wait_ready` fails after exactly its timeout, naming the service
/// that was not ready.
pub async fn start_wait_ready_times_out_naming_the_service<H: Harness>(h: &H) {
    let gov = h.governor();
    gov.add("fast", |ctx| async move {
        ctx.ready();
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap()
    .notify_ready();
    gov.add("slow", |ctx| async move {
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap()
    .notify_ready();
    let runtime = h.runtime();
    let begin = runtime.now();
    let result = gov.start_wait_ready(300 * MS).await;
    assert_elapsed(h, runtime.now() - begin, 300 * MS);
    assert_eq!(
        result,
        Err(Error::NotReady {
            service: "slow".into(),
            timeout: 300 * MS
        })
    );
    assert_eq!(state_of(&gov, "fast"), ServiceState::Ready);
    gov.shutdown().await;
}

/// `wait_ready` names an unknown service, and one that ended unready.
pub async fn wait_ready_reports_unknown_and_ended_services<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let gov = h.governor();
    let oneshot = gov
        .add("unready", quick(&j, || Err(ServiceError::msg("no"))))
        .unwrap()
        .notify_ready()
        .handle();
    let job = gov.add("job", quick(&j, || Ok(()))).unwrap().handle();
    gov.start().unwrap();
    oneshot.wait().await;
    job.wait().await;
    let minute = Duration::from_secs(60);
    assert_eq!(
        gov.wait_ready("nope", minute).await,
        Err(Error::UnknownService {
            name: "nope".into()
        })
    );
    assert_eq!(
        gov.wait_ready("unready", minute).await,
        Err(Error::EndedBeforeReady {
            service: "unready".into()
        })
    );
    assert_eq!(
        gov.wait_ready("job", minute).await,
        Ok(()),
        "a finished job was ready"
    );
}

/// An unknown dependency or a cycle is an error from `start` naming the
/// services involved, and nothing starts.
pub async fn unknown_dependency_and_cycle_start_nothing<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    gov.add("a", idle(&j)).unwrap().depends_on(["missing"]);
    gov.add("b", idle(&j)).unwrap();
    assert_eq!(
        gov.start(),
        Err(Error::UnknownDependency {
            service: "a".into(),
            dependency: "missing".into()
        })
    );
    let cyclic = h.governor();
    cyclic.add("x", idle(&j)).unwrap().depends_on(["y"]);
    cyclic.add("y", idle(&j)).unwrap().depends_on(["z"]);
    cyclic.add("z", idle(&j)).unwrap().depends_on(["x"]);
    cyclic.add("w", idle(&j)).unwrap();
    assert_eq!(
        cyclic.start(),
        Err(Error::DependencyCycle {
            cycle: vec!["x".into(), "y".into(), "z".into()]
        })
    );
    h.settle().await;
    assert!(notes.all().is_empty(), "nothing ran: {:?}", notes.all());
    for g in [&gov, &cyclic] {
        assert_eq!(g.running(), 0);
        assert!(g
            .report()
            .services
            .iter()
            .all(|s| s.state == ServiceState::Pending));
    }
}

/// A dependency that ends for good without becoming ready fails its
/// dependents: they never run.
pub async fn dependency_ending_unready_fails_its_dependents<H: Harness>(h: &H) {
    let (j, _notes) = journal();
    let (gov, events) = recorded(h.governor());
    gov.add("db", quick(&j, || Err(ServiceError::msg("cannot connect"))))
        .unwrap()
        .notify_ready();
    gov.add("api", idle(&j)).unwrap().depends_on(["db"]);
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    let api = report.service("api").unwrap();
    assert_eq!((api.runs, api.state), (0, ServiceState::Ended));
    assert!(events.lock().unwrap().contains(&Event::DependencyFailed {
        service: "api".into(),
        dependency: "db".into()
    }));
}

// Shutdown ------------------------------------------------------------------------

/// Dependents stop before their dependencies, across a three-level chain;
/// an unrelated service stops concurrently with the first.
pub async fn shutdown_stops_a_dependency_chain_in_reverse_order<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let runtime = h.runtime();
    let svc = |t: &Timeline| {
        let (t, runtime) = (t.clone(), runtime.clone());
        move |ctx: ServiceCtx| {
            let (t, runtime) = (t.clone(), runtime.clone());
            async move {
                t.mark(format!("{}:start", ctx.name()));
                ctx.wait_for_stop().await;
                t.mark(format!("{}:asked", ctx.name()));
                runtime.sleep(100 * MS).await; // cleaning up
                t.mark(format!("{}:stopped", ctx.name()));
                Ok(())
            }
        }
    };
    gov.add("a", svc(&t)).unwrap();
    gov.add("b", svc(&t)).unwrap().depends_on(["a"]);
    gov.add("c", svc(&t)).unwrap().depends_on(["b"]);
    gov.add("d", svc(&t)).unwrap();
    gov.start().unwrap();
    notes.until("c:start").await;
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert!(t.position("c:stopped") < t.position("b:asked"));
    assert!(t.position("b:stopped") < t.position("a:asked"));
    assert!(
        t.position("d:asked") < t.position("c:stopped"),
        "d is unrelated"
    );
    assert_elapsed(h, t.at("c:asked") - begin, Duration::ZERO);
    assert_elapsed(h, t.at("d:asked") - begin, Duration::ZERO);
    assert_elapsed(h, t.at("b:asked") - begin, 100 * MS);
    assert_elapsed(h, t.at("a:asked") - begin, 200 * MS);
    assert_elapsed(h, t.at("a:stopped") - begin, 300 * MS);
    for name in ["a", "b", "c", "d"] {
        let s = report.service(name).unwrap();
        assert_eq!(s.last_outcome, Some(Outcome::Completed));
        assert_elapsed(h, s.stop_time.unwrap(), 100 * MS);
    }
}

/// A service that ignores its stop is aborted (dropped) at exactly its
/// shutdown timeout; a per-service timeout overrides the governor's; the
/// others stop cleanly; the report names the ones that timed out.
pub async fn shutdown_timeout_aborts_at_exactly_the_timeout<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor().shutdown_timeout(300 * MS);
    gov.add("stubborn", stubborn(&t)).unwrap();
    gov.add("patient", stubborn(&t))
        .unwrap()
        .shutdown_timeout(Duration::from_secs(1));
    gov.add("polite", idle(&journal().0)).unwrap();
    gov.start().unwrap();
    notes.until("stubborn:start").await;
    notes.until("patient:start").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, runtime.now() - begin, Duration::from_secs(1));
    assert_elapsed(h, t.at("stubborn:dropped") - begin, 300 * MS);
    let stubborn = report.service("stubborn").unwrap();
    assert_eq!(stubborn.last_outcome, Some(Outcome::Aborted));
    assert!(stubborn.timed_out);
    assert_elapsed(h, stubborn.stop_time.unwrap(), 300 * MS);
    assert_elapsed(
        h,
        report.service("patient").unwrap().stop_time.unwrap(),
        Duration::from_secs(1),
    );
    let polite = report.service("polite").unwrap();
    assert_eq!(polite.last_outcome, Some(Outcome::Completed));
    assert!(!polite.timed_out);
    let timed_out: Vec<&str> = report.timed_out().map(|s| &*s.name).collect();
    assert_eq!(timed_out, ["stubborn", "patient"]);
    assert!(!report.is_clean());
}

#[cfg(feature = "std")] // blocking services need `std`
/// A blocking service that ignores its stop cannot be killed: it is
/// abandoned at the timeout and reported.
pub async fn blocking_service_that_ignores_stop_is_abandoned<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().shutdown_timeout(200 * MS);
    let (release, parked) = mpsc::channel::<()>();
    let parked = Mutex::new(parked);
    gov.add_blocking("wedged", move |_ctx| {
        j.note("wedged:parked");
        let _ = parked.lock().unwrap().recv(); // deaf to the stop
        Ok(())
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("wedged:parked").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, runtime.now() - begin, 200 * MS);
    let wedged = report.service("wedged").unwrap();
    assert_eq!(wedged.last_outcome, Some(Outcome::Abandoned));
    assert!(wedged.timed_out);
    let _ = release.send(()); // let the thread go
}

/// A forced shutdown aborts everything still running at once.
pub async fn force_shutdown_aborts_everything_at_once<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    gov.add("one", stubborn(&t)).unwrap();
    gov.add("two", stubborn(&t)).unwrap();
    gov.start().unwrap();
    notes.until("one:start").await;
    notes.until("two:start").await;
    gov.request_shutdown();
    h.settle().await;
    assert_eq!(gov.running(), 2, "they ignore the graceful request");
    gov.force_shutdown();
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    for name in ["one", "two"] {
        assert_eq!(
            report.service(name).unwrap().last_outcome,
            Some(Outcome::Aborted)
        );
        t.at(&format!("{name}:dropped"));
    }
}

/// A signal starts a graceful shutdown; a second one forces it; once the
/// report is returned the governor no longer catches signals (a third
/// would get the OS default action: where the runtime can tell, no stream
/// catches it any more).
// Holding the signal lock across awaits is the point: the other signal
// case must wait, whatever runtime this one is on.
#[allow(clippy::await_holding_lock)]
pub async fn second_signal_forces_the_shutdown<H: Harness>(h: &H) {
    let _signals = crate::support::signal_lock();
    let (t, mut notes) = timeline(h);
    let gov = h.governor().catch_signals();
    gov.add("stubborn", stubborn(&t)).unwrap();
    gov.add("polite", idle(&journal().0)).unwrap();
    gov.start().unwrap();
    notes.until("stubborn:start").await;
    h.raise(Signal::Terminate);
    gov.token().wait_for_stop().await;
    // `polite` stops as asked; only then the second signal (on a
    // multi-thread runtime its stop may otherwise still be under way, and
    // then it is rightly aborted too).
    until(h, || state_of(&gov, "polite") == ServiceState::Ended).await;
    h.raise(Signal::Interrupt);
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    assert_eq!(report.cause, Some(ShutdownCause::Signal(Signal::Terminate)));
    assert_eq!(
        report.service("stubborn").unwrap().last_outcome,
        Some(Outcome::Aborted)
    );
    assert_eq!(
        report.service("polite").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    if let Some(listeners) = h.listeners(Signal::Quit) {
        assert_eq!(
            listeners, 0,
            "signals are released once the report is returned"
        );
    }
    assert_eq!(gov.report(), report);
}

// Events, status and control ------------------------------------------------------

/// Every lifecycle step is one typed event, in order.
pub async fn events_trace_the_lifecycle<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let (gov, events) = recorded(h.governor());
    gov.add("flaky", fails_then_idles(&t, 1, Duration::ZERO))
        .unwrap()
        .restart(100 * MS);
    gov.add("bomb", |_ctx| async move {
        panic!("boom");
        #[allow(unreachable_code)]
        Ok(())
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("flaky:run2").await;
    gov.service("bomb").unwrap().wait().await;
    gov.shutdown().await;
    let events = events.lock().unwrap().clone();
    let flaky: Vec<Event> = events
        .iter()
        .filter(|e| e.service() == Some("flaky"))
        .cloned()
        .collect();
    let name: Arc<str> = "flaky".into();
    assert_eq!(
        flaky,
        [
            Event::RunStarted {
                service: name.clone(),
                run: 1
            },
            Event::Ready {
                service: name.clone()
            },
            Event::RunEnded {
                service: name.clone(),
                outcome: Outcome::Failed(Arc::new(std::io::Error::other("run 1 failed")))
            },
            Event::RestartScheduled {
                service: name.clone(),
                delay: 100 * MS,
                attempt: 1,
                trouble: false
            },
            Event::RunStarted {
                service: name.clone(),
                run: 2
            },
            Event::Ready {
                service: name.clone()
            },
            Event::RunEnded {
                service: name.clone(),
                outcome: Outcome::Completed
            },
        ]
    );
    let bomb: Vec<&Event> = events
        .iter()
        .filter(|e| e.service() == Some("bomb"))
        .collect();
    assert!(matches!(bomb[2], Event::Panicked { message, .. } if &**message == "boom"));
    assert!(matches!(
        bomb[3],
        Event::RunEnded {
            outcome: Outcome::Panicked(_),
            ..
        }
    ));
    assert!(events.contains(&Event::ShutdownRequested {
        cause: ShutdownCause::Requested
    }));
    assert_eq!(
        events.last(),
        Some(&Event::ShutdownComplete { forced: false })
    );
}

/// A panicking event hook is caught: the governor goes on as if nothing
/// happened.
pub async fn panicking_event_hook_is_caught<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor().on_event(|_| panic!("hook exploded"));
    gov.add("svc", fails_then_idles(&t, 1, Duration::ZERO))
        .unwrap()
        .restart(Duration::ZERO);
    gov.start().unwrap();
    notes.until("svc:run2").await;
    let report = gov.shutdown().await;
    let svc = report.service("svc").unwrap();
    assert_eq!(
        (svc.runs, svc.last_outcome.clone()),
        (2, Some(Outcome::Completed))
    );
}

/// The status shows every state: pending, starting, running, ready,
/// restarting (with the time left), stopping, stopped, gave up.
pub async fn status_shows_each_state<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    gov.add("dep", |ctx| async move {
        ctx.wait_for_stop().await; // never ready
        Ok(())
    })
    .unwrap()
    .notify_ready();
    gov.add("waiter", idle(&journal().0))
        .unwrap()
        .depends_on(["dep"]);
    gov.add("simple", idle(&journal().0)).unwrap();
    gov.add("retry", fails_then_idles(&t, 1, Duration::ZERO))
        .unwrap()
        .restart_policy(RestartPolicy::on_failure(Duration::from_secs(10)));
    gov.add("quitter", quick(&journal().0, || Ok(()))).unwrap();
    gov.add("storm", fails_then_idles(&t, 1, Duration::ZERO))
        .unwrap()
        .restart_policy(RestartPolicy::always(Duration::ZERO).limit(0, Duration::from_secs(1)));
    gov.add("slow-stop", stubborn(&t))
        .unwrap()
        .shutdown_timeout(Duration::from_secs(3600));
    gov.start().unwrap();
    gov.add("pending", idle(&journal().0)).unwrap();
    notes.until("retry:fail1").await;
    notes.until("slow-stop:start").await;
    let states = |gov: &Governor| {
        gov.report()
            .services
            .iter()
            .map(|s| (s.name.to_string(), s.state))
            .collect::<Vec<_>>()
    };
    until(h, || {
        let r = gov.report();
        r.service("retry").unwrap().state == ServiceState::Restarting
            && r.service("dep").unwrap().state == ServiceState::Running
            && r.service("storm").unwrap().state == ServiceState::GaveUp
            && r.service("quitter").unwrap().state == ServiceState::Ended
            && r.service("simple").unwrap().state == ServiceState::Ready
    })
    .await;
    let expected = [
        ("dep", ServiceState::Running),
        ("waiter", ServiceState::Starting),
        ("simple", ServiceState::Ready),
        ("retry", ServiceState::Restarting),
        ("quitter", ServiceState::Ended),
        ("storm", ServiceState::GaveUp),
        ("slow-stop", ServiceState::Ready),
        ("pending", ServiceState::Pending),
    ];
    let expected: Vec<(String, ServiceState)> =
        expected.iter().map(|(n, s)| (n.to_string(), *s)).collect();
    assert_eq!(states(&gov), expected);
    let retry_in = gov.report().service("retry").unwrap().restart_in.unwrap();
    if h.exact_time() {
        assert_eq!(retry_in, Duration::from_secs(10));
    } else {
        assert!(retry_in <= Duration::from_secs(10) && retry_in > Duration::from_secs(5));
    }
    gov.request_shutdown();
    until(h, || state_of(&gov, "slow-stop") == ServiceState::Stopping).await;
    gov.force_shutdown();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(
        report.service("slow-stop").unwrap().state,
        ServiceState::Ended
    );
}

/// A handle stops one service alone (not restarted despite its policy),
/// waits for it, and keeps a not-yet-started one from ever starting.
pub async fn handle_stops_one_service_alone<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().restart(Duration::ZERO);
    gov.add("victim", idle(&j)).unwrap();
    gov.add("other", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("victim:start").await;
    notes.until("other:start").await;
    let victim = gov.service("victim").unwrap();
    assert!(victim.stop());
    let report = victim.wait().await;
    assert_eq!((report.state, report.runs), (ServiceState::Ended, 1));
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert!(!victim.stop(), "already stopped");
    assert_eq!(state_of(&gov, "other"), ServiceState::Ready);
    assert!(!gov.stopping());

    gov.add("never", idle(&j)).unwrap();
    assert!(gov.service("never").unwrap().stop());
    gov.start().unwrap();
    h.settle().await;
    assert_eq!(notes.count("never:start"), 0);
    assert_eq!(state_of(&gov, "never"), ServiceState::Ended);
    assert!(matches!(
        gov.service("nope"),
        Err(Error::UnknownService { .. })
    ));
    gov.shutdown().await;
}

/// A handle restarts a service at once, whatever its policy.
pub async fn handle_restarts_a_service_now<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let handle = gov
        .add("svc", fails_then_idles(&t, 0, Duration::ZERO))
        .unwrap()
        .no_restart()
        .handle();
    gov.start().unwrap();
    notes.until("svc:run1").await;
    assert!(handle.restart());
    notes.until("svc:run2").await;
    let report = handle.report();
    assert_eq!((report.runs, report.restarts), (2, 1));
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    gov.shutdown().await;
    assert!(!handle.restart(), "nothing to restart once stopped");
}

/// A run that ends without being asked to stop hands its token on to the
/// next run (a quick restart makes no new one); a run asked to stop by its
/// handle does not: the run after it gets a fresh token.
pub async fn run_token_passes_on_unless_the_run_was_asked_to_stop<H: Harness>(h: &H) {
    let (journal, mut notes) = journal();
    let tokens: Arc<Mutex<Vec<StopToken>>> = Arc::default();
    let gov = h.governor();
    let kept = tokens.clone();
    let handle = gov
        .add("svc", move |ctx| {
            let journal = journal.clone();
            kept.lock().unwrap().push(ctx.token().clone());
            async move {
                journal.note(format!("run{}", ctx.run()));
                if ctx.run() == 1 {
                    return Ok(()); // ends by itself: restarted at once
                }
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .restart_policy(RestartPolicy::always(Duration::ZERO))
        .handle();
    gov.start().unwrap();
    notes.until("run2").await;
    let first = tokens.lock().unwrap()[0].clone();
    assert!(!first.stopping(), "run 1 ended by itself");
    assert!(handle.restart());
    notes.until("run3").await;
    assert!(
        first.stopping(),
        "run 1's token was run 2's, which was restarted"
    );
    let third = tokens.lock().unwrap()[2].clone();
    assert!(!third.stopping(), "run 3 has a fresh token");
    gov.shutdown().await;
    assert!(third.stopping());
}

// Nesting ------------------------------------------------------------------------

/// A subtree's services start with it and stop, in their own order, when
/// the parent stops it.
pub async fn subtree_runs_and_stops_with_its_parent<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let parent = h.governor();
    let tt = t.clone();
    parent
        .add_service(
            "subsystem",
            Subtree::new(move |child: &Governor| {
                let svc = |t: &Timeline| {
                    let t = t.clone();
                    move |ctx: ServiceCtx| {
                        let t = t.clone();
                        async move {
                            t.mark(format!("{}:start", ctx.name()));
                            ctx.wait_for_stop().await;
                            t.mark(format!("{}:stop", ctx.name()));
                            Ok(())
                        }
                    }
                };
                child.add("store", svc(&tt))?;
                child.add("api", svc(&tt))?.depends_on(["store"]);
                Ok(())
            }),
        )
        .unwrap();
    parent.start().unwrap();
    notes.until("api:start").await;
    let report = parent.shutdown().await;
    assert!(t.position("api:stop") < t.position("store:stop"));
    assert_eq!(
        report.service("subsystem").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

/// A subtree whose critical child fails ends as a failure, and the
/// parent's policy restarts the whole subtree.
pub async fn failing_subtree_is_restarted_by_its_parent<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let parent = h.governor();
    let runs = Arc::new(AtomicUsize::new(0));
    let tt = t.clone();
    parent
        .add_service(
            "subsystem",
            Subtree::new(move |child: &Governor| {
                let (t, runs) = (tt.clone(), runs.clone());
                child
                    .add("unstable", move |ctx| {
                        let (t, runs) = (t.clone(), runs.clone());
                        async move {
                            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                            t.mark(format!("unstable:run{n}"));
                            if n == 1 {
                                return Err(ServiceError::msg("lost the disk"));
                            }
                            ctx.wait_for_stop().await;
                            Ok(())
                        }
                    })?
                    .critical();
                child.add("helper", idle(&crate::support::journal().0))?;
                Ok(())
            }),
        )
        .unwrap()
        .restart_policy(RestartPolicy::on_failure(Duration::ZERO));
    parent.start().unwrap();
    notes.until("unstable:run2").await;
    let subsystem = parent.report().service("subsystem").unwrap().clone();
    assert_eq!(subsystem.runs, 2);
    let failed = subsystem.last_outcome.unwrap().to_string();
    assert!(
        failed.contains("subtree failed") && failed.contains("unstable"),
        "{failed}"
    );
    let report = parent.shutdown().await;
    assert_eq!(
        report.service("subsystem").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}
