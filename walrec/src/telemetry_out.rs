//! Telemetry output: the library's human dump, its Prometheus text, and a JSON rendering built
//! through the library's generic [`Collector`] (so every metric the library exports appears,
//! under the same names as in Prometheus).

use serde_json::{json, Map, Value};
use wal_recovery::recovery::telemetry::{
    render_prometheus, Collector, HistogramSummary, Telemetry,
};

/// Metric name prefix used in Prometheus text and JSON.
pub const PREFIX: &str = "wal_recovery";

/// The library's human telemetry dump, titled `label`.
pub fn dump_or_note(t: &Telemetry, label: &str) -> String {
    let mut s = String::new();
    match t.dump(label, &mut s) {
        Ok(()) => s,
        Err(_) => "telemetry: the dump could not be written\n".to_string(),
    }
}

/// Prometheus exposition text (format 0.0.4).
pub fn prometheus(t: &Telemetry) -> String {
    render_prometheus(t, PREFIX)
}

/// Every metric as JSON: `{"<series name>": value}`; series with labels besides `component`
/// become objects keyed by `label=value`; latency summaries become objects with count, sum and
/// percentiles in nanoseconds.
pub fn json(t: &Telemetry) -> Value {
    let mut c = JsonCollector::default();
    t.collect(PREFIX, &mut c);
    Value::Object(c.out)
}

/// Handoff latency from the manager's histogram: (samples, p50 ns, p99 ns), when it has
/// samples.
pub fn handoff(t: &Telemetry) -> Option<(u64, u64, u64)> {
    let h = t.snapshot().manager.segment_handoff_histogram;
    (h.count > 0).then_some((h.count, h.p50, h.p99))
}

/// Sampled next-event latency from the manager's histogram: (samples, p50 ns, p99 ns).
pub fn next_event(t: &Telemetry) -> Option<(u64, u64, u64)> {
    let h = t.snapshot().manager.next_event_histogram;
    (h.count > 0).then_some((h.count, h.p50, h.p99))
}

/// Builds the JSON object of [`json`].
#[derive(Default)]
struct JsonCollector {
    out: Map<String, Value>,
}

impl JsonCollector {
    fn put(&mut self, name: &str, labels: &[(&str, &str)], v: Value) {
        let extra: Vec<String> = labels
            .iter()
            .filter(|(k, _)| *k != "component")
            .map(|(k, val)| format!("{k}={val}"))
            .collect();
        if extra.is_empty() {
            self.out.insert(name.to_string(), v);
            return;
        }
        let slot = self
            .out
            .entry(name.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = slot {
            m.insert(extra.join(","), v);
        }
    }
}

impl Collector for JsonCollector {
    fn counter(&mut self, name: &str, _help: &str, labels: &[(&str, &str)], value: u64) {
        self.put(name, labels, json!(value));
    }

    fn gauge(&mut self, name: &str, _help: &str, labels: &[(&str, &str)], value: f64) {
        let v = if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15 {
            json!(value as i64)
        } else if value.is_finite() {
            json!(value)
        } else {
            Value::Null
        };
        self.put(name, labels, v);
    }

    fn summary(&mut self, name: &str, _help: &str, labels: &[(&str, &str)], s: &HistogramSummary) {
        self.put(
            name,
            labels,
            json!({
                "count": s.count, "sum": s.sum, "min": s.min, "max": s.max, "mean": s.mean,
                "p50": s.p50, "p90": s.p90, "p99": s.p99, "p999": s.p999, "p9999": s.p9999,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_prometheus_series() {
        let t = Telemetry::new();
        let v = json(&t);
        let prom = prometheus(&t);
        let obj = v.as_object().unwrap();
        assert!(!obj.is_empty());
        for name in obj.keys() {
            assert!(
                prom.contains(name.as_str()),
                "{name} not in the Prometheus text"
            );
        }
        assert!(handoff(&t).is_none());
        assert!(dump_or_note(&t, "test").contains("test"));
    }
}
