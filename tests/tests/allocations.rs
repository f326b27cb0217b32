//! Allocations per idle service, counted: what `add` allocates, and what
//! `start` allocates until the service runs (its supervisor task spawned
//! on the runtime, its run's token, ...), on tokio's current-thread
//! scheduler (one thread: every allocation counted is the governor's or
//! the runtime's). And what a zero-delay restart of a service nothing
//! depends on allocates: nothing (no walk of the dependency graph, no
//! boxed wait for followers it does not have).
//!
//! Counted by `dhat`'s global allocator, so this is a test binary of its
//! own, with one test (one profiler at a time). The bounds are today's
//! counts per service, plus a slack for the lists that grow by doubling
//! (the name index, the list of services): one allocation more per
//! service fails. The figures are in BENCHMARKS.md ("What a supervised
//! service is made of").

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor_core::{Governor, ServiceCtx, StopService};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Services added and started: enough that the lists' doublings are a
/// small slack beside one allocation per service.
const N: usize = 1000;
/// Allocations of the lists that grow by doubling, and of the start
/// itself, whatever N.
const SLACK: u64 = 64;

fn allocations() -> u64 {
    dhat::HeapStats::get().total_blocks
}

/// Prints a measured count when `GOVERNOR_LAYOUT` is set, as the core's
/// `layout` test prints its sizes (for the figures in BENCHMARKS.md).
fn show(counts: std::fmt::Arguments) {
    if std::env::var_os("GOVERNOR_LAYOUT").is_some() {
        eprintln!("{counts}");
    }
}

/// A governor on the current tokio runtime.
fn governor() -> Governor {
    Governor::new(governor_tokio::TokioRuntime::with_handle(
        tokio::runtime::Handle::current(),
    ))
}

#[test]
fn an_idle_service_allocates_little_and_a_restart_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    idle_services(&rt);
    zero_delay_restarts(&rt);
}

fn idle_services(rt: &tokio::runtime::Runtime) {
    let (at_add, at_start) = rt.block_on(async {
        let gov = governor();
        let running = Arc::new(AtomicUsize::new(0));
        let names: Vec<String> = (0..N).map(|i| format!("service-{i}")).collect();
        let before_add = allocations();
        for name in &names {
            let running = running.clone();
            gov.add(name.as_str(), move |ctx: ServiceCtx| {
                running.fetch_add(1, Ordering::Relaxed);
                async move {
                    ctx.wait_for_stop().await;
                    Ok(())
                }
            })
            .expect("add");
        }
        let before_start = allocations();
        gov.start().expect("start");
        while running.load(Ordering::Relaxed) < N {
            tokio::task::yield_now().await;
        }
        let started = allocations();
        let report = gov.shutdown().await;
        assert_eq!(report.services.len(), N);
        (before_start - before_add, started - before_start)
    });
    let n = N as u64;
    // Per service at `add`: the name, the record, the supervisor task.
    assert!(
        at_add <= 3 * n + SLACK,
        "add: {at_add} allocations for {N} services"
    );
    // Per service at `start`: the runtime's task, the run's token.
    assert!(
        at_start <= 2 * n + SLACK,
        "start: {at_start} allocations for {N} services"
    );
    show(format_args!(
        "add: {at_add}, start: {at_start} allocations for {N} services"
    ));
}

/// Allocations of a governor whose one service returns at once, restarted
/// with no delay until it has run `runs` times.
fn restarts_allocate(rt: &tokio::runtime::Runtime, runs: u64) -> u64 {
    rt.block_on(async {
        let gov = governor().restart(Duration::ZERO);
        let mut left = runs;
        let before = allocations();
        gov.add("restarter", move |_ctx| {
            left -= 1;
            let last = left == 0;
            async move {
                if last {
                    Err(StopService.into())
                } else {
                    Ok(())
                }
            }
        })
        .expect("add");
        gov.start().expect("start");
        let report = gov.wait_for_shutdown().await;
        assert_eq!(report.services[0].runs, runs);
        allocations() - before
    })
}

fn zero_delay_restarts(rt: &tokio::runtime::Runtime) {
    const FEW: u64 = 100;
    const MANY: u64 = 1100;
    let few = restarts_allocate(rt, FEW);
    let many = restarts_allocate(rt, MANY);
    show(format_args!(
        "{FEW} runs: {few}, {MANY} runs: {many} allocations"
    ));
    // The runs beyond the first FEW allocate nothing: one allocation per
    // restart more (the followers' walk, its boxed wait) fails.
    assert!(
        many <= few + SLACK,
        "{} restarts more cost {} allocations more",
        MANY - FEW,
        many.saturating_sub(few)
    );
}
