//! loom models of the core's hand-made synchronisation beyond the token
//! (which has its own in `tests/loom_token.rs`): completion counting,
//! readiness watching and shutdown-once.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p governor-core --lib --release loom_models`

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use crate::event::Event;
use crate::live_count::LiveCount;
use crate::record::Record;
use crate::runtime::{BoxSleep, BoxTask, Runtime};
use crate::supervisor_task::{supervisor_task, PendingSupervisor};
use crate::Governor;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    // Counts the interleavings explored, for the record.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    let name = alloc::string::String::from(std::thread::current().name().unwrap_or("model"));
    std::println!(
        "loom: {name}: {} interleavings",
        runs.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// A runtime that runs nothing: the models drive the core by hand.
struct Inert;

impl Runtime for Inert {
    fn spawn(&self, task: BoxTask) {
        drop(task);
    }
    fn sleep(&self, _: Duration) -> BoxSleep {
        Box::pin(core::future::pending())
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

#[test]
fn the_last_leave_publishes_before_a_waiter_sees_idle() {
    model(|| {
        let live_count = Arc::new(LiveCount::default());
        let published = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        live_count.enter();
        live_count.enter();
        let leavers: alloc::vec::Vec<_> = (0..2)
            .map(|_| {
                let live_count = live_count.clone();
                let published = published.clone();
                thread::spawn(move || {
                    live_count.leave(|| published.store(true, Ordering::SeqCst));
                })
            })
            .collect();
        loom::future::block_on(live_count.wait_idle(|| None));
        assert_eq!(live_count.count(), 0);
        assert!(
            published.load(Ordering::SeqCst),
            "idle only after publishing"
        );
        for leaver in leavers {
            leaver.join().unwrap();
        }
    });
}

#[test]
fn readiness_racing_a_watcher_is_never_missed() {
    model(|| {
        let launch: PendingSupervisor = supervisor_task((), |(), _| async {});
        let record = Arc::new(Record::new("svc".into(), Some(launch)));
        let starter = {
            let record = record.clone();
            thread::spawn(move || {
                record.take_launch();
                record.begin_run(None, Duration::ZERO); // not `notify_ready`: ready at once
            })
        };
        loom::future::block_on(record.watch(|view| view.ready.then_some(())));
        starter.join().unwrap();
    });
}

#[test]
fn stop_racing_a_run_start_always_cancels_the_run() {
    model(|| {
        let launch: PendingSupervisor = supervisor_task((), |(), _| async {});
        let record = Arc::new(Record::new("svc".into(), Some(launch)));
        record.take_launch();
        let stopper = {
            let record = record.clone();
            thread::spawn(move || record.stop())
        };
        let token = record
            .begin_run(None, Duration::ZERO)
            .expect("not held")
            .stop;
        assert!(stopper.join().unwrap(), "the first stop does it");
        assert!(
            token.stopping(),
            "a run begun around a stop is asked to stop"
        );
        assert!(!record.stop(), "a second stop does nothing");
        // A watcher of the flag (a restart delay's) sees it too.
        loom::future::block_on(record.watch(|view| view.stopped.then_some(())));
    });
}

#[test]
fn concurrent_shutdown_requests_shut_down_once() {
    model(|| {
        let requested = Arc::new(AtomicUsize::new(0));
        let seen = requested.clone();
        let gov = Governor::new(Inert).on_event(move |event| {
            if matches!(event, Event::ShutdownRequested { .. }) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        let other = {
            let gov = gov.clone();
            thread::spawn(move || gov.request_shutdown())
        };
        let mine = gov.request_shutdown();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "exactly one request starts the shutdown");
        assert!(gov.stopping());
        assert_eq!(requested.load(Ordering::SeqCst), 1);
    });
}
