//! Prometheus text exposition format 0.0.4 renderer (a [`Collector`]).
//!
//! Each metric family gets `# HELP` (with `\` and newline escaped) and
//! `# TYPE` lines, emitted once per run of consecutive calls with the same
//! name (the [`Collector`] contract guarantees same-name calls are
//! consecutive). Label values escape `\`, `"` and newline. Counters are
//! written as integers; gauges use `NaN`/`+Inf`/`-Inf` for non-finite values.
//! Summaries emit one sample per quantile (`quantile="0.5"`, `"0.9"`,
//! `"0.99"`, `"0.999"`, `"0.9999"`; `NaN` while empty, as the official client
//! libraries do) plus `<name>_sum` and `<name>_count`.
//!
//! [`render_prometheus`] sanitizes the prefix (see [`super::sanitize_prefix`]);
//! [`try_render_prometheus`] rejects an invalid prefix instead.

use std::fmt::Write;

use super::collect::{validate_prefix, Collector, PrefixError};
use super::snapshot::HistogramSummary;
use super::Telemetry;

/// Content type to serve the rendered text with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `telemetry` in Prometheus text format with series named
/// `<prefix>_<component>_<metric>`. An invalid prefix is sanitized (invalid
/// characters become `_`, trailing `_` are dropped; see
/// [`super::sanitize_prefix`]), so this never fails.
pub fn render_prometheus(telemetry: &Telemetry, prefix: &str) -> String {
    let mut r = PrometheusRenderer::new();
    telemetry.collect(prefix, &mut r);
    r.finish()
}

/// Like [`render_prometheus`] but returns an error for a prefix that does
/// not match `[a-zA-Z_:][a-zA-Z0-9_:]*` or ends in `_`.
pub fn try_render_prometheus(telemetry: &Telemetry, prefix: &str) -> Result<String, PrefixError> {
    validate_prefix(prefix)?;
    Ok(render_prometheus(telemetry, prefix))
}

/// A [`Collector`] that accumulates Prometheus text exposition output.
#[derive(Debug, Default)]
pub struct PrometheusRenderer {
    out: String,
    last_family: String,
}

impl PrometheusRenderer {
    /// An empty renderer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text rendered so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The rendered text.
    pub fn finish(self) -> String {
        self.out
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        debug_assert!(is_metric_name(name), "invalid metric name {name:?}");
        if self.last_family == name {
            return;
        }
        self.last_family.clear();
        self.last_family.push_str(name);
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push('\n');
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: &str,
    ) {
        debug_assert!(
            labels.iter().all(|(k, _)| is_label_name(k)),
            "invalid or reserved label name in {labels:?}"
        );
        self.out.push_str(name);
        let mut all = labels.iter().copied().chain(extra).peekable();
        if all.peek().is_some() {
            self.out.push('{');
            for (i, (k, v)) in all.enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label_value(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(value);
        self.out.push('\n');
    }
}

/// Appends `v` escaped per the exposition format (`\\`, `\"`, `\n`).
fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn format_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "quantile"
}

impl Collector for PrometheusRenderer {
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.header(name, help, "counter");
        self.sample(name, labels, None, &value.to_string());
    }

    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.header(name, help, "gauge");
        self.sample(name, labels, None, &format_f64(value));
    }

    fn summary(&mut self, name: &str, help: &str, labels: &[(&str, &str)], h: &HistogramSummary) {
        self.header(name, help, "summary");
        for (q, v) in [
            ("0.5", h.p50),
            ("0.9", h.p90),
            ("0.99", h.p99),
            ("0.999", h.p999),
            ("0.9999", h.p9999),
        ] {
            let value = if h.count == 0 {
                "NaN".to_owned()
            } else {
                v.to_string()
            };
            self.sample(name, labels, Some(("quantile", q)), &value);
        }
        self.sample(&format!("{name}_sum"), labels, None, &h.sum.to_string());
        self.sample(&format!("{name}_count"), labels, None, &h.count.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counter_gauge_summary_with_escaping() {
        let mut r = PrometheusRenderer::new();
        r.counter(
            "a_total",
            "help \\ with\nnewline",
            &[("l", "q\"uo\\te\nnl")],
            7,
        );
        r.counter("a_total", "ignored", &[("l", "second")], 8);
        r.gauge("g", "gauge", &[], f64::NAN);
        r.gauge("g2", "gauge", &[], f64::INFINITY);
        r.gauge("g3", "gauge", &[], 1.5);
        let h = HistogramSummary {
            count: 2,
            sum: 30,
            min: 10,
            max: 20,
            mean: 15,
            p50: 10,
            p90: 20,
            p99: 20,
            p999: 20,
            p9999: 20,
        };
        r.summary("s_ns", "sum", &[("c", "m")], &h);
        r.summary("e_ns", "empty", &[], &HistogramSummary::default());
        let want = "\
# HELP a_total help \\\\ with\\nnewline
# TYPE a_total counter
a_total{l=\"q\\\"uo\\\\te\\nnl\"} 7
a_total{l=\"second\"} 8
# HELP g gauge
# TYPE g gauge
g NaN
# HELP g2 gauge
# TYPE g2 gauge
g2 +Inf
# HELP g3 gauge
# TYPE g3 gauge
g3 1.5
# HELP s_ns sum
# TYPE s_ns summary
s_ns{c=\"m\",quantile=\"0.5\"} 10
s_ns{c=\"m\",quantile=\"0.9\"} 20
s_ns{c=\"m\",quantile=\"0.99\"} 20
s_ns{c=\"m\",quantile=\"0.999\"} 20
s_ns{c=\"m\",quantile=\"0.9999\"} 20
s_ns_sum{c=\"m\"} 30
s_ns_count{c=\"m\"} 2
# HELP e_ns empty
# TYPE e_ns summary
e_ns{quantile=\"0.5\"} NaN
e_ns{quantile=\"0.9\"} NaN
e_ns{quantile=\"0.99\"} NaN
e_ns{quantile=\"0.999\"} NaN
e_ns{quantile=\"0.9999\"} NaN
e_ns_sum 0
e_ns_count 0
";
        assert_eq!(r.as_str(), want);
    }

    #[test]
    fn prefix_handling() {
        let t = Telemetry::new();
        assert_eq!(
            try_render_prometheus(&t, "bad-prefix"),
            Err(PrefixError::InvalidChar { index: 3, ch: '-' })
        );
        let sanitized = render_prometheus(&t, "bad-prefix");
        assert!(sanitized
            .contains("\nbad_prefix_manager_events_delivered_total{component=\"manager\"} 0\n"));
        assert_eq!(try_render_prometheus(&t, "bad_prefix").unwrap(), sanitized);
    }
}
