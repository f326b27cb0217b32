//! Waiting for a change of a record: [`Record::watch`] completes once its
//! check, re-run on every change of the record's readiness, end, stop or
//! waiters inside, says so. The check runs under the record's lock and is
//! always the core's own closure, never user code.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::sync::Ordering;
use crate::wait_list::WaiterKey;

use super::Record;

impl Record {
    /// Completes when `check` says so, re-checked on every readiness or
    /// end change.
    pub(crate) fn watch<T, F>(&self, check: F) -> Watch<'_, F>
    where
        F: FnMut(&RecordView) -> Option<T> + Unpin,
    {
        Watch {
            record: self,
            check,
            key: None,
        }
    }
}

/// What a [`Record::watch`] check sees.
pub(crate) struct RecordView {
    /// Asked to stop for good.
    pub(crate) stopped: bool,
    pub(crate) ready: bool,
    pub(crate) ever_ready: bool,
    /// How many runs have begun.
    pub(crate) runs: u64,
    pub(crate) ended: bool,
    pub(crate) pending: bool,
    /// Some waiter for the governor's shutdown is parked inside it.
    pub(crate) waiting_inside: bool,
    /// A run is in progress (from its beginning to its end).
    pub(crate) running: bool,
    /// Held by a propagation: no run begins until it is released.
    pub(crate) held: bool,
}

/// The future returned by [`Record::watch`].
pub(crate) struct Watch<'a, F> {
    record: &'a Record,
    check: F,
    key: Option<WaiterKey>,
}

impl<T, F> Future for Watch<'_, F>
where
    F: FnMut(&RecordView) -> Option<T> + Unpin,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let mut state = this.record.state.lock();
        let view = RecordView {
            stopped: this.record.stopped.load(Ordering::Relaxed),
            ready: state.ready,
            ever_ready: state.ever_ready,
            runs: state.runs,
            ended: state.ended,
            pending: state.launch.is_some(),
            waiting_inside: state.inside > 0,
            running: state.run_token.is_some(),
            held: state.held,
        };
        match (this.check)(&view) {
            Some(done) => {
                if let Some(key) = this.key.take() {
                    state.watchers.remove(key);
                }
                Poll::Ready(done)
            }
            None => {
                state.watchers.register(&mut this.key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for Watch<'_, F> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.record.state.lock().watchers.remove(key);
        }
    }
}
