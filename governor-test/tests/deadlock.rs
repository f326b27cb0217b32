//! A test that can never finish fails at once, naming what still waits,
//! instead of hanging.

use std::future::pending;

use governor_test::{Stuck, Test};

#[test]
fn a_deadlock_names_the_services_still_waiting() {
    let stuck = Test::new()
        .try_run(|rt| async move {
            let gov = rt.governor();
            gov.add("db", |_ctx| pending()).unwrap().notify_ready();
            gov.add("api", |ctx| async move {
                ctx.wait_for_stop().await;
                Ok(())
            })
            .unwrap()
            .depends_on(["db"]);
            gov.add("done", |_ctx| async { Ok(()) }).unwrap();
            gov.start().unwrap();
            gov.wait_for_shutdown().await
        })
        .unwrap_err();
    let Stuck::Deadlock(deadlock) = &stuck else {
        panic!("expected a deadlock, got {stuck}");
    };
    assert_eq!(
        deadlock.waiting,
        [
            r#"service "api" (waiting for its dependencies)"#,
            r#"service "db" (run 1)"#,
        ]
    );
    assert!(
        stuck.to_string().ends_with(
            r#"; still waiting: service "api" (waiting for its dependencies), service "db" (run 1)"#
        ),
        "{stuck}"
    );
}

#[test]
fn a_deadlock_names_runs_asked_to_stop_in_each_governor() {
    let stuck = Test::new()
        .try_run(|rt| async move {
            let first = rt.governor();
            let second = rt.governor();
            for gov in [&first, &second] {
                gov.add("deaf", |_ctx| pending()).unwrap();
                gov.start().unwrap();
            }
            // No shutdown timeout: the stop of "deaf" waits forever.
            second.shutdown().await
        })
        .unwrap_err();
    let Stuck::Deadlock(deadlock) = stuck else {
        panic!("expected a deadlock, got {stuck}");
    };
    assert_eq!(
        deadlock.waiting,
        [
            r#"service "deaf" of governor #1 (run 1, ready)"#,
            r#"service "deaf" of governor #2 (run 1, ready, asked to stop)"#,
        ]
    );
}

#[test]
#[should_panic(expected = "governor-test: virtual runtime deadlock: main future pending")]
fn run_fails_the_test_on_a_deadlock() {
    governor_test::run(|_rt| pending::<()>());
}
