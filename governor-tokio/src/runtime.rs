//! [`TokioRuntime`]: governor's adapter contract implemented on a tokio
//! runtime [`Handle`].
//!
//! The adapter keeps a [`Handle`] and uses it for every call, so all of its
//! methods work from any thread: a runtime worker, a thread of tokio's
//! blocking pool, or a plain `std::thread` that tokio knows nothing about.
//! Its reusable timer ([`Runtime::timer`]) is a [`tokio::time::Sleep`]
//! bound to the runtime once and re-armed with `Sleep::reset`, which needs
//! no runtime context.
//!
//! The tokio runtime behind the handle must have its time driver enabled
//! (`enable_time`, or `enable_all`) for [`Runtime::sleep`], and its IO driver
//! enabled (`enable_io`, or `enable_all`) for [`Runtime::shutdown_signals`];
//! `#[tokio::main]` and `#[tokio::test]` enable both.

use core::fmt;
use core::time::Duration;

use core::pin::Pin;
use core::task::{Context, Poll};

use governor_core::runtime::{
    BoxSleep, BoxTask, BoxTimer, Runtime, Signal, SignalError, SignalStream, Timer,
};
use tokio::runtime::Handle;
use tokio::time::Instant;

/// A governor [`Runtime`] backed by a tokio runtime.
///
/// Cheap to clone: it holds a tokio [`Handle`] and the instant it was
/// created, which is the origin of [`Runtime::now`]. Time is read from
/// [`tokio::time::Instant`], so a paused test clock
/// (`#[tokio::test(start_paused = true)]`, `tokio::time::pause`) drives
/// [`Runtime::now`] and [`Runtime::sleep`] too.
///
/// # Example
///
/// ```
/// use governor_core::runtime::Runtime;
/// use governor_tokio::runtime::TokioRuntime;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let rt = TokioRuntime::current().expect("inside a tokio runtime");
///     rt.sleep(core::time::Duration::from_millis(1)).await;
/// }
/// ```
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: Handle,
    origin: Instant,
}

impl TokioRuntime {
    /// An adapter for the tokio runtime this thread is running in (or has
    /// entered with [`Handle::enter`]).
    ///
    /// # Errors
    ///
    /// [`NoRuntime`] when called outside a tokio runtime context. This never
    /// panics; use [`TokioRuntime::with_handle`] from threads that tokio does
    /// not know about.
    pub fn current() -> Result<Self, NoRuntime> {
        Handle::try_current()
            .map(Self::with_handle)
            .map_err(|_| NoRuntime { _private: () })
    }

    /// An adapter for the tokio runtime behind `handle`. Usable from any
    /// thread.
    pub fn with_handle(handle: Handle) -> Self {
        let origin = {
            let _entered = handle.enter();
            Instant::now()
        };
        TokioRuntime { handle, origin }
    }

    /// The tokio handle this adapter spawns on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxTask) {
        // Detached: the core tracks completion itself.
        drop(self.handle.spawn(task));
    }

    fn sleep(&self, duration: Duration) -> BoxSleep {
        // Timers bind to the runtime that is current when they are created.
        let _entered = self.handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    fn timer(&self) -> Option<BoxTimer> {
        // Created once per service context, inside the runtime so that it
        // binds to it; re-arming it later needs no runtime context.
        let _entered = self.handle.enter();
        Some(Box::pin(ReusedTimer {
            sleep: tokio::time::sleep_until(Instant::now()),
            handle: self.handle.clone(),
        }))
    }

    fn now(&self) -> Duration {
        now_on(&self.handle).saturating_duration_since(self.origin)
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        drop(self.handle.spawn_blocking(work));
    }

    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        self.signals(&Signal::SHUTDOWN)
    }

    /// tokio's handlers cannot be uninstalled; the stream holds a
    /// [`CaughtSignals`](governor_core::runtime::CaughtSignals) guard, so
    /// that once it is dropped (and no other stream catches them) the
    /// signals get their default action again.
    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        let _entered = self.handle.enter();
        signals::register(which)
    }
}

pin_project_lite::pin_project! {
    /// A [`tokio::time::Sleep`] as governor's reusable [`Timer`], re-armed
    /// with [`Sleep::reset`](tokio::time::Sleep::reset): no new timer entry,
    /// no runtime context needed, so no [`Handle::enter`] per sleep.
    ///
    /// `disarm` is the default no-op: a dropped sleep's entry stays in the
    /// timer wheel until the next reset moves it (tokio has no cheaper way
    /// to take it out than the reset itself), so at most one stale wake-up.
    struct ReusedTimer {
        #[pin]
        sleep: tokio::time::Sleep,
        handle: Handle,
    }
}

/// Now on the clock of the runtime behind `handle`. [`Instant::now`] reads
/// the clock of the runtime current on this thread (it differs from the
/// system clock only when paused, with tokio's `test-util`), so off that
/// runtime the handle is entered first; on it (a service's supervisor, the
/// common case) entering would cost a handle clone and two thread-local
/// swaps for nothing.
fn now_on(handle: &Handle) -> Instant {
    match Handle::try_current() {
        Ok(current) if current.id() == handle.id() => Instant::now(),
        _ => {
            let _entered = handle.enter();
            Instant::now()
        }
    }
}

impl Timer for ReusedTimer {
    fn reset(self: Pin<&mut Self>, duration: Duration) {
        let now = now_on(&self.handle);
        // As `tokio::time::sleep` does: past the end of time is ~30 years.
        let deadline = now
            .checked_add(duration)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
        self.project().sleep.reset(deadline);
    }

    fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        use core::future::Future;
        self.project().sleep.poll(cx)
    }
}

/// The error of [`TokioRuntime::current`]: this thread is not inside a tokio
/// runtime context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoRuntime {
    _private: (),
}

impl fmt::Display for NoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no tokio runtime is running on this thread; \
             call from within a runtime or use TokioRuntime::with_handle",
        )
    }
}

impl std::error::Error for NoRuntime {}

/// Turns a panic raised while registering (tokio panics when the runtime's
/// IO driver is disabled) into a [`SignalError::Register`].
fn catch_register<T>(register: impl FnOnce() -> Result<T, SignalError>) -> Result<T, SignalError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(register)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "tokio panicked while registering a signal handler".to_owned());
        Err(SignalError::Register(why))
    })
}

#[cfg(unix)]
mod signals {
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use futures_core::Stream;
    use governor_core::runtime::{CaughtSignals, Signal, SignalError, SignalStream};
    use tokio::signal::unix::{self, SignalKind};

    /// tokio's kind for `signal`.
    fn kind(signal: Signal) -> Result<SignalKind, SignalError> {
        Ok(match signal {
            Signal::Interrupt => SignalKind::interrupt(),
            Signal::Terminate => SignalKind::terminate(),
            Signal::Hangup => SignalKind::hangup(),
            Signal::Quit => SignalKind::quit(),
            Signal::User1 => SignalKind::user_defined1(),
            Signal::User2 => SignalKind::user_defined2(),
            _ => return Err(SignalError::Unsupported),
        })
    }

    /// The signals in `which` merged into one stream, which gives them
    /// their default action back once dropped. The caller has entered the
    /// runtime.
    pub(super) fn register(which: &[Signal]) -> Result<SignalStream, SignalError> {
        super::catch_register(|| {
            // First: its handler must run before tokio's in the same
            // delivery (see `CaughtSignals`).
            let caught = CaughtSignals::new(which)?;
            let mut listeners = Vec::with_capacity(which.len());
            for &signal in which {
                let listener = unix::signal(kind(signal)?)
                    .map_err(|err| SignalError::Register(format!("{}: {err}", signal.name())))?;
                listeners.push(Some((listener, signal)));
            }
            tracing::debug!(signals = ?which, "listening for signals");
            let stream: SignalStream = Box::pin(Merged {
                listeners,
                next: 0,
                _caught: caught,
            });
            Ok(stream)
        })
    }

    /// Polls every listener, starting after the one that yielded last, so a
    /// flood of one signal cannot hide another.
    struct Merged {
        listeners: Vec<Option<(unix::Signal, Signal)>>,
        next: usize,
        /// Dropped with the stream: the signals' default action is back.
        _caught: CaughtSignals,
    }

    impl Stream for Merged {
        type Item = Signal;

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
            let this = self.get_mut();
            let count = this.listeners.len();
            let mut open = 0;
            for offset in 0..count {
                let index = (this.next + offset) % count;
                let Some((listener, signal)) = &mut this.listeners[index] else {
                    continue;
                };
                match listener.poll_recv(cx) {
                    Poll::Ready(Some(())) => {
                        let signal = *signal;
                        this.next = (index + 1) % count;
                        tracing::debug!(signal = %signal, "caught signal");
                        return Poll::Ready(Some(signal));
                    }
                    // The runtime's signal driver is gone: this one is over.
                    Poll::Ready(None) => this.listeners[index] = None,
                    Poll::Pending => open += 1,
                }
            }
            if open == 0 {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        }
    }
}

#[cfg(windows)]
mod signals {
    use governor_core::runtime::{Signal, SignalError, SignalStream};

    /// Ctrl-C, as [`Signal::Interrupt`], once per delivery (the only
    /// signal there is). The caller has entered the runtime.
    pub(super) fn register(which: &[Signal]) -> Result<SignalStream, SignalError> {
        if which
            .iter()
            .any(|&s| s != Signal::Interrupt && !s.is_shutdown_signal())
        {
            return Err(SignalError::Unsupported);
        }
        super::catch_register(|| {
            let listener = tokio::signal::windows::ctrl_c()
                .map_err(|err| SignalError::Register(format!("Ctrl-C: {err}")))?;
            tracing::debug!("listening for Ctrl-C");
            let stream: SignalStream = Box::pin(futures_util::stream::unfold(
                listener,
                |mut listener| async move {
                    listener.recv().await?;
                    tracing::debug!(signal = %Signal::Interrupt, "caught shutdown signal");
                    Some((Signal::Interrupt, listener))
                },
            ));
            Ok(stream)
        })
    }
}

#[cfg(not(any(unix, windows)))]
mod signals {
    use governor_core::runtime::{Signal, SignalError, SignalStream};

    /// No signals on this platform.
    pub(super) fn register(_which: &[Signal]) -> Result<SignalStream, SignalError> {
        Err(SignalError::Unsupported)
    }
}

// What only tokio has: `TokioRuntime::current`, its paused test clock
// (exact timing) and a runtime built without its IO driver. The checks
// every adapter keeps (spawn, sleep, timer, `now`, blocking work, calls
// from plain threads, signals) are the conformance crate's `Runtime`
// contract suite (`tests/src/runtime_contract.rs`), run on both tokio
// schedulers.
#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[test]
    fn current_outside_a_runtime_is_an_error() {
        let err = TokioRuntime::current().expect_err("no runtime on a test thread");
        assert!(err.to_string().contains("no tokio runtime"));
    }

    #[tokio::test]
    async fn current_inside_a_runtime_works() {
        let rt = TokioRuntime::current().expect("inside #[tokio::test]");
        assert!(rt.now() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn sleep_completes_after_the_duration() {
        let rt = TokioRuntime::current().unwrap();
        let start = Instant::now();
        let mut sleep = rt.sleep(Duration::from_secs(3));
        assert!((&mut sleep).now_or_never().is_none());

        tokio::time::advance(Duration::from_millis(2_990)).await;
        assert!(
            (&mut sleep).now_or_never().is_none(),
            "sleep finished early"
        );

        sleep.await;
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(3), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(3_010), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_sleep_completes() {
        let rt = TokioRuntime::current().unwrap();
        let before = rt.now();
        rt.sleep(Duration::ZERO).await;
        assert!(rt.now() - before < Duration::from_millis(2));
    }

    #[tokio::test(start_paused = true)]
    async fn now_follows_the_paused_clock() {
        let rt = TokioRuntime::current().unwrap();
        let t0 = rt.now();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(rt.now() - t0, Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(rt.now() - t0, Duration::from_secs(65));
    }

    #[tokio::test(start_paused = true)]
    async fn timer_counts_from_each_reset_and_fires_again() {
        let rt = TokioRuntime::current().unwrap();
        let mut timer = rt.timer().expect("tokio has a reusable timer");
        let elapsed = |timer: &mut BoxTimer| {
            core::future::poll_fn(|cx| timer.as_mut().poll_elapsed(cx)).now_or_never()
        };
        timer.as_mut().reset(Duration::from_secs(3));
        // The deadline was fixed by the reset, not by the first poll.
        tokio::time::advance(Duration::from_millis(2_990)).await;
        assert!(elapsed(&mut timer).is_none(), "fired early");
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(elapsed(&mut timer).is_some(), "fired on time");

        // Re-armed while elapsed, then re-armed while pending.
        timer.as_mut().reset(Duration::from_secs(1));
        assert!(elapsed(&mut timer).is_none());
        timer.as_mut().reset(Duration::from_secs(5));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            elapsed(&mut timer).is_none(),
            "the earlier deadline was replaced"
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(elapsed(&mut timer).is_some());

        timer.as_mut().reset(Duration::ZERO);
        core::future::poll_fn(|cx| timer.as_mut().poll_elapsed(cx)).await;
        // Past the end of time: never fires, never panics.
        timer.as_mut().reset(Duration::MAX);
        tokio::time::advance(Duration::from_secs(86_400)).await;
        assert!(elapsed(&mut timer).is_none());
    }

    #[test]
    fn signals_without_io_driver_are_an_error() {
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let rt = TokioRuntime::with_handle(tokio_rt.handle().clone());
        match rt.shutdown_signals() {
            Err(SignalError::Register(why)) => assert!(why.contains("IO is disabled"), "{why}"),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("registered signals without an IO driver"),
        }
    }
}
