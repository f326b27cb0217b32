//! The adapter contract: the few things the core needs from an async runtime.
//!
//! The core owns every policy (restart, ordering, shutdown, outcomes); a
//! runtime adapter only answers "spawn this", "sleep this long", "what time
//! is it", "run this blocking work" and "tell me about shutdown signals";
//! optionally also "give me a timer I can re-arm" ([`Runtime::timer`]), which
//! spares [`ServiceCtx::sleep`](crate::ServiceCtx::sleep) an allocation per
//! sleep.
//! The core tracks completion itself, so an adapter needs no join handles
//! and never has to report a task's result.

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use futures_core::Stream;

#[cfg(feature = "std")]
pub use crate::caught::CaughtSignals;

/// A boxed, `Send` future with no output: the unit of work the core spawns.
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A boxed, `Send` sleep future returned by [`Runtime::sleep`].
pub type BoxSleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A boxed, reusable [`Timer`] returned by [`Runtime::timer`].
pub type BoxTimer = Pin<Box<dyn Timer>>;

/// A timer that can be re-armed, so that one allocation serves many
/// sleeps: what [`Runtime::timer`] returns.
///
/// [`ServiceCtx::sleep`](crate::ServiceCtx::sleep) keeps one per context
/// and re-arms it for every sleep instead of boxing a new
/// [`Runtime::sleep`] each time. The timer behaves like a sleep whose
/// deadline [`reset`](Timer::reset) moves: it never fires before a reset
/// and fires once per reset. Like [`Runtime`]'s methods, each of its
/// methods may be called from any thread, inside or outside the runtime.
pub trait Timer: Send {
    /// Arms the timer to fire once `duration` has elapsed on the runtime's
    /// clock, counted from this call (the deadline is fixed here, not at
    /// the next poll). Replaces any earlier deadline, elapsed or not.
    /// `Duration::ZERO` must fire promptly; a duration past the end of
    /// time must never fire, not panic.
    fn reset(self: Pin<&mut Self>, duration: Duration);

    /// `Ready` once the deadline of the last [`reset`](Timer::reset) has
    /// passed; otherwise registers `cx`'s waker (replacing the one of an
    /// earlier poll) and returns `Pending`.
    fn poll_elapsed(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;

    /// The sleep that armed the timer was dropped before the deadline:
    /// the timer may let go of its registration with the runtime now. It
    /// is not polled again before its next reset. The default does
    /// nothing, which leaves at most one stale wake-up of the last waker.
    fn disarm(self: Pin<&mut Self>) {}
}

/// A boxed stream of shutdown signals returned by [`Runtime::shutdown_signals`].
pub type SignalStream = Pin<Box<dyn Stream<Item = Signal> + Send + 'static>>;

/// What an async runtime must provide for a [`Governor`](crate::Governor).
///
/// Implementations are thin: no restart, ordering or shutdown policy belongs
/// here. All methods may be called from any thread, inside or outside the
/// runtime's own worker threads, so an implementation must not rely on a
/// thread-local "current runtime" at call time (capture a handle instead).
///
/// # Example
///
/// A runtime that can only spawn and sleep on a user-supplied executor
/// looks like this (the adapters `governor-tokio` etc. are real ones):
///
/// ```
/// use core::time::Duration;
/// use governor_core::runtime::{BoxSleep, BoxTask, Runtime};
///
/// struct Inline;
///
/// impl Runtime for Inline {
///     fn spawn(&self, task: BoxTask) {
///         // A real adapter hands `task` to its executor.
///         drop(task);
///     }
///     fn sleep(&self, _duration: Duration) -> BoxSleep {
///         Box::pin(core::future::pending())
///     }
///     fn now(&self) -> Duration {
///         Duration::ZERO
///     }
///     // `timer` is left to its default (`None`): every `ServiceCtx::sleep`
///     // then boxes a `sleep`. A runtime whose timers can be re-armed
///     // returns one (see `Timer`) and saves that allocation.
/// }
/// ```
pub trait Runtime: Send + Sync + 'static {
    /// Runs `task` to completion in the background, detached.
    ///
    /// The runtime must poll the task until it completes or the runtime
    /// itself shuts down; it must not drop it early (dropping a task is how
    /// the core aborts a service, so a runtime that drops tasks loses them).
    fn spawn(&self, task: BoxTask);

    /// A future that completes once `duration` has elapsed on this
    /// runtime's clock. `Duration::ZERO` must complete promptly.
    fn sleep(&self, duration: Duration) -> BoxSleep;

    /// A new reusable [`Timer`] on this runtime's clock, not armed, or
    /// `None` (the default) when this runtime has none.
    ///
    /// [`ServiceCtx::sleep`](crate::ServiceCtx::sleep) asks for one the
    /// first time a context sleeps and re-arms it for each later sleep, so
    /// a service that sleeps in a loop pays for one allocation instead of
    /// one per [`Runtime::sleep`]. Without a timer every sleep uses
    /// [`Runtime::sleep`].
    fn timer(&self) -> Option<BoxTimer> {
        None
    }

    /// Monotonic time since an arbitrary, fixed origin of this runtime.
    fn now(&self) -> Duration;

    /// Runs blocking `work` on a thread where blocking is allowed (the
    /// runtime's blocking pool). The default starts a new OS thread.
    #[cfg(feature = "std")]
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        std::thread::spawn(work);
    }

    /// Runs `future` to completion on the calling thread, blocking it:
    /// how the waits of [blocking services](crate::BlockingService) block
    /// ([`ServiceCtx::sleep_blocking`](crate::ServiceCtx::sleep_blocking)).
    /// The default is `futures_executor::block_on`, right for every
    /// runtime whose clock is the real one.
    ///
    /// A runtime with a clock of its own overrides it to know when a
    /// blocking thread waits on that clock: a virtual-time runtime must not
    /// move its clock while a blocking thread is still working, and need
    /// not wait for one that only waits for the clock (`governor-test`
    /// does this).
    #[cfg(feature = "std")]
    fn block_on(&self, future: Pin<&mut dyn Future<Output = ()>>) {
        futures_executor::block_on(future)
    }

    /// Starts listening for the operating system's shutdown signals
    /// (SIGINT, SIGTERM, SIGHUP and SIGQUIT on unix; Ctrl-C elsewhere) and
    /// returns them as a stream, one item per delivery.
    ///
    /// The default reports [`SignalError::Unsupported`].
    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        Err(SignalError::Unsupported)
    }

    /// Starts listening for the signals in `which` and returns them as a
    /// stream, one item per delivery: what a governor that
    /// [catches signals](crate::Governor::catch_signals) calls, with the
    /// four shutdown signals and any other it was
    /// [configured](crate::Governor::on_signal) to catch
    /// ([`Signal::User1`], [`Signal::User2`]).
    ///
    /// Once the stream is dropped, every signal it caught must get the
    /// operating system's default action again (SIGTERM ends the process),
    /// as if it had never been caught, unless something else in the
    /// process still catches it: a governor drops its stream when it has
    /// finished or is dropped.
    ///
    /// The default serves the four shutdown signals through
    /// [`shutdown_signals`](Runtime::shutdown_signals) and reports
    /// [`SignalError::Unsupported`] for any other.
    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        if which.iter().any(|s| !s.is_shutdown_signal()) {
            return Err(SignalError::Unsupported);
        }
        self.shutdown_signals()
    }
}

impl<R: Runtime + ?Sized> Runtime for alloc::sync::Arc<R> {
    fn spawn(&self, task: BoxTask) {
        (**self).spawn(task)
    }
    fn sleep(&self, duration: Duration) -> BoxSleep {
        (**self).sleep(duration)
    }
    fn timer(&self) -> Option<BoxTimer> {
        (**self).timer()
    }
    fn now(&self) -> Duration {
        (**self).now()
    }
    #[cfg(feature = "std")]
    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        (**self).spawn_blocking(work)
    }
    #[cfg(feature = "std")]
    fn block_on(&self, future: Pin<&mut dyn Future<Output = ()>>) {
        // Spelled out: `R` may have an inherent `block_on` of its own.
        Runtime::block_on(&**self, future)
    }
    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        (**self).shutdown_signals()
    }
    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        (**self).signals(which)
    }
}

/// A signal delivered by the operating system: one of the four a governor
/// that [catches signals](crate::Governor::catch_signals) always catches,
/// or one it catches only when [configured](crate::Governor::on_signal)
/// to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT (Ctrl-C in a terminal), or Ctrl-C on non-unix systems.
    Interrupt,
    /// SIGTERM: the polite "please stop" of service managers.
    Terminate,
    /// SIGHUP: the controlling terminal went away.
    Hangup,
    /// SIGQUIT.
    Quit,
    /// SIGUSR1: caught only when [configured](crate::Governor::on_signal).
    User1,
    /// SIGUSR2: caught only when [configured](crate::Governor::on_signal).
    User2,
}

impl Signal {
    /// The conventional name, e.g. `"SIGTERM"`.
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
        }
    }

    /// The four signals a governor that catches signals always catches
    /// (and [`Runtime::shutdown_signals`] delivers): SIGINT, SIGTERM,
    /// SIGHUP, SIGQUIT.
    pub const SHUTDOWN: [Signal; 4] = [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Hangup,
        Signal::Quit,
    ];

    /// Whether this is one of [`Signal::SHUTDOWN`].
    pub const fn is_shutdown_signal(self) -> bool {
        matches!(
            self,
            Signal::Interrupt | Signal::Terminate | Signal::Hangup | Signal::Quit
        )
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a runtime could not start listening for shutdown signals.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalError {
    /// This runtime or platform cannot deliver signals.
    Unsupported,
    /// Registering a handler failed; the text comes from the OS or runtime.
    Register(alloc::string::String),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::Unsupported => f.write_str("this runtime cannot catch signals"),
            SignalError::Register(why) => write!(f, "registering a signal handler failed: {why}"),
        }
    }
}

impl core::error::Error for SignalError {}
