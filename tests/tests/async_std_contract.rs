//! The `Runtime` contract on governor-std's `AsyncStdRuntime`.

governor_conformance::runtime_contract!(async_std, governor_conformance::runtimes::AsyncStd::new());
