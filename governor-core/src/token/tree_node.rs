//! The tree behind [`StopToken`](super::StopToken) and
//! [`StopSource`](super::StopSource): one [`Node`] per source, linked to
//! its parent so that stopping a node reaches its whole subtree. The
//! handles in `token.rs` only count themselves and call in here.
//!
//! # Invariants
//!
//! 1. `stopped` goes from `false` to `true` once, never back, and is only
//!    written under the node's own `state` lock; reading it needs no lock.
//! 2. The waiters are taken in the same critical section that sets
//!    `stopped`, and a waiter registers only after seeing `stopped`
//!    false under that lock: no wake-up is lost, and no waiter is left in
//!    the list of a stopped node.
//! 3. A child is linked into its parent's `children` only under the
//!    parent's lock and only while the parent is not stopped; a child of
//!    a stopped node is born stopped and has no parent.
//! 4. Stopping a node takes its `children` out (in the critical section
//!    of invariant 2) and stops each outside the lock: once a node is
//!    stopped, its `children` stays empty.
//! 5. `handles` counts the live `StopToken`s (a `StopSource` holds one).
//!    When it reaches zero the node is `orphaned` (set and read only
//!    under the node's own lock); an orphaned node with
//!    no children leaves its parent, and so in turn does each ancestor
//!    that this leaves orphaned and childless. A node whose parent is
//!    stopped does not touch the parent (invariant 4 emptied it).
//! 6. A node's `parent` is fixed at creation: the key it names in the
//!    parent's `children` is this node's until it leaves.
//!
//! # Deadlock safety
//!
//! At most one node's lock is held at a time: stopping takes a node's
//! lock, takes its waiters and children, and unlocks before waking the
//! waiters and before locking any child; leaving a parent locks only the
//! parent (the child's own lock was released first); dropping a removed
//! child happens after the parent's lock is released. Wakers therefore
//! run with no lock of the tree held, and no code outside this module
//! runs under one. Callers (the record, the governor) may hold their own
//! locks while stopping a node: the node's lock comes last in the
//! order governor, record, token node.
//!
//! # Layout
//!
//! Most tokens have no child or one, and most nodes no waiter or up to
//! two: the first child is stored inline and more in a boxed slab (a box,
//! as it keeps every node three words smaller), and the waiters in a
//! [`WaitList`] whose first two are inline. Checking for a stop is one
//! atomic load, kept `#[inline]` so that it is one in other crates too.
//! The two flags sit together outside the locked state (`orphaned` is
//! only touched under the lock all the same): 104 bytes, so that a node
//! and its `Arc` counts fill a 128-byte allocator chunk rather than 144
//! (pinned by the `layout` test; one node per running service).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::task::{Context, Poll};

use slab::Slab;

use crate::sync::{Arc, AtomicBool, AtomicUsize, Mutex, Ordering};
use crate::wait_list::{WaitList, WaiterKey};

pub(super) struct Node {
    /// Set once, under `state`'s lock; read without it.
    pub(super) cancelled: AtomicBool,
    /// No handle is left; the node lives on only for its children. Set
    /// once and read only under `state`'s lock: an atomic only so that it
    /// can sit beside `cancelled`, in padding, rather than in the locked
    /// state, where it took a word of its own (see Layout).
    orphaned: AtomicBool,
    /// Live `StopToken` handles (each `StopSource` holds one); at zero
    /// the node leaves its parent.
    pub(super) handles: AtomicUsize,
    /// This node's parent and its index in the parent's `children`.
    pub(super) parent: Option<(Arc<Node>, usize)>,
    pub(super) state: Mutex<NodeState>,
}

pub(super) struct NodeState {
    pub(super) waiters: WaitList,
    pub(super) children: Children,
}

/// A node's children, each under a key that stays its own until it
/// leaves: the first inline (most tokens have at most one child, so
/// linking it never allocates), more in a slab. A single
/// inline child has key 0 and keeps it when a second one moves them both
/// into the slab.
#[derive(Default)]
pub(super) enum Children {
    #[default]
    None,
    One(Arc<Node>),
    /// Boxed: a second child is rare, and the box keeps every node three
    /// words smaller.
    Many(Box<Slab<Arc<Node>>>),
}

impl Children {
    /// The key the next [`insert`](Children::insert) will return.
    fn vacant_key(&self) -> usize {
        match self {
            Children::None => 0,
            Children::One(_) => 1,
            Children::Many(slab) => slab.vacant_key(),
        }
    }

    fn insert(&mut self, child: Arc<Node>) -> usize {
        match core::mem::take(self) {
            Children::None => {
                *self = Children::One(child);
                0
            }
            Children::One(first) => {
                let mut slab = Slab::with_capacity(4);
                slab.insert(first);
                let key = slab.insert(child);
                *self = Children::Many(Box::new(slab));
                key
            }
            Children::Many(mut slab) => {
                let key = slab.insert(child);
                *self = Children::Many(slab);
                key
            }
        }
    }

    fn try_remove(&mut self, key: usize) -> Option<Arc<Node>> {
        match self {
            Children::None => None,
            Children::One(_) if key == 0 => match core::mem::take(self) {
                Children::One(child) => Some(child),
                _ => None,
            },
            Children::One(_) => None,
            Children::Many(slab) => slab.try_remove(key),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Children::None => true,
            Children::One(_) => false,
            Children::Many(slab) => slab.is_empty(),
        }
    }

    #[cfg(all(test, not(loom)))]
    pub(super) fn len(&self) -> usize {
        match self {
            Children::None => 0,
            Children::One(_) => 1,
            Children::Many(slab) => slab.len(),
        }
    }

    fn for_each(self, mut f: impl FnMut(Arc<Node>)) {
        match self {
            Children::None => {}
            Children::One(child) => f(child),
            Children::Many(slab) => (*slab).into_iter().for_each(|(_, child)| f(child)),
        }
    }
}

impl Node {
    /// A new child of `this`, linked under `this`'s lock (invariant 3);
    /// a child of a stopped node is born stopped and linked to nothing.
    pub(super) fn child(this: &Arc<Node>) -> Arc<Node> {
        let mut state = this.state.lock();
        if this.cancelled.load(Ordering::Relaxed) {
            return Arc::new(Node::new(true, None));
        }
        let index = state.children.vacant_key();
        let child = Arc::new(Node::new(false, Some((this.clone(), index))));
        let inserted = state.children.insert(child.clone());
        debug_assert_eq!(inserted, index);
        child
    }

    /// Counts one more handle (a clone of a live one).
    pub(super) fn add_handle(&self) {
        // Relaxed is enough: a clone is made from a live handle, so the
        // count cannot reach zero concurrently (as with `Arc`).
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one handle less; the last one orphans the node.
    pub(super) fn release_handle(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // Last handle (a source holds one too): nobody can cancel or
        // observe this node directly any more. It leaves its parent (which
        // would otherwise keep it alive until the parent is cancelled) as
        // soon as it has no children of its own;
        // until then it stays linked, so that cancelling an ancestor still
        // reaches its descendants.
        let leave = {
            let state = self.state.lock();
            self.orphaned.store(true, Ordering::Relaxed);
            state.children.is_empty()
        };
        if leave {
            self.leave_parent();
        }
    }

    pub(super) fn new(cancelled: bool, parent: Option<(Arc<Node>, usize)>) -> Self {
        Node {
            cancelled: AtomicBool::new(cancelled),
            orphaned: AtomicBool::new(false),
            handles: AtomicUsize::new(1),
            parent,
            state: Mutex::new(NodeState {
                waiters: WaitList::new(),
                children: Children::None,
            }),
        }
    }

    // `#[inline]`: without it, `StopToken::stopping` in another crate
    // is a call (through the GOT) to this one-load function.
    #[inline]
    pub(super) fn stopping(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Stops this node and its subtree; returns whether this call did it.
    pub(super) fn stop(&self) -> bool {
        let Some(children) = self.cancel_one() else {
            return false;
        };
        // An explicit stack instead of recursion: a deep tree must not
        // overflow the stack of whoever cancels it. It only allocates when
        // there are grandchildren (a token's children rarely have
        // children of their own).
        let mut pending: Vec<Arc<Node>> = Vec::new();
        children.for_each(|child| {
            if let Some(grandchildren) = child.cancel_one() {
                grandchildren.for_each(|node| pending.push(node));
            }
        });
        while let Some(node) = pending.pop() {
            if let Some(children) = node.cancel_one() {
                children.for_each(|node| pending.push(node));
            }
        }
        true
    }

    /// Stops this node alone and wakes its waiters; returns its
    /// children, or `None` if it was stopped already.
    fn cancel_one(&self) -> Option<Children> {
        let (wake, children) = {
            let mut state = self.state.lock();
            if self.cancelled.load(Ordering::Relaxed) {
                return None;
            }
            self.cancelled.store(true, Ordering::Release);
            let children = core::mem::take(&mut state.children);
            (state.waiters.take(), children)
        };
        wake.wake();
        Some(children)
    }

    pub(super) fn poll_cancelled(
        &self,
        key: &mut Option<WaiterKey>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if self.stopping() {
            *key = None;
            return Poll::Ready(());
        }
        let mut state = self.state.lock();
        if self.cancelled.load(Ordering::Relaxed) {
            *key = None;
            return Poll::Ready(());
        }
        state.waiters.register(key, cx.waker());
        Poll::Pending
    }

    /// Unlinks an orphaned, childless node from its parent, and then each
    /// ancestor that this leaves orphaned and childless in turn.
    fn leave_parent(&self) {
        let mut link = self.parent.clone();
        while let Some((parent, index)) = link.take() {
            let (removed, parent_leaves) = {
                let mut state = parent.state.lock();
                if parent.cancelled.load(Ordering::Relaxed) {
                    return; // the parent took its children already
                }
                let removed = state.children.try_remove(index);
                let orphaned = parent.orphaned.load(Ordering::Relaxed);
                (removed, orphaned && state.children.is_empty())
            };
            drop(removed); // outside the parent's lock
            if parent_leaves {
                link = parent.parent.clone();
            }
        }
    }

    pub(super) fn forget_waiter(&self, key: WaiterKey) {
        // Once cancelled, the waiters have been taken (in the same critical
        // section that set the flag): the key is stale and removing it
        // would do nothing, so skip the lock. At worst the taker, still at
        // work, wakes this waiter's task once for nothing.
        if self.stopping() {
            return;
        }
        self.state.lock().waiters.remove(key);
    }
}
