//! `GOVERNOR_TEST_SEED`: one test in its own binary, since it sets the
//! process's environment.

use governor_test::{SeedError, Test, VirtualRuntime, SEED_VAR};

#[test]
fn the_seed_variable_seeds_run_and_makes_explore_replay_one_seed() {
    std::env::remove_var(SEED_VAR);
    assert_eq!(governor_test::run(|rt| async move { rt.seed() }), None);
    assert_eq!(VirtualRuntime::from_env().unwrap().seed(), None);

    std::env::set_var(SEED_VAR, "42");
    assert_eq!(governor_test::run(|rt| async move { rt.seed() }), Some(42));
    assert_eq!(VirtualRuntime::from_env().unwrap().seed(), Some(42));
    let mut seen = Vec::new();
    Test::new().explore(0..100, |rt| {
        seen.push(rt.seed());
        async {}
    });
    assert_eq!(seen, [Some(42)]);

    std::env::set_var(SEED_VAR, "forty-two");
    let error: SeedError = Test::from_env().unwrap_err();
    assert_eq!(error.value, "forty-two");
    assert_eq!(VirtualRuntime::from_env().unwrap_err(), error);
    let panic = std::panic::catch_unwind(|| governor_test::run(|_rt| async {}))
        .expect_err("a malformed seed fails the test");
    assert_eq!(
        panic.downcast_ref::<String>().unwrap(),
        &format!(
            "governor-test: GOVERNOR_TEST_SEED=\"forty-two\" is not a seed: expected a number \
             from 0 to {}",
            u64::MAX
        )
    );
    std::env::remove_var(SEED_VAR);
}
