//! Runs the conformance cases that need no `std` against `governor-core`
//! built **without** its `std` feature: spin locks instead of
//! `std::sync::Mutex`, no panic catching, and the `request_shutdown` rule
//! for a service that shuts its governor down.
//!
//! # How the cases get here
//!
//! The cases are written once, in `governor-conformance`. That crate has
//! a `std` feature (on by default) that turns on `governor-core/std`, the
//! runtime adapters and everything else needing them; this crate depends
//! on it with `default-features = false`, so what remains is the virtual
//! runtime, the harness, the support tools and the cases listed by
//! `for_each_nostd_case!`. Features are unified per `cargo` invocation, so
//! `cargo test -p governor-nostd-check` builds the core without `std`
//! (the tests `panic_unwinds_without_std` prove it at run time), while
//! `cargo test --workspace` builds it once with `std` for everyone — so
//! this crate is run on its own, in `.ci/run`.
//!
//! The cases run on two runtimes: the virtual-time one
//! (`governor_conformance::runtimes::Virtual`) and [`SmolNoStd`], a
//! minimal adapter over an explicit `smol::Executor` written here (the
//! `governor-smol` adapter needs the core's `std`).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_channel::mpsc;
use governor_conformance::harness::Harness;
use governor_conformance::support::{hung_case, KeepWaits};
use governor_core::runtime::{BoxSleep, BoxTask, Runtime, Signal, SignalError, SignalStream};
use smol::future::FutureExt as _;

/// How long a case may take before it fails as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A [`Runtime`] on an explicit `smol::Executor`, for the core without
/// `std`: tasks on the executor, sleeps on `smol::Timer`, the clock from
/// `Instant`, and signals raised by hand ([`SmolNoStd::raise`]) rather
/// than by the operating system.
#[derive(Clone)]
pub struct SmolNoStdRuntime {
    executor: Arc<smol::Executor<'static>>,
    origin: Instant,
    signals: Arc<Mutex<Vec<SignalFeed>>>,
}

/// One live signal stream: the signals it catches, and its feed.
type SignalFeed = (Vec<Signal>, mpsc::UnboundedSender<Signal>);

impl Runtime for SmolNoStdRuntime {
    fn spawn(&self, task: BoxTask) {
        self.executor.spawn(task).detach();
    }

    fn sleep(&self, duration: Duration) -> BoxSleep {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn shutdown_signals(&self) -> Result<SignalStream, SignalError> {
        self.signals(&Signal::SHUTDOWN)
    }

    fn signals(&self, which: &[Signal]) -> Result<SignalStream, SignalError> {
        let (sender, receiver) = mpsc::unbounded();
        self.signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((which.to_vec(), sender));
        Ok(Box::pin(receiver))
    }
}

/// The harness on [`SmolNoStdRuntime`]: the test thread runs the executor
/// inside [`block_on`](Harness::block_on) and one helper thread runs it
/// for the harness's whole life, so services move between two threads
/// (and the spin locks see contention).
pub struct SmolNoStd {
    runtime: SmolNoStdRuntime,
    stop_helper: Option<smol::channel::Sender<()>>,
    helper: Option<std::thread::JoinHandle<()>>,
}

impl SmolNoStd {
    /// A fresh executor, with its helper thread running.
    pub fn new() -> Self {
        let executor = Arc::new(smol::Executor::new());
        let (stop_helper, stopped) = smol::channel::bounded::<()>(1);
        let ex = executor.clone();
        let helper = std::thread::Builder::new()
            .name("nostd-executor-helper".into())
            .spawn(move || {
                // `recv` fails once the sender is dropped.
                let _ = smol::block_on(ex.run(stopped.recv()));
            })
            .expect("spawn the executor's helper thread");
        SmolNoStd {
            runtime: SmolNoStdRuntime {
                executor,
                origin: Instant::now(),
                signals: Arc::default(),
            },
            stop_helper: Some(stop_helper),
            helper: Some(helper),
        }
    }
}

impl Default for SmolNoStd {
    fn default() -> Self {
        SmolNoStd::new()
    }
}

impl Drop for SmolNoStd {
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

impl Harness for SmolNoStd {
    const NAME: &'static str = "smol-nostd";

    fn runtime(&self) -> Arc<dyn Runtime> {
        Arc::new(self.runtime.clone())
    }

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        smol::block_on(self.runtime.executor.run(KeepWaits::new(case)).or(async {
            smol::Timer::after(CASE_TIMEOUT).await;
            panic!(
                "{}",
                hung_case(
                    Self::NAME,
                    &format!("did not finish within its real time limit of {CASE_TIMEOUT:?}")
                )
            );
        }));
    }

    fn exact_time(&self) -> bool {
        false
    }

    fn raise(&self, signal: Signal) {
        let mut senders = self
            .runtime
            .signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        senders.retain(|(_, sender)| !sender.is_closed());
        let delivered = senders
            .iter()
            .filter(|(which, _)| which.contains(&signal))
            .filter(|(_, sender)| sender.unbounded_send(signal).is_ok())
            .count();
        assert!(delivered > 0, "nobody listens for {signal}");
    }
}
