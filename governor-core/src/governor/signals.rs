//! Signal listening: with [`Governor::catch_signals`] (or
//! [`Governor::on_signal`]), the next start installs the configured
//! signals and spawns a listener that does, for each delivery, what the
//! signal's [`SignalAction`] says: by default (Go's behaviour) the first
//! shutdown signal starts a graceful shutdown and the next forces it.
//!
//! # Rules
//!
//! 1. The action is looked up under the governor's lock and cloned out;
//!    it is carried out (a user callback called, a reload delivered) with
//!    no lock held. A panicking callback is caught and logged (with `std`).
//! 2. The listener holds the governor weakly. It ends, dropping the
//!    runtime's signal stream (which gives the signals their default
//!    action back, see [`Runtime::signals`](crate::runtime::Runtime::signals)),
//!    when the governor is dropped or its shutdown is complete: after
//!    that, a signal is no longer the governor's business.

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt;

use core::future::poll_fn;
use core::pin::pin;
use core::task::Poll;

use futures_util::future::{select, Either};
use futures_util::StreamExt;

use super::{Governor, Shared};
use crate::error::Error;
use crate::report::ShutdownCause;
use crate::runtime::Signal;
use crate::token::StopToken;

/// What a caught signal does; set per signal with
/// [`Governor::on_signal`].
///
/// The defaults are Go's: SIGINT, SIGTERM, SIGHUP and SIGQUIT all
/// [`Shutdown`](SignalAction::Shutdown); SIGUSR1 and SIGUSR2 are not
/// caught unless given an action.
#[derive(Clone)]
#[non_exhaustive]
pub enum SignalAction {
    /// Start a graceful shutdown ([`ShutdownCause::Signal`]); during a
    /// shutdown (whatever started it), force it, as
    /// [`force_shutdown`](Governor::force_shutdown) does: the second
    /// Ctrl-C.
    Shutdown,
    /// [Reload](Governor::reload): every service awaiting
    /// [`ServiceCtx::reloaded`](crate::ServiceCtx::reloaded) is told, and
    /// every service configured with
    /// [`restart_on_reload`](crate::ServiceConfig::restart_on_reload) is
    /// restarted. Ignored (and logged) during a shutdown.
    Reload,
    /// Catch the signal and do nothing but log it (at DEBUG).
    Ignore,
    /// Call this function with the signal, on the governor's signal
    /// listener task, with no lock of the governor held (it may call back
    /// into the governor); a panic in it is caught and logged. It must not
    /// block: it runs on the runtime.
    Call(Arc<dyn Fn(Signal) + Send + Sync + 'static>),
}

impl SignalAction {
    /// [`SignalAction::Call`] with `f`.
    pub fn call(f: impl Fn(Signal) + Send + Sync + 'static) -> SignalAction {
        SignalAction::Call(Arc::new(f))
    }
}

impl fmt::Debug for SignalAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalAction::Shutdown => f.write_str("Shutdown"),
            SignalAction::Reload => f.write_str("Reload"),
            SignalAction::Ignore => f.write_str("Ignore"),
            SignalAction::Call(_) => f.write_str("Call(..)"),
        }
    }
}

/// The signals a governor catches and what each does: the four shutdown
/// signals, each [`SignalAction::Shutdown`] until configured otherwise.
pub(super) fn default_actions() -> Vec<(Signal, SignalAction)> {
    Signal::SHUTDOWN
        .iter()
        .map(|&signal| (signal, SignalAction::Shutdown))
        .collect()
}

impl Governor {
    /// Installs the signal listener if `catch_signals` asked for it and it
    /// is not installed yet (called by every start).
    pub(super) fn install_signals(&self) -> Result<(), Error> {
        let which: Vec<Signal> = {
            let mut state = self.shared().state.lock();
            if !state.catch_signals || state.signals_installed {
                return Ok(());
            }
            state.signals_installed = true;
            state.signal_actions.iter().map(|(s, _)| *s).collect()
        };
        let signals = match self.shared().runtime.signals(&which) {
            Ok(signals) => signals,
            Err(e) => {
                self.shared().state.lock().signals_installed = false;
                return Err(Error::Signals(e));
            }
        };
        *self.shared().signal_stream.lock() = Some(signals);
        let listener = listen_for_signals(
            Arc::downgrade(self.shared()),
            self.shared().dropped.token().clone(),
            self.shared().finished.token().clone(),
        );
        self.shared().runtime.spawn(Box::pin(listener));
        Ok(())
    }
}

/// Carries out each signal's action (see [`SignalAction`]); once a
/// shutdown is forced, shutdown signals are only logged. Ends when the
/// governor is dropped or its shutdown is complete (whoever sees that
/// first drops the stream: see `Shared::signal_stream`).
async fn listen_for_signals(governor: Weak<Shared>, dropped: StopToken, finished: StopToken) {
    loop {
        let over = select(dropped.wait_for_stop(), finished.wait_for_stop());
        let next = poll_fn(|cx| {
            let Some(shared) = governor.upgrade() else {
                return Poll::Ready(None);
            };
            let mut stream = shared.signal_stream.lock();
            let polled = match stream.as_mut() {
                Some(signals) => signals.poll_next_unpin(cx),
                None => Poll::Ready(None),
            };
            drop(stream);
            polled
        });
        let signal = match select(over, pin!(next)).await {
            Either::Right((Some(signal), _)) => signal,
            _ => break,
        };
        let Some(shared) = governor.upgrade() else {
            break;
        };
        let action = shared.signal_action(signal);
        match action {
            Some(SignalAction::Shutdown) | None => shutdown_signal(&shared, signal),
            Some(SignalAction::Reload) => {
                if !shared.reload(Some(signal)) {
                    tracing::info!(target: crate::targets::SIGNAL, %signal, "signal received during shutdown: no reload");
                }
            }
            Some(SignalAction::Ignore) => {
                tracing::debug!(target: crate::targets::SIGNAL, %signal, "signal received and ignored")
            }
            Some(SignalAction::Call(f)) => call_user(&*f, signal),
        }
    }
    // Dropping the stream gives the signals their default action back
    // (the adapter's promise): a signal from now on ends the process.
    if let Some(shared) = governor.upgrade() {
        shared.release_signals();
    }
}

/// A signal whose action is to shut down: a graceful shutdown, or the
/// forcing of the one under way.
fn shutdown_signal(shared: &Arc<Shared>, signal: Signal) {
    if shared.force.stopping() {
        tracing::warn!(target: crate::targets::SIGNAL, %signal, "signal received; the shutdown is already forced");
    } else if !shared.shutdown_requested() {
        tracing::info!(target: crate::targets::SIGNAL, %signal, "signal received: shutting down");
        if !shared.request_shutdown(ShutdownCause::Signal(signal)) {
            shared.force(ShutdownCause::Signal(signal)); // lost a race with another request
        }
    } else {
        tracing::warn!(target: crate::targets::SIGNAL, %signal, "signal received during shutdown: forcing it");
        shared.force(ShutdownCause::Signal(signal));
    }
}

/// Calls a user's signal callback, catching a panic (with `std`).
fn call_user(f: &(dyn Fn(Signal) + Send + Sync), signal: Signal) {
    #[cfg(feature = "std")]
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(signal))) {
        let outcome = crate::outcome::outcome_of_panic(payload);
        tracing::error!(target: crate::targets::SIGNAL, %signal, "signal callback {outcome}");
    }
    #[cfg(not(feature = "std"))]
    f(signal);
}
