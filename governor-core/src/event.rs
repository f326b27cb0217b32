//! One typed event for every step of the lifecycle, and the default that
//! emits them through `tracing`.

use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use crate::outcome::Outcome;
use crate::report::ShutdownCause;

/// A step in the life of the governor or one of its services.
///
/// A hook set with [`Governor::on_event`](crate::Governor::on_event)
/// receives every event, synchronously, on whatever thread the step
/// happened; keep it short. Without a hook, [`Event::log`] is used: each
/// event is emitted through `tracing` under the target `governor::event`,
/// at its [`level`](Event::level), with the fields listed there.
/// [Observers](crate::Governor::observe_events) see every event too,
/// beside the hook or the log.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The service was started and waits for its dependencies.
    Starting {
        /// The service.
        service: Arc<str>,
    },
    /// A run began (`run` 1 is the first).
    RunStarted {
        /// The service.
        service: Arc<str>,
        /// Which run, from 1.
        run: u64,
    },
    /// The current run reported ready (or, for a service that does not
    /// report readiness, began).
    Ready {
        /// The service.
        service: Arc<str>,
    },
    /// A run ended (emitted once the service's report shows it: its last
    /// outcome, and its state after the run).
    RunEnded {
        /// The service.
        service: Arc<str>,
        /// How it ended.
        outcome: Outcome,
    },
    /// A run panicked (followed by `RunEnded` with the same outcome).
    Panicked {
        /// The service.
        service: Arc<str>,
        /// The panic's message.
        message: Arc<str>,
    },
    /// The service will run again after `delay`.
    RestartScheduled {
        /// The service.
        service: Arc<str>,
        /// How long until the next run.
        delay: Duration,
        /// Restarts since the last healthy run (1 for the first).
        attempt: u32,
        /// The service is in trouble: its backoff delay has grown past its
        /// initial value (it keeps failing before the backoff resets), or
        /// it has used more than half of its restart limit. The default
        /// log says so at WARN; a restart without trouble is INFO, however
        /// many came before it.
        trouble: bool,
    },
    /// The service restarted too often and will not run again (emitted
    /// once its report says [`GaveUp`](crate::ServiceState::GaveUp)).
    GaveUp {
        /// The service.
        service: Arc<str>,
        /// Restarts so far.
        restarts: u64,
    },
    /// The service was not started because a dependency ended for good
    /// without ever becoming ready.
    DependencyFailed {
        /// The service that was not started.
        service: Arc<str>,
        /// The dependency that failed it.
        dependency: Arc<str>,
    },
    /// The service's [handle](crate::ServiceHandle) asked it to stop:
    /// for good ([`stop`](crate::ServiceHandle::stop),
    /// [`remove`](crate::ServiceHandle::remove)), or its current run only,
    /// to run again at once ([`restart`](crate::ServiceHandle::restart)).
    /// Emitted before the run it stops ends, once per call that does
    /// something.
    StopRequested {
        /// The service.
        service: Arc<str>,
        /// Whether it runs again at once (`restart`).
        restart: bool,
    },
    /// A restart or an end for good propagated to the service
    /// (`propagation.rs`): its dependency `from`, which it is
    /// [`PartOf`](crate::Bind::PartOf) or [`BindsTo`](crate::Bind::BindsTo),
    /// or the member of its group whose restart restarts it
    /// ([`Strategy`](crate::Strategy)), restarts (`restart`: its current
    /// run is stopped, and it runs again once `from` is ready), or `from`
    /// ended for good and it is stopped for good (`BindsTo`). Emitted
    /// before the run it stops ends (then `RunEnded` tells its outcome).
    StopPropagated {
        /// The service stopped.
        service: Arc<str>,
        /// The service whose restart or end it follows.
        from: Arc<str>,
        /// Whether it runs again (a restart), rather than stopping for good.
        restart: bool,
    },
    /// Shutdown began.
    ShutdownRequested {
        /// Why.
        cause: ShutdownCause,
    },
    /// The service did not stop within its shutdown timeout.
    StopTimedOut {
        /// The service.
        service: Arc<str>,
        /// The timeout it had.
        timeout: Duration,
    },
    /// The service's run was aborted (dropped, or abandoned for a blocking
    /// service) by a timeout or a forced shutdown.
    Aborted {
        /// The service.
        service: Arc<str>,
    },
    /// The run sent no [heartbeat](crate::ServiceCtx::heartbeat) for its
    /// [watchdog](crate::ServiceConfig::watchdog) timeout: it is declared
    /// hung and its stop begins (emitted before its stop hooks are
    /// called; its `RunEnded` says [`Outcome::Hung`](crate::Outcome::Hung)).
    Hung {
        /// The service.
        service: Arc<str>,
        /// Which run, from 1.
        run: u64,
        /// How long since its last heartbeat (or since the run began, if
        /// it sent none): its watchdog timeout, or more if it had
        /// declared itself [busy](crate::ServiceCtx::busy_for).
        silent_for: Duration,
    },
    /// The service's [health](crate::Health) changed: set by its run
    /// ([`ServiceCtx::set_health`](crate::ServiceCtx::set_health)), made
    /// unhealthy by a hang, or back to healthy as a new run begins.
    HealthChanged {
        /// The service.
        service: Arc<str>,
        /// Its health now.
        health: crate::health::Health,
    },
    /// A shutdown was requested with a [drain
    /// delay](crate::Governor::drain_delay): services keep running for
    /// `delay` (report the program as not ready) before the first is asked
    /// to stop. Right after [`ShutdownRequested`](Event::ShutdownRequested).
    Draining {
        /// The delay.
        delay: Duration,
    },
    /// A reload began ([`Governor::reload`](crate::Governor::reload), or
    /// a signal whose action is
    /// [`SignalAction::Reload`](crate::SignalAction::Reload)). Emitted
    /// before anything is delivered; [`Reloaded`](Event::Reloaded) with
    /// the same `generation` follows, exactly once: the pair systemd's
    /// `RELOADING=1` ... `READY=1` wraps (`Type=notify-reload`).
    Reloading {
        /// The reload's number: 1 for the first, then 2, ...
        generation: u64,
        /// The signal that asked for it, or `None` for `reload()`.
        signal: Option<crate::runtime::Signal>,
    },
    /// The reload restarted this service's current run (it was configured
    /// with [`restart_on_reload`](crate::ServiceConfig::restart_on_reload)).
    /// Between `Reloading` and `Reloaded`.
    ReloadRestart {
        /// The service.
        service: Arc<str>,
        /// The reload's number.
        generation: u64,
    },
    /// The reload `generation` is done: it was delivered to every
    /// [`ServiceCtx::reloaded`](crate::ServiceCtx::reloaded) waiter, and
    /// every service it restarted has begun its new run and is ready (or
    /// has ended for good). A shutdown that begins meanwhile ends the
    /// reload at once: `Reloaded` then comes right after
    /// `ShutdownRequested`.
    Reloaded {
        /// The reload's number.
        generation: u64,
    },
    /// Every service has stopped after a shutdown.
    ShutdownComplete {
        /// Whether the shutdown was forced (a second signal, or
        /// [`force_shutdown`](crate::Governor::force_shutdown)).
        forced: bool,
    },
}

impl Event {
    /// The service the event is about, if any.
    pub fn service(&self) -> Option<&str> {
        match self {
            Event::Starting { service }
            | Event::RunStarted { service, .. }
            | Event::Ready { service }
            | Event::RunEnded { service, .. }
            | Event::Panicked { service, .. }
            | Event::RestartScheduled { service, .. }
            | Event::GaveUp { service, .. }
            | Event::DependencyFailed { service, .. }
            | Event::StopTimedOut { service, .. }
            | Event::StopRequested { service, .. }
            | Event::StopPropagated { service, .. }
            | Event::ReloadRestart { service, .. }
            | Event::Aborted { service }
            | Event::Hung { service, .. }
            | Event::HealthChanged { service, .. } => Some(service),
            Event::ShutdownRequested { .. }
            | Event::ShutdownComplete { .. }
            | Event::Reloading { .. }
            | Event::Draining { .. }
            | Event::Reloaded { .. } => None,
        }
    }

    /// Emits the event through `tracing` at its [`level`](Event::level),
    /// under the target `governor::event`
    /// ([`targets::EVENT`](crate::targets::EVENT)), with its
    /// [`Display`](core::fmt::Display) as the message and its data as
    /// fields (see [`level`](Event::level) for the table), the service's
    /// name as the `service` field.
    ///
    /// The governor's default log (no [`on_event`](crate::Governor::on_event)
    /// hook) is this, except for an event emitted inside a run of the
    /// service it is about (`Ready` from
    /// [`ServiceCtx::ready`](crate::ServiceCtx::ready)): there the run's
    /// `service` span already names the service, and the line names it
    /// once, through the span.
    pub fn log(&self) {
        self.log_naming(true);
    }

    /// [`log`](Event::log), with the `service` field only if `name_it`.
    pub(crate) fn log_naming(&self, name_it: bool) {
        use tracing::Level;
        let service = if name_it { self.service() } else { None };
        // `tracing::event!` needs its target and level as constants.
        macro_rules! at {
            ($level:expr, $($fields:tt)*) => {
                match $level {
                    Level::ERROR => tracing::event!(target: crate::targets::EVENT, Level::ERROR, service, $($fields)* "{self}"),
                    Level::WARN => tracing::event!(target: crate::targets::EVENT, Level::WARN, service, $($fields)* "{self}"),
                    Level::INFO => tracing::event!(target: crate::targets::EVENT, Level::INFO, service, $($fields)* "{self}"),
                    Level::DEBUG => tracing::event!(target: crate::targets::EVENT, Level::DEBUG, service, $($fields)* "{self}"),
                    _ => tracing::event!(target: crate::targets::EVENT, Level::TRACE, service, $($fields)* "{self}"),
                }
            };
        }
        let level = self.level();
        match self {
            Event::Starting { .. } | Event::Ready { .. } | Event::Aborted { .. } => at!(level,),
            Event::RunStarted { run, .. } => at!(level, run,),
            Event::RunEnded { outcome, .. } => at!(level, outcome = outcome.kind(),),
            Event::Panicked { message, .. } => at!(level, panic = &**message,),
            Event::RestartScheduled {
                delay,
                attempt,
                trouble,
                ..
            } => at!(level, delay = ?delay, attempt, trouble,),
            Event::GaveUp { restarts, .. } => at!(level, restarts,),
            Event::DependencyFailed { dependency, .. } => {
                at!(level, dependency = &**dependency,)
            }
            Event::StopRequested { restart, .. } => at!(level, restart,),
            Event::StopPropagated { from, restart, .. } => at!(level, from = &**from, restart,),
            Event::ShutdownRequested { cause } => at!(level, cause = %cause,),
            Event::StopTimedOut { timeout, .. } => at!(level, timeout = ?timeout,),
            Event::Hung {
                run, silent_for, ..
            } => at!(level, run, silent_for = ?silent_for,),
            Event::HealthChanged { health, .. } => at!(level, health = %health,),
            Event::Reloading { generation, signal } => {
                at!(level, generation, signal = signal.map(|s| s.name()),)
            }
            Event::ReloadRestart { generation, .. } | Event::Reloaded { generation } => {
                at!(level, generation,)
            }
            Event::Draining { delay } => at!(level, delay = ?delay,),
            Event::ShutdownComplete { forced } => at!(level, forced,),
        }
    }

    /// The level [`log`](Event::log) emits the event at.
    ///
    /// Every event is logged under the target `governor::event`, with its
    /// `Display` as the message, `service` (the service's name, except
    /// inside the run's own `service` span, which names it) and these
    /// fields:
    ///
    /// | event | level | fields |
    /// |---|---|---|
    /// | `Starting` | debug | `service` |
    /// | `RunStarted` | debug | `service`, `run` |
    /// | `Ready` | debug | `service` |
    /// | `RunEnded` | info; warn for a failure or panic | `service`, `outcome` ([`Outcome::kind`](crate::Outcome::kind)) |
    /// | `Panicked` | error | `service`, `panic` (the message) |
    /// | `RestartScheduled` | info; warn in trouble | `service`, `delay`, `attempt`, `trouble` |
    /// | `GaveUp` | error | `service`, `restarts` |
    /// | `DependencyFailed` | warn | `service`, `dependency` |
    /// | `StopRequested` | info | `service`, `restart` |
    /// | `StopPropagated` | info | `service`, `from`, `restart` |
    /// | `ShutdownRequested` | info | `cause` |
    /// | `StopTimedOut` | warn | `service`, `timeout` |
    /// | `Aborted` | warn | `service` |
    /// | `Hung` | error | `service`, `run`, `silent_for` |
    /// | `HealthChanged` | info, warn or error (healthy, degraded, unhealthy) | `service`, `health` |
    /// | `Reloading` | info | `generation`, `signal` |
    /// | `ReloadRestart` | info | `service`, `generation` |
    /// | `Reloaded` | info | `generation` |
    /// | `Draining` | info | `delay` |
    /// | `ShutdownComplete` | info; warn if forced | `forced` |
    ///
    /// The levels fit the events:
    /// lifecycle steps at debug, clean stops, restarts and shutdown at
    /// info, failures, restarts in trouble (a grown backoff, a restart
    /// limit more than half used), timeouts and aborts at warn, panics,
    /// hangs and giving up at error; a health change at info, warn or
    /// error as the health is healthy, degraded or unhealthy — so a restart storm is never silent, a clean
    /// stop never shouts, and a service restarted on a fixed delay for
    /// days is not a warning for its age.
    pub fn level(&self) -> tracing::Level {
        use tracing::Level;
        match self {
            Event::Starting { .. } | Event::RunStarted { .. } | Event::Ready { .. } => Level::DEBUG,
            Event::RunEnded { outcome, .. } if outcome.is_failure() => Level::WARN,
            Event::RunEnded { .. }
            | Event::StopRequested { .. }
            | Event::StopPropagated { .. }
            | Event::ShutdownRequested { .. }
            | Event::Reloading { .. }
            | Event::Draining { .. }
            | Event::ReloadRestart { .. }
            | Event::Reloaded { .. }
            | Event::ShutdownComplete { forced: false } => Level::INFO,
            Event::RestartScheduled { trouble: false, .. } => Level::INFO,
            Event::RestartScheduled { .. }
            | Event::StopTimedOut { .. }
            | Event::Aborted { .. }
            | Event::DependencyFailed { .. }
            | Event::ShutdownComplete { forced: true } => Level::WARN,
            Event::Panicked { .. } | Event::GaveUp { .. } | Event::Hung { .. } => Level::ERROR,
            Event::HealthChanged { health, .. } => match health.level() {
                crate::health::HealthLevel::Healthy => Level::INFO,
                crate::health::HealthLevel::Degraded => Level::WARN,
                crate::health::HealthLevel::Unhealthy => Level::ERROR,
            },
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Starting { .. } => f.write_str("starting"),
            Event::RunStarted { run, .. } => write!(f, "started (run {run})"),
            Event::Ready { .. } => f.write_str("ready"),
            Event::RunEnded { outcome, .. } => write!(f, "run ended: {outcome}"),
            Event::Panicked { message, .. } => write!(f, "panicked: {message}"),
            Event::RestartScheduled { delay, attempt, .. } => {
                write!(f, "restarting in {delay:?} (attempt {attempt})")
            }
            Event::GaveUp { restarts, .. } => {
                write!(
                    f,
                    "gave up after {restarts} restart(s): restart limit reached"
                )
            }
            Event::DependencyFailed { dependency, .. } => {
                write!(
                    f,
                    "not started: dependency {dependency:?} ended without becoming ready"
                )
            }
            Event::StopRequested { restart: true, .. } => {
                f.write_str("restart requested by its handle")
            }
            Event::StopRequested { restart: false, .. } => {
                f.write_str("stop requested by its handle")
            }
            Event::StopPropagated {
                from,
                restart: true,
                ..
            } => write!(f, "restarted with {from:?}"),
            Event::StopPropagated {
                from,
                restart: false,
                ..
            } => write!(f, "stopped for good with {from:?}"),
            Event::ShutdownRequested { cause } => write!(f, "shutdown requested: {cause}"),
            Event::StopTimedOut { timeout, .. } => {
                write!(f, "did not stop within {timeout:?}")
            }
            Event::Aborted { .. } => f.write_str("aborted"),
            Event::Hung {
                run, silent_for, ..
            } => write!(f, "run {run} hung: no heartbeat for {silent_for:?}"),
            Event::HealthChanged { health, .. } => write!(f, "health: {health}"),
            Event::Reloading {
                generation,
                signal: Some(signal),
            } => write!(f, "reload {generation} requested by {signal}"),
            Event::Reloading { generation, .. } => write!(f, "reload {generation} requested"),
            Event::ReloadRestart { generation, .. } => {
                write!(f, "restarting for reload {generation}")
            }
            Event::Reloaded { generation } => write!(f, "reload {generation} done"),
            Event::Draining { delay } => {
                write!(f, "draining for {delay:?} before the first stop")
            }
            Event::ShutdownComplete { forced } => {
                write!(
                    f,
                    "shutdown complete{}",
                    if *forced { " (forced)" } else { "" }
                )
            }
        }
    }
}
