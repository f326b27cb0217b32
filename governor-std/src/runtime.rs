//! [`AsyncStdRuntime`]: governor's adapter contract implemented on
//! async-std.
//!
//! | the core asks for | async-std answers with |
//! |---|---|
//! | spawn a task | [`async_std::task::spawn`]; the [`JoinHandle`](async_std::task::JoinHandle) is dropped, which in async-std *detaches* the task (it keeps running) |
//! | sleep | async-io's `Timer` (what [`async_std::task::sleep`] is made of), to a deadline fixed when the sleep is created; the reusable timer is one such `Timer`, re-armed with `set_after` |
//! | now | [`std::time::Instant`], since the adapter was created |
//! | blocking work | [`async_std::task::spawn_blocking`], detached the same way |
//! | shutdown signals | `async-signal` (SIGINT, SIGTERM, SIGHUP, SIGQUIT on unix, Ctrl-C on Windows), through governor-smol's reader: async-io's reactor is async-std's own |
//!
//! async-std 1.13 runs its tasks on `async-global-executor` and its timers
//! and IO on async-io's reactor; the signal pipe is read through that same
//! reactor. Everything here works from any thread, inside or outside a
//! task.
//!
//! A service's panic never reaches the executor: the core catches it and
//! records it as the run's outcome. (Were a task to panic anyway, the
//! executor keeps the panic in the detached task and drops it; the other
//! tasks keep running.)

use core::fmt;
use core::time::Duration;
use std::time::Instant;

use governor_core::runtime::{
    BoxSleep, BoxTask, BoxTimer, Runtime, Signal, SignalError, SignalStream,
};

/// A governor [`Runtime`] backed by async-std's global runtime.
///
/// Cheap to clone; it holds only the instant it was created, the origin of
/// [`Runtime::now`]. async-std starts its executor threads on first use
/// (`ASYNC_STD_THREAD_COUNT`, by default one per CPU).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use governor_core::runtime::Runtime;
/// use governor_std::AsyncStdRuntime;
///
/// let rt = AsyncStdRuntime::new();
/// let (tx, rx) = async_std::channel::bounded(1);
/// let sleeper = rt.clone();
/// rt.spawn(Box::pin(async move {
///     sleeper.sleep(Duration::from_millis(1)).await;
///     tx.send("slept").await.unwrap();
/// }));
/// assert_eq!(async_std::task::block_on(rx.recv()), Ok("slept"));
/// ```
#[derive(Clone)]
pub struct AsyncStdRuntime {
    origin: Instant,
}

impl AsyncStdRuntime {
    /// An adapter for async-std's global runtime.
    pub fn new() -> Self {
        AsyncStdRuntime {
            origin: Instant::now(),
        }
    }
}

impl Default for AsyncStdRuntime {
    fn default() -> Self {
        AsyncStdRuntime::new()
    }
}

impl fmt::Debug for AsyncStdRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncStdRuntime")
            .field("origin", &self.origin)
            .finish()
    }
}

impl Runtime for AsyncStdRuntime {
    fn spawn(&self, task: BoxTask) {
        // Dropping an async-std `JoinHandle` detaches the task (it does not
        // cancel it, unlike a smol `Task`). The core tracks completion.
        drop(async_std::task::spawn(task));
    }

    fn sleep(&self, duration: Duration) -> BoxSleep {
        // async-std's timers are async-io's (`task::sleep` is an
        // `async_io::Timer` under two `async fn`s and a `timeout`); the
        // timer itself is the cheaper sleep, and it fixes the deadline
        // now, as the contract (and the other adapters) do.
        governor_smol::runtime::timers::sleep(duration)
    }

    fn timer(&self) -> Option<BoxTimer> {
        Some(governor_smol::runtime::timers::timer())
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn spawn_blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) {
        // Detached, like `spawn`.
        drop(async_std::task::spawn_blocking(work));
    }

    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        // async-signal, read through async-io's reactor, which is
        // async-std's own (async-std 1.13 is built on async-io): no second
        // runtime is involved. The reader lives in governor-smol.
        governor_smol::runtime::signals::register()
    }

    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        governor_smol::runtime::signals::register_these(which)
    }
}

// Every check of this adapter is one every adapter keeps (spawn, sleep,
// timer, `now`, blocking work, calls from plain threads, signals): they are
// the conformance crate's `Runtime` contract suite
// (`tests/src/runtime_contract.rs`, run by `tests/tests/async_std_contract.rs`).
