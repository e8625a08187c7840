//! `walrec bench`: the project's performance scenarios, on a fresh log in a temporary directory.
//!
//! 1. end-to-end replay through the [`Manager`] (64-byte payloads, warm page cache): min /
//!    median M events/s and ns/event over several repetitions;
//! 2. [`SegmentReader::open`] + [`SegmentReader::verify`] of one segment vs a raw CRC32C pass over
//!    the same bytes (mapped here with memmap2) → throughput ratio of the medians of
//!    [`VERIFY_PAIRS`] alternated pairs (each 2–3 ms, so many cost little and steady the ratio);
//! 3. sequential [`SegmentReader::next`] over a verified segment: ns/event;
//! 4. segment handoff latency: the `next()` calls that cross a segment boundary, timed here
//!    with the time-stamp counter over about a thousand crossings (p50 / p90 / p99; the goal is
//!    judged on this p99); the floor of that measurement, an ordinary `next()` timed the same
//!    way and as rarely (once per segment, 500 events before its end); and the switch alone as
//!    the library's telemetry histogram records it;
//! 5. telemetry cost: replay throughput with the default next-event sampling vs sampling
//!    practically off (`u32::MAX`);
//! 6. directory scan: `Manager::open` on a log of 10 000 one-event segments;
//! 7. resume time to random ids;
//! 8. peak RSS during a replay (`VmHWM` from `/proc/self/status`);
//! 9. FlashStrike v1 replay ([`flashstrike`]): a FlashStrike log of the same events (64-byte
//!    `RequestEvent`s, 4096 blocks = 64 MiB per segment) replayed through the same `Manager`,
//!    interleaved with the native replays of (1), and its ratio to the native figure.
//!
//! The default log (20 M events, ≈ 1.4 GiB, plus ≈ 1.3 GiB for the FlashStrike one, removed
//! after its measurement) keeps the whole run well under two minutes on a two-core machine.
//! Smaller `--events` use smaller native segments so there are still several.
//!
//! Every log here is one the bench wrote itself, opened with default options (the format
//! recognised from its headers), so `bench` takes no `--format`. The text output is rendered by
//! [`text`] from the JSON object, so the two always agree.

use std::fs;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use wal_recovery::recovery::scan::scan_dir;
use wal_recovery::recovery::telemetry::Telemetry;
use wal_recovery::segment::BLOCK_ALIGN;
use wal_recovery::{Manager, RecoveryOptions, SegmentReader, WriterOptions};

use super::gen::{self, GenParams};
use crate::exit::{Failure, LibContext, Outcome};
use crate::genpayload::SizeSpec;
use crate::output;
use crate::telemetry_out;

mod flashstrike;
pub mod follow;
mod goal;
mod passes;
mod text;

use goal::Goal;
use passes::{handoff_pass, write_tiny_log};

/// Arguments of `walrec bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON object with a key per figure.
    #[arg(long)]
    pub json: bool,
    /// Events in the log (K/M suffixes allowed).
    #[arg(long, default_value = "20M", value_parser = super::count)]
    pub events: u64,
    /// Timed repetitions per scenario.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub reps: u32,
    /// One-event segments in the scan scenario.
    #[arg(long, default_value_t = 10_000, hide = true)]
    pub scan_segments: u64,
    /// Skip the FlashStrike v1 replay measurement (hidden: quicker runs).
    #[arg(long, hide = true)]
    pub no_flashstrike: bool,
    /// Measure follow mode instead (append -> delivery latency per idle strategy with the
    /// writer in another process, idle CPU, a catch-up from far behind).
    #[arg(long)]
    pub follow: bool,
    /// Follow mode: timed events per idle strategy.
    #[arg(long, default_value = "5000", value_parser = super::count)]
    pub follow_events: u64,
    /// Follow mode: how far behind the catch-up follower starts (K/M/G suffixes).
    #[arg(long, default_value = "2G", value_parser = super::size)]
    pub catchup_bytes: u64,
}

/// Payload size of every scenario.
const PAYLOAD: usize = 64;
/// Segment boundaries the handoff scenario aims to time.
const CROSSINGS: usize = 1000;
/// At most this many replays for the handoff scenario.
const MAX_HANDOFF_PASSES: usize = 40;
/// The handoff scenario's floor: an ordinary `next()` this many events before each boundary.
const FLOOR_OFFSET: u64 = 500;
/// Largest segment size used (the format's default).
const SEGMENT_BYTES: u64 = 64 << 20;
/// Timed open+verify / raw CRC pairs (after one that warms up).
const VERIFY_PAIRS: usize = 31;

/// Min, median and max of a sample.
#[derive(Clone, Copy, Debug)]
struct Stats {
    min: f64,
    median: f64,
    max: f64,
}

fn stats(v: &[f64]) -> Stats {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return Stats {
            min: 0.0,
            median: 0.0,
            max: 0.0,
        };
    }
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Stats {
        min: s[0],
        median,
        max: s[n - 1],
    }
}

/// Segment size for a log of `events`: 64 MiB, or smaller so that there are about 8 segments.
fn segment_bytes_for(events: u64) -> u64 {
    let log = events.saturating_mul(genpayload_record_size() as u64);
    if log >= 8 * SEGMENT_BYTES {
        SEGMENT_BYTES
    } else {
        (log / 8)
            .next_multiple_of(BLOCK_ALIGN as u64)
            .max(256 << 10)
    }
}

fn genpayload_record_size() -> usize {
    wal_recovery::segment::record_size(PAYLOAD)
}

/// One replay as an engine does it: `next()` per event, touching each payload.
struct Drain {
    events: u64,
    elapsed: Duration,
}

fn drain(
    dir: &Path,
    opts: RecoveryOptions,
    telemetry: Option<&Arc<Telemetry>>,
) -> anyhow::Result<(Drain, Manager)> {
    let telemetry = telemetry.map_or_else(|| Arc::new(Telemetry::new()), Arc::clone);
    let mut m = Manager::open_with_telemetry(dir, opts, telemetry).ctx("bench: open log")?;
    let mut events = 0u64;
    let mut acc = 0u64;
    let start = Instant::now();
    loop {
        match m.next() {
            Ok(Some(ev)) => {
                events += 1;
                acc = acc.wrapping_add(ev.payload.len() as u64 ^ u64::from(ev.payload[0]));
            }
            Ok(None) => break,
            Err(e) => return Err(Failure::lib("bench: replay", &e).into()),
        }
    }
    let elapsed = start.elapsed();
    black_box(acc);
    Ok((Drain { events, elapsed }, m))
}

/// `VmHWM` and `VmRSS` of this process, in KiB.
fn rss_kib() -> (Option<u64>, Option<u64>) {
    let Ok(s) = fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the peak RSS counter (Linux ≥ 4.0); false when not possible.
fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs `walrec bench`.
pub fn run(a: Args) -> anyhow::Result<Outcome> {
    let t_all = Instant::now();
    let reps = a.reps as usize;
    if a.events == 0 {
        return Err(Failure::usage("bench", "--events must be at least 1").into());
    }
    let tmp = tempfile::Builder::new()
        .prefix("walrec-bench-")
        .tempdir()
        .map_err(|e| {
            Failure::io(
                "bench: create temporary directory",
                &std::env::temp_dir(),
                &e,
            )
        })?;
    if a.follow {
        return run_follow(&a, tmp);
    }
    let log_dir = tmp.path().join("log");
    let tiny_dir = tmp.path().join("tiny");
    let fs_dir = tmp.path().join("flashstrike");
    let note = |s: &str| {
        if !a.json && output::progress_enabled() {
            eprintln!("bench: {s}");
        }
    };

    // The log.
    note(&format!(
        "generating {} events",
        output::thousands(a.events)
    ));
    let seg_bytes = segment_bytes_for(a.events);
    let p = GenParams {
        events: a.events,
        spec: SizeSpec::fixed(PAYLOAD),
        writer: WriterOptions {
            segment_bytes: seg_bytes,
            ..WriterOptions::default()
        },
        sync_every: 0,
    };
    let g = gen::generate(&log_dir, &p, !a.json)?;
    let mut v = Map::new();
    v.insert("events".into(), json!(a.events));
    v.insert("payload_bytes_per_event".into(), json!(PAYLOAD));
    v.insert("segments".into(), json!(g.segments));
    v.insert("segment_bytes".into(), json!(seg_bytes));
    v.insert("log_bytes".into(), json!(g.log_bytes));
    v.insert("reps".into(), json!(reps));
    v.insert("gen_seconds".into(), json!(g.elapsed.as_secs_f64()));

    // (8) Peak RSS during one replay (also warms the page cache and the code).
    note("peak RSS during replay");
    let (hwm_before, _) = rss_kib();
    let reset = reset_peak_rss();
    let (_, rss_start) = rss_kib();
    let (d, m) = drain(&log_dir, RecoveryOptions::default(), None)?;
    let (hwm_after, _) = rss_kib();
    drop(m);
    if d.events != a.events {
        return Err(Failure::problem(
            "bench",
            Some(log_dir.clone()),
            format!("replayed {} of {} events", d.events, a.events),
        )
        .into());
    }
    let mib = |k: Option<u64>| k.map(|k| k as f64 / 1024.0);
    v.insert(
        "peak_rss_before_mib".into(),
        json!(mib(if reset { rss_start } else { hwm_before })),
    );
    v.insert("peak_rss_after_mib".into(), json!(mib(hwm_after)));
    v.insert("peak_rss_reset".into(), json!(reset));

    // (9) The FlashStrike log of the same events, written and replayed once (warm).
    let fs_log = if a.no_flashstrike {
        None
    } else {
        note("generating the FlashStrike v1 log");
        let l = flashstrike::prepare(&fs_dir, a.events)?;
        v.insert("flashstrike_segments".into(), json!(l.segments));
        v.insert(
            "flashstrike_blocks_per_segment".into(),
            json!(flashstrike::BLOCKS_PER_SEGMENT),
        );
        v.insert("flashstrike_segment_bytes".into(), json!(l.segment_bytes));
        v.insert("flashstrike_log_bytes".into(), json!(l.log_bytes));
        v.insert("flashstrike_gen_seconds".into(), json!(l.gen_seconds));
        Some(l)
    };

    // (1) + (5) + (9) Replay throughput, telemetry sampling on (default) and off, and the
    // FlashStrike log, interleaved.
    note(if fs_log.is_some() {
        "replay throughput, telemetry on/off, FlashStrike v1"
    } else {
        "replay throughput, telemetry on/off"
    });
    let off = RecoveryOptions {
        next_event_sample_every: u32::MAX,
        ..RecoveryOptions::default()
    };
    let (mut on_meps, mut off_meps, mut on_ns) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fs_meps, mut fs_ns) = (Vec::new(), Vec::new());
    // One telemetry root for every sampled run: its handoff histogram gathers all of them.
    let on_telemetry = Arc::new(Telemetry::new());
    for rep in 0..reps {
        // On and off alternate which goes first: the replay after another one (or after the
        // FlashStrike log's) runs on a differently warmed machine, and a fixed order showed
        // as a bias between the two.
        for on_turn in [rep % 2 == 0, rep % 2 != 0] {
            if on_turn {
                let (d, m) = drain(&log_dir, RecoveryOptions::default(), Some(&on_telemetry))?;
                on_meps.push(d.events as f64 / d.elapsed.as_secs_f64() / 1e6);
                on_ns.push(d.elapsed.as_nanos() as f64 / d.events as f64);
                drop(m);
            } else {
                let (d, m) = drain(&log_dir, off.clone(), None)?;
                off_meps.push(d.events as f64 / d.elapsed.as_secs_f64() / 1e6);
                drop(m);
            }
        }
        if fs_log.is_some() {
            let (d, m) = flashstrike::replay(&fs_dir)?;
            fs_meps.push(d.events as f64 / d.elapsed.as_secs_f64() / 1e6);
            fs_ns.push(d.elapsed.as_nanos() as f64 / d.events as f64);
            drop(m);
        }
    }
    if fs_log.is_some() {
        // Not needed by the other scenarios: free the disk and the page cache now.
        fs::remove_dir_all(&fs_dir)
            .map_err(|e| Failure::io("bench: remove directory", &fs_dir, &e))?;
    }
    let on = stats(&on_meps);
    let offs = stats(&off_meps);
    let ns = stats(&on_ns);
    v.insert("replay_meps_min".into(), json!(on.min));
    v.insert("replay_meps_median".into(), json!(on.median));
    v.insert("replay_meps_max".into(), json!(on.max));
    v.insert("replay_ns_per_event_median".into(), json!(ns.median));
    v.insert("replay_ns_per_event_max".into(), json!(ns.max));
    v.insert(
        "replay_gbps_median".into(),
        json!(on.median * 1e6 * PAYLOAD as f64 / 1e9),
    );
    // Each rep's on and off replays ran back to back: the median of their ratios leaves out
    // the host's drift between reps, which the ratio of the two medians keeps.
    let pairs: Vec<f64> = on_meps.iter().zip(&off_meps).map(|(a, b)| a / b).collect();
    let tel_ratio = stats(&pairs).median;
    v.insert("telemetry_on_meps_median".into(), json!(on.median));
    v.insert("telemetry_off_meps_median".into(), json!(offs.median));
    v.insert("telemetry_ratio".into(), json!(tel_ratio));
    let fs_figures = (!fs_meps.is_empty()).then(|| {
        let (m, n) = (stats(&fs_meps), stats(&fs_ns));
        (m, n, m.median / on.median)
    });
    if let Some((m, n, ratio)) = fs_figures {
        v.insert("flashstrike_replay_meps_min".into(), json!(m.min));
        v.insert("flashstrike_replay_meps_median".into(), json!(m.median));
        v.insert("flashstrike_replay_meps_max".into(), json!(m.max));
        v.insert(
            "flashstrike_replay_ns_per_event_median".into(),
            json!(n.median),
        );
        v.insert("flashstrike_native_ratio".into(), json!(ratio));
    }

    // (4) Handoff latency: the library's histogram (all sampled runs above) when it has
    // samples, and always also timed here around the next() calls that cross a boundary.
    note("segment handoff latency");
    let new_hist = || {
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
            .map_err(|e| anyhow::anyhow!("bench: histogram: {e}"))
    };
    let (mut own, mut floor) = (new_hist()?, new_hist()?);
    // About a thousand crossings, so that the p99 is a percentile and not the second-largest
    // of a few samples (a 2 GiB log has 32 boundaries per pass).
    let passes = if g.segments > 1 {
        (CROSSINGS / (g.segments - 1)).clamp(1, MAX_HANDOFF_PASSES)
    } else {
        1
    };
    for _ in 0..passes {
        handoff_pass(&log_dir, &mut own, &mut floor)?;
    }
    let own_pct = (
        own.value_at_quantile(0.5),
        own.value_at_quantile(0.99),
        own.len(),
        own.value_at_quantile(0.9),
    );
    v.insert("handoff_walrec_p50_ns".into(), json!(own_pct.0));
    v.insert("handoff_walrec_p90_ns".into(), json!(own_pct.3));
    v.insert("handoff_walrec_p99_ns".into(), json!(own_pct.1));
    v.insert("handoff_walrec_samples".into(), json!(own_pct.2));
    v.insert("handoff_walrec_passes".into(), json!(passes));
    let floor_pct = (
        floor.value_at_quantile(0.5),
        floor.value_at_quantile(0.99),
        floor.len(),
    );
    v.insert("handoff_floor_p50_ns".into(), json!(floor_pct.0));
    v.insert("handoff_floor_p99_ns".into(), json!(floor_pct.1));
    v.insert("handoff_floor_samples".into(), json!(floor_pct.2));
    let (h50, h99, hn, source) = match telemetry_out::handoff(&on_telemetry) {
        Some((n, p50, p99)) => (p50, p99, n, "telemetry"),
        None => (own_pct.0, own_pct.1, own_pct.2, "walrec"),
    };
    v.insert("handoff_p50_ns".into(), json!(h50));
    v.insert("handoff_p99_ns".into(), json!(h99));
    v.insert("handoff_samples".into(), json!(hn));
    v.insert("handoff_source".into(), json!(source));
    let next_ev = telemetry_out::next_event(&on_telemetry);
    v.insert(
        "next_event_sampled_p50_ns".into(),
        json!(next_ev.map(|x| x.1)),
    );
    v.insert(
        "next_event_sampled_p99_ns".into(),
        json!(next_ev.map(|x| x.2)),
    );
    v.insert("next_event_samples".into(), json!(next_ev.map(|x| x.0)));

    // (2) verify vs raw CRC32C, and (3) SegmentReader::next, on the first (full-size) segment.
    note("segment verify vs raw CRC32C, SegmentReader::next");
    let first_seg: PathBuf = {
        let m = Manager::open(&log_dir, RecoveryOptions::default()).ctx("bench: open log")?;
        m.scan()
            .segments()
            .first()
            .map(|f| f.path.clone())
            .ok_or_else(|| anyhow::anyhow!("bench: the log has no segment"))?
    };
    let seg_len = fs::metadata(&first_seg)
        .map_err(|e| Failure::io("bench: stat", &first_seg, &e))?
        .len();
    let (mut t_verify, mut t_crc) = (Vec::new(), Vec::new());
    for i in 0..=VERIFY_PAIRS {
        let t = Instant::now();
        let mut r = SegmentReader::open(&first_seg).ctx("bench: open segment")?;
        r.verify();
        let dv = t.elapsed();
        black_box(r.event_count());
        drop(r);
        let t = Instant::now();
        let f =
            fs::File::open(&first_seg).map_err(|e| Failure::io("bench: open", &first_seg, &e))?;
        // SAFETY: read-only map of a file in our own temporary directory that nobody modifies.
        let map = unsafe { memmap2::Mmap::map(&f) }
            .map_err(|e| Failure::io("bench: mmap", &first_seg, &e))?;
        let crc = wal_recovery::segment::checksum::crc32c(&map);
        let dc = t.elapsed();
        black_box(crc);
        drop(map);
        if i > 0 {
            // the first round only warms up
            t_verify.push(dv.as_secs_f64());
            t_crc.push(dc.as_secs_f64());
        }
    }
    let (sv, sc) = (stats(&t_verify), stats(&t_crc));
    let ratio = sc.median / sv.median;
    v.insert("verify_segment_bytes".into(), json!(seg_len));
    v.insert("verify_ms_median".into(), json!(sv.median * 1e3));
    v.insert("crc_ms_median".into(), json!(sc.median * 1e3));
    v.insert(
        "verify_gbps".into(),
        json!(seg_len as f64 / sv.median / 1e9),
    );
    v.insert("crc_gbps".into(), json!(seg_len as f64 / sc.median / 1e9));
    v.insert("verify_crc_ratio".into(), json!(ratio));

    let mut reader = SegmentReader::open_verified(&first_seg).ctx("bench: open segment")?;
    let mut next_ns = Vec::new();
    for i in 0..=reps {
        reader.rewind();
        let mut n = 0u64;
        let mut acc = 0u64;
        let t = Instant::now();
        while let Some(ev) = reader.next().ctx("bench: SegmentReader::next")? {
            n += 1;
            acc = acc.wrapping_add(ev.payload.len() as u64 ^ u64::from(ev.payload[0]));
        }
        let d = t.elapsed();
        black_box(acc);
        if i > 0 && n > 0 {
            next_ns.push(d.as_nanos() as f64 / n as f64);
        }
    }
    let segment_events = reader.event_count();
    drop(reader);
    let sn = stats(&next_ns);
    v.insert("next_events".into(), json!(segment_events));
    v.insert("next_ns_per_event_median".into(), json!(sn.median));
    v.insert("next_ns_per_event_min".into(), json!(sn.min));

    // (7) Resume to random ids.
    note("resume to random ids");
    let mut m = Manager::open(&log_dir, RecoveryOptions::default()).ctx("bench: open log")?;
    let mut resume_ms = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..(4 * reps).max(10) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = 1 + x % a.events;
        let t = Instant::now();
        m.resume(id).ctx("bench: resume")?;
        let first = m.next().ctx("bench: next after resume")?.map(|e| e.id);
        resume_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if first != Some(id) {
            return Err(Failure::problem(
                "bench: resume",
                Some(log_dir.clone()),
                format!("resumed at {id}, got {first:?}"),
            )
            .into());
        }
    }
    drop(m);
    let sr = stats(&resume_ms);
    v.insert("resume_samples".into(), json!(resume_ms.len()));
    v.insert("resume_ms_median".into(), json!(sr.median));
    v.insert("resume_ms_max".into(), json!(sr.max));

    // (6) Directory scan of many tiny segments.
    note(&format!("scan of {} one-event segments", a.scan_segments));
    fs::create_dir_all(&tiny_dir)
        .map_err(|e| Failure::io("bench: create directory", &tiny_dir, &e))?;
    write_tiny_log(&tiny_dir, a.scan_segments)?;
    let (mut scan_ms, mut scan_only_ms) = (Vec::new(), Vec::new());
    for i in 0..=reps {
        let t = Instant::now();
        let m = Manager::open(&tiny_dir, RecoveryOptions::default()).ctx("bench: open tiny log")?;
        let d = t.elapsed();
        if i == 0 && m.scan().usable as u64 != a.scan_segments {
            return Err(Failure::problem(
                "bench: scan",
                Some(tiny_dir.clone()),
                format!("{} usable segments of {}", m.scan().usable, a.scan_segments),
            )
            .into());
        }
        drop(m);
        // The header scan alone (what Manager::open does before opening the first segment).
        let t = Instant::now();
        let scan = scan_dir(&tiny_dir, &Telemetry::new()).ctx("bench: scan tiny log")?;
        let ds = t.elapsed();
        black_box(scan.usable);
        if i > 0 {
            scan_ms.push(d.as_secs_f64() * 1e3);
            scan_only_ms.push(ds.as_secs_f64() * 1e3);
        }
    }
    let ss = stats(&scan_ms);
    v.insert("scan_segments".into(), json!(a.scan_segments));
    v.insert("scan_ms_min".into(), json!(ss.min));
    v.insert("scan_ms_median".into(), json!(ss.median));
    let so = stats(&scan_only_ms);
    v.insert("scan_dir_only_ms_median".into(), json!(so.median));
    // The tiny log replays clean (checks the hand-written segments and times the worst case of
    // one handoff per event).
    let (d, m) = drain(&tiny_dir, RecoveryOptions::default(), None)?;
    let tiny_clean = m.report().is_clean() && d.events == a.scan_segments;
    drop(m);
    v.insert(
        "scan_log_replay_ms".into(),
        json!(d.elapsed.as_secs_f64() * 1e3),
    );
    v.insert("scan_log_replay_clean".into(), json!(tiny_clean));

    let mut goals = vec![
        Goal::at_least(
            "replay_meps_median",
            "replay throughput (median)",
            on.median,
            "M events/s",
            250.0,
        ),
        Goal::at_least(
            "verify_crc_ratio",
            "verify / raw CRC32C throughput",
            ratio,
            "",
            0.8,
        ),
        Goal::at_most(
            "next_ns_per_event_median",
            "SegmentReader::next",
            sn.median,
            "ns/event",
            5.0,
        ),
        Goal::at_most(
            "handoff_walrec_p99_ns",
            "segment handoff p99 (crossing next())",
            own_pct.1 as f64 / 1e3,
            "µs",
            1.0,
        ),
        Goal::at_least(
            "telemetry_ratio",
            "telemetry on / off throughput (paired runs)",
            tel_ratio,
            "",
            0.95,
        ),
        Goal::at_most(
            "scan_ms_median",
            "open a log of 10 000 segments",
            ss.median,
            "ms",
            100.0,
        ),
    ];
    if let Some((m, _, ratio)) = fs_figures {
        goals.push(Goal::at_least(
            "flashstrike_replay_meps_median",
            "FlashStrike v1 replay throughput (median)",
            m.median,
            "M events/s",
            200.0,
        ));
        goals.push(Goal::at_least(
            "flashstrike_native_ratio",
            "FlashStrike v1 / native replay throughput",
            ratio,
            "",
            0.9,
        ));
    }
    let goals_json: Map<String, Value> = goals
        .iter()
        .map(|g| (g.key.to_string(), json!({ "goal": g.goal, "met": g.met })))
        .collect();
    v.insert("goals".into(), Value::Object(goals_json));
    v.insert("all_goals_met".into(), json!(goals.iter().all(|g| g.met)));
    let total = t_all.elapsed().as_secs_f64();
    v.insert("total_seconds".into(), json!(total));
    tmp.close()
        .map_err(|e| Failure::io("bench: remove temporary directory", Path::new("."), &e))?;

    let mut out = output::stdout();
    if a.json {
        output::put(&mut out, &format!("{}\n", Value::Object(v)))?;
    } else {
        output::put(&mut out, &text::render(&v, &goals, a.scan_segments))?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(Outcome::Clean)
}

/// `walrec bench --follow`: the follow-mode figures alone (see [`follow`]).
fn run_follow(a: &Args, tmp: tempfile::TempDir) -> anyhow::Result<Outcome> {
    if a.follow_events == 0 {
        return Err(Failure::usage("bench", "--follow-events must be at least 1").into());
    }
    let json = a.json;
    let note = |s: &str| {
        if !json && output::progress_enabled() {
            eprintln!("bench: {s}");
        }
    };
    let mut v = follow::run(tmp.path(), a.follow_events, a.catchup_bytes, &note)?;
    let goals = follow::goals(&v);
    let goals_json: Map<String, Value> = goals
        .iter()
        .map(|g| (g.0.to_string(), json!({ "goal": g.3, "met": g.4 })))
        .collect();
    v.insert("goals".into(), Value::Object(goals_json));
    v.insert("all_goals_met".into(), json!(goals.iter().all(|g| g.4)));
    tmp.close()
        .map_err(|e| Failure::io("bench: remove temporary directory", Path::new("."), &e))?;
    let mut out = output::stdout();
    if a.json {
        output::put(&mut out, &format!("{}\n", Value::Object(v)))?;
    } else {
        output::put(&mut out, &follow::render(&v))?;
    }
    std::io::Write::flush(&mut out)?;
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_segment_sizes() {
        let s = stats(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 10.0));
        assert_eq!(segment_bytes_for(20_000_000), 64 << 20);
        let small = segment_bytes_for(200_000);
        assert!((256 << 10..64 << 20).contains(&small) && small.is_multiple_of(64));
    }
}
