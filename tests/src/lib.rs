//! The conformance suite of governor's runtime adapters, and the
//! deterministic virtual-time runtime it also runs against.
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
//! [`Harness`]: harness::Harness

//!
//! Without the `std` feature (on by default) governor-core is built
//! without `std`: the runtimes other than the virtual one are gone, and
//! only the cases that need no `std` remain (listed by
//! [`for_each_nostd_case!`]); `governor-nostd-check` runs them so.
//!
//! The benchmarks, the scale and the soak programs live in their own
//! crate, `governor-bench`.

pub mod cases;
pub mod harness;
pub mod runtimes;
pub mod support;
pub mod virtual_time;
