//! The runtimes the suite runs against, each as a [`Harness`].
//!
//! | harness | runtime |
//! |---|---|
//! | [`Virtual`] | [`VirtualRuntime`]: one thread, virtual clock, exact timing |
//! | [`TokioCurrentThread`] | tokio, current-thread scheduler |
//! | [`TokioMultiThread`] | tokio, multi-thread scheduler with 2 workers |
//!
//! Real runtimes bound every case by [`CASE_TIMEOUT`] so that a hang fails
//! the case instead of stalling CI.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use governor_core::runtime::{Runtime, Signal};
use governor_tokio::runtime::TokioRuntime;

use crate::harness::Harness;
use crate::virtual_time::VirtualRuntime;

/// How long a case may take on a real runtime before it fails as hung.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// The deterministic virtual-time runtime.
pub struct Virtual {
    runtime: VirtualRuntime,
}

impl Virtual {
    /// A fresh virtual runtime at time zero.
    pub fn new() -> Self {
        Virtual {
            runtime: VirtualRuntime::new(),
        }
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

    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        self.runtime.block_on(case);
        // Leftover tasks (a case that leaves something running) are dropped
        // here rather than leaked with the runtime.
        self.runtime.shutdown();
    }

    fn exact_time(&self) -> bool {
        true
    }

    fn raise(&self, signal: Signal) {
        assert!(self.runtime.raise(signal) > 0, "nobody listens for signals");
    }
}

/// A tokio runtime, either flavour.
pub struct Tokio {
    runtime: tokio::runtime::Runtime,
    name: &'static str,
}

impl Tokio {
    fn block_on<F: Future<Output = ()>>(&self, case: F) {
        self.runtime.block_on(async {
            if tokio::time::timeout(CASE_TIMEOUT, case).await.is_err() {
                panic!("case hung for {CASE_TIMEOUT:?} on {}", self.name);
            }
        });
    }

    fn adapter(&self) -> Arc<dyn Runtime> {
        Arc::new(TokioRuntime::with_handle(self.runtime.handle().clone()))
    }
}

/// Sends `signal` to this very process, as a user's `kill` would (with
/// the `kill` utility, so that the suite needs no `unsafe` FFI).
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
pub struct TokioCurrentThread(Tokio);

impl TokioCurrentThread {
    /// A fresh current-thread runtime with IO and time enabled.
    pub fn new() -> Self {
        TokioCurrentThread(Tokio {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            name: Self::NAME,
        })
    }
}

impl Default for TokioCurrentThread {
    fn default() -> Self {
        TokioCurrentThread::new()
    }
}

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
pub struct TokioMultiThread(Tokio);

impl TokioMultiThread {
    /// A fresh two-worker runtime with IO and time enabled.
    pub fn new() -> Self {
        TokioMultiThread(Tokio {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            name: Self::NAME,
        })
    }
}

impl Default for TokioMultiThread {
    fn default() -> Self {
        TokioMultiThread::new()
    }
}

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
