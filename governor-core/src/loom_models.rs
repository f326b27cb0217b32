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

use crate::activity::Activity;
use crate::event::Event;
use crate::runtime::{BoxSleep, BoxTask, Runtime};
use crate::slot::Slot;
use crate::supervisor_task::{supervisor_task, BoxLaunch};
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
        let activity = Arc::new(Activity::default());
        let published = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        activity.enter();
        activity.enter();
        let leavers: alloc::vec::Vec<_> = (0..2)
            .map(|_| {
                let activity = activity.clone();
                let published = published.clone();
                thread::spawn(move || {
                    activity.leave(|| published.store(true, Ordering::SeqCst));
                })
            })
            .collect();
        loom::future::block_on(activity.wait_idle(|| None));
        assert_eq!(activity.live(), 0);
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
        let launch: BoxLaunch = supervisor_task((), |(), _| async {});
        let slot = Arc::new(Slot::new("svc".into(), Some(launch)));
        let starter = {
            let slot = slot.clone();
            thread::spawn(move || {
                slot.take_launch();
                slot.begin_run(None, Duration::ZERO); // not `notify_ready`: ready at once
            })
        };
        loom::future::block_on(slot.watch(|view| view.ready.then_some(())));
        starter.join().unwrap();
    });
}

#[test]
fn stop_racing_a_run_start_always_cancels_the_run() {
    model(|| {
        let launch: BoxLaunch = supervisor_task((), |(), _| async {});
        let slot = Arc::new(Slot::new("svc".into(), Some(launch)));
        slot.take_launch();
        let stopper = {
            let slot = slot.clone();
            thread::spawn(move || slot.stop())
        };
        let (token, _) = slot.begin_run(None, Duration::ZERO);
        assert!(stopper.join().unwrap(), "the first stop does it");
        assert!(
            token.stopping(),
            "a run begun around a stop is asked to stop"
        );
        assert!(!slot.stop(), "a second stop does nothing");
        // A watcher of the flag (a restart delay's) sees it too.
        loom::future::block_on(slot.watch(|view| view.stopped.then_some(())));
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
