//! The event timeline of a governor in virtual time: [`Timeline`] records
//! every [`Event`] with the virtual time it happened at (an observer, so
//! the program's own hook or log is untouched), and answers the questions
//! tests ask: when did a service restart, in which order did services stop.
//! Its `assert_*` helpers fail with the whole timeline, one event a line.
//! The observer holds only the list and a clock reader that does not keep
//! the runtime alive; it takes the list's own lock briefly and calls no
//! user code under it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor_core::{Event, Governor};

use crate::VirtualRuntime;

/// One event and when it happened, in virtual time.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// The virtual time of the event.
    pub at: Duration,
    /// The event.
    pub event: Event,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!("{:?}", self.at);
        match self.event.service() {
            Some(service) => write!(f, "{at:>12}  {service}: {}", self.event),
            None => write!(f, "{at:>12}  {}", self.event),
        }
    }
}

/// The events of one governor, each with its virtual time, recorded from
/// [`VirtualRuntime::timeline`] on. Cheap to clone (a shared view).
///
/// ```
/// use std::time::Duration;
/// use governor_core::RestartPolicy;
///
/// const SEC: Duration = Duration::from_secs(1);
///
/// governor_test::run(|rt| async move {
///     let gov = rt.governor();
///     let timeline = rt.timeline(&gov);
///     gov.add("flaky", |ctx| async move {
///         ctx.sleep(SEC).await?;
///         Err(governor_core::ServiceError::msg("lost the connection"))
///     })?
///     .restart_policy(RestartPolicy::on_failure(SEC).limit(3, 3600 * SEC));
///     gov.add("store", |ctx| async move { ctx.wait_for_stop().await; Ok(()) })?;
///     gov.add("api", |ctx| async move { ctx.wait_for_stop().await; Ok(()) })?
///         .depends_on(["store"]);
///     gov.start()?;
///     rt.sleep(60 * SEC).await;
///     gov.shutdown().await;
///
///     // Each run lasts 1 s, then 1 s until the next: runs 2 to 4.
///     timeline.assert_restarted_at("flaky", &[2 * SEC, 4 * SEC, 6 * SEC]);
///     timeline.assert_stopped_in_order(&["api", "store"]);
///     Ok::<(), governor_core::Error>(())
/// })?;
/// # Ok::<(), governor_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Timeline {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl VirtualRuntime {
    /// Starts recording `governor`'s events with their virtual times (an
    /// [observer](Governor::observe_events): its hook or log still sees
    /// them). Call it before [`start`](Governor::start) to see everything.
    pub fn timeline(&self, governor: &Governor) -> Timeline {
        let timeline = Timeline::default();
        let (entries, now) = (timeline.entries.clone(), self.clock_reader());
        governor.observe_events(move |event| {
            let entry = Entry {
                at: now(),
                event: event.clone(),
            };
            lock(&entries).push(entry);
        });
        timeline
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Timeline {
    /// Every event so far, in order.
    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.entries).clone()
    }

    /// The events about `service`, in order.
    pub fn of(&self, service: &str) -> Vec<Entry> {
        lock(&self.entries)
            .iter()
            .filter(|entry| entry.event.service() == Some(service))
            .cloned()
            .collect()
    }

    /// When each run of `service` began ([`Event::RunStarted`]), the first
    /// included.
    pub fn run_starts(&self, service: &str) -> Vec<Duration> {
        self.of(service)
            .into_iter()
            .filter(|entry| matches!(entry.event, Event::RunStarted { .. }))
            .map(|entry| entry.at)
            .collect()
    }

    /// When `service` restarted: the beginnings of its runs after the
    /// first.
    pub fn restarts(&self, service: &str) -> Vec<Duration> {
        self.run_starts(service).into_iter().skip(1).collect()
    }

    /// When the first shutdown was requested, if one was.
    pub fn shutdown_requested(&self) -> Option<Duration> {
        lock(&self.entries)
            .iter()
            .find(|entry| matches!(entry.event, Event::ShutdownRequested { .. }))
            .map(|entry| entry.at)
    }

    /// The services whose runs ended after the shutdown was requested, in
    /// the order they ended (each once, at its last run's end); empty
    /// before a shutdown.
    pub fn stop_order(&self) -> Vec<Arc<str>> {
        let entries = lock(&self.entries);
        let Some(begin) = entries
            .iter()
            .position(|entry| matches!(entry.event, Event::ShutdownRequested { .. }))
        else {
            return Vec::new();
        };
        let mut order: Vec<Arc<str>> = Vec::new();
        for entry in &entries[begin..] {
            if let Event::RunEnded { service, .. } = &entry.event {
                order.retain(|s| s != service);
                order.push(service.clone());
            }
        }
        order
    }

    /// Fails unless `service` restarted exactly at `at` (its runs after
    /// the first began at these virtual times, and no others).
    ///
    /// # Panics
    ///
    /// On a mismatch, with both lists and the service's events.
    #[track_caller]
    pub fn assert_restarted_at(&self, service: &str, at: &[Duration]) {
        let restarts = self.restarts(service);
        if restarts != at {
            panic!(
                "{service:?} restarted at {restarts:?}, expected {at:?}\nits events:\n{}",
                lines(&self.of(service))
            );
        }
    }

    /// Fails unless the services in `order` all stopped after the shutdown
    /// was requested, each before the next (others may come between).
    ///
    /// # Panics
    ///
    /// On a mismatch, with the order they stopped in and the timeline.
    #[track_caller]
    pub fn assert_stopped_in_order(&self, order: &[&str]) {
        let stopped = self.stop_order();
        let position = |name: &str| stopped.iter().position(|s| &**s == name);
        let mut problem = None;
        for pair in order.windows(2) {
            match (position(pair[0]), position(pair[1])) {
                (Some(a), Some(b)) if a < b => {}
                (Some(_), Some(_)) => {
                    problem = Some(format!("{:?} stopped after {:?}", pair[0], pair[1]));
                    break;
                }
                _ => {}
            }
        }
        if let Some(missing) = order.iter().find(|name| position(name).is_none()) {
            problem = Some(format!("{missing:?} did not stop after the shutdown began"));
        }
        if let Some(problem) = problem {
            let names: Vec<&str> = stopped.iter().map(|s| &**s).collect();
            panic!(
                "expected to stop in order {order:?}, but {problem}: they stopped in order \
                 {names:?}\ntimeline:\n{self}"
            );
        }
    }
}

fn lines(entries: &[Entry]) -> String {
    entries.iter().map(|entry| format!("{entry}\n")).collect()
}

impl fmt::Display for Timeline {
    /// One event a line: its virtual time, the service, the event.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&lines(&self.entries()))
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries()).finish()
    }
}
