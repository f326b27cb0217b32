//! The workloads behind the benchmarks (`benches/`) and the scale program
//! (`src/bin/scale.rs`), written once and run on every runtime, each next
//! to its baselines:
//!
//! - **ours**: a governor from the runtime's adapter;
//! - **raw**: the runtime alone — tasks spawned with its own `spawn`, each
//!   waiting on a child `tokio_util` [`CancellationToken`] (tokio) or an
//!   `event-listener` flag (smol, async-std), joined with its own join
//!   handles; for restarts, a plain loop inside one task spawned the same
//!   way and joined;
//! - **tgs**: `tokio-graceful-shutdown` (tokio only): one subsystem per
//!   service, each waiting for `on_shutdown_requested()`; restarts with
//!   its documented keep-alive pattern.
//! - **tsup**: `task-supervisor` (tokio only): one `SupervisedTask` per
//!   service registered on a `SupervisorBuilder`, each waiting for its
//!   cancellation token; `SupervisorHandle::shutdown()`; restarts by its
//!   own policy (a run that fails, zero base delay, unlimited restarts).
//! - **tvisor**: `taskvisor` (tokio only): one `TaskSpec::restartable` per
//!   service, run as a static batch with `Supervisor::run_until`, each
//!   waiting for `ctx.cancelled()`; restarts by its own policy (a run that
//!   fails, `BackoffPolicy::constant(0)`, no retry limit).
//!
//! Every variant signals "running" the same way (one shared [`Countdown`]),
//! so that "all N are running" is observed identically for all of them.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor_core::{Governor, StopService};
use tokio_util::sync::CancellationToken;

/// The runtimes measured, by name.
pub const RUNTIMES: [&str; 4] = [
    TokioMulti::NAME,
    TokioCurrent::NAME,
    Smol::NAME,
    AsyncStd::NAME,
];

/// What a benchmark needs from a runtime: its own `block_on`, `spawn`
/// (with join handles), `yield_now` and `sleep`, and a governor on it.
pub trait BenchRuntime: Sized {
    /// Name in tables and benchmark ids.
    const NAME: &'static str;
    /// The runtime's own join handle (its output is ignored).
    type Join: Future + Send + Unpin + 'static;
    /// How raw tasks are told to stop.
    type Stop: StopSignal;

    /// A fresh runtime.
    fn new() -> Self;
    /// Runs `fut` to completion on the calling thread.
    fn block_on<F: Future>(&self, fut: F) -> F::Output;
    /// Spawns `fut` with the runtime's own spawn.
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) -> Self::Join;
    /// A governor on this runtime, from its adapter.
    fn governor(&self) -> Governor;
    /// The runtime's own sleep.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;
    /// The runtime's own yield.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

/// The raw baseline's stop signal.
pub trait StopSignal: Send + Sync + 'static {
    /// What one task holds.
    type Waiter: Send + 'static;
    /// A signal, not raised.
    fn new() -> Self;
    /// A waiter for one task.
    fn waiter(&self) -> Self::Waiter;
    /// Completes once the signal is raised.
    fn wait(waiter: Self::Waiter) -> impl Future<Output = ()> + Send;
    /// Raises it.
    fn raise(&self);
}

/// tokio: a `CancellationToken`, one child per task.
pub struct TokenStop(CancellationToken);

impl StopSignal for TokenStop {
    type Waiter = CancellationToken;
    fn new() -> Self {
        TokenStop(CancellationToken::new())
    }
    fn waiter(&self) -> CancellationToken {
        self.0.child_token()
    }
    fn wait(waiter: CancellationToken) -> impl Future<Output = ()> + Send {
        waiter.cancelled_owned()
    }
    fn raise(&self) {
        self.0.cancel()
    }
}

/// smol and async-std: an `event-listener` flag shared by every task.
pub struct FlagStop(Arc<Flag>);

/// A flag and an `event_listener::Event` to wait for it.
#[derive(Default)]
pub struct Flag {
    set: AtomicBool,
    event: event_listener::Event,
}

impl Flag {
    /// Completes once the flag is set.
    pub async fn wait(&self) {
        loop {
            if self.set.load(Ordering::Acquire) {
                return;
            }
            let listener = self.event.listen();
            if self.set.load(Ordering::Acquire) {
                return;
            }
            listener.await;
        }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
    }
}

impl StopSignal for FlagStop {
    type Waiter = Arc<Flag>;
    fn new() -> Self {
        FlagStop(Arc::default())
    }
    fn waiter(&self) -> Arc<Flag> {
        self.0.clone()
    }
    async fn wait(waiter: Arc<Flag>) {
        waiter.wait().await
    }
    fn raise(&self) {
        self.0.set()
    }
}

/// Counts services that have begun running; [`wait`](Countdown::wait)
/// completes when all have.
pub struct Countdown {
    left: AtomicUsize,
    event: event_listener::Event,
}

impl Countdown {
    /// Waits for `n` arrivals.
    pub fn new(n: usize) -> Arc<Self> {
        Arc::new(Countdown {
            left: AtomicUsize::new(n),
            event: event_listener::Event::new(),
        })
    }

    /// One more is running.
    pub fn arrive(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.event.notify(usize::MAX);
        }
    }

    /// Completes once every one has arrived.
    pub async fn wait(&self) {
        loop {
            if self.left.load(Ordering::Acquire) == 0 {
                return;
            }
            let listener = self.event.listen();
            if self.left.load(Ordering::Acquire) == 0 {
                return;
            }
            listener.await;
        }
    }
}

/// Resident set size of this process, in bytes (`VmRSS` of
/// `/proc/self/status`; `None` where there is no such file).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One start/stop cycle of N services.
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    /// From the first add/spawn until all N are running.
    pub start: Duration,
    /// From the shutdown request until all N have stopped (and the
    /// variant's shutdown call has returned).
    pub stop: Duration,
    /// RSS once all N run, minus RSS before the first add/spawn.
    pub rss_delta: Option<i64>,
}

fn rss_delta(before: Option<u64>) -> Option<i64> {
    Some(rss_bytes()? as i64 - before? as i64)
}

/// How every cycle ends, whoever supervises: waits until all N run (the
/// start, timed from `t0`, ends there), reads the RSS delta, then times
/// `stop` (the variant's shutdown, which does nothing before its first
/// poll) and returns its output beside the cycle.
async fn measured<T>(
    running: &Countdown,
    rss: Option<u64>,
    t0: Instant,
    stop: impl Future<Output = T>,
) -> (Cycle, T) {
    running.wait().await;
    let start = t0.elapsed();
    let rss_delta = rss_delta(rss);
    let t1 = Instant::now();
    let output = stop.await;
    let cycle = Cycle {
        start,
        stop: t1.elapsed(),
        rss_delta,
    };
    (cycle, output)
}

/// A name per service (`s0`, `s1`, …), built inside the timed region by
/// the named variants: naming is part of adding a supervised service.
fn name(buf: &mut String, i: usize) -> Arc<str> {
    buf.clear();
    let _ = write!(buf, "s{i}");
    Arc::from(buf.as_str())
}

/// Makes sure the runtime's threads are up before anything is measured.
pub fn warm_up<R: BenchRuntime>(rt: &R) {
    rt.block_on(async {
        let handles: Vec<_> = (0..4).map(|_| rt.spawn(async {})).collect();
        for h in handles {
            h.await;
        }
        R::sleep(Duration::from_millis(1)).await;
    });
}

/// **ours**: add N idle services (each waits for its stop), start them,
/// wait until all run; then `shutdown().await`.
pub fn ours_cycle<R: BenchRuntime>(rt: &R, n: usize) -> Cycle {
    rt.block_on(async {
        let gov = rt.governor();
        let running = Countdown::new(n);
        let mut buf = String::new();
        let rss = rss_bytes();
        let t0 = Instant::now();
        for i in 0..n {
            let running = running.clone();
            gov.add(name(&mut buf, i), move |ctx| {
                running.arrive();
                async move {
                    ctx.wait_for_stop().await;
                    Ok(())
                }
            })
            .expect("add");
        }
        gov.start().expect("start");
        let (cycle, report) = measured(&running, rss, t0, async { gov.shutdown().await }).await;
        assert_eq!(report.services.len(), n);
        cycle
    })
}

/// **raw**: spawn N tasks that each wait for their stop signal; then
/// raise it and join every handle.
pub fn raw_cycle<R: BenchRuntime>(rt: &R, n: usize) -> Cycle {
    rt.block_on(async {
        let stop = R::Stop::new();
        let running = Countdown::new(n);
        let rss = rss_bytes();
        let t0 = Instant::now();
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let running = running.clone();
            let waiter = stop.waiter();
            handles.push(rt.spawn(async move {
                running.arrive();
                R::Stop::wait(waiter).await;
            }));
        }
        let stop_all = async {
            stop.raise();
            for handle in handles {
                handle.await;
            }
        };
        measured(&running, rss, t0, stop_all).await.0
    })
}

/// **tgs**: N subsystems under a `Toplevel`, each waiting for
/// `on_shutdown_requested()`; then the shutdown token is cancelled and
/// `handle_shutdown_requests` awaited.
pub fn tgs_cycle(rt: &impl TokioFlavour, n: usize) -> Cycle {
    use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
    rt.tokio().block_on(async {
        let token = CancellationToken::new();
        let running = Countdown::new(n);
        let rss = rss_bytes();
        let t0 = Instant::now();
        let starter = running.clone();
        let toplevel = Toplevel::new_with_shutdown_token(
            async move |s: &mut SubsystemHandle| {
                let mut buf = String::new();
                for i in 0..n {
                    let running = starter.clone();
                    let name = name(&mut buf, i);
                    s.start(SubsystemBuilder::new(
                        name.to_string(),
                        async move |h: &mut SubsystemHandle| {
                            running.arrive();
                            h.on_shutdown_requested().await;
                            Ok::<(), Infallible>(())
                        },
                    ));
                }
            },
            token.clone(),
        );
        let stop_all = async {
            token.cancel();
            toplevel
                .handle_shutdown_requests(Duration::from_secs(3600))
                .await
        };
        let (cycle, stopped) = measured(&running, rss, t0, stop_all).await;
        stopped.expect("a clean shutdown");
        cycle
    })
}

/// A name per service for the peers that take `&str` (`s0`, `s1`, …).
fn name_str(buf: &mut String, i: usize) -> &str {
    buf.clear();
    let _ = write!(buf, "s{i}");
    buf.as_str()
}

/// task-supervisor's idle service: counts down on its run, then waits for
/// its cancellation token.
#[derive(Clone)]
struct TsupIdle(Arc<Countdown>);

impl task_supervisor::SupervisedTask for TsupIdle {
    async fn run(self, cancel: task_supervisor::CancellationToken) -> task_supervisor::TaskResult {
        self.0.arrive();
        cancel.cancelled().await;
        Ok(())
    }
}

/// **tsup**: N tasks registered with `SupervisorBuilder::with_task` (its
/// defaults otherwise), `spawn()`ed; then `SupervisorHandle::shutdown()`
/// awaited (it cancels every run and joins them all).
pub fn tsup_cycle(rt: &impl TokioFlavour, n: usize) -> Cycle {
    rt.tokio().block_on(async {
        let running = Countdown::new(n);
        let mut buf = String::new();
        let rss = rss_bytes();
        let t0 = Instant::now();
        let mut builder = task_supervisor::SupervisorBuilder::new();
        for i in 0..n {
            builder = builder.with_task(name_str(&mut buf, i), TsupIdle(running.clone()));
        }
        let handle = builder.spawn();
        let (cycle, stopped) = measured(&running, rss, t0, async { handle.shutdown().await }).await;
        stopped.expect("a clean shutdown");
        cycle
    })
}

/// taskvisor's supervisor with the registry and ownership limits (1024 by
/// default) lifted, so that it admits N services.
fn tvisor_supervisor() -> Arc<taskvisor::Supervisor> {
    let config = taskvisor::SupervisorConfig::new()
        .with_max_registered_tasks(None)
        .with_ownership_capacity(None);
    taskvisor::Supervisor::new(config, Vec::new())
}

/// **tvisor**: N `TaskSpec::restartable` services (one `TaskFn` each, which
/// counts down and waits for `ctx.cancelled()`), run as a static batch by
/// `Supervisor::run_until(specs, stop)` in a spawned task; stop completes
/// the `stop` future and awaits that task (`run_until` returns after its
/// graceful shutdown).
pub fn tvisor_cycle(rt: &impl TokioFlavour, n: usize) -> Cycle {
    use taskvisor::{TaskError, TaskFn, TaskSpec};
    let tokio = rt.tokio();
    tokio.block_on(async {
        let supervisor = tvisor_supervisor();
        let running = Countdown::new(n);
        let (stop_tx, stop_rx) = futures_channel::oneshot::channel::<()>();
        let mut buf = String::new();
        let rss = rss_bytes();
        let t0 = Instant::now();
        let specs: Vec<TaskSpec> = (0..n)
            .map(|i| {
                let running = running.clone();
                let task = TaskFn::arc(move |ctx| {
                    let running = running.clone();
                    async move {
                        running.arrive();
                        ctx.cancelled().await;
                        Err(TaskError::Canceled)
                    }
                });
                TaskSpec::restartable(name(&mut buf, i), task)
            })
            .collect();
        let run = tokio.spawn(async move {
            supervisor
                .run_until(specs, async move {
                    let _ = stop_rx.await;
                })
                .await
        });
        let stop_all = async {
            stop_tx.send(()).expect("the supervisor runs");
            run.await
        };
        let (cycle, stopped) = measured(&running, rss, t0, stop_all).await;
        stopped
            .expect("the supervisor task")
            .expect("a clean shutdown");
        cycle
    })
}

/// **ours**: one service that returns at once, restarted with zero delay,
/// `m` runs in all (the last ends with `StopService`); the time until the
/// governor is idle.
pub fn ours_restarts<R: BenchRuntime>(rt: &R, m: u64) -> Duration {
    rt.block_on(async {
        let gov = rt.governor().restart(Duration::ZERO);
        let mut left = m;
        gov.add("restarter", move |_ctx| {
            left -= 1;
            let last = left == 0;
            async move {
                if last {
                    Err(StopService.into())
                } else {
                    Ok(())
                }
            }
        })
        .expect("add");
        let t0 = Instant::now();
        gov.start().expect("start");
        let report = gov.wait_for_shutdown().await;
        let elapsed = t0.elapsed();
        assert_eq!(report.services[0].runs, m);
        elapsed
    })
}

/// **raw**: the restart baseline (issue 17): the loop runs inside a task
/// spawned with the runtime's own `spawn`, as a supervised service does,
/// and is awaited through that task's join handle; it calls the same kind
/// of closure `m` times, yielding once after each call. The clock covers
/// the spawn, the loop and the join.
pub fn raw_restarts<R: BenchRuntime>(rt: &R, m: u64) -> Duration {
    rt.block_on(async {
        let t0 = Instant::now();
        rt.spawn(async move {
            let mut left = m;
            let mut service = move || {
                left -= 1;
                let last = left == 0;
                async move { std::hint::black_box(last) }
            };
            for _ in 0..m {
                service().await;
                R::yield_now().await;
            }
        })
        .await;
        t0.elapsed()
    })
}

/// **tgs**: its keep-alive pattern: a subsystem that starts a nested
/// subsystem (returning at once) and joins it, `m` times.
pub fn tgs_restarts(rt: &impl TokioFlavour, m: u64) -> Duration {
    use tokio_graceful_shutdown::{SubsystemBuilder, SubsystemHandle, Toplevel};
    rt.tokio().block_on(async {
        let t0 = Instant::now();
        Toplevel::new(async move |s: &mut SubsystemHandle| {
            s.start(SubsystemBuilder::new(
                "keepalive",
                async move |s: &mut SubsystemHandle| {
                    for _ in 0..m {
                        let nested = s.start(SubsystemBuilder::new(
                            "restarter",
                            async |_: &mut SubsystemHandle| Ok::<(), Infallible>(()),
                        ));
                        let _ = nested.join().await;
                        if s.is_shutdown_requested() {
                            break;
                        }
                    }
                    s.request_shutdown();
                    Ok::<(), Infallible>(())
                },
            ));
        })
        .handle_shutdown_requests(Duration::from_secs(3600))
        .await
        .expect("a clean shutdown");
        t0.elapsed()
    })
}

/// task-supervisor's restarting service: fails at once (its restart
/// trigger) until the last run, which succeeds and reports.
#[derive(Clone)]
struct TsupRestarter {
    left: Arc<std::sync::atomic::AtomicU64>,
    done: Arc<Countdown>,
}

impl task_supervisor::SupervisedTask for TsupRestarter {
    async fn run(self, _cancel: task_supervisor::CancellationToken) -> task_supervisor::TaskResult {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.arrive();
            Ok(())
        } else {
            Err("restart".into())
        }
    }
}

/// **tsup**: its own restart policy at its fastest: a task whose run fails
/// at once, `with_base_restart_delay(0)`, no jitter, unlimited restarts;
/// `m` runs in all (the last succeeds, which task-supervisor does not
/// restart); the clock stops when `shutdown()` has returned.
pub fn tsup_restarts(rt: &impl TokioFlavour, m: u64) -> Duration {
    rt.tokio().block_on(async {
        let done = Countdown::new(1);
        let task = TsupRestarter {
            left: Arc::new(std::sync::atomic::AtomicU64::new(m)),
            done: done.clone(),
        };
        let t0 = Instant::now();
        let handle = task_supervisor::SupervisorBuilder::new()
            .with_unlimited_restarts()
            .with_base_restart_delay(Duration::ZERO)
            .with_restart_jitter(0.0)
            .with_task("restarter", task)
            .spawn();
        done.wait().await;
        handle.shutdown().await.expect("a clean shutdown");
        t0.elapsed()
    })
}

/// **tvisor**: its own restart policy at its fastest: a
/// `TaskSpec::restartable` whose run fails at once (`TaskError::fail`),
/// `BackoffPolicy::constant(0)` (which skips taskvisor's 1 ms floor: the
/// actor yields once), no retry limit (its default); `m` runs in all (the
/// last succeeds, which ends it); the clock stops when `Supervisor::run`
/// returns, the registry being empty.
pub fn tvisor_restarts(rt: &impl TokioFlavour, m: u64) -> Duration {
    use taskvisor::{BackoffPolicy, TaskError, TaskFn, TaskSpec};
    rt.tokio().block_on(async {
        let supervisor = tvisor_supervisor();
        let left = Arc::new(std::sync::atomic::AtomicU64::new(m));
        let task = TaskFn::arc(move |_ctx| {
            let last = left.fetch_sub(1, Ordering::AcqRel) == 1;
            async move {
                if last {
                    Ok(())
                } else {
                    Err(TaskError::fail("restart"))
                }
            }
        });
        let spec = TaskSpec::restartable("restarter", task)
            .with_backoff(BackoffPolicy::constant(Duration::ZERO));
        let t0 = Instant::now();
        supervisor.run(vec![spec]).await.expect("a clean run");
        t0.elapsed()
    })
}

/// **ours**: `ctx.sleep(d)` inside a service, `m` times; the time measured
/// inside the service.
pub fn ours_sleeps<R: BenchRuntime>(rt: &R, m: u64, d: Duration) -> Duration {
    rt.block_on(async {
        let gov = rt.governor();
        let (tx, rx) = futures_channel::oneshot::channel();
        let mut tx = Some(tx);
        gov.add("sleeper", move |ctx| {
            let tx = tx.take();
            async move {
                let t0 = Instant::now();
                for _ in 0..m {
                    ctx.sleep(d).await?;
                }
                let _ = tx.expect("one run").send(t0.elapsed());
                Ok(())
            }
        })
        .expect("add");
        gov.start().expect("start");
        let elapsed = rx.await.expect("the sleeper reports");
        gov.shutdown().await;
        elapsed
    })
}

/// **raw**: the runtime's own sleep, `m` times, in a spawned task.
pub fn raw_sleeps<R: BenchRuntime>(rt: &R, m: u64, d: Duration) -> Duration {
    rt.block_on(async {
        let (tx, rx) = futures_channel::oneshot::channel();
        rt.spawn(async move {
            let t0 = Instant::now();
            for _ in 0..m {
                R::sleep(d).await;
            }
            let _ = tx.send(t0.elapsed());
        })
        .await;
        rx.await.expect("the sleeper reports")
    })
}

/// Polls `fut` once, with the calling task's waker, and drops it.
async fn poll_once<F: Future>(fut: F) {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let _ = fut.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

/// **ours**: `ctx.sleep(1 h)` created, polled once (the timer and the stop
/// token register) and dropped, `m` times inside a service.
pub fn ours_sleep_registrations<R: BenchRuntime>(rt: &R, m: u64) -> Duration {
    rt.block_on(async {
        let gov = rt.governor();
        let (tx, rx) = futures_channel::oneshot::channel();
        let mut tx = Some(tx);
        gov.add("sleeper", move |ctx| {
            let tx = tx.take();
            async move {
                let t0 = Instant::now();
                for _ in 0..m {
                    poll_once(ctx.sleep(HOUR)).await;
                }
                let _ = tx.expect("one run").send(t0.elapsed());
                Ok(())
            }
        })
        .expect("add");
        gov.start().expect("start");
        let elapsed = rx.await.expect("the sleeper reports");
        gov.shutdown().await;
        elapsed
    })
}

/// **raw**: the runtime's own 1 h sleep created, polled once and dropped,
/// `m` times in a spawned task.
pub fn raw_sleep_registrations<R: BenchRuntime>(rt: &R, m: u64) -> Duration {
    rt.block_on(async {
        let (tx, rx) = futures_channel::oneshot::channel();
        rt.spawn(async move {
            let t0 = Instant::now();
            for _ in 0..m {
                poll_once(R::sleep(HOUR)).await;
            }
            let _ = tx.send(t0.elapsed());
        })
        .await;
        rx.await.expect("the sleeper reports")
    })
}

const HOUR: Duration = Duration::from_secs(3600);

/// A tokio runtime of either flavour (for the tokio-only baseline).
pub trait TokioFlavour {
    /// The tokio runtime.
    fn tokio(&self) -> &tokio::runtime::Runtime;
}

/// tokio's join handle, output ignored.
pub struct TokioJoin(tokio::task::JoinHandle<()>);

impl Future for TokioJoin {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("task panicked"))
    }
}

macro_rules! tokio_runtime {
    ($ty:ident, $name:literal, $builder:expr) => {
        /// A tokio runtime of this flavour.
        pub struct $ty(tokio::runtime::Runtime);

        impl TokioFlavour for $ty {
            fn tokio(&self) -> &tokio::runtime::Runtime {
                &self.0
            }
        }

        impl BenchRuntime for $ty {
            const NAME: &'static str = $name;
            type Join = TokioJoin;
            type Stop = TokenStop;

            fn new() -> Self {
                $ty($builder.enable_all().build().expect("a tokio runtime"))
            }
            fn block_on<F: Future>(&self, fut: F) -> F::Output {
                self.0.block_on(fut)
            }
            fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) -> TokioJoin {
                TokioJoin(self.0.spawn(fut))
            }
            fn governor(&self) -> Governor {
                Governor::new(governor_tokio::TokioRuntime::with_handle(
                    self.0.handle().clone(),
                ))
            }
            fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
                tokio::time::sleep(duration)
            }
            fn yield_now() -> impl Future<Output = ()> + Send {
                tokio::task::yield_now()
            }
        }
    };
}

tokio_runtime!(
    TokioMulti,
    "tokio-mt",
    tokio::runtime::Builder::new_multi_thread().worker_threads(2)
);
tokio_runtime!(
    TokioCurrent,
    "tokio-ct",
    tokio::runtime::Builder::new_current_thread()
);

/// smol's global executor (`smol::spawn`; `SMOL_THREADS` threads, 1 by
/// default), driven from `smol::block_on`.
pub struct Smol;

/// smol's task, detached never: awaited.
pub struct SmolJoin(smol::Task<()>);

impl Future for SmolJoin {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl BenchRuntime for Smol {
    const NAME: &'static str = "smol";
    type Join = SmolJoin;
    type Stop = FlagStop;

    fn new() -> Self {
        Smol
    }
    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        smol::block_on(fut)
    }
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) -> SmolJoin {
        SmolJoin(smol::spawn(fut))
    }
    fn governor(&self) -> Governor {
        Governor::new(governor_smol::SmolRuntime::new())
    }
    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        smol::future::yield_now()
    }
}

/// async-std's global runtime, driven from `async_std::task::block_on`.
pub struct AsyncStd;

impl BenchRuntime for AsyncStd {
    const NAME: &'static str = "async-std";
    type Join = async_std::task::JoinHandle<()>;
    type Stop = FlagStop;

    fn new() -> Self {
        AsyncStd
    }
    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        async_std::task::block_on(fut)
    }
    fn spawn<F: Future<Output = ()> + Send + 'static>(
        &self,
        fut: F,
    ) -> async_std::task::JoinHandle<()> {
        async_std::task::spawn(fut)
    }
    fn governor(&self) -> Governor {
        Governor::new(governor_std::AsyncStdRuntime::new())
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(duration)
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        async_std::task::yield_now()
    }
}
