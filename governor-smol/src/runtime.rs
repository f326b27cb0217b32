//! [`SmolRuntime`]: governor's adapter contract implemented on smol.
//!
//! | the core asks for | smol answers with |
//! |---|---|
//! | spawn a task | [`smol::spawn`] (the global executor), or [`Executor::spawn`] on your executor; the [`Task`](smol::Task) is always [detached](smol::Task::detach), never dropped (dropping it would cancel the service) |
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

use governor_core::runtime::{BoxSleep, BoxTask, BoxTimer, Runtime, SignalError, SignalStream};
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
    /// gov.add("idle", |ctx: ServiceCtx| async move {
    ///     ctx.cancelled().await;
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
    use governor_core::runtime::{Signal, SignalError, SignalStream};

    #[cfg(unix)]
    const CAUGHT: [OsSignal; 4] = [OsSignal::Int, OsSignal::Term, OsSignal::Hup, OsSignal::Quit];
    /// Windows has Ctrl-C only (async-signal's `Int`).
    #[cfg(windows)]
    const CAUGHT: [OsSignal; 1] = [OsSignal::Int];

    /// Starts listening for SIGINT, SIGTERM, SIGHUP and SIGQUIT (Ctrl-C on
    /// Windows): the handlers are installed when this returns, so a signal
    /// sent afterwards is never lost.
    pub fn register() -> Result<SignalStream, SignalError> {
        let signals = Signals::new(CAUGHT).map_err(|err| SignalError::Register(err.to_string()))?;
        tracing::debug!(signals = ?CAUGHT, "listening for shutdown signals");
        Ok(Box::pin(Shutdown(signals)))
    }

    /// The core's [`Signal`] for one of [`CAUGHT`].
    fn to_core(signal: OsSignal) -> Option<Signal> {
        match signal {
            OsSignal::Int => Some(Signal::Interrupt),
            OsSignal::Term => Some(Signal::Terminate),
            OsSignal::Hup => Some(Signal::Hangup),
            OsSignal::Quit => Some(Signal::Quit),
            _ => None,
        }
    }

    /// [`Signals`] as the core's [`SignalStream`]; dropping it uninstalls
    /// the handlers.
    struct Shutdown(Signals);

    impl Stream for Shutdown {
        type Item = Signal;

        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Signal>> {
            loop {
                match Pin::new(&mut self.0).poll_next(cx) {
                    Poll::Ready(Some(Ok(signal))) => {
                        if let Some(signal) = to_core(signal) {
                            tracing::debug!(signal = %signal, "caught shutdown signal");
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
            for signal in CAUGHT {
                assert!(to_core(signal).is_some(), "{signal:?}");
            }
            assert_eq!(to_core(OsSignal::Usr1), None);
        }
    }
}

/// Shutdown signals: none on this platform.
#[cfg(not(any(unix, windows)))]
pub mod signals {
    use governor_core::runtime::{SignalError, SignalStream};

    /// No signals on this platform.
    pub fn register() -> Result<SignalStream, SignalError> {
        Err(SignalError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use governor_core::{Governor, Outcome, ServiceCtx, ServiceState};
    use smol::future::FutureExt as _;

    use core::task::Poll;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    /// Fails the test instead of hanging it.
    fn bounded<T>(fut: impl core::future::Future<Output = T>) -> T {
        smol::block_on(fut.or(async {
            smol::Timer::after(WAIT).await;
            panic!("timed out after {WAIT:?}");
        }))
    }

    /// An explicit executor run by one helper thread until the returned
    /// sender is dropped.
    fn explicit() -> (Arc<Executor<'static>>, smol::channel::Sender<()>) {
        let ex = Arc::new(Executor::new());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let runner = ex.clone();
        thread::spawn(move || smol::block_on(runner.run(stopped.recv())));
        (ex, stop)
    }

    #[test]
    fn spawn_runs_the_task_on_the_global_executor() {
        let rt = SmolRuntime::new();
        let (tx, rx) = smol::channel::bounded(1);
        rt.spawn(Box::pin(async move {
            tx.send(7).await.unwrap();
        }));
        assert_eq!(bounded(rx.recv()), Ok(7));
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
    fn a_spawned_task_is_not_cancelled_by_dropping_its_handle() {
        // The task first waits, so that it is still pending when `spawn`
        // has returned and its `Task` handle is gone.
        let rt = SmolRuntime::new();
        let (go_tx, go_rx) = smol::channel::bounded::<()>(1);
        let (tx, rx) = smol::channel::bounded(1);
        rt.spawn(Box::pin(async move {
            go_rx.recv().await.unwrap();
            tx.send("finished").await.unwrap();
        }));
        bounded(go_tx.send(())).unwrap();
        assert_eq!(bounded(rx.recv()), Ok("finished"));
    }

    #[test]
    fn a_panicking_task_leaves_the_explicit_executor_running() {
        let ex = Arc::new(Executor::new());
        let rt = SmolRuntime::with_executor(ex.clone());
        rt.spawn(Box::pin(async { panic!("task panics") }));
        let (tx, rx) = smol::channel::bounded(1);
        rt.spawn(Box::pin(async move {
            tx.send("still running").await.unwrap();
        }));
        // `run` polls both tasks on this thread; the panic stays inside the
        // detached task.
        assert_eq!(bounded(ex.run(rx.recv())), Ok("still running"));
    }

    #[test]
    fn a_panicking_task_leaves_the_global_executor_running() {
        let rt = SmolRuntime::new();
        rt.spawn(Box::pin(async { panic!("task panics") }));
        let (tx, rx) = smol::channel::bounded(1);
        rt.spawn(Box::pin(async move {
            tx.send("still running").await.unwrap();
        }));
        assert_eq!(bounded(rx.recv()), Ok("still running"));
    }

    /// On `rt`: a panicking service is recorded once, as panicked, and not
    /// restarted (no policy); the service beside it keeps running after
    /// the panic, until shutdown.
    fn panicking_service_is_reported_once(rt: SmolRuntime) {
        let gov = Governor::new(rt);
        // Closed once `boom` has panicked and its run and value are gone.
        let (alive, boom_gone) = smol::channel::bounded::<()>(1);
        let (ticks_tx, ticks) = smol::channel::unbounded::<u32>();
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
    fn panicking_service_on_the_global_executor() {
        panicking_service_is_reported_once(SmolRuntime::new());
    }

    #[test]
    fn panicking_service_on_an_explicit_executor() {
        let (ex, stop) = explicit();
        panicking_service_is_reported_once(SmolRuntime::with_executor(ex));
        drop(stop);
    }

    #[test]
    fn sleep_completes_after_the_duration() {
        let rt = SmolRuntime::new();
        let start = Instant::now();
        bounded(rt.sleep(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn zero_and_endless_sleeps() {
        let rt = SmolRuntime::new();
        bounded(rt.sleep(Duration::ZERO));
        // Past the end of time: never fires, never panics.
        let mut endless = rt.sleep(Duration::MAX);
        assert!(smol::future::block_on(smol::future::poll_once(&mut endless)).is_none());
    }

    #[test]
    fn timer_rearms_and_disarms() {
        let rt = SmolRuntime::new();
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
        let rt = SmolRuntime::new();
        let a = rt.now();
        bounded(smol::Timer::after(Duration::from_millis(5)));
        let b = rt.now();
        assert!(a < Duration::from_secs(1));
        assert!(b >= a + Duration::from_millis(5));
        assert_eq!(rt.clone().origin, rt.origin, "clones share the origin");
    }

    #[test]
    fn spawn_blocking_runs_on_another_thread() {
        let rt = SmolRuntime::new();
        let (tx, rx) = mpsc::channel();
        rt.spawn_blocking(Box::new(move || tx.send(thread::current().id()).unwrap()));
        let there = rx.recv_timeout(WAIT).expect("the blocking work ran");
        assert_ne!(there, thread::current().id());
    }

    #[test]
    fn works_behind_a_dyn_runtime_from_a_plain_thread() {
        let (ex, stop) = explicit();
        let rt: Arc<dyn Runtime> = Arc::new(SmolRuntime::with_executor(ex));
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
        drop(stop);
    }

    #[test]
    fn debug_names_the_executor() {
        assert!(format!("{:?}", SmolRuntime::new()).contains("global"));
        let ex = Arc::new(Executor::new());
        assert!(format!("{:?}", SmolRuntime::with_executor(ex)).contains("explicit"));
    }

    #[cfg(unix)]
    #[test]
    fn sighup_arrives_on_the_stream() {
        use governor_core::runtime::Signal;
        use smol::stream::StreamExt;

        let rt = SmolRuntime::new();
        // Register first, so the signal does not kill the test process.
        let mut signals = rt.shutdown_signals().expect("register signal handlers");
        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).expect("raise SIGHUP");
        assert_eq!(bounded(signals.next()), Some(Signal::Hangup));
    }
}
