//! The conformance suite on `TokioCurrentThread`.

governor_conformance::conformance_suite!(
    tokio_current_thread,
    governor_conformance::runtimes::TokioCurrentThread::new()
);
