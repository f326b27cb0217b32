//! The conformance suite on `TokioCurrentThread`.

governor_conformance::conformance_suite!(governor_conformance::runtimes::TokioCurrentThread::new());
