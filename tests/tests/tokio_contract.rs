//! The `Runtime` contract on governor-tokio's `TokioRuntime`, on both tokio
//! schedulers.

governor_conformance::runtime_contract!(
    tokio_current_thread,
    governor_conformance::runtimes::TokioCurrentThread::new()
);
governor_conformance::runtime_contract!(
    tokio_multi_thread,
    governor_conformance::runtimes::TokioMultiThread::new()
);
