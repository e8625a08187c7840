//! Replay throughput through the C ABI against the Rust API, on the same log, in one run.
//!
//! `cargo run --release --example ffi_bench -- [events] [reps] [segment MiB]` (default
//! 20 000 000 events of 64 bytes, 5 repetitions, 64 MiB segments; the best repetition of each
//! variant is reported). With segments larger than the log (e.g. 4096), the whole log is one
//! segment verified by `open`, so the loop times only the per-event path.
//!
//! The C functions are called as what they are, `extern "C"` functions of the library (not
//! inlined: a call per event, exactly as a C caller makes it). The header's inline per-event
//! call, `wal_recovery_next_hot`, needs a C compiler: wal-bench's row "C ABI, inline next_hot"
//! runs it (`bench/c/hot_loop.c`). Every variant reads the first 8
//! payload bytes of every event, so no variant can skip touching the data. Times cover the
//! replay loop (after `open`, which scans the directory and verifies the first segment; its
//! time is printed separately); later segments are verified during the loop by the preloader.
//! The batched variants run with 64 and with 1024 events per call: a caller that reads a
//! batch's payloads after the call reads them a second time, and 1024 events of 72 bytes have
//! left the nearest caches by then.

use std::ffi::CString;
use std::time::{Duration, Instant};

// The type `ffi::wal_recovery` is not imported by name: it would shadow the crate's name.
use wal_recovery::ffi::{
    self, wal_event, wal_recovery_close, wal_recovery_next, wal_recovery_next_batch,
    wal_recovery_open, wal_status,
};
use wal_recovery::{Event, Manager, RecoveryOptions, Writer, WriterOptions};

const PAYLOAD: usize = 64;

fn first_u64(p: &[u8]) -> u64 {
    u64::from_le_bytes(p[..8].try_into().expect("64-byte payloads"))
}

/// Rust API, `Manager::next`.
fn rust_next(dir: &std::path::Path) -> (Duration, Duration, u64, u64) {
    let t = Instant::now();
    let mut m = Manager::open(dir, RecoveryOptions::default()).expect("open");
    let open = t.elapsed();
    let t = Instant::now();
    let (mut n, mut sum) = (0u64, 0u64);
    while let Some(ev) = m.next().expect("next") {
        n += 1;
        sum = sum.wrapping_add(first_u64(ev.payload));
    }
    (open, t.elapsed(), n, sum)
}

/// Rust API, `Manager::next_batch` with `BATCH` events per call.
fn rust_batch<const BATCH: usize>(dir: &std::path::Path) -> (Duration, Duration, u64, u64) {
    let t = Instant::now();
    let mut m = Manager::open(dir, RecoveryOptions::default()).expect("open");
    let open = t.elapsed();
    let t = Instant::now();
    let (mut n, mut sum) = (0u64, 0u64);
    loop {
        // A fresh vector per batch: its events borrow the manager until the next call.
        let mut batch: Vec<Event<'_>> = Vec::with_capacity(BATCH);
        let k = m.next_batch(&mut batch, BATCH).expect("next_batch");
        if k == 0 {
            break;
        }
        for ev in &batch {
            sum = sum.wrapping_add(first_u64(ev.payload));
        }
        n += k as u64;
    }
    (open, t.elapsed(), n, sum)
}

fn c_open(dir: &std::path::Path) -> (*mut ffi::wal_recovery, Duration) {
    let path = CString::new(dir.as_os_str().as_encoded_bytes()).expect("path without NUL");
    let mut h = std::ptr::null_mut();
    let t = Instant::now();
    // SAFETY: valid C string and out pointer; NULL options mean the defaults.
    let s = unsafe { wal_recovery_open(path.as_ptr(), std::ptr::null(), &mut h) };
    assert_eq!(s, wal_status::WAL_OK);
    (h, t.elapsed())
}

/// C ABI, `wal_recovery_next` per event.
fn c_next(dir: &std::path::Path) -> (Duration, Duration, u64, u64) {
    let (h, open) = c_open(dir);
    let t = Instant::now();
    let (mut n, mut sum) = (0u64, 0u64);
    let mut ev = wal_event {
        event_id: 0,
        data: std::ptr::null(),
        len: 0,
    };
    loop {
        // SAFETY: live handle, valid out pointer.
        match unsafe { wal_recovery_next(h, &mut ev) } {
            wal_status::WAL_OK => {}
            wal_status::WAL_END => break,
            s => panic!("wal_recovery_next: {s:?}"),
        }
        // SAFETY: `data` is valid for `len` bytes until the next replay call.
        let p = unsafe { std::slice::from_raw_parts(ev.data, ev.len) };
        sum = sum.wrapping_add(first_u64(p));
        n += 1;
    }
    let elapsed = t.elapsed();
    // SAFETY: live handle, closed once.
    unsafe { wal_recovery_close(h) };
    (open, elapsed, n, sum)
}

/// C ABI, `wal_recovery_next_batch` with cap `BATCH`.
fn c_batch<const BATCH: usize>(dir: &std::path::Path) -> (Duration, Duration, u64, u64) {
    let (h, open) = c_open(dir);
    let t = Instant::now();
    let (mut n, mut sum) = (0u64, 0u64);
    let mut evs = vec![
        wal_event {
            event_id: 0,
            data: std::ptr::null(),
            len: 0
        };
        BATCH
    ];
    let mut k = 0usize;
    loop {
        // SAFETY: live handle; `evs` holds BATCH events; `k` is valid.
        match unsafe { wal_recovery_next_batch(h, evs.as_mut_ptr(), BATCH, &mut k) } {
            wal_status::WAL_OK => {}
            wal_status::WAL_END => break,
            s => panic!("wal_recovery_next_batch: {s:?}"),
        }
        for ev in &evs[..k] {
            // SAFETY: every `data` of the batch is valid until the next replay call.
            let p = unsafe { std::slice::from_raw_parts(ev.data, ev.len) };
            sum = sum.wrapping_add(first_u64(p));
        }
        n += k as u64;
    }
    let elapsed = t.elapsed();
    // SAFETY: live handle, closed once.
    unsafe { wal_recovery_close(h) };
    (open, elapsed, n, sum)
}

type Variant = (
    &'static str,
    fn(&std::path::Path) -> (Duration, Duration, u64, u64),
);

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .map_or(20_000_000, |s| s.parse().expect("events"));
    let reps: usize = args.next().map_or(5, |s| s.parse().expect("reps"));
    let segment_mib: u64 = args.next().map_or(64, |s| s.parse().expect("segment MiB"));
    let dir = tempfile::tempdir().expect("temp dir");

    let t = Instant::now();
    let opts = WriterOptions {
        segment_bytes: segment_mib << 20,
        ..WriterOptions::default()
    };
    let mut w = Writer::open(dir.path(), opts).expect("writer");
    let mut p = [0u8; PAYLOAD];
    for i in 1..=events {
        p[..8].copy_from_slice(&i.to_le_bytes());
        w.append(&p).expect("append");
    }
    w.close().expect("close");
    println!(
        "wrote {events} x {PAYLOAD}-byte events in {:.2?}",
        t.elapsed()
    );

    let variants: [Variant; 6] = [
        ("Rust Manager::next", rust_next),
        ("C wal_recovery_next", c_next),
        ("Rust Manager::next_batch(64)", rust_batch::<64>),
        ("C wal_recovery_next_batch(64)", c_batch::<64>),
        ("Rust Manager::next_batch(1024)", rust_batch::<1024>),
        ("C wal_recovery_next_batch(1024)", c_batch::<1024>),
    ];
    // Warm the page cache once.
    let _ = rust_next(dir.path());
    let want = events.wrapping_mul(events + 1) / 2;
    let mut best = [f64::INFINITY; 6];
    let mut opens = [Duration::MAX; 6];
    // FFI_BENCH_ONLY=<substring> runs only the matching variants (for profiling).
    let only = std::env::var("FFI_BENCH_ONLY").unwrap_or_default();
    // Interleave the variants so that drift in machine load hits them alike.
    for rep in 0..reps {
        for (i, (name, f)) in variants.iter().enumerate() {
            if !name.contains(only.as_str()) {
                continue;
            }
            let (open, elapsed, n, sum) = f(dir.path());
            assert_eq!((n, sum), (events, want), "{name}");
            let ns = elapsed.as_secs_f64() * 1e9 / n as f64;
            println!(
                "rep {rep} {name:34} {:7.1} M events/s  {ns:5.2} ns/event",
                1e3 / ns
            );
            best[i] = best[i].min(ns);
            opens[i] = opens[i].min(open);
        }
    }
    println!("\nbest of {reps}, {events} events of {PAYLOAD} bytes:");
    for (i, (name, _)) in variants
        .iter()
        .enumerate()
        .filter(|(i, _)| best[*i].is_finite())
    {
        println!(
            "{name:34} {:7.1} M events/s  {:5.2} ns/event  (open {:.2?})",
            1e3 / best[i],
            best[i],
            opens[i]
        );
    }
    println!(
        "C/Rust: per-event {:.2}x; C batched 64 against Rust next() {:.2}x, against Rust \
         next_batch(64) {:.2}x; C batched 1024 against Rust next() {:.2}x",
        best[0] / best[1],
        best[0] / best[3],
        best[2] / best[3],
        best[0] / best[5]
    );
}
