//! The conformance suite of governor's runtime adapters, run on each of
//! them and on the deterministic virtual-time runtime of `governor-test`
//! (through its public API only: the suite proves that API too).
//!
//! Every case in [`cases`] is written once, generic over a [`Harness`],
//! and instantiated for each runtime in [`runtimes`] by one line in
//! `tests/<runtime>.rs`:
//!
//! ```ignore
//! governor_conformance::conformance_suite!(virtual_time, governor_conformance::runtimes::Virtual::new());
//! ```
//!
//! so `cargo test` prints the same case names once per runtime, as
//! `<runtime>::<case>`.
//!
//! The adapters themselves are checked the same way, each check written
//! once: [`runtime_contract`](mod@runtime_contract) holds what every
//! [`Runtime`] implementation must do, call by call, instantiated by
//! `runtime_contract!` in `tests/<adapter>_contract.rs`;
//! [`run_contract`](mod@run_contract) holds what every adapter's `run` and
//! `run_async` must do, instantiated by `run_contract!` in
//! `tests/run_contract.rs`.
//!
//! [`Harness`]: harness::Harness
//! [`Runtime`]: governor_core::runtime::Runtime

//!
//! Without the `std` feature (on by default) governor-core is built
//! without `std`: the runtimes other than the virtual one are gone, and
//! only the cases that need no `std` remain (listed by
//! [`for_each_nostd_case!`]); `governor-nostd-check` runs them so.
//!
//! The benchmarks, the scale and the soak programs live in their own
//! crate, `governor-bench`.

pub mod cases;
#[cfg(feature = "std")]
pub mod example_binary;
pub mod harness;
#[cfg(feature = "std")]
pub mod programs;
#[cfg(feature = "std")]
pub mod run_contract;
#[cfg(feature = "std")]
pub mod runtime_contract;
pub mod runtimes;
pub mod support;

/// The workspace README's Rust examples, compiled as doc tests so they
/// cannot rot. Here, in a crate that is never published, rather than in an
/// adapter: a published crate's doc tests cannot reach a file outside its
/// package.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
