//! The runtimes the suite runs against, each as a [`Harness`].
//!
//! | harness | runtime |
//! |---|---|
//! | [`Virtual`] | [`VirtualRuntime`]: one thread, virtual clock, exact timing |
//! | [`TokioCurrentThread`] | tokio, current-thread scheduler |
//! | [`TokioMultiThread`] | tokio, multi-thread scheduler with 2 workers |
//! | [`SmolGlobal`] | smol's global executor (`smol::spawn`, its own `SMOL_THREADS` threads, 1 by default); the case runs in `smol::block_on` on the test thread |
//! | [`SmolExecutor`] | an explicit `async_executor::Executor`, run by the test thread (`smol::block_on(ex.run(case))`) and one helper thread |
//! | [`AsyncStd`] | async-std's global runtime (one worker per CPU); the case runs in `async_std::task::block_on` on the test thread |
//!
//! Real runtimes bound every case by [`CASE_TIMEOUT`] so that a hang fails
//! the case instead of stalling CI, and [raise](Harness::raise) signals by
//! sending them to this process for real. Every case runs on every
//! runtime: none is skipped on any of them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use governor_core::runtime::{Runtime, Signal};
use governor_core::Governor;
#[cfg(feature = "std")]
use governor_smol::SmolRuntime;
#[cfg(feature = "std")]
use governor_std::AsyncStdRuntime;
#[cfg(feature = "std")]
use governor_tokio::runtime::TokioRuntime;
#[cfg(feature = "std")]
use smol::future::FutureExt as _;

use crate::harness::Harness;
use crate::support::{hung_case, KeepWaits};
use governor_test::{Limits, VirtualRuntime};

/// How long a case may take on a real runtime before it fails as hung;
/// also the real-time limit of a case on the virtual runtime.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// How much virtual time a case may take before it fails as hung (no case
/// needs more than a few virtual minutes).
pub const CASE_VIRTUAL_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The deterministic virtual-time runtime.
pub struct Virtual {
    runtime: VirtualRuntime,
    limits: Limits,
}

impl Virtual {
    /// A fresh virtual runtime at time zero; a case fails once it would
    /// take more than [`CASE_VIRTUAL_TIMEOUT`] of virtual time or (except
    /// under miri) [`CASE_TIMEOUT`] of real time, or on a deadlock.
    pub fn new() -> Self {
        Virtual::with_limits(Limits {
            virtual_time: CASE_VIRTUAL_TIMEOUT,
            real_time: (!cfg!(miri)).then_some(CASE_TIMEOUT),
        })
    }

    /// A fresh virtual runtime whose cases fail past `limits`; seeded
    /// (ready tasks polled in a seeded order) when `GOVERNOR_TEST_SEED` is
    /// set, so that the suite can be run under many schedules.
    ///
    /// # Panics
    ///
    /// When `GOVERNOR_TEST_SEED` is set to something else than a number.
    pub fn with_limits(limits: Limits) -> Self {
        let runtime = VirtualRuntime::from_env().unwrap_or_else(|error| panic!("{error}"));
        Virtual { runtime, limits }
    }
}

impl Default for Virtual {
    fn default() -> Self {
        Virtual::new()
    }
}

impl Harness for Virtual {
    const NAME: &'static str = "virtual";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(self.runtime.clone())
    }

    /// A governor watched by the runtime, so that a deadlocked case names
    /// the services still waiting.
    fn governor(&self) -> Governor {
        self.runtime.governor()
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        let finished = self
            .runtime
            .try_block_on_within(KeepWaits::new(case), self.limits);
        // Leftover tasks (a case that leaves something running) are dropped
        // here rather than leaked with the runtime.
        self.runtime.shutdown();
        if let Err(stuck) = finished {
            panic!("{}", hung_case(Self::NAME, &stuck.to_string()));
        }
    }

    fn exact_time(&self) -> bool {
        true
    }

    fn raise(&self, signal: Signal) {
        assert!(self.runtime.raise(signal) > 0, "nobody listens for signals");
    }

    fn listeners(&self, signal: Signal) -> Option<usize> {
        Some(self.runtime.listeners(signal))
    }
}

/// A tokio runtime, either flavour.
#[cfg(feature = "std")]
pub struct Tokio {
    runtime: tokio::runtime::Runtime,
    name: &'static str,
    /// One adapter for the case and its governors: one clock origin, so
    /// that times the case reads and those in reports compare.
    adapter: Arc<dyn Runtime>,
}

#[cfg(feature = "std")]
impl Tokio {
    fn new(runtime: tokio::runtime::Runtime, name: &'static str) -> Self {
        let adapter = Arc::new(TokioRuntime::with_handle(runtime.handle().clone()));
        Tokio {
            runtime,
            name,
            adapter,
        }
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        self.runtime.block_on(async {
            if tokio::time::timeout(CASE_TIMEOUT, KeepWaits::new(case))
                .await
                .is_err()
            {
                panic!("{}", hung_case(self.name, &within(CASE_TIMEOUT)));
            }
        });
    }

    fn adapter(&self) -> Arc<dyn Runtime> {
        self.adapter.clone()
    }
}

/// Why a real runtime gave up on a case.
#[cfg(feature = "std")]
fn within(limit: Duration) -> String {
    format!("did not finish within its real time limit of {limit:?}")
}

/// Sends `signal` to this very process, as a user's `kill` would (with
/// the `kill` utility, so that the suite needs no `unsafe` FFI).
#[cfg(feature = "std")]
fn raise_for_real(signal: Signal) {
    let name = signal.name().trim_start_matches("SIG");
    let sent = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(std::process::id().to_string())
        .status()
        .is_ok_and(|status| status.success());
    assert!(sent, "kill -{name} {} failed", std::process::id());
}

/// tokio's current-thread scheduler.
#[cfg(feature = "std")]
pub struct TokioCurrentThread(Tokio);

#[cfg(feature = "std")]
impl TokioCurrentThread {
    /// A fresh current-thread runtime with IO and time enabled.
    pub fn new() -> Self {
        TokioCurrentThread(Tokio::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            Self::NAME,
        ))
    }
}

#[cfg(feature = "std")]
impl Default for TokioCurrentThread {
    fn default() -> Self {
        TokioCurrentThread::new()
    }
}

#[cfg(feature = "std")]
impl Harness for TokioCurrentThread {
    const NAME: &'static str = "tokio-current-thread";

    fn runtime(&self) -> Arc<dyn Runtime> {
        self.0.adapter()
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        self.0.block_on(case)
    }

    fn exact_time(&self) -> bool {
        false
    }

    fn raise(&self, signal: Signal) {
        raise_for_real(signal)
    }
}

/// tokio's multi-thread scheduler, with two workers.
#[cfg(feature = "std")]
pub struct TokioMultiThread(Tokio);

#[cfg(feature = "std")]
impl TokioMultiThread {
    /// A fresh two-worker runtime with IO and time enabled.
    pub fn new() -> Self {
        TokioMultiThread(Tokio::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            Self::NAME,
        ))
    }
}

#[cfg(feature = "std")]
impl Default for TokioMultiThread {
    fn default() -> Self {
        TokioMultiThread::new()
    }
}

#[cfg(feature = "std")]
impl Harness for TokioMultiThread {
    const NAME: &'static str = "tokio-multi-thread";

    fn runtime(&self) -> Arc<dyn Runtime> {
        self.0.adapter()
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        self.0.block_on(case)
    }

    fn exact_time(&self) -> bool {
        false
    }

    fn raise(&self, signal: Signal) {
        raise_for_real(signal)
    }
}

/// Runs `case` on the calling thread with smol's `block_on` (which also
/// drives async-io's reactor while the case waits), failing it if it hangs.
#[cfg(feature = "std")]
fn smol_block_on<F: Future<Output = ()>>(name: &str, case: F) {
    smol::block_on(case.or(async {
        smol::Timer::after(CASE_TIMEOUT).await;
        panic!("{}", hung_case(name, &within(CASE_TIMEOUT)));
    }));
}

/// smol's global executor: services are spawned with `smol::spawn` and
/// run on its background threads (`SMOL_THREADS`, 1 by default); the case
/// itself runs on the test thread in `smol::block_on`.
#[cfg(feature = "std")]
pub struct SmolGlobal {
    runtime: SmolRuntime,
}

#[cfg(feature = "std")]
impl SmolGlobal {
    /// An adapter on smol's global executor.
    pub fn new() -> Self {
        SmolGlobal {
            runtime: SmolRuntime::new(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for SmolGlobal {
    fn default() -> Self {
        SmolGlobal::new()
    }
}

#[cfg(feature = "std")]
impl Harness for SmolGlobal {
    const NAME: &'static str = "smol-global";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(self.runtime.clone())
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        smol_block_on(Self::NAME, case)
    }

    fn exact_time(&self) -> bool {
        false
    }

    fn raise(&self, signal: Signal) {
        raise_for_real(signal)
    }
}

/// An explicit `Executor` that the harness runs itself, as a user of
/// `governor_smol::with_executor` would: the test thread runs it inside
/// [`block_on`](Harness::block_on) (`smol::block_on(ex.run(case))`) and
/// one helper thread runs it for the harness's whole life, so services
/// move between two threads. Tasks a case leaves behind stay on the
/// executor (they hold it) once both threads have stopped; they are never
/// polled again.
#[cfg(feature = "std")]
pub struct SmolExecutor {
    executor: Arc<smol::Executor<'static>>,
    runtime: SmolRuntime,
    /// Dropping it ends the helper thread's `run`.
    stop_helper: Option<smol::channel::Sender<()>>,
    helper: Option<std::thread::JoinHandle<()>>,
}

#[cfg(feature = "std")]
impl SmolExecutor {
    /// A fresh executor, with its helper thread running.
    pub fn new() -> Self {
        let executor = Arc::new(smol::Executor::new());
        let (stop_helper, stopped) = smol::channel::bounded::<()>(1);
        let ex = executor.clone();
        let helper = std::thread::Builder::new()
            .name("smol-executor-helper".into())
            .spawn(move || {
                // `recv` fails once the sender is dropped.
                let _ = smol::block_on(ex.run(stopped.recv()));
            })
            .expect("spawn the executor's helper thread");
        SmolExecutor {
            runtime: SmolRuntime::with_executor(executor.clone()),
            executor,
            stop_helper: Some(stop_helper),
            helper: Some(helper),
        }
    }
}

#[cfg(feature = "std")]
impl Default for SmolExecutor {
    fn default() -> Self {
        SmolExecutor::new()
    }
}

#[cfg(feature = "std")]
impl Drop for SmolExecutor {
    fn drop(&mut self) {
        drop(self.stop_helper.take());
        if let Some(helper) = self.helper.take() {
            // Do not turn a failing case into a double panic.
            if helper.join().is_err() && !std::thread::panicking() {
                panic!("the executor's helper thread panicked");
            }
        }
    }
}

#[cfg(feature = "std")]
impl Harness for SmolExecutor {
    const NAME: &'static str = "smol-executor";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(self.runtime.clone())
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        smol_block_on(Self::NAME, self.executor.run(case))
    }

    fn exact_time(&self) -> bool {
        false
    }

    fn raise(&self, signal: Signal) {
        raise_for_real(signal)
    }
}

/// async-std's global runtime: services are spawned with
/// `async_std::task::spawn` on its worker threads; the case runs on the
/// test thread in `async_std::task::block_on`.
#[cfg(feature = "std")]
pub struct AsyncStd {
    runtime: AsyncStdRuntime,
}

#[cfg(feature = "std")]
impl AsyncStd {
    /// An adapter on async-std's global runtime.
    pub fn new() -> Self {
        AsyncStd {
            runtime: AsyncStdRuntime::new(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for AsyncStd {
    fn default() -> Self {
        AsyncStd::new()
    }
}

#[cfg(feature = "std")]
impl Harness for AsyncStd {
    const NAME: &'static str = "async-std";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(self.runtime.clone())
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        let finished = async_std::task::block_on(async_std::future::timeout(
            CASE_TIMEOUT,
            KeepWaits::new(case),
        ));
        if finished.is_err() {
            panic!("{}", hung_case(Self::NAME, &within(CASE_TIMEOUT)));
        }
    }

    fn exact_time(&self) -> bool {
        false
    }

    fn raise(&self, signal: Signal) {
        raise_for_real(signal)
    }
}

#[cfg(test)]
mod tests {
    //! A case that waits for a state that never comes fails, naming itself
    //! and what it waited for, instead of hanging.

    use super::*;
    use crate::support::{journal, run_case, until};

    #[test]
    #[should_panic(
        expected = "case yields_forever on virtual did not finish within its real \
                               time limit (virtual time 0ns), waiting for a condition to hold \
                               (until at tests/src/runtimes.rs:"
    )]
    fn a_case_yielding_forever_fails_at_the_real_limit() {
        let h = Virtual::with_limits(Limits {
            virtual_time: CASE_VIRTUAL_TIMEOUT,
            real_time: Some(Duration::from_millis(200)),
        });
        run_case(&h, "yields_forever", async {
            until(&h, || false).await;
        });
    }

    #[test]
    #[should_panic(
        expected = "case ticks_forever on virtual did not finish within its virtual \
                               time limit (now 3600s, next timer at 3601s), waiting for journal \
                               note \"never\" (at tests/src/runtimes.rs:"
    )]
    fn a_case_whose_clock_runs_forever_fails_at_the_virtual_limit() {
        let h = Virtual::with_limits(Limits {
            virtual_time: Duration::from_secs(3600),
            real_time: None,
        });
        run_case(&h, "ticks_forever", async {
            let (_j, mut notes) = journal();
            let gov = h.governor();
            gov.add("ticker", |ctx| async move {
                while ctx.sleep(Duration::from_secs(1)).await.is_ok() {}
                Ok(())
            })
            .unwrap();
            gov.start().unwrap();
            notes.until("never").await;
        });
    }

    #[test]
    #[should_panic(
        expected = "case waits_for_nothing on virtual virtual runtime deadlock: main \
                               future pending with nothing runnable (virtual time 0ns, 0 live \
                               tasks, no pending timers, no blocking work), waiting for the next \
                               journal note (at tests/src/runtimes.rs:"
    )]
    fn a_deadlocked_case_fails_at_once() {
        let h = Virtual::new();
        run_case(&h, "waits_for_nothing", async {
            let (_j, mut notes) = journal();
            notes.next().await;
        });
    }
}
