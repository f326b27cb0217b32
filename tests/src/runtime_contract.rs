//! The contract every [`Runtime`] adapter keeps, written once and checked
//! on every real runtime the conformance suite runs on.
//!
//! The conformance [`cases`](crate::cases) test the governor *through* an
//! adapter; these checks test the adapter itself, call by call: that a
//! spawned task runs (and keeps running once its handle is gone, and does
//! not take the executor down when it panics), that a sleep and the
//! reusable [`Timer`](governor_core::runtime::Timer) wait at least as long
//! as asked and count from when they are armed, that [`Runtime::now`]
//! starts near zero and moves forward, that blocking work runs on another
//! thread, that every call works from a plain thread that no runtime knows
//! about, and that shutdown signals arrive.
//!
//! Each check is a function generic over a [`Harness`] (the same harnesses
//! as the conformance suite), instantiated per runtime by one line in
//! `tests/<adapter>_contract.rs`:
//!
//! ```ignore
//! governor_conformance::runtime_contract!(smol_global, governor_conformance::runtimes::SmolGlobal::new());
//! ```
//!
//! Checks specific to one adapter (tokio's paused clock, its handle, smol's
//! explicit executor accessor) stay in that adapter's crate.
//!
//! Real-time checks only bound times from below (a sleep never ends
//! early): an upper bound on a shared CI machine could not tell a slow
//! machine from a broken timer. Every wait is bounded by the harness's
//! case timeout, so a hang fails instead of stalling.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use governor_core::runtime::{BoxTimer, Runtime, Signal};
use governor_core::{Outcome, ServiceState};
use smol::channel;

use crate::harness::Harness;

/// Runs every contract check as a `#[test]` against the harness `$make`
/// builds, in a module named `$runtime`.
#[macro_export]
macro_rules! runtime_contract {
    ($runtime:ident, $make:expr) => {
        mod $runtime {
            $crate::__runtime_contract_checks!(
                $make,
                spawn_runs_the_task,
                a_spawned_task_is_not_cancelled_by_dropping_its_handle,
                a_panicking_task_leaves_the_executor_running,
                a_panicking_service_is_reported_once_and_others_run_on,
                sleep_completes_after_the_duration,
                sleep_counts_from_its_creation_not_its_first_poll,
                zero_and_endless_sleeps,
                timer_rearms_and_disarms,
                now_is_monotonic_and_starts_near_zero,
                spawn_blocking_runs_on_another_thread,
                spawn_blocking_from_a_plain_thread,
                spawn_and_sleep_from_a_plain_thread,
                timer_from_a_plain_thread,
                signals_register_from_a_plain_thread,
                sighup_arrives_on_the_stream,
            );
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __runtime_contract_checks {
    ($make:expr, $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let harness = $make;
                $crate::runtime_contract::$check(&harness);
            }
        )*
    };
}

/// `fut`'s output, driven by the harness on this thread (so a
/// current-thread runtime, or an explicit executor, makes progress while
/// it waits), within the harness's case timeout.
fn wait<H: Harness, T>(harness: &H, fut: impl Future<Output = T>) -> T {
    let mut out = None;
    harness.block_on(async {
        out = Some(fut.await);
    });
    out.expect("block_on returned without finishing the future")
}

/// Whether `timer` has elapsed, polled once.
async fn elapsed_now(timer: &mut BoxTimer) -> bool {
    core::future::poll_fn(|cx| Poll::Ready(timer.as_mut().poll_elapsed(cx).is_ready())).await
}

/// Until `timer` has elapsed.
async fn elapsed(timer: &mut BoxTimer) {
    core::future::poll_fn(|cx| timer.as_mut().poll_elapsed(cx)).await
}

/// A spawned task runs.
pub fn spawn_runs_the_task<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let (tx, rx) = channel::bounded(1);
    rt.spawn(Box::pin(async move {
        tx.send(7).await.unwrap();
    }));
    assert_eq!(wait(harness, rx.recv()), Ok(7));
}

/// The adapter detaches what it spawns: a task still pending when `spawn`
/// has returned (and its join handle is gone) runs to its end.
pub fn a_spawned_task_is_not_cancelled_by_dropping_its_handle<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let (go_tx, go_rx) = channel::bounded::<()>(1);
    let (tx, rx) = channel::bounded(1);
    rt.spawn(Box::pin(async move {
        go_rx.recv().await.unwrap();
        tx.send("finished").await.unwrap();
    }));
    wait(harness, go_tx.send(())).unwrap();
    assert_eq!(wait(harness, rx.recv()), Ok("finished"));
}

/// A task that panics (which the core never lets a service do) stays
/// inside its task: the executor runs the next one.
pub fn a_panicking_task_leaves_the_executor_running<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    rt.spawn(Box::pin(async { panic!("task panics") }));
    let (tx, rx) = channel::bounded(1);
    rt.spawn(Box::pin(async move {
        tx.send("still running").await.unwrap();
    }));
    assert_eq!(wait(harness, rx.recv()), Ok("still running"));
}

/// A panicking service is recorded once, as panicked, and not restarted
/// (no policy); the service beside it keeps running after the panic, on
/// the same executor, until shutdown.
pub fn a_panicking_service_is_reported_once_and_others_run_on<H: Harness>(harness: &H) {
    let gov = harness.governor();
    // Closed once `boom` has panicked and its run and value are gone.
    let (alive, boom_gone) = channel::bounded::<()>(1);
    let (ticks_tx, ticks) = channel::unbounded::<u32>();
    gov.add("steady", move |ctx| {
        let boom_gone = boom_gone.clone();
        let ticks_tx = ticks_tx.clone();
        async move {
            assert!(boom_gone.recv().await.is_err(), "nobody sends");
            let mut n = 0;
            while !ctx.stopping() {
                n += 1;
                let _ = ticks_tx.send(n).await;
                ctx.sleep(Duration::from_millis(1)).await?;
            }
            Ok(())
        }
    })
    .unwrap();
    gov.add("boom", move |_ctx| {
        let alive = alive.clone();
        async move {
            let _alive = alive;
            panic!("boom {}", 7)
        }
    })
    .unwrap();
    gov.start().unwrap();

    wait(harness, async { while ticks.recv().await.unwrap() < 3 {} });

    let report = wait(harness, gov.shutdown());
    let boom = report.service("boom").unwrap();
    assert_eq!((boom.runs, boom.restarts), (1, 0), "one run, reported once");
    assert_eq!(boom.state, ServiceState::Ended);
    assert_eq!(boom.last_outcome, Some(Outcome::Panicked("boom 7".into())));
    let steady = report.service("steady").unwrap();
    assert_eq!(steady.state, ServiceState::Ended);
    assert_eq!(steady.last_outcome, Some(Outcome::Completed));
    assert!(!report.is_clean());
}

/// A sleep never ends before its duration.
pub fn sleep_completes_after_the_duration<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let start = Instant::now();
    wait(harness, rt.sleep(Duration::from_millis(30)));
    let slept = start.elapsed();
    assert!(slept >= Duration::from_millis(30), "woke after {slept:?}");
}

/// A sleep's deadline is fixed when it is created, not when it is first
/// polled: the core creates a sleep and may poll it later.
pub fn sleep_counts_from_its_creation_not_its_first_poll<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let mut sleep = rt.sleep(Duration::from_millis(30));
    // Let the deadline pass before the sleep is first polled...
    wait(harness, rt.sleep(Duration::from_millis(40)));
    // ...then it is due at its very first poll.
    let first_poll = wait(
        harness,
        core::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())),
    );
    assert!(first_poll, "the sleep started counting at its first poll");
}

/// A zero sleep ends; one past the end of time never ends and never
/// panics.
pub fn zero_and_endless_sleeps<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    wait(harness, rt.sleep(Duration::ZERO));
    let mut endless = rt.sleep(Duration::MAX);
    let ended = wait(harness, async {
        let first = futures_util::poll!(&mut endless).is_ready();
        rt.sleep(Duration::from_millis(10)).await;
        first || futures_util::poll!(&mut endless).is_ready()
    });
    assert!(!ended, "an endless sleep ended");
}

/// The reusable timer counts from each reset, stays pending while its
/// deadline is ahead, fires again after a disarm and a re-arm, and never
/// fires (nor panics) when armed past the end of time.
pub fn timer_rearms_and_disarms<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let Some(mut timer) = rt.timer() else {
        // The contract allows no reusable timer; every adapter has one.
        panic!("the adapter has no reusable timer");
    };
    let start = Instant::now();
    timer.as_mut().reset(Duration::from_millis(30));
    wait(harness, elapsed(&mut timer));
    let slept = start.elapsed();
    assert!(slept >= Duration::from_millis(30), "fired after {slept:?}");

    // Armed and polled, then disarmed (a dropped sleep) and re-armed.
    timer.as_mut().reset(Duration::from_secs(3600));
    assert!(!wait(harness, elapsed_now(&mut timer)), "fired early");
    timer.as_mut().disarm();
    timer.as_mut().reset(Duration::ZERO);
    wait(harness, elapsed(&mut timer));

    // Past the end of time: never fires, never panics.
    timer.as_mut().reset(Duration::MAX);
    assert!(!wait(harness, elapsed_now(&mut timer)));
}

/// [`Runtime::now`] starts near zero when the adapter is made and moves
/// forward at least as fast as the time slept.
pub fn now_is_monotonic_and_starts_near_zero<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let a = rt.now();
    wait(harness, rt.sleep(Duration::from_millis(5)));
    let b = rt.now();
    assert!(a < Duration::from_secs(1), "now() starts at {a:?}");
    assert!(b >= a + Duration::from_millis(5), "{a:?}, then {b:?}");
}

/// Blocking work runs, and not on the thread that asked for it.
pub fn spawn_blocking_runs_on_another_thread<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let (tx, rx) = channel::bounded(1);
    let here = thread::current().id();
    rt.spawn_blocking(Box::new(move || {
        tx.send_blocking(thread::current().id()).unwrap();
    }));
    let there = wait(harness, rx.recv()).expect("the blocking work ran");
    assert_ne!(here, there);
}

/// Blocking work asked for from a plain thread runs.
pub fn spawn_blocking_from_a_plain_thread<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let (tx, rx) = channel::bounded(1);
    thread::spawn(move || {
        rt.spawn_blocking(Box::new(move || tx.send_blocking(()).unwrap()));
    })
    .join()
    .unwrap();
    wait(harness, rx.recv()).expect("the blocking work ran");
}

/// A sleep created, and a task spawned, on a plain thread that no
/// runtime knows about: the task runs and the sleep waits its time.
pub fn spawn_and_sleep_from_a_plain_thread<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let (tx, rx) = channel::bounded(1);
    thread::spawn(move || {
        let sleep = rt.sleep(Duration::from_millis(20));
        let started = rt.now();
        let inner = rt.clone();
        rt.spawn(Box::pin(async move {
            sleep.await;
            tx.send(inner.now() - started).await.unwrap();
        }));
    })
    .join()
    .unwrap();
    let slept = wait(harness, rx.recv()).expect("the task ran");
    assert!(slept >= Duration::from_millis(20), "{slept:?}");
}

/// A reusable timer made and armed on a plain thread fires in a task, and
/// re-armed there it fires again.
pub fn timer_from_a_plain_thread<H: Harness>(harness: &H) {
    let rt = harness.runtime();
    let (tx, rx) = channel::bounded(1);
    thread::spawn(move || {
        let mut timer = rt.timer().expect("a reusable timer");
        timer.as_mut().reset(Duration::from_millis(20));
        let started = rt.now();
        let inner = rt.clone();
        rt.spawn(Box::pin(async move {
            elapsed(&mut timer).await;
            // Re-armed on the runtime's own thread this time.
            timer.as_mut().reset(Duration::from_millis(5));
            elapsed(&mut timer).await;
            tx.send(inner.now() - started).await.unwrap();
        }));
    })
    .join()
    .unwrap();
    let slept = wait(harness, rx.recv()).expect("the task ran");
    assert!(slept >= Duration::from_millis(25), "{slept:?}");
}

/// Shutdown signals can be listened for from a plain thread.
pub fn signals_register_from_a_plain_thread<H: Harness>(harness: &H) {
    let rt: Arc<dyn Runtime> = harness.runtime();
    let registered = thread::spawn(move || rt.shutdown_signals().map(drop))
        .join()
        .unwrap();
    if let Err(err) = registered {
        panic!("cannot listen for signals from a plain thread: {err}");
    }
}

/// A SIGHUP sent to the process arrives on the stream as
/// [`Signal::Hangup`].
pub fn sighup_arrives_on_the_stream<H: Harness>(harness: &H) {
    if !cfg!(unix) {
        return;
    }
    let rt = harness.runtime();
    // Register first, so the signal does not kill the test process.
    let mut signals = rt.shutdown_signals().expect("register signal handlers");
    harness.raise(Signal::Hangup);
    assert_eq!(wait(harness, signals.next()), Some(Signal::Hangup));
}
