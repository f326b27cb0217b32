//! The "inside a service" marker: a thread-local naming the governor and
//! service whose run the current thread is polling (or running, for a
//! blocking service). It lets a wait for a governor's shutdown tell that it
//! is awaited from inside one of that governor's own services (which must
//! not wait for itself). Set by the runners around each poll, restored on
//! drop; without `std` there are no thread-locals and it is always unset.

/// The governor and the service (their addresses) whose supervisor is
/// polling the caller (or running it, for blocking services), if any.
/// Always `None` without `std`, which has no thread-locals: there, a
/// service must not await its own governor's `shutdown` (use
/// `request_shutdown`).
pub(crate) fn polled_inside() -> Option<InsideMarker> {
    imp::current()
}

/// Which service of which governor a thread is inside: their addresses,
/// compared only, never dereferenced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct InsideMarker {
    /// The governor's shared state (`Shared::id`).
    pub(crate) governor: usize,
    /// The service's record.
    pub(crate) record: usize,
}

#[cfg(feature = "std")]
mod imp {
    use super::InsideMarker;
    use std::cell::Cell;

    std::thread_local! {
        /// The governor and service whose run this thread is in, if any.
        static CURRENT: Cell<Option<InsideMarker>> = const { Cell::new(None) };
    }

    pub(crate) struct Guard(Option<InsideMarker>);

    impl Guard {
        pub(crate) fn enter(id: InsideMarker) -> Guard {
            Guard(CURRENT.with(|c| c.replace(Some(id))))
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }

    pub(super) fn current() -> Option<InsideMarker> {
        CURRENT.with(Cell::get)
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    use super::InsideMarker;

    pub(crate) struct Guard;

    impl Guard {
        pub(crate) fn enter(_id: InsideMarker) -> Guard {
            Guard
        }
    }

    pub(super) fn current() -> Option<InsideMarker> {
        None
    }
}

pub(crate) use imp::Guard;
