//! The conformance suite on `SmolGlobal`.

governor_conformance::conformance_suite!(
    smol_global,
    governor_conformance::runtimes::SmolGlobal::new()
);
