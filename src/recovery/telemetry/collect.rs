//! Structured export of telemetry snapshots into any [`Collector`].
//!
//! # Naming
//!
//! Every series is named `<prefix>_<component>_<metric>` with single
//! underscores (the original emitted `prefix_component__metric`), where
//! component is `segment_reader`, `segment_preloader` or `manager`, and every
//! series carries the label `component="<component>"`.
//!
//! * An operation stat `op` expands to the counters `op_samples_total`,
//!   `op_ok_total`, `op_fail_total`, `op_ns_total` and the gauges `op_min_ns`,
//!   `op_max_ns`, `op_avg_ns` (0 while there are no samples).
//! * Counters always end in `_total` (e.g. `bytes_verified_total`,
//!   `prepared_ring_full_wait_ns_total`).
//! * Skip reasons: `segments_skipped_total` plus
//!   `segments_skipped_by_reason_total{reason="bad_header"|"corrupt"|"io"}`.
//! * `histogram_samples_dropped_total` (see [`super::HistogramSlot::dropped`]).
//! * Histograms `h` become a summary `h_latency_ns` (quantiles 0.5, 0.9, 0.99,
//!   0.999, 0.9999, plus sum and count) and the gauges `h_latency_min_ns` and
//!   `h_latency_max_ns`, for `h` in `next_event` and `segment_handoff`.
//! * The manager's segment gauges are `segments` and `segments_remaining` (a
//!   gauge must not end in `_total`, so the field `segments_total` is exported
//!   as `segments`); also `next_event_sample_every`, `replay_start_unix_ns`
//!   and `replay_elapsed_ns`.
//!
//! # Prefix
//!
//! The prefix must match `[a-zA-Z_:][a-zA-Z0-9_:]*` and must not end in `_`
//! ([`validate_prefix`]). `collect` never fails: it passes the prefix through
//! [`sanitize_prefix`], which is the identity on valid prefixes.

use std::fmt;

use super::segment_preloader::SkipReason;
use super::snapshot::{
    HistogramSummary, ManagerSnapshot, OpSnapshot, SegmentPreloaderSnapshot, SegmentReaderSnapshot,
    TelemetrySnapshot,
};

/// Prefix used by [`sanitize_prefix`] when nothing usable is left.
pub const DEFAULT_PREFIX: &str = "wal_recovery";

/// Receiver of exported metrics.
///
/// `name` is the complete series name (counters include `_total`), `help` is
/// free text, `labels` are `(name, value)` pairs with valid label names and
/// arbitrary (unescaped) values. Calls for the same `name` are always
/// consecutive, and a name is never reused with a different kind.
pub trait Collector {
    /// A monotonically increasing counter.
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64);
    /// A value that can go up and down.
    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64);
    /// A latency distribution (nanoseconds): quantiles 0.5/0.9/0.99/0.999/0.9999
    /// from `summary.p50..p9999`, plus `summary.sum` and `summary.count`.
    fn summary(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        summary: &HistogramSummary,
    );
}

/// Why a metric-name prefix was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixError {
    /// The prefix is empty.
    Empty,
    /// `ch` at byte offset `index` is not allowed there.
    InvalidChar {
        /// Byte offset of the offending character.
        index: usize,
        /// The offending character.
        ch: char,
    },
    /// The prefix ends in `_`, which would produce `__` in series names.
    TrailingUnderscore,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrefixError::Empty => write!(f, "metric prefix is empty"),
            PrefixError::InvalidChar { index, ch } => write!(
                f,
                "metric prefix has invalid character {ch:?} at byte {index} \
                 (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"
            ),
            PrefixError::TrailingUnderscore => {
                write!(f, "metric prefix ends in '_' (names would contain '__')")
            }
        }
    }
}

impl std::error::Error for PrefixError {}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Checks that `prefix` matches `[a-zA-Z_:][a-zA-Z0-9_:]*` and does not end in `_`.
pub fn validate_prefix(prefix: &str) -> Result<(), PrefixError> {
    let mut chars = prefix.char_indices();
    match chars.next() {
        None => return Err(PrefixError::Empty),
        Some((index, ch)) if !is_name_start(ch) => {
            return Err(PrefixError::InvalidChar { index, ch })
        }
        Some(_) => {}
    }
    if let Some((index, ch)) = chars.find(|&(_, c)| !is_name_char(c)) {
        return Err(PrefixError::InvalidChar { index, ch });
    }
    if prefix.ends_with('_') {
        return Err(PrefixError::TrailingUnderscore);
    }
    Ok(())
}

/// Makes any string a valid prefix: invalid characters become `_`, a leading
/// digit gets a `_` in front, runs of `_` collapse to one, trailing `_` are
/// removed, and an empty result becomes [`DEFAULT_PREFIX`]. Valid prefixes
/// are returned unchanged.
pub fn sanitize_prefix(prefix: &str) -> String {
    if validate_prefix(prefix).is_ok() {
        return prefix.to_owned();
    }
    let mut out = String::with_capacity(prefix.len() + 1);
    if prefix.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in prefix.chars() {
        let c = if is_name_char(c) { c } else { '_' };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() {
        DEFAULT_PREFIX.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Builds names `<prefix>_<component>_<metric>` and forwards to the collector.
struct Emitter<'a> {
    base: String,
    component: &'static str,
    c: &'a mut dyn Collector,
}

impl<'a> Emitter<'a> {
    fn new(prefix: &str, component: &'static str, c: &'a mut dyn Collector) -> Self {
        Self {
            base: format!("{}_{component}", sanitize_prefix(prefix)),
            component,
            c,
        }
    }

    fn name(&self, metric: &str) -> String {
        format!("{}_{metric}", self.base)
    }

    fn counter(&mut self, metric: &str, help: &str, value: u64) {
        let name = self.name(metric);
        self.c
            .counter(&name, help, &[("component", self.component)], value);
    }

    fn gauge(&mut self, metric: &str, help: &str, value: u64) {
        let name = self.name(metric);
        self.c
            .gauge(&name, help, &[("component", self.component)], value as f64);
    }

    fn op(&mut self, op: &str, what: &str, s: &OpSnapshot) {
        let h = |kind: &str| format!("{what}: {kind}");
        self.counter(
            &format!("{op}_samples_total"),
            &h("operations recorded"),
            s.samples,
        );
        self.counter(
            &format!("{op}_ok_total"),
            &h("operations that succeeded"),
            s.ok,
        );
        self.counter(
            &format!("{op}_fail_total"),
            &h("operations that failed"),
            s.fail,
        );
        self.counter(
            &format!("{op}_ns_total"),
            &h("total duration in ns"),
            s.total_ns,
        );
        self.gauge(
            &format!("{op}_min_ns"),
            &h("shortest duration in ns"),
            s.min_ns,
        );
        self.gauge(
            &format!("{op}_max_ns"),
            &h("longest duration in ns"),
            s.max_ns,
        );
        self.gauge(&format!("{op}_avg_ns"), &h("mean duration in ns"), s.avg_ns);
    }

    fn histogram(&mut self, metric: &str, what: &str, h: &HistogramSummary) {
        let name = self.name(&format!("{metric}_latency_ns"));
        let help = format!("{what}: latency in ns (HDR histogram, 3 significant digits)");
        self.c
            .summary(&name, &help, &[("component", self.component)], h);
        self.gauge(
            &format!("{metric}_latency_min_ns"),
            &format!("{what}: smallest latency in ns"),
            h.min,
        );
        self.gauge(
            &format!("{metric}_latency_max_ns"),
            &format!("{what}: largest latency in ns"),
            h.max,
        );
    }
}

impl SegmentReaderSnapshot {
    /// Emits every metric as `<prefix>_segment_reader_<metric>`.
    pub fn collect(&self, prefix: &str, collector: &mut dyn Collector) {
        let mut e = Emitter::new(prefix, "segment_reader", collector);
        e.op(
            "open_segment",
            "Segment open (open, fstat, mmap)",
            &self.open_segment,
        );
        e.op(
            "close_segment",
            "Segment close (munmap, close)",
            &self.close_segment,
        );
        e.op(
            "verify_segment",
            "Full segment integrity verification",
            &self.verify_segment,
        );
        e.op("build_index", "Sparse index build", &self.build_index);
        e.op(
            "seek_event",
            "In-segment seek to an event id",
            &self.seek_event,
        );
        e.counter(
            "header_checksum_failures_total",
            "Segment header checksum mismatches",
            self.header_checksum_failures,
        );
        e.counter(
            "block_header_checksum_failures_total",
            "Block header checksum mismatches",
            self.block_header_checksum_failures,
        );
        e.counter(
            "block_checksum_failures_total",
            "Block payload checksum mismatches",
            self.block_checksum_failures,
        );
        e.counter(
            "chained_checksum_failures_total",
            "Chained block checksum mismatches",
            self.chained_checksum_failures,
        );
        e.counter(
            "validation_failures_total",
            "Structural segment validation failures",
            self.validation_failures,
        );
        e.counter(
            "open_failures_total",
            "Failed segment opens",
            self.open_failures,
        );
        e.counter(
            "torn_tails_total",
            "Segments with a torn (truncated) tail",
            self.torn_tails,
        );
        e.counter(
            "bytes_verified_total",
            "Bytes walked by segment verification",
            self.bytes_verified,
        );
    }
}

impl SegmentPreloaderSnapshot {
    /// Emits every metric as `<prefix>_segment_preloader_<metric>`.
    pub fn collect(&self, prefix: &str, collector: &mut dyn Collector) {
        let mut e = Emitter::new(prefix, "segment_preloader", collector);
        e.op(
            "preload_segment",
            "Background segment preload (open, verify)",
            &self.preload_segment,
        );
        e.op(
            "finish_segment",
            "Background close of a finished segment",
            &self.finish_segment,
        );
        e.counter(
            "segments_skipped_total",
            "Segments skipped by the preloader",
            self.segments_skipped,
        );
        let name = e.name("segments_skipped_by_reason_total");
        for reason in SkipReason::ALL {
            let value = match reason {
                SkipReason::BadHeader => self.skipped_bad_header,
                SkipReason::Corrupt => self.skipped_corrupt,
                SkipReason::Io => self.skipped_io,
            };
            e.c.counter(
                &name,
                "Segments skipped by the preloader, by reason",
                &[("component", e.component), ("reason", reason.as_str())],
                value,
            );
        }
        e.counter(
            "prepared_ring_full_wait_ns_total",
            "Nanoseconds the preloader waited on a full prepared ring",
            self.prepared_ring_full_wait_ns,
        );
    }
}

impl ManagerSnapshot {
    /// Emits every metric as `<prefix>_manager_<metric>`.
    pub fn collect(&self, prefix: &str, collector: &mut dyn Collector) {
        let mut e = Emitter::new(prefix, "manager", collector);
        e.op(
            "read_segment_header",
            "Segment header read during scan",
            &self.read_segment_header,
        );
        e.op(
            "resume_from_event",
            "Resume from an event id",
            &self.resume_from_event,
        );
        e.op(
            "seek_event",
            "Manager seek to the resume event",
            &self.seek_event,
        );
        e.op("next_event", "Sampled next() calls", &self.next_event);
        e.histogram(
            "next_event",
            "Sampled next() calls",
            &self.next_event_histogram,
        );
        e.histogram(
            "segment_handoff",
            "Segment handoffs",
            &self.segment_handoff_histogram,
        );
        e.counter(
            "histogram_samples_dropped_total",
            "Latency samples dropped because two threads recorded into one histogram at once",
            self.histogram_samples_dropped,
        );
        e.counter(
            "fallback_opens_total",
            "Synchronous segment opens (nothing preloaded)",
            self.fallback_opens,
        );
        e.counter(
            "events_delivered_total",
            "Events delivered to the caller",
            self.events_delivered,
        );
        e.counter(
            "bytes_delivered_total",
            "Event bytes delivered to the caller",
            self.bytes_delivered,
        );
        e.counter(
            "finished_ring_full_sync_closes_total",
            "Segments closed synchronously because the finished ring was full",
            self.finished_ring_full_sync_closes,
        );
        e.gauge(
            "segments",
            "Segments selected for replay",
            self.segments_total,
        );
        e.gauge(
            "segments_remaining",
            "Segments not yet started",
            self.segments_remaining,
        );
        e.gauge(
            "next_event_sample_every",
            "Sampling period N of next_event (one in N)",
            self.next_event_sample_every,
        );
        e.gauge(
            "replay_start_unix_ns",
            "Replay start, Unix time in ns (0 = not started)",
            self.replay_start_unix_ns,
        );
        e.gauge(
            "replay_elapsed_ns",
            "Monotonic replay duration in ns",
            self.replay_elapsed_ns,
        );
    }
}

impl TelemetrySnapshot {
    /// Emits all three components.
    pub fn collect(&self, prefix: &str, collector: &mut dyn Collector) {
        self.segment_reader.collect(prefix, collector);
        self.segment_preloader.collect(prefix, collector);
        self.manager.collect(prefix, collector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec(Vec<(String, &'static str, String, f64)>);

    impl Collector for Rec {
        fn counter(&mut self, name: &str, _: &str, labels: &[(&str, &str)], value: u64) {
            self.0
                .push((name.into(), "counter", format!("{labels:?}"), value as f64));
        }
        fn gauge(&mut self, name: &str, _: &str, labels: &[(&str, &str)], value: f64) {
            self.0
                .push((name.into(), "gauge", format!("{labels:?}"), value));
        }
        fn summary(&mut self, name: &str, _: &str, labels: &[(&str, &str)], h: &HistogramSummary) {
            self.0.push((
                name.into(),
                "summary",
                format!("{labels:?}"),
                h.count as f64,
            ));
        }
    }

    #[test]
    fn prefix_validation() {
        assert_eq!(validate_prefix("wal_recovery"), Ok(()));
        assert_eq!(validate_prefix(":a:b_9"), Ok(()));
        assert_eq!(validate_prefix(""), Err(PrefixError::Empty));
        assert_eq!(
            validate_prefix("9x"),
            Err(PrefixError::InvalidChar { index: 0, ch: '9' })
        );
        assert_eq!(
            validate_prefix("a-b"),
            Err(PrefixError::InvalidChar { index: 1, ch: '-' })
        );
        assert_eq!(validate_prefix("ie_"), Err(PrefixError::TrailingUnderscore));
        assert!(PrefixError::Empty.to_string().contains("empty"));
    }

    #[test]
    fn prefix_sanitizing() {
        assert_eq!(sanitize_prefix("wal_recovery"), "wal_recovery");
        assert_eq!(sanitize_prefix("ie_wal_recovery_"), "ie_wal_recovery");
        assert_eq!(sanitize_prefix("my-app.wal"), "my_app_wal");
        assert_eq!(sanitize_prefix("9lives"), "_9lives");
        assert_eq!(sanitize_prefix("a--b"), "a_b");
        assert_eq!(sanitize_prefix(""), DEFAULT_PREFIX);
        assert_eq!(sanitize_prefix("___"), DEFAULT_PREFIX);
        assert_eq!(sanitize_prefix("é"), DEFAULT_PREFIX);
        for p in ["x-y", "1", "a__", "ü:z"] {
            assert_eq!(validate_prefix(&sanitize_prefix(p)), Ok(()), "{p}");
        }
    }

    #[test]
    fn names_use_single_underscores_and_expected_shapes() {
        let mut s = TelemetrySnapshot::default();
        s.segment_reader.open_segment.samples = 3;
        s.segment_preloader.skipped_corrupt = 2;
        s.manager.segments_total = 7;
        let mut rec = Rec::default();
        s.collect("ie_wal_recovery_", &mut rec);
        for (name, _, _, _) in &rec.0 {
            assert!(!name.contains("__"), "{name}");
            assert!(name.starts_with("ie_wal_recovery_"), "{name}");
        }
        for (name, kind, _, _) in &rec.0 {
            assert_eq!(
                *kind == "counter",
                name.ends_with("_total"),
                "{name} is a {kind}"
            );
        }
        let find = |n: &str| {
            rec.0
                .iter()
                .find(|r| r.0 == n)
                .unwrap_or_else(|| panic!("{n}"))
        };
        assert_eq!(
            find("ie_wal_recovery_segment_reader_open_segment_samples_total").3,
            3.0
        );
        assert_eq!(find("ie_wal_recovery_manager_segments").3, 7.0);
        assert_eq!(
            find("ie_wal_recovery_manager_next_event_latency_ns").1,
            "summary"
        );
        let by_reason: Vec<_> = rec
            .0
            .iter()
            .filter(|r| r.0 == "ie_wal_recovery_segment_preloader_segments_skipped_by_reason_total")
            .map(|r| (r.2.clone(), r.3))
            .collect();
        assert_eq!(by_reason.len(), 3);
        assert!(by_reason.contains(&(
            r#"[("component", "segment_preloader"), ("reason", "corrupt")]"#.to_string(),
            2.0
        )));
        // 5 reader ops x 7 + 8 counters; 2 ops x 7 + 1 + 3 + 1; 4 ops x 7 + 2 x 3 + 5 + 5.
        assert_eq!(rec.0.len(), (35 + 8) + (14 + 5) + (28 + 6 + 5 + 5));
    }
}
