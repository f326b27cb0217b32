//! The conformance suite on `Virtual`.

governor_conformance::conformance_suite!(governor_conformance::runtimes::Virtual::new());
