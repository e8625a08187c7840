//! Where a segment's open+verify spends its time beyond a raw CRC32C pass over the same bytes
//! (the `walrec bench` goal "open+verify >= 0.8x raw CRC"). Three passes over one native
//! segment, alternated, each from a fresh map (its page faults included, the unmap excluded):
//!
//! * `raw CRC`: one CRC32C over the whole file;
//! * `block CRCs`: one CRC32C per block payload, walking the block headers (decoded and
//!   checked with `BlockHeader::decode`) — the same CRC work as a verify, without the reader;
//! * `open+verify`: `SegmentReader::open_verified`.
//!
//! The segment is first copied into a new file written in 8 MiB pieces: a file read back after
//! the kernel paged it out sits in small page-cache folios and runs every pass 2–3x slower
//! (BENCHMARKS.md, *Machine*).
//!
//! `cargo run --release --example verify_parts -- SEGMENT.wal [ROUNDS]`
use std::fs::File;
use std::io::{Read, Write};
use std::time::Instant;

use memmap2::Mmap;
use wal_recovery::recovery::segment_reader::SegmentReader;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::checksum::crc32c;
use wal_recovery::segment::{BLOCK_ALIGN, HEADER_BYTES};

/// Passes of each kind per round, timed together as one sample.
const REPS: usize = 20;

/// Maps `path` afresh.
fn map(path: &std::path::Path) -> Result<Mmap, Box<dyn std::error::Error>> {
    let f = File::open(path)?;
    // SAFETY: a private copy in our temporary directory that nothing else writes.
    Ok(unsafe { Mmap::map(&f)? })
}

/// CRC32C of every block payload, walking the headers; the number of blocks.
fn block_crcs(data: &[u8]) -> Result<(u32, usize), String> {
    let (mut x, mut blocks, mut off) = (0u32, 0usize, HEADER_BYTES);
    while let Some(raw) = data.get(off..off + HEADER_BYTES) {
        let raw: &[u8; 64] = raw.try_into().map_err(|_| "short header")?;
        if raw.iter().all(|&b| b == 0) {
            break; // preallocated space after the last block
        }
        let bh = BlockHeader::decode(raw).map_err(|e| format!("block {blocks}: {}", e.detail))?;
        let start = off + HEADER_BYTES;
        let end = start + bh.payload_len as usize;
        let payload = data.get(start..end).ok_or("payload past the end")?;
        if crc32c(payload) != bh.payload_crc {
            return Err(format!("block {blocks}: payload CRC mismatch"));
        }
        x ^= bh.payload_crc;
        blocks += 1;
        off = end.next_multiple_of(BLOCK_ALIGN);
    }
    Ok((x, blocks))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: verify_parts SEGMENT.wal [ROUNDS]";
    let src = std::env::args().nth(1).ok_or(usage)?;
    let rounds: usize = match std::env::args().nth(2) {
        Some(r) => r.parse().map_err(|_| usage)?,
        None => 15,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("segment.wal");
    let mut bytes = Vec::new();
    File::open(&src)?.read_to_end(&mut bytes)?;
    let mut out = File::create(&path)?;
    for piece in bytes.chunks(8 << 20) {
        out.write_all(piece)?;
    }
    out.sync_all()?;
    drop(out);

    let (_, blocks) = block_crcs(&map(&path)?)?;
    let mut t = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (pass, times) in t.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..REPS {
                match pass {
                    0 => {
                        let m = map(&path)?;
                        std::hint::black_box(crc32c(&m));
                    }
                    1 => {
                        let m = map(&path)?;
                        std::hint::black_box(block_crcs(&m)?);
                    }
                    _ => {
                        let r = SegmentReader::open_verified(&path)?;
                        std::hint::black_box(r.event_count());
                    }
                }
            }
            times.push(start.elapsed().as_secs_f64() * 1e3 / REPS as f64);
        }
    }
    let [raw, walk, ov] = t.map(median);
    let gb = |ms: f64| bytes.len() as f64 / ms / 1e6;
    println!(
        "{} bytes, {blocks} blocks, medians of {rounds} rounds x {REPS}",
        bytes.len()
    );
    println!("raw CRC      {raw:.3} ms  {:.1} GB/s", gb(raw));
    println!(
        "block CRCs   {walk:.3} ms  {:.1} GB/s  raw/this {:.3}  (+{:.0} ns a block)",
        gb(walk),
        raw / walk,
        (walk - raw) * 1e6 / blocks as f64
    );
    println!(
        "open+verify  {ov:.3} ms  {:.1} GB/s  raw/this {:.3}  (+{:.0} ns a block over block CRCs)",
        gb(ov),
        raw / ov,
        (ov - walk) * 1e6 / blocks as f64
    );
    Ok(())
}
