//! How one run of a service ends: the error type services return and the
//! outcome the governor records.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::any::Any;
use core::error::Error as StdError;
use core::fmt;

use crate::token::Interrupted;

/// What a service's `run` returns.
pub type ServiceResult = Result<(), ServiceError>;

/// A boxed error, as services produce them.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error a service run ends with.
///
/// Any `std::error::Error + Send + Sync + 'static` converts into it with
/// `?`. Two values are recognised on the way in and change what the
/// governor does:
///
/// - [`StopService`]: the service asks to end for good; it is **not**
///   restarted, whatever the restart policy says.
/// - [`Interrupted`]: the service was interrupted because a stop was requested
///   (from [`ServiceCtx::sleep`](crate::ServiceCtx::sleep) and friends); the
///   run counts as a clean return.
///
/// - [`TimeoutError`](crate::TimeoutError) and
///   [`TaskError`](crate::TaskError) convert as their meaning says: an
///   interrupted wait or task as [`Interrupted`] does, a task's
///   `StopService` as [`StopService`]; the rest are failures.
///
/// Everything else is a failure, kept in [`Outcome::Failed`].
///
/// `ServiceError` deliberately does not implement `std::error::Error`
/// itself (like `anyhow::Error`), so that the blanket `From` conversion
/// can exist.
///
/// ```
/// use governor_core::{ServiceError, ServiceResult, StopService};
///
/// fn parse(port: &str) -> ServiceResult {
///     let _port: u16 = port.parse()?; // ParseIntError -> failure
///     Ok(())
/// }
///
/// fn deep_inside() -> Result<(), StopService> {
///     Err(StopService)
/// }
///
/// fn run() -> ServiceResult {
///     deep_inside()?; // ends the service for good
///     Ok(())
/// }
///
/// assert!(parse("x").unwrap_err().is_failure());
/// assert!(run().unwrap_err().is_stop_service());
/// assert!(ServiceError::msg("bad config").is_failure());
/// ```
pub struct ServiceError {
    repr: Repr,
}

enum Repr {
    Stop,
    Interrupted,
    Failed(BoxError),
}

impl ServiceError {
    /// A failure with a plain message.
    pub fn msg(message: impl fmt::Display + Send + Sync + 'static) -> Self {
        ServiceError::new(MessageError(message.to_string_lossless()))
    }

    /// A failure from anything that converts into a boxed error
    /// (`anyhow::Error`, `Box<dyn Error>`, `String`, `&str`…).
    pub fn new(error: impl Into<BoxError>) -> Self {
        let boxed: BoxError = error.into();
        if let Some(timeout) = boxed.downcast_ref::<crate::time::TimeoutError>() {
            if *timeout == crate::time::TimeoutError::Interrupted {
                return ServiceError {
                    repr: Repr::Interrupted,
                };
            }
        }
        if let Some(task) = boxed.downcast_ref::<crate::tasks::TaskError>() {
            return task.clone().into_service_error();
        }
        let repr = if boxed.is::<StopService>() {
            Repr::Stop
        } else if boxed.is::<Interrupted>() {
            Repr::Interrupted
        } else {
            Repr::Failed(boxed)
        };
        ServiceError { repr }
    }

    /// The [`StopService`] request: end this service and do not restart it.
    pub const fn stop() -> Self {
        ServiceError { repr: Repr::Stop }
    }

    /// Whether this asks the governor not to restart the service.
    pub fn is_stop_service(&self) -> bool {
        matches!(self.repr, Repr::Stop)
    }

    /// Whether this says the run was interrupted by a stop request.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.repr, Repr::Interrupted)
    }

    /// Whether this is a real failure.
    pub fn is_failure(&self) -> bool {
        matches!(self.repr, Repr::Failed(_))
    }

    /// The failure, if this is one.
    pub fn as_failure(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &self.repr {
            Repr::Failed(e) => Some(&**e),
            _ => None,
        }
    }

    pub(crate) fn into_outcome(self) -> Outcome {
        match self.repr {
            Repr::Stop => Outcome::StopService,
            Repr::Interrupted => Outcome::Completed,
            Repr::Failed(e) => Outcome::Failed(Arc::from(e)),
        }
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for ServiceError {
    fn from(error: E) -> Self {
        let any: &dyn Any = &error;
        if let Some(timeout) = any.downcast_ref::<crate::time::TimeoutError>() {
            return match timeout {
                crate::time::TimeoutError::Interrupted => ServiceError {
                    repr: Repr::Interrupted,
                },
                _ => ServiceError {
                    repr: Repr::Failed(Box::new(error)),
                },
            };
        }
        if let Some(task) = any.downcast_ref::<crate::tasks::TaskError>() {
            return task.clone().into_service_error();
        }
        if any.is::<StopService>() {
            ServiceError::stop()
        } else if any.is::<Interrupted>() {
            ServiceError {
                repr: Repr::Interrupted,
            }
        } else {
            ServiceError {
                repr: Repr::Failed(Box::new(error)),
            }
        }
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Stop => f.write_str("ServiceError::Stop"),
            Repr::Interrupted => f.write_str("ServiceError::Interrupted"),
            Repr::Failed(e) => f.debug_tuple("ServiceError::Failed").field(e).finish(),
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Stop => fmt::Display::fmt(&StopService, f),
            Repr::Interrupted => fmt::Display::fmt(&Interrupted, f),
            Repr::Failed(e) => fmt::Display::fmt(e, f),
        }
    }
}

trait ToStringLossless {
    fn to_string_lossless(&self) -> String;
}

impl<T: fmt::Display + ?Sized> ToStringLossless for T {
    fn to_string_lossless(&self) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        // Writing to a String cannot fail; a Display impl that errors just
        // leaves a shorter message.
        let _ = write!(s, "{self}");
        s
    }
}

#[derive(Debug)]
struct MessageError(String);

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for MessageError {}

/// Ends a service for good, from anywhere in its call stack.
///
/// Return it through `?` (it converts into [`ServiceError`]), or, with the
/// `std` feature, `std::panic::panic_any(StopService)` from code that
/// cannot return an error. Either way the run ends with
/// [`Outcome::StopService`] and the service is not restarted, whatever its
/// restart policy. (The Go governor restarts it anyway; that is a defect
/// this crate does not copy.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StopService;

impl fmt::Display for StopService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the service asked to stop for good")
    }
}

impl StdError for StopService {}

/// How one run of a service ended.
#[derive(Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// `run` returned `Ok(())`, or ended with [`Interrupted`] after a stop
    /// request.
    Completed,
    /// `run` returned an error. Its `Display` shows the error's; with the
    /// `std` feature, an error whose own `Display` panics is shown as
    /// `<Display panicked>` instead of passing the panic on.
    Failed(Arc<dyn StdError + Send + Sync + 'static>),
    /// `run` panicked; the payload's text (or a placeholder when the
    /// payload is neither `&str` nor `String`).
    Panicked(Arc<str>),
    /// The service asked to end for good with [`StopService`].
    StopService,
    /// The run did not end within its shutdown timeout, or the shutdown
    /// was forced: the async run was dropped at its next await point.
    Aborted,
    /// As [`Aborted`](Outcome::Aborted), for a blocking run: it could not
    /// be stopped, so the governor stopped waiting for it; its thread may
    /// still be running.
    Abandoned,
    /// The service was started but never ran: it was asked to stop (a
    /// shutdown, or its handle's [`stop`](crate::ServiceHandle::stop))
    /// while it still waited for its dependencies to be ready. Not a
    /// failure.
    NotRun,
    /// The service was started but never ran: this dependency ended for
    /// good without ever being ready (see
    /// [`Event::DependencyFailed`](crate::Event::DependencyFailed)). Not a
    /// failure of its own run (no restart policy applies, as no run
    /// began), but a [report](crate::Report::is_clean) with it is not
    /// clean.
    DependencyFailed(Arc<str>),
    /// The run was declared hung by its
    /// [watchdog](crate::ServiceConfig::watchdog): it sent no
    /// [heartbeat](crate::ServiceCtx::heartbeat) for its timeout (and was
    /// not [busy](crate::ServiceCtx::busy_for)). It was then stopped as any
    /// run is; whatever it returned once stopped (or its abort) is replaced
    /// by this outcome, and [`Event::Aborted`](crate::Event::Aborted) tells
    /// whether it had to be aborted (or, blocking, abandoned). A failure:
    /// an [`on_failure`](crate::RestartPolicy::on_failure) policy restarts
    /// it, and it counts against the restart limit.
    Hung,
}

impl Outcome {
    /// The variant's name in `snake_case` (`completed`, `failed`,
    /// `panicked`, `stop_service`, `aborted`, `abandoned`, `not_run`,
    /// `dependency_failed`, `hung`): a stable value for the `outcome` field of the
    /// log and for labels, without the error's text.
    ///
    /// ```
    /// assert_eq!(governor_core::Outcome::NotRun.kind(), "not_run");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed(_) => "failed",
            Outcome::Panicked(_) => "panicked",
            Outcome::StopService => "stop_service",
            Outcome::Aborted => "aborted",
            Outcome::Abandoned => "abandoned",
            Outcome::NotRun => "not_run",
            Outcome::DependencyFailed(_) => "dependency_failed",
            Outcome::Hung => "hung",
        }
    }

    /// `true` for [`Failed`](Outcome::Failed),
    /// [`Panicked`](Outcome::Panicked) and [`Hung`](Outcome::Hung): the
    /// endings an [`on_failure`](crate::RestartPolicy::on_failure) policy
    /// restarts.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed(_) | Outcome::Panicked(_) | Outcome::Hung
        )
    }

    /// `true` for [`Aborted`](Outcome::Aborted) and
    /// [`Abandoned`](Outcome::Abandoned): the service did not stop in time.
    pub fn is_aborted(&self) -> bool {
        matches!(self, Outcome::Aborted | Outcome::Abandoned)
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Completed => f.write_str("Completed"),
            Outcome::Failed(e) => f
                .debug_tuple("Failed")
                .field(&format_args!("{}", ShowError(&**e)))
                .finish(),
            Outcome::Panicked(msg) => f.debug_tuple("Panicked").field(msg).finish(),
            Outcome::StopService => f.write_str("StopService"),
            Outcome::Aborted => f.write_str("Aborted"),
            Outcome::Abandoned => f.write_str("Abandoned"),
            Outcome::NotRun => f.write_str("NotRun"),
            Outcome::DependencyFailed(dep) => f.debug_tuple("DependencyFailed").field(dep).finish(),
            Outcome::Hung => f.write_str("Hung"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Completed => f.write_str("completed"),
            Outcome::Failed(e) => write!(f, "failed: {}", ShowError(&**e)),
            Outcome::Panicked(msg) => write!(f, "panicked: {msg}"),
            Outcome::StopService => f.write_str("ended for good (StopService)"),
            Outcome::Aborted => f.write_str("aborted (did not stop in time)"),
            Outcome::Abandoned => f.write_str("abandoned (blocking, did not stop in time)"),
            Outcome::NotRun => {
                f.write_str("never ran (stopped while waiting for its dependencies)")
            }
            Outcome::DependencyFailed(dep) => {
                write!(
                    f,
                    "never ran (dependency {dep:?} ended without being ready)"
                )
            }
            Outcome::Hung => f.write_str("hung (no heartbeat within its watchdog timeout)"),
        }
    }
}

impl PartialEq for Outcome {
    /// Failures compare by their message text.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Outcome::Completed, Outcome::Completed)
            | (Outcome::StopService, Outcome::StopService)
            | (Outcome::Aborted, Outcome::Aborted)
            | (Outcome::Abandoned, Outcome::Abandoned)
            | (Outcome::NotRun, Outcome::NotRun)
            | (Outcome::Hung, Outcome::Hung) => true,
            (Outcome::DependencyFailed(a), Outcome::DependencyFailed(b)) => a == b,
            (Outcome::Failed(a), Outcome::Failed(b)) => {
                ShowError(&**a).to_string_lossless() == ShowError(&**b).to_string_lossless()
            }
            (Outcome::Panicked(a), Outcome::Panicked(b)) => a == b,
            _ => false,
        }
    }
}

/// A failure's `Display`, as the governor shows it (in [`Outcome`]'s
/// `Display` and `Debug`, so in events, logs and reports). With `std`, a
/// panic in the error's own `Display` is caught and shown as
/// `<Display panicked>`; without `std` it cannot be caught.
struct ShowError<'a>(&'a (dyn StdError + Send + Sync + 'static));

impl fmt::Display for ShowError<'_> {
    #[cfg(feature = "std")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| error.to_string_lossless()))
        {
            Ok(text) => f.write_str(&text),
            Err(payload) => {
                // The payload's own Drop may panic too.
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
                f.write_str("<Display panicked>")
            }
        }
    }

    #[cfg(not(feature = "std"))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)
    }
}

/// Turns a run's result into its outcome.
pub(crate) fn outcome_of(result: ServiceResult) -> Outcome {
    match result {
        Ok(()) => Outcome::Completed,
        Err(e) => e.into_outcome(),
    }
}

/// Turns a caught panic payload into an outcome.
#[cfg(feature = "std")]
pub(crate) fn outcome_of_panic(payload: Box<dyn Any + Send>) -> Outcome {
    if payload.is::<StopService>() {
        return Outcome::StopService;
    }
    let message: Arc<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
        Arc::from(*s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        Arc::from(s.as_str())
    } else {
        Arc::from("<non-string panic payload>")
    };
    // A payload's own Drop may panic too; it must not escape into the
    // governor.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
    Outcome::Panicked(message)
}
