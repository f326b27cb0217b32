//! Small tools the cases share: a journal services write to and the test
//! reads in order, yielding, and time assertions that are exact on the
//! virtual runtime and tight enough to discriminate on real ones.

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

/// The reading end of a [`Journal`]: it reads the notes in writing order,
/// remembering how far it has read.
pub struct JournalReader {
    /// Wakes the reader; the notes themselves are read from `all`.
    rx: mpsc::UnboundedReceiver<String>,
    all: Arc<Mutex<Vec<String>>>,
    read: usize,
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
        JournalReader { rx, all, read: 0 },
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
    /// The next unread note, in writing order.
    #[track_caller]
    #[allow(clippy::should_implement_trait)] // async: not an iterator
    pub fn next(&mut self) -> impl Future<Output = String> + Send + '_ {
        let waiting = waiting_for(format!(
            "the next journal note (at {})",
            std::panic::Location::caller()
        ));
        async move {
            let _waiting = waiting.begin();
            self.next_note().await
        }
    }

    async fn next_note(&mut self) -> String {
        loop {
            if let Some(note) = self.all.lock().unwrap().get(self.read).cloned() {
                self.read += 1;
                return note;
            }
            self.rx
                .next()
                .await
                .expect("every journal writer is gone before the expected note");
        }
    }

    /// Waits until `expected` has been written, and reads past it if it is
    /// still unread. Notes written in any order can be awaited one after
    /// the other: one read past already is found too.
    #[track_caller]
    pub fn until<'a>(&'a mut self, expected: &'a str) -> impl Future<Output = ()> + Send + 'a {
        let waiting = waiting_for(format!(
            "journal note {expected:?} (at {})",
            std::panic::Location::caller()
        ));
        async move {
            let _waiting = waiting.begin();
            if self.all.lock().unwrap().iter().any(|n| n == expected) {
                let position = self.all.lock().unwrap().iter().position(|n| n == expected);
                if let Some(position) = position {
                    self.read = self.read.max(position + 1);
                }
                return;
            }
            while self.next_note().await != expected {}
        }
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

/// The least lateness a real runtime is allowed before a case fails (see
/// [`real_time_slack`]).
///
/// It must stay below the smallest gap between what a case expects and
/// the wrong value it guards against: the cases space their durations by
/// at least 100 ms (a missed dependency wait of 100 ms, a backoff step of
/// 100 ms → 200 ms), so 90 ms. (It used to be 10 s, under which a 300 ms
/// timeout could not be told from a 10 s one.)
///
/// It is sized for native threads: a wait on another real thread in a case
/// that miri also runs (on the virtual runtime) needs its own bound, far
/// above what the interpreter takes (a thread's start and two reports
/// take 64–89 ms there; see `BLOCKED_AFTER` in `cases/locks.rs`).
pub const REAL_TIME_SLACK: Duration = Duration::from_millis(90);

/// How much later than `expected` a real runtime may be: half of it, and
/// at least [`REAL_TIME_SLACK`]. A delay applied twice, a timeout taken
/// from the wrong setting or not applied at all (a 300 ms timeout taking
/// 1 s or 10 s), and a wait that should not have happened (0 ms taking
/// 100 ms) all fall outside.
pub fn real_time_slack(expected: Duration) -> Duration {
    (expected / 2).max(REAL_TIME_SLACK)
}

/// Asserts that `elapsed` is `expected`: exactly on virtual time, within
/// [`real_time_slack`] above it on real time (never below).
pub fn assert_elapsed<H: Harness>(h: &H, elapsed: Duration, expected: Duration) {
    if h.exact_time() {
        assert_eq!(elapsed, expected, "virtual time is exact");
    } else {
        let slack = real_time_slack(expected);
        assert!(
            elapsed >= expected && elapsed <= expected + slack,
            "elapsed {elapsed:?}, expected {expected:?} (+ up to {slack:?})"
        );
    }
}

/// Labels with the runtime time they were written at; each label is also
/// written to a [`Journal`] so that a case can await it.
#[derive(Clone)]
pub struct Timeline {
    runtime: std::sync::Arc<dyn governor_core::runtime::Runtime>,
    journal: Journal,
    marks: Arc<Mutex<Vec<(String, Duration)>>>,
}

/// A new timeline on `h`'s clock, and the reader of its journal.
pub fn timeline<H: Harness>(h: &H) -> (Timeline, JournalReader) {
    let (journal, reader) = journal();
    (
        Timeline {
            runtime: h.runtime(),
            journal,
            marks: Arc::default(),
        },
        reader,
    )
}

impl Timeline {
    /// Writes `label` at the current runtime time.
    pub fn mark(&self, label: impl Into<String>) {
        let label = label.into();
        let now = self.runtime.now();
        self.marks.lock().unwrap().push((label.clone(), now));
        self.journal.note(label);
    }

    /// When `label` was first written; panics if it never was.
    pub fn at(&self, label: &str) -> Duration {
        self.marks
            .lock()
            .unwrap()
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("{label:?} was never marked"))
    }

    /// Every label, in writing order.
    pub fn labels(&self) -> Vec<String> {
        self.marks
            .lock()
            .unwrap()
            .iter()
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// Where `label` stands in writing order; panics if it never was.
    pub fn position(&self, label: &str) -> usize {
        self.labels()
            .iter()
            .position(|l| l == label)
            .unwrap_or_else(|| panic!("{label:?} was never marked"))
    }
}

/// Yields (with [`Harness::settle`]) until `done` holds. Only for states
/// reachable without time passing: on the virtual runtime, time stands
/// still while this loop runs.
#[track_caller]
pub fn until<'a, H: Harness>(
    h: &'a H,
    mut done: impl FnMut() -> bool + 'a,
) -> impl Future<Output = ()> + 'a {
    let waiting = waiting_for(format!(
        "a condition to hold (until at {})",
        std::panic::Location::caller()
    ));
    async move {
        let _waiting = waiting.begin();
        while !done() {
            h.settle().await;
        }
    }
}

std::thread_local! {
    /// The case running on this thread, what it waits for now, and what it
    /// waited for when a [`KeepWaits`] around it was dropped.
    static CASE: std::cell::RefCell<CaseState> =
        const { std::cell::RefCell::new(CaseState { name: None, waits: Vec::new(), last: None }) };
}

struct CaseState {
    name: Option<&'static str>,
    waits: Vec<String>,
    last: Option<String>,
}

/// A case's future that, when dropped unfinished (a harness giving up on
/// it), remembers what it was waiting for, for [`hung_case`].
pub struct KeepWaits<'a> {
    case: Pin<Box<dyn Future<Output = ()> + 'a>>,
}

impl<'a> KeepWaits<'a> {
    /// Wraps `case`.
    pub fn new(case: impl Future<Output = ()> + 'a) -> Self {
        KeepWaits {
            case: Box::pin(case),
        }
    }
}

impl Future for KeepWaits<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.case.as_mut().poll(cx)
    }
}

impl Drop for KeepWaits<'_> {
    fn drop(&mut self) {
        let _ = CASE.try_with(|case| {
            let mut case = case.borrow_mut();
            case.last = case.waits.last().cloned();
        });
    }
}

/// What a case is about to wait for; [`begin`](Waiting::begin) it where
/// the wait starts.
pub struct Waiting(String);

/// Says what the case waits for until dropped.
pub struct WaitGuard(());

/// Describes a wait, for the message of a case that never gets past it
/// (see [`hung_case`]).
pub fn waiting_for(what: impl Into<String>) -> Waiting {
    Waiting(what.into())
}

impl Waiting {
    /// The wait starts: it is what the case waits for until the guard is
    /// dropped. Only the case's own thread (the one in
    /// [`Harness::block_on`]) records it.
    pub fn begin(self) -> WaitGuard {
        CASE.with(|case| case.borrow_mut().waits.push(self.0));
        WaitGuard(())
    }
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let _ = CASE.try_with(|case| case.borrow_mut().waits.pop());
    }
}

/// Runs `case`, named `name`, with [`Harness::block_on`], so that a
/// harness that gives up on it can name it (see [`hung_case`]).
pub fn run_case<H: Harness, F: Future<Output = ()>>(h: &H, name: &'static str, case: F) {
    struct Named;
    impl Drop for Named {
        fn drop(&mut self) {
            let _ = CASE.try_with(|case| {
                let mut case = case.borrow_mut();
                (case.name, case.last) = (None, None);
                case.waits.clear();
            });
        }
    }
    CASE.with(|case| {
        let mut case = case.borrow_mut();
        (case.name, case.last) = (Some(name), None);
        case.waits.clear();
    });
    let _named = Named;
    warm_up_backtraces();
    h.block_on(case);
}

/// Symbolises one backtrace, once per test process, before any case runs.
///
/// Many cases make services and hooks panic on purpose; with
/// `RUST_BACKTRACE` set, the first panic of the process loads the debug
/// information to print its backtrace, which takes a few hundred
/// milliseconds on the thread that panicked. On a runtime with one worker
/// (smol's global executor) that thread runs every case's services, and a
/// real-time case running beside the first panic would see its sleeps
/// late by that much. Loading it here, on the test thread, first, leaves
/// later panics cheap: the symbols are cached for the process.
fn warm_up_backtraces() {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            let _ = backtrace.to_string();
        }
    });
}

/// The message of a case that did not finish on `runtime`: `why` (e.g.
/// "did not finish within 120s"), the case's name and what it was waiting
/// for, as far as it said (through [`until`], [`JournalReader::until`] or
/// [`JournalReader::next`]). Called on the case's own thread.
pub fn hung_case(runtime: &str, why: &str) -> String {
    let (name, waiting) = CASE
        .try_with(|case| {
            let case = case.borrow();
            (case.name, case.waits.last().or(case.last.as_ref()).cloned())
        })
        .unwrap_or_default();
    let name = name.unwrap_or("<unnamed case>");
    let waiting = match waiting {
        Some(what) => format!("waiting for {what}"),
        None => "not inside a described wait".to_owned(),
    };
    format!("case {name} on {runtime} {why}, {waiting}")
}

/// Held by the cases that deliver signals, so that two of them never run at
/// once: on a real runtime a signal goes to the whole process, and so to
/// every governor catching signals in it, including another case's.
pub fn signal_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
