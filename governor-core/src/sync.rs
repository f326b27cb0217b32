//! The synchronisation primitives the core is built on, in one place so
//! that loom can replace them under `--cfg loom`.
//!
//! With `std`, [`Mutex`] is `std::sync::Mutex` (a poisoned lock is still
//! used: every critical section here leaves its data consistent before it
//! can panic). Without `std` it is a spin lock; the core only ever holds a
//! lock for a few instructions and never across an `.await` or a user
//! callback, so spinning is bounded.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

#[cfg(not(loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A mutual-exclusion lock whose `lock` never fails.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(all(not(loom), feature = "std"))]
    inner: std::sync::Mutex<T>,
    #[cfg(all(not(loom), not(feature = "std")))]
    inner: spin::Mutex<T>,
}

#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
#[cfg(all(not(loom), feature = "std"))]
pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;
#[cfg(all(not(loom), not(feature = "std")))]
pub(crate) type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
            #[cfg(all(not(loom), feature = "std"))]
            inner: std::sync::Mutex::new(value),
            #[cfg(all(not(loom), not(feature = "std")))]
            inner: spin::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(any(loom, feature = "std"))]
        {
            self.inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
        #[cfg(all(not(loom), not(feature = "std")))]
        {
            self.inner.lock()
        }
    }
}

/// A cell written at most once, then read without a lock: a task's own
/// stop token, made at its first use (`tasks.rs`). With `std` it is
/// `std::sync::OnceLock` (a racing initialiser parks); without, a
/// `spin::Once` (it spins, for as long as the winner's initialiser runs:
/// a few instructions and one token lock here).
pub(crate) struct OnceCell<T> {
    #[cfg(feature = "std")]
    inner: std::sync::OnceLock<T>,
    #[cfg(not(feature = "std"))]
    inner: spin::Once<T>,
}

impl<T> OnceCell<T> {
    pub(crate) const fn new() -> Self {
        OnceCell {
            #[cfg(feature = "std")]
            inner: std::sync::OnceLock::new(),
            #[cfg(not(feature = "std"))]
            inner: spin::Once::new(),
        }
    }

    /// The value, if it has been set: one atomic load.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        self.inner.get()
    }

    /// The value, set by `init` first if it was not: `init` runs at most
    /// once, whoever races it.
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        #[cfg(feature = "std")]
        {
            self.inner.get_or_init(init)
        }
        #[cfg(not(feature = "std"))]
        {
            self.inner.call_once(init)
        }
    }
}
