//! Fault injection for a service under test, without editing it:
//! [`Faulty`] wraps the service (a closure or a [`Service`] value) and, on
//! the runs its plan names, makes the run fail, panic, hang (ignore its
//! stop), end with [`StopService`], begin late, or register a stop hook
//! that panics; every other run is the service's own. The delay of
//! blocking calls is the runtime's:
//! [`VirtualRuntime::delay_blocking`](crate::VirtualRuntime::delay_blocking).
//! All of it in virtual time. The wrapper counts runs as the governor
//! does (each run calls [`Service::run`] once, from 1) and holds no lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor_core::{Service, ServiceCtx, ServiceError, ServiceResult, StopService};

/// What happens to one run of a [`Faulty`] service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The run returns an error with this message at once
    /// ([`Outcome::Failed`](governor_core::Outcome::Failed)); the service
    /// is not called.
    Fail(String),
    /// The run panics with this message at once
    /// ([`Outcome::Panicked`](governor_core::Outcome::Panicked)).
    Panic(String),
    /// The run never ends and ignores its stop: only its shutdown timeout
    /// (or a forced shutdown) ends it, as
    /// [`Outcome::Aborted`](governor_core::Outcome::Aborted).
    Hang,
    /// The run ends at once with [`StopService`]
    /// ([`Outcome::StopService`](governor_core::Outcome::StopService)): not
    /// restarted, whatever the policy.
    StopService,
    /// The service's run begins this much (virtual) time late, as if its
    /// start-up were slow. A stop meanwhile cuts the delay short: the
    /// service's run then begins already asked to stop.
    Delay(Duration),
    /// The run registers a stop hook
    /// ([`ServiceCtx::on_stop`]) that panics with this message, then is
    /// the service's own: the governor must survive the hook.
    StopHookPanics(String),
}

/// A service under test with faults planned for some of its runs.
///
/// ```
/// use std::time::Duration;
/// use governor_core::{Outcome, RestartPolicy, ServiceState};
/// use governor_test::{Fault, Faulty};
///
/// governor_test::run(|rt| async move {
///     let gov = rt.governor();
///     let service = |ctx: governor_core::ServiceCtx| async move {
///         ctx.wait_for_stop().await;
///         Ok(())
///     };
///     gov.add_service(
///         "api",
///         Faulty::new(service)
///             .on_run(1, Fault::Fail("connection refused".into()))
///             .on_run(2, Fault::Panic("index out of range".into())),
///     )?
///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)));
///     gov.start()?;
///     rt.sleep(Duration::from_secs(10)).await;
///     let report = gov.shutdown().await;
///     let api = report.service("api").unwrap();
///     assert_eq!((api.runs, api.restarts), (3, 2));
///     assert_eq!(api.last_run.unwrap().started, Duration::from_secs(2));
///     assert_eq!(api.last_outcome, Some(Outcome::Completed));
///     Ok::<(), governor_core::Error>(())
/// })?;
/// # Ok::<(), governor_core::Error>(())
/// ```
pub struct Faulty<S> {
    service: S,
    plan: BTreeMap<u64, Fault>,
    runs: u64,
    injected: Injected,
}

/// The faults a [`Faulty`] service has injected so far, as (run, fault),
/// in order: each when it took effect (a stop hook's panic when the hook
/// was called). Shared with the service: get it with
/// [`Faulty::injected`] before adding the service.
#[derive(Debug, Clone, Default)]
pub struct Injected(Arc<Mutex<Vec<(u64, Fault)>>>);

impl Injected {
    /// The faults injected so far.
    pub fn get(&self) -> Vec<(u64, Fault)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, run: u64, fault: Fault) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((run, fault));
    }
}

impl<S: Service> Faulty<S> {
    /// `service`, with no fault planned yet.
    pub fn new(service: S) -> Self {
        Faulty {
            service,
            plan: BTreeMap::new(),
            runs: 0,
            injected: Injected::default(),
        }
    }

    /// What this service has injected so far (a shared view).
    pub fn injected(&self) -> Injected {
        self.injected.clone()
    }

    /// Plans `fault` for run `run` (1 is the first), replacing any fault
    /// planned for it. A run 0 never happens.
    pub fn on_run(mut self, run: u64, fault: Fault) -> Self {
        self.plan.insert(run, fault);
        self
    }

    /// Plans `fault` for each run in `runs`.
    pub fn on_runs(mut self, runs: impl IntoIterator<Item = u64>, fault: Fault) -> Self {
        for run in runs {
            self.plan.insert(run, fault.clone());
        }
        self
    }
}

impl<S> std::fmt::Debug for Faulty<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty")
            .field("plan", &self.plan)
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

impl<S: Service> Service for Faulty<S> {
    async fn run(&mut self, ctx: ServiceCtx) -> ServiceResult {
        self.runs += 1;
        let run = self.runs;
        let fault = self.plan.get(&run).cloned();
        match &fault {
            Some(Fault::StopHookPanics(_)) | None => {}
            Some(fault) => self.injected.push(run, fault.clone()),
        }
        match fault {
            None => self.service.run(ctx).await,
            Some(Fault::Fail(message)) => Err(ServiceError::msg(message)),
            Some(Fault::Panic(message)) => panic!("{message}"),
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::StopService) => Err(StopService.into()),
            Some(Fault::Delay(delay)) => {
                // Interrupted by a stop: the service sees it at once.
                let _ = ctx.sleep(delay).await;
                self.service.run(ctx).await
            }
            Some(Fault::StopHookPanics(message)) => {
                let injected = self.injected.clone();
                ctx.on_stop(move || {
                    injected.push(run, Fault::StopHookPanics(message.clone()));
                    panic!("{message}");
                });
                self.service.run(ctx).await
            }
        }
    }
}
