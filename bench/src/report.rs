//! Measured figures and their rendering: markdown tables for people, one JSON object for
//! tools (every figure reachable by key: `systems.<name>.median_s`, `limits.crc32c_gb_s_median`,
//! `cold.raw_read.<data_key>.gb_s_median`, ...).
//!
//! Units: seconds; M events/s = 1e6 events/s; payload MB/s counts payload bytes only with
//! MB = 1e6 B; GB/s uses GB = 1e9 B. "max" throughputs come from the min time.

use std::{fmt::Write as _, path::PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::{candidate::Candidate, limits::Limits, systems::Kind};

/// Min and median of a set of timings (seconds).
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub samples_s: Vec<f64>,
    pub min_s: f64,
    pub median_s: f64,
}

impl Stats {
    /// Summarises `samples` (must be non-empty).
    pub fn new(samples: Vec<f64>) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median_s = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            samples_s: samples,
            min_s: sorted[0],
            median_s,
        }
    }
}

/// Per-event rates derived from [`Stats`].
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    pub m_events_s_max: f64,
    pub m_events_s_median: f64,
    pub ns_per_event_min: f64,
    pub ns_per_event_median: f64,
    pub payload_mb_s_max: f64,
    pub payload_mb_s_median: f64,
}

impl Throughput {
    /// Rates for `events` events carrying `payload_bytes` bytes in total.
    pub fn new(s: &Stats, events: u64, payload_bytes: u64) -> Throughput {
        let (e, b) = (events as f64, payload_bytes as f64);
        Throughput {
            m_events_s_max: e / s.min_s / 1e6,
            m_events_s_median: e / s.median_s / 1e6,
            ns_per_event_min: s.min_s * 1e9 / e,
            ns_per_event_median: s.median_s * 1e9 / e,
            payload_mb_s_max: b / s.min_s / 1e6,
            payload_mb_s_median: b / s.median_s / 1e6,
        }
    }
}

/// Warm (page-cache) replay of one system.
#[derive(Clone, Debug, Serialize)]
pub struct SystemResult {
    pub name: String,
    pub kind: Kind,
    pub data_key: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Stats>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    /// Fastest peer's median time / this median time (> 1 = faster than every peer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_vs_fastest_peer: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One on-disk log, written once and replayed by every system sharing its `data_key`.
#[derive(Clone, Debug, Serialize)]
pub struct DataSet {
    pub data_key: String,
    pub written_by: String,
    pub write_s: f64,
    pub on_disk_bytes: u64,
    pub files: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Cold raw sequential `read()` of one data set's files.
#[derive(Clone, Debug, Serialize)]
pub struct ColdRead {
    pub data_key: String,
    pub bytes: u64,
    pub files: usize,
    #[serde(flatten)]
    pub stats: Stats,
    pub gb_s_max: f64,
    pub gb_s_median: f64,
    /// Highest fraction of pages still cached right after an eviction (expect 0).
    pub resident_after_evict_max: f64,
}

/// Cold (evicted) replay of one system.
#[derive(Clone, Debug, Serialize)]
pub struct ColdReplay {
    pub name: String,
    pub data_key: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Stats>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything one harness run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub events: u64,
    pub payload_size: usize,
    pub reps: usize,
    /// Whether a CPU hog kept one core busy during the run (`--busy-core`).
    pub busy_core: bool,
    pub payload_bytes: u64,
    pub systems: Vec<SystemResult>,
    pub datasets: Vec<DataSet>,
    pub limits: Result<Limits, String>,
    /// Empty when the cold section was skipped.
    pub cold_reads: Vec<ColdRead>,
    pub cold_replays: Vec<ColdReplay>,
    pub charts: Vec<PathBuf>,
    /// Where the logs were left, when kept.
    pub data_dir: Option<PathBuf>,
    /// wal_recovery's limits, ratios, goals, handoff and verify figures (when it ran).
    pub candidate: Option<Candidate>,
}

impl Report {
    /// Systems (name, error) that failed to write, replay, or verify.
    pub fn failures(&self) -> Vec<(String, String)> {
        let warm = self.systems.iter().filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| (s.name.clone(), format!("warm: {e}")))
        });
        let cold = self.cold_replays.iter().filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| (s.name.clone(), format!("cold: {e}")))
        });
        let limits = self
            .limits
            .as_ref()
            .err()
            .map(|e| ("limits".into(), e.clone()));
        warm.chain(cold).chain(limits).collect()
    }

    /// The whole report as one JSON object.
    pub fn to_json(&self) -> Value {
        let keyed =
            |items: Vec<(String, Value)>| Value::Object(items.into_iter().collect::<Map<_, _>>());
        json!({
            "config": {
                "events": self.events,
                "payload_size": self.payload_size,
                "reps": self.reps,
                "busy_core": self.busy_core,
                "payload_bytes": self.payload_bytes,
            },
            "systems": keyed(self.systems.iter().map(|s| (s.name.clone(), val(s))).collect()),
            "data": keyed(self.datasets.iter().map(|d| (d.data_key.clone(), val(d))).collect()),
            "limits": match &self.limits {
                Ok(l) => val(l),
                Err(e) => json!({ "error": e }),
            },
            "cold": {
                "raw_read": keyed(self.cold_reads.iter().map(|c| (c.data_key.clone(), val(c))).collect()),
                "replay": keyed(self.cold_replays.iter().map(|c| (c.name.clone(), val(c))).collect()),
            },
            "wal_recovery": self.candidate.as_ref().map(val),
            "charts": self.charts,
            "data_dir": self.data_dir,
        })
    }

    /// Markdown tables: warm replay, writes, machine limits, cold cache.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "## Warm replay (page cache): {} events x {} B payload, {} reps{}\n",
            self.events,
            self.payload_size,
            self.reps,
            if self.busy_core {
                ", one core kept busy by a CPU hog (--busy-core)"
            } else {
                ""
            }
        );
        s.push_str(
            "M ev/s, ns/ev and MB/s are from the median time. \"vs fastest peer\" = fastest \
             peer's median / this median (>1 = faster).\n\n",
        );
        s.push_str("| system | min s | median s | M ev/s | ns/ev | MB/s | vs fastest peer |\n");
        s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for r in &self.systems {
            // No peer in this run (`--only`): nothing to compare with.
            let vs_peer = r
                .speed_vs_fastest_peer
                .map_or_else(|| "-".to_string(), |x| format!("{x:.2}x"));
            replay_row(
                &mut s,
                &r.name,
                (&r.replay, &r.throughput),
                r.error.as_deref(),
                Some(&vs_peer),
            );
        }

        s.push_str("\n## Writes (secondary; include the final sync)\n\n");
        s.push_str("| data set | written by | write s | on disk MB | files |\n");
        s.push_str("|---|---|---:|---:|---:|\n");
        for d in &self.datasets {
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.1} | {} |{}",
                d.data_key,
                d.written_by,
                d.write_s,
                d.on_disk_bytes as f64 / 1e6,
                d.files,
                d.error
                    .as_ref()
                    .map(|e| format!(" FAILED: {}", e.replace('|', "/")))
                    .unwrap_or_default()
            );
        }

        s.push_str("\n## Machine limits (same run, baseline file, map already faulted)\n\n");
        match &self.limits {
            Ok(l) => {
                s.push_str("| figure | bytes | min s | median s | GB/s (max / median) |\n");
                s.push_str("|---|---:|---:|---:|---:|\n");
                let _ = writeln!(
                    s,
                    "| memory read (sum u64 over mmap) | {} | {} | {} | {:.2} / {:.2} |",
                    l.bytes,
                    secs(l.mem_read.min_s),
                    secs(l.mem_read.median_s),
                    l.mem_read_gb_s_max,
                    l.mem_read_gb_s_median
                );
                let _ = writeln!(
                    s,
                    "| CRC32C (crc-fast, whole map) | {} | {} | {} | {:.2} / {:.2} |",
                    l.bytes,
                    secs(l.crc32c.min_s),
                    secs(l.crc32c.median_s),
                    l.crc32c_gb_s_max,
                    l.crc32c_gb_s_median
                );
            }
            Err(e) => {
                let _ = writeln!(s, "FAILED: {e}");
            }
        }

        if !self.cold_reads.is_empty() || !self.cold_replays.is_empty() {
            s.push_str(
                "\n## Cold cache (fdatasync + POSIX_FADV_DONTNEED before every rep)\n\n\
                 Raw read = read() of the data set's files with a page-aligned 1 MiB buffer.\n\n",
            );
            s.push_str("| raw read of | bytes | files | min s | median s | GB/s (max / median) | resident after evict |\n");
            s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
            for c in &self.cold_reads {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {:.2} / {:.2} | {:.1} % |",
                    c.data_key,
                    c.bytes,
                    c.files,
                    secs(c.stats.min_s),
                    secs(c.stats.median_s),
                    c.gb_s_max,
                    c.gb_s_median,
                    c.resident_after_evict_max * 100.0
                );
            }
            s.push_str("\n| cold replay | min s | median s | M ev/s | ns/ev | MB/s |\n");
            s.push_str("|---|---:|---:|---:|---:|---:|\n");
            for c in &self.cold_replays {
                replay_row(
                    &mut s,
                    &c.name,
                    (&c.replay, &c.throughput),
                    c.error.as_deref(),
                    None,
                );
            }
        }
        if let Some(c) = &self.candidate {
            s.push('\n');
            s.push_str(&candidate_markdown(c));
        }
        s
    }
}

/// The wal_recovery section: limits, ratios, goals, cold ratio, handoff, segment verify.
pub fn candidate_markdown(c: &Candidate) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## wal_recovery against the limits and the other systems\n\n\
         Same run, same events. Its log: {} segment files, {} bytes. Ratios are other median \
         time / wal_recovery median time (x = times faster); \"best\" uses min times.\n",
        c.segment_files, c.segment_bytes
    );
    match (&c.limits, &c.limits_error) {
        (Some(l), _) => {
            s.push_str("| limit over wal_recovery's segment files (maps faulted beforehand) | bytes | files | min s | median s | GB/s (max / median) |\n");
            s.push_str("|---|---:|---:|---:|---:|---:|\n");
            let _ = writeln!(
                s,
                "| memory read (sum u64) | {} | {} | {} | {} | {:.2} / {:.2} |",
                l.bytes,
                l.files,
                secs(l.mem_read.min_s),
                secs(l.mem_read.median_s),
                l.mem_read_gb_s_max,
                l.mem_read_gb_s_median
            );
            let _ = writeln!(
                s,
                "| CRC32C (one call per file) | {} | {} | {} | {} | {:.2} / {:.2} |\n",
                l.bytes,
                l.files,
                secs(l.crc32c.min_s),
                secs(l.crc32c.median_s),
                l.crc32c_gb_s_max,
                l.crc32c_gb_s_median
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(s, "Limits over the segment files FAILED: {e}\n");
        }
        (None, None) => {}
    }
    if !c.rows.is_empty() {
        s.push_str(
            "| candidate | median s | M ev/s | segment GB/s | of memory read | of CRC32C |\n",
        );
        s.push_str("|---|---:|---:|---:|---:|---:|\n");
        for r in &c.rows {
            let pct = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.0} %", v * 100.0));
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.2} | {} | {} |",
                r.name,
                secs(r.median_s),
                r.m_events_s_median,
                r.segment_gb_s_median,
                pct(r.frac_of_mem_read),
                pct(r.frac_of_crc32c)
            );
        }
        let others: Vec<&str> = c.rows[0].vs.iter().map(|v| v.name.as_str()).collect();
        s.push_str("\n| candidate vs (median) |");
        for o in &others {
            let _ = write!(s, " {o} |");
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(others.len()));
        s.push('\n');
        for r in &c.rows {
            let _ = write!(s, "| {} |", r.name);
            for v in &r.vs {
                let _ = write!(s, " {:.2}x |", v.ratio);
            }
            s.push('\n');
        }
    }

    if !c.goals.is_empty() {
        let _ = writeln!(
            s,
            "\n### Goals (judged on `{}`, median)\n",
            c.primary.as_deref().unwrap_or("-")
        );
        s.push_str("| goal | target | measured (median) | best (min) | met | note |\n");
        s.push_str("|---|---:|---:|---:|---|---|\n");
        for g in &c.goals {
            let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
            let met = match g.met {
                Some(true) => "yes".to_string(),
                Some(false) => match g.measured {
                    Some(m) => format!("**no** ({:.0} % of target)", m / g.target * 100.0),
                    None => "**no**".into(),
                },
                None => "n/a".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                g.goal,
                g.target,
                f(g.measured),
                f(g.measured_best),
                met,
                g.note
            );
        }
    }

    if !c.cold.is_empty() {
        s.push_str("\n### Cold cache: replay vs raw read() of the same files\n\n");
        s.push_str("| candidate | cold replay median s | raw read median s | ratio (median) | ratio (min) |\n");
        s.push_str("|---|---:|---:|---:|---:|\n");
        for r in &c.cold {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.2} |",
                r.name,
                secs(r.replay_median_s),
                secs(r.raw_read_median_s),
                r.ratio,
                r.ratio_best
            );
        }
    }

    s.push_str("\n### Segment handoff latency (telemetry HDR histogram, Rust-API replays)\n\n");
    s.push_str("| phase | handoffs | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | fallback opens | sync closes |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let us = |ns: u64| format!("{:.1}", ns as f64 / 1e3);
    let mut phases = vec![("warm", &c.warm)];
    if let Some(p) = &c.cold_phase {
        phases.push(("cold", p));
    }
    for (label, p) in &phases {
        let h = &p.handoff;
        let _ = writeln!(
            s,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
            h.count,
            us(h.p50_ns),
            us(h.p90_ns),
            us(h.p99_ns),
            us(h.p999_ns),
            us(h.max_ns),
            p.fallback_opens,
            p.finished_ring_full_sync_closes
        );
    }
    s.push_str("\n| phase | system | replays | segments replayed | fallback opens (report) | sync closes | unclean |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for (label, p) in &phases {
        for (name, r) in &p.reports {
            let _ = writeln!(
                s,
                "| {label} | {name} | {} | {} | {} | {} | {} |",
                r.replays, r.segments_replayed, r.fallback_opens, r.sync_closes, r.unclean
            );
        }
    }
    s.push_str("\n| phase | segment verify (count, avg ms, max ms) | preload open+verify (count, avg ms) | segment open (avg µs) | segment close (avg µs) |\n");
    s.push_str("|---|---|---|---:|---:|\n");
    for (label, p) in &phases {
        let ms = |ns: u64| ns as f64 / 1e6;
        let _ = writeln!(
            s,
            "| {label} | {}, {:.2}, {:.2} | {}, {:.2} | {:.1} | {:.1} |",
            p.verify_segment.samples,
            ms(p.verify_segment.avg_ns),
            ms(p.verify_segment.max_ns),
            p.preload_segment.samples,
            ms(p.preload_segment.avg_ns),
            p.open_segment.avg_ns as f64 / 1e3,
            p.close_segment.avg_ns as f64 / 1e3
        );
    }

    if let Some(b) = &c.budget {
        let ms = |v: f64| format!("{:.2}", v * 1e3);
        let pct = |v: f64| format!("{:.0} %", v / b.replay_median_s * 100.0);
        let _ = writeln!(
            s,
            "\n### Where a warm replay's time goes (telemetry, per Rust-API replay, against the \
             `{}` median of {} ms)\n",
            c.primary.as_deref().unwrap_or("-"),
            ms(b.replay_median_s)
        );
        s.push_str("| part | ms | of replay |\n|---|---:|---:|\n");
        let _ = writeln!(
            s,
            "| directory scan (segment headers) | {} | {} |",
            ms(b.scan_s),
            pct(b.scan_s)
        );
        let _ = writeln!(
            s,
            "| Manager::open positioning: first segment open (+ verify when done up front), seek, preloader start (replay thread) | {} | {} |",
            ms(b.first_segment_open_verify_s),
            pct(b.first_segment_open_verify_s)
        );
        let _ = writeln!(
            s,
            "| segment handoffs (sum) | {} | {} |",
            ms(b.handoffs_s),
            pct(b.handoffs_s)
        );
        let _ = writeln!(
            s,
            "| rest: delivery loop ({:.2} ns/event) | {} | {} |",
            b.rest_ns_per_event,
            ms(b.rest_s),
            pct(b.rest_s)
        );
        let _ = writeln!(
            s,
            "| (segment verify, all threads, overlapping the above) | {} | {} |",
            ms(b.verify_all_threads_s),
            pct(b.verify_all_threads_s)
        );
    }

    match (&c.segment_verify, &c.segment_verify_error) {
        (Some(v), _) => {
            let _ = writeln!(
                s,
                "\n### Segment open+verify vs raw CRC32C ({} bytes, {} events, {} reps)\n",
                v.bytes,
                v.events,
                v.open_verified.samples_s.len()
            );
            s.push_str("| figure | min ms | median ms | GB/s (median) | raw / this (median) |\n");
            s.push_str("|---|---:|---:|---:|---:|\n");
            let row = |s: &mut String, name: &str, st: &Stats, gb: f64, ratio: &str| {
                let _ = writeln!(
                    s,
                    "| {name} | {:.3} | {:.3} | {gb:.2} | {ratio} |",
                    st.min_s * 1e3,
                    st.median_s * 1e3
                );
            };
            row(
                &mut s,
                "SegmentReader::open_verified",
                &v.open_verified,
                v.open_verified_gb_s_median,
                "",
            );
            row(
                &mut s,
                "fresh mmap + crc32c (raw pass)",
                &v.fresh_map_crc32c,
                v.fresh_map_crc32c_gb_s_median,
                &format!("{:.2}", v.ratio_vs_fresh_map_crc),
            );
            row(
                &mut s,
                "crc32c over a faulted map",
                &v.faulted_map_crc32c,
                v.faulted_map_crc32c_gb_s_median,
                &format!("{:.2}", v.ratio_vs_faulted_map_crc),
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(s, "\nSegment open+verify FAILED: {e}");
        }
        (None, None) => {}
    }
    if let Some(p) = &c.handoff_chart {
        let _ = writeln!(s, "\nHandoff chart: {}", p.display());
    }
    s
}

/// Seconds with 4 significant digits.
/// One row of a replay table: name, min and median seconds, M ev/s, ns/ev, MB/s and, for the
/// warm table, one more cell; or the failure spanning the same columns.
fn replay_row(
    s: &mut String,
    name: &str,
    (replay, throughput): (&Option<Stats>, &Option<Throughput>),
    error: Option<&str>,
    extra: Option<&str>,
) {
    let extra_cell = extra.map_or_else(String::new, |x| format!(" {x} |"));
    match (replay, throughput) {
        (Some(st), Some(t)) => {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.1} | {:.0} |{extra_cell}",
                name,
                secs(st.min_s),
                secs(st.median_s),
                t.m_events_s_median,
                t.ns_per_event_median,
                t.payload_mb_s_median,
            );
        }
        _ => {
            let blank = if extra.is_some() { " |" } else { "" };
            let _ = writeln!(
                s,
                "| {} | FAILED: {} | | | | |{blank}",
                name,
                error.unwrap_or("?").replace('|', "/")
            );
        }
    }
}

fn secs(v: f64) -> String {
    let decimals = if v > 0.0 {
        (3 - v.log10().floor() as i32).clamp(0, 9) as usize
    } else {
        3
    };
    format!("{v:.decimals$}")
}

fn val<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_min_median() {
        let s = Stats::new(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.min_s, s.median_s), (1.0, 2.0));
        let s = Stats::new(vec![4.0, 1.0, 2.0, 3.0]);
        assert_eq!((s.min_s, s.median_s), (1.0, 2.5));
        let t = Throughput::new(&Stats::new(vec![0.5]), 1_000_000, 64_000_000);
        assert_eq!(t.m_events_s_median, 2.0);
        assert_eq!(t.ns_per_event_median, 500.0);
        assert_eq!(t.payload_mb_s_median, 128.0);
        assert_eq!(secs(1.16749), "1.167");
        assert_eq!(secs(0.0233), "0.02330");
    }
}
