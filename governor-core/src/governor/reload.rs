//! Reloading ([`Governor::reload`], or a signal whose action is
//! [`SignalAction::Reload`](super::SignalAction::Reload)): each reload is
//! numbered (1, 2, ...), told as [`Event::Reloading`], delivered to every
//! service that asked for it, and closed by [`Event::Reloaded`].
//!
//! # Rules
//!
//! 1. A reload is refused once a shutdown has been requested (the check
//!    and the numbering happen under the governor's lock, where
//!    `request_shutdown` sets the cause): a reload and a shutdown never
//!    both start a restart.
//! 2. Delivery to `ServiceCtx::reloaded` waiters: the generation is
//!    bumped and the generation's stop source replaced and stopped, both
//!    under the `reload` lock (a leaf, taken under the governor's lock);
//!    a waiter reads the pair under that lock, so it either sees the new
//!    generation or waits on the source that is stopped. Each context
//!    counts the generations it has delivered: every reload reaches each
//!    waiting run once, none is lost, none is delivered twice.
//! 3. Services with `restart_on_reload` have their current run restarted
//!    as by their handle's `restart` (a service between runs gets a fresh
//!    run anyway). `Reloaded` follows once each of them has begun a new
//!    run and is ready, has ended for good, or a shutdown began: every
//!    `Reloading` has exactly one `Reloaded`, after it. A reload is
//!    *open* from just after its `Reloading` until its `Reloaded`: in
//!    `open_reloads`, and whoever takes it out (the reload's own waiter,
//!    or `request_shutdown`, right after `ShutdownRequested`) emits its
//!    `Reloaded`; so a shutdown closes the reloads under way before any
//!    service's stop is told, and before `ShutdownComplete`.
//! 4. No user code runs under a lock: events are emitted after unlocking.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use futures_util::future::{select, Either};

use super::Shared;
use crate::event::Event;
use crate::record::Record;
use crate::runtime::Signal;
use crate::sync::Ordering;
use crate::token::{StopSource, StopToken};

impl Shared {
    /// Reloads (see the module's rules); `false` if refused because a
    /// shutdown has been requested.
    pub(crate) fn reload(self: &Arc<Self>, signal: Option<Signal>) -> bool {
        let (generation, delivered, restarts) = {
            let state = self.state.lock();
            if state.cause.is_some() {
                return false;
            }
            let mut reload = self.reload.lock();
            let generation = self.reload_generation.load(Ordering::Relaxed) + 1;
            self.reload_generation.store(generation, Ordering::Release);
            let delivered = core::mem::replace(&mut *reload, StopSource::new());
            drop(reload);
            let restarts: Vec<Arc<Record>> = state
                .services
                .iter()
                .filter(|record| !record.forgotten() && record.restarts_on_reload())
                .cloned()
                .collect();
            (generation as u64, delivered, restarts)
        };
        self.emit(|| Event::Reloading { generation, signal });
        self.open_reloads.lock().push(generation);
        delivered.stop();
        let mut restarted = Vec::new();
        for record in restarts {
            let runs = record.runs();
            let asked = record.stop_run_then(|| {
                self.emit(|| Event::ReloadRestart {
                    service: record.name.clone(),
                    generation,
                })
            });
            if asked {
                restarted.push((record, runs));
            }
        }
        if restarted.is_empty() {
            self.close_reload(generation);
        } else {
            let shared = self.clone();
            self.runtime.spawn(Box::pin(async move {
                for (record, runs) in &restarted {
                    let back = record.watch(|view| {
                        (view.ended || (view.runs > *runs && view.ready)).then_some(())
                    });
                    let stop = shared.token.wait_for_stop();
                    if let Either::Right(_) = select(back, stop).await {
                        break; // a shutdown began: the reload is over
                    }
                }
                shared.close_reload(generation);
            }));
        }
        true
    }

    /// Emits `Reloaded` for `generation` if it is still open (nobody
    /// closed it yet).
    fn close_reload(&self, generation: u64) {
        let closed = {
            let mut open = self.open_reloads.lock();
            let found = open.iter().position(|g| *g == generation);
            found.map(|at| open.remove(at)).is_some()
        };
        if closed {
            self.emit(|| Event::Reloaded { generation });
        }
    }

    /// A shutdown began: every reload still open ends now, in order.
    pub(super) fn close_all_reloads(&self) {
        let open = core::mem::take(&mut *self.open_reloads.lock());
        for generation in open {
            self.emit(|| Event::Reloaded { generation });
        }
    }

    /// The latest reload's number (0 before any) and the token stopped by
    /// the next one, read together.
    pub(crate) fn reload_watch(&self) -> (usize, StopToken) {
        let reload = self.reload.lock();
        (
            self.reload_generation.load(Ordering::Acquire),
            reload.token().clone(),
        )
    }

    /// The latest reload's number, 0 before any.
    pub(crate) fn reload_generation(&self) -> usize {
        self.reload_generation.load(Ordering::Acquire)
    }
}
