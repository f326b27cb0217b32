//! [`VirtualRuntime`]: a deterministic, single-threaded runtime with a
//! virtual clock, for exact timing assertions in tests.
//!
//! The caller's thread drives everything in [`VirtualRuntime::block_on`]:
//! the main future and every spawned task are polled there, one at a time,
//! in the order they were woken. The clock starts at zero and only moves
//! when nothing can run: then it jumps straight to the earliest pending
//! timer and fires every timer due at that instant. A task that sleeps 3 s
//! and then reads [`Runtime::now`] reads exactly 3 s, and an hour of
//! virtual time passes in microseconds of real time.
//!
//! Blocking work ([`Runtime::spawn_blocking`]) runs on real threads; while
//! any is outstanding the driver waits briefly for it before it moves the
//! clock (see [`VirtualRuntime::block_on`]). When nothing can ever wake the
//! main future again the driver reports a deadlock instead of hanging.
//!
//! # Example
//!
//! ```
//! use core::time::Duration;
//! use governor_conformance::virtual_time::VirtualRuntime;
//! use governor_core::runtime::Runtime;
//!
//! let rt = VirtualRuntime::new();
//! let seen = rt.block_on(async {
//!     rt.sleep(Duration::from_secs(3600)).await;
//!     rt.now()
//! });
//! assert_eq!(seen, Duration::from_secs(3600));
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use async_task::Runnable;
use futures_channel::mpsc;
use governor_core::runtime::{
    BoxSleep, BoxTask, BoxTimer, Runtime, Signal, SignalError, SignalStream, Timer,
};

/// How long (real time) the driver waits for outstanding blocking work to
/// wake something before it advances the virtual clock anyway.
pub const BLOCKING_GRACE: Duration = Duration::from_millis(2);

/// A deterministic runtime with a virtual clock, driven by
/// [`block_on`](VirtualRuntime::block_on) on the caller's thread.
///
/// Cheap to clone (an [`Arc`] inside); every clone is the same runtime.
/// [`Runtime::spawn`], [`Runtime::sleep`], [`Runtime::now`],
/// [`Runtime::spawn_blocking`] and [`VirtualRuntime::raise`] may be called
/// from any thread.
///
/// # Lifetime of tasks
///
/// Spawned tasks outlive a `block_on` call: tasks still pending when it
/// returns run again in the next one. They are dropped (their futures
/// dropped without another poll) by [`shutdown`](VirtualRuntime::shutdown),
/// or with the runtime when its last clone is dropped. A task that holds a
/// clone of the runtime keeps it alive, so call `shutdown` when the drop of
/// leftover tasks matters.
#[derive(Clone)]
pub struct VirtualRuntime {
    inner: Arc<Inner>,
}

/// The error of [`VirtualRuntime::try_block_on`]: the main future is
/// pending, no task can run, no timer is pending and no blocking work is
/// outstanding, so nothing can ever wake it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlock {
    /// The virtual time at which the driver gave up.
    pub now: Duration,
    /// Tasks alive (spawned and not yet finished or dropped) at that moment.
    pub live_tasks: usize,
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "virtual runtime deadlock: main future pending with nothing runnable \
             (virtual time {:?}, {} live tasks, no pending timers, no blocking work)",
            self.now, self.live_tasks
        )
    }
}

impl std::error::Error for Deadlock {}

/// How far [`VirtualRuntime::try_block_on_within`] lets a future run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The virtual time the clock may not pass: a future still pending
    /// when the next timer is due later than this has failed.
    pub virtual_time: Duration,
    /// The real time the whole call may take (`None`: unbounded, e.g.
    /// under miri, where real time means little).
    pub real_time: Option<Duration>,
}

/// Why [`VirtualRuntime::try_block_on_within`] gave up on its future.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stuck {
    /// Nothing can ever wake the future.
    Deadlock(Deadlock),
    /// Only timers past [`Limits::virtual_time`] could: the clock would
    /// have to move to `next_timer`.
    PastVirtualLimit {
        /// The virtual time now.
        now: Duration,
        /// The earliest pending timer.
        next_timer: Duration,
    },
    /// [`Limits::real_time`] passed (e.g. a case that yields forever
    /// without time moving, or blocking work that never ends).
    PastRealLimit {
        /// The virtual time then.
        now: Duration,
    },
}

impl fmt::Display for Stuck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stuck::Deadlock(deadlock) => deadlock.fmt(f),
            Stuck::PastVirtualLimit { now, next_timer } => write!(
                f,
                "did not finish within its virtual time limit (now {now:?}, next timer at \
                 {next_timer:?})"
            ),
            Stuck::PastRealLimit { now } => write!(
                f,
                "did not finish within its real time limit (virtual time {now:?})"
            ),
        }
    }
}

impl std::error::Error for Stuck {}

/// Keeps the driver from declaring a deadlock while work outside the
/// runtime may still wake one of its tasks; see
/// [`VirtualRuntime::external_work`].
#[must_use = "the work counts as outstanding only while the guard is alive"]
pub struct ExternalWork {
    inner: Weak<Inner>,
}

impl fmt::Debug for ExternalWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalWork").finish_non_exhaustive()
    }
}

impl Drop for ExternalWork {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.blocking.fetch_sub(1, Ordering::SeqCst);
            inner.unpark_driver();
        }
    }
}

struct Inner {
    /// Woken tasks and main-future polls, in wake order.
    queue: Mutex<VecDeque<Entry>>,
    /// The thread inside `block_on`, if any: woken when work arrives.
    driver: Mutex<Option<Thread>>,
    clock: Mutex<Clock>,
    /// Outstanding blocking jobs and [`ExternalWork`] guards.
    blocking: AtomicUsize,
    spawned: AtomicUsize,
    live: AtomicUsize,
    /// Wakers of every live task, so `shutdown` can reach idle ones.
    tasks: Mutex<Tasks>,
    closed: AtomicBool,
    signals: Mutex<Vec<mpsc::UnboundedSender<Signal>>>,
}

enum Entry {
    Task(Runnable),
    /// Poll the main future of the `block_on` that owns this waker.
    Main(Arc<MainWaker>),
}

#[derive(Default)]
struct Clock {
    now: Duration,
    next_seq: u64,
    /// Pending timers by (deadline, registration order); the waker of the
    /// sleep's last poll. A timer leaves the map when it fires or when its
    /// sleep is dropped, so "absent" means "fired" to a live sleep.
    timers: BTreeMap<(Duration, u64), Option<Waker>>,
}

#[derive(Default)]
struct Tasks {
    next_id: u64,
    wakers: BTreeMap<u64, Waker>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks; recover from a poisoned one
    // rather than turning one test's panic into many.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn push(&self, entry: Entry) {
        lock(&self.queue).push_back(entry);
        self.unpark_driver();
    }

    fn pop(&self) -> Option<Entry> {
        lock(&self.queue).pop_front()
    }

    fn has_runnable(&self) -> bool {
        !lock(&self.queue).is_empty()
    }

    fn unpark_driver(&self) {
        if let Some(driver) = lock(&self.driver).as_ref() {
            if driver.id() != thread::current().id() {
                driver.unpark();
            }
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        lock(&self.clock)
            .timers
            .first_key_value()
            .map(|(&(deadline, _), _)| deadline)
    }

    /// Moves the clock to `target` (never backwards) and wakes every timer
    /// due by then, in deadline order, then registration order.
    fn advance_to(&self, target: Duration) {
        let due = {
            let mut clock = lock(&self.clock);
            if target > clock.now {
                clock.now = target;
            }
            let now = clock.now;
            let mut due = Vec::new();
            while let Some(entry) = clock.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            due
        };
        for waker in due.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl VirtualRuntime {
    /// A runtime at virtual time zero, with nothing spawned.
    pub fn new() -> Self {
        VirtualRuntime {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                driver: Mutex::new(None),
                clock: Mutex::new(Clock::default()),
                blocking: AtomicUsize::new(0),
                spawned: AtomicUsize::new(0),
                live: AtomicUsize::new(0),
                tasks: Mutex::new(Tasks::default()),
                closed: AtomicBool::new(false),
                signals: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `fut` to completion on this thread, polling spawned tasks and
    /// advancing virtual time as needed, and returns its output.
    ///
    /// The driver loop, in order of preference:
    /// 1. poll whatever was woken (tasks and `fut`), in wake order;
    /// 2. if blocking work is outstanding and no timer is pending, park
    ///    until something is woken or the work ends;
    /// 3. if blocking work is outstanding and a timer is pending, wait up
    ///    to [`BLOCKING_GRACE`] of real time for a wake-up, then advance the
    ///    clock anyway. This is the one concession to real threads: a
    ///    blocking job slower than that sees virtual time move on;
    /// 4. advance the clock to the earliest pending timer and fire every
    ///    timer due then;
    /// 5. otherwise nothing can ever wake `fut`: a deadlock.
    ///
    /// # Panics
    ///
    /// On a deadlock, with a message starting "virtual runtime deadlock:
    /// main future pending with nothing runnable" (use
    /// [`try_block_on`](Self::try_block_on) to get it as an error); when
    /// called while another `block_on` of this runtime is running (nested,
    /// or on another thread); and when a task or `fut` panics.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match self.try_block_on(fut) {
            Ok(output) => output,
            Err(deadlock) => panic!("{deadlock}"),
        }
    }

    /// [`block_on`](Self::block_on), reporting a deadlock as an error; `fut`
    /// is dropped in that case. The runtime stays usable afterwards.
    ///
    /// # Errors
    ///
    /// [`Deadlock`] when `fut` is pending and nothing can wake it.
    ///
    /// # Panics
    ///
    /// When called while another `block_on` of this runtime is running, and
    /// when a task or `fut` panics.
    pub fn try_block_on<F: Future>(&self, fut: F) -> Result<F::Output, Deadlock> {
        match self.drive(fut, None) {
            Ok(output) => Ok(output),
            Err(Stuck::Deadlock(deadlock)) => Err(deadlock),
            Err(other) => unreachable!("no limits were set: {other}"),
        }
    }

    /// [`try_block_on`](Self::try_block_on) within `limits`: gives up on
    /// `fut` (dropping it) on a deadlock, when the clock would have to pass
    /// [`Limits::virtual_time`], or when [`Limits::real_time`] has passed.
    /// The runtime stays usable afterwards.
    ///
    /// # Errors
    ///
    /// [`Stuck`], saying which of the three happened.
    ///
    /// # Panics
    ///
    /// As [`try_block_on`](Self::try_block_on).
    pub fn try_block_on_within<F: Future>(
        &self,
        fut: F,
        limits: Limits,
    ) -> Result<F::Output, Stuck> {
        self.drive(fut, Some(limits))
    }

    fn drive<F: Future>(&self, fut: F, limits: Option<Limits>) -> Result<F::Output, Stuck> {
        let inner = &*self.inner;
        let real_deadline = limits
            .and_then(|l| l.real_time)
            .map(|limit| Instant::now() + limit);
        let virtual_limit = limits.map(|l| l.virtual_time);
        let mut turns = 0u32;
        let _driver = DriverGuard::enter(inner);
        let main = Arc::new(MainWaker {
            inner: Arc::downgrade(&self.inner),
            queued: AtomicBool::new(true),
        });
        inner.push(Entry::Main(main.clone()));
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        loop {
            turns = turns.wrapping_add(1);
            if let Some(deadline) = real_deadline {
                // A clock read every 64 turns: cheap, and soon enough.
                if turns % 64 == 0 && Instant::now() >= deadline {
                    return Err(Stuck::PastRealLimit { now: self.now() });
                }
            }
            match inner.pop() {
                Some(Entry::Task(runnable)) => {
                    runnable.run();
                }
                Some(Entry::Main(woken)) => {
                    if !Arc::ptr_eq(&woken, &main) {
                        continue; // a waker of an earlier block_on
                    }
                    main.queued.store(false, Ordering::SeqCst);
                    if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
                        return Ok(output);
                    }
                }
                None => self.idle(virtual_limit, real_deadline)?,
            }
        }
    }

    /// Runs every runnable task until none is left, without moving the
    /// clock. Useful between [`advance`](Self::advance) calls outside
    /// `block_on`.
    ///
    /// # Panics
    ///
    /// As [`try_block_on`](Self::try_block_on).
    pub fn run_until_idle(&self) {
        let inner = &*self.inner;
        let _driver = DriverGuard::enter(inner);
        while let Some(entry) = inner.pop() {
            if let Entry::Task(runnable) = entry {
                runnable.run();
            }
        }
    }

    /// Nothing is runnable: wait, advance the clock (up to
    /// `virtual_limit`), or give up.
    fn idle(
        &self,
        virtual_limit: Option<Duration>,
        real_deadline: Option<Instant>,
    ) -> Result<(), Stuck> {
        let inner = &*self.inner;
        let advance = |deadline: Duration| match virtual_limit {
            Some(limit) if deadline > limit => Err(Stuck::PastVirtualLimit {
                now: self.now(),
                next_timer: deadline,
            }),
            _ => {
                inner.advance_to(deadline);
                Ok(())
            }
        };
        // Read the blocking count before re-checking the queue: a blocking
        // job wakes its task before it stops counting as outstanding.
        let blocking = inner.blocking.load(Ordering::SeqCst);
        if inner.has_runnable() {
            return Ok(());
        }
        match (blocking > 0, inner.next_deadline()) {
            (true, None) => {
                match real_deadline {
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return Err(Stuck::PastRealLimit { now: self.now() });
                        }
                        thread::park_timeout(deadline - now);
                    }
                    None => thread::park(),
                }
                Ok(())
            }
            (true, Some(_)) => {
                let until = Instant::now() + BLOCKING_GRACE;
                loop {
                    if inner.has_runnable() {
                        return Ok(());
                    }
                    let now = Instant::now();
                    if now >= until || inner.blocking.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    thread::park_timeout(until - now);
                }
                match inner.next_deadline() {
                    Some(deadline) => advance(deadline),
                    None => Ok(()),
                }
            }
            (false, Some(deadline)) => advance(deadline),
            (false, None) => Err(Stuck::Deadlock(Deadlock {
                now: self.now(),
                live_tasks: self.live_tasks(),
            })),
        }
    }

    /// Moves the clock forward by `by` and fires every timer due by then (in
    /// deadline order, then registration order). The woken tasks run in the
    /// next `block_on` or [`run_until_idle`](Self::run_until_idle) and see
    /// the new time, not their own deadlines. Callable from any thread,
    /// including from tasks.
    pub fn advance(&self, by: Duration) {
        let target = self.now().saturating_add(by);
        self.inner.advance_to(target);
    }

    /// Timers registered by live sleeps that have not fired yet.
    pub fn pending_timers(&self) -> usize {
        lock(&self.inner.clock).timers.len()
    }

    /// Tasks ever spawned on this runtime.
    pub fn spawned_tasks(&self) -> usize {
        self.inner.spawned.load(Ordering::SeqCst)
    }

    /// Tasks spawned and not yet finished or dropped.
    pub fn live_tasks(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Blocking jobs still running plus live [`ExternalWork`] guards.
    pub fn outstanding_blocking(&self) -> usize {
        self.inner.blocking.load(Ordering::SeqCst)
    }

    /// Counts as outstanding blocking work until the guard is dropped, so a
    /// thread the test started itself (not through
    /// [`Runtime::spawn_blocking`]) can wake or spawn tasks without the
    /// driver declaring a deadlock first. Wake or spawn before dropping it.
    pub fn external_work(&self) -> ExternalWork {
        self.inner.blocking.fetch_add(1, Ordering::SeqCst);
        ExternalWork {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Delivers `signal` to every stream returned by
    /// [`Runtime::shutdown_signals`] that is still alive, and returns how
    /// many received it. A signal raised while no stream is alive is lost.
    pub fn raise(&self, signal: Signal) -> usize {
        let mut senders = lock(&self.inner.signals);
        senders.retain(|sender| sender.unbounded_send(signal).is_ok());
        senders.len()
    }

    /// Drops every task: queued ones at once, idle ones by waking them into
    /// a closed queue. Pending timers and signal streams stay. Later spawns
    /// are dropped unpolled.
    pub fn shutdown(&self) {
        let inner = &*self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        let queued = std::mem::take(&mut *lock(&inner.queue));
        let mut dropped = Vec::with_capacity(queued.len());
        for entry in queued {
            match entry {
                // A running block_on still needs its main future's polls.
                Entry::Main(main) => lock(&inner.queue).push_back(Entry::Main(main)),
                task => dropped.push(task),
            }
        }
        drop(dropped);
        let wakers = std::mem::take(&mut lock(&inner.tasks).wakers);
        for waker in wakers.into_values() {
            // The schedule function sees `closed` and drops the task.
            waker.wake();
        }
    }

    fn spawn_task(&self, task: BoxTask) {
        let inner = &*self.inner;
        inner.spawned.fetch_add(1, Ordering::SeqCst);
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        inner.live.fetch_add(1, Ordering::SeqCst);
        let id = {
            let mut tasks = lock(&inner.tasks);
            tasks.next_id += 1;
            tasks.next_id
        };
        let guard = LiveGuard {
            inner: Arc::downgrade(&self.inner),
            id,
        };
        let tracked = async move {
            let _guard = guard;
            task.await;
        };
        let weak = Arc::downgrade(&self.inner);
        let schedule = move |runnable: Runnable| match weak.upgrade() {
            Some(inner) if !inner.closed.load(Ordering::SeqCst) => {
                inner.push(Entry::Task(runnable));
            }
            // Dropping the runnable drops the task's future.
            _ => drop(runnable),
        };
        let (runnable, handle) = async_task::spawn(tracked, schedule);
        handle.detach();
        lock(&inner.tasks).wakers.insert(id, runnable.waker());
        runnable.schedule();
    }
}

impl Default for VirtualRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for VirtualRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualRuntime")
            .field("now", &self.now())
            .field("pending_timers", &self.pending_timers())
            .field("spawned_tasks", &self.spawned_tasks())
            .field("live_tasks", &self.live_tasks())
            .field("outstanding_blocking", &self.outstanding_blocking())
            .finish()
    }
}

impl Runtime for VirtualRuntime {
    fn spawn(&self, task: BoxTask) {
        self.spawn_task(task);
    }

    /// Registers a timer at `now + duration` at once; it fires when the
    /// virtual clock reaches it. `Duration::ZERO` registers no timer: the
    /// sleep yields once (so a loop of zero sleeps lets others run) and
    /// then completes, without moving the clock.
    fn sleep(&self, duration: Duration) -> BoxSleep {
        match VirtualSleep::new(&self.inner, duration) {
            VirtualSleep::Timer(sleep) => Box::pin(sleep),
            VirtualSleep::Yield(sleep) => Box::pin(sleep),
        }
    }

    /// A timer whose every reset is what [`Runtime::sleep`] would make
    /// (a registered timer, or one yield for `Duration::ZERO`); a disarm
    /// removes the registration, as dropping that sleep would.
    fn timer(&self) -> Option<BoxTimer> {
        Some(Box::pin(VirtualTimer {
            inner: Arc::downgrade(&self.inner),
            armed: None,
        }))
    }

    fn now(&self) -> Duration {
        lock(&self.inner.clock).now
    }

    /// Runs `work` on a new thread; it counts as outstanding (see
    /// [`VirtualRuntime::block_on`]) until it returns or panics.
    #[cfg(feature = "std")]
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        let guard = self.external_work();
        let spawned = thread::Builder::new()
            .name("virtual-blocking".into())
            .spawn(move || {
                let _guard = guard;
                work();
            });
        // On failure the closure, and with it the guard, is dropped.
        drop(spawned);
    }

    /// A stream fed by [`VirtualRuntime::raise`]. Every stream registered
    /// receives every signal raised while it is alive (broadcast).
    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        let (sender, receiver) = mpsc::unbounded();
        lock(&self.inner.signals).push(sender);
        Ok(Box::pin(receiver))
    }
}

/// Marks the current thread as the driver for the duration of a drive.
struct DriverGuard<'a> {
    inner: &'a Inner,
}

impl<'a> DriverGuard<'a> {
    fn enter(inner: &'a Inner) -> Self {
        let mut driver = lock(&inner.driver);
        if driver.is_some() {
            drop(driver);
            panic!(
                "VirtualRuntime::block_on called while another block_on of the same runtime \
                 is running (nested, or on another thread)"
            );
        }
        *driver = Some(thread::current());
        DriverGuard { inner }
    }
}

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.inner.driver) = None;
    }
}

/// The waker of a `block_on`'s main future: queues one poll of it.
struct MainWaker {
    inner: Weak<Inner>,
    queued: AtomicBool,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(inner) = self.inner.upgrade() {
            inner.push(Entry::Main(self.clone()));
        }
    }
}

/// Lives inside each task's future: counts it live until it is dropped.
struct LiveGuard {
    inner: Weak<Inner>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.live.fetch_sub(1, Ordering::SeqCst);
            let waker = lock(&inner.tasks).wakers.remove(&self.id);
            drop(waker);
        }
    }
}

/// A virtual-time sleep with a registered timer.
struct Sleep {
    inner: Weak<Inner>,
    key: (Duration, u64),
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = self.inner.upgrade() else {
            return Poll::Pending; // the runtime is gone: time stands still
        };
        let mut clock = lock(&inner.clock);
        match clock.timers.get_mut(&self.key) {
            None => Poll::Ready(()),
            Some(slot) => {
                match slot {
                    Some(waker) if waker.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            let waker = lock(&inner.clock).timers.remove(&self.key);
            drop(waker);
        }
    }
}

/// What one sleep of [`VirtualRuntime`] is.
enum VirtualSleep {
    Timer(Sleep),
    Yield(YieldOnce),
}

impl VirtualSleep {
    /// Registers a timer at `now + duration` at once (nothing for
    /// `Duration::ZERO`, which yields once instead).
    fn new(inner: &Arc<Inner>, duration: Duration) -> Self {
        if duration.is_zero() {
            return VirtualSleep::Yield(YieldOnce { yielded: false });
        }
        let key = {
            let mut clock = lock(&inner.clock);
            let deadline = clock.now.saturating_add(duration);
            let seq = clock.next_seq;
            clock.next_seq += 1;
            clock.timers.insert((deadline, seq), None);
            (deadline, seq)
        };
        VirtualSleep::Timer(Sleep {
            inner: Arc::downgrade(inner),
            key,
        })
    }
}

/// [`VirtualRuntime`]'s reusable timer: the sleep of its last reset.
struct VirtualTimer {
    inner: Weak<Inner>,
    armed: Option<VirtualSleep>,
}

impl Timer for VirtualTimer {
    fn reset(self: Pin<&mut Self>, duration: Duration) {
        let this = self.get_mut();
        // The old registration goes first, as a dropped sleep's would.
        this.armed = None;
        // The runtime is gone: time stands still, nothing ever fires.
        this.armed = this
            .inner
            .upgrade()
            .map(|inner| VirtualSleep::new(&inner, duration));
    }

    fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.get_mut().armed {
            Some(VirtualSleep::Timer(sleep)) => Pin::new(sleep).poll(cx),
            Some(VirtualSleep::Yield(sleep)) => Pin::new(sleep).poll(cx),
            None => Poll::Pending,
        }
    }

    fn disarm(self: Pin<&mut Self>) {
        self.get_mut().armed = None;
    }
}

/// The zero-duration sleep: pending once (waking itself), then ready.
struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use futures_channel::oneshot;
    use futures_util::future::{self, Either};
    use futures_util::StreamExt;

    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A shared log of (label, virtual time) entries.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<(&'static str, Duration)>>>);

    impl Log {
        fn record(&self, rt: &VirtualRuntime, label: &'static str) {
            self.0.lock().unwrap().push((label, rt.now()));
        }
        fn entries(&self) -> Vec<(&'static str, Duration)> {
            self.0.lock().unwrap().clone()
        }
    }

    fn sleeper(rt: &VirtualRuntime, log: &Log, label: &'static str, after: Duration) -> BoxTask {
        let (rt, log) = (rt.clone(), log.clone());
        Box::pin(async move {
            rt.sleep(after).await;
            log.record(&rt, label);
        })
    }

    /// Sets a flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn is_a_runtime() {
        fn assert_runtime<R: Runtime + Clone + Send + Sync>() {}
        assert_runtime::<VirtualRuntime>();
        let rt: Arc<dyn Runtime> = Arc::new(VirtualRuntime::new());
        assert_eq!(rt.now(), Duration::ZERO);
    }

    #[test]
    fn clock_starts_at_zero() {
        let rt = VirtualRuntime::new();
        assert_eq!(rt.now(), Duration::ZERO);
        assert_eq!(rt.pending_timers(), 0);
        assert_eq!(rt.spawned_tasks(), 0);
        assert_eq!(rt.live_tasks(), 0);
    }

    #[test]
    fn block_on_returns_the_output() {
        let rt = VirtualRuntime::new();
        assert_eq!(rt.block_on(async { 42 }), 42);
        assert_eq!(rt.now(), Duration::ZERO);
    }

    #[test]
    fn task_records_exactly_its_sleep() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        rt.spawn(sleeper(&rt, &log, "task", secs(3)));
        rt.block_on(rt.sleep(secs(10)));
        assert_eq!(log.entries(), vec![("task", secs(3))]);
        assert_eq!(rt.now(), secs(10));
    }

    #[test]
    fn auto_advance_jumps_over_idle_time() {
        let rt = VirtualRuntime::new();
        let started = Instant::now();
        let seen = rt.block_on(async {
            rt.sleep(secs(3600)).await;
            rt.now()
        });
        assert_eq!(seen, secs(3600));
        assert!(started.elapsed() < secs(5), "real time is not spent");
    }

    #[test]
    fn timers_fire_in_deadline_then_registration_order() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        rt.spawn(sleeper(&rt, &log, "a2", secs(2)));
        rt.spawn(sleeper(&rt, &log, "b1", secs(1)));
        rt.spawn(sleeper(&rt, &log, "c2", secs(2)));
        rt.spawn(sleeper(&rt, &log, "d1", secs(1)));
        rt.spawn(sleeper(&rt, &log, "e3", secs(3)));
        let main_log = log.clone();
        rt.block_on(async {
            rt.sleep(secs(2)).await;
            main_log.record(&rt, "main2");
            rt.sleep(secs(5)).await;
        });
        assert_eq!(
            log.entries(),
            vec![
                ("b1", secs(1)),
                ("d1", secs(1)),
                ("a2", secs(2)),
                ("c2", secs(2)),
                // The main future registered its timer after the tasks'.
                ("main2", secs(2)),
                ("e3", secs(3)),
            ]
        );
        assert_eq!(rt.now(), secs(7));
        assert_eq!(rt.live_tasks(), 0);
    }

    #[test]
    fn registration_order_follows_sleep_creation_not_first_poll() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        let first = rt.sleep(secs(1));
        let second = rt.sleep(secs(1));
        let (l1, l2, rt1, rt2) = (log.clone(), log.clone(), rt.clone(), rt.clone());
        // Spawn the later sleep's task first.
        rt.spawn(Box::pin(async move {
            second.await;
            l2.record(&rt2, "second");
        }));
        rt.spawn(Box::pin(async move {
            first.await;
            l1.record(&rt1, "first");
        }));
        rt.block_on(rt.sleep(secs(2)));
        assert_eq!(log.entries(), vec![("first", secs(1)), ("second", secs(1))]);
    }

    #[test]
    fn sleep_in_a_loop_accumulates_exactly() {
        let rt = VirtualRuntime::new();
        let ticks = rt.block_on(async {
            let mut ticks = Vec::new();
            for _ in 0..5 {
                rt.sleep(Duration::from_millis(250)).await;
                ticks.push(rt.now());
            }
            ticks
        });
        let expected: Vec<_> = (1..=5).map(|i| Duration::from_millis(250 * i)).collect();
        assert_eq!(ticks, expected);
    }

    #[test]
    fn zero_sleep_completes_without_moving_the_clock() {
        let rt = VirtualRuntime::new();
        let sleep = rt.sleep(Duration::ZERO);
        assert_eq!(rt.pending_timers(), 0);
        rt.block_on(sleep);
        assert_eq!(rt.now(), Duration::ZERO);
    }

    #[test]
    fn zero_sleep_yields_to_other_tasks() {
        let rt = VirtualRuntime::new();
        let flag = Arc::new(AtomicBool::new(false));
        let setter = flag.clone();
        rt.spawn(Box::pin(
            async move { setter.store(true, Ordering::SeqCst) },
        ));
        let spins = rt.block_on(async {
            let mut spins = 0;
            while !flag.load(Ordering::SeqCst) {
                rt.sleep(Duration::ZERO).await;
                spins += 1;
            }
            spins
        });
        assert!(spins <= 1, "{spins}");
        assert_eq!(rt.now(), Duration::ZERO);
    }

    #[test]
    fn time_does_not_move_while_tasks_are_runnable() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        rt.spawn(sleeper(&rt, &log, "sleeper", secs(1)));
        let (busy_rt, busy_log) = (rt.clone(), log.clone());
        rt.spawn(Box::pin(async move {
            for _ in 0..1000 {
                busy_rt.sleep(Duration::ZERO).await;
            }
            busy_log.record(&busy_rt, "busy");
        }));
        rt.block_on(rt.sleep(secs(2)));
        assert_eq!(
            log.entries(),
            vec![("busy", Duration::ZERO), ("sleeper", secs(1))]
        );
    }

    #[test]
    fn dropped_sleep_removes_its_timer() {
        let rt = VirtualRuntime::new();
        let sleep = rt.sleep(secs(5));
        assert_eq!(rt.pending_timers(), 1);
        drop(sleep);
        assert_eq!(rt.pending_timers(), 0);

        // A race lost by a long sleep does not drag the clock to it.
        let winner = rt.block_on(async {
            match future::select(rt.sleep(secs(1)), rt.sleep(secs(10))).await {
                Either::Left(_) => "short",
                Either::Right(_) => "long",
            }
        });
        assert_eq!(winner, "short");
        assert_eq!(rt.now(), secs(1));
        assert_eq!(rt.pending_timers(), 0);
        assert!(rt.try_block_on(future::pending::<()>()).is_err());
        assert_eq!(rt.now(), secs(1));
    }

    #[test]
    fn advance_fires_due_timers_outside_block_on() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        rt.spawn(sleeper(&rt, &log, "one", secs(1)));
        rt.spawn(sleeper(&rt, &log, "three", secs(3)));
        rt.run_until_idle();
        assert_eq!(rt.pending_timers(), 2);

        rt.advance(secs(2));
        assert_eq!(rt.now(), secs(2));
        assert_eq!(rt.pending_timers(), 1);
        assert!(log.entries().is_empty(), "tasks run only when driven");
        rt.run_until_idle();
        assert_eq!(log.entries(), vec![("one", secs(2))]);

        rt.advance(secs(1));
        rt.run_until_idle();
        assert_eq!(log.entries(), vec![("one", secs(2)), ("three", secs(3))]);
        assert_eq!(rt.pending_timers(), 0);
    }

    #[test]
    fn advance_from_a_task() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        rt.spawn(sleeper(&rt, &log, "sleeper", secs(5)));
        let (advancer, advancer_log) = (rt.clone(), log.clone());
        rt.spawn(Box::pin(async move {
            advancer.sleep(Duration::ZERO).await;
            advancer.advance(secs(7));
            advancer_log.record(&advancer, "advanced");
        }));
        rt.block_on(rt.sleep(secs(10)));
        assert_eq!(
            log.entries(),
            vec![("advanced", secs(7)), ("sleeper", secs(7))]
        );
        assert_eq!(rt.now(), secs(10));
    }

    #[test]
    fn tasks_survive_between_block_on_calls() {
        let rt = VirtualRuntime::new();
        let log = Log::default();
        rt.spawn(sleeper(&rt, &log, "late", secs(5)));
        rt.block_on(rt.sleep(secs(1)));
        assert!(log.entries().is_empty());
        assert_eq!(rt.live_tasks(), 1);
        rt.block_on(rt.sleep(secs(9)));
        assert_eq!(log.entries(), vec![("late", secs(5))]);
        assert_eq!(rt.live_tasks(), 0);
    }

    #[test]
    fn spawn_from_another_thread() {
        let rt = VirtualRuntime::new();
        let (tx, rx) = oneshot::channel();
        let remote = rt.clone();
        let hold = rt.external_work();
        let thread = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            let inner = remote.clone();
            remote.spawn(Box::pin(async move {
                inner.sleep(secs(4)).await;
                tx.send(inner.now()).unwrap();
            }));
            drop(hold);
        });
        let seen = rt.block_on(rx).unwrap();
        thread.join().unwrap();
        assert_eq!(seen, secs(4));
        assert_eq!(rt.spawned_tasks(), 1);
        assert_eq!(rt.outstanding_blocking(), 0);
    }

    #[test]
    fn spawn_blocking_runs_on_another_thread_and_wakes_a_task() {
        let rt = VirtualRuntime::new();
        let (tx, rx) = oneshot::channel();
        let here = thread::current().id();
        let remote = rt.clone();
        let there = rt.block_on(async {
            rt.spawn_blocking(Box::new(move || {
                // Slow real work: the driver must wait, not report a deadlock.
                thread::sleep(Duration::from_millis(30));
                let (inner_tx, inner_rx) = oneshot::channel();
                let id = thread::current().id();
                remote.spawn(Box::pin(async move {
                    inner_rx.await.unwrap();
                    tx.send(id).unwrap();
                }));
                inner_tx.send(()).unwrap();
            }));
            rx.await.unwrap()
        });
        assert_ne!(here, there);
        assert_eq!(rt.now(), Duration::ZERO);
        // The job stops counting once its closure has returned, which may be
        // just after the main future completed.
        let deadline = Instant::now() + secs(10);
        while rt.outstanding_blocking() != 0 {
            assert!(Instant::now() < deadline, "blocking job never finished");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn clock_advances_while_blocking_work_waits_on_a_timer() {
        // The blocking job can only finish after a task's 5 s virtual sleep,
        // so the driver must move the clock although blocking work is
        // outstanding.
        let rt = VirtualRuntime::new();
        let (to_blocking, from_task) = std_mpsc::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        let timer_rt = rt.clone();
        rt.spawn(Box::pin(async move {
            timer_rt.sleep(secs(5)).await;
            to_blocking.send(()).unwrap();
        }));
        let blocking_rt = rt.clone();
        rt.spawn_blocking(Box::new(move || {
            from_task.recv().unwrap();
            done_tx.send(blocking_rt.now()).unwrap();
        }));
        let seen = rt.block_on(done_rx).unwrap();
        assert_eq!(seen, secs(5));
    }

    #[test]
    fn panicking_blocking_work_is_no_longer_outstanding() {
        let rt = VirtualRuntime::new();
        rt.spawn_blocking(Box::new(|| {
            panic!("blocking work panicked (expected in this test)")
        }));
        let err = rt.try_block_on(future::pending::<()>()).unwrap_err();
        assert_eq!(err.live_tasks, 0);
        assert_eq!(rt.outstanding_blocking(), 0);
    }

    #[test]
    fn deadlock_is_reported() {
        let rt = VirtualRuntime::new();
        let err = rt.try_block_on(future::pending::<()>()).unwrap_err();
        assert_eq!(err.now, Duration::ZERO);
        assert!(err
            .to_string()
            .starts_with("virtual runtime deadlock: main future pending with nothing runnable"));
    }

    #[test]
    fn deadlock_after_timers_run_out() {
        let rt = VirtualRuntime::new();
        let (tx, rx) = oneshot::channel::<()>();
        let holder = rt.clone();
        // The task keeps the sender alive forever and never sends.
        rt.spawn(Box::pin(async move {
            holder.sleep(secs(3)).await;
            future::pending::<()>().await;
            drop(tx);
        }));
        let err = rt.try_block_on(rx).unwrap_err();
        assert_eq!(err.now, secs(3));
        assert_eq!(err.live_tasks, 1);
        // Still usable afterwards.
        assert_eq!(rt.block_on(async { 5 }), 5);
    }

    #[test]
    #[should_panic(
        expected = "virtual runtime deadlock: main future pending with nothing runnable"
    )]
    fn block_on_panics_on_deadlock() {
        let rt = VirtualRuntime::new();
        rt.block_on(future::pending::<()>());
    }

    #[test]
    #[should_panic(expected = "while another block_on")]
    fn nested_block_on_panics() {
        let rt = VirtualRuntime::new();
        rt.block_on(async { rt.block_on(async {}) });
    }

    #[test]
    fn raise_reaches_the_signal_stream() {
        let rt = VirtualRuntime::new();
        assert_eq!(rt.raise(Signal::Terminate), 0, "no stream yet: lost");
        let mut signals = rt.shutdown_signals().unwrap();
        assert_eq!(rt.raise(Signal::Hangup), 1);
        assert_eq!(rt.block_on(signals.next()), Some(Signal::Hangup));

        // Raised by a task at 2 s: the waiting main future sees it then.
        let raiser = rt.clone();
        rt.spawn(Box::pin(async move {
            raiser.sleep(secs(2)).await;
            raiser.raise(Signal::Interrupt);
            raiser.raise(Signal::Quit);
        }));
        let got = rt.block_on(async {
            let first = signals.next().await;
            (first, rt.now(), signals.next().await)
        });
        assert_eq!(got, (Some(Signal::Interrupt), secs(2), Some(Signal::Quit)));
    }

    #[test]
    fn raise_broadcasts_to_every_stream() {
        let rt = VirtualRuntime::new();
        let mut a = rt.shutdown_signals().unwrap();
        let b = rt.shutdown_signals().unwrap();
        assert_eq!(rt.raise(Signal::Terminate), 2);
        assert_eq!(rt.block_on(a.next()), Some(Signal::Terminate));
        drop(b);
        assert_eq!(rt.raise(Signal::Interrupt), 1, "dropped streams are pruned");
        assert_eq!(rt.block_on(a.next()), Some(Signal::Interrupt));
    }

    #[test]
    fn raise_from_another_thread() {
        let rt = VirtualRuntime::new();
        let mut signals = rt.shutdown_signals().unwrap();
        let remote = rt.clone();
        let hold = rt.external_work();
        let thread = thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            remote.raise(Signal::Terminate);
            drop(hold);
        });
        assert_eq!(rt.block_on(signals.next()), Some(Signal::Terminate));
        thread.join().unwrap();
    }

    #[test]
    fn task_counts() {
        let rt = VirtualRuntime::new();
        let (tx, rx) = oneshot::channel::<()>();
        rt.spawn(Box::pin(async {}));
        rt.spawn(Box::pin(async move {
            let _ = rx.await;
        }));
        assert_eq!(rt.spawned_tasks(), 2);
        assert_eq!(rt.live_tasks(), 2);
        rt.run_until_idle();
        assert_eq!(rt.live_tasks(), 1);
        tx.send(()).unwrap();
        rt.run_until_idle();
        assert_eq!(rt.live_tasks(), 0);
        assert_eq!(rt.spawned_tasks(), 2);
    }

    #[test]
    fn shutdown_drops_queued_and_idle_tasks() {
        let rt = VirtualRuntime::new();
        let idle = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicBool::new(false));
        let (idle_flag, owner) = (DropFlag(idle.clone()), rt.clone());
        // This task holds a runtime clone: only shutdown can drop it.
        rt.spawn(Box::pin(async move {
            let _flag = idle_flag;
            owner.sleep(secs(100)).await;
        }));
        rt.run_until_idle();
        let queued_flag = DropFlag(queued.clone());
        rt.spawn(Box::pin(async move {
            let _flag = queued_flag;
        }));
        assert_eq!(rt.live_tasks(), 2);

        rt.shutdown();
        assert!(idle.load(Ordering::SeqCst));
        assert!(queued.load(Ordering::SeqCst));
        assert_eq!(rt.live_tasks(), 0);
        assert_eq!(rt.pending_timers(), 0, "the idle task's sleep was dropped");

        let late = Arc::new(AtomicBool::new(false));
        let late_flag = DropFlag(late.clone());
        rt.spawn(Box::pin(async move {
            let _flag = late_flag;
        }));
        assert!(
            late.load(Ordering::SeqCst),
            "spawned after shutdown: dropped"
        );
        assert_eq!(rt.live_tasks(), 0);
    }

    #[test]
    fn dropping_the_runtime_drops_its_tasks() {
        let rt = VirtualRuntime::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(dropped.clone());
        let sleep = rt.sleep(secs(100));
        rt.spawn(Box::pin(async move {
            let _flag = flag;
            sleep.await;
        }));
        rt.run_until_idle();
        assert!(!dropped.load(Ordering::SeqCst));
        drop(rt);
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn sleep_created_on_another_thread_uses_the_virtual_clock() {
        let rt = VirtualRuntime::new();
        let remote = rt.clone();
        let sleep = thread::spawn(move || remote.sleep(secs(2))).join().unwrap();
        rt.block_on(sleep);
        assert_eq!(rt.now(), secs(2));
    }
}
