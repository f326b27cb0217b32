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

use governor_core::runtime::{BoxSleep, BoxTask, BoxTimer, Runtime, SignalError, SignalStream};

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
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::thread;

    use async_std::channel;
    use governor_core::{Governor, Outcome, ServiceCtx, ServiceState};

    use core::task::Poll;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// Fails the test instead of hanging it.
    fn bounded<T>(fut: impl core::future::Future<Output = T>) -> T {
        async_std::task::block_on(async_std::future::timeout(WAIT, fut))
            .unwrap_or_else(|_| panic!("timed out after {WAIT:?}"))
    }

    #[test]
    fn spawn_runs_the_task() {
        let rt = AsyncStdRuntime::new();
        let (tx, rx) = channel::bounded(1);
        rt.spawn(Box::pin(async move {
            tx.send(7).await.unwrap();
        }));
        assert_eq!(bounded(rx.recv()), Ok(7));
    }

    #[test]
    fn a_spawned_task_is_not_cancelled_by_dropping_its_handle() {
        // The task first waits, so that it is still pending when `spawn`
        // has returned and its `JoinHandle` is gone.
        let rt = AsyncStdRuntime::new();
        let (go_tx, go_rx) = channel::bounded::<()>(1);
        let (tx, rx) = channel::bounded(1);
        rt.spawn(Box::pin(async move {
            go_rx.recv().await.unwrap();
            tx.send("finished").await.unwrap();
        }));
        bounded(go_tx.send(())).unwrap();
        assert_eq!(bounded(rx.recv()), Ok("finished"));
    }

    #[test]
    fn a_panicking_task_leaves_the_executor_running() {
        let rt = AsyncStdRuntime::new();
        rt.spawn(Box::pin(async { panic!("task panics") }));
        let (tx, rx) = channel::bounded(1);
        rt.spawn(Box::pin(async move {
            tx.send("still running").await.unwrap();
        }));
        assert_eq!(bounded(rx.recv()), Ok("still running"));
    }

    #[test]
    fn a_panicking_service_is_reported_once_and_others_run_on() {
        let gov = Governor::new(AsyncStdRuntime::new());
        // Closed once `boom` has panicked and its run and value are gone.
        let (alive, boom_gone) = channel::bounded::<()>(1);
        let (ticks_tx, ticks) = channel::unbounded::<u32>();
        gov.add("steady", move |ctx: ServiceCtx| {
            let boom_gone = boom_gone.clone();
            let ticks_tx = ticks_tx.clone();
            async move {
                assert!(boom_gone.recv().await.is_err(), "nobody sends");
                let mut n = 0;
                while !ctx.stopping() {
                    n += 1;
                    let _ = ticks_tx.send(n).await;
                    ctx.sleep(Duration::from_millis(1)).await?;
                }
                Ok(())
            }
        })
        .unwrap();
        gov.add("boom", move |_ctx: ServiceCtx| {
            let alive = alive.clone();
            async move {
                let _alive = alive;
                panic!("boom {}", 7)
            }
        })
        .unwrap();
        gov.start().unwrap();

        // `steady` runs on, after the panic, on the same executor.
        bounded(async { while ticks.recv().await.unwrap() < 3 {} });

        let report = bounded(gov.shutdown());
        let boom = report.service("boom").unwrap();
        assert_eq!((boom.runs, boom.restarts), (1, 0), "one run, reported once");
        assert_eq!(boom.state, ServiceState::Stopped);
        assert_eq!(boom.last_outcome, Some(Outcome::Panicked("boom 7".into())));
        let steady = report.service("steady").unwrap();
        assert_eq!(steady.state, ServiceState::Stopped);
        assert_eq!(steady.last_outcome, Some(Outcome::Completed));
        assert!(!report.is_clean());
    }

    #[test]
    fn sleep_completes_after_the_duration() {
        let rt = AsyncStdRuntime::new();
        let start = Instant::now();
        bounded(rt.sleep(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn sleep_counts_from_its_creation_not_its_first_poll() {
        let rt = AsyncStdRuntime::new();
        let mut sleep = rt.sleep(Duration::from_millis(30));
        // Let the deadline pass before the sleep is first polled...
        bounded(async_std::task::sleep(Duration::from_millis(30)));
        // ...then it is due at its very first poll.
        let first_poll = bounded(async_std::future::poll_fn(|cx| {
            core::task::Poll::Ready(sleep.as_mut().poll(cx).is_ready())
        }));
        assert!(first_poll, "the sleep started counting at its first poll");
    }

    #[test]
    fn zero_and_endless_sleeps() {
        let rt = AsyncStdRuntime::new();
        bounded(rt.sleep(Duration::ZERO));
        let endless = rt.sleep(Duration::MAX);
        let waited = async_std::task::block_on(async_std::future::timeout(
            Duration::from_millis(10),
            endless,
        ));
        assert!(waited.is_err(), "an endless sleep never ends");
    }

    #[test]
    fn timer_rearms_and_disarms() {
        let rt = AsyncStdRuntime::new();
        let mut timer = rt.timer().expect("a reusable timer");
        let start = Instant::now();
        timer.as_mut().reset(Duration::from_millis(30));
        bounded(core::future::poll_fn(|cx| timer.as_mut().poll_elapsed(cx)));
        assert!(start.elapsed() >= Duration::from_millis(30));

        // Armed and polled, then disarmed (a dropped sleep) and re-armed.
        timer.as_mut().reset(Duration::from_secs(3600));
        let poll_once = |timer: &mut BoxTimer| {
            bounded(core::future::poll_fn(|cx| {
                Poll::Ready(timer.as_mut().poll_elapsed(cx).is_ready())
            }))
        };
        assert!(!poll_once(&mut timer));
        timer.as_mut().disarm();
        timer.as_mut().reset(Duration::ZERO);
        bounded(core::future::poll_fn(|cx| timer.as_mut().poll_elapsed(cx)));

        // Past the end of time: never fires, never panics.
        timer.as_mut().reset(Duration::MAX);
        assert!(!poll_once(&mut timer));
    }

    #[test]
    fn now_is_monotonic_and_starts_near_zero() {
        let rt = AsyncStdRuntime::new();
        let a = rt.now();
        bounded(async_std::task::sleep(Duration::from_millis(5)));
        let b = rt.now();
        assert!(a < Duration::from_secs(1));
        assert!(b >= a + Duration::from_millis(5));
    }

    #[test]
    fn spawn_blocking_runs_on_another_thread() {
        let rt = AsyncStdRuntime::new();
        let (tx, rx) = mpsc::channel();
        rt.spawn_blocking(Box::new(move || tx.send(thread::current().id()).unwrap()));
        let there = rx.recv_timeout(WAIT).expect("the blocking work ran");
        assert_ne!(there, thread::current().id());
    }

    #[test]
    fn works_behind_a_dyn_runtime_from_a_plain_thread() {
        let rt: Arc<dyn Runtime> = Arc::new(AsyncStdRuntime::new());
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let sleeper = rt.clone();
            rt.spawn(Box::pin(async move {
                sleeper.sleep(Duration::from_millis(1)).await;
                tx.send(()).unwrap();
            }));
        })
        .join()
        .unwrap();
        rx.recv_timeout(WAIT).expect("the task ran");
    }

    #[cfg(unix)]
    #[test]
    fn sighup_arrives_on_the_stream() {
        use async_std::stream::StreamExt;
        use governor_core::runtime::Signal;

        let rt = AsyncStdRuntime::new();
        // Register first, so the signal does not kill the test process.
        let mut signals = rt.shutdown_signals().expect("register signal handlers");
        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).expect("raise SIGHUP");
        assert_eq!(bounded(signals.next()), Some(Signal::Hangup));
    }
}
