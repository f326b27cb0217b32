//! The default log as a subscriber records it: every line under its
//! stable target, at the level and with the fields documented on
//! `Event::level`, and the service's name once — from the run's `service`
//! span inside the run, as the `service` field elsewhere.
//!
//! One test: the subscriber is the process's global one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use governor_conformance::harness::Harness;
use governor_conformance::runtimes::{TokioCurrentThread, Virtual};
use governor_conformance::support::run_case;
use governor_core::{ServiceCtx, ServiceError};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// One recorded line: target, level, fields (message included), and the
/// `name` of each enclosing `service` span.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    target: String,
    level: tracing::Level,
    fields: BTreeMap<String, String>,
    spans: Vec<String>,
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

/// The `name` of a `service` span, kept in its extensions.
struct SpanName(String);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Line>>>, Arc<AtomicBool>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes() // `enabled` asked each time
    }

    /// Spans are not recorded while the second field says so: a
    /// subscriber that filters them out.
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        !(meta.is_span() && self.1.load(Ordering::SeqCst))
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(span), Some(name)) = (ctx.span(id), fields.0.remove("name")) {
            span.extensions_mut().insert(SpanName(name));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("governor::") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .into_iter()
            .flatten()
            .filter(|span| span.name() == "service")
            .filter_map(|span| span.extensions().get::<SpanName>().map(|n| n.0.clone()))
            .collect();
        self.0.lock().unwrap().push(Line {
            target: meta.target().into(),
            level: *meta.level(),
            fields: fields.0,
            spans,
        });
    }
}

fn line(target: &str, level: tracing::Level, fields: &[(&str, &str)], spans: &[&str]) -> Line {
    Line {
        target: target.into(),
        level,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        spans: spans.iter().map(|s| s.to_string()).collect(),
    }
}

/// `talker` logs and reports ready inside its run, fails, and is logged
/// for once more from outside after its run; the lines about it name it
/// exactly once each: inside the run through the span, unless spans are
/// not recorded, then as the field.
async fn lines_name_the_service_once<H: Harness>(h: &H, recorded: &Recorder, name: &str) {
    use tracing::Level;
    recorded.0.lock().unwrap().clear();
    let spans_off = recorded.1.load(Ordering::SeqCst);
    let kept: Arc<Mutex<Option<ServiceCtx>>> = Arc::default();
    let keep = kept.clone();
    let gov = h.governor();
    let handle = gov
        .add(name, move |ctx: ServiceCtx| {
            let keep = keep.clone();
            async move {
                ctx.log("hello from inside");
                ctx.ready();
                *keep.lock().unwrap() = Some(ctx.clone());
                Err(ServiceError::msg("boom"))
            }
        })
        .unwrap()
        .notify_ready()
        .handle();
    gov.start().unwrap();
    handle.wait().await;
    let ctx = kept.lock().unwrap().take().unwrap();
    ctx.log("hello from outside");
    gov.shutdown().await;
    drop(ctx);

    let event = "governor::event";
    let service = "governor::service";
    // Inside the run: the name from the span, or the field if spans are
    // not recorded.
    let inside = |target: &str, level: Level, message: &str| {
        if spans_off {
            line(
                target,
                level,
                &[("service", name), ("message", message)],
                &[],
            )
        } else {
            line(target, level, &[("message", message)], &[name])
        }
    };
    let expected = vec![
        line(
            event,
            Level::DEBUG,
            &[
                ("service", name),
                ("run", "1"),
                ("message", "started (run 1)"),
            ],
            &[],
        ),
        inside(service, Level::INFO, "hello from inside"),
        inside(event, Level::DEBUG, "ready"),
        line(
            event,
            Level::WARN,
            &[
                ("service", name),
                ("outcome", "failed"),
                ("message", "run ended: failed: boom"),
            ],
            &[],
        ),
        line(
            service,
            Level::INFO,
            &[("service", name), ("message", "hello from outside")],
            &[],
        ),
        line(
            event,
            Level::INFO,
            &[
                ("cause", "requested"),
                ("message", "shutdown requested: requested"),
            ],
            &[],
        ),
        line(
            event,
            Level::INFO,
            &[("forced", "false"), ("message", "shutdown complete")],
            &[],
        ),
    ];
    let got = recorded.0.lock().unwrap().clone();
    assert_eq!(got, expected);
}

#[test]
fn default_log_targets_levels_fields_and_one_name() {
    let recorded = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorded.clone());
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this process");
    let h = Virtual::new();
    run_case(
        &h,
        "lines_name_the_service_once",
        lines_name_the_service_once(&h, &recorded, "talker"),
    );
    let h = TokioCurrentThread::new();
    run_case(
        &h,
        "lines_name_the_service_once",
        lines_name_the_service_once(&h, &recorded, "talker"),
    );
    // A subscriber that records no span: the name is kept as the field.
    recorded.1.store(true, Ordering::SeqCst);
    let h = Virtual::new();
    let case = lines_name_the_service_once(&h, &recorded, "quiet");
    run_case(&h, "lines_name_the_service_once", case);
}
