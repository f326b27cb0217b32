//! User code and the governor's locks: an iterator, a conversion, a
//! `Drop` or a hook of the user's that calls back into the governor must
//! not find one of its locks held (re-entry would deadlock), and one that
//! panics must not lose what the governor was doing. Also the smaller
//! promises around them: stale contexts, readiness at the deadline,
//! services that never ran, and values dropped before `shutdown` returns.

use std::fmt;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use governor_core::runtime::{BoxSleep, BoxTask, BoxTimer, Runtime, SignalError, SignalStream};
use governor_core::{
    Error, Governor, Outcome, Service, ServiceCtx, ServiceError, ServiceHandle, ServiceResult,
    ServiceState, StopService,
};

use super::seed::{idle, state_of};
use crate::harness::Harness;
use crate::support::{journal, until, Journal};

const MS: Duration = Duration::from_millis(1);

/// How long [`from_another_thread`] waits before it calls the other
/// thread blocked. The wait ends as soon as the call returns, so only a
/// failing case waits this long; it must be far above what a thread's
/// start and a few reads take on a loaded machine, and under miri, which
/// interprets both threads on one (a 90 ms wait there once called a
/// free call blocked).
const BLOCKED_AFTER: Duration = Duration::from_secs(10);

/// Calls `call` from another thread and returns what it returned, or
/// `None` if it is still blocked after [`BLOCKED_AFTER`]: then a lock of
/// the governor's is held around the code that asked (called on the same
/// thread, `call` would have deadlocked on it).
fn from_another_thread<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(call());
    });
    result.recv_timeout(BLOCKED_AFTER).ok()
}

/// Notes `"<what>: read"` if the governor's report and `handle`'s can be
/// read from another thread right now, `"<what>: BLOCKED"` if not.
fn note_call_back(journal: &Journal, what: &str, gov: &Governor, handle: &ServiceHandle) {
    let (gov, handle) = (gov.clone(), handle.clone());
    let read = from_another_thread(move || {
        let _ = gov.report();
        let _ = handle.report();
    });
    let how = if read.is_some() { "read" } else { "BLOCKED" };
    journal.note(format!("{what}: {how}"));
}

/// A name whose conversion into `Arc<str>` calls back into the governor.
struct CallingName {
    name: &'static str,
    journal: Journal,
    gov: Governor,
    handle: ServiceHandle,
}

impl From<CallingName> for Arc<str> {
    fn from(name: CallingName) -> Arc<str> {
        note_call_back(&name.journal, "conversion", &name.gov, &name.handle);
        Arc::from(name.name)
    }
}

/// `depends_on`'s iterator and its items' conversions run outside the
/// governor's locks: both may read the governor's report and the
/// service's own.
pub async fn depends_on_iterator_may_call_back_into_the_governor<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("base", idle(&j)).unwrap();
    let top = gov.add("top", idle(&j)).unwrap();
    let handle = top.handle();
    let (jj, g, hh) = (j.clone(), gov.clone(), handle.clone());
    let names = ["base"].into_iter().map(move |name| {
        note_call_back(&jj, "iterator", &g, &hh);
        CallingName {
            name,
            journal: jj.clone(),
            gov: g.clone(),
            handle: hh.clone(),
        }
    });
    let _top = top.depends_on(names);
    assert_eq!(
        notes.all(),
        ["iterator: read", "conversion: read"],
        "user code in depends_on ran under a lock of the governor's"
    );
    gov.start().unwrap();
    notes.until("top:start").await;
    gov.shutdown().await;
}

/// A service error whose `Drop` calls back into the governor, or panics.
struct DropsBadly {
    journal: Journal,
    gov: Governor,
    handle: ServiceHandle,
    panic: bool,
}

impl fmt::Debug for DropsBadly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DropsBadly")
    }
}

impl fmt::Display for DropsBadly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an error that drops badly")
    }
}

impl std::error::Error for DropsBadly {}

impl Drop for DropsBadly {
    fn drop(&mut self) {
        if self.panic {
            self.journal.note("error: dropping (panics)");
            panic!("an error's Drop panicked");
        }
        note_call_back(&self.journal, "error dropped", &self.gov, &self.handle);
    }
}

/// A service that fails its first run with a [`DropsBadly`], then fails
/// again with a plain error (the first error is dropped as that outcome
/// replaces it), then ends with `StopService` on its third run.
fn fails_badly(
    journal: &Journal,
    panic: bool,
) -> impl FnMut(ServiceCtx) -> super::seed::IdleFut + Send + 'static {
    let journal = journal.clone();
    move |ctx| {
        let journal = journal.clone();
        Box::pin(async move {
            journal.note(format!("run:{}", ctx.run()));
            match ctx.run() {
                1 => {
                    let gov = ctx.governor();
                    let handle = gov.service(ctx.name()).unwrap();
                    Err(ServiceError::new(DropsBadly {
                        journal,
                        gov,
                        handle,
                        panic,
                    }))
                }
                2 => Err(ServiceError::msg("second failure")),
                _ => Err(StopService.into()),
            }
        })
    }
}

/// The previous run's error is dropped outside the governor's locks: its
/// `Drop` may read the governor's report and the service's own.
pub async fn previous_error_drop_may_call_back_into_the_governor<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    let handle = gov
        .add("svc", fails_badly(&j, false))
        .unwrap()
        .restart(Duration::ZERO)
        .handle();
    gov.start().unwrap();
    let report = handle.wait().await;
    assert_eq!(
        notes.count("error dropped: read"),
        1,
        "the old error's Drop ran under a lock of the governor's: {:?}",
        notes.all()
    );
    assert_eq!(report.runs, 3);
    assert_eq!(report.last_outcome, Some(Outcome::StopService));
    gov.shutdown().await;
}

/// A panic in the previous run's error's `Drop` (as the next outcome
/// replaces it) is caught: the restart decision is kept and the service
/// runs again.
pub async fn panicking_error_drop_keeps_the_restart_decision<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    let handle = gov
        .add("svc", fails_badly(&j, true))
        .unwrap()
        .restart(Duration::ZERO)
        .handle();
    gov.start().unwrap();
    let report = handle.wait().await;
    assert_eq!(notes.count("error: dropping (panics)"), 1);
    assert_eq!(
        report.runs,
        3,
        "the restart after run 2 was lost to the panic in the old error's Drop: {:?}",
        notes.all()
    );
    assert_eq!(report.last_outcome, Some(Outcome::StopService));
    assert_eq!(report.state, ServiceState::Ended);
    gov.shutdown().await;
}

/// `ctx.on_stop` from a context whose run has ended (a leftover of that
/// run) calls the hook at once — as for a run already asked to stop — and
/// never attaches it to a later run.
pub async fn stale_context_on_stop_runs_at_once_not_with_a_later_run<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let stash: Arc<Mutex<Vec<ServiceCtx>>> = Arc::default();
    // "again" restarts at once: run 2 is live when run 1's context is used.
    // "later" waits an hour to restart: its run 1 context is used between
    // the runs.
    for (name, delay) in [
        ("again", Duration::ZERO),
        ("later", Duration::from_secs(3600)),
    ] {
        let (jj, stash) = (j.clone(), stash.clone());
        gov.add(name, move |ctx| {
            let (j, stash) = (jj.clone(), stash.clone());
            async move {
                j.note(format!("{}:run{}", ctx.name(), ctx.run()));
                if ctx.run() == 1 {
                    stash.lock().unwrap().push(ctx.clone());
                    return Err(ServiceError::msg("first run fails"));
                }
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .restart(delay);
    }
    gov.start().unwrap();
    notes.until("again:run2").await;
    until(h, || state_of(&gov, "later") == ServiceState::Restarting).await;
    let stale: Vec<ServiceCtx> = std::mem::take(&mut *stash.lock().unwrap());
    assert_eq!(stale.len(), 2);
    for ctx in &stale {
        let (jj, name) = (j.clone(), ctx.name().to_owned());
        ctx.on_stop(move || jj.note(format!("{name}:stale hook")));
        assert_eq!(
            notes.count(&format!("{}:stale hook", ctx.name())),
            1,
            "a hook added from run 1's context after run 1 ended did not run at once: {:?}",
            notes.all()
        );
    }
    drop(stale);
    let report = gov.shutdown().await;
    for name in ["again", "later"] {
        assert_eq!(
            notes.count(&format!("{name}:stale hook")),
            1,
            "run 1's hook ran again with a later run: {:?}",
            notes.all()
        );
    }
    assert_eq!(report.service("again").unwrap().runs, 2);
    assert_eq!(report.service("later").unwrap().runs, 1);
}

/// A service value whose `Drop` calls back into the governor, or panics.
struct ValueDropsBadly {
    journal: Journal,
    gov: Governor,
    /// The handle is known only after `add`.
    handle: Arc<Mutex<Option<ServiceHandle>>>,
    what: &'static str,
    panic: bool,
}

impl Service for ValueDropsBadly {
    async fn run(&mut self, _ctx: ServiceCtx) -> ServiceResult {
        Ok(())
    }
}

impl Drop for ValueDropsBadly {
    fn drop(&mut self) {
        if self.panic {
            self.journal
                .note(format!("{}: dropping (panics)", self.what));
            panic!("a service value's Drop panicked");
        }
        let handle = self.handle.lock().unwrap().clone();
        let handle = handle.unwrap_or_else(|| self.gov.service("pending").unwrap());
        note_call_back(&self.journal, self.what, &self.gov, &handle);
    }
}

/// A service refused by `add` and a service stopped before it started are
/// dropped outside the governor's locks (their `Drop` may call back); a
/// panic in that `Drop` is caught (neither `add` nor `stop` panics), and
/// a waiter on the stopped service still learns that it ended.
pub async fn refused_and_cancelled_services_drop_outside_locks<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    let slot = Arc::new(Mutex::new(None));
    let value = |what, panic| ValueDropsBadly {
        journal: j.clone(),
        gov: gov.clone(),
        handle: slot.clone(),
        what,
        panic,
    };
    let pending = gov
        .add_service("pending", value("pending dropped", false))
        .unwrap();
    *slot.lock().unwrap() = Some(pending.handle());
    let bomb = gov
        .add_service("bomb", value("bomb dropped", true))
        .unwrap()
        .handle();
    // A refused duplicate is dropped by `add`.
    let refused = gov.add_service("pending", value("refused dropped", false));
    assert_eq!(
        refused.unwrap_err(),
        Error::DuplicateName {
            name: "pending".into()
        }
    );
    let refused = gov.add_service("bomb", value("refused bomb", true));
    assert!(matches!(refused, Err(Error::DuplicateName { .. })));
    // A pending service stopped by its handle is dropped by `stop`.
    let handle = pending.handle();
    drop(pending);
    assert!(handle.stop());
    assert!(bomb.stop(), "stopping a pending service whose Drop panics");
    assert_eq!(bomb.wait().await.state, ServiceState::Ended);
    assert_eq!(handle.wait().await.state, ServiceState::Ended);
    assert_eq!(
        (
            notes.count("refused dropped: read"),
            notes.count("pending dropped: read"),
            notes.count("refused bomb: dropping (panics)"),
            notes.count("bomb dropped: dropping (panics)"),
        ),
        (1, 1, 1, 1),
        "{:?}",
        notes.all()
    );
    *slot.lock().unwrap() = None; // no cycle through the handle
    gov.shutdown().await;
}

/// Runs its closure when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// An event hook replaced by another is dropped outside the governor's
/// locks: what it captured may call back into the governor as it goes.
pub async fn replaced_event_hook_drops_outside_locks<H: Harness>(h: &H) {
    let (j, notes) = journal();
    let gov = h.governor();
    let (jj, g) = (j.clone(), gov.clone());
    let guard = OnDrop(move || {
        let g = g.clone();
        let set = from_another_thread(move || drop(g.on_event(|_| {})));
        jj.note(if set.is_some() {
            "old hook dropped: set"
        } else {
            "old hook dropped: BLOCKED"
        });
    });
    let gov = gov.on_event(move |_| {
        let _ = &guard;
    });
    let gov = gov.on_event(|_| {});
    assert_eq!(
        notes.all(),
        ["old hook dropped: set"],
        "the replaced event hook was dropped under a lock of the governor's"
    );
    gov.add("svc", idle(&j)).unwrap();
    gov.start().unwrap();
    gov.shutdown().await;
}

/// What [`AtDeadline`] runs, once set.
type DeadlineAction = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

/// Wraps a runtime: the one sleep of `deadline` runs `at_deadline` as it
/// completes — something that happens between a timeout firing and the
/// code that reacts to it, as on another thread.
struct AtDeadline {
    inner: Arc<dyn Runtime>,
    deadline: Duration,
    at_deadline: DeadlineAction,
}

impl Runtime for AtDeadline {
    fn spawn(&self, task: BoxTask) {
        self.inner.spawn(task)
    }
    fn sleep(&self, duration: Duration) -> BoxSleep {
        let sleep = self.inner.sleep(duration);
        if duration != self.deadline {
            return sleep;
        }
        let at_deadline = self.at_deadline.clone();
        Box::pin(async move {
            sleep.await;
            let action = at_deadline.lock().unwrap().take();
            if let Some(action) = action {
                action();
            }
        })
    }
    fn timer(&self) -> Option<BoxTimer> {
        self.inner.timer()
    }
    fn now(&self) -> Duration {
        self.inner.now()
    }
    #[cfg(feature = "std")]
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        self.inner.spawn_blocking(work)
    }
    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        self.inner.shutdown_signals()
    }
}

/// A service that becomes ready just as `wait_ready`'s time runs out is
/// ready: `wait_ready` never fails naming no service (an empty name).
pub async fn wait_ready_never_names_an_empty_service<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let at_deadline: DeadlineAction = Arc::default();
    let deadline = 250 * MS;
    let gov = Governor::new(AtDeadline {
        inner: h.runtime(),
        deadline,
        at_deadline: at_deadline.clone(),
    });
    let stash: Arc<Mutex<Option<ServiceCtx>>> = Arc::default();
    let (jj, stashed) = (j.clone(), stash.clone());
    gov.add("late", move |ctx| {
        let (j, stash) = (jj.clone(), stashed.clone());
        async move {
            *stash.lock().unwrap() = Some(ctx.clone());
            j.note("late:start");
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap()
    .notify_ready();
    gov.start().unwrap();
    notes.until("late:start").await;
    *at_deadline.lock().unwrap() = Some(Box::new(move || {
        if let Some(ctx) = stash.lock().unwrap().take() {
            ctx.ready();
        }
    }));
    let result = gov.wait_ready("late", deadline).await;
    assert!(at_deadline.lock().unwrap().is_none(), "the deadline passed");
    assert_eq!(result, Ok(()), "ready when the time ran out");
    gov.shutdown().await;
}

/// A started service that never ran — stopped while it waited for its
/// dependencies, or failed by a dependency that ended without being
/// ready — still ends with exactly one recorded outcome.
pub async fn services_that_never_ran_record_an_outcome<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("never-ready", idle(&j)).unwrap().notify_ready();
    gov.add("waiting", idle(&j))
        .unwrap()
        .depends_on(["never-ready"]);
    let jj = j.clone();
    gov.add("flop", move |_ctx| {
        let j = jj.clone();
        async move {
            j.note("flop:run");
            Ok(())
        }
    })
    .unwrap()
    .notify_ready();
    let orphan = gov
        .add("orphan", idle(&j))
        .unwrap()
        .depends_on(["flop"])
        .handle();
    gov.start().unwrap();
    notes.until("never-ready:start").await;
    let orphan = orphan.wait().await;
    assert_eq!(orphan.state, ServiceState::Ended);
    assert_eq!(orphan.runs, 0);
    assert_eq!(
        orphan.last_outcome,
        Some(Outcome::DependencyFailed("flop".into())),
        "a service failed by its dependency recorded no outcome"
    );
    assert_eq!(state_of(&gov, "waiting"), ServiceState::Starting);
    let report = gov.shutdown().await;
    let waiting = report.service("waiting").unwrap();
    assert_eq!(waiting.state, ServiceState::Ended);
    assert_eq!(waiting.runs, 0);
    assert_eq!(
        waiting.last_outcome,
        Some(Outcome::NotRun),
        "a service stopped while it waited for its dependencies recorded no outcome"
    );
    assert!(!report.is_clean(), "a dependency failure is not clean");
    assert_eq!(
        notes.count("waiting:start") + notes.count("orphan:start"),
        0
    );
}

/// A service value that notes, as it is dropped, whether its service
/// still counts as running.
struct NotesItsDrop {
    journal: Journal,
    gov: Option<Governor>,
}

impl Service for NotesItsDrop {
    async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
        self.gov = Some(ctx.governor());
        self.journal.note(format!("{}:start", ctx.name()));
        ctx.wait_for_stop().await;
        Ok(())
    }
}

impl Drop for NotesItsDrop {
    fn drop(&mut self) {
        let running = self.gov.as_ref().map(Governor::running);
        self.journal
            .note(format!("dropped while running: {running:?}"));
    }
}

/// `shutdown()` returns only once every service's value has been
/// dropped: a service counts as running until its value is gone.
pub async fn shutdown_returns_after_service_values_are_dropped<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add_service(
        "svc",
        NotesItsDrop {
            journal: j.clone(),
            gov: None,
        },
    )
    .unwrap();
    gov.start().unwrap();
    notes.until("svc:start").await;
    gov.shutdown().await;
    assert_eq!(
        notes.all().last().map(String::as_str),
        Some("dropped while running: Some(1)"),
        "the value was dropped after its service stopped counting as running (or after shutdown returned)"
    );
}
