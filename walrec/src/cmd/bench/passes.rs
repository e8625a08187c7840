//! The two `walrec bench` scenarios that need their own loop or their own log: timing the
//! `next()` calls that cross segment boundaries (and their floor), and writing the directory of
//! many one-event segments the scan scenario opens. Kept apart from the driver in `bench.rs`,
//! which only sequences the scenarios and collects their figures.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use hdrhistogram::Histogram;
use wal_recovery::recovery::telemetry::ticks::TickClock;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::header::SegmentHeader;
use wal_recovery::segment::{naming, record, BLOCK_ALIGN, CHAIN_SEED, HEADER_BYTES};
use wal_recovery::{Manager, RecoveryOptions};

use super::FLOOR_OFFSET;
use crate::exit::{Failure, LibContext};
use crate::genpayload::{self, SizeSpec};

/// Replays once, timing every `next()` call that crosses into a new segment into `hist`, and,
/// as the floor of that measurement, one ordinary `next()` `FLOOR_OFFSET` events before each
/// boundary into `floor`: timed the same way, just as rarely, but doing no switch.
///
/// Timed with the library's [`TickClock`] (the time-stamp counter where it is invariant, as
/// the switch's own telemetry is), converted once the pass is over. Not `Instant::now()`: after
/// 64 MiB of streaming, `clock_gettime` misses on the kernel's clock data, and the timer's
/// own misses were in every figure: the floor's p50 was 0.32 µs with `Instant` and is
/// 0.04–0.05 µs with the counter; the crossing's p50 / p99 went from 0.45–0.65 / 1.07–1.11 to
/// 0.43–0.51 / 0.94–1.00 µs (two runs each, `walrec bench --events 30000000 --reps 3`,
/// builds alternated).
pub fn handoff_pass(
    dir: &Path,
    hist: &mut Histogram<u64>,
    floor: &mut Histogram<u64>,
) -> anyhow::Result<()> {
    let mut m = Manager::open(dir, RecoveryOptions::default()).ctx("bench: open log")?;
    let mut firsts: Vec<u64> = m
        .scan()
        .segments()
        .iter()
        .filter_map(|f| f.header.map(|h| h.first_event_id))
        .collect();
    firsts.sort_unstable();
    let firsts_len = firsts.len();
    let mut boundaries = firsts.into_iter().skip(1);
    let mut next_boundary = boundaries.next().unwrap_or(u64::MAX);
    let mut expect = m.report().start_event_id;
    let mut acc = 0u64;
    let clock = TickClock::new();
    // Ticks of each timed call (crossing or not), converted once the pass is over.
    let mut timed: Vec<(bool, u64)> = Vec::with_capacity(2 * firsts_len);
    loop {
        let crossing = expect == next_boundary;
        let ordinary = !crossing && expect.checked_add(FLOOR_OFFSET) == Some(next_boundary);
        let t = (crossing || ordinary).then(|| clock.now());
        let r = m.next();
        if let Some(t) = t {
            timed.push((crossing, clock.now().saturating_sub(t)));
            if crossing {
                next_boundary = boundaries.next().unwrap_or(u64::MAX);
            }
        }
        match r {
            Ok(Some(ev)) => {
                acc = acc.wrapping_add(u64::from(ev.payload[0]));
                expect = ev.id + 1;
            }
            Ok(None) => break,
            Err(e) => return Err(Failure::lib("bench: replay", &e).into()),
        }
    }
    black_box(acc);
    for (crossing, ticks) in timed {
        let ns = clock.to_ns(ticks).0.max(1);
        let _ = if crossing {
            hist.record(ns)
        } else {
            floor.record(ns)
        };
    }
    Ok(())
}

/// Writes `n` sealed one-event segments (the format written directly, no fsync per file).
pub fn write_tiny_log(dir: &Path, n: u64) -> anyhow::Result<()> {
    let mut chain = CHAIN_SEED;
    let spec = SizeSpec::fixed(8);
    let mut buf = Vec::with_capacity(256);
    for seq in 1..=n {
        let id = seq;
        let mut block = Vec::with_capacity(16);
        record::encode_into(&mut block, &genpayload::payload(id, spec));
        let bh = BlockHeader::for_payload(0, id, 1, &block, chain);
        let h = SegmentHeader {
            version: wal_recovery::segment::header::FORMAT_VERSION_1,
            log_id: 0,
            sealed: true,
            block_count: 1,
            sequence: seq,
            first_event_id: id,
            last_event_id: id,
            event_count: 1,
            created_unix_ns: 0,
            prev_chain: chain,
            last_chain: bh.chain,
        };
        buf.clear();
        buf.extend_from_slice(&h.encode());
        buf.extend_from_slice(&bh.encode());
        buf.extend_from_slice(&block);
        buf.resize(
            HEADER_BYTES + (HEADER_BYTES + block.len()).next_multiple_of(BLOCK_ALIGN),
            0,
        );
        let path = dir.join(naming::file_name(seq));
        fs::write(&path, &buf).map_err(|e| Failure::io("bench: write segment", &path, &e))?;
        chain = bh.chain;
    }
    Ok(())
}
