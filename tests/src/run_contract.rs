//! The contract of every adapter's `run` (and `run_async`, where there is
//! one): the whole life of a program in one call, written once and checked
//! on each adapter.
//!
//! `run` builds (or uses) its runtime, makes a governor that catches
//! signals, calls `setup`, starts the services and returns the final
//! report once every service has stopped; when `setup` fails, it stops at
//! the error, shuts down what was added and returns the governor's error
//! as the source of its own. Instantiated per adapter by one line in
//! `tests/<adapter>_contract.rs`:
//!
//! ```ignore
//! governor_conformance::run_contract!(
//!     smol_run,
//!     run = governor_smol::run,
//!     run_to_exit = governor_smol::run_to_exit,
//! );
//! ```
//!
//! `run_to_exit` is checked to end with the report's exit code (and
//! `EX_CONFIG` when setup fails).
//! `run_async = ...` adds the check of `run_async`, given as a function
//! that awaits it the adapter's way (on another executor, say).

use std::error::Error as StdError;
use std::fmt::Debug;
use std::sync::mpsc;

use governor_core::{Error, Governor, Outcome, Report, ServiceState, ShutdownCause};

use crate::runtimes::CASE_TIMEOUT;

/// What `setup` is, boxed, so that one check serves every adapter's `run`.
pub type Setup = Box<dyn FnOnce(&Governor) -> Result<(), Error> + Send>;

/// Runs every `run` check as a `#[test]`, in a module named `$name`.
#[macro_export]
macro_rules! run_contract {
    ($name:ident, run = $run:path, run_to_exit = $run_to_exit:path $(, run_async = $run_async:expr)? $(,)?) => {
        mod $name {
            #[test]
            fn run_to_exit_maps_the_outcome_to_its_exit_code() {
                $crate::run_contract::run_to_exit_maps_the_outcome_to_its_exit_code(|setup| $run_to_exit(setup));
            }

            #[test]
            fn run_returns_when_every_service_has_ended() {
                $crate::run_contract::run_returns_when_every_service_has_ended(|setup| $run(setup));
            }

            #[test]
            fn run_stops_what_setup_added_when_setup_fails() {
                $crate::run_contract::run_stops_what_setup_added_when_setup_fails(|setup| $run(setup));
            }

            $(
                #[test]
                fn run_async_returns_the_cause() {
                    $crate::run_contract::run_async_returns_the_cause($run_async);
                }
            )?
        }
    };
}

/// Runs `f` on its own thread; fails the test instead of hanging it.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(CASE_TIMEOUT)
        .unwrap_or_else(|_| panic!("did not finish within {CASE_TIMEOUT:?}"))
}

/// `run_to_exit` ends with the exit code of what happened: 0 for a clean
/// shutdown, 1 for a failed run, 78 (`EX_CONFIG`) when setup fails.
pub fn run_to_exit_maps_the_outcome_to_its_exit_code(
    run_to_exit: impl Fn(Setup) -> std::process::ExitCode + Send + Sync + 'static,
) {
    use governor_core::exit_code;
    let run_to_exit = std::sync::Arc::new(run_to_exit);
    let cases: [(Setup, u8); 3] = [
        (
            Box::new(|gov| {
                gov.add("asks", |ctx| async move {
                    ctx.governor().request_shutdown();
                    ctx.wait_for_stop().await;
                    Ok(())
                })?;
                Ok(())
            }),
            exit_code::CLEAN,
        ),
        (
            Box::new(|gov| {
                gov.add("fails", |_ctx| async move {
                    Err(governor_core::ServiceError::msg("broken"))
                })?;
                Ok(())
            }),
            exit_code::FAILED,
        ),
        (
            Box::new(|gov| {
                gov.add("", |_ctx| async { Ok(()) })?;
                Ok(())
            }),
            exit_code::SETUP,
        ),
    ];
    for (setup, expected) in cases {
        let run_to_exit = run_to_exit.clone();
        let code = within(move || run_to_exit(setup));
        assert_eq!(code, std::process::ExitCode::from(expected));
    }
}

/// `run` returns the final report once every service has ended by
/// itself, async and blocking alike; no shutdown had a cause.
pub fn run_returns_when_every_service_has_ended<E: Debug + Send + 'static>(
    run: impl FnOnce(Setup) -> Result<Report, E> + Send + 'static,
) {
    let report = within(|| {
        run(Box::new(|gov| {
            gov.add("once", |ctx| async move {
                ctx.log("ran");
                Ok(())
            })?;
            gov.add_blocking("blocking", |_ctx| Ok(()))?;
            Ok(())
        }))
    })
    .expect("run succeeds");
    assert_eq!(report.cause, None);
    for name in ["once", "blocking"] {
        let service = report.service(name).unwrap();
        assert_eq!(service.state, ServiceState::Ended);
        assert_eq!(service.last_outcome, Some(Outcome::Completed));
    }
}

/// When `setup` fails, `run` returns at once with the governor's error as
/// its source (and naming the problem), and `setup` went no further.
pub fn run_stops_what_setup_added_when_setup_fails<E>(
    run: impl FnOnce(Setup) -> Result<Report, E> + Send + 'static,
) where
    E: StdError + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let err = within(move || {
        run(Box::new(move |gov| {
            gov.add("first", |_ctx| async { Ok(()) })?;
            gov.add("first", |_ctx| async { Ok(()) })?;
            tx.send(()).unwrap();
            Ok(())
        }))
    })
    .expect_err("a duplicate name fails setup");
    let source = err
        .source()
        .and_then(|source| source.downcast_ref::<Error>());
    assert!(
        matches!(source, Some(Error::DuplicateName { name }) if &**name == "first"),
        "{err:?}"
    );
    assert!(err.to_string().contains("first"));
    assert!(rx.try_recv().is_err(), "setup stopped at the error");
}

/// `run_async`, awaited the adapter's way by `block_on_run_async`, returns
/// the report with the cause of the shutdown a service requested.
pub fn run_async_returns_the_cause<E: Debug + Send + 'static>(
    block_on_run_async: impl FnOnce(Setup) -> Result<Report, E> + Send + 'static,
) {
    let report = within(|| {
        block_on_run_async(Box::new(|gov| {
            gov.add("shutter", |ctx| async move {
                ctx.governor().request_shutdown();
                Ok(())
            })?;
            Ok(())
        }))
    })
    .unwrap();
    assert_eq!(report.cause, Some(ShutdownCause::Requested));
}
