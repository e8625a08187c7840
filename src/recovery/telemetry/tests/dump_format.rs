//! Exact dump format (header and framing lines, units, percentiles).

use super::super::dump::DASH_LINE;
use super::super::{
    HistogramSummary, ManagerSnapshot, OpSnapshot, SegmentPreloaderSnapshot, SegmentReaderSnapshot,
    Telemetry, TelemetrySnapshot,
};

fn op(samples: u64, fail: u64, min: u64, max: u64, total: u64) -> OpSnapshot {
    OpSnapshot {
        samples,
        ok: samples - fail,
        fail,
        total_ns: total,
        min_ns: min,
        max_ns: max,
        avg_ns: total / samples.max(1),
    }
}

fn sample_snapshot() -> TelemetrySnapshot {
    TelemetrySnapshot {
        segment_reader: SegmentReaderSnapshot {
            open_segment: op(3, 1, 12_000, 40_000, 70_000),
            close_segment: op(2, 0, 150_000, 250_000, 400_000),
            verify_segment: op(2, 0, 3_600_000, 4_400_000, 8_000_000),
            build_index: op(1, 0, 800, 800, 800),
            seek_event: op(1, 0, 180, 180, 180),
            header_checksum_failures: 1,
            block_header_checksum_failures: 2,
            block_checksum_failures: 3,
            chained_checksum_failures: 4,
            validation_failures: 5,
            open_failures: 1,
            torn_tails: 6,
            bytes_verified: 128 << 20,
        },
        segment_preloader: SegmentPreloaderSnapshot {
            preload_segment: op(4, 1, 4_000_000, 6_000_000, 20_000_000),
            finish_segment: op(0, 0, 0, 0, 0),
            segments_skipped: 3,
            skipped_bad_header: 1,
            skipped_corrupt: 1,
            skipped_io: 1,
            prepared_ring_full_wait_ns: 2_500_000_000,
        },
        manager: ManagerSnapshot {
            read_segment_header: op(5, 1, 2_000, 9_000, 20_000),
            resume_from_event: op(1, 0, 5_000_000, 5_000_000, 5_000_000),
            seek_event: op(1, 0, 200, 200, 200),
            next_event: op(1000, 0, 25, 4_000, 40_000),
            next_event_histogram: HistogramSummary {
                count: 1000,
                sum: 40_000,
                min: 25,
                max: 4_000,
                mean: 40,
                p50: 31,
                p90: 35,
                p99: 90,
                p999: 1_500,
                p9999: 4_000,
            },
            segment_handoff_histogram: HistogramSummary::default(),
            histogram_samples_dropped: 0,
            fallback_opens: 2,
            events_delivered: 1_024_000,
            bytes_delivered: 65_536_000,
            finished_ring_full_sync_closes: 0,
            segments_total: 8,
            segments_remaining: 3,
            next_event_sample_every: 1024,
            replay_start_unix_ns: 1_700_000_000_000_000_000,
            replay_elapsed_ns: 1_234_567_890,
        },
    }
}

const EXPECTED: &str = "\
-----------------------------------------------------------------
[replay-1] WAL Recovery Telemetry:
-----------------------------------------------------------------
[Segment Reader Metrics] Snapshot:
-----------------------------------------------------------------
 Open segment                   : samples=3 ok=2 fail=1 total=70.00 µs min=12.00 µs max=40.00 µs avg=23.33 µs
 Close segment                  : samples=2 ok=2 fail=0 total=400.00 µs min=150.00 µs max=250.00 µs avg=200.00 µs
 Verify segment                 : samples=2 ok=2 fail=0 total=8.00 ms min=3.60 ms max=4.40 ms avg=4.00 ms
 Build index                    : samples=1 ok=1 fail=0 total=800 ns min=800 ns max=800 ns avg=800 ns
 Seek event                     : samples=1 ok=1 fail=0 total=180 ns min=180 ns max=180 ns avg=180 ns
 Header checksum failures       : 1
 Block header checksum failures : 2
 Block checksum failures        : 3
 Chained checksum failures      : 4
 Validation failures            : 5
 Open failures                  : 1
 Torn tails                     : 6
 Bytes verified                 : 128.00 MiB
-----------------------------------------------------------------
[Segment Preloader Metrics] Snapshot:
-----------------------------------------------------------------
 Preload segment                : samples=4 ok=3 fail=1 total=20.00 ms min=4.00 ms max=6.00 ms avg=5.00 ms
 Finish segment                 : samples=0 ok=0 fail=0 total=0 ns min=0 ns max=0 ns avg=0 ns
 Segments skipped               : 3 (bad_header=1 corrupt=1 io=1)
 Prepared ring full wait        : 2.50 s
-----------------------------------------------------------------
[Manager Metrics] Snapshot:
-----------------------------------------------------------------
 Read segment header            : samples=5 ok=4 fail=1 total=20.00 µs min=2.00 µs max=9.00 µs avg=4.00 µs
 Resume from event              : samples=1 ok=1 fail=0 total=5.00 ms min=5.00 ms max=5.00 ms avg=5.00 ms
 Seek event                     : samples=1 ok=1 fail=0 total=200 ns min=200 ns max=200 ns avg=200 ns
 Next event (sampled)           : samples=1000 ok=1000 fail=0 total=40.00 µs min=25 ns max=4.00 µs avg=40 ns
 Next event histogram           : count=1000 min=25 ns mean=40 ns max=4.00 µs
 -> Latency Percentiles: p50=31 ns p90=35 ns p99=90 ns p99.9=1.50 µs p99.99=4.00 µs max=4.00 µs
 Segment handoff histogram      : count=0 min=0 ns mean=0 ns max=0 ns
 -> Latency Percentiles: p50=0 ns p90=0 ns p99=0 ns p99.9=0 ns p99.99=0 ns max=0 ns
 Histogram samples dropped      : 0
 Fallback opens                 : 2
 Events delivered               : 1024000
 Bytes delivered                : 62.50 MiB
 Finished ring full sync closes : 0
 Segments total                 : 8
 Segments remaining             : 3
 Next event sample every        : 1024
 Replay start (unix ns)         : 1700000000000000000
 Replay elapsed                 : 1.23 s
-----------------------------------------------------------------
";

#[test]
fn root_dump_matches_the_reference_text_exactly() {
    let mut out = String::new();
    sample_snapshot().dump("replay-1", &mut out).unwrap();
    assert_eq!(out, EXPECTED, "got:\n{out}");
}

#[test]
fn framing_lines() {
    assert_eq!(DASH_LINE.len(), 65);
    assert!(DASH_LINE.chars().all(|c| c == '-'));
    let mut out = String::new();
    Telemetry::new().dump("L", &mut out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..6], [
        DASH_LINE,
        "[L] WAL Recovery Telemetry:",
        DASH_LINE,
        "[Segment Reader Metrics] Snapshot:",
        DASH_LINE,
        " Open segment                   : samples=0 ok=0 fail=0 total=0 ns min=0 ns max=0 ns avg=0 ns",
    ]);
    assert_eq!(*lines.last().unwrap(), DASH_LINE);
    let headers: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.ends_with("Snapshot:"))
        .collect();
    assert_eq!(
        headers,
        [
            "[Segment Reader Metrics] Snapshot:",
            "[Segment Preloader Metrics] Snapshot:",
            "[Manager Metrics] Snapshot:",
        ]
    );
    // Each component: header, dash, body..., dash.
    for (i, l) in lines.iter().enumerate() {
        if l.ends_with("Snapshot:") {
            assert_eq!(lines[i + 1], DASH_LINE);
            assert_eq!(lines[i - 1], DASH_LINE);
        }
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with(" -> Latency Percentiles: p50="))
            .count(),
        2
    );

    let mut one = String::new();
    Telemetry::new().manager.dump("Manager", &mut one).unwrap();
    assert!(one.starts_with(&format!("[Manager Metrics] Snapshot:\n{DASH_LINE}\n")));
    assert!(one.ends_with(&format!("{DASH_LINE}\n")));
}
