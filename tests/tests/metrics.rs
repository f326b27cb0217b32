//! governor-core's `metrics` feature through `metrics-util`'s debugging
//! recorder: every series registered at zero when a service is added
//! (names, labels, values), then the values after a scripted sequence of
//! runs — exact on virtual time, bounded on tokio.
//!
//! One test: the recorder is the process's global one, and a snapshot
//! drains it (counters and gauges read back as 0, histograms empty), so
//! the runtimes take turns, each reading only its own services.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor_conformance::harness::Harness;
use governor_conformance::runtimes::{TokioCurrentThread, Virtual};
use governor_conformance::support::{journal, run_case};
use governor_core::{Outcome, RestartPolicy, ServiceCtx, ServiceError, ServiceState};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const SECOND: Duration = Duration::from_secs(1);
/// How long `flaky`'s last run takes to stop once asked.
const STOP_TAKES: Duration = Duration::from_millis(300);

const COUNTERS: [&str; 5] = [
    "governor_service_runs_total",
    "governor_service_restarts_total",
    "governor_service_failures_total",
    "governor_service_panics_total",
    "governor_service_give_ups_total",
];
const STATES: [&str; 8] = [
    "pending",
    "starting",
    "running",
    "ready",
    "restarting",
    "stopping",
    "ended",
    "gave_up",
];

/// A snapshot as `name{label=value,...}` → value, for the services whose
/// names start with `prefix` (and the unlabelled governor series).
fn snapshot(s: &Snapshotter, prefix: &str) -> BTreeMap<String, DebugValue> {
    s.snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let ours = key
                .labels()
                .any(|l| l.key() == "service" && l.value().starts_with(prefix))
                || labels.is_empty();
            ours.then(|| (format!("{}{{{}}}", key.name(), labels.join(",")), value))
        })
        .collect()
}

/// The series of `service`, all at the values given (counters in
/// `COUNTERS` order), the state gauge at 1 for `state` only and the stop
/// histogram with `stops`.
fn series(
    service: &str,
    counters: [u64; 5],
    state: &str,
    stops: &[f64],
) -> BTreeMap<String, DebugValue> {
    let mut expected = BTreeMap::new();
    for (name, value) in COUNTERS.iter().zip(counters) {
        expected.insert(
            format!("{name}{{service={service}}}"),
            DebugValue::Counter(value),
        );
    }
    for s in STATES {
        let value = if s == state { 1.0 } else { 0.0 };
        expected.insert(
            format!("governor_service_state{{service={service},state={s}}}"),
            DebugValue::Gauge(value.into()),
        );
    }
    expected.insert(
        format!("governor_service_stop_duration_seconds{{service={service}}}"),
        DebugValue::Histogram(stops.iter().map(|&v| v.into()).collect()),
    );
    expected
}

/// `flaky` fails, panics, then runs until the shutdown and takes
/// `STOP_TAKES` to stop; `quitter` fails twice and gives up (limit 1).
async fn scripted_sequence<H: Harness>(h: &H, s: &Snapshotter, prefix: &str) {
    let flaky = format!("{prefix}-flaky");
    let quitter = format!("{prefix}-quitter");
    let (j, mut notes) = journal();
    let gov = h.governor().record_metrics();
    let runtime = h.runtime();
    gov.add(flaky.as_str(), move |ctx: ServiceCtx| {
        let (j, runtime) = (j.clone(), runtime.clone());
        async move {
            match ctx.run() {
                1 => Err(ServiceError::msg("failed")),
                2 => panic!("run 2 panics"),
                _ => {
                    j.note("run3");
                    ctx.wait_for_stop().await;
                    runtime.sleep(STOP_TAKES).await; // not `ctx.sleep`: it would end at once
                    Ok(())
                }
            }
        }
    })
    .unwrap()
    .restart_policy(RestartPolicy::always(SECOND));
    let quits = gov
        .add(quitter.as_str(), |_ctx: ServiceCtx| async {
            Err(ServiceError::msg("no"))
        })
        .unwrap()
        .restart_policy(RestartPolicy::always(SECOND).limit(1, Duration::from_secs(3600)))
        .handle();

    // Registered at zero on `add`, before anything ran.
    let mut expected = series(&flaky, [0; 5], "pending", &[]);
    expected.extend(series(&quitter, [0; 5], "pending", &[]));
    expected.insert(
        "governor_shutdown_duration_seconds{}".into(),
        DebugValue::Histogram(vec![]),
    );
    assert_eq!(snapshot(s, prefix), expected);

    gov.start().unwrap();
    notes.until("run3").await;
    assert_eq!(quits.wait().await.state, ServiceState::GaveUp);
    let report = gov.shutdown().await;
    let flaky_report = report.service(&flaky).unwrap();
    assert_eq!(flaky_report.last_outcome, Some(Outcome::Completed));
    let took = flaky_report.stop_time.unwrap().as_secs_f64();

    let got = snapshot(s, prefix);
    // Each stop took `STOP_TAKES` exactly on virtual time, at least that
    // on a real runtime; the histograms hold what the report says.
    let stop = match &got[&format!("governor_service_stop_duration_seconds{{service={flaky}}}")] {
        DebugValue::Histogram(v) if v.len() == 1 => v[0].into_inner(),
        other => panic!("one stop of {flaky} expected, got {other:?}"),
    };
    assert_eq!(stop, took);
    let shutdown = match &got["governor_shutdown_duration_seconds{}"] {
        DebugValue::Histogram(v) if v.len() == 1 => v[0].into_inner(),
        other => panic!("one shutdown expected, got {other:?}"),
    };
    if h.exact_time() {
        assert_eq!(stop, STOP_TAKES.as_secs_f64());
        assert_eq!(shutdown, STOP_TAKES.as_secs_f64());
    } else {
        let bound = (STOP_TAKES + Duration::from_secs(30)).as_secs_f64();
        assert!((STOP_TAKES.as_secs_f64()..bound).contains(&stop), "{stop}");
        assert!((stop..bound).contains(&shutdown), "{shutdown} vs {stop}");
    }
    // runs, restarts, failures, panics, give-ups; the state now.
    let mut expected = series(&flaky, [3, 2, 2, 1, 0], "ended", &[stop]);
    expected.extend(series(&quitter, [2, 1, 2, 0, 1], "gave_up", &[]));
    expected.insert(
        "governor_shutdown_duration_seconds{}".into(),
        DebugValue::Histogram(vec![shutdown.into()]),
    );
    assert_eq!(got, expected);
}

/// A service whose state changes are shown as they happen, one at a time
/// (running, then ready once it says so), read between the steps.
async fn state_gauge_follows_the_service<H: Harness>(h: &H, s: &Snapshotter, prefix: &str) {
    let name = format!("{prefix}-ready");
    let (tell, told) = futures_channel::oneshot::channel::<()>();
    let told = Arc::new(Mutex::new(Some(told)));
    let (j, mut notes) = journal();
    let gov = h.governor().record_metrics();
    gov.add(name.as_str(), move |ctx: ServiceCtx| {
        let (j, told) = (j.clone(), told.lock().unwrap().take());
        async move {
            j.note("running");
            if let Some(told) = told {
                let _ = told.await;
            }
            ctx.ready();
            j.note("ready");
            ctx.wait_for_stop().await;
            Ok(())
        }
    })
    .unwrap()
    .notify_ready();
    let gauge = |got: &BTreeMap<String, DebugValue>, state: &str| match &got
        [&format!("governor_service_state{{service={name},state={state}}}")]
    {
        DebugValue::Gauge(v) => v.into_inner(),
        other => panic!("a gauge expected, got {other:?}"),
    };
    assert_eq!(gauge(&snapshot(s, prefix), "pending"), 1.0);
    gov.start().unwrap();
    notes.until("running").await;
    assert_eq!(gauge(&snapshot(s, prefix), "running"), 1.0);
    tell.send(()).unwrap();
    notes.until("ready").await;
    let got = snapshot(s, prefix);
    assert_eq!(gauge(&got, "ready"), 1.0);
    assert_eq!(gauge(&got, "running"), 0.0);
    gov.shutdown().await;
    assert_eq!(gauge(&snapshot(s, prefix), "ended"), 1.0);
}

#[test]
fn metrics_through_the_debugging_recorder() {
    let recorder = DebuggingRecorder::new();
    let s = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this process");
    // A fresh harness per case, as the suites make them.
    let h = Virtual::new();
    run_case(
        &h,
        "scripted_sequence",
        scripted_sequence(&h, &s, "virtual"),
    );
    let h = Virtual::new();
    let case = state_gauge_follows_the_service(&h, &s, "vgauge");
    run_case(&h, "state_gauge_follows_the_service", case);
    let h = TokioCurrentThread::new();
    run_case(&h, "scripted_sequence", scripted_sequence(&h, &s, "tokio"));
    let h = TokioCurrentThread::new();
    let case = state_gauge_follows_the_service(&h, &s, "tgauge");
    run_case(&h, "state_gauge_follows_the_service", case);
}
