//! Metrics (feature `metrics`): per-service counters, a state gauge and
//! stop-duration histograms through the `metrics` facade. A real program
//! installs an exporter (Prometheus, StatsD, ...); this one installs
//! metrics-util's debugging recorder and prints what it recorded.

use std::time::Duration;

use governor_tokio::{RestartPolicy, ServiceCtx, ServiceError, ServiceResult};
use metrics_util::debugging::DebuggingRecorder;

async fn flaky(ctx: ServiceCtx) -> ServiceResult {
    if ctx.run() < 3 {
        return Err(ServiceError::msg("not yet"));
    }
    ctx.wait_for_stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install()?; // first: the governor takes its handles at `add`
    let gov = governor_tokio::new()?.record_metrics();
    gov.add("flaky", flaky)?
        .restart_policy(RestartPolicy::on_failure(Duration::from_millis(10)));
    gov.start()?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    gov.shutdown().await;
    let mut lines: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
                .collect();
            format!("{}{{{}}} {value:?}", key.name(), labels.join(","))
        })
        .collect();
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
