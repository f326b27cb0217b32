//! Unit tests of the virtual-time runtime, across its concerns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use futures_util::future::{self, Either};
use futures_util::StreamExt;
use governor_core::runtime::{BoxTask, Runtime, Signal};

use super::*;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A shared log of (label, virtual time) entries.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(&'static str, Duration)>>>);

impl Log {
    fn record(&self, rt: &VirtualRuntime, label: &'static str) {
        self.0.lock().unwrap().push((label, rt.now()));
    }
    fn entries(&self) -> Vec<(&'static str, Duration)> {
        self.0.lock().unwrap().clone()
    }
}

fn sleeper(rt: &VirtualRuntime, log: &Log, label: &'static str, after: Duration) -> BoxTask {
    let (rt, log) = (rt.clone(), log.clone());
    Box::pin(async move {
        rt.sleep(after).await;
        log.record(&rt, label);
    })
}

/// Sets a flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn is_a_runtime() {
    fn assert_runtime<R: Runtime + Clone + Send + Sync>() {}
    assert_runtime::<VirtualRuntime>();
    let rt: Arc<dyn Runtime> = Arc::new(VirtualRuntime::new());
    assert_eq!(rt.now(), Duration::ZERO);
}

#[test]
fn clock_starts_at_zero() {
    let rt = VirtualRuntime::new();
    assert_eq!(rt.now(), Duration::ZERO);
    assert_eq!(rt.pending_timers(), 0);
    assert_eq!(rt.spawned_tasks(), 0);
    assert_eq!(rt.live_tasks(), 0);
}

#[test]
fn block_on_returns_the_output() {
    let rt = VirtualRuntime::new();
    assert_eq!(rt.block_on(async { 42 }), 42);
    assert_eq!(rt.now(), Duration::ZERO);
}

#[test]
fn task_records_exactly_its_sleep() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    rt.spawn(sleeper(&rt, &log, "task", secs(3)));
    rt.block_on(rt.sleep(secs(10)));
    assert_eq!(log.entries(), vec![("task", secs(3))]);
    assert_eq!(rt.now(), secs(10));
}

#[test]
fn auto_advance_jumps_over_idle_time() {
    let rt = VirtualRuntime::new();
    let started = Instant::now();
    let seen = rt.block_on(async {
        rt.sleep(secs(3600)).await;
        rt.now()
    });
    assert_eq!(seen, secs(3600));
    assert!(started.elapsed() < secs(5), "real time is not spent");
}

#[test]
fn timers_fire_in_deadline_then_registration_order() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    rt.spawn(sleeper(&rt, &log, "a2", secs(2)));
    rt.spawn(sleeper(&rt, &log, "b1", secs(1)));
    rt.spawn(sleeper(&rt, &log, "c2", secs(2)));
    rt.spawn(sleeper(&rt, &log, "d1", secs(1)));
    rt.spawn(sleeper(&rt, &log, "e3", secs(3)));
    let main_log = log.clone();
    rt.block_on(async {
        rt.sleep(secs(2)).await;
        main_log.record(&rt, "main2");
        rt.sleep(secs(5)).await;
    });
    assert_eq!(
        log.entries(),
        vec![
            ("b1", secs(1)),
            ("d1", secs(1)),
            ("a2", secs(2)),
            ("c2", secs(2)),
            // The main future registered its timer after the tasks'.
            ("main2", secs(2)),
            ("e3", secs(3)),
        ]
    );
    assert_eq!(rt.now(), secs(7));
    assert_eq!(rt.live_tasks(), 0);
}

#[test]
fn registration_order_follows_sleep_creation_not_first_poll() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    let first = rt.sleep(secs(1));
    let second = rt.sleep(secs(1));
    let (l1, l2, rt1, rt2) = (log.clone(), log.clone(), rt.clone(), rt.clone());
    // Spawn the later sleep's task first.
    rt.spawn(Box::pin(async move {
        second.await;
        l2.record(&rt2, "second");
    }));
    rt.spawn(Box::pin(async move {
        first.await;
        l1.record(&rt1, "first");
    }));
    rt.block_on(rt.sleep(secs(2)));
    assert_eq!(log.entries(), vec![("first", secs(1)), ("second", secs(1))]);
}

#[test]
fn sleep_in_a_loop_accumulates_exactly() {
    let rt = VirtualRuntime::new();
    let ticks = rt.block_on(async {
        let mut ticks = Vec::new();
        for _ in 0..5 {
            rt.sleep(Duration::from_millis(250)).await;
            ticks.push(rt.now());
        }
        ticks
    });
    let expected: Vec<_> = (1..=5).map(|i| Duration::from_millis(250 * i)).collect();
    assert_eq!(ticks, expected);
}

#[test]
fn zero_sleep_completes_without_moving_the_clock() {
    let rt = VirtualRuntime::new();
    let sleep = rt.sleep(Duration::ZERO);
    assert_eq!(rt.pending_timers(), 0);
    rt.block_on(sleep);
    assert_eq!(rt.now(), Duration::ZERO);
}

#[test]
fn zero_sleep_yields_to_other_tasks() {
    let rt = VirtualRuntime::new();
    let flag = Arc::new(AtomicBool::new(false));
    let setter = flag.clone();
    rt.spawn(Box::pin(
        async move { setter.store(true, Ordering::SeqCst) },
    ));
    let spins = rt.block_on(async {
        let mut spins = 0;
        while !flag.load(Ordering::SeqCst) {
            rt.sleep(Duration::ZERO).await;
            spins += 1;
        }
        spins
    });
    assert!(spins <= 1, "{spins}");
    assert_eq!(rt.now(), Duration::ZERO);
}

#[test]
fn time_does_not_move_while_tasks_are_runnable() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    rt.spawn(sleeper(&rt, &log, "sleeper", secs(1)));
    let (busy_rt, busy_log) = (rt.clone(), log.clone());
    rt.spawn(Box::pin(async move {
        for _ in 0..1000 {
            busy_rt.sleep(Duration::ZERO).await;
        }
        busy_log.record(&busy_rt, "busy");
    }));
    rt.block_on(rt.sleep(secs(2)));
    assert_eq!(
        log.entries(),
        vec![("busy", Duration::ZERO), ("sleeper", secs(1))]
    );
}

#[test]
fn dropped_sleep_removes_its_timer() {
    let rt = VirtualRuntime::new();
    let sleep = rt.sleep(secs(5));
    assert_eq!(rt.pending_timers(), 1);
    drop(sleep);
    assert_eq!(rt.pending_timers(), 0);

    // A race lost by a long sleep does not drag the clock to it.
    let winner = rt.block_on(async {
        match future::select(rt.sleep(secs(1)), rt.sleep(secs(10))).await {
            Either::Left(_) => "short",
            Either::Right(_) => "long",
        }
    });
    assert_eq!(winner, "short");
    assert_eq!(rt.now(), secs(1));
    assert_eq!(rt.pending_timers(), 0);
    assert!(rt.try_block_on(future::pending::<()>()).is_err());
    assert_eq!(rt.now(), secs(1));
}

#[test]
fn advance_fires_due_timers_outside_block_on() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    rt.spawn(sleeper(&rt, &log, "one", secs(1)));
    rt.spawn(sleeper(&rt, &log, "three", secs(3)));
    rt.run_until_idle();
    assert_eq!(rt.pending_timers(), 2);

    rt.advance(secs(2));
    assert_eq!(rt.now(), secs(2));
    assert_eq!(rt.pending_timers(), 1);
    assert!(log.entries().is_empty(), "tasks run only when driven");
    rt.run_until_idle();
    assert_eq!(log.entries(), vec![("one", secs(2))]);

    rt.advance(secs(1));
    rt.run_until_idle();
    assert_eq!(log.entries(), vec![("one", secs(2)), ("three", secs(3))]);
    assert_eq!(rt.pending_timers(), 0);
}

#[test]
fn advance_from_a_task() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    rt.spawn(sleeper(&rt, &log, "sleeper", secs(5)));
    let (advancer, advancer_log) = (rt.clone(), log.clone());
    rt.spawn(Box::pin(async move {
        advancer.sleep(Duration::ZERO).await;
        advancer.advance(secs(7));
        advancer_log.record(&advancer, "advanced");
    }));
    rt.block_on(rt.sleep(secs(10)));
    assert_eq!(
        log.entries(),
        vec![("advanced", secs(7)), ("sleeper", secs(7))]
    );
    assert_eq!(rt.now(), secs(10));
}

#[test]
fn tasks_survive_between_block_on_calls() {
    let rt = VirtualRuntime::new();
    let log = Log::default();
    rt.spawn(sleeper(&rt, &log, "late", secs(5)));
    rt.block_on(rt.sleep(secs(1)));
    assert!(log.entries().is_empty());
    assert_eq!(rt.live_tasks(), 1);
    rt.block_on(rt.sleep(secs(9)));
    assert_eq!(log.entries(), vec![("late", secs(5))]);
    assert_eq!(rt.live_tasks(), 0);
}

#[test]
fn spawn_from_another_thread() {
    let rt = VirtualRuntime::new();
    let (tx, rx) = oneshot::channel();
    let remote = rt.clone();
    let hold = rt.external_work();
    let thread = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        let inner = remote.clone();
        remote.spawn(Box::pin(async move {
            inner.sleep(secs(4)).await;
            tx.send(inner.now()).unwrap();
        }));
        drop(hold);
    });
    let seen = rt.block_on(rx).unwrap();
    thread.join().unwrap();
    assert_eq!(seen, secs(4));
    assert_eq!(rt.spawned_tasks(), 1);
    assert_eq!(rt.outstanding_blocking(), 0);
}

#[test]
fn spawn_blocking_runs_on_another_thread_and_wakes_a_task() {
    let rt = VirtualRuntime::new();
    let (tx, rx) = oneshot::channel();
    let here = thread::current().id();
    let remote = rt.clone();
    let there = rt.block_on(async {
        rt.spawn_blocking(Box::new(move || {
            // Slow real work: the driver must wait, not report a deadlock.
            thread::sleep(Duration::from_millis(30));
            let (inner_tx, inner_rx) = oneshot::channel();
            let id = thread::current().id();
            remote.spawn(Box::pin(async move {
                inner_rx.await.unwrap();
                tx.send(id).unwrap();
            }));
            inner_tx.send(()).unwrap();
        }));
        rx.await.unwrap()
    });
    assert_ne!(here, there);
    assert_eq!(rt.now(), Duration::ZERO);
    // The job stops counting once its closure has returned, which may be
    // just after the main future completed.
    let deadline = Instant::now() + secs(10);
    while rt.outstanding_blocking() != 0 {
        assert!(Instant::now() < deadline, "blocking job never finished");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn clock_advances_while_blocking_work_waits_on_a_timer() {
    // The blocking job can only finish after a task's 5 s virtual sleep,
    // so the driver must move the clock although blocking work is
    // outstanding.
    let rt = VirtualRuntime::new();
    let (to_blocking, from_task) = std_mpsc::channel::<()>();
    let (done_tx, done_rx) = oneshot::channel();
    let timer_rt = rt.clone();
    rt.spawn(Box::pin(async move {
        timer_rt.sleep(secs(5)).await;
        to_blocking.send(()).unwrap();
    }));
    let blocking_rt = rt.clone();
    rt.spawn_blocking(Box::new(move || {
        from_task.recv().unwrap();
        done_tx.send(blocking_rt.now()).unwrap();
    }));
    let seen = rt.block_on(done_rx).unwrap();
    assert_eq!(seen, secs(5));
}

#[test]
fn a_blocking_thread_waiting_on_the_clock_costs_no_grace() {
    // 400 one-second waits of a blocking thread, each through
    // `Runtime::block_on`, while a task's timer is pending all along: the
    // thread does not count while it waits, so the clock moves at once
    // each time. Counted, each move would wait the whole grace (400 ×
    // 25 ms = 10 s of real time).
    let rt = VirtualRuntime::new();
    let timer_rt = rt.clone();
    rt.spawn(Box::pin(async move { timer_rt.sleep(secs(3600)).await }));
    let (done_tx, done_rx) = oneshot::channel();
    let blocking_rt = rt.clone();
    rt.spawn_blocking(Box::new(move || {
        for _ in 0..400 {
            let sleep = blocking_rt.sleep(secs(1));
            Runtime::block_on(&blocking_rt, std::pin::pin!(sleep));
        }
        done_tx.send(blocking_rt.now()).unwrap();
    }));
    let began = Instant::now();
    assert_eq!(rt.block_on(done_rx).unwrap(), secs(400));
    let took = began.elapsed();
    assert!(took < 400 * BLOCKING_GRACE / 4, "{took:?}");
}

#[test]
fn a_blocking_thread_just_woken_is_waited_for() {
    // Woken by its timer, the thread works (a real 5 ms) before it tells
    // a task; the task's own timer, 1 s later, must not fire first. The
    // waker counts the thread again before it unparks it, so the driver
    // waits for it however long the machine takes to schedule it (up to
    // the grace, which 5 ms is well inside).
    let rt = VirtualRuntime::new();
    let (told_tx, told_rx) = oneshot::channel();
    let blocking_rt = rt.clone();
    rt.spawn_blocking(Box::new(move || {
        Runtime::block_on(&blocking_rt, std::pin::pin!(blocking_rt.sleep(secs(1))));
        thread::sleep(Duration::from_millis(5));
        told_tx.send(blocking_rt.now()).unwrap();
    }));
    let racer_rt = rt.clone();
    let seen = rt.block_on(async move {
        match future::select(told_rx, racer_rt.sleep(secs(2))).await {
            Either::Left((told, _)) => Some(told.unwrap()),
            Either::Right(_) => None,
        }
    });
    assert_eq!(seen, Some(secs(1)));
}

#[test]
fn panicking_blocking_work_is_no_longer_outstanding() {
    let rt = VirtualRuntime::new();
    rt.spawn_blocking(Box::new(|| {
        panic!("blocking work panicked (expected in this test)")
    }));
    let err = rt.try_block_on(future::pending::<()>()).unwrap_err();
    assert_eq!(err.live_tasks, 0);
    assert_eq!(rt.outstanding_blocking(), 0);
}

#[test]
fn deadlock_is_reported() {
    let rt = VirtualRuntime::new();
    let err = rt.try_block_on(future::pending::<()>()).unwrap_err();
    assert_eq!(err.now, Duration::ZERO);
    assert!(err
        .to_string()
        .starts_with("virtual runtime deadlock: main future pending with nothing runnable"));
}

#[test]
fn deadlock_after_timers_run_out() {
    let rt = VirtualRuntime::new();
    let (tx, rx) = oneshot::channel::<()>();
    let holder = rt.clone();
    // The task keeps the sender alive forever and never sends.
    rt.spawn(Box::pin(async move {
        holder.sleep(secs(3)).await;
        future::pending::<()>().await;
        drop(tx);
    }));
    let err = rt.try_block_on(rx).unwrap_err();
    assert_eq!(err.now, secs(3));
    assert_eq!(err.live_tasks, 1);
    // Still usable afterwards.
    assert_eq!(rt.block_on(async { 5 }), 5);
}

#[test]
#[should_panic(expected = "virtual runtime deadlock: main future pending with nothing runnable")]
fn block_on_panics_on_deadlock() {
    let rt = VirtualRuntime::new();
    rt.block_on(future::pending::<()>());
}

#[test]
#[should_panic(expected = "while another block_on")]
fn nested_block_on_panics() {
    let rt = VirtualRuntime::new();
    rt.block_on(async { rt.block_on(async {}) });
}

#[test]
fn raise_reaches_the_signal_stream() {
    let rt = VirtualRuntime::new();
    assert_eq!(rt.raise(Signal::Terminate), 0, "no stream yet: lost");
    let mut signals = rt.shutdown_signals().unwrap();
    assert_eq!(rt.raise(Signal::Hangup), 1);
    assert_eq!(rt.block_on(signals.next()), Some(Signal::Hangup));

    // Raised by a task at 2 s: the waiting main future sees it then.
    let raiser = rt.clone();
    rt.spawn(Box::pin(async move {
        raiser.sleep(secs(2)).await;
        raiser.raise(Signal::Interrupt);
        raiser.raise(Signal::Quit);
    }));
    let got = rt.block_on(async {
        let first = signals.next().await;
        (first, rt.now(), signals.next().await)
    });
    assert_eq!(got, (Some(Signal::Interrupt), secs(2), Some(Signal::Quit)));
}

#[test]
fn raise_broadcasts_to_every_stream() {
    let rt = VirtualRuntime::new();
    let mut a = rt.shutdown_signals().unwrap();
    let b = rt.shutdown_signals().unwrap();
    assert_eq!(rt.raise(Signal::Terminate), 2);
    assert_eq!(rt.block_on(a.next()), Some(Signal::Terminate));
    drop(b);
    assert_eq!(rt.raise(Signal::Interrupt), 1, "dropped streams are pruned");
    assert_eq!(rt.block_on(a.next()), Some(Signal::Interrupt));
}

#[test]
fn raise_from_another_thread() {
    let rt = VirtualRuntime::new();
    let mut signals = rt.shutdown_signals().unwrap();
    let remote = rt.clone();
    let hold = rt.external_work();
    let thread = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        remote.raise(Signal::Terminate);
        drop(hold);
    });
    assert_eq!(rt.block_on(signals.next()), Some(Signal::Terminate));
    thread.join().unwrap();
}

#[test]
fn task_counts() {
    let rt = VirtualRuntime::new();
    let (tx, rx) = oneshot::channel::<()>();
    rt.spawn(Box::pin(async {}));
    rt.spawn(Box::pin(async move {
        let _ = rx.await;
    }));
    assert_eq!(rt.spawned_tasks(), 2);
    assert_eq!(rt.live_tasks(), 2);
    rt.run_until_idle();
    assert_eq!(rt.live_tasks(), 1);
    tx.send(()).unwrap();
    rt.run_until_idle();
    assert_eq!(rt.live_tasks(), 0);
    assert_eq!(rt.spawned_tasks(), 2);
}

#[test]
fn shutdown_drops_queued_and_idle_tasks() {
    let rt = VirtualRuntime::new();
    let idle = Arc::new(AtomicBool::new(false));
    let queued = Arc::new(AtomicBool::new(false));
    let (idle_flag, owner) = (DropFlag(idle.clone()), rt.clone());
    // This task holds a runtime clone: only shutdown can drop it.
    rt.spawn(Box::pin(async move {
        let _flag = idle_flag;
        owner.sleep(secs(100)).await;
    }));
    rt.run_until_idle();
    let queued_flag = DropFlag(queued.clone());
    rt.spawn(Box::pin(async move {
        let _flag = queued_flag;
    }));
    assert_eq!(rt.live_tasks(), 2);

    rt.shutdown();
    assert!(idle.load(Ordering::SeqCst));
    assert!(queued.load(Ordering::SeqCst));
    assert_eq!(rt.live_tasks(), 0);
    assert_eq!(rt.pending_timers(), 0, "the idle task's sleep was dropped");

    let late = Arc::new(AtomicBool::new(false));
    let late_flag = DropFlag(late.clone());
    rt.spawn(Box::pin(async move {
        let _flag = late_flag;
    }));
    assert!(
        late.load(Ordering::SeqCst),
        "spawned after shutdown: dropped"
    );
    assert_eq!(rt.live_tasks(), 0);
}

#[test]
fn dropping_the_runtime_drops_its_tasks() {
    let rt = VirtualRuntime::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let sleep = rt.sleep(secs(100));
    rt.spawn(Box::pin(async move {
        let _flag = flag;
        sleep.await;
    }));
    rt.run_until_idle();
    assert!(!dropped.load(Ordering::SeqCst));
    drop(rt);
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn sleep_created_on_another_thread_uses_the_virtual_clock() {
    let rt = VirtualRuntime::new();
    let remote = rt.clone();
    let sleep = thread::spawn(move || remote.sleep(secs(2))).join().unwrap();
    rt.block_on(sleep);
    assert_eq!(rt.now(), secs(2));
}
