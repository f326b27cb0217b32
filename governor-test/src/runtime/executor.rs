//! The executor of [`VirtualRuntime`]: one run queue of woken tasks and
//! main-future polls, in wake order, drained by the one thread inside
//! [`block_on`](VirtualRuntime::block_on) (the driver): front first, or,
//! in seeded mode ([`VirtualRuntime::with_seed`]), a ready entry picked by
//! the seeded generator, so that a seed is one reproducible schedule. Every
//! poll is folded into the schedule's fingerprint (which task, at which
//! virtual time). Spawned tasks are
//! `async-task` tasks whose schedule function pushes onto that queue; each
//! counts as live until its future is dropped, and its waker is kept so
//! [`shutdown`](VirtualRuntime::shutdown) can reach idle ones. When the
//! queue is empty the driver hands over to `stuck.rs` (wait, move the
//! clock, or give up).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Instant;

use async_task::Runnable;
use governor_core::runtime::BoxTask;

use super::{lock, Deadlock, Inner, Limits, Stuck, VirtualRuntime};

/// One turn of the driver: a task to run (its id as metadata), or a main
/// future to poll.
pub(super) enum Entry {
    Task(Runnable<u64>),
    /// Poll the main future of the `block_on` that owns this waker.
    Main(Arc<MainWaker>),
}

/// The fingerprint of the schedule so far: every poll, in order, as
/// (task id, virtual time), folded FNV-1a style.
pub(super) struct Schedule {
    polls: AtomicU64,
    fingerprint: AtomicU64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            polls: AtomicU64::new(0),
            fingerprint: AtomicU64::new(0xcbf2_9ce4_8422_2325),
        }
    }
}

impl Schedule {
    /// Only the driver records, so a load then a store is enough.
    fn record(&self, id: u64, now: std::time::Duration) {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = self.fingerprint.load(Ordering::Relaxed);
        for word in [id, now.as_secs(), u64::from(now.subsec_nanos())] {
            for byte in word.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
            }
        }
        self.fingerprint.store(hash, Ordering::Relaxed);
        self.polls.fetch_add(1, Ordering::Relaxed);
    }
}

/// Ids and wakers of the live tasks.
#[derive(Default)]
pub(super) struct Tasks {
    next_id: u64,
    wakers: BTreeMap<u64, Waker>,
}

impl Inner {
    fn push(&self, entry: Entry) {
        lock(&self.queue).push_back(entry);
        self.unpark_driver();
    }

    /// The next entry to run: the front, or one picked by the seeded
    /// generator.
    pub(super) fn pop(&self) -> Option<Entry> {
        let mut queue = lock(&self.queue);
        let entry = match lock(&self.order).as_mut() {
            Some(rng) if queue.len() > 1 => {
                let picked = rng.usize(..queue.len());
                queue.remove(picked)
            }
            _ => queue.pop_front(),
        };
        drop(queue);
        if let Some(entry) = &entry {
            let id = match entry {
                Entry::Task(runnable) => *runnable.metadata(),
                Entry::Main(_) => 0,
            };
            self.schedule.record(id, lock(&self.clock).now);
        }
        entry
    }

    pub(super) fn has_runnable(&self) -> bool {
        !lock(&self.queue).is_empty()
    }

    pub(super) fn unpark_driver(&self) {
        if let Some(driver) = lock(&self.driver).as_ref() {
            if driver.id() != thread::current().id() {
                driver.unpark();
            }
        }
    }
}

impl VirtualRuntime {
    /// Runs `fut` to completion on this thread, polling spawned tasks and
    /// advancing virtual time as needed, and returns its output.
    ///
    /// Blocking work is outstanding while a blocking job's thread runs, not
    /// while it waits in `Runtime::block_on` (see `blocking.rs`). The
    /// driver loop, in order of preference:
    /// 1. poll whatever was woken (tasks and `fut`), in wake order;
    /// 2. if blocking work is outstanding and no timer is pending, park
    ///    until something is woken or the work ends;
    /// 3. if blocking work is outstanding and a timer is pending, wait up
    ///    to [`BLOCKING_GRACE`](super::BLOCKING_GRACE) of real time for a
    ///    wake-up, then advance the clock anyway. This is the one concession
    ///    to real threads: a blocking job slower than that sees virtual time
    ///    move on;
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

    /// Polls so far (tasks and main futures), across every `block_on`.
    pub fn polls(&self) -> u64 {
        self.inner.schedule.polls.load(Ordering::Relaxed)
    }

    /// A fingerprint of the schedule so far: which task was polled, in
    /// which order, at which virtual time, for every poll since
    /// [`new`](Self::new) (tasks numbered in spawn order, main futures as
    /// 0). Two runs with the same fingerprint (and [`polls`](Self::polls))
    /// followed the same schedule; the same test, unseeded or with the same
    /// seed, always does.
    pub fn schedule_fingerprint(&self) -> u64 {
        self.inner.schedule.fingerprint.load(Ordering::Relaxed)
    }

    /// Tasks ever spawned on this runtime.
    pub fn spawned_tasks(&self) -> usize {
        self.inner.spawned.load(Ordering::SeqCst)
    }

    /// Tasks spawned and not yet finished or dropped.
    pub fn live_tasks(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
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

    /// Spawns `task` as a live task, queued to run at once (dropped
    /// unpolled after [`shutdown`](Self::shutdown)).
    pub(super) fn spawn_task(&self, task: BoxTask) {
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
        let schedule = move |runnable: Runnable<u64>| match weak.upgrade() {
            Some(inner) if !inner.closed.load(Ordering::SeqCst) => {
                inner.push(Entry::Task(runnable));
            }
            // Dropping the runnable drops the task's future.
            _ => drop(runnable),
        };
        let (runnable, handle) = async_task::Builder::new()
            .metadata(id)
            .spawn(move |_| tracked, schedule);
        handle.detach();
        lock(&inner.tasks).wakers.insert(id, runnable.waker());
        runnable.schedule();
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
pub(super) struct MainWaker {
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
