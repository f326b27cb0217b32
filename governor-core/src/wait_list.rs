//! A list of parked tasks, woken all at once.
//!
//! It is not synchronised by itself: each owner keeps it inside its own
//! [`Mutex`](crate::sync::Mutex) next to the condition it guards, so that
//! "check the condition, then register" is one critical section and no
//! wake-up can be lost between the two. The first two waiters are stored
//! inline (no allocation at all: a run's token has two); beyond that,
//! storage is a slab: a waiter costs one index (amortised, no allocation per
//! waiter) and leaves in O(1). A [`LazyWaitList`] is boxed and made by its
//! first waiter, for owners most of which are never waited on (a record's
//! watchers).

use alloc::boxed::Box;
use core::num::NonZeroUsize;
use core::task::Waker;

use slab::Slab;

/// Where one waiter sits in a [`WaitList`]. A key from before the last
/// [`WaitList::take`] is stale and never touches a newer waiter's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    index: usize,
    // Never zero, so that `Option<WaiterKey>` (in every pending future
    // that waits on a list) is no bigger than the key.
    epoch: NonZeroUsize,
}

/// How many waiters a list holds without allocating: a run's token has
/// two (the supervisor and the service itself), most other lists none or
/// one.
const INLINE: usize = 2;

#[derive(Debug)]
pub(crate) struct WaitList {
    wakers: Store,
    /// Bumped by every `take`, so that stale keys can be told apart.
    epoch: NonZeroUsize,
}

/// The wakers: inline while there are few, in a slab beyond. Keys keep
/// their meaning across the move (inline index `i` becomes slab key `i`).
#[derive(Debug)]
enum Store {
    Inline([Option<Waker>; INLINE]),
    /// Boxed: most lists never leave the inline form, and the box keeps
    /// every list (one in each token and record) one word smaller.
    Slab(Box<Slab<Waker>>),
}

impl Default for Store {
    fn default() -> Self {
        Store::Inline([None, None])
    }
}

impl Store {
    fn is_empty(&self) -> bool {
        match self {
            Store::Inline(wakers) => wakers.iter().all(Option::is_none),
            Store::Slab(wakers) => wakers.is_empty(),
        }
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut Waker> {
        match self {
            Store::Inline(wakers) => wakers.get_mut(index).and_then(Option::as_mut),
            Store::Slab(wakers) => wakers.get_mut(index),
        }
    }

    fn insert(&mut self, waker: Waker) -> usize {
        match self {
            Store::Inline(wakers) => {
                if let Some(index) = wakers.iter().position(Option::is_none) {
                    wakers[index] = Some(waker);
                    return index;
                }
                // Full: move to a slab, inline index `i` becoming key `i`.
                let mut slab = Slab::with_capacity(2 * INLINE);
                for stored in wakers.iter_mut() {
                    slab.insert(stored.take().expect("a full inline list"));
                }
                let index = slab.insert(waker);
                *self = Store::Slab(Box::new(slab));
                index
            }
            Store::Slab(wakers) => wakers.insert(waker),
        }
    }

    fn remove(&mut self, index: usize) {
        match self {
            Store::Inline(wakers) => {
                if let Some(stored) = wakers.get_mut(index) {
                    *stored = None;
                }
            }
            Store::Slab(wakers) => {
                wakers.try_remove(index);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            Store::Inline(wakers) => wakers.iter().flatten().count(),
            Store::Slab(wakers) => wakers.len(),
        }
    }
}

impl Default for WaitList {
    fn default() -> Self {
        WaitList::new()
    }
}

impl WaitList {
    pub(crate) const fn new() -> Self {
        WaitList {
            wakers: Store::Inline([None, None]),
            epoch: NonZeroUsize::MIN,
        }
    }

    /// Registers `waker` under `key` (or under a fresh key when `key` is
    /// empty or stale), replacing the stored waker only when it would wake
    /// another task.
    pub(crate) fn register(&mut self, key: &mut Option<WaiterKey>, waker: &Waker) {
        if let Some(k) = key.filter(|k| k.epoch == self.epoch) {
            if let Some(stored) = self.wakers.get_mut(k.index) {
                if !stored.will_wake(waker) {
                    stored.clone_from(waker);
                }
                return;
            }
        }
        let index = self.wakers.insert(waker.clone());
        *key = Some(WaiterKey {
            index,
            epoch: self.epoch,
        });
    }

    /// Forgets the waiter under `key`, if it is still there.
    pub(crate) fn remove(&mut self, key: WaiterKey) {
        if key.epoch == self.epoch {
            self.wakers.remove(key.index);
        }
    }

    /// Takes every waiter out, to be woken after the lock is released.
    /// Every key handed out before becomes stale.
    pub(crate) fn take(&mut self) -> WakeAll {
        if self.wakers.is_empty() {
            // Nothing to wake, and no key to make stale: every key handed
            // out since the last take was given back by its waiter's
            // `remove`. (A record's watchers are taken on every run's
            // start and end, most often empty.)
            return WakeAll(Store::default());
        }
        self.epoch = self.epoch.checked_add(1).unwrap_or(NonZeroUsize::MIN);
        WakeAll(core::mem::take(&mut self.wakers))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }
}

/// A [`WaitList`] made when its first waiter registers, then kept: 8
/// bytes instead of 48 for a list most owners never wait on. A record's
/// watchers are one (a service is watched only by a handle's `wait`, a
/// dependent, a delayed restart or a removal, and one record per service
/// is in memory). Once made it stays, as a list waited on once is likely
/// waited on again; keys keep their meaning, as the list never moves out.
#[derive(Debug, Default)]
pub(crate) struct LazyWaitList(Option<Box<WaitList>>);

impl LazyWaitList {
    pub(crate) const fn new() -> Self {
        LazyWaitList(None)
    }

    /// As [`WaitList::register`]; makes the list on the first waiter.
    pub(crate) fn register(&mut self, key: &mut Option<WaiterKey>, waker: &Waker) {
        self.0
            .get_or_insert_with(|| Box::new(WaitList::new()))
            .register(key, waker);
    }

    /// As [`WaitList::remove`].
    pub(crate) fn remove(&mut self, key: WaiterKey) {
        if let Some(list) = &mut self.0 {
            list.remove(key);
        }
    }

    /// As [`WaitList::take`]: nothing to wake if no waiter ever came.
    pub(crate) fn take(&mut self) -> WakeAll {
        match &mut self.0 {
            Some(list) => list.take(),
            None => WakeAll(Store::default()),
        }
    }
}

/// Waiters taken out of a [`WaitList`]; call [`WakeAll::wake`] once the
/// lock that guarded them is released.
#[must_use = "taken waiters must be woken"]
pub(crate) struct WakeAll(Store);

impl WakeAll {
    pub(crate) fn wake(self) {
        match self.0 {
            Store::Inline(wakers) => wakers.into_iter().flatten().for_each(Waker::wake),
            Store::Slab(wakers) => {
                for (_, waker) in *wakers {
                    waker.wake();
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use core::task::Waker;

    struct Count(AtomicUsize);

    impl alloc::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn wakers(n: usize) -> (Vec<Arc<Count>>, Vec<Waker>) {
        let counts: Vec<_> = (0..n)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let wakers = counts.iter().map(|c| Waker::from(c.clone())).collect();
        (counts, wakers)
    }

    #[test]
    fn keys_survive_the_move_from_inline_to_slab() {
        let (counts, wakers) = wakers(5);
        let mut list = WaitList::new();
        let mut keys = [None; 5];
        for (key, waker) in keys.iter_mut().zip(&wakers).take(2) {
            list.register(key, waker);
        }
        assert!(matches!(list.wakers, Store::Inline(_)));
        for (key, waker) in keys.iter_mut().zip(&wakers).skip(2) {
            list.register(key, waker);
        }
        assert!(matches!(list.wakers, Store::Slab(_)));
        assert_eq!(list.len(), 5);
        // Re-registering under an old key replaces, never adds.
        list.register(&mut keys[1], &wakers[1]);
        assert_eq!(list.len(), 5);
        list.remove(keys[0].unwrap());
        list.remove(keys[3].unwrap());
        assert_eq!(list.len(), 3);
        list.take().wake();
        let woken: Vec<usize> = counts.iter().map(|c| c.0.load(Ordering::Relaxed)).collect();
        assert_eq!(woken, [0, 1, 1, 0, 1]);
    }

    #[test]
    fn inline_entries_are_reused_and_stale_keys_do_nothing() {
        let (counts, wakers) = wakers(3);
        let mut list = WaitList::new();
        let (mut a, mut b, mut c) = (None, None, None);
        list.register(&mut a, &wakers[0]);
        list.register(&mut b, &wakers[1]);
        list.remove(a.unwrap());
        list.register(&mut c, &wakers[2]);
        assert!(
            matches!(list.wakers, Store::Inline(_)),
            "a freed index is reused"
        );
        list.take().wake();
        // After `take`, old keys are stale: they neither touch nor add.
        list.register(&mut a, &wakers[0]);
        list.remove(b.unwrap());
        list.remove(c.unwrap());
        assert_eq!(list.len(), 1);
        list.take().wake();
        let woken: Vec<usize> = counts.iter().map(|c| c.0.load(Ordering::Relaxed)).collect();
        assert_eq!(woken, [1, 1, 1]);
    }

    #[test]
    fn a_lazy_list_is_made_by_its_first_waiter_and_kept() {
        let (counts, wakers) = wakers(2);
        let mut list = LazyWaitList::new();
        // Taken before any waiter came: nothing is made.
        list.take().wake();
        assert!(list.0.is_none(), "no list before the first waiter");
        let (mut a, mut b) = (None, None);
        list.register(&mut a, &wakers[0]);
        list.register(&mut b, &wakers[1]);
        list.remove(a.unwrap());
        list.take().wake();
        assert!(list.0.is_some(), "kept once made");
        // Its keys keep their meaning: a key from before `take` is stale.
        list.remove(b.unwrap());
        list.register(&mut a, &wakers[0]);
        list.take().wake();
        let woken: Vec<usize> = counts.iter().map(|c| c.0.load(Ordering::Relaxed)).collect();
        assert_eq!(woken, [1, 1]);
    }
}
