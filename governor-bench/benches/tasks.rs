//! Tasks and timeouts from a service's context next to the runtime's own,
//! on a tokio current-thread runtime and (spawn + join) a tokio
//! multi-thread runtime of two workers (issue 12):
//!
//! - `spawn-join`: `ctx.spawn(..)` of a task that returns at once, awaited,
//!   next to `tokio::spawn(..)` awaited (target ≤ 1.5×);
//! - `timeout`: `ctx.timeout(1 h, ready)` next to
//!   `tokio::time::timeout(1 h, ready)` (target ≤ 1.2×).
//!
//! Ours is measured inside a running service (a context exists only
//! there); the loop's time is taken inside it, so the service's start and
//! stop are not counted.
//!
//! `cargo bench -p governor-bench --bench tasks`

#![allow(missing_docs)] // criterion_group! and criterion_main! generate undocumented fns

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use governor_core::ServiceCtx;

const HOUR: Duration = Duration::from_secs(3600);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `iters` rounds of `round` inside one run of a service; returns
/// the time the rounds took.
fn in_service<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, round: F) -> Duration
where
    F: Fn(ServiceCtx, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Duration> + Send,
{
    rt.block_on(async move {
        let took: Arc<Mutex<Duration>> = Arc::default();
        let out = took.clone();
        let gov = governor_tokio::new().unwrap();
        gov.add("bench", move |ctx: ServiceCtx| {
            let round = round.clone();
            let out = out.clone();
            async move {
                *out.lock().unwrap() = round(ctx, iters).await;
                Ok(())
            }
        })
        .unwrap()
        .critical();
        gov.start().unwrap();
        gov.wait_for_shutdown().await;
        let took = *took.lock().unwrap();
        took
    })
}

/// Runs `fut` as a task of `rt` and returns its output.
fn in_task<Fut>(rt: &tokio::runtime::Runtime, fut: Fut) -> Duration
where
    Fut: std::future::Future<Output = Duration> + Send + 'static,
{
    rt.block_on(async move { tokio::spawn(fut).await.unwrap() })
}

/// `spawn-join` on `rt`, under `group`: ours, then tokio's, in one group
/// so that the ratio comes from one run.
fn spawn_join(c: &mut Criterion, group: &str, rt: &tokio::runtime::Runtime) {
    let mut g = c.benchmark_group(group);
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("ours", |b| {
        b.iter_custom(|iters| {
            in_service(rt, iters, |ctx, iters| async move {
                let begin = Instant::now();
                for i in 0..iters {
                    let handle = ctx.spawn(move |_| async move { Ok(black_box(i)) });
                    black_box(handle.await.unwrap());
                }
                begin.elapsed()
            })
        })
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            // In a spawned task, as the service's loop is (a future polled
            // by `block_on` itself is woken differently).
            in_task(rt, async move {
                let begin = Instant::now();
                for i in 0..iters {
                    let handle = tokio::spawn(async move { black_box(i) });
                    black_box(handle.await.unwrap());
                }
                begin.elapsed()
            })
        })
    });
    g.finish();
}

fn tasks(c: &mut Criterion) {
    let rt = runtime();
    spawn_join(c, "tasks/spawn-join", &rt);
    spawn_join(c, "tasks/spawn-join-mt", &multi_thread_runtime());

    let mut g = c.benchmark_group("tasks/timeout");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("ours", |b| {
        b.iter_custom(|iters| {
            in_service(&rt, iters, |ctx, iters| async move {
                let begin = Instant::now();
                for i in 0..iters {
                    black_box(ctx.timeout(HOUR, async { black_box(i) }).await.unwrap());
                }
                begin.elapsed()
            })
        })
    });
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, async move {
                let begin = Instant::now();
                for i in 0..iters {
                    black_box(
                        tokio::time::timeout(HOUR, async { black_box(i) })
                            .await
                            .unwrap(),
                    );
                }
                begin.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, tasks);
criterion_main!(benches);
