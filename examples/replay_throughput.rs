//! Writes a log of 64-byte events and replays it through the Manager, printing throughput.
//! `cargo run --release --example replay_throughput -- [events]`
use std::time::Instant;
use wal_recovery::{Manager, RecoveryOptions, Writer, WriterOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000_000);
    let seg_mib: u64 = std::env::args()
        .nth(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(64);
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let mut w = Writer::open(
        dir.path(),
        WriterOptions {
            segment_bytes: seg_mib << 20,
            ..WriterOptions::default()
        },
    )?;
    let mut p = [0u8; 64];
    for i in 1..=n {
        p[..8].copy_from_slice(&i.to_le_bytes());
        w.append(&p)?;
    }
    w.close()?;
    println!("wrote {n} events in {:.2?}", t.elapsed());
    reader_only(&dir.path().join(wal_recovery::segment::naming::file_name(2)));
    for rep in 0..5 {
        let t = Instant::now();
        let mut m = Manager::open(dir.path(), RecoveryOptions::default())?;
        let open_t = t.elapsed();
        let (mut count, mut sum) = (0u64, 0u64);
        let mut slow = Vec::new();
        let mut last = Instant::now();
        while let Some(ev) = m.next()? {
            count += 1;
            sum = sum.wrapping_add(u64::from_le_bytes(ev.payload[..8].try_into()?));
            if count % 4096 == 0 {
                let now = Instant::now();
                let d = now - last;
                if d.as_micros() > 200 {
                    slow.push((count, d.as_micros()));
                }
                last = now;
            }
        }
        println!(
            "open {:.2?}; slow windows (event, us per 4096): {:?}",
            open_t, slow
        );
        let s = t.elapsed().as_secs_f64();
        assert_eq!(count, n);
        assert_eq!(sum, n * (n + 1) / 2);
        let r = m.report();
        let t = m.telemetry().snapshot();
        let h = &t.manager.segment_handoff_histogram;
        println!(
            "  handoff n={} p50={}ns p99={}ns max={}ns; verify: {} segs {:.1} ms total; preload {} segs; close avg {} us",
            h.count, h.p50, h.p99, h.max,
            t.segment_reader.verify_segment.samples,
            t.segment_reader.verify_segment.total_ns as f64 / 1e6,
            t.segment_preloader.preload_segment.samples,
            t.segment_reader.close_segment.avg_ns / 1000,
        );
        println!(
            "rep {rep}: {:.1} M events/s, {:.2} ns/event, fallback opens {}, segments {}",
            n as f64 / s / 1e6,
            s * 1e9 / n as f64,
            r.fallback_opens,
            r.segments_replayed
        );
    }
    Ok(())
}

#[allow(dead_code)]
fn reader_only(path: &std::path::Path) {
    for _ in 0..3 {
        let t = Instant::now();
        let r = wal_recovery::SegmentReader::open_verified(path).unwrap();
        let v = t.elapsed();
        let f = std::fs::File::open(path).unwrap();
        let t = Instant::now();
        let m = unsafe { memmap2::Mmap::map(&f).unwrap() };
        let c = crc32c::crc32c(&m);
        let raw = t.elapsed();
        println!(
            "open+verify {:.2?} vs mmap+crc {:.2?} ({c}) ratio {:.2}",
            v,
            raw,
            raw.as_secs_f64() / v.as_secs_f64()
        );
        drop(r);
    }
    let mut r = wal_recovery::SegmentReader::open_verified(path).unwrap();
    for _ in 0..3 {
        r.rewind();
        let t = Instant::now();
        let (mut c, mut s) = (0u64, 0u64);
        while let Some(ev) = r.next().unwrap() {
            c += 1;
            s = s.wrapping_add(ev.payload[0] as u64);
        }
        let e = t.elapsed().as_secs_f64();
        println!(
            "reader-only: {c} events {:.2} ns/event ({s})",
            e * 1e9 / c as f64
        );
    }
}
