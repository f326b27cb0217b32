//! What an idle service holds, pinned: the sizes of the supervisor task a
//! service is spawned as (one allocation, built at `add`), of the
//! supervising future inside it, of its record and of what the record
//! and the future are made of. Each is an upper bound equal to today's
//! size: a change that grows one fails here, and is either undone or
//! written down (here, in `record.rs`'s Layout section and in
//! BENCHMARKS.md) with what it buys.
//!
//! The service measured is the idle service of the benchmarks
//! (`governor-bench`'s `ours_cycle`): a closure whose future waits for
//! its stop. 64-bit targets only (the figures are bytes there), and not
//! under loom or miri (see `lib.rs`).

#![cfg(target_pointer_width = "64")]

use core::mem::size_of;

use crate::context::ServiceCtx;
use crate::record::Record;
use crate::service::Service;
use crate::supervisor::{supervise, AsyncRunner};
use crate::supervisor_task::{future_size, task_size};

/// The sizes of the supervisor task and of the supervising future for
/// `service`.
fn supervisor_sizes<S: Service>(_service: &S) -> (usize, usize) {
    (
        task_size(supervise::<AsyncRunner<S>>),
        future_size(supervise::<AsyncRunner<S>>),
    )
}

/// Prints the figures with `cargo test -p governor-core layout -- --nocapture`
/// when `GOVERNOR_LAYOUT` is set (for the breakdown in BENCHMARKS.md).
fn show(what: &str, bytes: usize) {
    #[cfg(feature = "std")]
    if std::env::var_os("GOVERNOR_LAYOUT").is_some() {
        std::eprintln!("{what}: {bytes} B");
    }
    let _ = (what, bytes);
}

#[test]
fn an_idle_service_stays_small() {
    let service = |ctx: ServiceCtx| async move {
        ctx.wait_for_stop().await;
        Ok(())
    };
    let (task, future) = supervisor_sizes(&service);
    let service_future = size_of_output(&service);
    show("supervisor task", task);
    show("supervising future", future);
    show("the service's own future", service_future);
    show("record", size_of::<Record>());
    show("service context", size_of::<ServiceCtx>());
    // The service's own future: its context (88) and its wait (24), as
    // written by the user; not ours to shrink, but the sum depends on it.
    assert_eq!(service_future, 120, "the service's own future");
    assert!(future <= 376, "supervising future: {future} B");
    assert!(task <= 392, "supervisor task: {task} B");
    // Its watchers are boxed on the first watch (`LazyWaitList`): most
    // services are never watched, and 184 + 16 (the `Arc`'s counts) fills
    // an allocator chunk of 208 bytes where 224 + 16 took 256.
    assert!(
        size_of::<Record>() <= 184,
        "record: {} B",
        size_of::<Record>()
    );
    // A run's token node: 104 + 16 (the `Arc`'s counts) fills an
    // allocator chunk of 128 bytes, where 112 + 16 took 144.
    show("token node", crate::token::node_size());
    assert!(
        crate::token::node_size() <= 104,
        "token node: {} B",
        crate::token::node_size()
    );
    assert!(
        size_of::<ServiceCtx>() <= 88,
        "service context: {} B",
        size_of::<ServiceCtx>()
    );
}

/// The size of the future `service` returns.
fn size_of_output<F, Fut>(_service: &F) -> usize
where
    F: FnMut(ServiceCtx) -> Fut,
{
    size_of::<Fut>()
}
