//! A custom `Runtime`: all an adapter implements is spawn, sleep and now
//! (and optionally blocking work and signals). This one runs each task
//! on a thread of its own with `futures_executor::block_on`, and sleeps
//! with a thread too: not efficient, but complete.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use governor_smol::governor_core::runtime::{BoxSleep, BoxTask, Runtime};
use governor_smol::{Governor, ServiceCtx};

struct ThreadRuntime {
    start: Instant,
}

impl Runtime for ThreadRuntime {
    fn spawn(&self, task: BoxTask) {
        std::thread::spawn(move || futures_executor::block_on(task));
    }

    fn sleep(&self, duration: Duration) -> BoxSleep {
        Box::pin(ThreadSleep::new(duration))
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Done once a thread that slept `duration` says so.
struct ThreadSleep {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl ThreadSleep {
    fn new(duration: Duration) -> Self {
        let state = Arc::new(Mutex::new((false, None::<Waker>)));
        let shared = state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            let mut state = shared.lock().unwrap();
            state.0 = true;
            if let Some(waker) = state.1.take() {
                waker.wake();
            }
        });
        ThreadSleep { state }
    }
}

impl Future for ThreadSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn main() -> Result<(), governor_smol::Error> {
    let gov = Governor::new(ThreadRuntime {
        start: Instant::now(),
    });
    gov.add("ticker", |ctx: ServiceCtx| async move {
        for tick in 1..=3 {
            println!("tick {tick} on a thread of its own");
            ctx.sleep(Duration::from_millis(20)).await?;
        }
        Ok(())
    })?;
    gov.start()?;
    let report = gov.wait_for_shutdown_blocking();
    print!("{report}");
    Ok(())
}
