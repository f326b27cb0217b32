//! Proofs of promises the other case files leave unwalked: a user error
//! whose `Display` panics, on the default `tracing` path and in a
//! [`Report`](governor_core::Report)'s `Display`.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use governor_core::{Outcome, ServiceError};

use crate::harness::Harness;

/// An error whose `Display` panics.
#[derive(Debug)]
struct RudeDisplay;

impl fmt::Display for RudeDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of an error panicked")
    }
}

impl std::error::Error for RudeDisplay {}

/// The service name [`GovernorLog`] keeps the events of.
const RUDE: &str = "proof-rude-display";

/// A `tracing` subscriber, process-wide once installed, that formats every
/// event of the governor (targets `governor::*`) as a real one would (so a panicking `Display`
/// panics inside it) and keeps the messages of the events about [`RUDE`].
struct GovernorLog {
    kept: Mutex<Vec<String>>,
}

#[derive(Default)]
struct Fields {
    service: Option<String>,
    message: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "service" {
            self.service = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for GovernorLog {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_event() && metadata.target().starts_with("governor::")
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1) // never called: spans are disabled
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.service.as_deref() == Some(RUDE) {
            self.kept.lock().unwrap().push(fields.message);
        }
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// The process-wide [`GovernorLog`], installed on first use.
fn governor_log() -> &'static GovernorLog {
    static LOG: OnceLock<Arc<GovernorLog>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(GovernorLog {
            kept: Mutex::new(Vec::new()),
        });
        tracing::subscriber::set_global_default(ForwardTo(log.clone()))
            .expect("no other global tracing subscriber in the suite");
        log
    })
}

/// `set_global_default` takes the subscriber by value; this shares it.
struct ForwardTo(Arc<GovernorLog>);

impl tracing::Subscriber for ForwardTo {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.0.new_span(span)
    }
    fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        self.0.record(span, values)
    }
    fn record_follows_from(&self, span: &tracing::span::Id, follows: &tracing::span::Id) {
        self.0.record_follows_from(span, follows)
    }
    fn event(&self, event: &tracing::Event<'_>) {
        self.0.event(event)
    }
    fn enter(&self, span: &tracing::span::Id) {
        self.0.enter(span)
    }
    fn exit(&self, span: &tracing::span::Id) {
        self.0.exit(span)
    }
}

/// A failure whose `Display` panics goes through the default `tracing`
/// log (no event hook) and through the report's `Display` without a panic
/// escaping: both show it as `<Display panicked>`, and the outcome is
/// recorded once.
pub async fn panicking_error_display_is_survived_in_log_and_report<H: Harness>(h: &H) {
    let log = governor_log();
    let gov = h.governor();
    gov.add(
        RUDE,
        |_ctx| async move { Err(ServiceError::from(RudeDisplay)) },
    )
    .unwrap();
    gov.start().unwrap();
    gov.service(RUDE).unwrap().wait().await;
    let report = gov.shutdown().await;
    let rude = report.service(RUDE).unwrap();
    assert_eq!(rude.runs, 1);
    assert!(matches!(rude.last_outcome, Some(Outcome::Failed(_))));
    let shown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report.to_string()))
        .unwrap_or_else(|_| panic!("the report's Display let the error's panic escape"));
    assert!(
        shown.contains(&format!(
            "{RUDE}: ended, last run failed: <Display panicked>"
        )),
        "{shown}"
    );
    let kept = log.kept.lock().unwrap().clone();
    assert!(
        kept.iter()
            .any(|m| m == "run ended: failed: <Display panicked>"),
        "the default log shows the failure: {kept:?}"
    );
}
