//! loom models of the stop token and its source: every interleaving of
//! cancel with waiter registration, child creation and handle drops.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p governor-core --test loom_token --release`
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use futures_util::task::noop_waker_ref;
use governor_core::StopSource;
use loom::thread;

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
    let name = std::thread::current().name().unwrap_or("model").to_owned();
    std::println!(
        "loom: {name}: {} interleavings",
        runs.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn cancel_racing_a_waiter_never_loses_the_wake_up() {
    model(|| {
        let source = StopSource::new();
        let waiter = {
            let token = source.token().clone();
            thread::spawn(move || loom::future::block_on(token.wait_for_stop()))
        };
        source.stop();
        waiter.join().unwrap();
    });
}

#[test]
fn cancel_racing_child_creation_reaches_the_child() {
    model(|| {
        let source = StopSource::new();
        let creator = {
            let token = source.token().clone();
            thread::spawn(move || {
                let child = token.child();
                loom::future::block_on(child.wait_for_stop());
                assert!(child.stopping());
            })
        };
        source.stop();
        creator.join().unwrap();
    });
}

#[test]
fn cancel_racing_a_dropped_middle_token_still_reaches_the_leaf() {
    model(|| {
        let root = StopSource::new();
        let middle = root.token().child();
        let leaf = middle.token().child();
        let dropper = thread::spawn(move || drop(middle));
        let canceller = {
            let root = root.clone();
            thread::spawn(move || root.stop())
        };
        dropper.join().unwrap();
        assert!(canceller.join().unwrap());
        assert!(leaf.stopping());
    });
}

#[test]
fn dropping_a_registered_waiter_racing_cancel_is_safe() {
    model(|| {
        let token = StopSource::new();
        let other = token.token().clone();
        let waiter = thread::spawn(move || {
            let mut fut = pin!(other.wait_for_stop());
            let mut cx = Context::from_waker(noop_waker_ref());
            // Registers (or sees the cancel already), then is dropped.
            let _ = fut.as_mut().poll(&mut cx);
        });
        token.stop();
        waiter.join().unwrap();
        assert!(matches!(
            pin!(token.wait_for_stop()).poll(&mut Context::from_waker(noop_waker_ref())),
            Poll::Ready(())
        ));
    });
}

#[test]
fn concurrent_cancels_cancel_once() {
    model(|| {
        let token = StopSource::new();
        let child = token.token().child();
        let a = {
            let token = token.clone();
            thread::spawn(move || token.stop())
        };
        let b = token.stop();
        let a = a.join().unwrap();
        assert!(a ^ b, "exactly one cancel reports that it cancelled");
        assert!(child.stopping());
    });
}

#[test]
fn cancel_races_waiters_child_creation_and_drops_at_once() {
    model(|| {
        let root = StopSource::new();
        let middle = root.token().child();
        let leaf = middle.token().child();
        let waiter = {
            let leaf = leaf.token().clone();
            thread::spawn(move || loom::future::block_on(leaf.wait_for_stop()))
        };
        let creator = {
            let middle = middle.token().clone();
            thread::spawn(move || {
                let late = middle.child();
                drop(middle);
                loom::future::block_on(late.wait_for_stop());
            })
        };
        drop(middle);
        root.stop();
        waiter.join().unwrap();
        creator.join().unwrap();
        assert!(leaf.stopping());
    });
}
