//! A record's liveness: its runs' heartbeats (the watchdog's pulse) and
//! its health, both kept under the record's lock in one box that exists
//! only once needed (a watchdog, or a health other than healthy), held by
//! the record's `Links` (itself boxed, once needed): a service that uses
//! neither pays nothing in its record, no allocation, no lock and no
//! timer.
//!
//! # Rules
//!
//! 1. The pulse belongs to one run (`run`): a heartbeat or a busy
//!    declaration from an earlier run's context changes nothing, nor does
//!    one from a run declared hung (it is being stopped; only a new run
//!    starts a new pulse).
//! 2. Health belongs to the runs too: each run begins healthy
//!    ([`Record::liveness_begin_run`], in `begin_run`'s lock), and only the
//!    current run changes it; a hung run's `Unhealthy` stays until the
//!    next run begins, whatever that run sets meanwhile.
//! 3. Hung is decided under the record's lock, from the pulse as it is
//!    then: a heartbeat that landed before the check keeps the run alive.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::time::Duration;

use crate::health::Health;
use crate::report::ServiceState;

use super::{Record, RecordState};

/// The box of a record's liveness.
#[derive(Default)]
pub(super) struct Liveness {
    health: Health,
    pulse: Option<Pulse>,
}

/// The current run's heartbeats.
struct Pulse {
    run: u64,
    timeout: Duration,
    /// The last heartbeat (or the run's beginning).
    last: Duration,
    /// Declared busy until then (`ServiceCtx::busy_for`).
    busy_until: Duration,
    /// Declared hung: nothing changes it any more.
    hung: bool,
}

impl Pulse {
    fn deadline(&self) -> Duration {
        self.last.saturating_add(self.timeout).max(self.busy_until)
    }
}

/// What a new run begins with, read in `begin_run`'s lock.
pub(crate) struct RunLiveness {
    /// The watchdog timeout, if the service has one.
    pub(crate) watchdog: Option<Duration>,
    /// The last run left the service not healthy: it is healthy again (to
    /// be told as a `HealthChanged`).
    pub(crate) health_reset: bool,
}

/// What the watchdog's timer finds (see [`Record::check_pulse`]).
pub(crate) enum PulseCheck {
    /// Alive: check again at this time.
    AliveUntil(Duration),
    /// Hung: run number `run`, with a watchdog of `timeout`, silent for
    /// `silent_for`; its health changed to `health`.
    Hung {
        run: u64,
        timeout: Duration,
        silent_for: Duration,
        health: Option<Health>,
    },
    /// Not this run's pulse any more (nothing to watch).
    Gone,
}

impl RecordState {
    /// Each run begins healthy and without a pulse.
    pub(super) fn liveness_begin_run(&mut self) -> RunLiveness {
        let watchdog = self.config().watchdog;
        let mut health_reset = false;
        if let Some(liveness) = liveness_mut(self) {
            health_reset = liveness.health != Health::Healthy;
            liveness.health = Health::Healthy;
            liveness.pulse = None;
        }
        RunLiveness {
            watchdog,
            health_reset,
        }
    }
}

impl Record {
    /// Run number `run` began at `now` with a watchdog of `timeout`.
    pub(crate) fn arm_pulse(&self, run: u64, now: Duration, timeout: Duration) {
        let mut state = self.state.lock();
        liveness_or_new(&mut state).pulse = Some(Pulse {
            run,
            timeout,
            last: now,
            busy_until: Duration::ZERO,
            hung: false,
        });
    }

    /// Run number `run` sends a heartbeat at `now`.
    pub(crate) fn beat(&self, run: u64, now: Duration) {
        let mut state = self.state.lock();
        if let Some(pulse) = current_pulse(&mut state, run) {
            pulse.last = pulse.last.max(now);
        }
    }

    /// Run number `run` is busy, and alive, until `until`.
    pub(crate) fn busy_until(&self, run: u64, until: Duration) {
        let mut state = self.state.lock();
        if let Some(pulse) = current_pulse(&mut state, run) {
            pulse.busy_until = pulse.busy_until.max(until);
        }
    }

    /// The current run's watchdog checks its pulse at `now`: alive
    /// (until when), or hung (then declared so, and unhealthy).
    pub(crate) fn check_pulse(&self, now: Duration) -> PulseCheck {
        let mut state = self.state.lock();
        let Some(liveness) = liveness_mut(&mut state) else {
            return PulseCheck::Gone;
        };
        let Some(pulse) = liveness.pulse.as_mut().filter(|p| !p.hung) else {
            return PulseCheck::Gone;
        };
        let run = pulse.run;
        let deadline = pulse.deadline();
        if now < deadline {
            return PulseCheck::AliveUntil(deadline);
        }
        pulse.hung = true;
        let silent_for = now.saturating_sub(pulse.last);
        let reason: Arc<str> = Arc::from(alloc::format!(
            "run {run} hung: no heartbeat for {silent_for:?}"
        ));
        let health = Health::Unhealthy(reason);
        liveness.health = health.clone();
        PulseCheck::Hung {
            run,
            timeout: pulse.timeout,
            silent_for,
            health: Some(health),
        }
    }

    /// Stops the current run's token (it was declared hung), after the
    /// record's lock is released.
    pub(crate) fn stop_current_run(&self) {
        let token = self.state.lock().run_token.clone();
        if let Some(token) = token {
            token.stop();
        }
    }

    /// Run number `run` says how it is; returns the health, if that
    /// changed it (not from an earlier run, nor once the run is hung).
    pub(crate) fn set_health(&self, run: u64, health: Health) -> Option<Health> {
        let mut state = self.state.lock();
        if state.runs != run || state.run_token.is_none() {
            return None;
        }
        if liveness_mut(&mut state).is_none() && health == Health::Healthy {
            return None; // healthy already, and nothing to allocate
        }
        let liveness = liveness_or_new(&mut state);
        if liveness.pulse.as_ref().is_some_and(|p| p.hung) || liveness.health == health {
            return None;
        }
        liveness.health = health.clone();
        Some(health)
    }

    /// The service's state and health (`None`: healthy), for the
    /// governor's aggregate.
    pub(crate) fn health_view(&self) -> (ServiceState, Option<Health>) {
        let state = self.state.lock();
        let health = liveness_of(&state)
            .map(|l| l.health.clone())
            .filter(|h| *h != Health::Healthy);
        (state.status, health)
    }

    /// The service's health, for its report.
    pub(super) fn health_of(state: &RecordState) -> Health {
        liveness_of(state)
            .map(|l| l.health.clone())
            .unwrap_or_default()
    }
}

fn liveness_of(state: &RecordState) -> Option<&Liveness> {
    state.links.as_deref()?.liveness.as_deref()
}

fn liveness_mut(state: &mut RecordState) -> Option<&mut Liveness> {
    state.links.as_deref_mut()?.liveness.as_deref_mut()
}

fn liveness_or_new(state: &mut RecordState) -> &mut Liveness {
    state
        .links
        .get_or_insert_default()
        .liveness
        .get_or_insert_default()
}

fn current_pulse(state: &mut RecordState, run: u64) -> Option<&mut Pulse> {
    liveness_mut(state)?
        .pulse
        .as_mut()
        .filter(|p| p.run == run && !p.hung)
}

/// The box, as a field of the record's `Links`.
pub(super) type LivenessBox = Option<Box<Liveness>>;
