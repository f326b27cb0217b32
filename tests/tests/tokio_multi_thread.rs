//! The conformance suite on `TokioMultiThread`.

governor_conformance::conformance_suite!(governor_conformance::runtimes::TokioMultiThread::new());
