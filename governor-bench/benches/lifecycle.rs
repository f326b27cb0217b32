//! Start, stop, restart and sleep on every runtime, each next to its
//! baselines in the same run: the raw runtime and (on tokio) the peers
//! tokio-graceful-shutdown (`tgs`), task-supervisor (`tsup`) and
//! taskvisor (`tvisor`). The workloads live in
//! `governor_bench::perf`, shared with the scale program.
//!
//! `cargo bench -p governor-bench --bench lifecycle [-- FILTER]`
//!
//! Ids are `<what>/<runtime>/<variant>`; start and stop report time per
//! service (throughput in services per second) at N = 10k. Restart and
//! sleep report time per restart / per call.

#![allow(missing_docs)] // criterion_group! and criterion_main! generate undocumented fns

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use governor_bench::perf::{
    self, AsyncStd, BenchRuntime, Cycle, Smol, TokioCurrent, TokioFlavour, TokioMulti,
};

const N: usize = 10_000;

fn cycles<F: FnMut() -> Cycle>(iters: u64, mut cycle: F, pick: fn(&Cycle) -> Duration) -> Duration {
    (0..iters).map(|_| pick(&cycle())).sum()
}

fn start(c: &Cycle) -> Duration {
    c.start
}

fn stop(c: &Cycle) -> Duration {
    c.stop
}

/// The benches of one runtime; `peers` adds the tokio-only peers.
fn on<R: BenchRuntime>(c: &mut Criterion, rt: &R, peers: Option<&dyn Peers>) {
    perf::warm_up(rt);
    for (what, pick) in [("start", start as fn(&Cycle) -> Duration), ("stop", stop)] {
        let mut g = c.benchmark_group(format!("{what}/{}", R::NAME));
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(N as u64));
        g.bench_function("ours", |b| {
            b.iter_custom(|iters| cycles(iters, || perf::ours_cycle(rt, N), pick))
        });
        g.bench_function("raw", |b| {
            b.iter_custom(|iters| cycles(iters, || perf::raw_cycle(rt, N), pick))
        });
        if let Some(peers) = peers {
            for peer in PEERS {
                g.bench_function(peer, |b| {
                    b.iter_custom(|iters| cycles(iters, || peers.cycle(peer, N), pick))
                });
            }
        }
        g.finish();
    }

    let mut g = c.benchmark_group(format!("restart/{}", R::NAME));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("ours", |b| b.iter_custom(|m| perf::ours_restarts(rt, m)));
    g.bench_function("raw-loop-yield", |b| {
        b.iter_custom(|m| perf::raw_restarts(rt, m))
    });
    if let Some(peers) = peers {
        g.bench_function("tgs-keepalive", |b| {
            b.iter_custom(|m| peers.restarts("tgs", m))
        });
        for peer in ["tsup", "tvisor"] {
            g.bench_function(peer, |b| b.iter_custom(|m| peers.restarts(peer, m)));
        }
    }
    g.finish();

    let mut g = c.benchmark_group(format!("sleep/{}", R::NAME));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    // tokio's sleep(0) waits for the next 1 ms tick: nothing to compare
    // there but the tick.
    if !R::NAME.starts_with("tokio") {
        g.bench_function("zero/ours", |b| {
            b.iter_custom(|m| perf::ours_sleeps(rt, m, Duration::ZERO))
        });
        g.bench_function("zero/raw", |b| {
            b.iter_custom(|m| perf::raw_sleeps(rt, m, Duration::ZERO))
        });
    }
    g.bench_function("register-drop/ours", |b| {
        b.iter_custom(|m| perf::ours_sleep_registrations(rt, m))
    });
    g.bench_function("register-drop/raw", |b| {
        b.iter_custom(|m| perf::raw_sleep_registrations(rt, m))
    });
    g.finish();
}

/// The tokio-only peers, by bench id.
const PEERS: [&str; 3] = ["tgs", "tsup", "tvisor"];

trait Peers {
    fn cycle(&self, peer: &str, n: usize) -> Cycle;
    fn restarts(&self, peer: &str, m: u64) -> Duration;
}

impl<T: TokioFlavour> Peers for T {
    fn cycle(&self, peer: &str, n: usize) -> Cycle {
        match peer {
            "tgs" => perf::tgs_cycle(self, n),
            "tsup" => perf::tsup_cycle(self, n),
            "tvisor" => perf::tvisor_cycle(self, n),
            other => unreachable!("no peer {other}"),
        }
    }
    fn restarts(&self, peer: &str, m: u64) -> Duration {
        match peer {
            "tgs" => perf::tgs_restarts(self, m),
            "tsup" => perf::tsup_restarts(self, m),
            "tvisor" => perf::tvisor_restarts(self, m),
            other => unreachable!("no peer {other}"),
        }
    }
}

fn tokio_multi(c: &mut Criterion) {
    let rt = TokioMulti::new();
    on(c, &rt, Some(&rt));
}

fn tokio_current(c: &mut Criterion) {
    let rt = TokioCurrent::new();
    on(c, &rt, Some(&rt));
}

fn smol(c: &mut Criterion) {
    on(c, &Smol::new(), None);
}

fn async_std(c: &mut Criterion) {
    on(c, &AsyncStd::new(), None);
}

criterion_group!(benches, tokio_multi, tokio_current, smol, async_std);
criterion_main!(benches);
