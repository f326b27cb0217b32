//! Every adapter's `run` (and `run_async`) checked by the one `run`
//! contract. In a test binary of its own: `run` catches signals, so no
//! other test here may raise one.

governor_conformance::run_contract!(
    tokio,
    run = governor_tokio::run,
    run_to_exit = governor_tokio::run_to_exit
);
governor_conformance::run_contract!(
    smol,
    run = governor_smol::run,
    run_to_exit = governor_smol::run_to_exit,
    run_async = |setup| {
        // Awaited on another executor than the global one the services
        // run on.
        let ex = smol::LocalExecutor::new();
        smol::block_on(ex.run(governor_smol::run_async(setup)))
    }
);
governor_conformance::run_contract!(
    async_std,
    run = governor_std::run,
    run_to_exit = governor_std::run_to_exit,
    run_async = |setup| async_std::task::block_on(governor_std::run_async(setup))
);
