//! Soak: thousands of services with random faults, for a set time, on each
//! runtime; then a restart storm. Prints what ran and what was lost.
//!
//! ```text
//! cargo run -p governor-bench --release --bin soak              # full
//! cargo run -p governor-bench --release --bin soak -- --quick   # CI smoke
//! ```
//!
//! Options: `--quick`, `--seconds S` (per runtime), `--services N`,
//! `--storm RESTARTS`, `--churn SERVICES`,
//! `--runtime virtual|tokio|smol|async-std|all`.
//!
//! For every runtime it prints: services, runs, restarts, panics caught,
//! outcomes lost (runs begun minus `RunEnded` events; must be 0), and the
//! resident memory at the end of the run's first tenth (at least a second
//! in, once every service has started) and at its end: it may grow by at
//! most [`RSS_GROWTH_LIMIT_KIB`]. The storm restarts one service with zero
//! delay and no limit, and prints the resident memory after a tenth of the
//! restarts and after all of them, under the same limit.
//! The churn adds services that end for good and are forgotten
//! (`forget_when_ended`), 200,000 of them (20,000 quick), a batch at a
//! time, and checks that the governor's records come back to the baseline
//! and that resident memory stays flat from the end of the first tenth of
//! the churn to its end.
//! Exits 1 if anything was lost, a service did not end, memory grew past
//! the limit, or the churn kept records or memory.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor_core::runtime::Runtime;
use governor_core::{
    Event, Governor, RestartPolicy, ServiceCtx, ServiceError, ServiceResult, StopService,
};
use governor_test::VirtualRuntime;
use governor_tokio::TokioRuntime;

/// How much the resident memory may grow between the end of the first
/// tenth of a soak (or storm) and its end. Flat memory moves by a few KiB
/// (the quick form: 0 to 4 KiB). A leak of 100 bytes per run grows the
/// quick storm's by about 1.7 MiB (18,000 runs; checked once by leaking on
/// purpose), the full storm's (900,000 runs) by about 86 MiB. The quick
/// soak has only about 2,000 runs (a 1 KiB leak per run: +0.6 MiB, under
/// the limit); the full one about 75,000 (the same leak: about +70 MiB).
/// The full form measured flat (0 KiB) on every runtime.
const RSS_GROWTH_LIMIT_KIB: u64 = 1024;

struct Options {
    seconds: u64,
    services: usize,
    storm: u64,
    churn: u64,
    /// Run only the churn, on this runtime (the soak runs each runtime's
    /// churn in a child process of its own, so that memory freed by an
    /// earlier run cannot hide a leak from the resident-memory check).
    churn_child: Option<String>,
    runtimes: Vec<String>,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 20,
        services: 5000,
        storm: 1_000_000,
        churn: 200_000,
        churn_child: None,
        runtimes: ["virtual", "tokio", "smol", "async-std"]
            .map(String::from)
            .to_vec(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--quick" => {
                o.seconds = 2;
                o.services = 300;
                o.storm = 20_000;
                o.churn = 20_000;
            }
            "--churn" => {
                o.churn = value(i).parse().unwrap_or(o.churn);
                i += 1;
            }
            "--churn-child" => {
                o.churn_child = Some(value(i));
                i += 1;
            }
            "--seconds" => {
                o.seconds = value(i).parse().unwrap_or(o.seconds);
                i += 1;
            }
            "--services" => {
                o.services = value(i).parse().unwrap_or(o.services);
                i += 1;
            }
            "--storm" => {
                o.storm = value(i).parse().unwrap_or(o.storm);
                i += 1;
            }
            "--runtime" => {
                let r = value(i);
                if r != "all" {
                    o.runtimes = vec![r];
                }
                i += 1;
            }
            other => {
                eprintln!("soak: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    o
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[derive(Default)]
struct Counters {
    runs_begun: AtomicU64,
    panics_thrown: AtomicU64,
    stopped_events: AtomicU64,
    panicked_events: AtomicU64,
    restart_events: AtomicU64,
    gave_up_events: AtomicU64,
}

/// A small deterministic random source (xorshift64*).
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn faulty_service(
    seed: u64,
    counters: Arc<Counters>,
) -> impl FnMut(ServiceCtx) -> std::pin::Pin<Box<dyn Future<Output = ServiceResult> + Send>> + Send
{
    let mut rng = Rng(seed | 1);
    move |ctx| {
        counters.runs_begun.fetch_add(1, Ordering::Relaxed);
        let work = Duration::from_millis(1 + rng.below(50));
        let long = Duration::from_millis(100 + rng.below(2000));
        let action = rng.below(100);
        let counters = counters.clone();
        Box::pin(async move {
            ctx.sleep(work).await?;
            match action {
                0..=39 => Ok(()),
                40..=64 => Err(ServiceError::msg("random failure")),
                65..=79 => {
                    counters.panics_thrown.fetch_add(1, Ordering::Relaxed);
                    panic!("random panic")
                }
                80..=81 => Err(StopService.into()),
                82..=96 => {
                    // A longer run, ended by time or by the stop request.
                    ctx.sleep(long).await?;
                    Ok(())
                }
                _ => std::future::pending().await, // ignores its stop
            }
        })
    }
}

struct SoakResult {
    services: usize,
    runs: u64,
    restarts: u64,
    panics_caught: u64,
    panics_lost: u64,
    outcomes_lost: u64,
    not_ended: usize,
    rss_start: u64,
    rss_end: u64,
}

/// The soak on one runtime; `block_on` drives a future on it, `pause`
/// lets (real or virtual) time pass.
async fn soak(runtime: Arc<dyn Runtime>, o: &Options) -> SoakResult {
    let counters = Arc::new(Counters::default());
    let sink = counters.clone();
    let gov = Governor::new(runtime.clone())
        .shutdown_timeout(Duration::from_millis(200))
        .on_event(move |event| {
            let counter = match event {
                Event::RunEnded { .. } => &sink.stopped_events,
                Event::Panicked { .. } => &sink.panicked_events,
                Event::RestartScheduled { .. } => &sink.restart_events,
                Event::GaveUp { .. } => &sink.gave_up_events,
                _ => return,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        });
    let mut rng = Rng(0x5eed);
    for i in 0..o.services {
        let delay = Duration::from_millis(1 + rng.below(20));
        let policy = match rng.below(4) {
            0 => RestartPolicy::on_failure(delay),
            1 => RestartPolicy::always(delay).limit(50, Duration::from_secs(1)),
            _ => RestartPolicy::always(delay),
        };
        gov.add(
            format!("svc-{i}"),
            faulty_service(rng.next(), counters.clone()),
        )
        .expect("unique names")
        .restart_policy(policy);
    }
    gov.start().expect("starts");
    let total = Duration::from_secs(o.seconds.max(1));
    let first_tenth = (total / 10).max(Duration::from_secs(1));
    runtime.sleep(first_tenth).await;
    let rss_start = rss_kib();
    runtime
        .sleep(
            total
                .saturating_sub(first_tenth)
                .max(Duration::from_secs(1)),
        )
        .await;
    let rss_end = rss_kib();
    let report = gov.shutdown().await;
    let not_ended = report
        .services
        .iter()
        .filter(|s| !s.state.is_final())
        .count();
    let runs: u64 = report.services.iter().map(|s| s.runs).sum();
    let restarts: u64 = report.services.iter().map(|s| s.restarts).sum();
    let begun = counters.runs_begun.load(Ordering::Relaxed);
    let stopped = counters.stopped_events.load(Ordering::Relaxed);
    let thrown = counters.panics_thrown.load(Ordering::Relaxed);
    let caught = counters.panicked_events.load(Ordering::Relaxed);
    SoakResult {
        services: report.services.len(),
        runs,
        restarts,
        panics_caught: caught,
        panics_lost: thrown.saturating_sub(caught),
        outcomes_lost: begun.abs_diff(stopped) + begun.abs_diff(runs),
        not_ended,
        rss_start,
        rss_end,
    }
}

/// One service restarting with zero delay and no limit, `restarts` times.
async fn storm(runtime: Arc<dyn Runtime>, restarts: u64) -> (u64, u64, u64) {
    let gov = Governor::new(runtime).on_event(|_| {});
    let tenth = (restarts / 10).max(1);
    let rss_at_tenth = Arc::new(AtomicU64::new(0));
    let seen = rss_at_tenth.clone();
    let target = restarts + 1;
    let handle = gov
        .add("storm", move |ctx| {
            let seen = seen.clone();
            async move {
                let run = ctx.run();
                if run == tenth {
                    seen.store(rss_kib(), Ordering::Relaxed);
                }
                if run >= target {
                    return Err(StopService.into());
                }
                Err(ServiceError::msg("instant failure"))
            }
        })
        .unwrap()
        .restart(Duration::ZERO)
        .handle();
    gov.start().unwrap();
    let report = handle.wait().await;
    let rss_end = rss_kib();
    gov.shutdown().await;
    (
        report.restarts,
        rss_at_tenth.load(Ordering::Relaxed),
        rss_end,
    )
}

fn main() {
    // Thousands of deliberate panics: keep stderr readable.
    std::panic::set_hook(Box::new(|_| {}));
    let o = options();
    if let Some(name) = &o.churn_child {
        std::process::exit(if churn_on(name, o.churn) { 0 } else { 1 });
    }
    let mut failed = false;
    println!(
        "{:<9} {:>8} {:>10} {:>10} {:>8} {:>6} {:>6} {:>10} {:>10}",
        "runtime",
        "services",
        "runs",
        "restarts",
        "panics",
        "lost",
        "stuck",
        "rss_start",
        "rss_end"
    );
    for name in &o.runtimes {
        let begin = Instant::now();
        let (result, storm_result) = match name.as_str() {
            "virtual" => {
                let rt = VirtualRuntime::new();
                let runtime: Arc<dyn Runtime> = Arc::new(rt.clone());
                let r = rt.block_on(soak(runtime.clone(), &o));
                let s = rt.block_on(storm(runtime, o.storm));
                rt.shutdown();
                (r, s)
            }
            "tokio" => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                let runtime: Arc<dyn Runtime> =
                    Arc::new(TokioRuntime::with_handle(rt.handle().clone()));
                let r = rt.block_on(soak(runtime.clone(), &o));
                let s = rt.block_on(storm(runtime, o.storm));
                (r, s)
            }
            "smol" => {
                let runtime: Arc<dyn Runtime> = Arc::new(governor_smol::SmolRuntime::new());
                let r = smol::block_on(soak(runtime.clone(), &o));
                let s = smol::block_on(storm(runtime, o.storm));
                (r, s)
            }
            "async-std" => {
                let runtime: Arc<dyn Runtime> = Arc::new(governor_std::AsyncStdRuntime::new());
                let r = async_std::task::block_on(soak(runtime.clone(), &o));
                let s = async_std::task::block_on(storm(runtime, o.storm));
                (r, s)
            }
            other => {
                eprintln!("soak: no runtime named {other:?}");
                std::process::exit(2);
            }
        };
        let lost = result.outcomes_lost + result.panics_lost;
        println!(
            "{:<9} {:>8} {:>10} {:>10} {:>8} {:>6} {:>6} {:>8}KiB {:>8}KiB   ({:.1?})",
            name,
            result.services,
            result.runs,
            result.restarts,
            result.panics_caught,
            lost,
            result.not_ended,
            result.rss_start,
            result.rss_end,
            begin.elapsed()
        );
        let (restarts, rss_tenth, rss_end) = storm_result;
        println!(
            "{:<9} storm: {restarts} restarts with zero delay; rss after a tenth {rss_tenth}KiB, at the end {rss_end}KiB",
            name
        );
        if lost > 0 || result.not_ended > 0 || restarts != o.storm {
            failed = true;
        }
        for (what, first, last) in [
            ("soak", result.rss_start, result.rss_end),
            ("storm", rss_tenth, rss_end),
        ] {
            let growth = last.saturating_sub(first);
            if growth > RSS_GROWTH_LIMIT_KIB {
                println!(
                    "{name:<9} {what}: rss grew by {growth}KiB from the first tenth to the end \
                     (limit {RSS_GROWTH_LIMIT_KIB}KiB)"
                );
                failed = true;
            }
        }
    }
    for name in &o.runtimes {
        failed |= !churn_in_child(name, o.churn);
    }
    if failed {
        println!("soak: FAILED (outcomes lost, services stuck, a short storm, memory growth, or records kept)");
        std::process::exit(1);
    }
    println!("soak: ok");
}

// Churn: services that end for good and are forgotten ---------------------

/// What [`churn`] saw.
struct ChurnResult {
    ended: u64,
    outcomes_lost: u64,
    records_before: usize,
    records_after: usize,
    rss_first_tenth: u64,
    rss_end: u64,
}

/// How much resident memory may grow between the end of the first tenth
/// of the churn and its end, in KiB: allocator noise, far below what keeping the
/// records of eight tenths of the churn would cost (about 350 bytes per
/// record, 5.5 MiB for the 16,000 of the quick form).
const CHURN_RSS_SLACK_KIB: u64 = 2048;

/// Adds `count` services that end at once (cleanly or with an error) and
/// are forgotten, `BATCH` at a time, each under a name of its own, each
/// depending on one long-lived service.
async fn churn(runtime: Arc<dyn Runtime>, count: u64) -> ChurnResult {
    const BATCH: u64 = 500;
    let stopped = Arc::new(AtomicU64::new(0));
    let sink = stopped.clone();
    let gov = Governor::new(runtime).on_event(move |event| {
        if let Event::RunEnded { .. } = event {
            sink.fetch_add(1, Ordering::Relaxed);
        }
    });
    gov.add("keeper", |ctx| async move {
        ctx.wait_for_stop().await;
        Ok(())
    })
    .unwrap();
    gov.start().unwrap();
    let records_before = gov.report().services.len();
    let tenth = (count / 10).max(1);
    let mut rss_first_tenth = 0;
    let mut ended = 0;
    let mut next = 0;
    while next < count {
        let batch = BATCH.min(count - next);
        let handles: Vec<_> = (next..next + batch)
            .map(|i| {
                let config = gov
                    .add(format!("job-{i}"), move |_ctx| async move {
                        if i % 3 == 0 {
                            Err(ServiceError::msg("job failed"))
                        } else {
                            Ok(())
                        }
                    })
                    .expect("a fresh name")
                    // Its record must leave the keeper's dependents too.
                    .depends_on(["keeper"])
                    .forget_when_ended();
                let handle = config.handle();
                config.start().expect("starts");
                handle
            })
            .collect();
        for handle in handles {
            if handle.wait().await.last_outcome.is_some() {
                ended += 1;
            }
        }
        next += batch;
        if next >= tenth && rss_first_tenth == 0 {
            rss_first_tenth = rss_kib();
        }
    }
    let rss_end = rss_kib();
    let records_after = gov.report().services.len();
    gov.shutdown().await;
    ChurnResult {
        ended,
        // The keeper's outcome is not the churn's.
        outcomes_lost: count.abs_diff(stopped.load(Ordering::Relaxed).saturating_sub(1)),
        records_before,
        records_after,
        rss_first_tenth,
        rss_end,
    }
}

/// Runs [`churn_on`] in a child process (this program, with
/// `--churn-child`); `false` if it failed.
fn churn_in_child(name: &str, count: u64) -> bool {
    let status = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .args(["--churn", &count.to_string(), "--churn-child", name])
            .status()
    });
    match status {
        Ok(status) => status.success(),
        Err(e) => {
            println!("{name:<9} churn: cannot run the child process: {e}  FAILED");
            false
        }
    }
}

/// Runs [`churn`] on the runtime called `name`, prints what it saw;
/// `false` if it kept records or memory, or lost an outcome.
fn churn_on(name: &str, count: u64) -> bool {
    let r = match name {
        "virtual" => {
            let rt = VirtualRuntime::new();
            let r = rt.block_on(churn(Arc::new(rt.clone()), count));
            rt.shutdown();
            r
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let runtime = Arc::new(TokioRuntime::with_handle(rt.handle().clone()));
            rt.block_on(churn(runtime, count))
        }
        "smol" => smol::block_on(churn(Arc::new(governor_smol::SmolRuntime::new()), count)),
        "async-std" => {
            async_std::task::block_on(churn(Arc::new(governor_std::AsyncStdRuntime::new()), count))
        }
        other => {
            println!("soak: no runtime named {other:?}");
            return false;
        }
    };
    let grown = r.rss_end.saturating_sub(r.rss_first_tenth);
    let ok = r.ended == count
        && r.outcomes_lost == 0
        && r.records_after == r.records_before
        && grown <= CHURN_RSS_SLACK_KIB;
    println!(
        "{name:<9} churn: {} forgotten services ended, {} outcomes lost; records {} before, {} after; \
         rss after the first tenth {}KiB, at the end {}KiB (grew {grown}KiB, at most {CHURN_RSS_SLACK_KIB}KiB){}",
        r.ended,
        r.outcomes_lost,
        r.records_before,
        r.records_after,
        r.rss_first_tenth,
        r.rss_end,
        if ok { "" } else { "  FAILED" }
    );
    ok
}
