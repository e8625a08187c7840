//! Human-readable dump of telemetry snapshots (the original's `dump(label, os)`).
//!
//! Format of one component:
//!
//! ```text
//! [<label> Metrics] Snapshot:
//! -----------------------------------------------------------------
//!  Open segment                   : samples=3 ok=2 fail=1 total=1.50 ms min=... max=... avg=...
//!  Bytes verified                 : 64.00 MiB
//!  Next event histogram           : count=... min=... mean=... max=...
//!  -> Latency Percentiles: p50=... p90=... p99=... p99.9=... p99.99=... max=...
//! -----------------------------------------------------------------
//! ```
//!
//! The root dump prints a dash line, `[<label>] WAL Recovery Telemetry:`, a
//! dash line, then the components labelled "Segment Reader", "Segment
//! Preloader" and "Manager". Durations pick ns/µs/ms/s and sizes B/KiB/MiB/GiB
//! automatically ([`Ns`], [`Bytes`]). Dumping works on snapshots, so the live
//! metrics are read exactly once per dump.

use std::fmt::{self, Display, Write};

use super::snapshot::{
    HistogramSummary, ManagerSnapshot, OpSnapshot, SegmentPreloaderSnapshot, SegmentReaderSnapshot,
    TelemetrySnapshot,
};

/// The 65-dash framing line.
pub const DASH_LINE: &str = "-----------------------------------------------------------------";

const NAME_WIDTH: usize = 31;

/// Formats a nanosecond value as `N ns`, `N.NN µs`, `N.NN ms` or `N.NN s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ns(pub u64);

/// Formats a byte count as `N B`, `N.NN KiB`, `N.NN MiB` or `N.NN GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

/// Writes `value / scale` with 2 decimals in the largest unit whose scale is
/// <= value, moving up one unit when rounding would print 1000.00 / 1024.00.
fn scaled(
    f: &mut fmt::Formatter<'_>,
    value: u64,
    base: &str,
    units: &[(u64, &str)],
) -> fmt::Result {
    let mut pick: Option<(u64, &str)> = None;
    for (i, &(scale, unit)) in units.iter().enumerate() {
        if value >= scale {
            pick = Some((scale, unit));
            continue;
        }
        // Rounding up into this unit? (e.g. 999_999 ns prints 1.00 ms)
        let rounds_up = match pick {
            Some((prev, _)) => {
                let next_ratio = (scale / prev) as f64;
                (value as f64 / prev as f64 * 100.0).round() / 100.0 >= next_ratio
            }
            None => false,
        };
        if rounds_up {
            pick = Some(units[i]);
        }
        break;
    }
    match pick {
        None => write!(f, "{value} {base}"),
        Some((scale, unit)) => write!(f, "{:.2} {unit}", value as f64 / scale as f64),
    }
}

impl Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        scaled(
            f,
            self.0,
            "ns",
            &[(1_000, "µs"), (1_000_000, "ms"), (1_000_000_000, "s")],
        )
    }
}

impl Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        scaled(
            f,
            self.0,
            "B",
            &[(1 << 10, "KiB"), (1 << 20, "MiB"), (1 << 30, "GiB")],
        )
    }
}

fn op_line<W: Write + ?Sized>(out: &mut W, name: &str, s: &OpSnapshot) -> fmt::Result {
    writeln!(
        out,
        " {name:<NAME_WIDTH$}: samples={} ok={} fail={} total={} min={} max={} avg={}",
        s.samples,
        s.ok,
        s.fail,
        Ns(s.total_ns),
        Ns(s.min_ns),
        Ns(s.max_ns),
        Ns(s.avg_ns)
    )
}

fn value_line<W: Write + ?Sized>(out: &mut W, name: &str, value: impl Display) -> fmt::Result {
    writeln!(out, " {name:<NAME_WIDTH$}: {value}")
}

fn histogram_lines<W: Write + ?Sized>(
    out: &mut W,
    name: &str,
    h: &HistogramSummary,
) -> fmt::Result {
    writeln!(
        out,
        " {name:<NAME_WIDTH$}: count={} min={} mean={} max={}",
        h.count,
        Ns(h.min),
        Ns(h.mean),
        Ns(h.max)
    )?;
    writeln!(
        out,
        " -> Latency Percentiles: p50={} p90={} p99={} p99.9={} p99.99={} max={}",
        Ns(h.p50),
        Ns(h.p90),
        Ns(h.p99),
        Ns(h.p999),
        Ns(h.p9999),
        Ns(h.max)
    )
}

fn framed<W: Write + ?Sized>(
    out: &mut W,
    label: &str,
    body: impl FnOnce(&mut W) -> fmt::Result,
) -> fmt::Result {
    writeln!(out, "[{label} Metrics] Snapshot:")?;
    writeln!(out, "{DASH_LINE}")?;
    body(out)?;
    writeln!(out, "{DASH_LINE}")
}

impl SegmentReaderSnapshot {
    /// Writes the framed per-metric report.
    pub fn dump<W: Write + ?Sized>(&self, label: &str, out: &mut W) -> fmt::Result {
        framed(out, label, |out| {
            op_line(out, "Open segment", &self.open_segment)?;
            op_line(out, "Close segment", &self.close_segment)?;
            op_line(out, "Verify segment", &self.verify_segment)?;
            op_line(out, "Build index", &self.build_index)?;
            op_line(out, "Seek event", &self.seek_event)?;
            value_line(
                out,
                "Header checksum failures",
                self.header_checksum_failures,
            )?;
            value_line(
                out,
                "Block header checksum failures",
                self.block_header_checksum_failures,
            )?;
            value_line(out, "Block checksum failures", self.block_checksum_failures)?;
            value_line(
                out,
                "Chained checksum failures",
                self.chained_checksum_failures,
            )?;
            value_line(out, "Validation failures", self.validation_failures)?;
            value_line(out, "Open failures", self.open_failures)?;
            value_line(out, "Torn tails", self.torn_tails)?;
            value_line(out, "Bytes verified", Bytes(self.bytes_verified))
        })
    }
}

impl SegmentPreloaderSnapshot {
    /// Writes the framed per-metric report.
    pub fn dump<W: Write + ?Sized>(&self, label: &str, out: &mut W) -> fmt::Result {
        framed(out, label, |out| {
            op_line(out, "Preload segment", &self.preload_segment)?;
            op_line(out, "Finish segment", &self.finish_segment)?;
            value_line(
                out,
                "Segments skipped",
                format_args!(
                    "{} (bad_header={} corrupt={} io={})",
                    self.segments_skipped,
                    self.skipped_bad_header,
                    self.skipped_corrupt,
                    self.skipped_io
                ),
            )?;
            value_line(
                out,
                "Prepared ring full wait",
                Ns(self.prepared_ring_full_wait_ns),
            )
        })
    }
}

impl ManagerSnapshot {
    /// Writes the framed per-metric report.
    pub fn dump<W: Write + ?Sized>(&self, label: &str, out: &mut W) -> fmt::Result {
        framed(out, label, |out| {
            op_line(out, "Read segment header", &self.read_segment_header)?;
            op_line(out, "Resume from event", &self.resume_from_event)?;
            op_line(out, "Seek event", &self.seek_event)?;
            op_line(out, "Next event (sampled)", &self.next_event)?;
            histogram_lines(out, "Next event histogram", &self.next_event_histogram)?;
            histogram_lines(
                out,
                "Segment handoff histogram",
                &self.segment_handoff_histogram,
            )?;
            value_line(
                out,
                "Histogram samples dropped",
                self.histogram_samples_dropped,
            )?;
            value_line(out, "Fallback opens", self.fallback_opens)?;
            value_line(out, "Events delivered", self.events_delivered)?;
            value_line(out, "Bytes delivered", Bytes(self.bytes_delivered))?;
            value_line(
                out,
                "Finished ring full sync closes",
                self.finished_ring_full_sync_closes,
            )?;
            value_line(out, "Segments total", self.segments_total)?;
            value_line(out, "Segments remaining", self.segments_remaining)?;
            value_line(out, "Next event sample every", self.next_event_sample_every)?;
            value_line(out, "Replay start (unix ns)", self.replay_start_unix_ns)?;
            value_line(out, "Replay elapsed", Ns(self.replay_elapsed_ns))
        })
    }
}

impl TelemetrySnapshot {
    /// Writes the root header and the three component reports.
    pub fn dump<W: Write + ?Sized>(&self, label: &str, out: &mut W) -> fmt::Result {
        writeln!(out, "{DASH_LINE}")?;
        writeln!(out, "[{label}] WAL Recovery Telemetry:")?;
        writeln!(out, "{DASH_LINE}")?;
        self.segment_reader.dump("Segment Reader", out)?;
        self.segment_preloader.dump("Segment Preloader", out)?;
        self.manager.dump("Manager", out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_units() {
        let cases = [
            (0, "0 ns"),
            (999, "999 ns"),
            (1_000, "1.00 µs"),
            (1_500, "1.50 µs"),
            (999_994, "999.99 µs"),
            (999_999, "1.00 ms"),
            (12_345_678, "12.35 ms"),
            (1_000_000_000, "1.00 s"),
            (90_000_000_000, "90.00 s"),
        ];
        for (ns, want) in cases {
            assert_eq!(Ns(ns).to_string(), want, "{ns} ns");
        }
    }

    #[test]
    fn byte_units() {
        let cases = [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.00 KiB"),
            (1536, "1.50 KiB"),
            (64 << 20, "64.00 MiB"),
            ((1 << 20) - 1, "1.00 MiB"),
            (3 << 30, "3.00 GiB"),
            (5000 << 30, "5000.00 GiB"),
        ];
        for (b, want) in cases {
            assert_eq!(Bytes(b).to_string(), want, "{b} B");
        }
    }
}
