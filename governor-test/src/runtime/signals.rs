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
    /// [`Runtime::shutdown_signals`] or [`Runtime::signals`] that is still
    /// alive and catches it, and returns how many received it. A signal
    /// raised while no such stream is alive is lost (a real process would
    /// get its default action).
    pub fn raise(&self, signal: Signal) -> usize {
        let mut senders = lock(&self.inner.signals);
        senders.retain(|(_, sender)| !sender.is_closed());
        senders
            .iter()
            .filter(|(which, _)| which.contains(&signal))
            .filter(|(_, sender)| sender.unbounded_send(signal).is_ok())
            .count()
    }

    /// How many live streams catch `signal` (what [`raise`](Self::raise)
    /// would return), without raising it.
    pub fn listeners(&self, signal: Signal) -> usize {
        let mut senders = lock(&self.inner.signals);
        senders.retain(|(_, sender)| !sender.is_closed());
        senders
            .iter()
            .filter(|(which, _)| which.contains(&signal))
            .count()
    }

    /// What [`Runtime::signals`] returns: a stream fed by
    /// [`raise`](Self::raise) with the signals in `which`.
    pub(super) fn signal_stream(&self, which: &[Signal]) -> SignalStream {
        let (sender, receiver) = mpsc::unbounded();
        lock(&self.inner.signals).push((which.to_vec(), sender));
        Box::pin(receiver)
    }
}
