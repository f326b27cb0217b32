//! The conformance cases that need no `std`, against governor-core built
//! without `std`, on the virtual runtime and on a real executor; and the
//! proofs that the core really is built so (a panic is not caught) and
//! that its `std`-less rules hold.
#![cfg(feature = "check")]

use std::time::Duration;

use governor_conformance::harness::Harness;
use governor_conformance::runtimes::Virtual;
use governor_conformance::support::{journal, run_case};
use governor_core::{Governor, Outcome, ServiceState, ShutdownCause};
use governor_nostd_check::SmolNoStd;

governor_conformance::nostd_conformance_suite!(virtual_time, Virtual::new());
governor_conformance::nostd_conformance_suite!(smol_nostd, SmolNoStd::new());

/// Without `std` nothing catches a service's panic: it unwinds out of the
/// run into whoever polls it — here the virtual runtime's `block_on`.
/// (With `std` the governor would catch it and record
/// `Outcome::Panicked`, and `block_on` would return.)
#[test]
fn panic_unwinds_without_std_on_virtual() {
    let h = Virtual::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case(&h, "panic_unwinds", async {
            let gov = h.governor();
            gov.add("bomb", |_ctx| async move {
                panic!("uncaught without std");
                #[allow(unreachable_code)]
                Ok(())
            })
            .unwrap();
            gov.start().unwrap();
            gov.wait_for_shutdown().await;
        })
    }));
    let payload = caught.expect_err("the core caught the panic: it was built with `std`");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"uncaught without std")
    );
}

/// The same on the real executor: the panic unwinds through the executor
/// thread that polled the run (the case's or the helper's), so the run
/// never records an outcome and the governor never sees it end.
#[test]
fn panic_unwinds_without_std_on_a_real_executor() {
    let h = SmolNoStd::new();
    let gov = h.governor();
    let (j, mut notes) = journal();
    gov.add("bomb", move |_ctx| {
        let j = j.clone();
        async move {
            j.note("bomb:run");
            panic!("uncaught without std");
            #[allow(unreachable_code)]
            Ok(())
        }
    })
    .unwrap();
    // The panic unwinds through the case's own thread (caught here) or
    // through the helper thread (which it ends); either way the case
    // stops waiting once the run has begun.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case(&h, "panic_unwinds", async {
            gov.start().unwrap();
            notes.until("bomb:run").await;
            // Time for a caught panic (with `std`) to be recorded.
            h.settle().await;
        })
    }));
    let bomb = gov.report().services.remove(0);
    assert_ne!(
        bomb.last_outcome,
        Some(Outcome::Panicked("uncaught without std".into())),
        "the core caught the panic: it was built with `std`"
    );
    assert_eq!(bomb.last_outcome, None, "{bomb}");
    std::mem::forget(h); // its helper thread may have died of the panic
}

/// Without `std`, a service that awaits `shutdown()` waits for itself: on
/// the virtual runtime that is a deadlock the harness reports. The rule
/// documented for it — use `request_shutdown()` — works.
#[test]
fn shutdown_from_inside_needs_request_shutdown_without_std() {
    let h = Virtual::new();
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case(&h, "awaits_its_own_shutdown", async {
            let gov = h.governor();
            let inner = gov.clone();
            gov.add("quitter", move |_ctx| {
                let gov = inner.clone();
                async move {
                    gov.shutdown().await;
                    Ok(())
                }
            })
            .unwrap();
            gov.start().unwrap();
            gov.wait_for_shutdown().await;
        })
    }));
    let message = waited
        .expect_err("shutdown() from inside returned: the core has `std`")
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("case awaits_its_own_shutdown on virtual virtual runtime deadlock"),
        "{message}"
    );

    let h = Virtual::new();
    run_case(&h, "requests_its_own_shutdown", async {
        let gov: Governor = h.governor();
        let inner = gov.clone();
        gov.add("quitter", move |ctx| {
            let gov = inner.clone();
            async move {
                assert!(gov.request_shutdown());
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap();
        gov.add("other", |ctx| async move {
            ctx.sleep(Duration::from_secs(1)).await.ok();
            Ok(())
        })
        .unwrap();
        gov.start().unwrap();
        let report = gov.wait_for_shutdown().await;
        assert_eq!(report.cause, Some(ShutdownCause::Requested));
        for s in &report.services {
            assert_eq!(s.state, ServiceState::Ended, "{s}");
            assert_eq!(s.last_outcome, Some(Outcome::Completed), "{s}");
        }
    });
}
