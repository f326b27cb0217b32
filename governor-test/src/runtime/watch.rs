//! What the services of the runtime's governors are doing, as their
//! events tell it: [`VirtualRuntime::governor`] adds an observer that
//! keeps, per service, whether a run is in progress (or the service waits
//! for its dependencies), so that a [`Deadlock`](super::Deadlock) can name
//! what was still waiting. The observer holds only this watch, never the
//! runtime or the governor (no reference cycle), takes only the watch's
//! own lock, briefly, and runs no user code under it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use governor_core::{Event, Governor};

use super::{lock, VirtualRuntime};

/// Per (governor, service): what it waits on, if anything.
#[derive(Default)]
pub(super) struct Watch {
    governors: usize,
    /// The governors whose shutdown has been requested: every run of
    /// theirs, begun before or after, is asked to stop.
    shutting_down: BTreeSet<usize>,
    services: BTreeMap<(usize, Arc<str>), Waiting>,
}

/// Where a service is that can still be waiting on something.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Started, waiting for its dependencies to be ready.
    Dependencies,
    /// Run `run` is in progress.
    Run {
        run: u64,
        ready: bool,
        stop_requested: bool,
    },
}

impl Watch {
    fn record(&mut self, governor: usize, event: &Event) {
        let key = |service: &Arc<str>| (governor, service.clone());
        match event {
            Event::Starting { service } => {
                self.services.insert(key(service), Waiting::Dependencies);
            }
            Event::RunStarted { service, run } => {
                self.services.insert(
                    key(service),
                    Waiting::Run {
                        run: *run,
                        ready: false,
                        stop_requested: false,
                    },
                );
            }
            Event::Ready { service } => {
                if let Some(Waiting::Run { ready, .. }) = self.services.get_mut(&key(service)) {
                    *ready = true;
                }
            }
            Event::StopRequested { service, .. } | Event::Hung { service, .. } => {
                if let Some(Waiting::Run { stop_requested, .. }) =
                    self.services.get_mut(&key(service))
                {
                    *stop_requested = true;
                }
            }
            Event::ShutdownRequested { .. } => {
                self.shutting_down.insert(governor);
            }
            Event::RunEnded { service, .. } | Event::DependencyFailed { service, .. } => {
                self.services.remove(&key(service));
            }
            _ => {}
        }
    }

    /// The services still waiting, described for a deadlock report, in
    /// (governor, name) order.
    pub(super) fn waiting(&self) -> Vec<String> {
        self.services
            .iter()
            .map(|((governor, name), waiting)| {
                let within = if self.governors > 1 {
                    format!(" of governor #{}", governor + 1)
                } else {
                    String::new()
                };
                match waiting {
                    Waiting::Dependencies => {
                        format!("service {name:?}{within} (waiting for its dependencies)")
                    }
                    Waiting::Run {
                        run,
                        ready,
                        stop_requested,
                    } => {
                        let mut text = format!("service {name:?}{within} (run {run}");
                        if *ready {
                            text.push_str(", ready");
                        }
                        if *stop_requested || self.shutting_down.contains(governor) {
                            text.push_str(", asked to stop");
                        }
                        text.push(')');
                        text
                    }
                }
            })
            .collect()
    }
}

impl VirtualRuntime {
    /// A new [`Governor`] on this runtime: one call, the usual way to start
    /// a test. Its services are watched, so that a
    /// [`Deadlock`](super::Deadlock) names those whose runs were still in
    /// progress (or that waited for their dependencies) when nothing could
    /// wake the test any more.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = governor_test::VirtualRuntime::new();
    /// let gov = rt.governor();
    /// gov.add("ticker", |ctx| async move {
    ///     while ctx.sleep(Duration::from_secs(1)).await.is_ok() {}
    ///     Ok(())
    /// })?;
    /// gov.start()?;
    /// let report = rt.block_on(async {
    ///     rt.sleep(Duration::from_secs(3600)).await;
    ///     gov.shutdown().await
    /// });
    /// assert!(report.is_clean());
    /// assert_eq!(rt.now(), Duration::from_secs(3600));
    /// # Ok::<(), governor_core::Error>(())
    /// ```
    pub fn governor(&self) -> Governor {
        let governor = Governor::new(self.clone());
        self.watch(&governor);
        governor
    }

    /// Watches `governor`'s services as [`governor`](Self::governor) does,
    /// for one built otherwise (e.g. with its own configuration) on this
    /// runtime.
    pub fn watch(&self, governor: &Governor) {
        let watch: Arc<Mutex<Watch>> = self.inner.watch.clone();
        let index = {
            let mut watch = lock(&watch);
            watch.governors += 1;
            watch.governors - 1
        };
        governor.observe_events(move |event| lock(&watch).record(index, event));
    }
}
