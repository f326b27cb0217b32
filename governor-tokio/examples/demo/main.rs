//! The governor demo on tokio: a ticker, a blocking loopback echo server
//! and client, and a flaky worker that is restarted, until Ctrl-C (or
//! SIGTERM, SIGHUP, SIGQUIT); then an orderly shutdown and one summary
//! line per service.
//!
//! ```text
//! cargo run -p governor-tokio --example demo
//! ```
//!
//! Set `RUST_LOG` (e.g. `RUST_LOG=debug`) to see more. Exits with the
//! report's `exit_code()`: 0 after a clean shutdown (on SIGTERM too), 130
//! after a forced one (a second signal during the shutdown), 75 if a
//! service had to be aborted.

mod services;

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();

    let gov = match governor_tokio::new() {
        Ok(gov) => gov.catch_signals(),
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = services::add_demo_services(&gov).and_then(|()| Ok(gov.start()?));
    if let Err(e) = started {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }
    services::announce(&gov);

    let report = gov.wait_for_shutdown().await;
    services::finish(&report)
}
