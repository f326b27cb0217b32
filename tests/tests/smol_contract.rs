//! The `Runtime` contract on governor-smol's `SmolRuntime`, on smol's global
//! executor and on an explicit one.

governor_conformance::runtime_contract!(
    smol_global,
    governor_conformance::runtimes::SmolGlobal::new()
);
governor_conformance::runtime_contract!(
    smol_executor,
    governor_conformance::runtimes::SmolExecutor::new()
);
