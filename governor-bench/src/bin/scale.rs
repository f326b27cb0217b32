//! The scale program: start, stop and memory per service at N = 10k, 100k
//! and 1M, restarts, token and sleep, for every runtime, next to the raw
//! runtime and (on tokio) the peers tokio-graceful-shutdown,
//! task-supervisor and taskvisor — each measurement in a fresh
//! child process (this program re-executed), so that RSS deltas are clean.
//!
//! ```text
//! scale                 # full run: N = 10k, 100k, 1M; 3 repetitions; plain tables
//! scale --markdown      # the same, as the generated section of BENCHMARKS.md
//! scale --quick         # tiny N, one repetition, no targets: a smoke test
//! scale --n 10000 --runtimes tokio-mt,smol --reps 5
//! ```
//!
//! Medians of the repetitions are reported. Criterion (`cargo bench -p
//! governor-bench`) covers the same workloads at N = 10k with
//! statistics; this program covers the sizes criterion is not made for.

use std::collections::BTreeMap;
use std::future::Future;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use governor_bench::perf::{
    self, AsyncStd, BenchRuntime, Smol, TokioCurrent, TokioFlavour, TokioMulti, RUNTIMES,
};

struct Options {
    quick: bool,
    markdown: bool,
    /// Where criterion left its results, to summarise them too.
    criterion: Option<std::path::PathBuf>,
    ns: Vec<usize>,
    runtimes: Vec<String>,
    reps: usize,
    restarts: u64,
    tgs_restarts: u64,
    tsup_restarts: u64,
    sleeps: u64,
    waiters: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let opts = parse(&args);
    let mut results = Results::default();
    measure(&opts, &mut results);
    if opts.markdown {
        print_markdown(&opts, &results);
    } else {
        print_plain(&opts, &results);
    }
}

fn parse(args: &[String]) -> Options {
    let mut opts = Options {
        quick: false,
        markdown: false,
        criterion: None,
        ns: vec![10_000, 100_000, 1_000_000],
        runtimes: RUNTIMES.iter().map(|s| s.to_string()).collect(),
        reps: 3,
        restarts: 1_000_000,
        tgs_restarts: 100_000,
        tsup_restarts: TSUP_RESTARTS,
        sleeps: 200_000,
        waiters: 1_000_000,
    };
    let mut it = args.iter();
    let mut ns_set = false;
    let mut reps_set = false;
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(arg)).clone();
        match arg.as_str() {
            "--quick" => opts.quick = true,
            "--markdown" => opts.markdown = true,
            "--criterion" => opts.criterion = Some(value().into()),
            "--n" => {
                opts.ns = value()
                    .split(',')
                    .map(|s| s.parse().unwrap_or_else(|_| usage(arg)))
                    .collect();
                ns_set = true;
            }
            "--runtimes" => opts.runtimes = value().split(',').map(str::to_string).collect(),
            "--reps" => {
                opts.reps = value().parse().unwrap_or_else(|_| usage(arg));
                reps_set = true;
            }
            _ => usage(arg),
        }
    }
    if opts.quick {
        if !ns_set {
            opts.ns = vec![100, 1000];
        }
        if !reps_set {
            opts.reps = 1;
        }
        opts.restarts = 1000;
        opts.tgs_restarts = 100;
        opts.tsup_restarts = 100;
        opts.sleeps = 1000;
        opts.waiters = 1000;
    }
    for rt in &opts.runtimes {
        if !RUNTIMES.contains(&rt.as_str()) {
            eprintln!("unknown runtime {rt:?}; known: {}", RUNTIMES.join(", "));
            std::process::exit(2);
        }
    }
    opts
}

fn usage(arg: &str) -> ! {
    eprintln!("scale: bad argument {arg:?}");
    eprintln!(
        "usage: scale [--quick] [--markdown] [--criterion DIR] [--n N,N..] [--runtimes {}] [--reps R]",
        RUNTIMES.join(",")
    );
    std::process::exit(2);
}

// ---------------------------------------------------------------------------
// Child side: one measurement in a fresh process.

fn child(args: &[String]) {
    let [what, runtime, variant, count] = args else {
        panic!("child: expected <what> <runtime> <variant> <count>, got {args:?}");
    };
    let count: u64 = count.parse().expect("count");
    match runtime.as_str() {
        "tokio-mt" => child_on(&TokioMulti::new(), what, variant, count),
        "tokio-ct" => child_on(&TokioCurrent::new(), what, variant, count),
        "smol" => child_on(&Smol::new(), what, variant, count),
        "async-std" => child_on(&AsyncStd::new(), what, variant, count),
        other => panic!("unknown runtime {other}"),
    }
}

/// The peers (tgs, tsup, tvisor) run on tokio only.
const PEERS: [&str; 3] = ["tgs", "tsup", "tvisor"];

/// Restarts measured for task-supervisor: its zero-delay restart goes
/// through a tokio timer set to "now", which fires on the timer's next
/// 1 ms tick, so 1M would take a quarter of an hour or more.
const TSUP_RESTARTS: u64 = 10_000;

trait MaybePeers: BenchRuntime {
    fn peer_cycle(&self, peer: &str, _n: usize) -> perf::Cycle {
        panic!("{peer} runs on tokio only")
    }
    fn peer_restarts(&self, peer: &str, _m: u64) -> Duration {
        panic!("{peer} runs on tokio only")
    }
}

fn tokio_peer_cycle(rt: &impl TokioFlavour, peer: &str, n: usize) -> perf::Cycle {
    match peer {
        "tgs" => perf::tgs_cycle(rt, n),
        "tsup" => perf::tsup_cycle(rt, n),
        "tvisor" => perf::tvisor_cycle(rt, n),
        other => panic!("unknown variant {other}"),
    }
}

fn tokio_peer_restarts(rt: &impl TokioFlavour, peer: &str, m: u64) -> Duration {
    match peer {
        "tgs" => perf::tgs_restarts(rt, m),
        "tsup" => perf::tsup_restarts(rt, m),
        "tvisor" => perf::tvisor_restarts(rt, m),
        other => panic!("unknown variant {other}"),
    }
}

impl MaybePeers for TokioMulti {
    fn peer_cycle(&self, peer: &str, n: usize) -> perf::Cycle {
        tokio_peer_cycle(self, peer, n)
    }
    fn peer_restarts(&self, peer: &str, m: u64) -> Duration {
        tokio_peer_restarts(self, peer, m)
    }
}
impl MaybePeers for TokioCurrent {
    fn peer_cycle(&self, peer: &str, n: usize) -> perf::Cycle {
        tokio_peer_cycle(self, peer, n)
    }
    fn peer_restarts(&self, peer: &str, m: u64) -> Duration {
        tokio_peer_restarts(self, peer, m)
    }
}
impl MaybePeers for Smol {}
impl MaybePeers for AsyncStd {}

fn child_on<R: MaybePeers>(rt: &R, what: &str, variant: &str, count: u64) {
    perf::warm_up(rt);
    match what {
        "cycle" => {
            let n = count as usize;
            let c = match variant {
                "ours" => perf::ours_cycle(rt, n),
                "raw" => perf::raw_cycle(rt, n),
                peer => rt.peer_cycle(peer, n),
            };
            println!(
                "RESULT {} {} {}",
                c.start.as_nanos(),
                c.stop.as_nanos(),
                c.rss_delta.unwrap_or(-1)
            );
        }
        "restart" => {
            let d = match variant {
                "ours" => perf::ours_restarts(rt, count),
                "raw" => perf::raw_restarts(rt, count),
                peer => rt.peer_restarts(peer, count),
            };
            println!("RESULT {}", d.as_nanos());
        }
        "sleep" => {
            let d = match variant {
                "ours" => perf::ours_sleeps(rt, count, Duration::ZERO),
                "raw" => perf::raw_sleeps(rt, count, Duration::ZERO),
                "ours-reg" => perf::ours_sleep_registrations(rt, count),
                "raw-reg" => perf::raw_sleep_registrations(rt, count),
                other => panic!("unknown variant {other}"),
            };
            println!("RESULT {}", d.as_nanos());
        }
        other => panic!("unknown measurement {other}"),
    }
}

/// Runs one child; the numbers it printed.
fn run_child(what: &str, runtime: &str, variant: &str, count: u64) -> Vec<f64> {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--child", what, runtime, variant, &count.to_string()])
        .output()
        .expect("run a child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("RESULT "));
    match (out.status.success(), line) {
        (true, Some(line)) => line
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().expect("a number"))
            .collect(),
        _ => panic!(
            "child {what} {runtime} {variant} {count} failed ({}):\n{}\n{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

// ---------------------------------------------------------------------------
// Parent side.

/// Medians, keyed by (runtime, N, variant).
#[derive(Default)]
struct Results {
    /// Per service: start ns, stop ns, RSS bytes.
    cycle: BTreeMap<(String, usize, &'static str), [f64; 3]>,
    /// ns per restart (or per raw loop iteration).
    restart: BTreeMap<(String, &'static str), f64>,
    /// ns per sleep call (`ours`, `raw`: sleep(0) awaited; `-reg`: a long
    /// sleep polled once and dropped).
    sleep: BTreeMap<(String, &'static str), f64>,
    /// ns per `stopping()`: ours, tokio-util.
    stopping: [f64; 2],
    /// ns to cancel a token with `waiters` waiting futures: ours, tokio-util.
    cancel_waiters: [f64; 2],
    /// ns per `cancelled()` registration + wake: ours, tokio-util.
    register_wake: [f64; 2],
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn variants(runtime: &str) -> &'static [&'static str] {
    if runtime.starts_with("tokio") {
        &["ours", "raw", "tgs", "tsup", "tvisor"]
    } else {
        &["ours", "raw"]
    }
}

/// How many restarts a variant is measured over.
fn restarts_of(opts: &Options, variant: &str) -> u64 {
    match variant {
        "tgs" => opts.tgs_restarts,
        "tsup" => opts.tsup_restarts,
        _ => opts.restarts,
    }
}

fn measure(opts: &Options, results: &mut Results) {
    for rt in &opts.runtimes {
        for &n in &opts.ns {
            let mut samples: BTreeMap<&'static str, Vec<[f64; 3]>> = BTreeMap::new();
            for _ in 0..opts.reps {
                // Interleaved, so that drift hits every variant alike.
                for &variant in variants(rt) {
                    let v = run_child("cycle", rt, variant, n as u64);
                    let per = [v[0] / n as f64, v[1] / n as f64, v[2] / n as f64];
                    samples.entry(variant).or_default().push(per);
                }
            }
            for (variant, s) in samples {
                let col = |i: usize| median(s.iter().map(|x| x[i]).collect());
                results
                    .cycle
                    .insert((rt.clone(), n, variant), [col(0), col(1), col(2)]);
            }
            eprintln!("scale: {rt} N={n} done");
        }
        let mut restart: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        let mut sleep: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
        for _ in 0..opts.reps {
            for &variant in variants(rt) {
                let m = restarts_of(opts, variant);
                let v = run_child("restart", rt, variant, m);
                restart.entry(variant).or_default().push(v[0] / m as f64);
            }
            for variant in ["ours", "raw", "ours-reg", "raw-reg"] {
                // tokio's sleep(0) waits for the next timer tick (1 ms).
                let m = if rt.starts_with("tokio") && !variant.ends_with("-reg") {
                    (opts.sleeps / 200).max(10)
                } else {
                    opts.sleeps
                };
                let v = run_child("sleep", rt, variant, m);
                sleep.entry(variant).or_default().push(v[0] / m as f64);
            }
        }
        for (variant, s) in restart {
            results.restart.insert((rt.clone(), variant), median(s));
        }
        for (variant, s) in sleep {
            results.sleep.insert((rt.clone(), variant), median(s));
        }
        eprintln!("scale: {rt} restarts and sleeps done");
    }
    measure_tokens(opts, results);
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// `StopToken::stopping`, kept out of line so that its machine code
/// can be read (`objdump -d --disassemble=scale::ours_is_cancelled`): one
/// load (an acquire load is a plain `mov` on x86-64).
#[inline(never)]
pub fn ours_is_cancelled(token: &governor_core::StopToken) -> bool {
    token.stopping()
}

/// tokio-util's `CancellationToken::is_cancelled`, likewise.
#[inline(never)]
pub fn theirs_is_cancelled(token: &tokio_util::sync::CancellationToken) -> bool {
    token.is_cancelled()
}

fn measure_tokens(opts: &Options, results: &mut Results) {
    use governor_core::StopSource;
    use tokio_util::sync::CancellationToken;
    let reps = opts.reps.max(1);

    // stopping on a hot path.
    let loops: u64 = if opts.quick { 100_000 } else { 200_000_000 };
    let ours_source = StopSource::new();
    let ours = ours_source.token();
    let theirs = CancellationToken::new();
    let time_loop = |f: &dyn Fn() -> bool| {
        let t0 = Instant::now();
        for _ in 0..loops {
            black_box(f());
        }
        t0.elapsed().as_nanos() as f64 / loops as f64
    };
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..reps {
        a.push(time_loop(&|| ours_is_cancelled(black_box(ours))));
        b.push(time_loop(&|| theirs_is_cancelled(black_box(&theirs))));
    }
    results.stopping = [median(a), median(b)];

    // cancelled(): register (first poll) + cancel + wake + ready.
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let rounds: u32 = if opts.quick { 1000 } else { 2_000_000 };
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..reps {
        let t0 = Instant::now();
        for _ in 0..rounds {
            let token = StopSource::new();
            let mut fut = std::pin::pin!(token.token().wait_for_stop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            token.stop();
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        }
        a.push(t0.elapsed().as_nanos() as f64 / rounds as f64);
        let t0 = Instant::now();
        for _ in 0..rounds {
            let token = CancellationToken::new();
            let mut fut = std::pin::pin!(token.cancelled());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            token.cancel();
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        }
        b.push(t0.elapsed().as_nanos() as f64 / rounds as f64);
    }
    results.register_wake = [median(a), median(b)];

    // Cancel a token with `waiters` futures parked on it: time of
    // `cancel()`, which wakes every one of them before it returns.
    let n = opts.waiters;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..reps {
        let token = StopSource::new();
        let mut futs: Vec<_> = (0..n)
            .map(|_| Box::pin(token.token().wait_for_stop_owned()))
            .collect();
        for f in &mut futs {
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        let before = counter.0.load(Ordering::Relaxed);
        let t0 = Instant::now();
        token.stop();
        a.push(t0.elapsed().as_nanos() as f64);
        assert_eq!(counter.0.load(Ordering::Relaxed) - before, n);
        drop(futs);

        let token = CancellationToken::new();
        let mut futs: Vec<_> = (0..n)
            .map(|_| Box::pin(token.clone().cancelled_owned()))
            .collect();
        for f in &mut futs {
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        let before = counter.0.load(Ordering::Relaxed);
        let t0 = Instant::now();
        token.cancel();
        b.push(t0.elapsed().as_nanos() as f64);
        assert_eq!(counter.0.load(Ordering::Relaxed) - before, n);
        drop(futs);
    }
    results.cancel_waiters = [median(a), median(b)];
    eprintln!("scale: tokens done");
}

// ---------------------------------------------------------------------------
// Output.

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn fmt_bytes(b: f64) -> String {
    if b.abs() >= 1024.0 {
        format!("{:.2} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

fn fmt_n(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// One table: rows of cells, with a header; markdown or aligned text.
fn table(markdown: bool, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    if markdown {
        out += &format!("| {} |\n", header.join(" | "));
        out += &format!(
            "|{}\n",
            header
                .iter()
                .enumerate()
                .map(|(i, _)| if i < 2 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for row in rows {
            out += &format!("| {} |\n", row.join(" | "));
        }
    } else {
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                + "\n"
        };
        out += &line(header.to_vec());
        for row in rows {
            out += &line(row.iter().map(String::as_str).collect());
        }
    }
    out
}

/// Titled tables.
type Tables = Vec<(String, String)>;
/// (target, met, what was measured).
type Verdicts = Vec<(String, bool, String)>;

/// The tables and the target verdicts from the results.
fn render(opts: &Options, r: &Results) -> (Tables, Verdicts) {
    let md = opts.markdown;
    let mut tables = Vec::new();
    let mut verdicts: Verdicts = Vec::new();
    let dash = || "–".to_string();
    let names = ["start", "stop", "memory"];
    for (k, what) in names.iter().enumerate() {
        let fmt = |v: f64| if k == 2 { fmt_bytes(v) } else { fmt_ns(v) };
        let mut rows = Vec::new();
        for rt in &opts.runtimes {
            for &n in &opts.ns {
                let get = |v: &'static str| r.cycle.get(&(rt.clone(), n, v)).map(|x| x[k]);
                let (Some(ours), Some(raw)) = (get("ours"), get("raw")) else {
                    continue;
                };
                let mut row = vec![rt.clone(), fmt_n(n), fmt(ours), fmt(raw)];
                row.extend(PEERS.map(|p| get(p).map(fmt).unwrap_or_else(dash)));
                row.push(ratio(ours, raw));
                row.extend(PEERS.map(|p| get(p).map(|t| ratio(t, ours)).unwrap_or_else(dash)));
                rows.push(row);
            }
        }
        let per = if k == 2 { "B" } else { "time" };
        tables.push((
            format!("{what} ({per} per service, median of {})", opts.reps),
            table(
                md,
                &[
                    "runtime",
                    "N",
                    "ours",
                    "raw",
                    "tgs",
                    "tsup",
                    "tvisor",
                    "ours/raw",
                    "tgs/ours",
                    "tsup/ours",
                    "tvisor/ours",
                ],
                &rows,
            ),
        ));
    }
    // Restarts.
    let mut rows = Vec::new();
    for rt in &opts.runtimes {
        let get = |v: &'static str| r.restart.get(&(rt.clone(), v)).copied();
        let (Some(ours), Some(raw)) = (get("ours"), get("raw")) else {
            continue;
        };
        let mut row = vec![rt.clone(), fmt_ns(ours), fmt_ns(raw)];
        row.extend(PEERS.map(|p| get(p).map(fmt_ns).unwrap_or_else(dash)));
        row.push(ratio(ours, raw));
        row.extend(PEERS.map(|p| get(p).map(|t| ratio(t, ours)).unwrap_or_else(dash)));
        rows.push(row);
    }
    tables.push((
        format!(
            "restart with zero delay (time per restart; ours, raw and tvisor over {}, tgs over {}, tsup over {})",
            fmt_n(opts.restarts as usize),
            fmt_n(opts.tgs_restarts as usize),
            fmt_n(opts.tsup_restarts as usize)
        ),
        table(
            md,
            &[
                "runtime",
                "ours",
                "raw loop + yield (spawned)",
                "tgs keep-alive",
                "tsup (fail, delay 0)",
                "tvisor (fail, backoff 0)",
                "ours/raw",
                "tgs/ours",
                "tsup/ours",
                "tvisor/ours",
            ],
            &rows,
        ),
    ));
    // Sleep.
    let mut rows = Vec::new();
    for rt in &opts.runtimes {
        let get = |v: &'static str| r.sleep.get(&(rt.clone(), v)).copied();
        let (Some(ours), Some(raw)) = (get("ours"), get("raw")) else {
            continue;
        };
        let (Some(ours_reg), Some(raw_reg)) = (get("ours-reg"), get("raw-reg")) else {
            continue;
        };
        rows.push(vec![
            rt.clone(),
            fmt_ns(ours),
            fmt_ns(raw),
            ratio(ours, raw),
            fmt_ns(ours_reg),
            fmt_ns(raw_reg),
            ratio(ours_reg, raw_reg),
        ]);
    }
    tables.push((
        format!(
            "sleep per call, {} calls in a row ({} for tokio's sleep(0), which waits for a 1 ms timer tick): `sleep(0)` awaited; `sleep(1 h)` polled once (registered) and dropped",
            fmt_n(opts.sleeps as usize),
            fmt_n((opts.sleeps / 200).max(10) as usize)
        ),
        table(
            md,
            &[
                "runtime",
                "ctx.sleep(0)",
                "runtime sleep(0)",
                "ours/raw",
                "ctx.sleep(1 h) reg+drop",
                "runtime sleep(1 h) reg+drop",
                "ours/raw",
            ],
            &rows,
        ),
    ));
    // Tokens.
    let rows = vec![
        vec![
            "`stopping()`".to_string(),
            fmt_ns(r.stopping[0]),
            fmt_ns(r.stopping[1]),
            ratio(r.stopping[0], r.stopping[1]),
        ],
        vec![
            "`cancelled()` register + cancel + wake".to_string(),
            fmt_ns(r.register_wake[0]),
            fmt_ns(r.register_wake[1]),
            ratio(r.register_wake[0], r.register_wake[1]),
        ],
        vec![
            format!("cancel with {} waiters", fmt_n(opts.waiters)),
            fmt_ns(r.cancel_waiters[0]),
            fmt_ns(r.cancel_waiters[1]),
            ratio(r.cancel_waiters[0], r.cancel_waiters[1]),
        ],
    ];
    tables.push((
        "stop token vs tokio-util's CancellationToken".into(),
        table(
            md,
            &["operation", "StopToken", "CancellationToken", "ours/theirs"],
            &rows,
        ),
    ));

    // Targets (issue 17), each computed from the numbers above.
    if !opts.quick {
        targets(opts, r, &mut verdicts);
    }
    (tables, verdicts)
}

/// Issue 17's targets: memory per idle service ≤ 640 B on every runtime;
/// start and stop ≤ 2× raw on every runtime and N; stop linear in N on
/// tokio-mt; zero-delay restart ≤ 2× the raw loop on every runtime; ahead
/// of every peer by ≥ 3× on start, stop, memory and restart on both tokio
/// schedulers.
fn targets(opts: &Options, r: &Results, verdicts: &mut Verdicts) {
    let cycle = |rt: &str, n: usize, v: &'static str, k: usize| {
        r.cycle.get(&(rt.to_string(), n, v)).map(|x| x[k])
    };
    for rt in &opts.runtimes {
        let mut worst = f64::NEG_INFINITY;
        let mut detail = Vec::new();
        for &n in &opts.ns {
            if let Some(o) = cycle(rt, n, "ours", 2) {
                worst = worst.max(o);
                detail.push(format!("{} {}", fmt_n(n), fmt_bytes(o)));
            }
        }
        if !detail.is_empty() {
            verdicts.push((
                format!("memory ≤ 640 B per idle service at every N, {rt}"),
                worst <= 640.0,
                detail.join(", "),
            ));
        }
    }
    for (k, what) in ["start", "stop"].iter().enumerate() {
        for rt in &opts.runtimes {
            let mut worst = 0.0f64;
            let mut detail = Vec::new();
            for &n in &opts.ns {
                if let (Some(o), Some(w)) = (cycle(rt, n, "ours", k), cycle(rt, n, "raw", k)) {
                    worst = worst.max(o / w);
                    detail.push(format!("{} {:.2}×", fmt_n(n), o / w));
                }
            }
            if !detail.is_empty() {
                verdicts.push((
                    format!("{what} ≤ 2× raw at every N, {rt}"),
                    worst <= 2.0,
                    detail.join(", "),
                ));
            }
        }
    }
    let lo = opts.ns.iter().min().copied().unwrap_or(0);
    let hi = opts.ns.iter().max().copied().unwrap_or(0);
    let mt = TokioMulti::NAME;
    if let (Some(a), Some(b)) = (cycle(mt, lo, "ours", 1), cycle(mt, hi, "ours", 1)) {
        if hi > lo {
            verdicts.push((
                format!(
                    "stop linear: {} within 1.3× of {} per service, {mt}",
                    fmt_n(hi),
                    fmt_n(lo)
                ),
                b / a <= 1.3,
                format!("{:.2}×", b / a),
            ));
        }
    }
    for rt in &opts.runtimes {
        let get = |v: &'static str| r.restart.get(&(rt.clone(), v)).copied();
        if let (Some(o), Some(w)) = (get("ours"), get("raw")) {
            verdicts.push((
                format!("zero-delay restart ≤ 2× the raw loop in a spawned task, {rt}"),
                o <= 2.0 * w,
                format!("{:.2}×", o / w),
            ));
        }
    }
    // Ahead of every peer: peer / ours ≥ 3 for each measure, at every N.
    for rt in opts.runtimes.iter().filter(|rt| rt.starts_with("tokio")) {
        for (k, what) in ["start", "stop", "memory"].iter().enumerate() {
            let mut met = true;
            let mut detail = Vec::new();
            for peer in PEERS {
                let mut least = f64::INFINITY;
                for &n in &opts.ns {
                    if let (Some(o), Some(p)) = (cycle(rt, n, "ours", k), cycle(rt, n, peer, k)) {
                        least = least.min(p / o);
                    }
                }
                if least.is_finite() {
                    met &= least >= 3.0;
                    detail.push(format!("{peer} {least:.2}×"));
                }
            }
            if !detail.is_empty() {
                verdicts.push((
                    format!("{what} ≥ 3× ahead of every peer at every N (least peer/ours), {rt}"),
                    met,
                    detail.join(", "),
                ));
            }
        }
        let get = |v: &'static str| r.restart.get(&(rt.clone(), v)).copied();
        let mut met = true;
        let mut detail = Vec::new();
        for peer in PEERS {
            if let (Some(o), Some(p)) = (get("ours"), get(peer)) {
                met &= p / o >= 3.0;
                detail.push(format!("{peer} {:.2}×", p / o));
            }
        }
        if !detail.is_empty() {
            verdicts.push((
                format!("restart ≥ 3× ahead of every peer (peer/ours), {rt}"),
                met,
                detail.join(", "),
            ));
        }
    }
}

fn print_plain(opts: &Options, r: &Results) {
    let (tables, verdicts) = render(opts, r);
    for (title, t) in tables {
        println!("== {title}\n{t}");
    }
    if let Some(dir) = &opts.criterion {
        println!("== criterion medians ({})", dir.display());
        println!("{}", criterion_table(false, &criterion_medians(dir)));
    }
    if !verdicts.is_empty() {
        println!("== targets");
        for (what, met, detail) in verdicts {
            println!("{:8} {what}: {detail}", if met { "met" } else { "NOT MET" });
        }
    }
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// The medians criterion recorded under `dir` (`<id>/new/benchmark.json`
/// and `estimates.json`), per element where the bench has a throughput.
fn criterion_medians(dir: &std::path::Path) -> BTreeMap<String, f64> {
    fn field<'a>(json: &'a str, after: &str, key: &str) -> Option<&'a str> {
        let start = json.find(after)? + after.len();
        let rest = &json[start..];
        let at = rest.find(key)? + key.len();
        let value = rest[at..].trim_start_matches([':', ' ', '"']);
        let end = value.find([',', '}', '"']).unwrap_or(value.len());
        Some(&value[..end])
    }
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|n| n != "base" && n != "report")
                {
                    stack.push(path);
                }
                continue;
            }
            if path.file_name().is_none_or(|n| n != "benchmark.json")
                || path
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_none_or(|n| n != "new")
            {
                continue;
            }
            let (Ok(bench), Ok(estimates)) = (
                std::fs::read_to_string(&path),
                std::fs::read_to_string(path.with_file_name("estimates.json")),
            ) else {
                continue;
            };
            let (Some(id), Some(median)) = (
                field(&bench, "", "\"full_id\""),
                field(&estimates, "\"median\"", "\"point_estimate\"")
                    .and_then(|m| m.parse::<f64>().ok()),
            ) else {
                continue;
            };
            let per = field(&bench, "\"throughput\"", "\"Elements\"")
                .and_then(|e| e.parse::<f64>().ok())
                .unwrap_or(1.0);
            out.insert(id.to_string(), median / per);
        }
    }
    out
}

/// A table of the criterion medians: one row per benchmark group, ours
/// next to its baselines.
fn criterion_table(markdown: bool, medians: &BTreeMap<String, f64>) -> String {
    let mut groups: BTreeMap<&str, BTreeMap<&str, f64>> = BTreeMap::new();
    for (id, &median) in medians {
        if let Some((group, variant)) = id.rsplit_once('/') {
            groups.entry(group).or_default().insert(variant, median);
        }
    }
    let mut rows = Vec::new();
    for (group, v) in &groups {
        let Some(&ours) = v.get("ours") else {
            continue;
        };
        let base = ["raw", "raw-loop-yield", "tokio-util"]
            .iter()
            .find_map(|b| v.get(b).copied());
        let tgs = ["tgs", "tgs-keepalive"]
            .iter()
            .find_map(|b| v.get(b).copied());
        let peers = [tgs, v.get("tsup").copied(), v.get("tvisor").copied()];
        let mut row = vec![
            group.to_string(),
            fmt_ns(ours),
            base.map(fmt_ns).unwrap_or_else(|| "–".into()),
        ];
        row.extend(peers.map(|p| p.map(fmt_ns).unwrap_or_else(|| "–".into())));
        row.push(base.map(|b| ratio(ours, b)).unwrap_or_else(|| "–".into()));
        row.extend(peers.map(|p| p.map(|t| ratio(t, ours)).unwrap_or_else(|| "–".into())));
        rows.push(row);
    }
    table(
        markdown,
        &[
            "benchmark",
            "ours",
            "baseline",
            "tgs",
            "tsup",
            "tvisor",
            "ours/baseline",
            "tgs/ours",
            "tsup/ours",
            "tvisor/ours",
        ],
        &rows,
    )
}

fn print_markdown(opts: &Options, r: &Results) {
    let (tables, verdicts) = render(opts, r);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "Machine: {} CPUs (`nproc`), {cpu}; {}; load average before the run: {}.\n",
        command_output("nproc", &[]),
        command_output("rustc", &["-V"]),
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "?".into()),
    );
    println!("Runtimes: `tokio-mt` = tokio multi-thread, 2 workers; `tokio-ct` = tokio current-thread; `smol` = smol's global executor (1 thread, the default); `async-std` = its global runtime. `tgs` = tokio-graceful-shutdown 0.20, `tsup` = task-supervisor 0.5, `tvisor` = taskvisor 0.8 (peers, tokio only).\n");
    for (title, t) in tables {
        println!("#### {title}\n\n{t}");
    }
    if let Some(dir) = &opts.criterion {
        let medians = criterion_medians(dir);
        if !medians.is_empty() {
            println!("#### Criterion (N = 10k for start and stop; time per service, per restart, per call or per operation; medians)\n");
            println!("{}", criterion_table(true, &medians));
        }
    }
    if !verdicts.is_empty() {
        println!("#### Targets\n");
        println!("| target | met? | measured |\n|---|---|---|");
        for (what, met, detail) in verdicts {
            println!(
                "| {what} | {} | {detail} |",
                if met { "met" } else { "**not met**" }
            );
        }
        println!();
    }
}
