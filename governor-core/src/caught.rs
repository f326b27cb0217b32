//! [`CaughtSignals`]: what an adapter's signal stream holds so that, once
//! every stream catching a signal is dropped, the signal gets the
//! operating system's default action again (SIGTERM ends the process).
//!
//! The runtimes' own signal handlers (tokio's, async-signal's, both on
//! `signal-hook-registry`) cannot be uninstalled: after their streams are
//! dropped the handler stays and swallows the signal. So, once per signal
//! and process, a second handler is registered beside them with
//! `signal_hook::flag::register_conditional_default`: it does nothing
//! while its flag is false, and runs the signal's default action (for
//! these signals: terminate, or terminate with a core for SIGQUIT) when it
//! is true.
//!
//! # Rules
//!
//! 1. Per signal, a count of live guards and the flag, under one process
//!    lock: the flag is false while the count is above zero, true once
//!    it falls back to zero (and before any guard, the conditional handler
//!    is not even installed: the disposition is the OS's own).
//! 2. The conditional handler is registered before the first guard for
//!    its signal is handed out, and never removed (the registry cannot
//!    restore the disposition it replaced): it is this flag that restores
//!    the default action.
//! 3. A guard is created *before* the runtime installs its own handler
//!    for the signal, so that (signal-hook-registry runs a signal's
//!    actions in the order they were registered) the conditional handler
//!    runs first in every delivery. The other order has a race: the
//!    runtime's action wakes the governor, which may finish and drop its
//!    guard on another thread before the conditional handler, still in
//!    the same delivery, reads the flag, and the very signal the governor
//!    handled would then end the process.
//! 4. On platforms other than unix a guard does nothing.

#[cfg(unix)]
use std::format;
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(unix)]
use std::sync::{Arc, Mutex};
#[cfg(unix)]
use std::vec::Vec;

use crate::runtime::{Signal, SignalError};

/// Holds `signals` as caught by the stream that owns it; once the last
/// guard for a signal in the process is dropped, that signal gets its
/// default action again. For adapters: create one just *before* the
/// runtime's own handlers are installed (so that its handler runs first
/// in each delivery), and keep it in the stream returned by
/// [`Runtime::signals`](crate::runtime::Runtime::signals).
///
/// ```
/// use governor_core::runtime::{CaughtSignals, Signal};
///
/// let caught = CaughtSignals::new(&[Signal::Terminate])?;
/// // ... the runtime's own handler for SIGTERM is installed and read ...
/// drop(caught); // SIGTERM ends the process again
/// # Ok::<(), governor_core::runtime::SignalError>(())
/// ```
#[derive(Debug)]
pub struct CaughtSignals {
    #[cfg(unix)]
    signals: Vec<Signal>,
}

#[cfg(unix)]
struct Entry {
    signal: Signal,
    guards: usize,
    /// True: the default action runs (see the module's rules).
    release: Arc<AtomicBool>,
}

#[cfg(unix)]
static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

#[cfg(unix)]
fn number(signal: Signal) -> i32 {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    match signal {
        Signal::Interrupt => SIGINT,
        Signal::Terminate => SIGTERM,
        Signal::Hangup => SIGHUP,
        Signal::Quit => SIGQUIT,
        Signal::User1 => SIGUSR1,
        Signal::User2 => SIGUSR2,
    }
}

impl CaughtSignals {
    /// Counts `signals` as caught until the guard is dropped.
    ///
    /// # Errors
    ///
    /// [`SignalError::Register`] if the conditional default handler could
    /// not be installed (then nothing is counted).
    pub fn new(signals: &[Signal]) -> Result<CaughtSignals, SignalError> {
        #[cfg(unix)]
        {
            let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
            for &signal in signals {
                if !entries.iter().any(|e| e.signal == signal) {
                    let release = Arc::new(AtomicBool::new(false));
                    signal_hook::flag::register_conditional_default(
                        number(signal),
                        release.clone(),
                    )
                    .map_err(|e| SignalError::Register(format!("{signal}: {e}")))?;
                    entries.push(Entry {
                        signal,
                        guards: 0,
                        release,
                    });
                }
            }
            for entry in entries.iter_mut() {
                if signals.contains(&entry.signal) {
                    entry.guards += 1;
                    entry.release.store(false, Ordering::SeqCst);
                }
            }
            Ok(CaughtSignals {
                signals: signals.to_vec(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = signals;
            Ok(CaughtSignals {})
        }
    }
}

impl Drop for CaughtSignals {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
            for entry in entries.iter_mut() {
                if self.signals.contains(&entry.signal) {
                    entry.guards -= 1;
                    if entry.guards == 0 {
                        entry.release.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
    }
}
