//! The `tracing` targets the governor logs under: one per concern, named
//! here once and kept stable across versions (module paths are not), so
//! that a filter such as `RUST_LOG=governor::event=info` keeps working.
//!
//! | target | what | levels |
//! |---|---|---|
//! | [`EVENT`] `governor::event` | every lifecycle [`Event`](crate::Event) on the default log (see [`Event::level`](crate::Event::level) for each event's level and fields) | debug to error |
//! | [`SERVICE`] `governor::service` | [`ServiceCtx::log`](crate::ServiceCtx::log), and the `service` span (field `name`) each run is polled in | info |
//! | [`SIGNAL`] `governor::signal` | a caught signal, what it did | info, warn |
//! | [`FAULT`] `governor::fault` | a panic the governor caught outside a run: in a stop hook, an event hook or observer, a user value's `Drop`, a supervisor | error |

/// Lifecycle events (the default [`Event::log`](crate::Event::log)).
pub const EVENT: &str = "governor::event";
/// Services' own messages ([`ServiceCtx::log`](crate::ServiceCtx::log))
/// and the span each run is polled in.
pub const SERVICE: &str = "governor::service";
/// Signals caught with [`Governor::catch_signals`](crate::Governor::catch_signals).
pub const SIGNAL: &str = "governor::signal";
/// Panics caught outside a run (hooks, observers, `Drop` of user values).
pub const FAULT: &str = "governor::fault";
