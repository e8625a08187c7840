//! A preloader thread that panics must not take the replay with it: the panic is caught, the
//! manager sees the abandoned ring, continues alone (opening segments itself), delivers every
//! event exactly once, and reports what happened.

use std::time::Duration;

use wal_recovery::{Manager, RecoveryOptions, Writer, WriterOptions};

#[path = "common/files.rs"]
mod files;

fn payload(i: u64) -> Vec<u8> {
    let mut p = vec![(i % 251) as u8; 24 + (i % 40) as usize];
    p[..8].copy_from_slice(&i.to_le_bytes());
    p
}

#[test]
fn replay_survives_a_panicking_preloader() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        segment_bytes: 8 << 10,
        block_bytes: 1024,
        first_event_id: 1,
    };
    let mut w = Writer::open(dir.path(), opts).unwrap();
    for i in 1..=4_000u64 {
        w.append(&payload(i)).unwrap();
    }
    w.close().unwrap();
    let segments = files::wal_files(dir.path()).len() as u64;
    assert!(segments > 10, "{segments} segments");

    for panic_at in [1usize, 3] {
        let o = RecoveryOptions {
            preload_panic_at: Some(panic_at),
            fallback_after: Duration::from_millis(1),
            ..RecoveryOptions::default()
        };
        let mut m = Manager::open(dir.path(), o).unwrap();
        let mut next = 1u64;
        while let Some(ev) = m.next().unwrap() {
            assert_eq!(ev.id, next, "panic_at {panic_at}");
            assert_eq!(
                ev.payload,
                &payload(next)[..],
                "panic_at {panic_at}: id {next}"
            );
            next += 1;
        }
        assert_eq!(next, 4_001, "panic_at {panic_at}: every event delivered");
        let r = m.report();
        let msg = r
            .worker_panic
            .as_deref()
            .unwrap_or_else(|| panic!("panic_at {panic_at}: not reported"));
        assert!(
            msg.contains(&format!("preloader panics at its segment {panic_at}")),
            "{msg}"
        );
        assert!(r.complete && r.is_clean(), "{}", r.to_json());
        // The worker prepared the segments it claimed before dying; the manager opened the
        // rest itself.
        let after_first = segments - 1;
        let prepared_by_worker = panic_at as u64 - 1;
        assert!(
            r.fallback_opens >= after_first - prepared_by_worker,
            "{} fallbacks",
            r.fallback_opens
        );
        assert!(
            r.fallback_opens <= after_first,
            "{} fallbacks",
            r.fallback_opens
        );
        assert!(r.to_json().contains("preloader panics at its segment"));
    }
}
