//! Metrics (feature `metrics`): per-service counters, a state gauge and
//! stop-duration histograms through the [`metrics`] facade, so any
//! exporter (Prometheus, StatsD, OpenTelemetry, ...) installed as the
//! program's recorder shows them. Built on the event stream: an
//! [observer](crate::Governor::observe_events) updates the series, beside
//! the program's own hook; `Governor::add` registers a service's series.
//!
//! # Rules
//!
//! 1. Every series of a service is registered when the service is added
//!    (or when `record_metrics` is called, for services added before): the
//!    counters at 0, the state gauge at 1 for its state and 0 for every
//!    other, the histogram with no sample. An alert on the first restart
//!    sees the series go from 0 to 1.
//! 2. The state gauge is set from the record's state as it is *after* the
//!    event, read and published under the metrics' own lock, so that two
//!    events of one service on two threads cannot leave a stale state
//!    shown: the last one published reads the latest state.
//! 3. Lock order: the metrics' lock, then the governor's, then a record's.
//!    No governor code takes the metrics' lock while holding one of its
//!    own (registration at `add` happens after the governor's lock is
//!    released). The recorder's handles are called under the metrics'
//!    lock only; they are the recorder's code, not the program's services.
//! 4. The handles are taken once per service, at registration, from the
//!    recorder installed then: install the recorder before
//!    `record_metrics` and before adding services.

use alloc::string::ToString;
use alloc::sync::{Arc, Weak};
use core::time::Duration;
use std::collections::HashMap;

use ::metrics::{Counter, Gauge, Histogram, Unit};

use crate::event::Event;
use crate::governor::Shared;
use crate::record::Record;
use crate::report::ServiceState;
use crate::sync::Mutex;

/// `governor_service_runs_total`: runs begun.
pub const RUNS: &str = "governor_service_runs_total";
/// `governor_service_restarts_total`: restarts scheduled by policy.
pub const RESTARTS: &str = "governor_service_restarts_total";
/// `governor_service_failures_total`: runs that failed (an error or a panic).
pub const FAILURES: &str = "governor_service_failures_total";
/// `governor_service_panics_total`: runs that panicked.
pub const PANICS: &str = "governor_service_panics_total";
/// `governor_service_give_ups_total`: times the service gave up.
pub const GIVE_UPS: &str = "governor_service_give_ups_total";
/// `governor_service_state`: 1 for the state the service is in, 0 for the
/// others.
pub const STATE: &str = "governor_service_state";
/// `governor_service_stop_duration_seconds`: from the request to stop a
/// run to the run's end.
pub const STOP_DURATION: &str = "governor_service_stop_duration_seconds";
/// `governor_shutdown_duration_seconds`: from the governor's shutdown
/// request to its completion.
pub const SHUTDOWN_DURATION: &str = "governor_shutdown_duration_seconds";

/// Every state, with the value of the `state` label that names it.
const STATES: [(ServiceState, &str); 8] = [
    (ServiceState::Pending, "pending"),
    (ServiceState::Starting, "starting"),
    (ServiceState::Running, "running"),
    (ServiceState::Ready, "ready"),
    (ServiceState::Restarting, "restarting"),
    (ServiceState::Stopping, "stopping"),
    (ServiceState::Ended, "ended"),
    (ServiceState::GaveUp, "gave_up"),
];

/// A governor's metrics: one set of series per service name.
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
    shutdown: Histogram,
}

struct Inner {
    series: HashMap<Arc<str>, Series>,
    /// Runtime time the shutdown was requested.
    shutdown_asked: Option<Duration>,
}

/// The handles of one service's series.
struct Series {
    runs: Counter,
    restarts: Counter,
    failures: Counter,
    panics: Counter,
    give_ups: Counter,
    states: [Gauge; STATES.len()],
    /// Which of `states` is at 1.
    shown: Option<usize>,
    stop: Histogram,
}

impl Series {
    fn register(service: &str) -> Series {
        let counter = |name: &'static str| {
            let counter = ::metrics::counter!(name, "service" => service.to_string());
            counter.increment(0); // some recorders create a series on its first update
            counter
        };
        let states = STATES.map(|(_, state)| {
            let gauge =
                ::metrics::gauge!(STATE, "service" => service.to_string(), "state" => state);
            gauge.set(0.0);
            gauge
        });
        Series {
            runs: counter(RUNS),
            restarts: counter(RESTARTS),
            failures: counter(FAILURES),
            panics: counter(PANICS),
            give_ups: counter(GIVE_UPS),
            states,
            shown: None,
            stop: ::metrics::histogram!(STOP_DURATION, "service" => service.to_string()),
        }
    }

    /// Shows `state`: its gauge at 1, the one shown before at 0.
    fn show(&mut self, state: ServiceState) {
        let Some(index) = STATES.iter().position(|(s, _)| *s == state) else {
            return;
        };
        if self.shown != Some(index) {
            if let Some(old) = self.shown {
                self.states[old].set(0.0);
            }
            self.states[index].set(1.0);
            self.shown = Some(index);
        }
    }
}

impl Metrics {
    /// Describes every series to the recorder; registers the governor's
    /// shutdown histogram.
    pub(crate) fn new() -> Metrics {
        let count = |name: &'static str, what: &'static str| {
            ::metrics::describe_counter!(name, Unit::Count, what);
        };
        count(RUNS, "Runs begun, per service.");
        count(
            RESTARTS,
            "Restarts scheduled by the restart policy, per service.",
        );
        count(
            FAILURES,
            "Runs that failed with an error or a panic, per service.",
        );
        count(PANICS, "Runs that panicked, per service.");
        count(
            GIVE_UPS,
            "Times the service gave up: restarted more often than its limit.",
        );
        ::metrics::describe_gauge!(
            STATE,
            "1 for the state the service is in (label `state`), 0 for the others."
        );
        ::metrics::describe_histogram!(
            STOP_DURATION,
            Unit::Seconds,
            "Time from the request to stop a run to the run's end, per service."
        );
        ::metrics::describe_histogram!(
            SHUTDOWN_DURATION,
            Unit::Seconds,
            "Time from the governor's shutdown request to its completion."
        );
        Metrics {
            inner: Mutex::new(Inner {
                series: HashMap::new(),
                shutdown_asked: None,
            }),
            shutdown: ::metrics::histogram!(SHUTDOWN_DURATION),
        }
    }

    /// Registers `record`'s series (once per name) and shows its state.
    pub(crate) fn register(&self, record: &Record) {
        let mut inner = self.inner.lock();
        let series = inner
            .series
            .entry(record.name.clone())
            .or_insert_with(|| Series::register(&record.name));
        series.show(record.state_and_stop().0);
    }

    /// Updates the series `event` touches.
    pub(crate) fn on_event(&self, shared: &Shared, event: &Event) {
        let mut inner = self.inner.lock();
        match event {
            Event::ShutdownRequested { .. } => {
                inner.shutdown_asked = Some(shared.runtime.now());
                return;
            }
            Event::ShutdownComplete { .. } => {
                if let Some(asked) = inner.shutdown_asked {
                    let took = shared.runtime.now().saturating_sub(asked);
                    self.shutdown.record(took.as_secs_f64());
                }
                return;
            }
            _ => {}
        }
        let Some(name) = event.service() else { return };
        // A service removed (and its name perhaps taken again) since the
        // event: its counters still count, its state is left as it was.
        let record = shared.record(name).ok();
        let Some(series) = inner.series.get_mut(name) else {
            return; // added before `record_metrics` and not found then
        };
        match event {
            Event::RunStarted { .. } => series.runs.increment(1),
            Event::RestartScheduled { .. } => series.restarts.increment(1),
            Event::Panicked { .. } => series.panics.increment(1),
            Event::GaveUp { .. } => series.give_ups.increment(1),
            Event::RunEnded { outcome, .. } => {
                if outcome.is_failure() {
                    series.failures.increment(1);
                }
                if let Some(took) = record.as_ref().and_then(|r| r.state_and_stop().1) {
                    series.stop.record(took.as_secs_f64());
                }
            }
            _ => {}
        }
        if let Some(record) = record {
            series.show(record.state_and_stop().0);
        }
    }
}

/// Turns metrics on for `shared` (once): registers the services it has,
/// then observes its events.
pub(crate) fn enable(shared: &Arc<Shared>) {
    let metrics = {
        let mut slot = shared.metrics.lock();
        if slot.is_some() {
            return;
        }
        let metrics = Arc::new(Metrics::new());
        *slot = Some(metrics.clone());
        metrics
    };
    for record in shared.records() {
        metrics.register(&record);
    }
    let governor: Weak<Shared> = Arc::downgrade(shared);
    shared.observe(Arc::new(move |event: &Event| {
        if let Some(shared) = governor.upgrade() {
            metrics.on_event(&shared, event);
        }
    }));
}
