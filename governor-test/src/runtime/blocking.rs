//! Blocking work: [`Runtime::spawn_blocking`] jobs run on real threads,
//! and [`ExternalWork`] guards stand for threads a test started itself.
//! Both count as outstanding while they last; while any is outstanding the
//! driver does not declare a deadlock, and it waits up to
//! [`BLOCKING_GRACE`] of real time for them before it moves the clock (see
//! `stuck.rs`).

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
#[cfg(feature = "std")]
use std::thread;
use std::time::Duration;

#[cfg(doc)]
use governor_core::runtime::Runtime;

use super::{lock, Inner, VirtualRuntime};

/// How long (real time) the driver waits for outstanding blocking work to
/// wake something before it advances the virtual clock anyway.
///
/// Interpreted under miri a blocking thread runs some hundred times slower,
/// so 2 ms would let the clock pass a thread that is merely slow (seen as a
/// heartbeat landing one watchdog period late); the grace grows to match.
pub const BLOCKING_GRACE: Duration = if cfg!(miri) {
    Duration::from_millis(250)
} else {
    Duration::from_millis(2)
};

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

    /// [`Runtime::spawn_blocking`]: runs `work` on a new thread, counted as
    /// outstanding until it returns or panics.
    /// Delays every blocking job spawned from now on
    /// ([`Runtime::spawn_blocking`]: a blocking service's runs,
    /// [`ServiceCtx::spawn_blocking`](governor_core::ServiceCtx::spawn_blocking)
    /// work) by `delay` of virtual time before its thread starts, as if
    /// the blocking call were slow to come back; `Duration::ZERO` (the
    /// default) ends the delay. A fault to inject without editing the
    /// service: the clock moves on to the delayed start as to any timer.
    /// Once started, the thread is real: while it runs and a timer of the
    /// test's own is pending, the driver waits only [`BLOCKING_GRACE`] for
    /// it before it moves the clock (see
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

    #[cfg(feature = "std")]
    fn start_blocking_thread(&self, work: Box<dyn FnOnce() + Send + 'static>) {
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
}
