//! The performance programs of governor, apart from its tests: the
//! criterion benchmarks (`benches/`), the scale program
//! (`src/bin/scale.rs`) and the soak program (`src/bin/soak.rs`).
//!
//! [`perf`] holds the workloads the benchmarks and the scale program share,
//! each next to its baselines (the runtime alone, and
//! `tokio-graceful-shutdown`). `BENCHMARKS.md` says how to run them and
//! what they measured; `benches/run-all.sh` regenerates its tables.

pub mod perf;
