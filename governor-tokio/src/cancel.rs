//! tokio-util interop (feature `tokio-util`): the governor's stops as
//! [`CancellationToken`]s, for libraries that take one, and a governor
//! shut down by a token the program already has.
//!
//! - [`CancellationExt::cancellation_token`] on a [`ServiceCtx`]: a token
//!   cancelled when the run is asked to stop, and at the latest when the
//!   run ends (whatever a library spawned with it does not outlive the
//!   run); on a [`Governor`]: cancelled when its shutdown begins.
//! - [`ShutdownOnCancel::shutdown_on_cancel`] on a [`Governor`]: its
//!   shutdown begins when a token is cancelled (`Governor::shutdown_on`
//!   with the token's `cancelled_owned()`).
//!
//! Rules: no task is spawned to follow a stop. A service's token is
//! cancelled by a [stop hook](ServiceCtx::on_stop) of its run (and by a
//! guard the hook owns, dropped when the run ends); a governor's by an
//! [observer](Governor::observe_events) of its
//! [`ShutdownRequested`](crate::Event::ShutdownRequested) event. Both
//! cancel synchronously, at the moment the stop begins, before the
//! governor's own waiters are woken.
//!
//! ```
//! use governor_tokio::cancel::{CancellationExt, CancellationToken, ShutdownOnCancel};
//! use governor_tokio::{ServiceCtx, ServiceResult};
//!
//! /// A library that stops on a `CancellationToken`.
//! async fn library_loop(token: CancellationToken) {
//!     token.cancelled().await;
//! }
//!
//! async fn service(ctx: ServiceCtx) -> ServiceResult {
//!     library_loop(ctx.cancellation_token()).await;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), governor_tokio::Error> {
//! let outside = CancellationToken::new(); // the program's own
//! let gov = governor_tokio::new().unwrap();
//! gov.shutdown_on_cancel(outside.clone());
//! gov.add("library", service)?;
//! gov.start()?;
//! outside.cancel(); // shuts the governor down; the run's token follows
//! let report = gov.wait_for_shutdown().await;
//! assert!(report.is_clean());
//! # Ok(()) }
//! ```

pub use tokio_util::sync::CancellationToken;

use crate::{Event, Governor, ServiceCtx};

/// [`CancellationToken`]s for a governor and its services' runs.
///
/// Sealed: implemented for [`ServiceCtx`] and [`Governor`] only.
pub trait CancellationExt: sealed::Sealed {
    /// A token cancelled when this stops: a service's run is asked to stop
    /// (or ends, whichever comes first); a governor's shutdown begins.
    /// Cancelled at once if that has happened already. Each call makes a
    /// new token; on a [`Governor`], each call also adds an
    /// [observer](Governor::observe_events) for the governor's life, so
    /// make one and clone it.
    fn cancellation_token(&self) -> CancellationToken;
}

/// Shutting a governor down from a [`CancellationToken`].
///
/// Sealed: implemented for [`Governor`] only.
pub trait ShutdownOnCancel: sealed::Sealed {
    /// Requests the governor's shutdown (cause
    /// [`Requested`](crate::ShutdownCause::Requested)) when `token` is
    /// cancelled, at once if it is already. Spawns one task on the
    /// governor's runtime, which ends with the governor (see
    /// [`Governor::shutdown_on`]).
    fn shutdown_on_cancel(&self, token: CancellationToken);
}

impl CancellationExt for ServiceCtx {
    fn cancellation_token(&self) -> CancellationToken {
        let token = CancellationToken::new();
        // Cancels when dropped: the hook, and so the guard, is dropped
        // when the run ends, if the stop never came.
        let guard = token.clone().drop_guard();
        let cancel = token.clone();
        self.on_stop(move || {
            let _owned = &guard;
            cancel.cancel();
        });
        token
    }
}

impl CancellationExt for Governor {
    fn cancellation_token(&self) -> CancellationToken {
        let token = CancellationToken::new();
        let follows = token.clone();
        self.observe_events(move |event| {
            if let Event::ShutdownRequested { .. } = event {
                follows.cancel();
            }
        });
        // After the observer is in: a shutdown requested before it was
        // is seen here, one requested after, there.
        if self.stopping() {
            token.cancel();
        }
        token
    }
}

impl ShutdownOnCancel for Governor {
    fn shutdown_on_cancel(&self, token: CancellationToken) {
        self.shutdown_on(token.cancelled_owned());
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::ServiceCtx {}
    impl Sealed for crate::Governor {}
}
