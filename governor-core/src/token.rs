//! The stop primitive: a hierarchical stop token, split in two.
//!
//! A [`StopSource`] owns a node in a tree of tokens and is the only way to
//! stop it; a [`StopToken`] only observes it (as .NET's
//! `CancellationTokenSource` and `CancellationToken`, or Go's cancel func
//! and `context.Context`). Both are cheap handles (one `Arc`). Stopping a
//! node stops its whole subtree, once; checking it is a single atomic
//! load; waiting for it is the [`WaitForStop`] future, which parks in a
//! slab-backed list (no allocation per waiter) and can never miss the
//! wake-up, because "check the flag, then register" and "set the flag,
//! then take the waiters" happen under the same lock.
//!
//! The governor's token (its global stop) and each run's token are roots
//! whose sources the governor keeps: a run is stopped by its own source,
//! in the governor's shutdown order, with a cause. Users make children with
//! [`StopToken::child`] for work of their own, and own them.
//!
//! This file holds the handles and their futures; the tree they share,
//! with its invariants and lock rules, is in [`tree_node`].

mod tree_node;

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::sync::Arc;
use crate::wait_list::WaiterKey;
use tree_node::Node;

/// Observes a stop: a hierarchical stop token that can be watched
/// but not stopped.
///
/// Clones share one state. Only the [`StopSource`] it came from stops
/// it (or the source of an ancestor). What the governor hands out
/// ([`ServiceCtx::token`](crate::ServiceCtx::token),
/// [`Governor::token`](crate::Governor::token)) is a `StopToken`: code that
/// receives one can watch for the stop, never cause it.
/// [`child`](StopToken::child) makes a source of one's own, stopped with
/// this token or by its owner alone.
///
/// ```
/// use governor_core::StopSource;
///
/// let root = StopSource::new();
/// let child = root.token().child();
/// assert!(!child.stopping());
/// root.stop();
/// assert!(child.stopping());
/// // A token stopped already completes its future at once.
/// futures_executor::block_on(child.token().wait_for_stop());
/// ```
///
/// A token cannot stop:
///
/// ```compile_fail
/// let source = governor_core::StopSource::new();
/// source.token().stop();
/// ```
pub struct StopToken {
    node: Arc<Node>,
}

/// Owns a stop: stops its [`StopToken`]s, and with them every source and
/// token made below them with [`StopToken::child`].
///
/// Clones share one state: any of them can stop it. Hand out
/// [`token`](StopSource::token) to code that should only observe.
///
/// ```
/// use governor_core::StopSource;
///
/// let source = StopSource::new();
/// let token = source.token().clone();
/// assert!(source.stop(), "this call stopped it");
/// assert!(!source.stop(), "a second call does nothing");
/// assert!(token.stopping());
/// ```
#[derive(Clone, Default)]
pub struct StopSource {
    token: StopToken,
}

impl StopToken {
    /// A new root token, not stopped; only its source can stop it.
    fn new() -> Self {
        StopToken {
            node: Arc::new(Node::new(false, None)),
        }
    }

    /// A source of one's own, stopped together with this token (and by
    /// nothing else but its own [`stop`](StopSource::stop), which leaves
    /// this token alone). A child of a stopped token is born stopped.
    pub fn child(&self) -> StopSource {
        StopSource {
            token: StopToken {
                node: Node::child(&self.node),
            },
        }
    }

    /// Whether this token has been stopped: one atomic load.
    #[inline]
    pub fn stopping(&self) -> bool {
        self.node.stopping()
    }

    /// Whether `other` observes the same node as this token.
    pub(crate) fn same_as(&self, other: &StopToken) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }

    /// A future that completes once this token is stopped.
    pub fn wait_for_stop(&self) -> WaitForStop<'_> {
        WaitForStop {
            node: &self.node,
            key: None,
        }
    }

    /// Like [`wait_for_stop`](StopToken::wait_for_stop), but owning a handle, so it
    /// can be stored or moved into a spawned task.
    pub fn wait_for_stop_owned(&self) -> WaitForStopOwned {
        WaitForStopOwned {
            token: self.clone(),
            key: None,
        }
    }

    /// Runs `fut` until it completes or this token is stopped, whichever
    /// comes first. The stop wins a tie: once the token is stopped the
    /// result is `Err(Interrupted)` even if `fut` could also complete.
    pub fn until_stop<F: Future>(&self, fut: F) -> UntilStop<'_, F> {
        UntilStop {
            cancelled: self.wait_for_stop(),
            fut,
        }
    }
}

impl Default for StopToken {
    /// A token that is never stopped (no source owns it).
    fn default() -> Self {
        StopToken::new()
    }
}

impl StopSource {
    /// A new root source, not stopped.
    pub fn new() -> Self {
        StopSource {
            token: StopToken::new(),
        }
    }

    /// The token that observes this source: clone it to hand it out.
    #[inline]
    pub fn token(&self) -> &StopToken {
        &self.token
    }

    /// Stops this source's token and every source and token below it,
    /// waking every waiter. Returns `true` if this call stopped it,
    /// `false` if it already was.
    pub fn stop(&self) -> bool {
        self.token.node.stop()
    }

    /// Whether this source has been stopped: one atomic load.
    #[inline]
    pub fn stopping(&self) -> bool {
        self.token.stopping()
    }

    /// A future that completes once this source is stopped (as
    /// [`StopToken::wait_for_stop`]).
    pub fn wait_for_stop(&self) -> WaitForStop<'_> {
        self.token.wait_for_stop()
    }
}

impl fmt::Debug for StopSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSource")
            .field("stopping", &self.stopping())
            .finish()
    }
}

impl Clone for StopToken {
    fn clone(&self) -> Self {
        self.node.add_handle();
        StopToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for StopToken {
    fn drop(&mut self) {
        self.node.release_handle();
    }
}

impl fmt::Debug for StopToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopToken")
            .field("stopping", &self.stopping())
            .finish()
    }
}

/// The future returned by [`StopToken::wait_for_stop`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitForStop<'a> {
    node: &'a Arc<Node>,
    key: Option<WaiterKey>,
}

impl WaitForStop<'_> {
    /// Whether the token is stopped already: one atomic load, nothing
    /// registered.
    #[inline]
    pub(crate) fn stopping(&self) -> bool {
        self.node.stopping()
    }
}

impl Future for WaitForStop<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.node.poll_cancelled(&mut this.key, cx)
    }
}

impl Drop for WaitForStop<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.node.forget_waiter(key);
        }
    }
}

impl fmt::Debug for WaitForStop<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForStop").finish_non_exhaustive()
    }
}

/// The future returned by [`StopToken::wait_for_stop_owned`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitForStopOwned {
    token: StopToken,
    key: Option<WaiterKey>,
}

impl Future for WaitForStopOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.token.node.poll_cancelled(&mut this.key, cx)
    }
}

impl Drop for WaitForStopOwned {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.token.node.forget_waiter(key);
        }
    }
}

impl fmt::Debug for WaitForStopOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForStopOwned").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`StopToken::until_stop`].
    #[must_use = "futures do nothing unless polled"]
    pub struct UntilStop<'a, F> {
        cancelled: WaitForStop<'a>,
        #[pin]
        fut: F,
    }
}

impl<F: Future> Future for UntilStop<'_, F> {
    type Output = Result<F::Output, Interrupted>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if Pin::new(this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(Err(Interrupted));
        }
        this.fut.poll(cx).map(Ok)
    }
}

/// The error of an operation cut short because a stop was requested.
///
/// Returned by the stoppable sleeps and races of [`StopToken`],
/// [`ServiceCtx`](crate::ServiceCtx) and [`Governor`](crate::Governor).
/// Carried out of a service with `?`, it ends the run as a clean return
/// ([`Outcome::Completed`](crate::Outcome::Completed)): the service did
/// what it was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted: a stop was requested")
    }
}

impl core::error::Error for Interrupted {}

/// The size of a token's node, for the `layout` test (and compiled where
/// it is).
#[cfg(all(test, not(loom), not(miri)))]
pub(crate) const fn node_size() -> usize {
    core::mem::size_of::<Node>()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use futures_util::FutureExt;

    #[test]
    fn cancel_reaches_grandchildren_once() {
        let root = StopSource::new();
        let child = root.token().child();
        let grandchild = child.token().child();
        assert!(root.stop());
        assert!(!root.stop(), "a second cancel reports it did nothing");
        assert!(child.stopping() && grandchild.stopping());
        assert!(!child.stop());
    }

    #[test]
    fn child_cancel_leaves_parent_alone() {
        let root = StopSource::new();
        let child = root.token().child();
        child.stop();
        assert!(!root.stopping());
        assert!(!root.token().child().stopping());
    }

    #[test]
    fn child_of_cancelled_is_born_cancelled() {
        let root = StopSource::new();
        root.stop();
        assert!(root.token().child().stopping());
    }

    #[test]
    fn dropped_children_leave_their_parent() {
        let root = StopSource::new();
        for _ in 0..1000 {
            let child = root.token().child();
            let _clone = child.clone();
        }
        assert_eq!(root.token.node.state.lock().children.len(), 0);
        let kept = root.token().child();
        assert_eq!(root.token.node.state.lock().children.len(), 1);
        drop(kept);
        assert_eq!(root.token.node.state.lock().children.len(), 0);
    }

    #[test]
    fn children_keep_their_keys_from_inline_to_slab() {
        let root = StopSource::new();
        let first = root.token().child();
        let second = root.token().child();
        let third = root.token().child();
        drop(first);
        assert_eq!(root.token.node.state.lock().children.len(), 2);
        drop(third);
        assert_eq!(root.token.node.state.lock().children.len(), 1);
        let fourth = root.token().child();
        root.stop();
        assert!(second.stopping() && fourth.stopping());
        drop((second, fourth));
        assert_eq!(root.token.node.state.lock().children.len(), 0);

        let root = StopSource::new();
        let only = root.token().child();
        drop(only);
        let again = root.token().child();
        assert_eq!(root.token.node.state.lock().children.len(), 1);
        drop(again);
        assert_eq!(root.token.node.state.lock().children.len(), 0);
    }

    #[test]
    fn a_token_whose_source_is_gone_still_observes_its_parent() {
        let root = StopSource::new();
        let observer = root.token().child().token().clone();
        assert_eq!(root.token.node.state.lock().children.len(), 1);
        root.stop();
        assert!(observer.stopping());
    }

    #[test]
    fn dropped_middle_token_still_passes_cancellation_down() {
        let root = StopSource::new();
        let middle = root.token().child();
        let leaf = middle.token().child();
        drop(middle);
        assert_eq!(root.token.node.state.lock().children.len(), 1);
        root.stop();
        assert!(leaf.stopping());
    }

    #[test]
    fn orphaned_chain_unlinks_when_the_leaf_goes() {
        let root = StopSource::new();
        let middle = root.token().child();
        let leaf = middle.token().child();
        drop(middle);
        drop(leaf);
        assert_eq!(root.token.node.state.lock().children.len(), 0);
    }

    #[test]
    fn waiters_are_woken_and_dropped_waiters_leave() {
        let token = StopSource::new();
        let mut waiting: Vec<_> = (0..3)
            .map(|_| token.token().wait_for_stop_owned())
            .collect();
        for fut in &mut waiting {
            assert!(fut.now_or_never().is_none());
        }
        assert_eq!(token.token.node.state.lock().waiters.len(), 3);
        waiting.pop();
        assert_eq!(token.token.node.state.lock().waiters.len(), 2);
        token.stop();
        for fut in waiting {
            assert!(fut.now_or_never().is_some());
        }
    }

    #[test]
    fn run_until_cancelled_prefers_cancellation() {
        let token = StopSource::new();
        assert_eq!(
            token.token().until_stop(async { 7 }).now_or_never(),
            Some(Ok(7))
        );
        token.stop();
        assert_eq!(
            token.token().until_stop(async { 7 }).now_or_never(),
            Some(Err(Interrupted))
        );
    }
}
