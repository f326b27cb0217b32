//! The conformance suite on `TokioMultiThread`.

governor_conformance::conformance_suite!(
    tokio_multi_thread,
    governor_conformance::runtimes::TokioMultiThread::new()
);
