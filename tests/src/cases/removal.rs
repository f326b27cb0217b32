//! Services that leave: `remove` (on the governor and on a handle) and
//! services forgotten once they end for good (`forget_when_ended`). The
//! final outcome still reaches events, `wait()` and handles taken before;
//! the name is free again; records do not pile up under churn.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_channel::oneshot;
use governor_core::{Error, Event, Outcome, ServiceCtx, ServiceError, ServiceState, ShutdownCause};

use super::seed::{ends_n_times, idle, quick, state_of, IdleFut};
use super::supervision::recorded;
use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, until, Journal};

/// A service that notes `"<name>:start"`, then ends with an error once
/// `release` is fired (or cleanly when asked to stop).
fn fails_when_released(
    journal: &Journal,
) -> (
    impl FnMut(ServiceCtx) -> IdleFut + Send + 'static,
    oneshot::Sender<()>,
) {
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(Mutex::new(Some(released)));
    let journal = journal.clone();
    let service = move |ctx: ServiceCtx| {
        let journal = journal.clone();
        let released = released.lock().unwrap().take();
        Box::pin(async move {
            journal.note(format!("{}:start", ctx.name()));
            let Some(released) = released else {
                ctx.wait_for_stop().await;
                return Ok(());
            };
            match ctx.until_stop(released).await {
                Ok(_) => Err(ServiceError::msg("released")),
                Err(_) => Ok(()),
            }
        }) as IdleFut
    };
    (service, release)
}

fn failed_with(outcome: &Option<Outcome>, message: &str) -> bool {
    matches!(outcome, Some(Outcome::Failed(e)) if e.to_string() == message)
}

/// `remove` stops a running service (its run ends as asked, hooks and
/// all), waits for it, forgets it and frees its name; a handle held before
/// keeps the old record and never reaches the new service of that name.
pub async fn remove_stops_a_running_service_and_frees_its_name<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().restart(Duration::ZERO);
    gov.add("svc", idle(&j)).unwrap().on_stop({
        let j = j.clone();
        move || j.note("svc:hook")
    });
    gov.add("other", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("svc:start").await;
    notes.until("other:start").await;
    let old = gov.service("svc").unwrap();

    let report = gov.remove("svc").await.expect("removes a running service");
    assert_eq!(&*report.name, "svc");
    assert_eq!((report.state, report.runs), (ServiceState::Ended, 1));
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert_eq!((notes.count("svc:stop"), notes.count("svc:hook")), (1, 1));
    assert!(gov.report().service("svc").is_none(), "forgotten");
    assert_eq!(gov.report().services.len(), 1);
    assert_eq!(
        gov.service("svc").unwrap_err(),
        Error::UnknownService { name: "svc".into() }
    );
    assert_eq!(
        gov.remove("svc").await.unwrap_err(),
        Error::UnknownService { name: "svc".into() },
        "a second removal names the unknown service"
    );
    assert_eq!(state_of(&gov, "other"), ServiceState::Ready, "others go on");
    assert!(!gov.stopping());

    // The name is free again; the old handle stays on the old record.
    let new = gov.add("svc", idle(&j)).expect("name is free").handle();
    gov.start().unwrap();
    until(h, || notes.count("svc:start") == 2).await;
    assert!(!old.stop(), "the old handle cannot stop the new service");
    assert!(!old.restart(), "nor restart it");
    let old_final = old.wait().await;
    assert_eq!((old_final.runs, old_final.state), (1, ServiceState::Ended));
    assert_eq!(
        old.report(),
        report,
        "the old handle keeps the final report"
    );
    assert_eq!(
        old.remove().await.unwrap(),
        report,
        "removing it again is harmless"
    );
    h.settle().await;
    assert_eq!(
        new.report().state,
        ServiceState::Ready,
        "the new one runs on"
    );
    assert_eq!(state_of(&gov, "svc"), ServiceState::Ready);
    assert_eq!(notes.count("svc:stop"), 1);
    let report = gov.shutdown().await;
    assert_eq!(report.services.len(), 2);
    assert_eq!(report.service("svc").unwrap().runs, 1);
}

/// A service removed before it started never runs, and the next `start`
/// does not start it; one waiting to restart is removed at once, without
/// another run; an ended one is forgotten at once with its final outcome;
/// a handle's `remove` does the same as the governor's.
pub async fn remove_pending_and_ended_services<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("early", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("early:start").await;
    gov.add("pending", idle(&j)).unwrap();
    let report = gov.remove("pending").await.expect("removes a pending one");
    assert_eq!(
        (report.state, report.runs, report.last_outcome),
        (ServiceState::Ended, 0, None)
    );
    gov.start().unwrap();
    h.settle().await;
    assert_eq!(notes.count("pending:start"), 0, "never started");
    assert!(gov.report().service("pending").is_none());

    gov.add("retrying", quick(&j, || Err(ServiceError::msg("again"))))
        .unwrap()
        .restart(Duration::from_secs(3600));
    gov.start().unwrap();
    until(h, || {
        gov.report()
            .service("retrying")
            .is_some_and(|s| s.state == ServiceState::Restarting)
    })
    .await;
    let clock = h.runtime();
    let asked = clock.now();
    let report = gov
        .remove("retrying")
        .await
        .expect("removes a restarting one");
    assert_elapsed(h, clock.now() - asked, Duration::ZERO);
    assert_eq!((report.state, report.runs), (ServiceState::Ended, 1));
    assert!(failed_with(&report.last_outcome, "again"), "{report:?}");
    assert_eq!(report.restart_in, None);
    assert_eq!(notes.count("retrying:run"), 1, "no other run");

    let failing = gov
        .add("failing", quick(&j, || Err(ServiceError::msg("bad"))))
        .unwrap()
        .handle();
    gov.start().unwrap();
    let ended = failing.wait().await;
    assert_eq!(ended.state, ServiceState::Ended);
    let report = failing.remove().await.expect("removes an ended one");
    assert!(failed_with(&report.last_outcome, "bad"), "{report:?}");
    assert_eq!(report, ended, "its final report, unchanged");
    assert!(gov.report().service("failing").is_none());
    assert_eq!(notes.count("failing:run"), 1, "not run again");
    gov.add("failing", idle(&j)).expect("name is free");

    let report = gov.shutdown().await;
    let names: Vec<&str> = report.services.iter().map(|s| &*s.name).collect();
    assert_eq!(names, ["early", "failing"]);
}

/// A service that a started, still running service depends on is not
/// removed (a typed error naming both; it keeps running); once the
/// dependent is gone it is. A service started later that depends on a
/// removed name, or on one being removed, is refused at `start`; the name
/// of a service being removed stays taken until it has stopped.
pub async fn removing_a_dependency_of_a_running_service_is_refused<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("db", idle(&j)).unwrap();
    gov.add("api", idle(&j)).unwrap().depends_on(["db"]);
    gov.start().unwrap();
    notes.until("api:start").await;
    assert_eq!(
        gov.remove("db").await.unwrap_err(),
        Error::DependedOn {
            service: "db".into(),
            dependent: "api".into()
        }
    );
    h.settle().await;
    assert_eq!(state_of(&gov, "db"), ServiceState::Ready, "still running");
    assert_eq!(notes.count("db:stop"), 0);

    // A dependent that has ended (and is kept) no longer holds it.
    gov.add("cache", idle(&j)).unwrap();
    gov.add("reader", quick(&j, || Ok(())))
        .unwrap()
        .depends_on(["cache"]);
    gov.start().unwrap();
    let reader = gov.service("reader").unwrap().wait().await;
    assert_eq!(reader.state, ServiceState::Ended);
    gov.remove("cache").await.expect("its dependent has ended");
    assert!(gov.report().service("reader").is_some(), "kept");
    gov.remove("reader").await.unwrap();

    gov.remove("api").await.expect("a dependent goes freely");
    let report = gov.remove("db").await.expect("then its dependency");
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert_eq!(
        notes.all().iter().filter(|n| n.ends_with(":stop")).count(),
        3
    );
    assert!(gov.report().services.is_empty());

    // While a removal waits for its service to stop.
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(Mutex::new(Some(released)));
    let slow_journal = j.clone();
    gov.add("slow", move |ctx| {
        let j = slow_journal.clone();
        let released = released.lock().unwrap().take();
        Box::pin(async move {
            j.note("slow:start");
            ctx.wait_for_stop().await;
            j.note("slow:stopping");
            if let Some(released) = released {
                let _ = released.await;
            }
            Ok(())
        }) as IdleFut
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("slow:start").await;
    let removing = gov.remove("slow");
    let meanwhile = async {
        notes.until("slow:stopping").await;
        assert!(matches!(
            gov.add("slow", idle(&j)),
            Err(Error::DuplicateName { .. })
        ));
        gov.add("needs-slow", idle(&j))
            .unwrap()
            .depends_on(["slow"]);
        assert_eq!(
            gov.start().unwrap_err(),
            Error::UnknownDependency {
                service: "needs-slow".into(),
                dependency: "slow".into()
            },
            "a service being removed takes no new dependent"
        );
        assert!(gov.report().service("slow").is_some(), "not gone yet");
        release.send(()).unwrap();
    };
    let (removed, ()) = futures_util::join!(removing, meanwhile);
    assert_eq!(removed.unwrap().last_outcome, Some(Outcome::Completed));
    assert!(gov.report().service("slow").is_none());
    gov.remove("needs-slow").await.unwrap();

    gov.add("late", idle(&j)).unwrap().depends_on(["db"]);
    assert_eq!(
        gov.start().unwrap_err(),
        Error::UnknownDependency {
            service: "late".into(),
            dependency: "db".into()
        }
    );
    gov.shutdown().await;
}

/// A service set to be forgotten leaves once it ends for good: its final
/// outcome reaches the events, `wait()` on a handle held before and that
/// handle's report; it stays while it restarts; its name is free again.
pub async fn forgotten_service_delivers_its_final_outcome<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let (gov, events) = recorded(h.governor());
    let (service, release) = fails_when_released(&j);
    let job = gov
        .add("job", service)
        .unwrap()
        .forget_when_ended()
        .handle();
    let retried = gov
        .add(
            "retried",
            ends_n_times(&j, 2, || Err(ServiceError::msg("e"))),
        )
        .unwrap()
        .restart(Duration::ZERO)
        .forget_when_ended()
        .handle();
    gov.add("keeper", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("job:start").await;
    notes.until("retried:run3").await;
    assert_eq!(
        gov.report().service("retried").map(|s| s.restarts),
        Some(2),
        "kept while it restarts"
    );
    assert_eq!(job.report().state, ServiceState::Ready);

    release.send(()).unwrap();
    let last = job.wait().await;
    assert_eq!(last.state, ServiceState::Ended);
    assert!(failed_with(&last.last_outcome, "released"), "{last:?}");
    assert_eq!(job.report(), last, "a handle held before keeps it");
    assert!(
        gov.report().service("job").is_none(),
        "forgotten on its end"
    );
    let stopped = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::RunEnded { service, outcome } if &**service == "job" && failed_with(&Some(outcome.clone()), "released")))
        .count();
    assert_eq!(stopped, 1, "the final outcome reached the events");
    gov.add("job", idle(&j))
        .expect("name is free")
        .start()
        .unwrap();
    until(h, || notes.count("job:start") == 2).await;

    // Ended by the shutdown: kept in its report, as every service is.
    let report = gov.shutdown().await;
    let names: Vec<&str> = report.services.iter().map(|s| &*s.name).collect();
    assert_eq!(names, ["retried", "keeper", "job"]);
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
    assert_eq!(retried.wait().await.runs, 3);
}

/// A service forgotten when stopped before it started leaves at once.
/// Under churn (many such services added, run to their end and
/// forgotten, one name reused throughout) the governor keeps no record of
/// them.
pub async fn forgotten_services_leave_no_records_under_churn<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("keeper", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("keeper:start").await;

    let never = gov
        .add("never", idle(&j))
        .unwrap()
        .forget_when_ended()
        .handle();
    assert!(never.stop());
    assert!(
        gov.report().service("never").is_none(),
        "stopped before start"
    );
    assert_eq!(never.wait().await.state, ServiceState::Ended);

    for round in 0..300 {
        let name = if round % 2 == 0 { "job" } else { "other-job" };
        let config = gov
            .add(name, quick(&j, || Ok(())))
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .forget_when_ended();
        let handle = config.handle();
        config.start().unwrap();
        let report = handle.wait().await;
        assert_eq!(report.last_outcome, Some(Outcome::Completed));
        assert!(
            gov.report().service(name).is_none(),
            "round {round}: forgotten once wait returns"
        );
    }
    assert_eq!(notes.count("job:run") + notes.count("other-job:run"), 300);
    let report = gov.report();
    assert_eq!(report.services.len(), 1, "only the keeper is left");
    let debug = format!("{gov:?}");
    assert!(debug.contains("services: 1,"), "{debug}");
    gov.shutdown().await;
}

/// Threads add (some to be forgotten), start, stop and remove services
/// under a few shared names, while a shutdown comes: no deadlock, no name
/// held twice, every run's outcome recorded once, every removal answered.
pub async fn removal_races_add_start_stop_and_shutdown_from_threads<H: Harness>(h: &H) {
    for round in 0..10 {
        let (j, notes) = journal();
        let gov = h.governor();
        gov.add("first", idle(&j)).unwrap();
        gov.start().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let gov = gov.clone();
                let j = j.clone();
                let runtime = h.runtime();
                std::thread::spawn(move || {
                    let mut removals = 0;
                    for i in 0..12 {
                        let name = format!("s{}", (thread + i) % 5);
                        if let Ok(config) = gov.add(name.as_str(), idle(&j)) {
                            let config = if i % 2 == 0 {
                                config.forget_when_ended()
                            } else {
                                config
                            };
                            let _ = config.start();
                        }
                        if i % 4 == 1 {
                            if let Ok(handle) = gov.service(&name) {
                                handle.stop();
                            }
                        }
                        if i % 3 == 2 {
                            removals += 1;
                            let gov = gov.clone();
                            let j = j.clone();
                            runtime.spawn(Box::pin(async move {
                                // Checked by the case, not here: a panic
                                // in a spawned task would go unseen.
                                let answer = match gov.remove(&name).await {
                                    Ok(report) if report.state.is_final() => "ok".to_owned(),
                                    Ok(report) => format!("not final: {report}"),
                                    Err(Error::UnknownService { .. }) => "unknown".to_owned(),
                                    Err(e) => format!("unexpected: {e}"),
                                };
                                j.note(format!("removal: {answer}"));
                            }));
                        }
                        if thread == 3 && i == 9 && round % 2 == 0 {
                            gov.request_shutdown();
                        }
                    }
                    removals
                })
            })
            .collect();
        let mut removals = 0;
        for thread in threads {
            removals += thread.join().unwrap();
        }
        let answered = |notes: &crate::support::JournalReader| {
            notes
                .all()
                .iter()
                .filter(|n| n.starts_with("removal: "))
                .count()
        };
        until(h, || answered(&notes) == removals).await;
        let removed = notes.count("removal: ok");
        let unknown = notes.count("removal: unknown");
        assert_eq!(
            removed + unknown,
            removals,
            "round {round}: {:?}",
            notes.all()
        );
        let report = gov.shutdown().await;
        assert_eq!(gov.running(), 0, "round {round}");
        let mut names: Vec<&str> = report.services.iter().map(|s| &*s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "round {round}: a name held twice");
        for s in &report.services {
            assert!(
                s.state.is_final() || s.state == ServiceState::Pending,
                "round {round}: {s}"
            );
            assert_eq!(s.runs > 0, s.last_outcome.is_some(), "round {round}: {s}");
        }
    }
}
