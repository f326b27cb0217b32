//! [`SmolRuntime`]: governor's adapter contract implemented on smol.
//!
//! | the core asks for | smol answers with |
//! |---|---|
//! | spawn a task | [`smol::spawn`] (the global executor), or [`Executor::spawn`] on your executor; the [`Task`](smol::Task) is always [detached](smol::Task::detach), never dropped (dropping it would stop the service) |
//! | sleep | [`smol::Timer::after`] (async-io's timers); the reusable timer is a [`smol::Timer`] re-armed with [`set_after`](smol::Timer::set_after) |
//! | now | [`std::time::Instant`], since the adapter was created |
//! | blocking work | [`smol::unblock`] (the `blocking` crate's thread pool), detached |
//! | shutdown signals | [`async_signal::Signals`]: SIGINT, SIGTERM, SIGHUP, SIGQUIT on unix, Ctrl-C on Windows |
//!
//! Timers and the signal pipe are driven by async-io's reactor: by the
//! thread that is inside [`smol::block_on`] when it has nothing else to
//! do, otherwise by async-io's own background thread. So everything here
//! works from any thread, inside or outside an executor.
//!
//! A service's panic never reaches the executor: the core catches it and
//! records it as the run's outcome. (Were a task to panic anyway,
//! async-executor keeps the panic in the detached task and drops it; the
//! executor and its other tasks keep running.)

use core::fmt;
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use governor_core::runtime::{
    BoxSleep, BoxTask, BoxTimer, Runtime, Signal, SignalError, SignalStream,
};
use smol::Executor;

/// A governor [`Runtime`] backed by smol.
///
/// Cheap to clone. [`SmolRuntime::new`] spawns on smol's global executor
/// (the one behind [`smol::spawn`], run by `SMOL_THREADS` background
/// threads, 1 by default); [`SmolRuntime::with_executor`] spawns on an
/// [`Executor`] that you run yourself.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use governor_core::runtime::Runtime;
/// use governor_smol::SmolRuntime;
///
/// let rt = SmolRuntime::new();
/// let (tx, rx) = smol::channel::bounded(1);
/// let sleeper = rt.clone();
/// rt.spawn(Box::pin(async move {
///     sleeper.sleep(Duration::from_millis(1)).await;
///     tx.send("slept").await.unwrap();
/// }));
/// assert_eq!(smol::block_on(rx.recv()), Ok("slept"));
/// ```
#[derive(Clone)]
pub struct SmolRuntime {
    executor: Option<Arc<Executor<'static>>>,
    origin: Instant,
}

impl SmolRuntime {
    /// An adapter that spawns on smol's global executor ([`smol::spawn`]).
    ///
    /// The global executor runs on its own background threads, started on
    /// first use; the caller need not run anything.
    pub fn new() -> Self {
        SmolRuntime {
            executor: None,
            origin: Instant::now(),
        }
    }

    /// An adapter that spawns on `executor`.
    ///
    /// You run the executor yourself (`smol::block_on(ex.run(fut))`, on
    /// as many threads as you like): services make progress only while some
    /// thread runs it. Timers, blocking work and signals do not depend on
    /// it (see the [module docs](self)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use governor_smol::{ServiceCtx, SmolRuntime};
    ///
    /// let ex = Arc::new(smol::Executor::new());
    /// let gov = governor_smol::Governor::new(SmolRuntime::with_executor(ex.clone()));
    /// gov.add("idle", |ctx| async move {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// })?;
    /// gov.start()?;
    /// let report = smol::block_on(ex.run(gov.shutdown()));
    /// assert!(report.is_clean());
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        SmolRuntime {
            executor: Some(executor),
            origin: Instant::now(),
        }
    }

    /// The executor this adapter spawns on; `None` for smol's global one.
    pub fn executor(&self) -> Option<&Arc<Executor<'static>>> {
        self.executor.as_ref()
    }
}

impl Default for SmolRuntime {
    /// [`SmolRuntime::new`]: smol's global executor.
    fn default() -> Self {
        SmolRuntime::new()
    }
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolRuntime")
            .field(
                "executor",
                &match self.executor {
                    Some(_) => "explicit",
                    None => "global",
                },
            )
            .field("origin", &self.origin)
            .finish()
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, task: BoxTask) {
        // A dropped `Task` cancels its future: detach, always. The core
        // tracks completion itself.
        match &self.executor {
            Some(executor) => executor.spawn(task).detach(),
            None => smol::spawn(task).detach(),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxSleep {
        timers::sleep(duration)
    }

    fn timer(&self) -> Option<BoxTimer> {
        Some(timers::timer())
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        // Detached like `spawn`: a dropped `unblock` task that has not
        // started yet would never run.
        smol::unblock(work).detach();
    }

    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        signals::register()
    }

    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        signals::register_these(which)
    }
}

/// Sleeps and reusable timers from async-io's [`Timer`](smol::Timer), for
/// any runtime built on async-io: smol, and async-std, whose timers are
/// async-io's too (governor-std uses this module rather than a copy of it).
pub mod timers {
    use core::future::Future;
    use core::pin::Pin;
    use core::task::{Context, Poll};
    use core::time::Duration;

    use governor_core::runtime::{BoxSleep, BoxTimer, Timer};
    use smol::Timer as IoTimer;

    /// A sleep of `duration` from now: the timer itself, boxed once, with
    /// its `Instant` output dropped (no `async` block around it). A
    /// duration past the end of time never fires rather than panicking.
    pub fn sleep(duration: Duration) -> BoxSleep {
        Box::pin(TimerSleep(IoTimer::after(duration)))
    }

    /// A reusable timer, not armed: re-armed with `set_after`, disarmed by
    /// becoming `Timer::never()` (which drops the old registration, as
    /// dropping a sleep would).
    pub fn timer() -> BoxTimer {
        Box::pin(ReusedTimer(IoTimer::never()))
    }

    struct TimerSleep(IoTimer);

    impl Future for TimerSleep {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.0).poll(cx).map(drop)
        }
    }

    struct ReusedTimer(IoTimer);

    impl Timer for ReusedTimer {
        fn reset(self: Pin<&mut Self>, duration: Duration) {
            // `set_after` saturates: past the end of time it never fires.
            self.get_mut().0.set_after(duration);
        }

        fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            Pin::new(&mut self.get_mut().0).poll(cx).map(drop)
        }

        fn disarm(self: Pin<&mut Self>) {
            self.get_mut().0 = IoTimer::never();
        }
    }
}

/// Shutdown signals from `async-signal`, for any runtime built on
/// async-io.
///
/// `async-signal` installs its handlers with `signal-hook-registry` and
/// reads the signals from a pipe through async-io's reactor: the reactor
/// smol's `block_on` drives (or async-io's background thread), not any
/// executor. The stream therefore works on smol's global executor, on an
/// explicit one, and on async-std, whose reactor is async-io's too
/// (governor-std uses this module rather than a copy of it).
#[cfg(any(unix, windows))]
pub mod signals {
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use async_signal::{Signal as OsSignal, Signals};
    use futures_core::Stream;
    use governor_core::runtime::{CaughtSignals, Signal, SignalError, SignalStream};

    /// Starts listening for SIGINT, SIGTERM, SIGHUP and SIGQUIT (Ctrl-C on
    /// Windows): the handlers are installed when this returns, so a signal
    /// sent afterwards is never lost.
    pub fn register() -> Result<SignalStream, SignalError> {
        register_these(&Signal::SHUTDOWN)
    }

    /// Starts listening for the signals in `which` (on Windows, Ctrl-C
    /// only: the shutdown signals there are all Ctrl-C, any other is
    /// [`SignalError::Unsupported`]). Dropping the stream gives them their
    /// default action back (async-signal's handlers stay installed; the
    /// stream holds a [`CaughtSignals`] guard for that).
    pub fn register_these(which: &[Signal]) -> Result<SignalStream, SignalError> {
        let mut os = Vec::with_capacity(which.len());
        for &signal in which {
            let mapped = from_core(signal).ok_or(SignalError::Unsupported)?;
            if !os.contains(&mapped) {
                os.push(mapped);
            }
        }
        // First: its handler must run before async-signal's in the same
        // delivery (see `CaughtSignals`).
        let caught = CaughtSignals::new(which)?;
        let signals = Signals::new(os.iter().copied())
            .map_err(|err| SignalError::Register(err.to_string()))?;
        tracing::debug!(signals = ?os, "listening for signals");
        Ok(Box::pin(Shutdown(signals, caught)))
    }

    /// async-signal's signal for `signal`, if this platform has it.
    fn from_core(signal: Signal) -> Option<OsSignal> {
        #[cfg(unix)]
        return match signal {
            Signal::Interrupt => Some(OsSignal::Int),
            Signal::Terminate => Some(OsSignal::Term),
            Signal::Hangup => Some(OsSignal::Hup),
            Signal::Quit => Some(OsSignal::Quit),
            Signal::User1 => Some(OsSignal::Usr1),
            Signal::User2 => Some(OsSignal::Usr2),
            _ => None,
        };
        #[cfg(windows)]
        return signal.is_shutdown_signal().then_some(OsSignal::Int);
    }

    /// The core's [`Signal`] for one that is caught.
    fn to_core(signal: OsSignal) -> Option<Signal> {
        match signal {
            OsSignal::Int => Some(Signal::Interrupt),
            OsSignal::Term => Some(Signal::Terminate),
            OsSignal::Hup => Some(Signal::Hangup),
            OsSignal::Quit => Some(Signal::Quit),
            #[cfg(unix)]
            OsSignal::Usr1 => Some(Signal::User1),
            #[cfg(unix)]
            OsSignal::Usr2 => Some(Signal::User2),
            _ => None,
        }
    }

    /// [`Signals`] as the core's [`SignalStream`]; dropping it lets the
    /// signals' default action back (through its [`CaughtSignals`]).
    struct Shutdown(Signals, #[allow(dead_code)] CaughtSignals);

    impl Stream for Shutdown {
        type Item = Signal;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
            loop {
                match Pin::new(&mut self.0).poll_next(cx) {
                    Poll::Ready(Some(Ok(signal))) => {
                        if let Some(signal) = to_core(signal) {
                            tracing::debug!(signal = %signal, "caught signal");
                            return Poll::Ready(Some(signal));
                        }
                    }
                    Poll::Ready(Some(Err(err))) => {
                        // The pipe failed: no signal can arrive any more.
                        tracing::error!(error = %err, "reading shutdown signals failed");
                        return Poll::Ready(None);
                    }
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_caught_signal_maps() {
            for signal in Signal::SHUTDOWN {
                let os = from_core(signal).expect("a shutdown signal is caught");
                #[cfg(unix)]
                assert_eq!(to_core(os), Some(signal));
                #[cfg(windows)]
                assert_eq!(to_core(os), Some(Signal::Interrupt));
            }
            #[cfg(unix)]
            assert_eq!(to_core(OsSignal::Usr1), Some(Signal::User1));
            assert_eq!(to_core(OsSignal::Alarm), None);
        }
    }
}

/// Shutdown signals: none on this platform.
#[cfg(not(any(unix, windows)))]
pub mod signals {
    use governor_core::runtime::{Signal, SignalError, SignalStream};

    /// No signals on this platform.
    pub fn register() -> Result<SignalStream, SignalError> {
        Err(SignalError::Unsupported)
    }

    /// No signals on this platform.
    pub fn register_these(_which: &[Signal]) -> Result<SignalStream, SignalError> {
        Err(SignalError::Unsupported)
    }
}

// What only smol has: the explicit executor (its accessor, and that its
// tasks run on the thread that runs it), the shared origin of clones and
// the Debug output. The checks every adapter keeps (spawn, sleep, timer,
// `now`, blocking work, calls from plain threads, signals) are the
// conformance crate's `Runtime` contract suite
// (`tests/src/runtime_contract.rs`), run on the global executor and on an
// explicit one.
#[cfg(test)]
mod tests {
    use std::thread;

    use smol::future::FutureExt as _;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// Fails the test instead of hanging it.
    fn bounded<T>(fut: impl core::future::Future<Output = T>) -> T {
        smol::block_on(fut.or(async {
            smol::Timer::after(WAIT).await;
            panic!("timed out after {WAIT:?}");
        }))
    }

    #[test]
    fn spawn_runs_the_task_on_an_explicit_executor() {
        let ex = Arc::new(Executor::new());
        let rt = SmolRuntime::with_executor(ex.clone());
        assert!(rt.executor().is_some_and(|e| Arc::ptr_eq(e, &ex)));
        let (tx, rx) = smol::channel::bounded(1);
        rt.spawn(Box::pin(async move {
            tx.send(thread::current().id()).await.unwrap();
        }));
        // Nothing runs the executor but this thread, inside `run`.
        let ran_on = bounded(ex.run(rx.recv())).unwrap();
        assert_eq!(ran_on, thread::current().id());
    }

    #[test]
    fn clones_share_the_origin() {
        let rt = SmolRuntime::new();
        assert_eq!(rt.clone().origin, rt.origin, "clones share the origin");
    }

    #[test]
    fn debug_names_the_executor() {
        assert!(format!("{:?}", SmolRuntime::new()).contains("global"));
        let ex = Arc::new(Executor::new());
        assert!(format!("{:?}", SmolRuntime::with_executor(ex)).contains("explicit"));
    }
}
