//! The systemd notify protocol (feature `systemd`, unix only): what the
//! governor tells its service manager, and when. Enabled by
//! [`Governor::notify_systemd`](crate::Governor::notify_systemd); every
//! datagram goes through the `sd-notify` crate.
//!
//! | when                                   | sent                                              |
//! |----------------------------------------|---------------------------------------------------|
//! | first start after enabling             | `STATUS=starting: N service(s)`                   |
//! | a restart is scheduled                 | `STATUS=restarting X in D (attempt k)`            |
//! | every service of that start is ready   | `READY=1` + `STATUS=running: N service(s)`        |
//! | a later run becomes ready              | `STATUS=running: N service(s)` (if it changed)    |
//! | a service ended before it was ready    | `STATUS=not ready: X ended before it was ready`   |
//! | a service gave up                      | `STATUS=gave up on X after k restart(s)`          |
//! | shutdown begins                        | `STOPPING=1` + `STATUS=stopping: <cause>`         |
//! | every second of the shutdown           | `STATUS=stopping: waiting for X, Y` (if changed), `EXTEND_TIMEOUT_USEC=` |
//! | shutdown complete                      | `STATUS=stopped` (or `stopped (forced)`)          |
//! | every `WATCHDOG_USEC / 2`, if healthy  | `WATCHDOG=1`                                      |
//! | a reload (mapping ready, see `on_event`) | `RELOADING=1` + `MONOTONIC_USEC=`, then `READY=1` |
//!
//! # Rules
//!
//! 1. Nothing is sent unless `NOTIFY_SOCKET` was set (and not empty) when
//!    the notifier was made; one governor per process notifies (the first
//!    to ask, until it is dropped), and `READY=1` is sent at most once per
//!    process.
//! 2. `READY=1` follows the rule of
//!    [`start_wait_ready`](crate::Governor::start_wait_ready): every
//!    service the first start started is ready (or ended for good after
//!    being ready). A shutdown that begins first cancels it (`STOPPING=1`
//!    says what happens instead).
//! 3. `EXTEND_TIMEOUT_USEC=` asks for the largest time left of the
//!    shutdown timeouts of the services stopping now, plus one tick (the
//!    next message comes within it). A service without a shutdown timeout
//!    asks for nothing: a stop that may hang for ever is left to systemd's
//!    own `TimeoutStopSec`.
//! 4. `WATCHDOG=1` is sent by a task on the governor's runtime, only when
//!    the probe it spawned one period earlier, a second task that takes
//!    the governor's lock, has answered (see [`Notifier::healthy`]). So
//!    the pings stop when the runtime no longer runs the governor's tasks
//!    (every worker thread blocked, the executor gone) or the governor's
//!    lock is held for ever. A probe not answered yet is waited for, not
//!    joined by another (at most one waits on a lock held for ever); one
//!    that answers late costs one ping. Each datagram is sent with a
//!    blocking `send` (as `sd-notify` does): systemd reads its socket
//!    promptly, but a service manager that stopped reading would stall
//!    the thread that sends. Limits: on a multi-thread runtime one blocked
//!    worker is not "stuck" while others run the governor's tasks; a
//!    service whose own loop is stuck but leaves the runtime alone is the
//!    business of the liveness mechanism (issue 14), which plugs in at
//!    [`Notifier::healthy`].
//! 5. The tasks hold the governor weakly and end when it is dropped. No
//!    lock of the governor is held while sending; the notifier's `sent`
//!    lock is a leaf lock that keeps each datagram whole and the last
//!    status in order. No user code runs here.

use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::time::Duration;

use sd_notify::NotifyState;

use crate::event::Event;
use crate::governor::{ready_or_ended, Shared};
use crate::record::Record;
use crate::sync::Mutex;
// Plain atomics, not `crate::sync`'s: the statics below need `const` ones,
// and loom never builds this module.
use core::sync::atomic::{AtomicBool, Ordering};

/// How often the shutdown's progress is told (`STATUS=`,
/// `EXTEND_TIMEOUT_USEC=`).
const STOP_TICK: Duration = Duration::from_secs(1);

/// One governor per process notifies: the first to ask.
static CLAIMED: AtomicBool = AtomicBool::new(false);
/// `READY=1` has been sent by this process.
static READY_SENT: AtomicBool = AtomicBool::new(false);

/// Tells systemd what the governor does: see the module docs.
pub(crate) struct Notifier {
    governor: Weak<Shared>,
    /// Half of `WATCHDOG_USEC`, when it is set for this process.
    ping_every: Option<Duration>,
    /// The tasks and the first status went out (at the first start).
    launched: AtomicBool,
    /// The shutdown's progress task was spawned.
    reporting_stop: AtomicBool,
    /// The last `STATUS=` sent; its lock also keeps datagrams in order.
    sent: Mutex<Option<String>>,
}

/// Makes `shared`'s notifier, unless it has one, `NOTIFY_SOCKET` is unset,
/// or another governor of this process notifies already.
pub(crate) fn enable(shared: &Arc<Shared>) {
    if shared.notifier.lock().is_some() {
        return;
    }
    if std::env::var_os("NOTIFY_SOCKET").is_none_or(|socket| socket.is_empty()) {
        tracing::debug!("NOTIFY_SOCKET is not set: not notifying systemd");
        return;
    }
    if CLAIMED.swap(true, Ordering::AcqRel) {
        tracing::warn!("another governor of this process notifies systemd already");
        return;
    }
    let ping_every = match sd_notify::watchdog_enabled() {
        Some(timeout) if !timeout.is_zero() => Some((timeout / 2).max(Duration::from_millis(1))),
        Some(_) => None, // WATCHDOG_USEC=0: no watchdog
        None => {
            if let Ok(usec) = std::env::var("WATCHDOG_USEC") {
                if usec.parse::<u64>().is_err() {
                    tracing::warn!(%usec, "WATCHDOG_USEC is not a number of microseconds: no watchdog pings");
                }
            }
            None // unset, or WATCHDOG_PID names another process
        }
    };
    let notifier = Arc::new(Notifier {
        governor: Arc::downgrade(shared),
        ping_every,
        launched: AtomicBool::new(false),
        reporting_stop: AtomicBool::new(false),
        sent: Mutex::new(None),
    });
    *shared.notifier.lock() = Some(notifier);
    shared.notifying.store(true, Ordering::Release);
}

/// A start of `shared` started `started`: the first one after enabling
/// launches the readiness wait and the watchdog.
pub(crate) fn started(shared: &Arc<Shared>, started: &[Arc<Record>]) {
    let Some(notifier) = shared.notifier.lock().clone() else {
        return;
    };
    if notifier.launched.swap(true, Ordering::AcqRel) {
        return;
    }
    notifier.send(&[], Some(format!("starting: {}", services(started.len()))));
    let ready = wait_ready(notifier.clone(), shared.clone(), started.to_vec());
    shared.runtime.spawn(alloc::boxed::Box::pin(ready));
    if let Some(period) = notifier.ping_every {
        let pinger = ping(notifier.clone(), Arc::downgrade(shared), period);
        shared.runtime.spawn(alloc::boxed::Box::pin(pinger));
    }
}

impl Notifier {
    /// The messages an event calls for. The user's hook still gets it.
    pub(crate) fn on_event(&self, shared: &Shared, event: &Event) {
        let stopping = shared.token.stopping();
        match event {
            Event::ShutdownRequested { cause } => {
                self.send(&[NotifyState::Stopping], Some(format!("stopping: {cause}")));
                if !self.reporting_stop.swap(true, Ordering::AcqRel) {
                    let progress = report_stop(self.governor.clone());
                    shared.runtime.spawn(alloc::boxed::Box::pin(progress));
                }
            }
            Event::RestartScheduled {
                service,
                delay,
                attempt,
                ..
            } if !stopping => self.send(
                &[],
                Some(format!(
                    "restarting {service} in {delay:?} (attempt {attempt})"
                )),
            ),
            Event::Ready { .. } if !stopping && READY_SENT.load(Ordering::Acquire) => {
                self.send(&[], Some(running(shared)));
            }
            Event::GaveUp { service, restarts } if !stopping => self.send(
                &[],
                Some(format!("gave up on {service} after {restarts} restart(s)")),
            ),
            Event::ShutdownComplete { forced } => self.send(
                &[],
                Some(String::from(if *forced {
                    "stopped (forced)"
                } else {
                    "stopped"
                })),
            ),
            // `Type=notify-reload` wants RELOADING=1 with MONOTONIC_USEC=
            // when the reload begins, READY=1 when it is done.
            Event::Reloading { .. } => self.reloading(),
            Event::Reloaded { .. } => self.reloaded(shared),
            _ => {}
        }
    }

    /// A reload begins: `RELOADING=1`, `MONOTONIC_USEC=` (systemd's
    /// `Type=notify-reload` matches it with its own reload request).
    pub(crate) fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(
                &[NotifyState::Reloading, now],
                Some(String::from("reloading")),
            ),
            Err(error) => {
                tracing::warn!(%error, "cannot read the monotonic clock for systemd");
                self.send(&[NotifyState::Reloading], Some(String::from("reloading")));
            }
        }
    }

    /// A reload is done: `READY=1` again, and what runs.
    pub(crate) fn reloaded(&self, shared: &Shared) {
        self.send(&[NotifyState::Ready], Some(running(shared)));
    }

    /// Whether the governor may tell systemd it is alive: the probe spawned
    /// one period earlier has run (the runtime runs the governor's tasks,
    /// and the governor's lock can be taken).
    ///
    /// Pings go out only while the runtime answers the probe and no
    /// service is unhealthy ([`Governor::health`](crate::Governor::health)
    /// is live): a hung or unhealthy service stops them, so that systemd's
    /// `WatchdogSec` restarts the process.
    fn healthy(&self, shared: &Shared, probe_answered: bool) -> bool {
        probe_answered && shared.health().is_live()
    }

    /// Sends `states`, with `status` as `STATUS=` unless it is the one
    /// sent last (a message of a status alone is then not sent at all).
    fn send(&self, states: &[NotifyState<'_>], status: Option<String>) {
        let mut sent = self.sent.lock();
        let status = status.filter(|status| sent.as_deref() != Some(status.as_str()));
        if states.is_empty() && status.is_none() {
            return;
        }
        let mut message: Vec<NotifyState<'_>> = states.to_vec();
        if let Some(status) = &status {
            message.push(NotifyState::Status(status));
        }
        if let Err(error) = sd_notify::notify(&message) {
            tracing::warn!(%error, "notifying systemd failed");
        }
        if status.is_some() {
            *sent = status;
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // The governor and the notifier's tasks are gone: another governor
        // of this process may notify (READY=1 stays sent).
        CLAIMED.store(false, Ordering::Release);
    }
}

/// `"1 service"`, `"3 services"`.
fn services(n: usize) -> String {
    format!("{n} service{}", if n == 1 { "" } else { "s" })
}

/// `STATUS=running: ...`.
fn running(shared: &Shared) -> String {
    format!("running: {}", services(shared.running_services()))
}

/// Waits until every service of the first start is ready, then sends
/// `READY=1` (once per process); cut short by the shutdown.
async fn wait_ready(notifier: Arc<Notifier>, shared: Arc<Shared>, started: Vec<Arc<Record>>) {
    let token = shared.token.token().clone();
    drop(shared); // held weakly from here on, as every task of the notifier
    let all_ready = async {
        for record in &started {
            if ready_or_ended(record).await.is_err() {
                return Err(record.name.clone());
            }
        }
        Ok(())
    };
    let Ok(result) = token.until_stop(all_ready).await else {
        return; // the shutdown began first: STOPPING=1 says so
    };
    let Some(shared) = notifier.governor.upgrade() else {
        return;
    };
    match result {
        Ok(()) if !shared.token.stopping() && !READY_SENT.swap(true, Ordering::AcqRel) => {
            notifier.send(&[NotifyState::Ready], Some(running(&shared)));
        }
        Ok(()) => {}
        Err(service) => notifier.send(
            &[],
            Some(format!("not ready: {service} ended before it was ready")),
        ),
    }
}

/// Sends `WATCHDOG=1` every `period` while the governor is healthy (see
/// [`Notifier::healthy`]); ends when the governor is dropped.
async fn ping(notifier: Arc<Notifier>, governor: Weak<Shared>, period: Duration) {
    let Some(shared) = governor.upgrade() else {
        return;
    };
    let runtime = shared.runtime.clone();
    let dropped = shared.dropped.token().clone();
    drop(shared);
    let answered = Arc::new(AtomicBool::new(false));
    let probe = |answered: &Arc<AtomicBool>| {
        let answered = answered.clone();
        let governor = governor.clone();
        runtime.spawn(alloc::boxed::Box::pin(async move {
            if let Some(shared) = governor.upgrade() {
                shared.answer_probe();
                answered.store(true, Ordering::Release);
            }
        }));
    };
    probe(&answered);
    loop {
        if dropped.until_stop(runtime.sleep(period)).await.is_err() {
            return;
        }
        let Some(shared) = governor.upgrade() else {
            return;
        };
        let probe_answered = answered.swap(false, Ordering::AcqRel);
        if notifier.healthy(&shared, probe_answered) {
            notifier.send(&[NotifyState::Watchdog], None);
        } else {
            tracing::warn!("the governor did not answer its watchdog probe: no WATCHDOG=1");
        }
        drop(shared);
        // A probe still outstanding is waited for, not joined by another:
        // at most one probe waits on a lock held for ever.
        if probe_answered {
            probe(&answered);
        }
    }
}

/// During the shutdown, every [`STOP_TICK`]: which services it waits for
/// (`STATUS=`), and `EXTEND_TIMEOUT_USEC=` for the longest time left of
/// their shutdown timeouts. Ends once no service is live.
async fn report_stop(governor: Weak<Shared>) {
    loop {
        let Some(shared) = governor.upgrade() else {
            return;
        };
        let Some(notifier) = shared.notifier.lock().clone() else {
            return;
        };
        if shared.live_count.count() == 0 {
            return; // ShutdownComplete says "stopped"
        }
        let stopping = shared.stopping_services(shared.runtime.now());
        let status = (!stopping.is_empty()).then(|| {
            let names: Vec<&str> = stopping.iter().map(|(name, _)| &**name).collect();
            format!("stopping: waiting for {}", names.join(", "))
        });
        match stopping.iter().filter_map(|(_, left)| *left).max() {
            Some(left) => {
                let usec = (left + STOP_TICK).as_micros();
                let usec = u32::try_from(usec).unwrap_or(u32::MAX);
                notifier.send(&[NotifyState::ExtendTimeoutUsec(usec)], status);
            }
            None => notifier.send(&[], status),
        }
        let runtime = shared.runtime.clone();
        let dropped = shared.dropped.token().clone();
        drop(shared);
        if dropped.until_stop(runtime.sleep(STOP_TICK)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_services_in_words() {
        assert_eq!(services(1), "1 service");
        assert_eq!(services(0), "0 services");
        assert_eq!(services(3), "3 services");
    }
}
