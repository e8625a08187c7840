//! `walrec bench --follow`: append → delivery latency of follow mode, with the writer in another
//! process, per idle strategy; the CPU an idle follower uses; and a follower started far behind
//! (default 2 GiB) catching up, compared with a plain replay of the same log.
//!
//! The writer is this executable re-run as the hidden `walrec bench-follow-writer`. For each
//! event it sleeps a seeded random 20–2000 µs (so that the follower is idle when the event
//! comes, and the back-off strategy is measured at every depth of its back-off), reads
//! `CLOCK_MONOTONIC` — one clock for every process of the host — puts it in the payload, appends
//! and flushes (`write(2)`). It reports what the flush cost. The follower subtracts the stamp
//! from `CLOCK_MONOTONIC` when the event is delivered: the figure includes the flush, the
//! follower's detection and verification, and any scheduling delay on this 2-core VM.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};
use wal_recovery::{IdleStrategy, Manager, Next, RecoveryOptions, Writer, WriterOptions};

use super::super::gen::{self, GenParams};
use crate::exit::{Failure, LibContext};
use crate::genpayload::SizeSpec;

/// Marks a payload as stamped by the timing writer (bytes 8..16).
const STAMP: &[u8; 8] = b"WALFOLLW";
/// Payload size of the timed events and of the catch-up log.
const PAYLOAD: usize = 64;
/// Idle time over which the follower's CPU is measured.
const IDLE_WINDOW: Duration = Duration::from_secs(2);
/// A follower waiting this long for an event the writer sent has failed.
const EVENT_LIMIT: Duration = Duration::from_secs(30);

/// Arguments of the hidden writer process.
#[derive(Debug, clap::Args)]
pub struct WriterArgs {
    /// Log directory (continued if it holds a log).
    pub dir: PathBuf,
    /// Events to append, one flush each.
    #[arg(long)]
    pub events: u64,
    /// Seed of the pauses between events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write; the calling thread's CPU clock always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The writer process: waits for a line on stdin, then appends and flushes `events` stamped
/// events, and prints `FLUSH <p50> <p99> <p999> <max>` (ns) before closing.
pub fn writer(a: WriterArgs) -> anyhow::Result<crate::exit::Outcome> {
    let mut w = Writer::open(&a.dir, WriterOptions::default()).ctx("bench writer: open log")?;
    println!("READY");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let mut flush = Histogram::<u64>::new(3)?;
    let mut x = a.seed | 1;
    let mut payload = [0u8; PAYLOAD];
    payload[8..16].copy_from_slice(STAMP);
    // Bytes 16..24: when the previous event's flush returned (0 for the first), so that the
    // follower can split its latency into the flush and what follows it.
    let mut prev_end = 0u64;
    for _ in 0..a.events {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_micros(20 + x % 1981));
        let t0 = monotonic_ns();
        payload[..8].copy_from_slice(&t0.to_le_bytes());
        payload[16..24].copy_from_slice(&prev_end.to_le_bytes());
        w.append(&payload).ctx("bench writer: append")?;
        w.flush().ctx("bench writer: flush")?;
        prev_end = monotonic_ns();
        flush.record(prev_end - t0)?;
    }
    println!(
        "FLUSH {} {} {} {}",
        flush.value_at_quantile(0.5),
        flush.value_at_quantile(0.99),
        flush.value_at_quantile(0.999),
        flush.max()
    );
    std::io::stdout().flush()?;
    w.close().ctx("bench writer: close")?;
    Ok(crate::exit::Outcome::Clean)
}

struct WriterProcess {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

fn spawn_writer(dir: &Path, events: u64, seed: u64) -> anyhow::Result<WriterProcess> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("bench-follow-writer")
        .arg(dir)
        .args(["--events", &events.to_string(), "--seed", &seed.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut p = WriterProcess { child, out };
    let line = p.line()?;
    if line != "READY" {
        anyhow::bail!("bench writer: expected READY, got {line:?}");
    }
    Ok(p)
}

impl WriterProcess {
    fn line(&mut self) -> anyhow::Result<String> {
        let mut s = String::new();
        self.out.read_line(&mut s)?;
        Ok(s.trim().to_string())
    }

    fn go(&mut self) -> anyhow::Result<()> {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        writeln!(stdin, "GO")?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits for the flush figures and the exit.
    fn finish(mut self) -> anyhow::Result<[u64; 4]> {
        let line = self.line()?;
        let v: Vec<u64> = line
            .strip_prefix("FLUSH ")
            .map(|r| r.split(' ').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        let st = self.child.wait()?;
        if !st.success() || v.len() != 4 {
            anyhow::bail!("bench writer failed ({st}): {line:?}");
        }
        Ok([v[0], v[1], v[2], v[3]])
    }
}

/// Latencies of one run: append -> delivery, and flush returned -> delivery.
struct Latency {
    total: Histogram<u64>,
    /// From the writer's `write(2)` returning to the delivery; 1 ns when the follower had the
    /// event before the writer's call returned (it is visible as soon as it is copied).
    after_write: Histogram<u64>,
}

impl Latency {
    fn new() -> anyhow::Result<Self> {
        Ok(Latency {
            total: Histogram::new(3)?,
            after_write: Histogram::new(3)?,
        })
    }
}

/// Follows until `events` stamped events are delivered, recording the latency of those sent at
/// or after `since` (CLOCK_MONOTONIC ns); returns how many were sent before it.
fn follow_stamped(
    m: &mut Manager,
    events: u64,
    since: u64,
    lat: &mut Latency,
) -> anyhow::Result<u64> {
    let (mut got, mut before) = (0, 0);
    // When the previous stamped event was delivered, if it was timed.
    let mut prev_delivered: Option<u64> = None;
    while got < events {
        match m.next_timeout(EVENT_LIMIT).ctx("bench: follow")? {
            Next::Event(e) => {
                if e.payload.get(8..16) == Some(STAMP.as_slice()) {
                    let now = monotonic_ns();
                    let word = |k: usize| {
                        u64::from_le_bytes(e.payload[k..k + 8].try_into().expect("8 bytes"))
                    };
                    let (sent, prev_end) = (word(0), word(16));
                    if let (Some(d), true) = (prev_delivered, prev_end != 0) {
                        lat.after_write.record(d.saturating_sub(prev_end).max(1))?;
                    }
                    prev_delivered = None;
                    if sent >= since {
                        lat.total.record(now.saturating_sub(sent).max(1))?;
                        prev_delivered = Some(now);
                    } else {
                        before += 1;
                    }
                    got += 1;
                }
            }
            Next::Pending => anyhow::bail!(
                "bench: no event for {EVENT_LIMIT:?} after {got} of {events} (segment {:?})",
                m.current_segment()
            ),
            Next::End => anyhow::bail!("bench: follow mode ended"),
        }
    }
    Ok(before)
}

fn put_latency(v: &mut Map<String, Value>, key: &str, l: &Latency) {
    let mut put = |name: String, h: &Histogram<u64>, q: f64| {
        v.insert(
            format!("follow_{key}_{name}_ns"),
            json!(h.value_at_quantile(q)),
        );
    };
    put("p50".into(), &l.total, 0.5);
    put("p99".into(), &l.total, 0.99);
    put("p999".into(), &l.total, 0.999);
    put("max".into(), &l.total, 1.0);
    put("after_write_p50".into(), &l.after_write, 0.5);
    put("after_write_p99".into(), &l.after_write, 0.99);
}

/// Runs the follow scenarios; returns the figures (JSON keys `follow_*`).
pub fn run(
    root: &Path,
    events: u64,
    catchup_bytes: u64,
    note: &dyn Fn(&str),
) -> anyhow::Result<Map<String, Value>> {
    let mut v = Map::new();
    v.insert("follow_events".into(), json!(events));
    v.insert("follow_payload_bytes".into(), json!(PAYLOAD));
    for (k, idle) in [
        IdleStrategy::BusySpin,
        IdleStrategy::SpinThenYield { spins: 100 },
        IdleStrategy::default(),
    ]
    .into_iter()
    .enumerate()
    {
        let key = idle.as_str();
        note(&format!(
            "follow: {key}, {events} events from a writer process"
        ));
        let dir = root.join(format!("follow-{key}"));
        let opts = RecoveryOptions {
            follow: true,
            idle,
            ..RecoveryOptions::default()
        };
        let mut m = Manager::open(&dir, opts).ctx("bench: open follower")?;
        let mut w = spawn_writer(&dir, events, 0x5EED + k as u64)?;
        w.go()?;
        let mut lat = Latency::new()?;
        follow_stamped(&mut m, events, 0, &mut lat)?;
        let flush = w.finish()?;
        put_latency(&mut v, key, &lat);
        if k == 0 {
            for (q, f) in ["p50", "p99", "p999", "max"].iter().zip(flush) {
                v.insert(format!("follow_writer_flush_{q}_ns"), json!(f));
            }
        }
        // Idle: the writer is gone; one wait of IDLE_WINDOW, its CPU time measured.
        let (cpu0, t0) = (thread_cpu_ns(), Instant::now());
        match m.next_timeout(IDLE_WINDOW).ctx("bench: idle follower")? {
            Next::Pending => {}
            other => anyhow::bail!("bench: idle follower got {other:?}"),
        }
        let pct = (thread_cpu_ns() - cpu0) as f64 / t0.elapsed().as_nanos() as f64 * 100.0;
        v.insert(format!("follow_{key}_idle_cpu_pct"), json!(pct));
    }
    catch_up(root, events, catchup_bytes, note, &mut v)?;
    Ok(v)
}

/// A follower started `bytes` behind a live writer: how fast it reaches the live end, against
/// a plain replay of the same log, and the busy-spin latency once there.
fn catch_up(
    root: &Path,
    events: u64,
    bytes: u64,
    note: &dyn Fn(&str),
    v: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    let dir = root.join("follow-catchup");
    let record = (4 + PAYLOAD).next_multiple_of(8) as u64;
    let behind = bytes / record;
    note(&format!(
        "follow: generating {behind} events ({bytes} bytes) to catch up on"
    ));
    let g = gen::generate(
        &dir,
        &GenParams {
            events: behind,
            spec: SizeSpec::fixed(PAYLOAD),
            writer: WriterOptions::default(),
            sync_every: 0,
        },
        false,
    )?;
    // Make the log durable now: otherwise the live writer's first fdatasync (creating its new
    // segment) forces a journal commit that writes the whole 2 GiB out (ext4, data=ordered),
    // stalling the writer for seconds inside the measurement.
    for entry in std::fs::read_dir(&dir)? {
        std::fs::File::open(entry?.path())?.sync_all()?;
    }
    // A plain replay of the same log, page cache warm: the speed to match.
    note("follow: plain replay of the catch-up log");
    let t = Instant::now();
    let mut m = Manager::open(&dir, RecoveryOptions::default()).ctx("bench: open log")?;
    let mut n = 0u64;
    while let Some(e) = m.next().ctx("bench: replay")? {
        n += 1;
        std::hint::black_box(e.payload[0]);
    }
    let replay_s = t.elapsed().as_secs_f64();
    drop(m);
    if n != behind {
        return Err(
            Failure::problem("bench", Some(dir), format!("replayed {n} of {behind}")).into(),
        );
    }
    note("follow: catch-up with the writer live");
    let mut w = spawn_writer(&dir, events, 0xCA7C)?;
    let opts = RecoveryOptions {
        follow: true,
        idle: IdleStrategy::BusySpin,
        ..RecoveryOptions::default()
    };
    let t = Instant::now();
    let mut m = Manager::open(&dir, opts).ctx("bench: open follower")?;
    w.go()?;
    let (mut old, mut early) = (0u64, 0u64);
    // When the last event written before the writer started was delivered: the rest of the
    // catch-up is the hand-over to the live tail.
    let mut last_old_s = 0.0;
    // The catch-up: every event written before the writer started, then the hand-over to the
    // live tail (stopping the preloader, unmapping the last segment), up to the first "nothing
    // yet". Live events met on the way waited for the catch-up; they are counted, not timed.
    loop {
        let pending = match m.poll().ctx("bench: catch-up")? {
            Next::Event(e) => {
                if e.payload.get(8..16) == Some(STAMP.as_slice()) {
                    early += 1;
                } else {
                    old += 1;
                    if old == behind {
                        last_old_s = t.elapsed().as_secs_f64();
                    }
                }
                false
            }
            Next::Pending => true,
            Next::End => anyhow::bail!("bench: follow mode ended"),
        };
        if pending {
            if old == behind && m.is_following() {
                break;
            }
            anyhow::bail!("bench: pending before the catch-up was done");
        }
    }
    let catch_s = t.elapsed().as_secs_f64();
    // Live events sent while the follower was catching up waited for it: counted, not timed.
    let caught_up = monotonic_ns();
    let mut lat = Latency::new()?;
    early += follow_stamped(&mut m, events - early, caught_up, &mut lat)?;
    w.finish()?;
    v.insert("follow_catchup_bytes".into(), json!(g.log_bytes));
    v.insert("follow_catchup_events".into(), json!(behind));
    v.insert("follow_catchup_seconds".into(), json!(catch_s));
    v.insert(
        "follow_catchup_gb_per_s".into(),
        json!(g.log_bytes as f64 / catch_s / 1e9),
    );
    v.insert(
        "follow_catchup_handover_seconds".into(),
        json!(catch_s - last_old_s),
    );
    v.insert("follow_replay_same_log_seconds".into(), json!(replay_s));
    v.insert(
        "follow_replay_same_log_gb_per_s".into(),
        json!(g.log_bytes as f64 / replay_s / 1e9),
    );
    v.insert("follow_catchup_vs_replay".into(), json!(replay_s / catch_s));
    v.insert(
        "follow_catchup_live_events_sent_during".into(),
        json!(early),
    );
    put_latency(v, "after_catchup_spin", &lat);
    Ok(())
}

/// The goals of the issue, as `(key, name, value, goal, met)`.
pub fn goals(v: &Map<String, Value>) -> Vec<(&'static str, &'static str, f64, &'static str, bool)> {
    let f = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let spin = f("follow_spin_p99_ns") / 1e3;
    let backoff = f("follow_backoff_p99_ns") / 1e3;
    let idle = f("follow_backoff_idle_cpu_pct");
    let ratio = f("follow_catchup_vs_replay");
    let after = f("follow_after_catchup_spin_p99_ns") / 1e3;
    vec![
        (
            "follow_spin_p99_us",
            "busy spin p99 (µs)",
            spin,
            "<= 10",
            spin <= 10.0,
        ),
        (
            "follow_backoff_p99_us",
            "back-off p99 (µs)",
            backoff,
            "<= 200",
            backoff <= 200.0,
        ),
        (
            "follow_backoff_idle_cpu_pct",
            "back-off idle CPU (% of a core)",
            idle,
            "<= 5",
            idle <= 5.0,
        ),
        (
            "follow_catchup_vs_replay",
            "catch-up / plain replay speed",
            ratio,
            ">= 0.8",
            ratio >= 0.8,
        ),
        (
            "follow_after_catchup_spin_p99_us",
            "busy spin p99 after the catch-up (µs)",
            after,
            "<= 10",
            after <= 10.0,
        ),
    ]
}

/// The figures as text: every key, then the goals.
pub fn render(v: &Map<String, Value>) -> String {
    let mut s = String::from("follow mode (writer in another process, flush per event)\n");
    for (k, x) in v {
        if k.starts_with("follow_") {
            s.push_str(&format!("  {k:<40} {x}\n"));
        }
    }
    s.push_str("goals\n");
    for (_, name, value, goal, met) in goals(v) {
        let mark = if met { "met" } else { "NOT met" };
        s.push_str(&format!(
            "  {name:<40} {value:>10.2}  goal {goal:<7} {mark}\n"
        ));
    }
    s
}
