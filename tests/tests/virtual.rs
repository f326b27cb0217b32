//! The conformance suite on `Virtual`.

governor_conformance::conformance_suite!(
    virtual_time,
    governor_conformance::runtimes::Virtual::new()
);
