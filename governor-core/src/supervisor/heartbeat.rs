//! The heartbeat watchdog: a service added with
//! [`ServiceConfig::watchdog`](crate::ServiceConfig::watchdog) promises a
//! [`ServiceCtx::heartbeat`] at least once per timeout; a run that breaks
//! the promise is hung. This file holds both ends: what a run calls
//! (`heartbeat`, `busy_for`) and the run watch's side ([`poll_hung`]),
//! which `supervisor/watched.rs` calls while the run runs.
//!
//! # Rules
//!
//! 1. Only a service with a watchdog pays for it: the timer exists per
//!    run of such a service only, in the slot of the run watch's boxed
//!    stop state that holds the shutdown deadline once the stop begins
//!    (made at the run's start for such a service, at its stop for
//!    others); a service without one pays one byte of the watch's
//!    padding ([`Watch`]) and a compare per poll.
//! 2. A heartbeat never wakes anybody: it writes the time under the
//!    record's lock. The timer is armed for the deadline the pulse had
//!    when it was last checked; when it fires, the pulse is read again,
//!    and the timer re-armed for the new deadline, or the run declared
//!    hung. So a run is declared hung exactly at its deadline: its last
//!    heartbeat (or its beginning) plus the timeout, or the end of its
//!    busy declaration if that is later.
//! 3. A hung run is stopped as any run is: its token is stopped, then its
//!    stop hooks are called, then its shutdown timeout runs (the watchdog
//!    timeout if it has none, so that a hung run always ends), then it is
//!    aborted (or, blocking, abandoned). Its outcome is
//!    [`Outcome::Hung`], whatever the run returned once stopped.
//! 4. `Event::Hung` and the health change it causes are emitted before
//!    the stop begins, with no lock held.

use core::task::Context;
use core::time::Duration;

use crate::context::ServiceCtx;
use crate::event::Event;
use crate::governor::Shared;
use crate::outcome::Outcome;
use crate::record::{drop_user_value, PulseCheck, Record, RunLiveness};
use crate::runtime::BoxSleep;

/// Where a run's watchdog is: one byte in the run watch, which keeps the
/// timer in the slot its shutdown deadline takes once its stop begins
/// (no run needs both at once), so a service without a watchdog pays
/// nothing for it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Watch {
    /// No watchdog (or nothing left to watch).
    Off,
    /// The timer in the watch's deadline slot is the watchdog's.
    Watching,
    /// The run was declared hung.
    Hung,
}

/// The watchdog timeout of run number `run`, begun at `began`, if its
/// service has one (`Duration::ZERO`: none): its pulse is armed. Takes
/// `liveness` by value so that the supervisor does not keep it across
/// the run's await (a service without a watchdog pays nothing for it).
pub(super) fn arm(
    record: &Record,
    run: u64,
    began: Duration,
    liveness: RunLiveness,
) -> Option<Duration> {
    let timeout = liveness.watchdog.filter(|t| !t.is_zero())?;
    record.arm_pulse(run, began, timeout);
    Some(timeout)
}

/// Polls the watchdog's `timer`; when the current run's deadline has
/// passed, declares it hung (told as events), stops its token and
/// returns its watchdog timeout: the caller begins its stop (hooks,
/// timeout) as for any stop. `Watch::Off` in `watch` once there is
/// nothing to watch.
pub(super) fn poll_hung(
    watch: &mut Watch,
    timer: &mut Option<BoxSleep>,
    cx: &mut Context<'_>,
    shared: &Shared,
    record: &Record,
) -> Option<Duration> {
    loop {
        let Some(sleep) = timer.as_mut() else {
            *watch = Watch::Off;
            return None;
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        let now = shared.runtime.now();
        match record.check_pulse(now) {
            PulseCheck::AliveUntil(deadline) => {
                *timer = Some(shared.runtime.sleep(deadline.saturating_sub(now)));
            }
            PulseCheck::Gone => {
                *timer = None;
                *watch = Watch::Off;
                return None;
            }
            PulseCheck::Hung {
                run,
                timeout,
                silent_for,
                health,
            } => {
                *timer = None;
                *watch = Watch::Hung;
                shared.emit(|| Event::Hung {
                    service: record.name.clone(),
                    run,
                    silent_for,
                });
                if let Some(health) = health {
                    shared.emit(|| Event::HealthChanged {
                        service: record.name.clone(),
                        health,
                    });
                }
                record.stop_current_run();
                return Some(timeout);
            }
        }
    }
}

/// The outcome a watched run ends with: [`Outcome::Hung`] if its watchdog
/// declared it hung (what it returned is dropped, outside any lock, with a
/// panic in its `Drop` caught), else `outcome`.
pub(super) fn hung_or(watch: Watch, record: &Record, outcome: Outcome) -> Outcome {
    if watch == Watch::Hung {
        drop_user_value(&record.name, "outcome of a hung run", outcome);
        Outcome::Hung
    } else {
        outcome
    }
}

impl ServiceCtx {
    /// Tells this service's [watchdog](crate::ServiceConfig::watchdog)
    /// that this run is alive: the run is declared hung only if its next
    /// heartbeat does not come within the watchdog's timeout of this one.
    /// Callable from any thread (a [blocking
    /// service](crate::BlockingService) calls it from its own). Without a
    /// watchdog, or from the context of a run that has ended, it does
    /// nothing. It costs a clock read and a short lock; it wakes nobody.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_smol::{RestartPolicy, ServiceCtx, ServiceResult};
    ///
    /// async fn worker(ctx: ServiceCtx) -> ServiceResult {
    ///     loop {
    ///         ctx.heartbeat(); // each turn of the loop proves it alive
    ///         // ... one step of work, well under the watchdog's timeout ...
    ///         ctx.sleep(Duration::from_millis(100)).await?;
    ///     }
    /// }
    ///
    /// let gov = governor_smol::new();
    /// gov.add("worker", worker)?
    ///     .watchdog(Duration::from_secs(5))
    ///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)));
    /// # Ok::<(), governor_smol::Error>(())
    /// ```
    pub fn heartbeat(&self) {
        let (shared, record, run) = self.parts();
        record.beat(run, shared.runtime.now());
    }

    /// Declares this run busy, and alive, for `duration` from now: its
    /// watchdog does not declare it hung before that, even without
    /// heartbeats (for a step known to be long: a migration, a large
    /// upload). It only ever extends the deadline: a later heartbeat
    /// counts from itself, and an earlier, longer declaration stands.
    /// Without a watchdog it does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use governor_smol::{ServiceCtx, ServiceResult};
    ///
    /// async fn compactor(ctx: ServiceCtx) -> ServiceResult {
    ///     loop {
    ///         ctx.heartbeat();
    ///         ctx.busy_for(Duration::from_secs(60)); // a long, alive step
    ///         // ... compact, for up to a minute ...
    ///         ctx.sleep(Duration::from_secs(1)).await?;
    ///     }
    /// }
    /// # let _ = compactor;
    /// ```
    pub fn busy_for(&self, duration: Duration) {
        let (shared, record, run) = self.parts();
        record.busy_until(run, shared.runtime.now().saturating_add(duration));
    }
}
