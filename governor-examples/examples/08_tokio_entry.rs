//! governor-tokio's entry points: `run` for a synchronous `main` (it
//! builds a multi-thread runtime and catches signals), `new()` inside a
//! tokio runtime, `with_handle(handle)` from anywhere.
//!
//! This program uses `run` with a critical one-shot job, so it ends on
//! its own; a server would run until Ctrl-C or SIGTERM.

use governor_tokio::{ServiceCtx, ServiceResult};

async fn job(ctx: ServiceCtx) -> ServiceResult {
    println!("{}: working on tokio", ctx.name());
    Ok(())
}

fn main() -> Result<(), governor_tokio::RunError> {
    let report = governor_tokio::run(|gov| {
        gov.add("job", job)?.critical(); // its end shuts the program down
        Ok(())
    })?;
    print!("{report}");
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}
