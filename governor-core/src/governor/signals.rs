//! Signal listening: with [`Governor::catch_signals`], the next start
//! installs the runtime's shutdown signals and spawns a listener that
//! turns the first signal into a graceful shutdown and the next into a
//! forced one. The listener holds the governor weakly and ends when it is
//! dropped.

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};

use futures_util::StreamExt;

use super::{Governor, Shared};
use crate::error::Error;
use crate::report::ShutdownCause;
use crate::runtime::{Runtime, SignalStream};
use crate::token::StopToken;

impl Governor {
    /// Installs the signal listener if `catch_signals` asked for it and it
    /// is not installed yet (called by every start).
    pub(super) fn install_signals(&self) -> Result<(), Error> {
        {
            let mut state = self.shared().state.lock();
            if !state.catch_signals || state.signals_installed {
                return Ok(());
            }
            state.signals_installed = true;
        }
        let signals = match self.shared().runtime.shutdown_signals() {
            Ok(signals) => signals,
            Err(e) => {
                self.shared().state.lock().signals_installed = false;
                return Err(Error::Signals(e));
            }
        };
        let listener = listen_for_signals(
            signals,
            Arc::downgrade(self.shared()),
            self.shared().dropped.token().clone(),
        );
        self.shared().runtime.spawn(Box::pin(listener));
        Ok(())
    }
}

/// Turns signals into shutdown: a signal starts a graceful shutdown, or
/// forces the one under way (whatever started it); once forced, signals
/// are only logged. Ends when the governor is dropped.
async fn listen_for_signals(mut signals: SignalStream, governor: Weak<Shared>, dropped: StopToken) {
    while let Ok(Some(signal)) = dropped.until_stop(signals.next()).await {
        let Some(shared) = governor.upgrade() else {
            return;
        };
        if shared.force.stopping() {
            tracing::warn!(target: crate::targets::SIGNAL, %signal, "signal received; the shutdown is already forced");
        } else if !shared.token.stopping() {
            tracing::info!(target: crate::targets::SIGNAL, %signal, "signal received: shutting down");
            if !shared.request_shutdown(ShutdownCause::Signal(signal)) {
                shared.force(ShutdownCause::Signal(signal)); // lost a race with another request
            }
        } else {
            tracing::warn!(target: crate::targets::SIGNAL, %signal, "signal received during shutdown: forcing it");
            shared.force(ShutdownCause::Signal(signal));
        }
    }
}
