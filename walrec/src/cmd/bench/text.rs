//! The human rendering of `walrec bench`: a header line, then one table of the goals and the
//! other figures. It reads every figure from the JSON object the run built, so the text and
//! `--json` can never disagree.

use serde_json::{Map, Value};

use super::{Goal, PAYLOAD};
use crate::output::{self, Table};

/// The whole text output of a run.
pub fn render(v: &Map<String, Value>, goals: &[Goal], scan_segments: u64) -> String {
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let us = |k: &str| f(k) / 1e3;
    let mut s = format!(
        "walrec bench: {} events x {} B, {} segments of {}, {} on disk; {} reps; {:.1} s in all\n",
        output::thousands(u("events")),
        PAYLOAD,
        u("segments"),
        output::bytes(u("segment_bytes")),
        output::bytes(u("log_bytes")),
        u("reps"),
        f("total_seconds")
    );
    if v.contains_key("flashstrike_segments") {
        s.push_str(&format!(
            "FlashStrike v1 log: the same events as 64-byte RequestEvents, {} segments of {} \
             ({} blocks), {} on disk\n",
            u("flashstrike_segments"),
            output::bytes(u("flashstrike_segment_bytes")),
            u("flashstrike_blocks_per_segment"),
            output::bytes(u("flashstrike_log_bytes")),
        ));
    }
    s.push('\n');
    let mut t = Table::new(&["FIGURE", ">VALUE", "UNIT", "GOAL", "MET"]);
    for g in goals {
        t.row(vec![
            g.name.into(),
            format!("{:.2}", g.value),
            g.unit.into(),
            g.goal.clone(),
            (if g.met { "yes" } else { "NO" }).into(),
        ]);
    }
    let next_ev = match (
        v.get("next_event_sampled_p50_ns").and_then(Value::as_u64),
        v.get("next_event_sampled_p99_ns").and_then(Value::as_u64),
    ) {
        (Some(p50), Some(p99)) => format!("{p50} / {p99}"),
        _ => "-".into(),
    };
    let source = v
        .get("handoff_source")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut extra: Vec<(String, String, &str)> = vec![
        (
            "replay throughput (min)".into(),
            format!("{:.2}", f("replay_meps_min")),
            "M events/s",
        ),
        (
            "replay ns/event (median)".into(),
            format!("{:.2}", f("replay_ns_per_event_median")),
            "ns/event",
        ),
        (
            "replay payload throughput (median)".into(),
            format!("{:.2}", f("replay_gbps_median")),
            "GB/s",
        ),
    ];
    if v.contains_key("flashstrike_replay_meps_median") {
        extra.push((
            "FlashStrike v1 replay throughput (min)".into(),
            format!("{:.2}", f("flashstrike_replay_meps_min")),
            "M events/s",
        ));
        extra.push((
            "FlashStrike v1 replay ns/event (median)".into(),
            format!("{:.2}", f("flashstrike_replay_ns_per_event_median")),
            "ns/event",
        ));
    }
    extra.extend([
        (
            "segment verify".into(),
            format!("{:.2}", f("verify_gbps")),
            "GB/s",
        ),
        ("raw CRC32C".into(), format!("{:.2}", f("crc_gbps")), "GB/s"),
        (
            format!(
                "crossing next() p50 / p90 ({} samples)",
                u("handoff_walrec_samples")
            ),
            format!(
                "{:.2} / {:.2}",
                us("handoff_walrec_p50_ns"),
                us("handoff_walrec_p90_ns")
            ),
            "µs",
        ),
        (
            format!(
                "ordinary next() timed alike p50 / p99 ({} samples)",
                u("handoff_floor_samples")
            ),
            format!(
                "{:.2} / {:.2}",
                us("handoff_floor_p50_ns"),
                us("handoff_floor_p99_ns")
            ),
            "µs",
        ),
        (
            format!(
                "switch alone p50 / p99 ({source}, {} samples)",
                u("handoff_samples")
            ),
            format!("{:.2} / {:.2}", us("handoff_p50_ns"), us("handoff_p99_ns")),
            "µs",
        ),
        (
            "next() latency p50 / p99 (telemetry, sampled)".into(),
            next_ev,
            "ns",
        ),
        (
            "replay with telemetry off (median)".into(),
            format!("{:.2}", f("telemetry_off_meps_median")),
            "M events/s",
        ),
        (
            "open a log of 10 000 segments (min)".into(),
            format!("{:.2}", f("scan_ms_min")),
            "ms",
        ),
        (
            "header scan alone, 10 000 segments (median)".into(),
            format!("{:.2}", f("scan_dir_only_ms_median")),
            "ms",
        ),
        (
            "resume to a random id (median)".into(),
            format!("{:.2}", f("resume_ms_median")),
            "ms",
        ),
        (
            "resume to a random id (max)".into(),
            format!("{:.2}", f("resume_ms_max")),
            "ms",
        ),
        (
            "peak RSS before replay".into(),
            format!("{:.1}", f("peak_rss_before_mib")),
            "MiB",
        ),
        (
            "peak RSS after replay".into(),
            format!("{:.1}", f("peak_rss_after_mib")),
            "MiB",
        ),
        (
            "gen (Writer)".into(),
            format!("{:.2}", f("events") / f("gen_seconds") / 1e6),
            "M events/s",
        ),
    ]);
    if v.contains_key("flashstrike_gen_seconds") {
        extra.push((
            "gen (FlashStrike write_log)".into(),
            format!("{:.2}", f("events") / f("flashstrike_gen_seconds") / 1e6),
            "M events/s",
        ));
    }
    for (name, value, unit) in extra {
        t.row(vec![name, value, unit.into(), "-".into(), "".into()]);
    }
    s.push_str(&t.render());
    if scan_segments != 10_000 {
        s.push_str(&format!(
            "(scan figures measured with {scan_segments} segments)\n"
        ));
    }
    s
}
