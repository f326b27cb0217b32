//! governor-std's entry points (async-std, discontinued upstream: prefer
//! governor-smol, whose API is the same): `run` for a synchronous `main`,
//! `new()` anywhere, `run_async(setup)` inside async code.

use governor_std::{ServiceCtx, ServiceResult};

async fn job(ctx: ServiceCtx) -> ServiceResult {
    println!("{}: working on async-std", ctx.name());
    Ok(())
}

fn main() -> Result<(), governor_std::RunError> {
    let report = governor_std::run(|gov| {
        gov.add("job", job)?.critical();
        Ok(())
    })?;
    print!("{report}");
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}
