//! A [`Report`] diff that reads well when an assertion fails: one line per
//! field that differs, per service by name, instead of two pages of
//! `Debug` output. [`diff_reports`] computes it; [`assert_reports_eq`]
//! fails with it.

use std::fmt;
use std::fmt::Write as _;

use governor_core::{Report, ServiceReport};

/// How two [`Report`]s differ: one line per difference, empty when they
/// are equal (as `==` says). Its `Display` is the lines, indented.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportDiff {
    lines: Vec<String>,
}

impl ReportDiff {
    /// Whether the reports are equal.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The differences, one a line, as `field: expected X, got Y`.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    fn field<T: PartialEq + fmt::Debug>(&mut self, what: &str, expected: &T, actual: &T) {
        if expected != actual {
            self.lines
                .push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }
}

impl fmt::Display for ReportDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// How `actual` differs from `expected`: the shutdown's fields, then each
/// service's (matched by name), services present in one only, and the
/// order of services if it differs.
///
/// ```
/// use std::time::Duration;
/// use governor_core::RestartPolicy;
///
/// // The same program, with and without a failure at its start.
/// let report = |fail_first: bool| governor_test::run(|rt| async move {
///     let gov = rt.governor();
///     let mut runs = 0;
///     gov.add("api", move |ctx| {
///         runs += 1;
///         let fail = fail_first && runs == 1;
///         async move {
///             if fail { return Err(governor_core::ServiceError::msg("bind failed")) }
///             ctx.wait_for_stop().await;
///             Ok(())
///         }
///     })?
///     .restart_policy(RestartPolicy::on_failure(Duration::from_secs(1)));
///     gov.start()?;
///     rt.sleep(Duration::from_secs(10)).await;
///     Ok::<_, governor_core::Error>(gov.shutdown().await)
/// });
/// let diff = governor_test::diff_reports(&report(false)?, &report(true)?);
/// assert_eq!(
///     diff.to_string(),
///     "  service \"api\": runs: expected 1, got 2\n\
///     \x20 service \"api\": restarts: expected 0, got 1\n\
///     \x20 service \"api\": last run: expected 0ns to 10s, got 1s to 10s\n",
/// );
/// # Ok::<(), governor_core::Error>(())
/// ```
pub fn diff_reports(expected: &Report, actual: &Report) -> ReportDiff {
    let mut diff = ReportDiff::default();
    diff.field(
        "cause",
        &expected.cause.as_ref().map(ToString::to_string),
        &actual.cause.as_ref().map(ToString::to_string),
    );
    diff.field("forced", &expected.forced, &actual.forced);
    diff.field("draining", &expected.draining, &actual.draining);
    diff.field(
        "shutdown began",
        &expected.shutdown_began,
        &actual.shutdown_began,
    );
    diff.field(
        "shutdown ended",
        &expected.shutdown_ended,
        &actual.shutdown_ended,
    );
    diff.field("budget", &expected.budget, &actual.budget);
    for want in &expected.services {
        match actual.service(&want.name) {
            Some(got) => service_diff(&mut diff, want, got),
            None => diff.lines.push(format!(
                "service {:?}: expected ({want}), missing",
                want.name
            )),
        }
    }
    for got in &actual.services {
        if expected.service(&got.name).is_none() {
            diff.lines
                .push(format!("service {:?}: not expected, got ({got})", got.name));
        }
    }
    let names = |report: &Report| -> Vec<String> {
        report.services.iter().map(|s| s.name.to_string()).collect()
    };
    let (want, got) = (names(expected), names(actual));
    let mut sorted = (want.clone(), got.clone());
    sorted.0.sort();
    sorted.1.sort();
    if want != got && sorted.0 == sorted.1 {
        diff.field("order of services", &want, &got);
    }
    diff
}

fn service_diff(diff: &mut ReportDiff, want: &ServiceReport, got: &ServiceReport) {
    let name = format!("service {:?}: ", want.name);
    let mut field = |what: &str, expected: String, actual: String| {
        if expected != actual {
            diff.lines
                .push(format!("{name}{what}: expected {expected}, got {actual}"));
        }
    };
    field("state", want.state.to_string(), got.state.to_string());
    field("runs", want.runs.to_string(), got.runs.to_string());
    field(
        "restarts",
        want.restarts.to_string(),
        got.restarts.to_string(),
    );
    let outcome = |s: &ServiceReport| {
        s.last_outcome
            .as_ref()
            .map_or_else(|| "none".to_string(), ToString::to_string)
    };
    field("last outcome", outcome(want), outcome(got));
    field(
        "restart in",
        format!("{:?}", want.restart_in),
        format!("{:?}", got.restart_in),
    );
    field(
        "stop time",
        format!("{:?}", want.stop_time),
        format!("{:?}", got.stop_time),
    );
    field(
        "timed out",
        want.timed_out.to_string(),
        got.timed_out.to_string(),
    );
    field(
        "aborted tasks",
        format!("{:?}", want.aborted_tasks),
        format!("{:?}", got.aborted_tasks),
    );
    let run = |s: &ServiceReport| match s.last_run {
        None => "none".to_string(),
        Some(run) => {
            let mut text = format!("{:?} to ", run.started);
            match run.ended {
                Some(ended) => write!(text, "{ended:?}").unwrap_or(()),
                None => text.push_str("(running)"),
            }
            text
        }
    };
    field("last run", run(want), run(got));
    field("health", want.health.to_string(), got.health.to_string());
}

/// Fails unless `actual == expected`, showing only what differs
/// ([`diff_reports`]).
///
/// # Panics
///
/// When the reports differ, with the differences, one a line.
#[track_caller]
pub fn assert_reports_eq(expected: &Report, actual: &Report) {
    let diff = diff_reports(expected, actual);
    if !diff.is_empty() {
        panic!("the reports differ:\n{diff}");
    }
    // Anything `==` sees that the diff does not name would be a bug of the
    // diff: say so rather than pass.
    assert!(
        expected == actual,
        "the reports differ in a field the diff does not show:\nexpected {expected:?}\ngot {actual:?}"
    );
}
