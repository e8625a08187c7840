//! Replays one log directory (either format) through the Manager once, with default options,
//! and prints one line: `wal_recovery events=N id_sum=S seconds=T Mev_per_s=X end_status=...`.
//! The Rust side of `bench/flashstrike/compare.sh`, timed like its C++ driver: open (directory
//! scan, first segment) and the whole replay inside the timer, teardown outside.
//!
//! Events come from `next()`, one call each, or with `--batch` from
//! `next_batch_with(usize::MAX, ..)` (a closure per event, each call up to a segment's end;
//! the line then starts `wal_recovery-batch`).
//!
//! `cargo run --release --example replay_dir -- DIR [--batch]`
use std::time::Instant;
use wal_recovery::{Manager, RecoveryOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: replay_dir DIR [--batch]";
    let dir = std::env::args().nth(1).ok_or(usage)?;
    let batch = match std::env::args().nth(2).as_deref() {
        None => false,
        Some("--batch") => true,
        Some(_) => return Err(usage.into()),
    };
    let t = Instant::now();
    let mut m = Manager::open(&dir, RecoveryOptions::default())?;
    let (mut n, mut sum) = (0u64, 0u64);
    let end = loop {
        if batch {
            let got = m.next_batch_with(usize::MAX, |ev| {
                sum = sum.wrapping_add(ev.id);
                n += 1;
            });
            match got {
                Ok(0) => break "end".to_string(),
                Ok(_) => continue,
                Err(e) => break format!("error: {e}"),
            }
        }
        match m.next() {
            Ok(Some(ev)) => {
                sum = sum.wrapping_add(ev.id);
                n += 1;
            }
            Ok(None) => break "end".to_string(),
            Err(e) => break format!("error: {e}"),
        }
    };
    let s = t.elapsed().as_secs_f64();
    let name = if batch {
        "wal_recovery-batch"
    } else {
        "wal_recovery"
    };
    println!(
        "{name} events={n} id_sum={sum} seconds={s:.6} Mev_per_s={:.2} end_status={end}",
        n as f64 / s / 1e6
    );
    drop(m);
    if end != "end" {
        std::process::exit(1);
    }
    Ok(())
}
