//! Tasks scoped to a run (`ServiceCtx::spawn`, `spawn_blocking`) and the
//! context's time (`timeout`, `interval`, `now`): a service written once
//! against the core, run on every runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor_core::{
    Error, Event, Outcome, RestartPolicy, ServiceCtx, ServiceError, ServiceState, TaskError,
    TimeoutError,
};

use crate::harness::Harness;
use crate::support::{assert_elapsed, journal, timeline, Journal};

const MS: Duration = Duration::from_millis(1);

/// Notes `drop:<label>` when dropped: shows that a task's future is gone.
struct OnDrop(Journal, &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.note(format!("drop:{}", self.1));
    }
}

/// Counts one on drop.
struct Count(Arc<AtomicUsize>);

impl Drop for Count {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every task sees its run's stop; the run (and so `shutdown`) ends only
/// once every task has ended, each after a clean-up of its own.
pub async fn tasks_see_the_stop_and_the_run_ends_after_them<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let tt = t.clone();
    let rt = h.runtime();
    gov.add("parent", move |ctx: ServiceCtx| {
        let t = tt.clone();
        let rt = rt.clone();
        async move {
            for i in 1..=3u32 {
                let t = t.clone();
                let rt = rt.clone();
                ctx.spawn(move |task| async move {
                    task.wait_for_stop().await;
                    t.mark(format!("task{i}:stop"));
                    // A clean-up that takes time: not cut short by the stop.
                    rt.sleep(Duration::from_millis(10 * u64::from(i))).await;
                    t.mark(format!("task{i}:end"));
                    Ok(())
                })
                .detach();
            }
            t.mark("spawned");
            ctx.wait_for_stop().await;
            t.mark("main:stop");
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("spawned").await;
    // Times from the timeline's clock (one runtime value: an adapter's
    // origin is its own).
    t.mark("shutdown");
    let report = gov.shutdown().await;
    t.mark("returned");
    let (begin, end) = (t.at("shutdown"), t.at("returned"));
    for i in 1..=3u64 {
        assert_elapsed(h, t.at(&format!("task{i}:stop")) - begin, Duration::ZERO);
        assert_elapsed(
            h,
            t.at(&format!("task{i}:end")) - begin,
            MS * (10 * i as u32),
        );
    }
    assert_elapsed(h, end - begin, 30 * MS);
    let parent = report.service("parent").unwrap();
    assert_eq!(parent.last_outcome, Some(Outcome::Completed));
    assert_elapsed(h, parent.stop_time.unwrap(), 30 * MS);
    assert!(parent.aborted_tasks.is_empty());
    assert!(report.is_clean(), "{report}");
}

/// A detached task's failure fails its run: the run (main future and the
/// other tasks) is asked to stop, ends with that failure, and the restart
/// policy applies, by its delay.
pub async fn a_task_failure_fails_the_run_and_restarts_by_policy<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    // The run's end, as the governor tells it: the restart delay counts
    // from there (after the run's tasks have ended).
    let te = t.clone();
    let ended = Arc::new(AtomicUsize::new(0));
    let gov = h.governor().on_event(move |event| {
        if let Event::RunEnded { .. } = event {
            te.mark(format!("ended{}", ended.fetch_add(1, Ordering::SeqCst) + 1));
        }
    });
    let tt = t.clone();
    gov.add("flaky", move |ctx: ServiceCtx| {
        let t = tt.clone();
        async move {
            let run = ctx.run();
            t.mark(format!("run{run}"));
            if run == 1 {
                let sibling = t.clone();
                ctx.spawn(move |task| async move {
                    task.wait_for_stop().await;
                    sibling.mark("sibling:stop");
                    Ok(())
                })
                .detach();
                let failing = t.clone();
                ctx.spawn(move |task| async move {
                    task.sleep(20 * MS).await?;
                    failing.mark("task:fails");
                    Err::<(), _>(ServiceError::msg("task broke"))
                })
                .detach();
            }
            ctx.wait_for_stop().await;
            t.mark(format!("run{run}:stop"));
            Ok(())
        }
    })
    .unwrap()
    .restart_policy(RestartPolicy::on_failure(100 * MS));
    gov.start().unwrap();
    notes.until("run2").await;
    assert_elapsed(h, t.at("run1:stop") - t.at("task:fails"), Duration::ZERO);
    assert_elapsed(h, t.at("sibling:stop") - t.at("task:fails"), Duration::ZERO);
    assert!(t.position("sibling:stop") < t.position("ended1"));
    // By the policy's delay, not at once (as a handle's `restart` would):
    // exact on virtual time; on real runtimes only the lower bound, as
    // smol's one shared global executor thread runs late by hundreds of
    // milliseconds while the rest of the suite runs beside this case.
    let delay = t.at("run2") - t.at("ended1");
    if h.exact_time() {
        assert_eq!(delay, 100 * MS);
    } else {
        assert!(delay >= 100 * MS, "restarted after {delay:?}");
    }
    let report = gov.shutdown().await;
    let flaky = report.service("flaky").unwrap();
    assert_eq!(flaky.runs, 2);
    assert_eq!(flaky.last_outcome, Some(Outcome::Completed));
}

#[cfg(feature = "std")] // a panic caught needs `std`
/// A detached task's panic fails its run as a panic; with no restart
/// policy the service ends with it, and the report says so.
pub async fn a_task_panic_fails_the_run<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let seen = outcomes.clone();
    let gov = h.governor().on_event(move |event| {
        if let Event::RunEnded { outcome, .. } = event {
            seen.lock().unwrap().push(outcome.clone());
        }
    });
    gov.add("panicky", move |ctx: ServiceCtx| {
        let j = j.clone();
        async move {
            ctx.spawn(|_task| async move {
                if true {
                    panic!("task exploded");
                }
                Ok(())
            })
            .detach();
            ctx.wait_for_stop().await;
            j.note("main:stop");
            Ok(())
        }
    })
    .unwrap()
    .restart_policy(RestartPolicy::on_failure(50 * MS).limit(1, Duration::from_secs(60)));
    gov.start().unwrap();
    notes.until("main:stop").await;
    notes.until("main:stop").await;
    let report = gov.wait_for_shutdown().await;
    let panicky = report.service("panicky").unwrap();
    assert_eq!(panicky.runs, 2, "restarted once by its policy");
    assert_eq!(panicky.state, ServiceState::GaveUp);
    assert_eq!(
        *outcomes.lock().unwrap(),
        [
            Outcome::Panicked(Arc::from("task exploded")),
            Outcome::Panicked(Arc::from("task exploded"))
        ]
    );
    assert!(!report.is_clean());
}

/// Awaiting a handle yields the task's output or its error: the service
/// handles it, and the run is not failed. A handle dropped holding an
/// unread failure fails the run all the same.
pub async fn awaited_handles_yield_output_and_error<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add("reader", move |ctx: ServiceCtx| {
        let j = jj.clone();
        async move {
            let five = ctx.spawn(|_| async { Ok(5) });
            let bad = ctx.spawn(|_| async { Err::<u8, _>(ServiceError::msg("bad input")) });
            let stopped = ctx.spawn(|task| async move {
                task.wait_for_stop().await;
                Err::<u8, _>(governor_core::Interrupted.into())
            });
            assert_eq!(five.await, Ok(5));
            match bad.await {
                Err(TaskError::Failed(e)) => j.note(format!("bad:{e}")),
                other => j.note(format!("unexpected:{other:?}")),
            }
            stopped.stop();
            assert_eq!(stopped.await, Err(TaskError::Interrupted));
            j.note("handled");
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap();
    let jj = j.clone();
    gov.add("dropper", move |ctx: ServiceCtx| {
        let j = jj.clone();
        async move {
            let bad = ctx.spawn(|_| async { Err::<(), _>(ServiceError::msg("unread")) });
            // Wait until it has ended, then drop its handle unread.
            while !bad.is_finished() {
                ctx.sleep(MS).await?;
            }
            drop(bad);
            ctx.wait_for_stop().await;
            j.note("dropper:stop");
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("bad:bad input").await;
    notes.until("handled").await;
    notes.until("dropper:stop").await;
    let report = gov.shutdown().await;
    assert_eq!(
        report.service("reader").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    let dropper = report.service("dropper").unwrap();
    assert_eq!(
        dropper.last_outcome.as_ref().map(ToString::to_string),
        Some("failed: unread".to_string())
    );
}

#[cfg(feature = "std")] // a panic caught needs `std`
/// Awaiting the handle of a task that panicked yields the panic's text; a
/// blocking task's result and panic come back the same way.
pub async fn awaited_handles_yield_panics_and_blocking_results<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    gov.add("reader", move |ctx: ServiceCtx| {
        let j = j.clone();
        async move {
            let oops = ctx.spawn(|_| async {
                if true {
                    panic!("oops");
                }
                Ok(())
            });
            assert_eq!(oops.await, Err(TaskError::Panicked(Arc::from("oops"))));
            let product = ctx.spawn_blocking(|_| Ok((1..=5u64).product::<u64>()));
            assert_eq!(product.await, Ok(120));
            let deep = ctx.spawn_blocking(|_| -> Result<(), ServiceError> { panic!("deep") });
            assert_eq!(deep.await, Err(TaskError::Panicked(Arc::from("deep"))));
            j.note("handled");
            Ok(())
        }
    })
    .unwrap()
    .critical();
    gov.start().unwrap();
    notes.until("handled").await;
    let report = gov.wait_for_shutdown().await;
    assert_eq!(
        report.service("reader").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    assert!(report.is_clean(), "{report}");
}

/// An aborted task's future is dropped, its handle yields `Aborted`, and
/// it no longer counts among the run's tasks; the run goes on.
pub async fn an_aborted_task_ends_at_once<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    gov.add("aborter", move |ctx: ServiceCtx| {
        let j = jj.clone();
        async move {
            let guard = OnDrop(j.clone(), "victim");
            let victim = ctx.spawn(move |_| async move {
                let _guard = guard;
                core::future::pending::<()>().await;
                Ok(())
            });
            j.note(format!("running:{}", ctx.running_tasks()));
            victim.abort();
            assert_eq!(victim.await, Err(TaskError::Aborted));
            // Not `running_tasks()`: a task is counted out just after its
            // handle gets the result, so on a thread pool the count can
            // still say 1 for an instant here (CI saw it on async-std).
            j.note("aborted");
            Ok(())
        }
    })
    .unwrap()
    .critical();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    notes.until("running:1").await;
    notes.until("drop:victim").await;
    notes.until("aborted").await;
    assert_eq!(
        report.service("aborter").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}

/// A task's own stop (its handle's `stop`) and its run's stop reach it
/// whether or not it ever asked for its token (made at its first use):
/// a task that only checks `stopping()` sees its handle's stop asked
/// before it first looked, and another sees its run's stop. The handle's
/// stop leaves the run and the other tasks alone.
pub async fn a_task_sees_its_stops_whether_it_looked_or_not<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor();
    let jj = j.clone();
    let rt = h.runtime();
    gov.add("looker", move |ctx: ServiceCtx| {
        let j = jj.clone();
        let rt = rt.clone();
        async move {
            // Checks only, on the runtime's plain sleep: never makes its
            // own token.
            let checker = {
                let j = j.clone();
                ctx.spawn(move |task| async move {
                    while !task.stopping() {
                        rt.sleep(MS).await;
                    }
                    j.note("checker:stopped");
                    Ok(())
                })
            };
            let (go, went) = futures_channel::oneshot::channel::<()>();
            let early = ctx.spawn(move |task| async move {
                let _ = went.await;
                Ok(task.stopping())
            });
            early.stop();
            let _ = go.send(());
            assert_eq!(early.await, Ok(true), "the handle's stop, asked first");
            j.note(format!(
                "after-early:run-stopping={}:checker-finished={}",
                ctx.stopping(),
                checker.is_finished()
            ));
            checker.detach();
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes
        .until("after-early:run-stopping=false:checker-finished=false")
        .await;
    let report = gov.shutdown().await;
    notes.until("checker:stopped").await;
    let looker = report.service("looker").unwrap();
    assert_eq!(looker.last_outcome, Some(Outcome::Completed));
    assert!(looker.aborted_tasks.is_empty());
    assert!(report.is_clean(), "{report}");
}

/// A run that returns with tasks still running asks them to stop and ends
/// only once they have: nothing outlives it. A task spawned after that
/// (from a context kept past the run: a clone, or the very context that
/// spawned, which keeps the run's task scope) never starts.
pub async fn tasks_of_a_run_that_returns_early_are_stopped_and_waited_for<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let kept: Arc<Mutex<Option<ServiceCtx>>> = Arc::default();
    let spawner: Arc<Mutex<Option<Arc<ServiceCtx>>>> = Arc::default();
    let keep_spawner = spawner.clone();
    let gov = h.governor();
    let tt = t.clone();
    let keep = kept.clone();
    let rt = h.runtime();
    let handle = gov
        .add("early", move |ctx: ServiceCtx| {
            let t = tt.clone();
            let keep = keep.clone();
            let keep_spawner = keep_spawner.clone();
            let rt = rt.clone();
            async move {
                *keep.lock().unwrap() = Some(ctx.clone());
                let ctx = Arc::new(ctx);
                *keep_spawner.lock().unwrap() = Some(ctx.clone());
                let tt = t.clone();
                ctx.spawn(move |task| async move {
                    task.wait_for_stop().await;
                    tt.mark("task:stop");
                    rt.sleep(20 * MS).await;
                    tt.mark("task:end");
                    Ok(())
                })
                .detach();
                ctx.sleep(10 * MS).await?;
                t.mark("main:return");
                Ok(())
            }
        })
        .unwrap()
        .handle();
    gov.start().unwrap();
    let report = handle.wait().await;
    notes.until("task:end").await;
    assert_elapsed(h, t.at("task:stop") - t.at("main:return"), Duration::ZERO);
    assert_elapsed(h, t.at("task:end") - t.at("main:return"), 20 * MS);
    assert_eq!(report.last_outcome, Some(Outcome::Completed));
    assert_eq!(report.runs, 1);
    assert_elapsed(h, report.stop_time.unwrap(), 20 * MS);
    // Too late: the run is over.
    let late = kept.lock().unwrap().take().unwrap();
    let guard = OnDrop(journal().0, "late");
    let refused = late.spawn(move |_| async move {
        let _guard = guard;
        Ok(())
    });
    assert_eq!(refused.await, Err(TaskError::NotStarted));
    let spawner = spawner.lock().unwrap().take().unwrap();
    let guard = OnDrop(journal().0, "late");
    let refused = spawner.spawn(move |_| async move {
        let _guard = guard;
        Ok(())
    });
    assert_eq!(refused.await, Err(TaskError::NotStarted));
    gov.shutdown().await;
}

/// Tasks that ignore their stop are aborted with their run at the
/// service's shutdown timeout, exactly, and named in the report.
pub async fn tasks_ignoring_the_stop_are_aborted_at_the_timeout_and_named<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let gov = h.governor().shutdown_timeout(200 * MS);
    let jj = j.clone();
    gov.add("wedged", move |ctx: ServiceCtx| {
        let j = jj.clone();
        async move {
            let polite = ctx.spawn(|task| async move {
                task.wait_for_stop().await;
                Ok(())
            });
            let guard = OnDrop(j.clone(), "deaf");
            ctx.spawn_named("deaf", move |_| async move {
                let _guard = guard;
                core::future::pending::<()>().await;
                Ok(())
            })
            .detach();
            let guard = OnDrop(j.clone(), "unnamed");
            ctx.spawn(move |_| async move {
                let _guard = guard;
                core::future::pending::<()>().await;
                Ok(())
            })
            .detach();
            j.note("spawned");
            ctx.wait_for_stop().await;
            polite.await?;
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("spawned").await;
    let runtime = h.runtime();
    let begin = runtime.now();
    let report = gov.shutdown().await;
    assert_elapsed(h, runtime.now() - begin, 200 * MS);
    // Both dropped before `shutdown` returned.
    let all = notes.all();
    assert!(all.contains(&"drop:deaf".to_string()), "{all:?}");
    assert!(all.contains(&"drop:unnamed".to_string()), "{all:?}");
    let wedged = report.service("wedged").unwrap();
    assert!(wedged.timed_out);
    assert_eq!(wedged.last_outcome, Some(Outcome::Aborted));
    let named: Vec<&str> = wedged.aborted_tasks.iter().map(|n| &**n).collect();
    assert_eq!(named, ["deaf", "task #3"]);
    assert!(
        report.to_string().contains("aborted tasks: deaf, task #3"),
        "{report}"
    );
}

/// Ten thousand tasks in one run: every one runs, every awaited output
/// comes back, the detached ones are waited for, none is left.
pub async fn ten_thousand_tasks_are_all_accounted_for<H: Harness>(h: &H) {
    const N: usize = 10_000;
    let ran = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let gov = h.governor();
    let (r, e) = (ran.clone(), ended.clone());
    gov.add("many", move |ctx: ServiceCtx| {
        let (ran, ended) = (r.clone(), e.clone());
        async move {
            let mut handles = Vec::with_capacity(N / 2);
            for i in 0..N {
                let (ran, ended) = (ran.clone(), ended.clone());
                let handle = ctx.spawn(move |task| async move {
                    // Counted when the task's future is gone, however it ends.
                    let _ended = Count(ended);
                    ran.fetch_add(1, Ordering::Relaxed);
                    if i % 2 == 0 {
                        task.sleep(MS * (i % 7) as u32).await?;
                    } else {
                        // Detached: until the run's main future returns.
                        task.wait_for_stop().await;
                    }
                    Ok(i)
                });
                if i % 2 == 0 {
                    handles.push(handle);
                } else {
                    handle.detach();
                }
            }
            let mut sum = 0;
            for handle in handles {
                sum += handle.await?;
            }
            assert_eq!(sum, (0..N).step_by(2).sum::<usize>());
            Ok(())
        }
    })
    .unwrap()
    .critical();
    gov.start().unwrap();
    let report = gov.wait_for_shutdown().await;
    assert_eq!(ran.load(Ordering::Relaxed), N);
    // The detached tasks were asked to stop when the main future
    // returned: each ended before the run did.
    assert_eq!(ended.load(Ordering::Relaxed), N);
    let many = report.service("many").unwrap();
    assert_eq!(many.last_outcome, Some(Outcome::Completed));
    assert!(many.aborted_tasks.is_empty());
    assert!(report.is_clean(), "{report}");
}

/// A timeout that fires, one that does not, and one cut short by the
/// stop: each at its exact time, each telling which it was.
pub async fn timeout_fires_or_not_or_is_interrupted<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let gov = h.governor();
    let tt = t.clone();
    let rt = h.runtime();
    gov.add("timer", move |ctx: ServiceCtx| {
        let t = tt.clone();
        let rt = rt.clone();
        async move {
            t.mark("begin");
            let fired = ctx.timeout(50 * MS, core::future::pending::<()>()).await;
            assert_eq!(fired, Err(TimeoutError::Elapsed(50 * MS)));
            t.mark("fired");
            let kept = ctx.timeout(50 * MS, async move {
                rt.sleep(20 * MS).await;
                7
            });
            assert_eq!(kept.await, Ok(7));
            t.mark("kept");
            let cut = ctx.timeout(Duration::from_secs(60), core::future::pending::<()>());
            t.mark("waiting");
            assert_eq!(cut.await, Err(TimeoutError::Interrupted));
            t.mark("interrupted");
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("waiting").await;
    h.runtime().sleep(30 * MS).await;
    t.mark("asked");
    let asked = t.at("asked");
    let report = gov.shutdown().await;
    assert_elapsed(h, t.at("fired") - t.at("begin"), 50 * MS);
    assert_elapsed(h, t.at("kept") - t.at("fired"), 20 * MS);
    assert_elapsed(h, t.at("interrupted") - asked, Duration::ZERO);
    assert_eq!(
        report.service("timer").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
    // `?` on each: an elapsed deadline fails, an interrupted one is clean.
    assert!(ServiceError::from(TimeoutError::Elapsed(MS)).is_failure());
    assert!(ServiceError::from(TimeoutError::Interrupted).is_interrupted());
}

/// An interval ticks on a fixed grid from its creation; ticks missed
/// while the service was busy are skipped (the late one at once, then
/// the next grid point); a stop ends the wait at once; a zero period is
/// refused.
pub async fn interval_ticks_and_skips_missed_ticks<H: Harness>(h: &H) {
    let (t, mut notes) = timeline(h);
    let ticks: Arc<Mutex<Vec<(Duration, Duration)>>> = Arc::default();
    let gov = h.governor();
    let tt = t.clone();
    let seen = ticks.clone();
    let rt = h.runtime();
    gov.add("ticker", move |ctx: ServiceCtx| {
        let t = tt.clone();
        let seen = seen.clone();
        let rt = rt.clone();
        async move {
            assert!(matches!(
                ctx.interval(Duration::ZERO),
                Err(Error::ZeroPeriod)
            ));
            let mut every = ctx.interval(100 * MS)?;
            // The grid's origin: the first tick, due at once.
            let start = every.tick().await?;
            seen.lock()
                .unwrap()
                .push((Duration::ZERO, ctx.now() - start));
            for k in 1..5 {
                let at = every.tick().await?;
                seen.lock().unwrap().push((at - start, ctx.now() - start));
                if k == 1 {
                    // Busy past two ticks (200 and 300 ms).
                    rt.sleep(250 * MS).await;
                }
            }
            t.mark("ticked");
            let cut = every.tick();
            t.mark("waiting");
            cut.await?;
            t.mark("unreachable");
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("waiting").await;
    let report = gov.shutdown().await;
    let ticks = ticks.lock().unwrap().clone();
    let scheduled: Vec<Duration> = ticks.iter().map(|(at, _)| *at).collect();
    // 0, 100; busy until 350: the tick due at 200 comes late at once; 300 is
    // skipped; then 400 and 500 on the grid.
    assert_eq!(scheduled, [0, 100, 200, 400, 500].map(|ms| ms * MS));
    for (i, (at, when)) in ticks.iter().enumerate() {
        let expected = if i == 2 { 350 * MS } else { *at };
        assert_elapsed(h, *when, expected);
    }
    assert!(t.labels().iter().all(|l| l != "unreachable"));
    assert_eq!(
        report.service("ticker").unwrap().last_outcome,
        Some(Outcome::Completed)
    );
}
