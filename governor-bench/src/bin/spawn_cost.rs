//! Instructions per spawn + join: `ctx.spawn` inside a service next to
//! `tokio::spawn`, counted by callgrind, so that the ratio does not move
//! with the machine's load (issue 12's spawn target; BENCHMARKS.md,
//! "Tasks and timeouts from a service's context").
//!
//! ```text
//! cargo build --release -p governor-bench --bin spawn_cost
//! target/release/spawn_cost             # runs itself under valgrind, prints the table
//! target/release/spawn_cost ours 30000  # one variant, N rounds (what valgrind runs)
//! ```
//!
//! Each variant runs N rounds of "spawn a task that returns its number,
//! await its handle" in a task of a tokio current-thread runtime:
//!
//! - **ours**: `ctx.spawn` inside a running service;
//! - **tokio**: `tokio::spawn` in a spawned task;
//! - **tokio+2**: `tokio::spawn` of a boxed future that holds an `Arc`
//!   of the size of ours' task cell: tokio plus the two allocations that
//!   ours makes besides the runtime's (the box `Runtime::spawn` takes,
//!   and the cell the task shares with its handle). It is the floor of
//!   ours as long as the core spawns through a type-erased runtime
//!   without `unsafe`.
//!
//! Per round = (instructions at 30k rounds − at 10k) / 20k, so that the
//! process's start-up and the runtime's are left out. Each run checks the
//! sum of the outputs, so that a variant cannot do less than it says.

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;

use governor_core::ServiceCtx;

const VARIANTS: [&str; 3] = ["ours", "tokio", "tokio+2"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => table(),
        [variant, rounds] => {
            let rounds: u64 = rounds.parse().expect("rounds: a number");
            let sum = run(variant, rounds);
            assert_eq!(sum, rounds * (rounds.saturating_sub(1)) / 2, "{variant}");
        }
        _ => {
            eprintln!("usage: spawn_cost [{} ROUNDS]", VARIANTS.join("|"));
            std::process::exit(2);
        }
    }
}

/// The sum of the N outputs, each round's number.
fn run(variant: &str, rounds: u64) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match variant {
        "ours" => rt.block_on(async move {
            let sum = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let out = sum.clone();
            let gov = governor_tokio::new().expect("a governor");
            gov.add("spawner", move |ctx: ServiceCtx| {
                let out = out.clone();
                async move {
                    let mut sum = 0;
                    for i in 0..rounds {
                        let handle = ctx.spawn(move |_| async move { Ok(black_box(i)) });
                        sum += black_box(handle.await?);
                    }
                    out.store(sum, std::sync::atomic::Ordering::Relaxed);
                    Ok(())
                }
            })
            .expect("add")
            .critical();
            gov.start().expect("start");
            let report = gov.wait_for_shutdown().await;
            assert!(report.is_clean(), "{report}");
            sum.load(std::sync::atomic::Ordering::Relaxed)
        }),
        "tokio" => rt.block_on(async move {
            tokio::spawn(async move {
                let mut sum = 0;
                for i in 0..rounds {
                    let handle = tokio::spawn(async move { black_box(i) });
                    sum += black_box(handle.await.expect("joined"));
                }
                sum
            })
            .await
            .expect("joined")
        }),
        "tokio+2" => rt.block_on(async move {
            tokio::spawn(async move {
                let mut sum = 0;
                for i in 0..rounds {
                    // About the size of ours' cell for a `u64` output.
                    let shared = Arc::new([i; 18]);
                    let held = shared.clone();
                    let task: std::pin::Pin<Box<dyn std::future::Future<Output = u64> + Send>> =
                        Box::pin(async move { black_box(held[0]) });
                    sum += black_box(tokio::spawn(task).await.expect("joined"));
                    drop(shared);
                }
                sum
            })
            .await
            .expect("joined")
        }),
        other => panic!("unknown variant {other}; one of {VARIANTS:?}"),
    }
}

/// Runs every variant under callgrind at 10k and 30k rounds; prints
/// instructions per round and the ratio to tokio's.
fn table() {
    let exe = std::env::current_exe().expect("own path");
    let count = |variant: &str, rounds: u64| -> f64 {
        let out = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(&exe)
            .args([variant, &rounds.to_string()])
            .output()
            .expect("valgrind on PATH (apt-get install valgrind)");
        assert!(out.status.success(), "{variant} {rounds}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        stderr
            .lines()
            .find_map(|line| line.split("Collected : ").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no instruction count in:\n{stderr}"))
    };
    let per_round: Vec<f64> = VARIANTS
        .iter()
        .map(|v| (count(v, 30_000) - count(v, 10_000)) / 20_000.0)
        .collect();
    println!("| variant | instructions per spawn + join | / tokio |\n|---|---:|---:|");
    for (variant, n) in VARIANTS.iter().zip(&per_round) {
        println!("| {variant} | {n:.0} | {:.2}× |", n / per_round[1]);
    }
}
