//! The stop token next to tokio-util's `CancellationToken`, without any
//! runtime (futures are polled by hand with a counting waker, so that only
//! the tokens are measured):
//!
//! - `stopping`: the hot-path check (one atomic load);
//! - `register-wake`: a fresh token, its `cancelled()` future polled once
//!   (registers), the token cancelled (wakes it), polled again (ready);
//! - `cancel-1M-waiters`: the time `cancel()` takes to wake 1M futures
//!   parked on one token (it wakes them all before it returns).
//!
//! `cargo bench -p governor-bench --bench token`

#![allow(missing_docs)] // criterion_group! and criterion_main! generate undocumented fns

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use governor_core::StopSource;
use tokio_util::sync::CancellationToken;

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    (counter, waker)
}

const WAITERS: usize = 1_000_000;

fn tokens(c: &mut Criterion) {
    let mut g = c.benchmark_group("token/stopping");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let ours_source = StopSource::new();
    let ours = ours_source.token().clone();
    let theirs = CancellationToken::new();
    g.bench_function("ours", |b| b.iter(|| black_box(&ours).stopping()));
    g.bench_function("tokio-util", |b| {
        b.iter(|| black_box(&theirs).is_cancelled())
    });
    g.finish();

    let (_, waker) = counting_waker();
    let mut g = c.benchmark_group("token/register-wake");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("ours", |b| {
        let mut cx = Context::from_waker(&waker);
        b.iter(|| {
            let token = StopSource::new();
            let mut fut = pin!(token.token().wait_for_stop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            token.stop();
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        })
    });
    g.bench_function("tokio-util", |b| {
        let mut cx = Context::from_waker(&waker);
        b.iter(|| {
            let token = CancellationToken::new();
            let mut fut = pin!(token.cancelled());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            token.cancel();
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        })
    });
    g.finish();

    let (counter, waker) = counting_waker();
    let mut g = c.benchmark_group("token/cancel-1M-waiters");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("ours", |b| {
        let mut cx = Context::from_waker(&waker);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let token = StopSource::new();
                let mut futs: Vec<_> = (0..WAITERS)
                    .map(|_| Box::pin(token.token().wait_for_stop_owned()))
                    .collect();
                for f in &mut futs {
                    assert!(f.as_mut().poll(&mut cx).is_pending());
                }
                let before = counter.0.load(Ordering::Relaxed);
                let t0 = Instant::now();
                token.stop();
                total += t0.elapsed();
                assert_eq!(counter.0.load(Ordering::Relaxed) - before, WAITERS);
            }
            total
        })
    });
    g.bench_function("tokio-util", |b| {
        let mut cx = Context::from_waker(&waker);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let token = CancellationToken::new();
                let mut futs: Vec<_> = (0..WAITERS)
                    .map(|_| Box::pin(token.clone().cancelled_owned()))
                    .collect();
                for f in &mut futs {
                    assert!(f.as_mut().poll(&mut cx).is_pending());
                }
                let before = counter.0.load(Ordering::Relaxed);
                let t0 = Instant::now();
                token.cancel();
                total += t0.elapsed();
                assert_eq!(counter.0.load(Ordering::Relaxed) - before, WAITERS);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
