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

use super::{Inner, VirtualRuntime};

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
    #[cfg(feature = "std")]
    pub(super) fn spawn_blocking_thread(&self, work: Box<dyn FnOnce() + Send + 'static>) {
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
