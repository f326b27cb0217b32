//! Shutdown signals of [`VirtualRuntime`]: no operating-system signal
//! ever arrives; a test raises one by hand with
//! [`raise`](VirtualRuntime::raise), and every stream returned by
//! [`Runtime::shutdown_signals`] still alive receives it (broadcast).

use futures_channel::mpsc;
#[cfg(doc)]
use governor_core::runtime::Runtime;
use governor_core::runtime::{Signal, SignalStream};

use super::{lock, VirtualRuntime};

impl VirtualRuntime {
    /// Delivers `signal` to every stream returned by
    /// [`Runtime::shutdown_signals`] that is still alive, and returns how
    /// many received it. A signal raised while no stream is alive is lost.
    pub fn raise(&self, signal: Signal) -> usize {
        let mut senders = lock(&self.inner.signals);
        senders.retain(|sender| sender.unbounded_send(signal).is_ok());
        senders.len()
    }

    /// What [`Runtime::shutdown_signals`] returns: a stream fed by
    /// [`raise`](Self::raise).
    pub(super) fn signal_stream(&self) -> SignalStream {
        let (sender, receiver) = mpsc::unbounded();
        lock(&self.inner.signals).push(sender);
        Box::pin(receiver)
    }
}
