//! A list of parked tasks, woken all at once.
//!
//! It is not synchronised by itself: each owner keeps it inside its own
//! [`Mutex`](crate::sync::Mutex) next to the condition it guards, so that
//! "check the condition, then register" is one critical section and no
//! wake-up can be lost between the two. Storage is a slab: a waiter costs
//! one slot (amortised, no allocation per waiter) and leaves in O(1).

use core::task::Waker;

use slab::Slab;

/// Where one waiter sits in a [`WaitList`]. A key from before the last
/// [`WaitList::take`] is stale and never touches a newer waiter's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    slot: usize,
    epoch: usize,
}

#[derive(Debug, Default)]
pub(crate) struct WaitList {
    wakers: Slab<Waker>,
    /// Bumped by every `take`, so that stale keys can be told apart.
    epoch: usize,
}

impl WaitList {
    pub(crate) const fn new() -> Self {
        WaitList {
            wakers: Slab::new(),
            epoch: 0,
        }
    }

    /// Registers `waker` under `key` (or under a fresh key when `key` is
    /// empty or stale), replacing the stored waker only when it would wake
    /// another task.
    pub(crate) fn register(&mut self, key: &mut Option<WaiterKey>, waker: &Waker) {
        if let Some(k) = key.filter(|k| k.epoch == self.epoch) {
            if let Some(stored) = self.wakers.get_mut(k.slot) {
                if !stored.will_wake(waker) {
                    stored.clone_from(waker);
                }
                return;
            }
        }
        let slot = self.wakers.insert(waker.clone());
        *key = Some(WaiterKey {
            slot,
            epoch: self.epoch,
        });
    }

    /// Forgets the waiter under `key`, if it is still there.
    pub(crate) fn remove(&mut self, key: WaiterKey) {
        if key.epoch == self.epoch {
            self.wakers.try_remove(key.slot);
        }
    }

    /// Takes every waiter out, to be woken after the lock is released.
    /// Every key handed out before becomes stale.
    pub(crate) fn take(&mut self) -> WakeAll {
        self.epoch = self.epoch.wrapping_add(1);
        WakeAll(core::mem::take(&mut self.wakers))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }
}

/// Waiters taken out of a [`WaitList`]; call [`WakeAll::wake`] once the
/// lock that guarded them is released.
#[must_use = "taken waiters must be woken"]
pub(crate) struct WakeAll(Slab<Waker>);

impl WakeAll {
    pub(crate) fn wake(self) {
        for (_, waker) in self.0 {
            waker.wake();
        }
    }
}
