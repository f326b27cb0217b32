//! The governor demo: a ticker, a blocking loopback echo server and
//! client, a flaky worker that is restarted and a wedged one that its
//! watchdog declares hung, until Ctrl-C (or SIGTERM, SIGHUP, SIGQUIT);
//! then an orderly shutdown and one summary line per service.
//!
//! ```text
//! cargo run -p governor-examples --example demo               # on tokio
//! cargo run -p governor-examples --example demo -- smol       # on smol
//! cargo run -p governor-examples --example demo -- async-std  # on async-std
//! ```
//!
//! The services (`services.rs`) are written once against `governor_core`;
//! only the few lines of `main` that build the governor name a runtime.
//! Set `RUST_LOG` (e.g. `RUST_LOG=debug`) to see more. Exits with the
//! report's `exit_code()` (the table is `governor_core::exit_code`): 0
//! after a clean shutdown (on SIGTERM too), 130 after a forced one (a
//! second signal during the shutdown), another code if the report holds a
//! failure (once `wedged` has hung, for instance).

mod services;

use std::process::ExitCode;

use governor_core::Governor;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = std::env::args().nth(1).unwrap_or_else(|| "tokio".into());
    match runtime.as_str() {
        "tokio" => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(async {
                match governor_tokio::new() {
                    Ok(gov) => demo(gov).await,
                    Err(e) => fail(&e),
                }
            }),
            Err(e) => fail(&e),
        },
        "smol" => smol::block_on(demo(governor_smol::new())),
        "async-std" => async_std::task::block_on(demo(governor_std::new())),
        other => {
            eprintln!("demo: unknown runtime {other:?}; choose tokio, smol or async-std");
            ExitCode::from(2)
        }
    }
}

/// The same program on every runtime: the services, a start, then the
/// shutdown that a signal begins.
async fn demo(gov: Governor) -> ExitCode {
    let gov = gov.catch_signals();
    let started = services::add_demo_services(&gov).and_then(|()| Ok(gov.start()?));
    if let Err(e) = started {
        return fail(&*e);
    }
    services::announce(&gov);
    let report = gov.wait_for_shutdown().await;
    services::finish(&report)
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("demo: {error}");
    ExitCode::FAILURE
}
