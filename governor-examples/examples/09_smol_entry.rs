//! governor-smol's entry points: `run` for a synchronous `main` (services
//! on smol's global executor, signals caught), `new()` anywhere,
//! `with_executor(ex)` on an executor you run, `run_async(setup)` inside
//! async code.

use governor_smol::{ServiceCtx, ServiceResult};

async fn job(ctx: ServiceCtx) -> ServiceResult {
    println!("{}: working on smol", ctx.name());
    Ok(())
}

fn main() -> Result<(), governor_smol::RunError> {
    let report = governor_smol::run(|gov| {
        gov.add("job", job)?.critical();
        Ok(())
    })?;
    print!("{report}");
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}
