//! What the conformance suite needs from a runtime under test, and the
//! macro that instantiates every case for one runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use governor_core::runtime::{Runtime, Signal};
use governor_core::Governor;

/// A runtime the conformance suite runs against.
///
/// Every case is an `async fn(&H)`; the harness drives it to completion.
pub trait Harness: Sized + Send + Sync + 'static {
    /// Shown in test names.
    const NAME: &'static str;

    /// The adapter, as the core sees it.
    fn runtime(&self) -> Arc<dyn Runtime>;

    /// Runs a case to completion. Every harness bounds it, so that a hang
    /// fails the test (with [`hung_case`](crate::support::hung_case)'s
    /// message: the case's name and what it waited for) instead of the CI
    /// job: real runtimes by a real-time limit, the virtual one by a
    /// virtual and a real one, and on a deadlock.
    fn block_on<F: Future<Output = ()>>(&self, case: F);

    /// Whether time is virtual, so that durations can be asserted exactly.
    fn exact_time(&self) -> bool;

    /// Delivers `signal` to the governors that catch signals. Real
    /// runtimes send it to this process for real.
    fn raise(&self, signal: Signal);

    /// How many signal streams alive catch `signal`, where the runtime can
    /// tell without raising it (the virtual runtime); `None` on real
    /// runtimes, where raising a signal nobody catches would end the test
    /// process (the end-to-end tests in `tests/tests/signal_default.rs`
    /// check that instead).
    fn listeners(&self, signal: Signal) -> Option<usize> {
        let _ = signal;
        None
    }

    /// A fresh governor on this runtime.
    fn governor(&self) -> Governor {
        Governor::new(self.runtime())
    }

    /// Lets every task that can make progress do so (used only to give
    /// wrong behaviour a chance to show, never to wait for a result).
    fn settle(&self) -> impl Future<Output = ()> + Send {
        let runtime = self.runtime();
        async move {
            for _ in 0..16 {
                runtime.sleep(Duration::ZERO).await;
                crate::support::yield_now().await;
            }
        }
    }
}

/// Instantiates every conformance case for one harness, as
/// `#[test] fn <runtime>::<case>()`, so that test names show the runtime.
///
/// ```ignore
/// governor_conformance::conformance_suite!(virtual_time, governor_conformance::runtimes::Virtual::new());
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($runtime:ident, $make:expr) => {
        mod $runtime {
            #[allow(unused_imports)]
            use super::*;
            $crate::for_each_case!($crate::__conformance_case, $make);
        }
    };
    // Older one-argument form: the cases land in the invoking module.
    ($make:expr) => {
        $crate::for_each_case!($crate::__conformance_case, $make);
    };
}

/// [`conformance_suite!`] for the cases that need no `std` (listed by
/// [`for_each_nostd_case!`](crate::for_each_nostd_case)); the form
/// `governor-nostd-check` uses.
#[macro_export]
macro_rules! nostd_conformance_suite {
    ($runtime:ident, $make:expr) => {
        mod $runtime {
            #[allow(unused_imports)]
            use super::*;
            $crate::for_each_nostd_case!($crate::__conformance_case, $make);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case {
    ($make:expr, $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let harness = $make;
                $crate::support::run_case(
                    &harness,
                    stringify!($case),
                    $crate::cases::$case(&harness),
                );
            }
        )*
    };
}
