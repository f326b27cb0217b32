//! Signals as configuration and reloads (issue 13, item 2): each
//! [`SignalAction`], the second shutdown signal forcing whatever else is
//! configured, each reload delivered exactly once per service, reloads
//! racing shutdown, and the event pair that wraps a reload.

use std::sync::{Arc, Mutex};

use governor_core::{
    Event, Governor, Outcome, ServiceCtx, ServiceState, ShutdownCause, Signal, SignalAction,
};

use super::seed::{idle, IdleFut};
use super::supervision::stubborn;
use crate::harness::Harness;
use crate::support::{journal, timeline, Journal, JournalReader};

/// `gov` with every event written to a journal as a short note (`reloading:1`,
/// `reload-restart:b:1`, `reloaded:1`, `shutdown`, `complete`), and kept.
fn noted(gov: Governor) -> (Governor, JournalReader, Arc<Mutex<Vec<Event>>>) {
    let (j, notes) = journal();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let gov = gov.on_event(move |event| {
        sink.lock().unwrap().push(event.clone());
        match event {
            Event::Reloading { generation, .. } => j.note(format!("reloading:{generation}")),
            Event::ReloadRestart {
                service,
                generation,
            } => j.note(format!("reload-restart:{service}:{generation}")),
            Event::Reloaded { generation } => j.note(format!("reloaded:{generation}")),
            Event::ShutdownRequested { .. } => j.note("shutdown"),
            Event::ShutdownComplete { .. } => j.note("complete"),
            _ => {}
        }
    });
    (gov, notes, events)
}

/// A service that notes `"<name>:start<run>"`, then `"<name>:reload<n>"`
/// for each reload handed to it, until its stop.
fn reloader(journal: &Journal) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let journal = journal.clone();
    move |ctx: ServiceCtx| {
        let journal = journal.clone();
        Box::pin(async move {
            journal.note(format!("{}:start{}", ctx.name(), ctx.run()));
            while let Ok(n) = ctx.reloaded().await {
                journal.note(format!("{}:reload{n}", ctx.name()));
            }
            journal.note(format!("{}:stop", ctx.name()));
            Ok(())
        })
    }
}

/// A service that notes `"<name>:start<run>"` and waits for its stop.
fn counted(journal: &Journal) -> impl FnMut(ServiceCtx) -> IdleFut + Send + 'static {
    let journal = journal.clone();
    move |ctx: ServiceCtx| {
        let journal = journal.clone();
        Box::pin(async move {
            journal.note(format!("{}:start{}", ctx.name(), ctx.run()));
            ctx.wait_for_stop().await;
            Ok(())
        })
    }
}

/// Each action does what it says: SIGHUP configured to reload reloads
/// (the service awaiting `reloaded` gets reload 1), SIGQUIT configured to
/// be ignored changes nothing, SIGUSR1 with a callback calls it once with
/// the signal, and SIGINT, left at its default, shuts down gracefully.
// Holding the signal lock across awaits is the point: the other signal
// cases must wait, whatever runtime this one is on.
#[allow(clippy::await_holding_lock)]
pub async fn each_signal_action_does_what_it_says<H: Harness>(h: &H) {
    let _signals = crate::support::signal_lock();
    let (j, mut notes) = journal();
    let called = j.clone();
    let (gov, mut events, _) = noted(
        h.governor()
            .on_signal(Signal::Hangup, SignalAction::Reload)
            .on_signal(Signal::Quit, SignalAction::Ignore)
            .on_signal(
                Signal::User1,
                SignalAction::call(move |signal| called.note(format!("called:{signal}"))),
            ),
    );
    gov.add("a", reloader(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start1").await;

    h.raise(Signal::Hangup);
    events.until("reloading:1").await;
    notes.until("a:reload1").await;
    events.until("reloaded:1").await;

    h.raise(Signal::Quit);
    h.raise(Signal::User1);
    notes.until("called:SIGUSR1").await;
    // SIGQUIT was raised before SIGUSR1 (and on the virtual runtime,
    // handled before it): had it shut down, the governor would say so.
    if h.exact_time() {
        assert!(!gov.stopping(), "an ignored SIGQUIT shut the governor down");
    }
    h.raise(Signal::Interrupt);
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, Some(ShutdownCause::Signal(Signal::Interrupt)));
    assert!(!report.forced);
    assert!(report.is_clean(), "{report}");
    assert_eq!(notes.count("a:reload1"), 1);
    assert_eq!(notes.count("called:SIGUSR1"), 1);
    assert_eq!(
        notes.count("a:start1"),
        1,
        "a reload does not restart a service that did not ask"
    );
}

/// A second shutdown signal forces the shutdown whatever else is
/// configured; a reload signal during the shutdown reloads nothing and
/// forces nothing.
// Holding the signal lock across awaits is the point (see above).
#[allow(clippy::await_holding_lock)]
pub async fn second_shutdown_signal_forces_and_reload_signals_do_not<H: Harness>(h: &H) {
    let _signals = crate::support::signal_lock();
    let (t, mut marks) = timeline(h);
    let (gov, mut events, recorded) =
        noted(h.governor().on_signal(Signal::Hangup, SignalAction::Reload));
    gov.add("stubborn", stubborn(&t)).unwrap();
    gov.start().unwrap();
    marks.until("stubborn:start").await;
    h.raise(Signal::Terminate);
    events.until("shutdown").await;
    h.raise(Signal::Hangup);
    h.settle().await;
    assert!(!gov.report().forced, "a reload signal forced the shutdown");
    h.raise(Signal::Terminate);
    let report = gov.wait_for_shutdown().await;
    assert!(report.forced);
    assert_eq!(report.cause, Some(ShutdownCause::Signal(Signal::Terminate)));
    assert_eq!(
        report.service("stubborn").unwrap().last_outcome,
        Some(Outcome::Aborted)
    );
    let reloads = recorded
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Reloading { .. }))
        .count();
    assert_eq!(reloads, 0, "a reload during a shutdown");
}

/// Each reload reaches each service that asked exactly once: the one
/// awaiting `reloaded` gets reloads 1, 2, 3 once each, in order, even when
/// two come back to back; the one configured to restart on reload gets a
/// new run per reload; the one that asked for nothing is left alone. The
/// events come in the documented order: `Reloading`, then the restarts,
/// then `Reloaded`, once each.
pub async fn reload_reaches_each_service_exactly_once_per_reload<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let (gov, mut events, recorded) = noted(h.governor());
    gov.add("a", reloader(&j)).unwrap();
    gov.add("b", counted(&j)).unwrap().restart_on_reload();
    gov.add("c", counted(&j)).unwrap();
    gov.start().unwrap();
    for name in ["a", "b", "c"] {
        notes.until(&format!("{name}:start1")).await;
    }
    assert!(gov.reload());
    events.until("reloaded:1").await;
    notes.until("a:reload1").await;
    notes.until("b:start2").await;
    // Two at once: `a` is told about each; `b`, restarted by the first
    // while it runs, begins a fresh run for each one it was running in.
    assert!(gov.reload());
    events.until("reloaded:2").await;
    assert!(gov.reload());
    events.until("reloaded:3").await;
    notes.until("a:reload3").await;
    let report = gov.shutdown().await;
    assert!(report.is_clean(), "{report}");

    let a: Vec<String> = notes
        .all()
        .into_iter()
        .filter(|n| n.starts_with("a:reload"))
        .collect();
    assert_eq!(a, ["a:reload1", "a:reload2", "a:reload3"]);
    assert_eq!(report.service("a").unwrap().runs, 1);
    assert_eq!(
        report.service("b").unwrap().runs,
        4,
        "one new run per reload"
    );
    assert_eq!(report.service("c").unwrap().runs, 1);
    let order: Vec<String> = recorded
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Reloading { generation, signal } => {
                assert_eq!(*signal, None);
                Some(format!("reloading:{generation}"))
            }
            Event::ReloadRestart {
                service,
                generation,
            } => Some(format!("restart:{service}:{generation}")),
            Event::Reloaded { generation } => Some(format!("reloaded:{generation}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "reloading:1",
            "restart:b:1",
            "reloaded:1",
            "reloading:2",
            "restart:b:2",
            "reloaded:2",
            "reloading:3",
            "restart:b:3",
            "reloaded:3",
        ]
    );
}

/// Reloads that come while the service is busy are not lost or merged:
/// a service that awaits `reloaded` only after two reloads gets both, one
/// per call.
pub async fn reloads_while_busy_are_each_handed_out<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let (gate, mut gate_reader) = journal();
    let gov = h.governor();
    let busy = j.clone();
    gov.add("late", move |ctx: ServiceCtx| {
        let busy = busy.clone();
        let mut gate = gate_reader_take(&mut gate_reader);
        async move {
            busy.note("late:start");
            gate.until("go").await;
            while let Ok(n) = ctx.reloaded().await {
                busy.note(format!("late:reload{n}"));
            }
            Ok(())
        }
    })
    .unwrap();
    gov.start().unwrap();
    notes.until("late:start").await;
    assert!(gov.reload());
    assert!(gov.reload());
    gate.note("go");
    notes.until("late:reload2").await;
    gov.shutdown().await;
    let got: Vec<String> = notes
        .all()
        .into_iter()
        .filter(|n| n.starts_with("late:reload"))
        .collect();
    assert_eq!(got, ["late:reload1", "late:reload2"]);
}

/// A reload asked for once the run is reported ready reaches that run,
/// even when the reload comes before the service's code got its context:
/// here the hook that sees the run's `Ready` reloads at once, on the
/// supervisor's own thread, which is the earliest anyone can know the run
/// is ready (`start_wait_ready` returning is later). The run is not one
/// "begun after the reload": it is told about it.
pub async fn reload_right_after_ready_reaches_the_run<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let own: Arc<Mutex<Option<Governor>>> = Arc::new(Mutex::new(None));
    let (in_hook, asked) = (own.clone(), j.clone());
    let gov = h.governor().on_event(move |event| {
        if matches!(event, Event::Ready { service } if &**service == "a") {
            // Taken, so only the first run's `Ready` reloads, and the
            // governor no longer holds itself.
            let gov = in_hook.lock().unwrap().take();
            if let Some(gov) = gov {
                asked.note(format!("reloaded-on-ready:{}", gov.reload()));
            }
        }
    });
    *own.lock().unwrap() = Some(gov.clone());
    gov.add("a", reloader(&j)).unwrap();
    gov.start().unwrap();
    notes.until("reloaded-on-ready:true").await;
    notes.until("a:start1").await;
    notes.until("a:reload1").await;
    let report = gov.shutdown().await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(notes.count("a:reload1"), 1);
}

/// The gate's reader, for the one run of the service above.
fn gate_reader_take(reader: &mut JournalReader) -> JournalReader {
    std::mem::replace(reader, journal().1)
}

/// A reload racing a shutdown loses nothing: one asked for after the
/// shutdown began is refused (`false`, no event); one under way when the
/// shutdown begins ends with its `Reloaded` right after
/// `ShutdownRequested`, and the service it restarted, still not ready,
/// ends with one recorded outcome and no further restart.
pub async fn reload_racing_shutdown_loses_nothing<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let (gov, mut events, recorded) = noted(h.governor());
    let slow = j.clone();
    gov.add("slow", move |ctx: ServiceCtx| {
        let slow = slow.clone();
        async move {
            slow.note(format!("slow:start{}", ctx.run()));
            if ctx.run() == 1 {
                ctx.ready();
            } // the second run never becomes ready
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap()
    .notify_ready()
    .restart_on_reload();
    gov.add("steady", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("slow:start1").await;
    notes.until("steady:start").await;
    assert!(gov.reload());
    events.until("reloading:1").await;
    notes.until("slow:start2").await;
    gov.request_shutdown();
    events.until("reloaded:1").await;
    assert!(!gov.reload(), "a reload after the shutdown began");
    let report = gov.wait_for_shutdown().await;
    assert!(report.is_clean(), "{report}");
    let slow = report.service("slow").unwrap();
    assert_eq!(slow.runs, 2);
    assert_eq!(slow.state, ServiceState::Ended);
    assert_eq!(slow.last_outcome, Some(Outcome::Completed));
    let steady = report.service("steady").unwrap();
    assert_eq!(steady.last_outcome, Some(Outcome::Completed));
    let order: Vec<&'static str> = recorded
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Reloading { .. } => Some("reloading"),
            Event::Reloaded { .. } => Some("reloaded"),
            Event::ShutdownRequested { .. } => Some("shutdown"),
            Event::ShutdownComplete { .. } => Some("complete"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["reloading", "shutdown", "reloaded", "complete"]);
}

/// A panicking signal callback is caught and logged: the governor keeps
/// catching signals and the next one still shuts it down.
// Holding the signal lock across awaits is the point (see above).
#[allow(clippy::await_holding_lock)]
pub async fn panicking_signal_callback_is_caught<H: Harness>(h: &H) {
    let _signals = crate::support::signal_lock();
    let (j, mut notes) = journal();
    let called = j.clone();
    let gov = h.governor().on_signal(
        Signal::User2,
        SignalAction::call(move |_| {
            called.note("called");
            panic!("callback bug");
        }),
    );
    gov.add("a", idle(&j)).unwrap();
    gov.start().unwrap();
    notes.until("a:start").await;
    h.raise(Signal::User2);
    notes.until("called").await;
    h.raise(Signal::User2);
    while notes.count("called") < 2 {
        notes.next().await;
    }
    h.raise(Signal::Terminate);
    let report = gov.wait_for_shutdown().await;
    assert_eq!(report.cause, Some(ShutdownCause::Signal(Signal::Terminate)));
    assert!(report.is_clean(), "{report}");
}
