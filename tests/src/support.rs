//! Small tools the cases share: a journal services write to and the test
//! reads in order, yielding, and time assertions that are exact on the
//! virtual runtime and generous on real ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::StreamExt;

use crate::harness::Harness;

/// A journal: services note what happens, the test awaits the notes in
/// the order they were written (no sleeping, no polling).
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<String>,
    all: Arc<Mutex<Vec<String>>>,
}

/// The reading end of a [`Journal`].
pub struct JournalReader {
    rx: mpsc::UnboundedReceiver<String>,
    all: Arc<Mutex<Vec<String>>>,
}

/// A new journal and its reader.
pub fn journal() -> (Journal, JournalReader) {
    let (tx, rx) = mpsc::unbounded();
    let all = Arc::new(Mutex::new(Vec::new()));
    (
        Journal {
            tx,
            all: all.clone(),
        },
        JournalReader { rx, all },
    )
}

impl Journal {
    /// Writes `note`.
    pub fn note(&self, note: impl Into<String>) {
        let note = note.into();
        self.all.lock().unwrap().push(note.clone());
        // The reader may be gone when a test has finished; that is fine.
        let _ = self.tx.unbounded_send(note);
    }
}

impl JournalReader {
    /// The next note, in writing order.
    pub async fn next(&mut self) -> String {
        self.rx
            .next()
            .await
            .expect("every journal writer is gone before the expected note")
    }

    /// Reads notes until `expected` comes; panics (fails the case) if the
    /// journal ends first.
    pub async fn until(&mut self, expected: &str) {
        while self.next().await != expected {}
    }

    /// Everything written so far, read or not.
    pub fn all(&self) -> Vec<String> {
        self.all.lock().unwrap().clone()
    }

    /// How many times `note` was written so far.
    pub fn count(&self, note: &str) -> usize {
        self.all
            .lock()
            .unwrap()
            .iter()
            .filter(|n| *n == note)
            .count()
    }
}

/// Yields once to the executor.
pub fn yield_now() -> impl Future<Output = ()> + Send {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    YieldNow(false)
}

/// How much later than asked a real runtime may be before a case fails.
pub const REAL_TIME_SLACK: Duration = Duration::from_secs(10);

/// Asserts that `elapsed` is `expected`: exactly on virtual time, within
/// [`REAL_TIME_SLACK`] above it on real time (never below).
pub fn assert_elapsed<H: Harness>(h: &H, elapsed: Duration, expected: Duration) {
    if h.exact_time() {
        assert_eq!(elapsed, expected, "virtual time is exact");
    } else {
        assert!(
            elapsed >= expected && elapsed <= expected + REAL_TIME_SLACK,
            "elapsed {elapsed:?}, expected {expected:?} (+ up to {REAL_TIME_SLACK:?})"
        );
    }
}
