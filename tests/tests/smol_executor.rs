//! The conformance suite on `SmolExecutor`.

governor_conformance::conformance_suite!(
    smol_executor,
    governor_conformance::runtimes::SmolExecutor::new()
);
