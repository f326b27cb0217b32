//! Blocking work: [`Runtime::spawn_blocking`] jobs run on real threads,
//! and [`ExternalWork`] guards stand for threads a test started itself.
//! Both count as outstanding while they last; while any is outstanding the
//! driver does not declare a deadlock, and it waits up to
//! [`BLOCKING_GRACE`] of real time for them before it moves the clock (see
//! `stuck.rs`).
//!
//! A job's thread stops counting while it only waits for the runtime: a
//! blocking service's waits go through [`Runtime::block_on`], which this
//! runtime serves with a waker of its own ([`BlockedThread`]). Parked
//! there the thread cannot act before something of the runtime's wakes
//! it, so the driver need not wait for it; the waker counts it again
//! *before* it unparks the thread, so the driver, which fires timers and
//! polls tasks itself, never moves the clock past a thread it has just
//! woken. Only a thread running the service's own code (or blocked in a
//! call of its own, such as a socket read) makes the driver wait.
//!
//! Rules: a thread's count changes only under its `BlockedThread` lock,
//! and only between "parked" and "running", so each job counts once while
//! it runs and not at all while it waits.

#[cfg(feature = "std")]
use std::cell::Cell;
use std::fmt;
#[cfg(feature = "std")]
use std::future::Future;
#[cfg(feature = "std")]
use std::pin::Pin;
use std::sync::atomic::Ordering;
#[cfg(feature = "std")]
use std::sync::Mutex;
use std::sync::{Arc, Weak};
#[cfg(feature = "std")]
use std::task::{Context, Wake, Waker};
#[cfg(feature = "std")]
use std::thread::{self, Thread};
use std::time::Duration;

#[cfg(doc)]
use governor_core::runtime::Runtime;

use super::{lock, Inner, VirtualRuntime};

/// How long (real time) the driver waits for blocking work that is
/// running (not waiting for the runtime, see the module docs) to wake
/// something before it advances the virtual clock anyway.
///
/// Only a thread running code of its own costs it, so it can be long
/// enough for a loaded machine to schedule a thread just woken: 2 ms let
/// the clock pass such a thread now and then under load (a heartbeat sent
/// one watchdog period late). Interpreted under miri a thread runs some
/// hundred times slower, and the grace grows to match.
pub const BLOCKING_GRACE: Duration = if cfg!(miri) {
    Duration::from_millis(250)
} else {
    Duration::from_millis(25)
};

#[cfg(feature = "std")]
thread_local! {
    /// The runtime (the address of its `Inner`) whose blocking job this
    /// thread runs, counted as outstanding; 0 on any other thread. The
    /// job's guard holds a `Weak` to that `Inner`, so the address is not
    /// reused while the thread lives.
    static COUNTED_FOR: Cell<usize> = const { Cell::new(0) };
}

/// A blocking job's thread waiting in [`Runtime::block_on`], and the waker
/// that wakes it.
#[cfg(feature = "std")]
struct BlockedThread {
    thread: Thread,
    inner: Weak<Inner>,
    state: Mutex<WaitState>,
}

#[cfg(feature = "std")]
#[derive(Default)]
struct WaitState {
    /// Parked, and so not counted as outstanding.
    parked: bool,
    /// Woken while running: poll again instead of parking.
    notified: bool,
}

#[cfg(feature = "std")]
impl Wake for BlockedThread {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = lock(&self.state);
        state.notified = true;
        if state.parked {
            state.parked = false;
            // Counted again before the thread can run.
            if let Some(inner) = self.inner.upgrade() {
                inner.blocking.fetch_add(1, Ordering::SeqCst);
            }
        }
        drop(state);
        self.thread.unpark();
    }
}

#[cfg(feature = "std")]
impl BlockedThread {
    /// Parks until woken, not counted meanwhile; returns at once if woken
    /// since the last poll.
    fn wait(&self) {
        let mut state = lock(&self.state);
        if std::mem::take(&mut state.notified) {
            return;
        }
        state.parked = true;
        if let Some(inner) = self.inner.upgrade() {
            inner.blocking.fetch_sub(1, Ordering::SeqCst);
            // The driver may be waiting for this thread: it need not.
            inner.unpark_driver();
        }
        while state.parked {
            drop(state);
            thread::park();
            state = lock(&self.state);
        }
        state.notified = false;
    }
}

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

impl VirtualRuntime {
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

    /// Delays every blocking job spawned from now on
    /// ([`Runtime::spawn_blocking`]: a blocking service's runs,
    /// [`ServiceCtx::spawn_blocking`](governor_core::ServiceCtx::spawn_blocking)
    /// work) by `delay` of virtual time before its thread starts, as if
    /// the blocking call were slow to come back; `Duration::ZERO` (the
    /// default) ends the delay. A fault to inject without editing the
    /// service: the clock moves on to the delayed start as to any timer.
    /// Once started, the thread is real: while it runs code of its own and
    /// a timer of the test's own is pending, the driver waits only
    /// [`BLOCKING_GRACE`] for it before it moves the clock (see
    /// [`block_on`](VirtualRuntime::block_on)), so a test that wants the
    /// call's end exact awaits an event rather than a sleep meanwhile.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// governor_test::run(|rt| async move {
    ///     rt.delay_blocking(Duration::from_secs(5));
    ///     let gov = rt.governor();
    ///     gov.add_blocking("disk", |_ctx| Ok(()))?;
    ///     gov.start()?;
    ///     let report = gov.wait_for_shutdown().await;
    ///     let disk = report.service("disk").unwrap();
    ///     assert_eq!(disk.last_run.unwrap().started, Duration::ZERO);
    ///     assert_eq!(disk.last_run.unwrap().ended, Some(Duration::from_secs(5)));
    ///     Ok::<(), governor_core::Error>(())
    /// })?;
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    pub fn delay_blocking(&self, delay: Duration) {
        *lock(&self.inner.blocking_delay) = delay;
    }

    /// [`Runtime::spawn_blocking`]: runs `work` on a new thread (after the
    /// [delay](VirtualRuntime::delay_blocking), if any), counted as
    /// outstanding until it returns or panics, except while it waits in
    /// [`Runtime::block_on`].
    #[cfg(feature = "std")]
    pub(super) fn spawn_blocking_thread(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        let delay = *lock(&self.inner.blocking_delay);
        if !delay.is_zero() {
            let rt = self.clone();
            self.spawn(async move {
                rt.sleep(delay).await;
                rt.start_blocking_thread(work);
            });
            return;
        }
        self.start_blocking_thread(work);
    }

    /// [`Runtime::block_on`]: on a blocking job's thread of this runtime,
    /// polls `future` with a waker that takes the thread off the
    /// outstanding count while it is parked (see the module docs); on any
    /// other thread, `futures_executor::block_on`.
    #[cfg(feature = "std")]
    pub(super) fn block_on_thread(&self, mut future: Pin<&mut dyn Future<Output = ()>>) {
        let this = Arc::as_ptr(&self.inner) as usize;
        if COUNTED_FOR.with(Cell::get) != this {
            return futures_executor::block_on(future);
        }
        let blocked = Arc::new(BlockedThread {
            thread: thread::current(),
            inner: Arc::downgrade(&self.inner),
            state: Mutex::new(WaitState::default()),
        });
        let waker = Waker::from(blocked.clone());
        let mut cx = Context::from_waker(&waker);
        while future.as_mut().poll(&mut cx).is_pending() {
            blocked.wait();
        }
    }

    #[cfg(feature = "std")]
    fn start_blocking_thread(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        let guard = self.external_work();
        let this = Arc::as_ptr(&self.inner) as usize;
        let spawned = thread::Builder::new()
            .name("virtual-blocking".into())
            .spawn(move || {
                let _guard = guard;
                COUNTED_FOR.with(|counted| counted.set(this));
                work();
            });
        // On failure the closure, and with it the guard, is dropped.
        drop(spawned);
    }
}
