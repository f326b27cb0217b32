//! What the governor tells `main` about its services: a snapshot per
//! service and the report returned by shutdown.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::outcome::Outcome;
use crate::runtime::Signal;

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceState {
    /// Added, not started (yet): no `start` has covered it.
    Pending,
    /// Started, waiting for its dependencies to be ready.
    Starting,
    /// A run is in progress (not reported ready yet, for a service that
    /// [reports readiness](crate::ServiceConfig::notify_ready)).
    Running,
    /// A run is in progress and ready.
    Ready,
    /// Between two runs, waiting for the restart delay.
    Restarting,
    /// Asked to stop; the run has not ended yet.
    Stopping,
    /// Ended for good: it will not run again.
    Ended,
    /// Restarted more often than its policy's limit allows; it will not
    /// run again.
    GaveUp,
    /// A [`start`](crate::Governor::start) (or
    /// [`ServiceConfig::start`](crate::ServiceConfig::start)) covered it
    /// after shutdown had begun, and was refused with
    /// [`Error::StartAfterShutdown`](crate::Error::StartAfterShutdown): it
    /// never ran and never will (its value has been dropped). Final. A
    /// service added but not covered by any `start` stays
    /// [`Pending`](ServiceState::Pending). Not a failure: a report with it
    /// can be [clean](Report::is_clean).
    Refused,
}

impl ServiceState {
    /// Whether the service will never run again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ServiceState::Ended | ServiceState::GaveUp | ServiceState::Refused
        )
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceState::Pending => "added, not started",
            ServiceState::Starting => "starting",
            ServiceState::Running => "running",
            ServiceState::Ready => "ready",
            ServiceState::Restarting => "restarting",
            ServiceState::Stopping => "stopping",
            ServiceState::Ended => "ended",
            ServiceState::GaveUp => "gave up",
            ServiceState::Refused => "refused: shutdown had begun",
        })
    }
}

/// Why the governor began to shut down.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownCause {
    /// [`Governor::shutdown`](crate::Governor::shutdown) or
    /// [`request_shutdown`](crate::Governor::request_shutdown) was called
    /// (by `main`, by a service, or by any other code).
    Requested,
    /// A caught operating-system signal.
    Signal(Signal),
    /// Every [`Governor`](crate::Governor) handle was dropped while services
    /// still ran: they are stopped rather than left unsupervised.
    Dropped,
    /// A service restarted more often than its policy allows and its
    /// policy escalates with [`Escalation::Shutdown`](crate::Escalation::Shutdown).
    Escalated {
        /// The service.
        service: Arc<str>,
    },
    /// A [critical](crate::ServiceConfig::critical) service ended for good
    /// by itself. A failure only if that service failed, panicked or gave
    /// up, as its own entry in the report says
    /// ([`Report::is_clean`] looks at both); a clean end shuts down
    /// cleanly.
    Critical {
        /// The service.
        service: Arc<str>,
    },
}

impl ShutdownCause {
    /// Whether this cause is a failure by itself (an escalation), rather
    /// than a request, a signal, a dropped governor or a critical
    /// service's end. Whether a critical service ended badly is in its
    /// entry of the report: [`Report::is_clean`] looks at both.
    pub fn is_failure(&self) -> bool {
        matches!(self, ShutdownCause::Escalated { .. })
    }
}

impl fmt::Display for ShutdownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownCause::Requested => f.write_str("requested"),
            ShutdownCause::Signal(signal) => write!(f, "signal {signal}"),
            ShutdownCause::Dropped => f.write_str("the governor was dropped"),
            ShutdownCause::Escalated { service } => {
                write!(f, "service {service:?} restarted too often")
            }
            ShutdownCause::Critical { service } => {
                write!(f, "critical service {service:?} ended")
            }
        }
    }
}

/// When a run began and ended, on the governor's clock: the
/// [`Runtime::now`](crate::runtime::Runtime::now) of the runtime it runs on,
/// a [`Duration`] since that runtime's origin (the runtime's creation for
/// the adapters; time zero on a virtual clock). Comparable with each other
/// and with [`Report::shutdown_began`], not with wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RunTimes {
    /// When the run began (its `run` was called).
    pub started: Duration,
    /// When it ended (returned, panicked, or was aborted or abandoned at
    /// its shutdown timeout); `None` while it is in progress.
    pub ended: Option<Duration>,
}

impl RunTimes {
    /// How long the run lasted, if it has ended.
    pub fn duration(&self) -> Option<Duration> {
        self.ended.map(|ended| ended.saturating_sub(self.started))
    }
}

/// A snapshot of one service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceReport {
    /// The name it was added under.
    pub name: Arc<str>,
    /// Its state when the snapshot was taken.
    pub state: ServiceState,
    /// How many runs have begun.
    pub runs: u64,
    /// How many of those runs were restarts.
    pub restarts: u64,
    /// How its latest finished run ended; `None` if no run has finished.
    pub last_outcome: Option<Outcome>,
    /// While [`Restarting`](ServiceState::Restarting): how long until the
    /// next run.
    pub restart_in: Option<Duration>,
    /// How long its last stop took, from the request to the end of the run
    /// (or to the abort).
    pub stop_time: Option<Duration>,
    /// Whether it did not stop within its shutdown timeout (or was cut off
    /// by a forced shutdown).
    pub timed_out: bool,
    /// The tasks ([`ServiceCtx::spawn`](crate::ServiceCtx::spawn)) that
    /// were still running when a run was cut off (its shutdown timeout, a
    /// forced shutdown) and were aborted with it, by name (`task #n` for
    /// unnamed ones): those of the latest run that ended, empty if none.
    pub aborted_tasks: Vec<Arc<str>>,
    /// When its latest run began and (once it has) ended; `None` if no
    /// run has begun. While a later run is in progress, this is that run
    /// (`ended` is `None`), and [`last_outcome`](ServiceReport::last_outcome)
    /// is the one before's.
    pub last_run: Option<RunTimes>,
    /// Its health, as its current (or last) run left it: see
    /// [`ServiceCtx::set_health`](crate::ServiceCtx::set_health).
    pub health: crate::health::Health,
}

impl fmt::Display for ServiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.state)?;
        if matches!(self.state, ServiceState::Pending | ServiceState::Refused) {
            return Ok(()); // never ran: nothing more to tell
        }
        match &self.last_outcome {
            Some(outcome) => write!(f, ", last run {outcome}")?,
            None => f.write_str(", never finished a run")?,
        }
        write!(f, ", {} run(s), {} restart(s)", self.runs, self.restarts)?;
        if let Some(stop) = self.stop_time {
            write!(f, ", stopped in {stop:?}")?;
        }
        if self.timed_out {
            f.write_str(", did NOT stop in time")?;
        }
        if !self.aborted_tasks.is_empty() {
            f.write_str(", aborted tasks: ")?;
            for (i, name) in self.aborted_tasks.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
            }
        }
        if self.health != crate::health::Health::Healthy {
            write!(f, ", {}", self.health)?;
        }
        Ok(())
    }
}

/// The state of every service, as returned by
/// [`Governor::shutdown`](crate::Governor::shutdown),
/// [`Governor::wait_for_shutdown`](crate::Governor::wait_for_shutdown) and
/// [`Governor::report`](crate::Governor::report).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// Why shutdown began, if it has.
    pub cause: Option<ShutdownCause>,
    /// Whether the shutdown was forced (everything left was aborted).
    pub forced: bool,
    /// Whether the governor is in its [drain
    /// delay](crate::Governor::drain_delay): a shutdown was requested,
    /// services still run, and the program should be reported as not
    /// ready (so that a load balancer stops sending it work).
    pub draining: bool,
    /// The [shutdown budget](crate::Governor::shutdown_budget) of this
    /// shutdown, once its stop has begun with a budget set: how many
    /// phases it had and which ran out of its share, if any.
    pub budget: Option<crate::BudgetReport>,
    /// One entry per service, in the order they were added.
    pub services: Vec<ServiceReport>,
    /// When shutdown began (was requested), on the governor's clock (see
    /// [`RunTimes`]); `None` if it has not.
    pub shutdown_began: Option<Duration>,
    /// When shutdown was complete: every service had ended after it began
    /// (the time of [`Event::ShutdownComplete`](crate::Event::ShutdownComplete)).
    /// `None` until then; a report taken from inside a service (whose own
    /// wait returns before it ends) has `None` here.
    pub shutdown_ended: Option<Duration>,
}

impl Report {
    /// The entry for the service called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceReport> {
        self.services.iter().find(|s| &*s.name == name)
    }

    /// The health of the governor when the report was taken: the worst of
    /// its services', naming those that are not healthy (as
    /// [`Governor::health`](crate::Governor::health)).
    pub fn health(&self) -> crate::health::HealthReport {
        let mut report = crate::health::HealthReport {
            shutting_down: self.cause.is_some(),
            ..Default::default()
        };
        for service in &self.services {
            report.add(&service.name, service.state, Some(service.health.clone()));
        }
        report
    }

    /// The services that did not stop in time.
    pub fn timed_out(&self) -> impl Iterator<Item = &ServiceReport> {
        self.services.iter().filter(|s| s.timed_out)
    }

    /// Whether everything ended well: no service's latest run failed,
    /// panicked or had to be aborted, none gave up, none was kept from
    /// running by a failed dependency
    /// ([`Outcome::DependencyFailed`]), and the shutdown (if any) was not
    /// caused by an escalation. What a `main` usually turns into exit code 0.
    ///
    /// A [critical](crate::ServiceConfig::critical) service is OTP's
    /// significant child: its clean end (`Ok`, `StopService`) shuts the
    /// governor down cleanly, with [`ShutdownCause::Critical`] naming it,
    /// and the report is clean; its failure, panic or giving up makes the
    /// report unclean (through its own entry).
    pub fn is_clean(&self) -> bool {
        !self.cause.as_ref().is_some_and(ShutdownCause::is_failure)
            && self.services.iter().all(|s| {
                s.state != ServiceState::GaveUp
                    && !s.last_outcome.as_ref().is_some_and(|o| {
                        o.is_failure()
                            || o.is_aborted()
                            || matches!(o, Outcome::DependencyFailed(_))
                    })
            })
    }
}

/// The exit codes [`Report::exit_code`] maps a report to, one per kind of
/// ending, so that a service manager (or a person reading `systemctl
/// status`) can tell them apart, and a unit can treat some specially
/// (`RestartPreventExitStatus=`, `SuccessExitStatus=`).
///
/// Zero and one are the universal "success" and "failure"; the specific
/// failures take the `sysexits(3)` codes whose meaning fits, which stay
/// clear of systemd's own range (200 to 243, reserved for failures of its
/// own set-up steps) and of the LSB init-script codes 2 to 7; the forced
/// shutdown takes the shell's "interrupted" status, what a program
/// stopped by a second Ctrl-C conventionally exits with. A clean shutdown
/// on SIGTERM exits 0: systemd and Kubernetes count the stop they asked
/// for as a success.
///
/// | code | constant | the report |
/// |-----:|----------|------------|
/// | 0    | [`CLEAN`](exit_code::CLEAN) | [clean](Report::is_clean), whatever started the shutdown (a signal, a request, a critical service ending well) |
/// | 1    | [`FAILED`](exit_code::FAILED) | a service's latest run failed or panicked, a service gave up without escalating, or one was kept from running by a failed dependency |
/// | 69   | [`ESCALATED`](exit_code::ESCALATED) | `EX_UNAVAILABLE`: a service restarted too often and its policy shut the governor down ([`ShutdownCause::Escalated`]) |
/// | 70   | [`CRITICAL`](exit_code::CRITICAL) | `EX_SOFTWARE`: a [critical](crate::ServiceConfig::critical) service failed, panicked or gave up, and shut the governor down |
/// | 75   | [`ABORTED`](exit_code::ABORTED) | `EX_TEMPFAIL`: a service did not stop in time and was aborted or abandoned (its work may be cut short; a restart is invited) |
/// | 130  | [`FORCED`](exit_code::FORCED) | the shutdown was forced (a second signal, or [`force_shutdown`](crate::Governor::force_shutdown)) |
/// | 71   | [`OS_ERROR`](exit_code::OS_ERROR) | `EX_OSERR`, no report: the adapters' `run_to_exit` could not build its runtime |
/// | 78   | [`SETUP`](exit_code::SETUP) | `EX_CONFIG`, no report: the adapters' `run_to_exit` saw adding or starting services fail (a bad name, an unknown dependency, a cycle, signals that could not be caught) |
///
/// When several apply, the first of forced, escalated, critical, aborted,
/// failed wins: the cause that explains the others (a forced shutdown
/// aborts runs; an escalation follows failures).
pub mod exit_code {
    /// The report is [clean](super::Report::is_clean).
    pub const CLEAN: u8 = 0;
    /// Some service failed, panicked, gave up or was kept from running by
    /// a failed dependency, and nothing below applies.
    pub const FAILED: u8 = 1;
    /// `EX_UNAVAILABLE`: a restart limit's escalation shut the governor
    /// down.
    pub const ESCALATED: u8 = 69;
    /// `EX_SOFTWARE`: a critical service ended badly and shut the
    /// governor down.
    pub const CRITICAL: u8 = 70;
    /// `EX_TEMPFAIL`: a service had to be aborted or abandoned at its
    /// shutdown timeout (or its share of the shutdown budget).
    pub const ABORTED: u8 = 75;
    /// 128 + SIGINT, the shell's "interrupted": the shutdown was forced.
    pub const FORCED: u8 = 130;
    /// `EX_OSERR`: no report; the runtime could not be built (the
    /// adapters' `run_to_exit`).
    pub const OS_ERROR: u8 = 71;
    /// `EX_CONFIG`: no report; adding or starting the services failed (the
    /// adapters' `run_to_exit`).
    pub const SETUP: u8 = 78;
}

impl Report {
    /// The process exit code this report calls for: 0 when
    /// [clean](Report::is_clean), else one distinct code per kind of
    /// failure, listed (with why each was chosen) in [`exit_code`].
    ///
    /// ```
    /// use governor_smol::{exit_code, ServiceCtx};
    ///
    /// # fn main() -> Result<(), governor_smol::Error> {
    /// let gov = governor_smol::new();
    /// gov.add("worker", |ctx: ServiceCtx| async move {
    ///     ctx.wait_for_stop().await;
    ///     Ok(())
    /// })?;
    /// gov.start()?;
    /// let report = futures_executor::block_on(gov.shutdown());
    /// assert_eq!(report.exit_code(), exit_code::CLEAN);
    /// # Ok(()) }
    /// ```
    pub fn exit_code(&self) -> u8 {
        if self.forced {
            return exit_code::FORCED;
        }
        match &self.cause {
            Some(ShutdownCause::Escalated { .. }) => return exit_code::ESCALATED,
            Some(ShutdownCause::Critical { service }) => {
                let failed = self.service(service).is_some_and(|s| {
                    s.state == ServiceState::GaveUp
                        || s.last_outcome.as_ref().is_some_and(Outcome::is_failure)
                });
                if failed {
                    return exit_code::CRITICAL;
                }
            }
            _ => {}
        }
        let aborted = self
            .services
            .iter()
            .any(|s| s.last_outcome.as_ref().is_some_and(Outcome::is_aborted));
        if aborted {
            exit_code::ABORTED
        } else if self.is_clean() {
            exit_code::CLEAN
        } else {
            exit_code::FAILED
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => writeln!(
                f,
                "shutdown ({cause}){}:",
                if self.forced { ", forced" } else { "" }
            )?,
            None => writeln!(f, "no shutdown requested:")?,
        }
        if let Some(budget) = &self.budget {
            if let Some(phase) = budget.ran_out {
                writeln!(
                    f,
                    "  shutdown budget of {:?} ran out in phase {} of {}",
                    budget.budget,
                    phase + 1,
                    budget.phases
                )?;
            }
        }
        for service in &self.services {
            writeln!(f, "  {service}")?;
        }
        Ok(())
    }
}
