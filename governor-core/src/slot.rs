//! One service's shared record: what `main`, the service and its
//! supervisor all see (state, counters, last outcome, stop hooks).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use crate::governor::Shared;
use crate::outcome::Outcome;
use crate::report::{ServiceReport, ServiceState};
use crate::restart::RestartPolicy;
use crate::runtime::BoxTask;
use crate::sync::Mutex;
use crate::token::StopToken;

/// A stop hook, shared so that it can be called outside the slot's lock.
pub(crate) type StopHook = Arc<dyn Fn() + Send + Sync + 'static>;

/// Builds a service's supervisor task; consumed when the service starts.
pub(crate) type Launch = Box<dyn FnOnce(Arc<Shared>, Arc<Slot>) -> BoxTask + Send + 'static>;

pub(crate) struct Slot {
    pub(crate) name: Arc<str>,
    pub(crate) token: StopToken,
    state: Mutex<SlotState>,
}

struct SlotState {
    /// `None`: the governor's default applies.
    restart: Option<RestartPolicy>,
    /// Present until the service is started.
    launch: Option<Launch>,
    status: ServiceState,
    runs: u64,
    restarts: u64,
    last_outcome: Option<Outcome>,
    /// Hooks for every run (added with `ServiceConfig::on_stop`).
    hooks: Vec<StopHook>,
    /// Hooks for the current run (added with `ServiceCtx::on_stop`).
    run_hooks: Vec<StopHook>,
    /// The current run's hooks have been called.
    hooks_fired: bool,
}

impl Slot {
    pub(crate) fn new(name: Arc<str>, token: StopToken, launch: Launch) -> Self {
        Slot {
            name,
            token,
            state: Mutex::new(SlotState {
                restart: None,
                launch: Some(launch),
                status: ServiceState::Pending,
                runs: 0,
                restarts: 0,
                last_outcome: None,
                hooks: Vec::new(),
                run_hooks: Vec::new(),
                hooks_fired: false,
            }),
        }
    }

    pub(crate) fn set_restart(&self, policy: Option<RestartPolicy>) {
        self.state.lock().restart = policy;
    }

    pub(crate) fn add_hook(&self, hook: StopHook) {
        self.state.lock().hooks.push(hook);
    }

    /// Takes the launcher if the service has not started yet.
    pub(crate) fn take_launch(&self) -> Option<Launch> {
        let mut state = self.state.lock();
        let launch = state.launch.take()?;
        state.status = ServiceState::Running;
        Some(launch)
    }

    /// A run begins.
    pub(crate) fn begin_run(&self) {
        let mut state = self.state.lock();
        if state.runs > 0 {
            state.restarts += 1;
        }
        state.runs += 1;
        state.status = ServiceState::Running;
        state.hooks_fired = false;
        state.run_hooks.clear();
    }

    /// A run ended with `outcome`: records it and decides whether and when
    /// to run again (`None`: never). `default` is the governor's policy.
    pub(crate) fn end_run(&self, outcome: Outcome, default: RestartPolicy) -> Option<Duration> {
        let mut state = self.state.lock();
        let policy = state.restart.unwrap_or(default);
        let delay = if self.token.is_cancelled() {
            None
        } else {
            policy.delay_after(&outcome)
        };
        state.last_outcome = Some(outcome);
        let old_hooks = core::mem::take(&mut state.run_hooks);
        state.status = if delay.is_some() {
            ServiceState::Restarting
        } else {
            ServiceState::Stopped
        };
        drop(state);
        drop(old_hooks); // user code (captured values' Drop) runs outside the lock
        delay
    }

    /// The service ended for good.
    pub(crate) fn finish(&self) {
        self.state.lock().status = ServiceState::Stopped;
    }

    /// Calls this run's stop hooks, once.
    pub(crate) fn fire_hooks(&self) {
        let hooks: Vec<StopHook> = {
            let mut state = self.state.lock();
            if state.hooks_fired {
                return;
            }
            state.hooks_fired = true;
            state
                .hooks
                .iter()
                .chain(&state.run_hooks)
                .cloned()
                .collect()
        };
        for hook in hooks {
            self.call_hook(&hook);
        }
    }

    /// Adds a hook for the current run, or calls it at once if this run's
    /// hooks have fired already.
    pub(crate) fn add_run_hook(&self, hook: StopHook) {
        {
            let mut state = self.state.lock();
            if !state.hooks_fired {
                state.run_hooks.push(hook);
                return;
            }
        }
        self.call_hook(&hook);
    }

    fn call_hook(&self, hook: &StopHook) {
        #[cfg(feature = "std")]
        {
            let call = std::panic::AssertUnwindSafe(|| hook());
            if let Err(payload) = std::panic::catch_unwind(call) {
                let outcome = crate::outcome::outcome_of_panic(payload);
                tracing::error!(service = %self.name, "stop hook {outcome}");
            }
        }
        #[cfg(not(feature = "std"))]
        hook();
    }

    pub(crate) fn report(&self) -> ServiceReport {
        let state = self.state.lock();
        ServiceReport {
            name: self.name.clone(),
            state: state.status,
            runs: state.runs,
            restarts: state.restarts,
            last_outcome: state.last_outcome.clone(),
        }
    }
}
