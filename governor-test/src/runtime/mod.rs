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
//! use governor_test::VirtualRuntime;
//!
//! let rt = VirtualRuntime::new();
//! let seen = rt.block_on(async {
//!     rt.sleep(Duration::from_secs(3600)).await;
//!     rt.now()
//! });
//! assert_eq!(seen, Duration::from_secs(3600));
//! ```
//!
//! # Where things are
//!
//! One file per concern; each opens with what it is:
//!
//! - this file: [`VirtualRuntime`], the state its clones share, and its
//!   [`Runtime`] implementation, each method handing over to its concern;
//! - `executor.rs`: the run queue, spawned tasks, and the driver loop of
//!   [`block_on`](VirtualRuntime::block_on) and its variants;
//! - `clock.rs`: the virtual clock, its timers, sleeps and
//!   [`advance`](VirtualRuntime::advance);
//! - `stuck.rs`: what the driver does when nothing can run (wait, move the
//!   clock, or give up), and the errors it gives up with: [`Deadlock`],
//!   [`Stuck`], within [`Limits`];
//! - `blocking.rs`: blocking work on real threads and [`ExternalWork`],
//!   the outstanding work that keeps the driver from declaring a deadlock;
//! - `signals.rs`: shutdown signals, raised by hand with
//!   [`raise`](VirtualRuntime::raise);
//! - `watch.rs`: [`governor`](VirtualRuntime::governor), and what the
//!   services of the runtime's governors are doing, so that a
//!   [`Deadlock`] names those still waiting.

mod blocking;
mod clock;
mod executor;
mod signals;
mod stuck;
#[cfg(test)]
mod tests;
mod watch;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
#[cfg(feature = "std")]
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;
use std::time::Duration;

use futures_channel::mpsc;
use governor_core::runtime::{
    BoxSleep, BoxTask, BoxTimer, Runtime, Signal, SignalError, SignalStream,
};

pub use blocking::{ExternalWork, BLOCKING_GRACE};
pub use stuck::{Deadlock, Limits, Stuck};

use clock::Clock;
use executor::{Entry, Schedule, Tasks};
use watch::Watch;

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

/// The state every clone of a [`VirtualRuntime`] shares.
struct Inner {
    /// Woken tasks and main-future polls, in wake order.
    queue: Mutex<VecDeque<Entry>>,
    /// Seeded mode: picks which ready entry runs next (`None`: the front).
    /// Taken only under `queue`, after it.
    order: Mutex<Option<fastrand::Rng>>,
    /// The seed of `order`, if seeded.
    seed: Option<u64>,
    /// The fingerprint of the schedule so far.
    schedule: Schedule,
    /// The thread inside `block_on`, if any: woken when work arrives.
    driver: Mutex<Option<Thread>>,
    clock: Mutex<Clock>,
    /// Outstanding blocking jobs and [`ExternalWork`] guards.
    blocking: AtomicUsize,
    /// How long (virtual) each new blocking job waits before its thread
    /// starts ([`VirtualRuntime::delay_blocking`]).
    blocking_delay: Mutex<Duration>,
    spawned: AtomicUsize,
    live: AtomicUsize,
    /// Wakers of every live task, so `shutdown` can reach idle ones.
    tasks: Mutex<Tasks>,
    closed: AtomicBool,
    /// Each live signal stream: the signals it catches, and its feed.
    signals: Mutex<Vec<(Vec<Signal>, mpsc::UnboundedSender<Signal>)>>,
    /// What the watched governors' services are doing (shared with their
    /// event observers).
    watch: Arc<Mutex<Watch>>,
}

/// Locks `mutex`, through poisoning.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks; recover from a poisoned one
    // rather than turning one test's panic into many.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VirtualRuntime {
    /// A runtime at virtual time zero, with nothing spawned, that polls
    /// ready tasks in the order they were woken.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A runtime in seeded mode: whenever several tasks are ready, the
    /// next to poll is picked by a generator seeded with `seed`, so that
    /// each seed is one schedule, the same on every run with that seed.
    /// Run a test under many seeds to search for ordering bugs
    /// ([`Test::explore`](crate::Test::explore) does, and names the seed
    /// that failed).
    ///
    /// ```
    /// use governor_test::VirtualRuntime;
    ///
    /// let order = |seed| {
    ///     let rt = VirtualRuntime::with_seed(seed);
    ///     let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    ///     for task in 0..4 {
    ///         let log = log.clone();
    ///         rt.spawn(async move { log.lock().unwrap().push(task) });
    ///     }
    ///     rt.run_until_idle();
    ///     let order = log.lock().unwrap().clone();
    ///     order
    /// };
    /// assert_eq!(order(7), order(7)); // a seed is one schedule
    /// assert!((0..16).any(|seed| order(seed) != [0, 1, 2, 3])); // seeds differ
    /// ```
    pub fn with_seed(seed: u64) -> Self {
        Self::build(Some(seed))
    }

    /// [`new`](Self::new), or [`with_seed`](Self::with_seed) with
    /// `GOVERNOR_TEST_SEED` if that variable is set: for a harness of its
    /// own that should follow the variable as [`run`](crate::run) does.
    ///
    /// # Errors
    ///
    /// [`SeedError`](crate::SeedError) when the variable is set to
    /// something else than a number.
    pub fn from_env() -> Result<Self, crate::SeedError> {
        Ok(Self::build(crate::entry::env_seed()?))
    }

    /// The seed of seeded mode, if this runtime is seeded.
    pub fn seed(&self) -> Option<u64> {
        self.inner.seed
    }

    fn build(seed: Option<u64>) -> Self {
        VirtualRuntime {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                order: Mutex::new(seed.map(fastrand::Rng::with_seed)),
                seed,
                schedule: Schedule::default(),
                driver: Mutex::new(None),
                clock: Mutex::new(Clock::default()),
                blocking: AtomicUsize::new(0),
                blocking_delay: Mutex::new(Duration::ZERO),
                spawned: AtomicUsize::new(0),
                live: AtomicUsize::new(0),
                tasks: Mutex::new(Tasks::default()),
                closed: AtomicBool::new(false),
                signals: Mutex::new(Vec::new()),
                watch: Arc::default(),
            }),
        }
    }

    /// The virtual time: zero at [`new`](Self::new), moved only by the
    /// driver and [`advance`](Self::advance) (as [`Runtime::now`], without
    /// the trait in scope).
    pub fn now(&self) -> Duration {
        lock(&self.inner.clock).now
    }

    /// A reader of this runtime's clock that does not keep it alive (for
    /// event observers, which the governor keeps as long as itself).
    /// Reads zero once the runtime is gone.
    pub(crate) fn clock_reader(&self) -> impl Fn() -> Duration + Send + Sync + 'static {
        let inner = Arc::downgrade(&self.inner);
        move || {
            inner
                .upgrade()
                .map_or(Duration::ZERO, |inner| lock(&inner.clock).now)
        }
    }

    /// Spawns `task` (as [`Runtime::spawn`], without the trait in scope or
    /// a box): it runs in the next `block_on` or
    /// [`run_until_idle`](Self::run_until_idle).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.spawn_task(Box::pin(task));
    }

    /// A sleep of `duration` in virtual time (as [`Runtime::sleep`],
    /// without the trait in scope).
    pub fn sleep(&self, duration: Duration) -> BoxSleep {
        self.sleep_for(duration)
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
            .field("seed", &self.seed())
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
        self.sleep_for(duration)
    }

    /// A timer whose every reset is what [`Runtime::sleep`] would make
    /// (a registered timer, or one yield for `Duration::ZERO`); a disarm
    /// removes the registration, as dropping that sleep would.
    fn timer(&self) -> Option<BoxTimer> {
        Some(self.new_timer())
    }

    fn now(&self) -> Duration {
        VirtualRuntime::now(self)
    }

    /// Runs `work` on a new thread; it counts as outstanding (see
    /// [`VirtualRuntime::block_on`]) until it returns or panics.
    #[cfg(feature = "std")]
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        self.spawn_blocking_thread(work);
    }

    /// Blocks the calling thread on `future`; a blocking job's thread does
    /// not count as outstanding while it waits here (see
    /// [`spawn_blocking`](Runtime::spawn_blocking)), so the driver moves
    /// the clock without waiting for it.
    #[cfg(feature = "std")]
    fn block_on(&self, future: Pin<&mut dyn Future<Output = ()>>) {
        self.block_on_thread(future);
    }

    /// A stream fed by [`VirtualRuntime::raise`]. Every stream registered
    /// receives every signal raised while it is alive (broadcast).
    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        Ok(self.signal_stream(&Signal::SHUTDOWN))
    }

    /// A stream fed by [`VirtualRuntime::raise`] with the signals in
    /// `which` only.
    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        Ok(self.signal_stream(which))
    }
}
