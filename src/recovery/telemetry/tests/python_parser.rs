//! Renders Prometheus text and parses it with the real Python
//! `prometheus_client` parser (`text_string_to_metric_families`), then checks
//! that families, types and sample values round-trip.
//!
//! The test installs `prometheus_client` with pip when it is missing; if that
//! fails (no python3, no pip, no network) the test FAILS with a clear message
//! rather than silently passing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use super::super::collect::Collector;
use super::super::{
    render_prometheus, HistogramSummary, PrometheusRenderer, SkipReason, Telemetry,
    TelemetrySnapshot, VerifyFailure,
};

/// Prints the parsed families in a line format that needs no JSON crate:
/// `F <name> <type> <help>` and `S <name> <value> [<label>=<value> ...]`,
/// every string hex-encoded UTF-8 (so any character survives).
const PARSER: &str = r#"
import math, sys
from prometheus_client.parser import text_string_to_metric_families
h = lambda s: s.encode().hex() or "-"
for fam in text_string_to_metric_families(sys.stdin.read()):
    print("F", h(fam.name), fam.type, h(fam.documentation))
    for s in fam.samples:
        v = "NaN" if math.isnan(s.value) else repr(float(s.value))
        labels = " ".join(h(k) + "=" + h(x) for k, x in sorted(s.labels.items()))
        print("S", h(s.name), v, labels)
"#;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn has_prometheus_client() -> bool {
    Command::new(python())
        .args(["-c", "import prometheus_client.parser"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn ensure_prometheus_client() {
    // Serialise the check/install between the tests of this file.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if has_prometheus_client() {
        return;
    }
    let out = Command::new(python())
        .args(["-m", "pip", "install", "--quiet", "prometheus_client"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{} -m pip`: {e}; install python3 and pip",
                python()
            )
        });
    assert!(
        out.status.success() && has_prometheus_client(),
        "prometheus_client is not installed and `{} -m pip install --quiet prometheus_client` \
         failed (no network/PyPI?). This test needs the real parser and refuses to pass without \
         it.\npip stdout: {}\npip stderr: {}",
        python(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct Family {
    name: String,
    kind: String,
    help: String,
    samples: Vec<Sample>,
}

fn parse_with_python(text: &str) -> Vec<Family> {
    ensure_prometheus_client();
    let mut child = Command::new(python())
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python parser rejected the exposition:\n{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut families: Vec<Family> = Vec::new();
    for line in stdout.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "F" => families.push(Family {
                name: unhex(f[1]),
                kind: f[2].to_owned(),
                help: unhex(f[3]),
                samples: Vec::new(),
            }),
            "S" => families
                .last_mut()
                .expect("sample before family")
                .samples
                .push(Sample {
                    name: unhex(f[1]),
                    value: f[2].parse().unwrap(),
                    labels: f[3..]
                        .iter()
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (unhex(k), unhex(v))
                        })
                        .collect(),
                }),
            other => panic!("unexpected parser output line {other:?}: {line}"),
        }
    }
    families
}

/// Decodes the hex-encoded UTF-8 printed by `PARSER` (`-` is the empty string).
fn unhex(s: &str) -> String {
    if s == "-" {
        return String::new();
    }
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Builds the families the parser should return, independently of the
/// text renderer, from the collector calls.
#[derive(Default)]
struct Expected(Vec<Family>);

impl Expected {
    fn push(&mut self, family: &str, kind: &str, help: &str, samples: Vec<Sample>) {
        match self.0.last_mut() {
            Some(f) if f.name == family => f.samples.extend(samples),
            _ => self.0.push(Family {
                name: family.to_owned(),
                kind: kind.to_owned(),
                help: help.to_owned(),
                samples,
            }),
        }
    }
}

fn labels(ls: &[(&str, &str)], extra: Option<(&str, &str)>) -> BTreeMap<String, String> {
    ls.iter()
        .copied()
        .chain(extra)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl Collector for Expected {
    fn counter(&mut self, name: &str, help: &str, ls: &[(&str, &str)], value: u64) {
        let family = name.strip_suffix("_total").expect("counter without _total");
        let s = Sample {
            name: name.to_owned(),
            labels: labels(ls, None),
            value: value as f64,
        };
        self.push(family, "counter", help, vec![s]);
    }
    fn gauge(&mut self, name: &str, help: &str, ls: &[(&str, &str)], value: f64) {
        let s = Sample {
            name: name.to_owned(),
            labels: labels(ls, None),
            value,
        };
        self.push(name, "gauge", help, vec![s]);
    }
    fn summary(&mut self, name: &str, help: &str, ls: &[(&str, &str)], h: &HistogramSummary) {
        let q = |v: u64| if h.count == 0 { f64::NAN } else { v as f64 };
        let mut samples: Vec<Sample> = [
            ("0.5", h.p50),
            ("0.9", h.p90),
            ("0.99", h.p99),
            ("0.999", h.p999),
            ("0.9999", h.p9999),
        ]
        .iter()
        .map(|&(quantile, v)| Sample {
            name: name.to_owned(),
            labels: labels(ls, Some(("quantile", quantile))),
            value: q(v),
        })
        .collect();
        samples.push(Sample {
            name: format!("{name}_sum"),
            labels: labels(ls, None),
            value: h.sum as f64,
        });
        samples.push(Sample {
            name: format!("{name}_count"),
            labels: labels(ls, None),
            value: h.count as f64,
        });
        self.push(name, "summary", help, samples);
    }
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

fn find<'a>(fams: &'a [Family], name: &str) -> &'a Family {
    fams.iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("family {name} missing"))
}

fn value(fams: &[Family], family: &str, sample: &str, extra: &[(&str, &str)]) -> f64 {
    let f = find(fams, family);
    f.samples
        .iter()
        .find(|s| {
            s.name == sample
                && extra
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("sample {sample} {extra:?} missing in {family}"))
        .value
}

fn populated() -> Telemetry {
    let t = Telemetry::new();
    let r = &t.segment_reader;
    r.open_segment.record(1_500, true);
    r.open_segment.record(2_500, true);
    r.open_segment.record(9_000, false);
    r.open_failures.inc();
    r.verify_segment.record(4_000_000, true);
    r.bytes_verified.add(64 << 20);
    r.on_verify_failure(VerifyFailure::ChainedChecksum);
    r.on_torn_tail();
    let p = &t.segment_preloader;
    p.preload_segment.record(5_000_000, true);
    p.on_segment_skipped(SkipReason::Io);
    p.on_segment_skipped(SkipReason::Corrupt);
    p.on_segment_skipped(SkipReason::Corrupt);
    p.prepared_ring_full_wait_ns.add(123_456);
    let m = &t.manager;
    m.seek_event.record(700, true);
    m.set_segments(12, 11);
    m.publish_progress(1_000_000, 64_000_000);
    m.set_next_event_sample_every(1024);
    let mut rec = m.next_event_histogram.recorder();
    for i in 0..1000u64 {
        rec.record(if i < 990 { 30 } else { 5_000 });
    }
    drop(rec);
    t
}

#[test]
fn prometheus_output_round_trips_through_the_python_parser() {
    let t = populated();
    let snap: TelemetrySnapshot = t.snapshot();
    let text = render_prometheus(&t, "wal_recovery");
    let parsed = parse_with_python(&text);

    let mut expected = Expected::default();
    snap.collect("wal_recovery", &mut expected);
    assert_eq!(parsed.len(), expected.0.len(), "family count\n{text}");
    for (got, want) in parsed.iter().zip(&expected.0) {
        assert_eq!(
            (&got.name, &got.kind, &got.help),
            (&want.name, &want.kind, &want.help)
        );
        assert_eq!(got.samples.len(), want.samples.len(), "{}", got.name);
        for (g, w) in got.samples.iter().zip(&want.samples) {
            assert_eq!((&g.name, &g.labels), (&w.name, &w.labels));
            assert!(
                same_value(g.value, w.value),
                "{}: {} != {}",
                g.name,
                g.value,
                w.value
            );
        }
    }

    // Spot checks against what was recorded, independent of `collect`.
    let p = "wal_recovery_segment_reader_";
    let f = find(&parsed, &format!("{p}open_segment_samples"));
    assert_eq!(f.kind, "counter");
    assert_eq!(f.samples[0].labels["component"], "segment_reader");
    assert_eq!(
        value(
            &parsed,
            &format!("{p}open_segment_samples"),
            &format!("{p}open_segment_samples_total"),
            &[]
        ),
        3.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}open_segment_fail"),
            &format!("{p}open_segment_fail_total"),
            &[]
        ),
        1.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}open_segment_ns"),
            &format!("{p}open_segment_ns_total"),
            &[]
        ),
        13_000.0
    );
    assert_eq!(
        find(&parsed, &format!("{p}open_segment_avg_ns")).kind,
        "gauge"
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}open_segment_avg_ns"),
            &format!("{p}open_segment_avg_ns"),
            &[]
        ),
        4_333.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}open_segment_max_ns"),
            &format!("{p}open_segment_max_ns"),
            &[]
        ),
        9_000.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}bytes_verified"),
            &format!("{p}bytes_verified_total"),
            &[]
        ),
        67_108_864.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}chained_checksum_failures"),
            &format!("{p}chained_checksum_failures_total"),
            &[]
        ),
        1.0
    );

    let p = "wal_recovery_segment_preloader_";
    let by_reason = format!("{p}segments_skipped_by_reason");
    let by_reason_total = format!("{by_reason}_total");
    assert_eq!(
        value(
            &parsed,
            &by_reason,
            &by_reason_total,
            &[("reason", "corrupt")]
        ),
        2.0
    );
    assert_eq!(
        value(&parsed, &by_reason, &by_reason_total, &[("reason", "io")]),
        1.0
    );
    assert_eq!(
        value(
            &parsed,
            &by_reason,
            &by_reason_total,
            &[("reason", "bad_header")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}segments_skipped"),
            &format!("{p}segments_skipped_total"),
            &[]
        ),
        3.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}prepared_ring_full_wait_ns"),
            &format!("{p}prepared_ring_full_wait_ns_total"),
            &[]
        ),
        123_456.0
    );

    let p = "wal_recovery_manager_";
    let lat = format!("{p}next_event_latency_ns");
    let f = find(&parsed, &lat);
    assert_eq!(f.kind, "summary");
    assert_eq!(value(&parsed, &lat, &lat, &[("quantile", "0.5")]), 30.0);
    assert_eq!(value(&parsed, &lat, &lat, &[("quantile", "0.99")]), 30.0);
    assert_eq!(
        value(&parsed, &lat, &lat, &[("quantile", "0.999")]),
        5_000.0
    );
    assert_eq!(value(&parsed, &lat, &format!("{lat}_count"), &[]), 1000.0);
    assert_eq!(
        value(&parsed, &lat, &format!("{lat}_sum"), &[]),
        (990 * 30 + 10 * 5_000) as f64
    );
    let hand = format!("{p}segment_handoff_latency_ns");
    assert!(value(&parsed, &hand, &hand, &[("quantile", "0.5")]).is_nan());
    assert_eq!(value(&parsed, &hand, &format!("{hand}_count"), &[]), 0.0);
    assert_eq!(
        value(
            &parsed,
            &format!("{p}seek_event_ok"),
            &format!("{p}seek_event_ok_total"),
            &[]
        ),
        1.0
    );
    assert_eq!(find(&parsed, &format!("{p}segments")).kind, "gauge");
    assert_eq!(
        value(
            &parsed,
            &format!("{p}segments"),
            &format!("{p}segments"),
            &[]
        ),
        12.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}segments_remaining"),
            &format!("{p}segments_remaining"),
            &[]
        ),
        11.0
    );
    assert_eq!(
        value(
            &parsed,
            &format!("{p}events_delivered"),
            &format!("{p}events_delivered_total"),
            &[]
        ),
        1e6
    );
    for f in &parsed {
        assert!(!f.name.contains("__"), "double underscore in {}", f.name);
    }
}

#[test]
fn escaped_label_values_and_help_round_trip() {
    let nasty = "a\\b \"quoted\"\nnext line";
    let mut r = PrometheusRenderer::new();
    r.counter(
        "x_events_total",
        "help with \\ and\nnewline",
        &[("path", nasty)],
        5,
    );
    r.gauge("x_level", "level", &[("path", nasty), ("other", "")], -2.5);
    r.gauge("x_inf", "inf", &[], f64::INFINITY);
    let parsed = parse_with_python(r.as_str());
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].name, "x_events");
    assert_eq!(parsed[0].help, "help with \\ and\nnewline");
    assert_eq!(parsed[0].samples[0].labels["path"], nasty);
    assert_eq!(parsed[0].samples[0].value, 5.0);
    assert_eq!(parsed[1].samples[0].labels["path"], nasty);
    assert_eq!(parsed[1].samples[0].labels["other"], "");
    assert_eq!(parsed[1].samples[0].value, -2.5);
    assert_eq!(parsed[2].samples[0].value, f64::INFINITY);
}
