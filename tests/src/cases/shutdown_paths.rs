//! Waiting for shutdown on the paths the other cases do not walk: from
//! inside a service that others depend on, inside a nested governor, with
//! clean-up after the wait, and with a runtime that drops a supervisor
//! before its first poll.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{select, Either};
use governor_core::runtime::{BoxSleep, BoxTask, Runtime, SignalError, SignalStream};
use governor_core::{Governor, Outcome, ServiceState, Subtree};

use super::seed::idle;
use crate::harness::Harness;
use crate::support::{journal, timeline, until};

const MS: Duration = Duration::from_millis(1);

/// How long a wait that must end may take before the case fails it as
/// hung (well under the harness's own timeout, so the message says which).
const BOUND: Duration = Duration::from_secs(30);

/// `fut`'s output, or a failure naming `what` if it does not end within
/// [`BOUND`] (virtual time on the virtual runtime).
async fn within<H: Harness, F: Future>(h: &H, what: &str, fut: F) -> F::Output {
    let limit = h.runtime().sleep(BOUND);
    match select(pin!(fut), limit).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("{what} did not return within {BOUND:?}"),
    }
}

/// A service others depend on is stopped while a dependent awaits
/// `shutdown()` from inside: the dependent is parked with nothing left to
/// do but return, so its dependency's stop begins (after the dependents of
/// the dependent, in order), the inside wait returns with every other
/// service stopped, and `main`'s wait returns after all.
pub async fn shutdown_awaited_inside_a_dependent_returns<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let tt = t.clone();
    gov.add("db", move |ctx| {
        let t = tt.clone();
        async move {
            t.mark("db:start");
            ctx.ready();
            ctx.wait_for_stop().await;
            t.mark("db:stop");
            Ok(())
        }
    })
    .unwrap()
    .notify_ready();
    let tt = t.clone();
    gov.add("api", move |ctx| {
        let t = tt.clone();
        async move {
            t.mark("api:start");
            // A readiness wait inside it first: until its own dependent runs.
            let gov = ctx.governor();
            gov.wait_ready("web", BOUND).await.unwrap();
            let report = ctx.governor().shutdown().await;
            for other in ["db", "web"] {
                let state = report.service(other).unwrap().state;
                t.mark(format!("api:{other}={state:?}"));
            }
            Ok(())
        }
    })
    .unwrap()
    .depends_on(["db"]);
    let tt = t.clone();
    gov.add("web", move |ctx| {
        let t = tt.clone();
        async move {
            t.mark("web:start");
            ctx.wait_for_stop().await;
            t.mark("web:stop");
            Ok(())
        }
    })
    .unwrap()
    .depends_on(["api"]);
    gov.start().unwrap();
    let report = within(h, "wait_for_shutdown", gov.wait_for_shutdown()).await;
    notes.until("api:web=Ended").await;
    assert!(t.labels().contains(&"api:db=Ended".to_owned()));
    assert!(
        t.position("web:stop") < t.position("db:stop"),
        "dependents still stop first: {:?}",
        t.labels()
    );
    for name in ["db", "api", "web"] {
        let service = report.service(name).unwrap();
        assert_eq!(service.state, ServiceState::Ended, "{name}");
        assert_eq!(service.last_outcome, Some(Outcome::Completed), "{name}");
    }
}

/// A service that never became ready awaits `shutdown()` from inside while
/// a dependent still waits for its readiness: the dependent never runs and
/// ends, the inside wait returns, and so does `main`'s.
pub async fn shutdown_awaited_inside_an_unready_dependency_returns<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add("db", move |ctx| {
        let j = jj.clone();
        async move {
            j.note("db:start");
            let report = ctx.governor().shutdown().await;
            let api = report.service("api").unwrap().state;
            j.note(format!("db:api={api:?}"));
            Ok(())
        }
    })
    .unwrap()
    .notify_ready();
    gov.add("api", idle(&j)).unwrap().depends_on(["db"]);
    gov.start().unwrap();
    let report = within(h, "wait_for_shutdown", gov.wait_for_shutdown()).await;
    notes.until("db:api=Ended").await;
    assert!(!notes.all().contains(&"api:start".to_owned()));
    let db = report.service("db").unwrap();
    assert_eq!(db.state, ServiceState::Ended);
    assert_eq!(db.last_outcome, Some(Outcome::Completed));
    let api = report.service("api").unwrap();
    assert_eq!((api.state, api.runs), (ServiceState::Ended, 0));
}

/// `wait_for_shutdown()` awaited inside a dependent (async), and
/// `shutdown_blocking()` called inside another (blocking), both while their
/// dependency runs: the shutdown `main` requests stops the dependency, both
/// inside waits return, and so does `main`'s.
#[cfg(feature = "std")]
pub async fn wait_for_shutdown_inside_dependents_returns<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("db", idle(&j)).unwrap();
    let jj = j.clone();
    gov.add("api", move |ctx| {
        let j = jj.clone();
        async move {
            j.note("api:start");
            let report = ctx.governor().wait_for_shutdown().await;
            let db = report.service("db").unwrap().state;
            j.note(format!("api:db={db:?}"));
            Ok(())
        }
    })
    .unwrap()
    .depends_on(["db"]);
    let jj = j.clone();
    gov.add_blocking("batch", move |ctx| {
        jj.note("batch:start");
        let report = ctx.governor().wait_for_shutdown_blocking();
        let db = report.service("db").unwrap().state;
        jj.note(format!("batch:db={db:?}"));
        Ok(())
    })
    .unwrap()
    .depends_on(["db"]);
    gov.start().unwrap();
    for note in ["db:start", "api:start", "batch:start"] {
        notes.until(note).await;
    }
    let report = within(h, "shutdown", gov.shutdown()).await;
    for note in ["api:db=Ended", "batch:db=Ended"] {
        notes.until(note).await;
    }
    for name in ["db", "api", "batch"] {
        let service = report.service(name).unwrap();
        assert_eq!(service.state, ServiceState::Ended, "{name}");
        assert_eq!(service.last_outcome, Some(Outcome::Completed), "{name}");
    }
}

/// A service of a child governor (a subtree's) awaits the *parent's*
/// `shutdown()`: it is inside the parent's subtree service, so the parent
/// does not wait for that subtree, and everything ends.
pub async fn parent_shutdown_awaited_inside_a_subtree_returns<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let parent = h.governor();
    parent.add("other", idle(&j)).unwrap();
    // Handed to the child service once; taken, so no cycle is left.
    let handle: Arc<Mutex<Option<Governor>>> = Arc::new(Mutex::new(Some(parent.clone())));
    let jj = j.clone();
    parent
        .add_service(
            "shard",
            Subtree::new(move |child: &Governor| {
                child.add("store", idle(&jj))?;
                let (j, handle) = (jj.clone(), handle.clone());
                child
                    .add("api", move |_ctx| {
                        let (j, parent) = (j.clone(), handle.lock().unwrap().take());
                        async move {
                            let parent = parent.expect("one run only");
                            j.note("api:start");
                            let report = parent.shutdown().await;
                            let other = report.service("other").unwrap().state;
                            j.note(format!("api:other={other:?}"));
                            Ok(())
                        }
                    })?
                    .depends_on(["store"]);
                Ok(())
            }),
        )
        .unwrap();
    parent.start().unwrap();
    let report = within(
        h,
        "the parent's wait_for_shutdown",
        parent.wait_for_shutdown(),
    )
    .await;
    notes.until("api:other=Ended").await;
    assert!(notes.all().contains(&"store:stop".to_owned()));
    for name in ["other", "shard"] {
        let service = report.service(name).unwrap();
        assert_eq!(service.state, ServiceState::Ended, "{name}");
        assert_eq!(service.last_outcome, Some(Outcome::Completed), "{name}");
    }
}

/// A service that awaits `shutdown()` and then cleans up is still running
/// until its clean-up ends: `main`'s `wait_for_shutdown()` returns only
/// after it, even when the others stopped while the service's own wait was
/// pending (only that wait treats "everyone else stopped" as done).
pub async fn outside_wait_includes_the_clean_up_after_an_inside_wait<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let (j, _) = journal();
    gov.add("other", idle(&j)).unwrap();
    let tt = t.clone();
    let runtime = h.runtime();
    gov.add("quitter", move |ctx| {
        let (t, runtime) = (tt.clone(), runtime.clone());
        async move {
            t.mark("quitter:start");
            let gov = ctx.governor();
            let mut shutdown = pin!(gov.shutdown());
            // Asked for, and waiting inside from here on; it drains a
            // while before it awaits the rest (the others stop meanwhile).
            // On a loaded multi-thread runtime the others may all have
            // stopped by the first poll already: then the wait is done.
            let first = futures_util::poll!(shutdown.as_mut());
            runtime.sleep(100 * MS).await;
            if first.is_pending() {
                shutdown.await;
            }
            t.mark("quitter:clean-up");
            // Clean-up that takes a while (its token is cancelled, so on
            // the runtime's clock, not the context's).
            runtime.sleep(100 * MS).await;
            t.mark("quitter:cleaned");
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("quitter:start").await;
    let report = within(h, "wait_for_shutdown", gov.wait_for_shutdown()).await;
    t.mark("main:returned");
    assert!(
        t.labels().contains(&"quitter:cleaned".to_owned())
            && t.position("quitter:cleaned") < t.position("main:returned"),
        "main returned before the clean-up ended: {:?}",
        t.labels()
    );
    let quitter = report.service("quitter").unwrap();
    assert_eq!(quitter.state, ServiceState::Ended);
    assert_eq!(quitter.last_outcome, Some(Outcome::Completed));
    assert_eq!(gov.running(), 0);
}

/// The harness's runtime, except that while `drop_tasks` is set, a spawned
/// task is dropped at once, never polled (as by a runtime shutting down,
/// or a smol executor dropped before it ran the task).
struct DropsTasks {
    inner: Arc<dyn Runtime>,
    drop_tasks: Arc<AtomicBool>,
}

impl Runtime for DropsTasks {
    fn spawn(&self, task: BoxTask) {
        if self.drop_tasks.load(Ordering::Acquire) {
            drop(task);
        } else {
            self.inner.spawn(task);
        }
    }

    fn sleep(&self, duration: Duration) -> BoxSleep {
        self.inner.sleep(duration)
    }

    fn now(&self) -> Duration {
        self.inner.now()
    }

    #[cfg(feature = "std")]
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        self.inner.spawn_blocking(work);
    }

    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        self.inner.shutdown_signals()
    }
}

/// A supervisor the runtime drops before its first poll is counted out
/// once: its service ends Interrupted, its handle's `wait` and
/// `wait_for_shutdown` return, and the count of running services is right
/// for the services started after it.
pub async fn supervisor_dropped_before_its_first_poll_is_counted_out_once<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let drop_tasks = Arc::new(AtomicBool::new(true));
    let gov = Governor::new(DropsTasks {
        inner: h.runtime(),
        drop_tasks: drop_tasks.clone(),
    });
    gov.add("lost", idle(&j)).unwrap();
    gov.start().unwrap();
    let lost = gov.service("lost").unwrap();
    within(h, "the lost service's handle wait", lost.wait()).await;
    assert_eq!(gov.running(), 0, "the lost service is counted out");
    let report = within(h, "wait_for_shutdown", gov.wait_for_shutdown()).await;
    let service = report.service("lost").unwrap();
    assert_eq!(service.state, ServiceState::Ended);
    assert_eq!(service.runs, 0);

    // Services started later are counted as usual: the lost one was
    // counted out once, not twice.
    drop_tasks.store(false, Ordering::Release);
    gov.add("kept", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("kept:start").await;
    assert_eq!(gov.running(), 1);
    let stopped = within(h, "shutdown", gov.shutdown()).await;
    notes.until("kept:stop").await;
    assert_eq!(
        stopped.service("kept").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    until(h, || gov.running() == 0).await;
    assert!(!notes.all().contains(&"lost:start".to_owned()));
}

/// A shutdown that finds a dependent still waiting for a dependency that
/// was never ready, and ends that dependency in the same stroke (it was
/// only waiting to restart): the dependent was stopped while it waited
/// (`NotRun`), not failed by its dependency, and the shutdown stays
/// clean — whichever of the two ends its supervisor sees first.
pub async fn shutdown_ending_an_unready_dependency_leaves_dependents_not_run<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add("flaky", move |ctx| {
        let j = jj.clone();
        async move {
            j.note(format!("flaky:run{}", ctx.run()));
            Ok(()) // never ready, back in a minute
        }
    })
    .unwrap()
    .notify_ready()
    .restart(Duration::from_secs(60));
    gov.add("user", idle(&j)).unwrap().depends_on(["flaky"]);
    gov.start().unwrap();
    notes.until("flaky:run1").await;
    until(h, || {
        gov.report().service("flaky").unwrap().state == ServiceState::Restarting
    })
    .await;
    let report = within(h, "shutdown", gov.shutdown()).await;
    let user = report.service("user").unwrap();
    assert_eq!(
        (user.state, user.runs, user.last_outcome.clone()),
        (ServiceState::Ended, 0, Some(Outcome::NotRun)),
        "stopped while it waited, not failed by a dependency the shutdown ended:\n{report}"
    );
    assert!(report.is_clean(), "a plain shutdown is clean:\n{report}");
    assert_eq!(notes.count("user:start"), 0);
}
