//! Health: what services say of themselves (`ctx.set_health`), the
//! governor's aggregate of it (`gov.health()`: the worst wins, the
//! services named, with liveness and readiness), its place in the report
//! and in the events.

use std::sync::{Arc, Mutex};

use futures_channel::oneshot;
use governor_core::{Event, Health, HealthLevel, ServiceCtx, ServiceResult};

use super::liveness::timed_events;
use super::seed::IdleFut;
use crate::harness::Harness;
use crate::support::journal;

/// The health changes told, as (service, health), in order.
fn changes(events: &super::liveness::TimedEvents) -> Vec<(String, Health)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, event)| match event {
            Event::HealthChanged { service, health } => Some((service.to_string(), health.clone())),
            _ => None,
        })
        .collect()
}

/// Health is aggregated worst first, naming every service that is not
/// healthy in the order they were added; a change is told once (setting
/// the same health again tells nothing); a new run begins healthy (told);
/// a context of an earlier run changes nothing; the report carries each
/// service's health and the same aggregate; readiness needs every run
/// ready and no shutdown.
pub async fn health_is_aggregated_worst_first_and_reported<H: Harness>(h: &H) {
    let (j, mut notes) = journal();
    let (gov, events) = timed_events(h.governor(), h.runtime());
    let stale: Arc<Mutex<Option<ServiceCtx>>> = Arc::default();
    let (mend, mended) = oneshot::channel::<()>();
    let mended = Arc::new(Mutex::new(Some(mended)));

    let (jb, keep) = (j.clone(), stale.clone());
    gov.add("b", move |ctx: ServiceCtx| -> IdleFut {
        let (j, keep) = (jb.clone(), keep.clone());
        Box::pin(async move {
            if ctx.run() == 1 {
                ctx.set_health(Health::degraded("slow"));
                *keep.lock().unwrap() = Some(ctx.clone());
            }
            j.note(format!("b:run{}", ctx.run()));
            ctx.wait_for_stop().await;
            Ok(())
        })
    })
    .unwrap();
    let jc = j.clone();
    gov.add("c", move |ctx: ServiceCtx| -> IdleFut {
        let (j, mended) = (jc.clone(), mended.clone());
        Box::pin(async move {
            ctx.set_health(Health::unhealthy("db down"));
            j.note("c:unhealthy");
            let mend = mended.lock().unwrap().take();
            if let Some(mend) = mend {
                let _ = mend.await;
            }
            ctx.set_health(Health::Healthy);
            ctx.set_health(Health::Healthy); // no change: not told
            j.note("c:healthy");
            ctx.wait_for_stop().await;
            Ok(())
        })
    })
    .unwrap();
    for (name, notify_ready) in [("d", true), ("a", false)] {
        let j = j.clone();
        let service = gov
            .add(name, move |ctx: ServiceCtx| {
                let j = j.clone();
                async move {
                    j.note(format!("{}:run", ctx.name()));
                    ctx.wait_for_stop().await;
                    ServiceResult::Ok(())
                }
            })
            .unwrap();
        if notify_ready {
            service.notify_ready(); // and never reports ready
        }
    }
    gov.start().unwrap();
    for note in ["b:run1", "c:unhealthy", "d:run", "a:run"] {
        notes.until(note).await;
    }

    let health = gov.health();
    assert_eq!(health.level, HealthLevel::Unhealthy);
    assert_eq!(
        health.services,
        [
            (Arc::from("b"), Health::degraded("slow")),
            (Arc::from("c"), Health::unhealthy("db down")),
        ]
    );
    assert!(!health.is_live() && !health.is_ready());
    assert_eq!(
        health.to_string(),
        "unhealthy: b (degraded: slow), c (unhealthy: db down)"
    );
    assert_eq!(gov.report().health(), health);
    assert_eq!(
        gov.report().service("c").unwrap().health,
        Health::unhealthy("db down")
    );
    assert_eq!(gov.report().service("a").unwrap().health, Health::Healthy);

    mend.send(()).unwrap();
    notes.until("c:healthy").await;
    let health = gov.health();
    assert_eq!(health.level, HealthLevel::Degraded);
    assert_eq!(health.service("b"), Some(&Health::degraded("slow")));
    assert_eq!(health.service("c"), None);
    // Live; not ready, as "d" never said it was.
    assert!(health.is_live());
    assert_eq!(health.unready, [Arc::from("d")]);
    assert!(!health.is_ready());

    // A new run of "b" begins healthy; its first run's context is stale.
    gov.service("b").unwrap().restart();
    notes.until("b:run2").await;
    let stale = stale.lock().unwrap().take().unwrap();
    stale.set_health(Health::unhealthy("from the past"));
    assert_eq!(gov.health().level, HealthLevel::Healthy);
    // Told once per change, in order per service (b and c run at once).
    let of = |name: &str| -> Vec<Health> {
        changes(&events)
            .into_iter()
            .filter(|(service, _)| service == name)
            .map(|(_, health)| health)
            .collect()
    };
    assert_eq!(of("b"), [Health::degraded("slow"), Health::Healthy]);
    assert_eq!(of("c"), [Health::unhealthy("db down"), Health::Healthy]);
    assert!(of("a").is_empty() && of("d").is_empty());

    let report = gov.shutdown().await;
    let health = report.health();
    assert!(health.shutting_down && health.is_live() && !health.is_ready());
    assert!(gov.health().shutting_down);
    drop(stale);
}
