//! The same test gives the same schedule and timeline on every run; the
//! seeded mode searches schedules, finds a planted ordering bug within a
//! bounded number of seeds, and replays it by its seed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor_core::{Backoff, RestartPolicy, ServiceError, Signal};
use governor_test::{Test, VirtualRuntime};

const SEC: Duration = Duration::from_secs(1);

/// What one run of the scenario did: its event timeline (virtual time and
/// event), the schedule's fingerprint and its number of polls.
type Trace = (Vec<String>, u64, u64);

/// A few services that restart with backoff (and jitter), depend on each
/// other, spawn tasks and stop on a raised signal, each event stamped with
/// its virtual time.
fn scenario(test: Test) -> Trace {
    test.run(|rt: VirtualRuntime| async move {
        let gov = rt.governor().catch_signals();
        let timeline = Arc::new(Mutex::new(Vec::new()));
        let (log, clock) = (timeline.clone(), rt.clone());
        gov.observe_events(move |event| {
            log.lock()
                .unwrap()
                .push(format!("{:?} {:?}: {event}", clock.now(), event.service()))
        });
        gov.add("store", |ctx| async move {
            ctx.sleep(SEC).await?;
            ctx.ready();
            ctx.wait_for_stop().await;
            Ok(())
        })
        .unwrap()
        .notify_ready();
        let tries = Arc::new(AtomicU32::new(0));
        gov.add("api", move |ctx| {
            let tries = tries.clone();
            async move {
                for i in 0..3 {
                    let _task = ctx.spawn(move |task| async move {
                        task.sleep(SEC * i).await?;
                        Ok(())
                    });
                }
                ctx.sleep(2 * SEC).await?;
                if tries.fetch_add(1, Ordering::SeqCst) < 4 {
                    return Err(ServiceError::msg("flaky"));
                }
                ctx.wait_for_stop().await;
                Ok(())
            }
        })
        .unwrap()
        .depends_on(["store"])
        .restart_policy(
            RestartPolicy::on_failure(SEC).backoff(Backoff::new(SEC, 30 * SEC).jitter(0.5)),
        );
        gov.add("ticker", |ctx| async move {
            while ctx.sleep(SEC / 3).await.is_ok() {}
            Ok(())
        })
        .unwrap();
        gov.start().unwrap();
        rt.sleep(60 * SEC).await;
        assert_eq!(rt.raise(Signal::Terminate), 1);
        let report = gov.wait_for_shutdown().await;
        assert!(report.is_clean(), "{report:?}");
        let timeline = timeline.lock().unwrap().clone();
        (timeline, rt.schedule_fingerprint(), rt.polls())
    })
}

#[test]
fn the_same_test_gives_the_same_schedule_and_timeline_100_times() {
    let first = scenario(Test::new());
    assert!(first.0.len() > 25, "a rich timeline: {:#?}", first.0);
    assert!(first.0.iter().any(|line| line.contains("restart")));
    for run in 1..100 {
        assert_eq!(scenario(Test::new()), first, "run {run} differed");
    }
}

#[test]
fn a_seed_is_one_schedule_and_seeds_differ() {
    let unseeded = scenario(Test::new());
    let seeded: Vec<Trace> = (0..8)
        .map(|seed| scenario(Test::new().seed(seed)))
        .collect();
    for (seed, trace) in seeded.iter().enumerate() {
        assert_eq!(
            &scenario(Test::new().seed(seed as u64)),
            trace,
            "seed {seed}"
        );
    }
    // The fingerprint tells schedules apart: seeds shuffle the polls.
    let mut fingerprints: Vec<u64> = seeded.iter().map(|trace| trace.1).collect();
    fingerprints.push(unseeded.1);
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert!(fingerprints.len() > 4, "{fingerprints:?}");
}

/// A planted ordering bug: a cache and a reader added together, both ready
/// to run at the same instant; the reader assumes the cache's run began
/// first. Added in that order, the unseeded schedule always runs the cache
/// first, and the bug hides.
async fn cache_and_reader(rt: VirtualRuntime) {
    let warmed = Arc::new(AtomicBool::new(false));
    let gov = rt.governor();
    let flag = warmed.clone();
    gov.add("cache", move |ctx| {
        let flag = flag.clone();
        async move {
            flag.store(true, Ordering::SeqCst);
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap();
    gov.add("reader", move |ctx| {
        let warmed = warmed.clone();
        async move {
            assert!(
                warmed.load(Ordering::SeqCst),
                "the reader ran before the cache"
            );
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    rt.sleep(SEC).await;
    let report = gov.shutdown().await;
    assert!(report.is_clean(), "{}", report.service("reader").unwrap());
}

#[test]
fn the_seeded_mode_finds_a_planted_ordering_bug_and_replays_it() {
    // Unseeded: the bug never shows.
    Test::new().run(cache_and_reader);
    // Seeded: found within 32 seeds.
    let failure = Test::new()
        .try_explore(0..32, cache_and_reader)
        .expect_err("32 schedules, none of them the reader first");
    assert!(
        failure.message.contains("the reader ran before the cache"),
        "{failure}"
    );
    // The seeds before it passed; the seed replays it, every time.
    assert_eq!(
        Test::new().try_explore(0..failure.seed, cache_and_reader),
        Ok(failure.seed)
    );
    for _ in 0..10 {
        assert_eq!(
            Test::new()
                .try_explore(failure.seed..failure.seed + 1, cache_and_reader)
                .unwrap_err(),
            failure
        );
    }
    // The report names the seed and how to replay it.
    let shown = failure.to_string();
    let seed = failure.seed;
    assert!(
        shown.starts_with(&format!("failed with seed {seed}: ")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("GOVERNOR_TEST_SEED={seed}")),
        "{shown}"
    );
}

#[test]
fn a_seeded_run_that_fails_names_its_seed() {
    let seed = Test::new()
        .try_explore(0..32, cache_and_reader)
        .unwrap_err()
        .seed;
    let panic = std::panic::catch_unwind(|| Test::new().seed(seed).run(cache_and_reader))
        .expect_err("the seed replays the failure");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with(&format!("governor-test: failed with seed {seed}: ")),
        "{message}"
    );
}
