//! The programs the end-to-end tests run as child processes and act as
//! the service manager of (signals, exit codes, the systemd notify
//! socket): each written once here, against `governor_core` only, and run
//! on every adapter by one small example of this crate per adapter
//! (`examples/<adapter>-<program>.rs`, handing the program its adapter's
//! `run`). Test fixtures, not examples for users: they live in this
//! unpublished crate, so that no published crate's example includes a
//! file from another crate.

pub mod abandoned;
pub mod linger;
pub mod systemd;
