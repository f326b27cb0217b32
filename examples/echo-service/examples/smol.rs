//! The echo service on smol: the whole program. Run it with
//! `cargo run -p echo-service --example smol [ADDR]` (default
//! 127.0.0.1:7878), talk to it with `nc 127.0.0.1 7878`, stop it with
//! Ctrl-C.

use std::time::Duration;

use echo_service::Echo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_owned());
    let echo = Echo::bind(&addr)?.idle_timeout(Duration::from_secs(300));
    // The one line that names a runtime.
    let report = governor_smol::run(|gov| {
        gov.add_service("echo", echo)?
            .restart(Duration::from_secs(1));
        Ok(())
    })?;
    print!("{report}");
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}
