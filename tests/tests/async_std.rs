//! The conformance suite on `AsyncStd`.

governor_conformance::conformance_suite!(
    async_std,
    governor_conformance::runtimes::AsyncStd::new()
);
