//! Tasks scoped to a run: what [`ServiceCtx::spawn`](crate::ServiceCtx::spawn)
//! and [`ServiceCtx::spawn_blocking`](crate::ServiceCtx::spawn_blocking)
//! start, the [`TaskHandle`] they return, and the scope ([`RunTasks`]) that
//! joins every task of a run to that run.
//!
//! Structured concurrency, as trio's nurseries, tokio's `JoinSet` and
//! tokio-graceful-shutdown's nested subsystems: a task belongs to the run
//! that spawned it, sees that run's stop (its token is a child of the
//! spawning context's), and never outlives it. The run's supervisor counts
//! the run as ended only once every task has ended.
//!
//! # Invariants
//!
//! 1. Every task that [`RunTasks::register`] accepted ends exactly once
//!    ([`TaskRun`] records its end when it completes, when it is aborted,
//!    or when the runtime drops it, polled or not), and that end removes
//!    its entry from the scope: `live` counts exactly the tasks registered
//!    and not yet ended.
//! 2. Each end produces exactly one result: handed to the task's handle if
//!    the handle still exists, otherwise judged by the scope (a failure
//!    then fails the run). A result the handle holds unread when it is
//!    dropped is judged by the scope then: no failure is lost.
//! 3. `closed` is set once, when the run's main future has ended (or the
//!    run was cut off); from then on `register` refuses, so `live` only
//!    falls and the run's wait for its tasks ([`AllEnded`]) ends.
//! 4. `failure` is the first unhandled failure while the run is not
//!    `settled`; setting it stops the run (its token), once.
//!
//! # Locks and user code
//!
//! The scope's lock is a leaf: nothing else is locked under it, and no
//! waker, no user code (a task's future or output, a handle's result)
//! runs or is dropped under it. A task's delivery lock ([`TaskCell`]) is a
//! leaf too; the scope's lock is never taken under it nor it under the
//! scope's.

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::error::Error as StdError;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use futures_util::task::AtomicWaker;
use slab::Slab;

use crate::outcome::{Outcome, ServiceError};
use crate::sync::{AtomicBool, Mutex, OnceCell, Ordering};
use crate::token::{StopSource, StopToken};
use crate::wait_list::{WaitList, WaiterKey};

/// Why a task did not give its output: what awaiting its [`TaskHandle`]
/// yields instead.
///
/// It converts into a [`ServiceError`] with `?` as its meaning says:
/// [`Interrupted`](TaskError::Interrupted) as a clean end (the task was
/// stopped), [`StopService`](TaskError::StopService) as the request to end
/// the service for good, anything else as a failure.
#[derive(Clone)]
#[non_exhaustive]
pub enum TaskError {
    /// The task returned an error.
    Failed(Arc<dyn StdError + Send + Sync + 'static>),
    /// The task panicked (caught with the `std` feature): the payload's text.
    Panicked(Arc<str>),
    /// The task returned [`StopService`](crate::StopService).
    StopService,
    /// The task returned [`Interrupted`](crate::Interrupted): it ended
    /// because it was asked to stop. Not a failure.
    Interrupted,
    /// The task was aborted ([`TaskHandle::abort`], its run's shutdown
    /// timeout, or the runtime dropping it) before it ended.
    Aborted,
    /// The task was never started: its run had ended (or was ending: its
    /// main future had returned) when it was spawned.
    NotStarted,
}

impl TaskError {
    fn of_service_error(error: ServiceError) -> Self {
        match error.into_outcome() {
            Outcome::Failed(e) => TaskError::Failed(e),
            Outcome::StopService => TaskError::StopService,
            _ => TaskError::Interrupted,
        }
    }

    /// Whether this is a failure of the task ([`Failed`](TaskError::Failed)
    /// or [`Panicked`](TaskError::Panicked)).
    pub fn is_failure(&self) -> bool {
        matches!(self, TaskError::Failed(_) | TaskError::Panicked(_))
    }

    /// The outcome this end gives its run when nobody handles it: a
    /// failure, a panic or `StopService` end the run that way; `None` for
    /// the ends that fail nothing.
    fn unhandled_outcome(&self) -> Option<Outcome> {
        match self {
            TaskError::Failed(e) => Some(Outcome::Failed(e.clone())),
            TaskError::Panicked(text) => Some(Outcome::Panicked(text.clone())),
            TaskError::StopService => Some(Outcome::StopService),
            _ => None,
        }
    }

    /// As a [`ServiceError`] (see the type's docs).
    pub(crate) fn into_service_error(self) -> ServiceError {
        match self {
            TaskError::Failed(e) => ServiceError::new(SharedError(e)),
            TaskError::StopService => ServiceError::stop(),
            TaskError::Interrupted => ServiceError::from(crate::token::Interrupted),
            other => ServiceError::msg(other),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(e) => write!(f, "task failed: {e}"),
            TaskError::Panicked(text) => write!(f, "task panicked: {text}"),
            TaskError::StopService => f.write_str("task asked to stop the service for good"),
            TaskError::Interrupted => f.write_str("task interrupted by a stop"),
            TaskError::Aborted => f.write_str("task aborted"),
            TaskError::NotStarted => f.write_str("task not started: its run had ended"),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(e) => f.debug_tuple("Failed").field(&format_args!("{e}")).finish(),
            TaskError::Panicked(text) => f.debug_tuple("Panicked").field(text).finish(),
            TaskError::StopService => f.write_str("StopService"),
            TaskError::Interrupted => f.write_str("Interrupted"),
            TaskError::Aborted => f.write_str("Aborted"),
            TaskError::NotStarted => f.write_str("NotStarted"),
        }
    }
}

impl StdError for TaskError {}

impl PartialEq for TaskError {
    /// Failures compare by their message text.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TaskError::Failed(a), TaskError::Failed(b)) => format!("{a}") == format!("{b}"),
            (TaskError::Panicked(a), TaskError::Panicked(b)) => a == b,
            (a, b) => core::mem::discriminant(a) == core::mem::discriminant(b),
        }
    }
}

/// A task's failure, shared, as an error of its own (for
/// [`TaskError::into_service_error`]).
#[derive(Debug)]
struct SharedError(Arc<dyn StdError + Send + Sync + 'static>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for SharedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

/// The tasks of one run: counted, named, stoppable and abortable as one.
/// Made the first time the run spawns (most runs never do); kept by the
/// service's record while the run lasts.
pub(crate) struct RunTasks {
    /// The run's own stop: stopped when a task fails unhandled, or when
    /// the run's main future ends with tasks still running.
    run_stop: StopSource,
    service: Arc<str>,
    state: Mutex<ScopeState>,
}

struct ScopeState {
    live: Slab<Entry>,
    /// Tasks spawned so far in this run (their numbers start at 1).
    spawned: u64,
    /// No new task is accepted (invariant 3).
    closed: bool,
    /// The run's outcome is decided: later failures are only logged.
    settled: bool,
    /// The first failure nobody handled (invariant 4).
    failure: Option<Outcome>,
    /// Woken when `live` reaches zero after `closed`, and on `failure`.
    waiters: WaitList,
}

/// A live task as its scope knows it: enough to name and abort it.
struct Entry {
    number: u64,
    name: Option<Arc<str>>,
    control: Arc<dyn Control>,
}

impl Entry {
    fn name(&self) -> Arc<str> {
        match &self.name {
            Some(name) => name.clone(),
            None => Arc::from(format!("task #{}", self.number)),
        }
    }
}

/// What a scope, and the task's own context, reach of a task without
/// knowing its output.
pub(crate) trait Control: Send + Sync {
    fn abort(&self);
    /// The task's own stop.
    fn stop(&self) -> &TaskStop;
    /// The scope the task belongs to (`None`: the task was refused).
    fn scope(&self) -> Option<&Arc<RunTasks>>;
}

/// A task's own stop: a child of the spawning context's token, made the
/// first time the task (its context) or its handle needs it. Most tasks
/// never look at their stop, or only check it: until then, checking it
/// is checking the parent's, and spawning costs no token node (an
/// allocation, and a lock of the parent's node to link it and another
/// to unlink it).
///
/// It behaves as a child made at spawn would: a child made after the
/// parent stopped is born stopped, and the handle's `stop` makes the
/// child (if need be) and stops it, so that the task sees it whether
/// it looked before or not.
///
/// It also holds the task's scope, whose run token is the parent of a
/// task spawned by the run's own context: such a task holds no clone of
/// the token (two counts up at its spawn, two down at its end).
pub(crate) struct TaskStop {
    link: Link,
    own: OnceCell<StopSource>,
}

/// A task's parent token and scope.
enum Link {
    /// Spawned by the run's own context into this scope: the parent is
    /// the scope's run token.
    Run(Arc<RunTasks>),
    /// Spawned by a task's context (or refused: no scope): the parent is
    /// that context's token.
    Spawner {
        parent: StopToken,
        scope: Option<Arc<RunTasks>>,
    },
}

impl TaskStop {
    /// The stop of a task spawned by a context whose token is `spawner`
    /// (`of_run`: the run's own context, whose token is the run's) into
    /// `scope`.
    pub(crate) fn new(spawner: &StopToken, of_run: bool, scope: Option<Arc<RunTasks>>) -> Self {
        let link = match scope {
            Some(scope) if of_run => {
                debug_assert!(scope.run_stop.token().same_as(spawner));
                Link::Run(scope)
            }
            scope => Link::Spawner {
                parent: spawner.clone(),
                scope,
            },
        };
        TaskStop {
            link,
            own: OnceCell::new(),
        }
    }

    fn parent(&self) -> &StopToken {
        match &self.link {
            Link::Run(scope) => scope.run_stop.token(),
            Link::Spawner { parent, .. } => parent,
        }
    }

    fn scope(&self) -> Option<&Arc<RunTasks>> {
        match &self.link {
            Link::Run(scope) => Some(scope),
            Link::Spawner { scope, .. } => scope.as_ref(),
        }
    }

    /// The task's own source, made now if it was not.
    pub(crate) fn source(&self) -> &StopSource {
        self.own.get_or_init(|| self.parent().child())
    }

    /// Whether the task is asked to stop: its own token if made, else
    /// its parent's (one atomic load each).
    #[inline]
    pub(crate) fn stopping(&self) -> bool {
        match self.own.get() {
            Some(own) => own.stopping(),
            None => self.parent().stopping(),
        }
    }
}

impl RunTasks {
    pub(crate) fn new(service: Arc<str>, run_stop: StopSource) -> Self {
        RunTasks {
            run_stop,
            service,
            state: Mutex::new(ScopeState {
                live: Slab::new(),
                spawned: 0,
                closed: false,
                settled: false,
                failure: None,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Counts a new task in; `None` once the scope is closed.
    fn register(&self, name: Option<Arc<str>>, control: Arc<dyn Control>) -> Option<usize> {
        let mut state = self.state.lock();
        if state.closed {
            return None;
        }
        state.spawned += 1;
        let number = state.spawned;
        Some(state.live.insert(Entry {
            number,
            name,
            control,
        }))
    }

    /// A task ended (invariant 1); `unhandled`: the failure it fails the
    /// run with, if nobody took its result.
    fn task_ended(&self, key: usize, unhandled: Option<Outcome>) {
        // A failure stops the run before the task is counted out: the run
        // cannot be seen to end (and its token be handed to the next run)
        // before its stop, which would then stop the wrong run.
        if let Some(outcome) = unhandled {
            self.late_failure(outcome);
        }
        let (entry, wake) = {
            let mut state = self.state.lock();
            let entry = state.live.try_remove(key);
            let wake = (state.closed && state.live.is_empty()).then(|| state.waiters.take());
            (entry, wake)
        };
        drop(entry);
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    /// A failure nobody handled, seen after its task ended (a handle
    /// dropped with its result unread).
    fn late_failure(&self, outcome: Outcome) {
        let (wake, stop) = {
            let mut state = self.state.lock();
            let stop = state.record_failure(outcome);
            (stop.is_some().then(|| state.waiters.take()), stop)
        };
        if let Some(wake) = wake {
            wake.wake();
        }
        if let Some(outcome) = stop {
            self.stop_run_for(&outcome);
        }
    }

    fn stop_run_for(&self, outcome: &Outcome) {
        tracing::error!(service = %self.service, "a task of the run {outcome}: the run stops");
        self.run_stop.stop();
    }

    /// Accepts no new task (invariant 3). Returns how many still run and
    /// the first unhandled failure so far.
    pub(crate) fn close(&self) -> (usize, Option<Outcome>) {
        let mut state = self.state.lock();
        state.closed = true;
        (state.live.len(), state.failure.clone())
    }

    /// The run's main future ended with tasks left: they are asked to
    /// stop (through the run's token, whose children they hold).
    pub(crate) fn stop_remaining(&self) {
        self.run_stop.stop();
    }

    /// The run's outcome given its main future's `main`: the main
    /// future's failure (or `StopService`) if it had one, else the first
    /// unhandled failure of a task, else `main`. Settles the scope: later
    /// failures are only logged.
    pub(crate) fn settle(&self, main: Outcome, task_failed_first: Option<Outcome>) -> Outcome {
        let later = {
            let mut state = self.state.lock();
            state.settled = true;
            state.failure.clone()
        };
        if let Some(first) = task_failed_first {
            return first;
        }
        if main.is_failure() || main == Outcome::StopService {
            return main;
        }
        later.unwrap_or(main)
    }

    /// Aborts every task still running; returns their names (for the
    /// report). They end at their next poll (or when the runtime drops
    /// them).
    pub(crate) fn abort_all(&self) -> Vec<Arc<str>> {
        let (names, controls): (Vec<_>, Vec<_>) = {
            let mut state = self.state.lock();
            state.closed = true;
            state.settled = true;
            state
                .live
                .iter()
                .map(|(_, entry)| (entry.name(), entry.control.clone()))
                .unzip()
        };
        for control in controls {
            control.abort();
        }
        names
    }

    /// How many tasks of the run are running.
    pub(crate) fn running(&self) -> usize {
        self.state.lock().live.len()
    }

    /// Completes once the scope is closed and every task has ended.
    pub(crate) fn all_ended(self: &Arc<Self>) -> AllEnded {
        AllEnded {
            scope: self.clone(),
            key: None,
        }
    }

    fn poll_all_ended(&self, key: &mut Option<WaiterKey>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock();
        if state.closed && state.live.is_empty() {
            if let Some(key) = key.take() {
                state.waiters.remove(key);
            }
            Poll::Ready(())
        } else {
            state.waiters.register(key, cx.waker());
            Poll::Pending
        }
    }
}

impl ScopeState {
    /// Records `outcome` as the run's failure if it is the first while
    /// the run is not settled; returns it if so (the run is to stop).
    fn record_failure(&mut self, outcome: Outcome) -> Option<Outcome> {
        if self.settled || self.failure.is_some() {
            tracing::error!("a task of a run that has ended or failed already {outcome}");
            return None;
        }
        self.failure = Some(outcome.clone());
        Some(outcome)
    }
}

/// The future of [`RunTasks::all_ended`].
#[must_use = "futures do nothing unless polled"]
pub(crate) struct AllEnded {
    scope: Arc<RunTasks>,
    key: Option<WaiterKey>,
}

impl Future for AllEnded {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.scope.poll_all_ended(&mut this.key, cx)
    }
}

impl Drop for AllEnded {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.scope.state.lock().waiters.remove(key);
        }
    }
}

/// What a task shares with its handle and its scope.
pub(crate) struct TaskCell<T> {
    /// Set by an abort; the task drops its future at its next poll.
    aborted: AtomicBool,
    /// The task's waker, for an abort to wake it.
    waker: AtomicWaker,
    /// The task's own stop (a child of the spawning context's token,
    /// made at its first use), and its scope (for its end, and for a
    /// failure its handle drops unread).
    stop: TaskStop,
    delivery: Mutex<Delivery<T>>,
}

struct Delivery<T> {
    /// The task's result, once it ended, until the handle takes it.
    result: Option<Result<T, TaskError>>,
    /// The task has ended.
    ended: bool,
    /// The handle exists (not dropped).
    handle_alive: bool,
    /// The handle's waker, while it waits.
    waker: Option<Waker>,
}

impl<T: Send> Control for TaskCell<T> {
    fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn stop(&self) -> &TaskStop {
        &self.stop
    }

    fn scope(&self) -> Option<&Arc<RunTasks>> {
        self.stop.scope()
    }
}

impl<T> TaskCell<T> {
    pub(crate) fn new(stop: TaskStop) -> Self {
        TaskCell {
            aborted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            stop,
            delivery: Mutex::new(Delivery {
                result: None,
                ended: false,
                handle_alive: true,
                waker: None,
            }),
        }
    }

    /// Hands `result` to the handle if it still exists; otherwise returns
    /// it, to be judged and dropped by the caller outside the lock.
    fn deliver(&self, result: Result<T, TaskError>) -> Option<Result<T, TaskError>> {
        let waker = {
            let mut delivery = self.delivery.lock();
            delivery.ended = true;
            if !delivery.handle_alive {
                return Some(result);
            }
            delivery.result = Some(result);
            delivery.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        None
    }
}

/// The handle of a task spawned with [`ServiceCtx::spawn`](crate::ServiceCtx::spawn)
/// or [`spawn_blocking`](crate::ServiceCtx::spawn_blocking): await it for
/// the task's output, [`abort`](TaskHandle::abort) or
/// [`stop`](TaskHandle::stop) it.
///
/// **Handled or not.** Whoever holds the handle owns the task's result:
/// awaiting it yields `Ok(output)` or the [`TaskError`] (a failure's error,
/// a panic's text), and such a failure is then the service's to handle —
/// it does not fail the run. A failure nobody reads fails the run: when
/// the task ends after its handle was dropped (a *detached* task; dropping
/// the handle detaches, as with tokio's `JoinHandle`), or when the handle is
/// dropped still holding the unread failure. Failing the run means: the
/// run is asked to stop (its token, so every task and the main future see
/// it), its outcome is that failure, and the restart policy applies.
///
/// Dropping the handle does not stop the task: it still belongs to its run,
/// which waits for it.
///
/// Once it has yielded its result, the handle is pending forever (it is a
/// fused future: see [`is_terminated`](futures_core::FusedFuture::is_terminated)).
#[must_use = "dropping the handle detaches the task: its failure then fails the run"]
pub struct TaskHandle<T> {
    cell: Arc<TaskCell<T>>,
    taken: bool,
}

impl<T: Send + 'static> TaskHandle<T> {
    /// Aborts the task: its future is dropped at its next poll, and the
    /// handle yields [`TaskError::Aborted`] unless the task had ended
    /// already. A blocking task cannot be cut off: its closure runs on,
    /// its result is dropped when it comes.
    pub fn abort(&self) {
        Control::abort(&*self.cell);
    }

    /// Asks the task to stop: stops the task's own token (a child of
    /// the context that spawned it), which it observes through the
    /// [`ServiceCtx`](crate::ServiceCtx) it was given. Its run and the
    /// other tasks go on.
    pub fn stop(&self) {
        self.cell.stop.source().stop();
    }

    /// Whether the task has ended (its result may still be unread).
    pub fn is_finished(&self) -> bool {
        self.cell.delivery.lock().ended
    }

    /// Detaches the task (as dropping the handle does): it runs on as a
    /// task of its run, and a failure of it fails the run.
    pub fn detach(self) {
        drop(self);
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.taken {
            return Poll::Pending;
        }
        let mut delivery = this.cell.delivery.lock();
        match delivery.result.take() {
            Some(result) => {
                delivery.waker = None;
                drop(delivery);
                this.taken = true;
                Poll::Ready(result)
            }
            None => {
                match &mut delivery.waker {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    record => *record = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> futures_core::FusedFuture for TaskHandle<T> {
    fn is_terminated(&self) -> bool {
        self.taken
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        if self.taken {
            // It read the result: the task has ended and delivers nothing
            // more, and the poll that took the result dropped its waker.
            return;
        }
        let (unread, waker) = {
            let mut delivery = self.cell.delivery.lock();
            delivery.handle_alive = false;
            (delivery.result.take(), delivery.waker.take())
        };
        drop(waker);
        if let Some(result) = unread {
            if let Err(error) = &result {
                if let (Some(outcome), Some(scope)) =
                    (error.unhandled_outcome(), self.cell.stop.scope())
                {
                    scope.late_failure(outcome);
                }
            }
            drop_output(result);
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("finished", &self.cell.delivery.lock().ended)
            .finish_non_exhaustive()
    }
}

/// Drops a task's output (user code: a panic in its `Drop` is caught with
/// `std`).
fn drop_output<T>(value: T) {
    #[cfg(feature = "std")]
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))).is_err() {
        tracing::error!("dropping a task's output panicked");
    }
    #[cfg(not(feature = "std"))]
    drop(value);
}

/// The text of a caught panic.
#[cfg(feature = "std")]
fn panic_text(payload: Box<dyn core::any::Any + Send>) -> TaskError {
    match crate::outcome::outcome_of_panic(payload) {
        Outcome::Panicked(text) => TaskError::Panicked(text),
        Outcome::StopService => TaskError::StopService,
        _ => TaskError::Panicked(Arc::from("<panic>")),
    }
}

pin_project_lite::pin_project! {
    /// A task as the runtime runs it: the user's future, with panics
    /// caught, aborts honoured, and its one end recorded (invariant 1).
    ///
    /// Its fields drop in order: the future first, then the [`Ending`],
    /// which records an end not recorded yet (the runtime dropped it).
    struct TaskRun<Fut, T> {
        #[pin]
        stage: Stage<Fut>,
        ending: Ending<T>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<Fut> {
        Running { #[pin] fut: Fut },
        Done,
    }
}

/// Records a task's end, once.
struct Ending<T> {
    /// Its scope is `cell.scope` (a started task's is always there).
    cell: Arc<TaskCell<T>>,
    key: usize,
    inside: crate::inside::InsideMarker,
    done: bool,
}

impl<T> Ending<T> {
    fn end(&mut self, result: Result<T, TaskError>) {
        if core::mem::replace(&mut self.done, true) {
            return;
        }
        let unhandled = self.cell.deliver(result).and_then(|result| {
            let outcome = result.as_ref().err().and_then(TaskError::unhandled_outcome);
            drop_output(result);
            outcome
        });
        if let Some(scope) = self.cell.stop.scope() {
            scope.task_ended(self.key, unhandled);
        }
    }
}

impl<T> Drop for Ending<T> {
    fn drop(&mut self) {
        self.end(Err(TaskError::Aborted));
    }
}

impl<Fut, T> Future for TaskRun<Fut, T>
where
    Fut: Future<Output = Result<T, ServiceError>>,
    T: Send,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let mut stage = this.stage;
        let ending = this.ending;
        let StageProj::Running { fut } = stage.as_mut().project() else {
            return Poll::Ready(());
        };
        let result = if ending.cell.aborted.load(Ordering::Acquire) {
            Err(TaskError::Aborted)
        } else {
            let _inside = crate::inside::Guard::enter(ending.inside);
            #[cfg(feature = "std")]
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx)));
            #[cfg(not(feature = "std"))]
            let polled: Result<_, ()> = Ok(fut.poll(cx));
            match polled {
                Ok(Poll::Pending) => {
                    ending.cell.waker.register(cx.waker());
                    if !ending.cell.aborted.load(Ordering::Acquire) {
                        return Poll::Pending;
                    }
                    Err(TaskError::Aborted)
                }
                Ok(Poll::Ready(result)) => result.map_err(TaskError::of_service_error),
                #[cfg(feature = "std")]
                Err(payload) => Err(panic_text(payload)),
                #[cfg(not(feature = "std"))]
                Err(()) => Err(TaskError::Aborted),
            }
        };
        // The future is dropped before the end is told (a task's end means
        // its future is gone); its `Drop` is user code, caught.
        #[cfg(feature = "std")]
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stage.set(Stage::Done)))
            .is_err()
        {
            tracing::error!("dropping a task's future panicked");
        }
        #[cfg(not(feature = "std"))]
        stage.set(Stage::Done);
        ending.end(result);
        Poll::Ready(())
    }
}

/// Starts `fut` as the task of `cell` (made by [`TaskCell::new`], with
/// its scope) on `runtime`. A closed scope, or none, refuses it: the
/// handle yields [`TaskError::NotStarted`] and `fut` is dropped unpolled.
pub(crate) fn start<Fut, T>(
    runtime: &dyn crate::runtime::Runtime,
    cell: Arc<TaskCell<T>>,
    name: Option<Arc<str>>,
    inside: crate::inside::InsideMarker,
    fut: Fut,
) -> TaskHandle<T>
where
    Fut: Future<Output = Result<T, ServiceError>> + Send + 'static,
    T: Send + 'static,
{
    let key = match cell.stop.scope() {
        Some(scope) => scope.register(name, cell.clone()),
        None => None,
    };
    let Some(key) = key else {
        drop_output(fut);
        // The handle is alive: the result goes to it, nothing comes back.
        let unhandled = cell.deliver(Err(TaskError::NotStarted));
        debug_assert!(unhandled.is_none());
        return TaskHandle { cell, taken: false };
    };
    let ending = Ending {
        cell: cell.clone(),
        key,
        inside,
        done: false,
    };
    runtime.spawn(Box::pin(TaskRun {
        stage: Stage::Running { fut },
        ending,
    }));
    TaskHandle { cell, taken: false }
}

/// Runs `work` on the runtime's blocking pool and resolves with its
/// result (a panic caught as a task's), for
/// [`ServiceCtx::spawn_blocking`](crate::ServiceCtx::spawn_blocking).
#[cfg(feature = "std")]
pub(crate) fn blocking<T, W>(
    runtime: &dyn crate::runtime::Runtime,
    work: W,
) -> impl Future<Output = Result<T, ServiceError>> + Send + 'static
where
    W: FnOnce() -> Result<T, ServiceError> + Send + 'static,
    T: Send + 'static,
{
    let (done, result) = futures_channel::oneshot::channel();
    let span = tracing::Span::current();
    runtime.spawn_blocking(Box::new(move || {
        let _span = span.enter();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        // The task may be gone (aborted): the result is dropped here.
        let _ = done.send(caught);
    }));
    async move {
        match result.await {
            Ok(Ok(result)) => result,
            // Its panic, passed on to the task, which catches it as its own.
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
            Err(_) => Err(ServiceError::msg("blocking work ended without a result")),
        }
    }
}

pin_project_lite::pin_project! {
    /// One run with its tasks: the run's main future, then (if it ends
    /// with tasks still running) the wait for them, the run's stop begun
    /// so that they see it. Its output is the run's outcome (see
    /// [`RunTasks::settle`]). Cut off by its watcher (shutdown timeout,
    /// forced shutdown), it leaves the tasks to the supervisor, which
    /// aborts them ([`RunTasks::abort_all`]) and waits for their end.
    pub(crate) struct WithTasks<'a, F> {
        #[pin]
        run: F,
        record: &'a crate::record::Record,
        // Boxed: only a run whose main future ended with tasks still
        // running waits for them, and this lives in every supervisor
        // (80 bytes inline, 8 boxed).
        waiting: Option<Box<Waiting>>,
    }
}

/// The main future has ended; its tasks are being waited for.
pub(crate) struct Waiting {
    scope: Arc<RunTasks>,
    main: Outcome,
    first: Option<Outcome>,
    all_ended: AllEnded,
}

impl<'a, F> WithTasks<'a, F> {
    pub(crate) fn new(run: F, record: &'a crate::record::Record) -> Self {
        WithTasks {
            run,
            record,
            waiting: None,
        }
    }
}

impl<F: Future<Output = Outcome>> Future for WithTasks<'_, F> {
    type Output = Outcome;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.project();
        if this.waiting.is_none() {
            let main = match this.run.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(main) => main,
            };
            let Some(scope) = this.record.close_run_tasks() else {
                return Poll::Ready(main); // it spawned nothing
            };
            let (live, first) = scope.close();
            if live == 0 {
                return Poll::Ready(scope.settle(main, first));
            }
            scope.stop_remaining();
            *this.waiting = Some(Box::new(Waiting {
                all_ended: scope.all_ended(),
                scope,
                main,
                first,
            }));
        }
        let Some(waiting) = this.waiting.as_mut() else {
            return Poll::Pending;
        };
        if Pin::new(&mut waiting.all_ended).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let Some(waiting) = this.waiting.take() else {
            return Poll::Pending;
        };
        let Waiting {
            scope, main, first, ..
        } = *waiting;
        Poll::Ready(scope.settle(main, first))
    }
}

/// loom models of what joins tasks to their run: the scope's count and
/// its wait, and the one result of each task (handle or scope, never
/// both, never neither).
///
/// `RUSTFLAGS="--cfg loom" cargo test -p governor-core --lib --release -- loom_tasks`
#[cfg(all(test, loom))]
mod loom_tasks {
    use super::*;
    use loom::thread;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.check(f);
    }

    struct Noop(TaskStop);
    impl Control for Noop {
        fn abort(&self) {}
        fn stop(&self) -> &TaskStop {
            &self.0
        }
        fn scope(&self) -> Option<&Arc<RunTasks>> {
            None
        }
    }

    fn noop() -> Arc<Noop> {
        Arc::new(Noop(TaskStop::new(&StopToken::default(), false, None)))
    }

    fn failure() -> Outcome {
        Outcome::Panicked(Arc::from("boom"))
    }

    /// A task ending (with a failure nobody reads) races the run's main
    /// future closing the scope and waiting: the wait always ends, after
    /// the task; the failure is recorded once and stops the run.
    #[test]
    fn loom_tasks_run_waits_for_a_racing_task_end() {
        model(|| {
            let run_stop = StopSource::new();
            let scope = Arc::new(RunTasks::new(Arc::from("svc"), run_stop.clone()));
            let key = scope.register(None, noop()).unwrap();
            let ender = {
                let scope = scope.clone();
                thread::spawn(move || scope.task_ended(key, Some(failure())))
            };
            let (_live, first) = scope.close();
            loom::future::block_on(scope.all_ended());
            assert_eq!(scope.running(), 0);
            let outcome = scope.settle(Outcome::Completed, first);
            assert_eq!(outcome, failure());
            assert!(run_stop.stopping());
            ender.join().unwrap();
        });
    }

    /// A spawn racing the close is either refused, or counted and waited
    /// for: never started and forgotten.
    #[test]
    fn loom_tasks_spawn_racing_close_is_refused_or_waited_for() {
        model(|| {
            let scope = Arc::new(RunTasks::new(Arc::from("svc"), StopSource::new()));
            let spawner = {
                let scope = scope.clone();
                thread::spawn(move || {
                    if let Some(key) = scope.register(None, noop()) {
                        scope.task_ended(key, None);
                    }
                })
            };
            scope.close();
            loom::future::block_on(scope.all_ended());
            assert_eq!(scope.running(), 0);
            spawner.join().unwrap();
        });
    }

    /// A task's end races its handle's drop: its failure reaches exactly
    /// one of them, so the run fails exactly once.
    #[test]
    fn loom_tasks_failure_reaches_the_handle_or_the_run_once() {
        model(|| {
            let run_stop = StopSource::new();
            let scope = Arc::new(RunTasks::new(Arc::from("svc"), run_stop.clone()));
            let cell: Arc<TaskCell<()>> = Arc::new(TaskCell::new(TaskStop::new(
                run_stop.token(),
                true,
                Some(scope.clone()),
            )));
            let key = scope.register(None, cell.clone()).unwrap();
            let handle = TaskHandle {
                cell: cell.clone(),
                taken: false,
            };
            let ending = {
                thread::spawn(move || {
                    let mut ending = Ending {
                        cell,
                        key,
                        inside: crate::inside::InsideMarker {
                            governor: 0,
                            record: 0,
                        },
                        done: false,
                    };
                    ending.end(Err(TaskError::Panicked(Arc::from("boom"))));
                })
            };
            drop(handle);
            ending.join().unwrap();
            let (live, first) = scope.close();
            assert_eq!(live, 0);
            assert_eq!(first, Some(failure()), "the unread failure fails the run");
            assert!(run_stop.stopping());
        });
    }
}
