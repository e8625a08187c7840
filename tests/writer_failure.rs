//! A write that fails (a full disk) must leave everything synced before it readable, and the
//! writer must refuse further work with a typed error instead of writing around the hole.
//!
//! A full disk is simulated without root: a child process (this test binary, re-executed) lowers
//! `RLIMIT_FSIZE` and ignores `SIGXFSZ`, so any write past the limit fails with `EFBIG` exactly as
//! a write to a full disk fails with `ENOSPC`.

use std::path::Path;
use std::process::Command;

use wal_recovery::{Error, Manager, RecoveryOptions, Writer, WriterOptions};

const CHILD_ENV: &str = "WAL_RECOVERY_FSIZE_CHILD_DIR";
const LIMIT: u64 = 256 * 1024;

fn payload(i: u64) -> Vec<u8> {
    let mut p = vec![(i % 251) as u8; 100];
    p[..8].copy_from_slice(&i.to_le_bytes());
    p
}

/// Runs in the child: appends until the file-size limit makes a write fail.
#[test]
#[ignore = "helper process of write_failure_keeps_synced_events_readable"]
fn fsize_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    // SAFETY: setrlimit/signal with valid arguments; no memory is shared with the callee.
    unsafe {
        let lim = libc::rlimit {
            rlim_cur: LIMIT,
            rlim_max: LIMIT,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let opts = WriterOptions {
        segment_bytes: 1 << 30,
        block_bytes: 4096,
        first_event_id: 1,
    };
    let mut w = Writer::open(&dir, opts).unwrap();
    let mut synced = 0;
    let mut failure = None;
    for i in 1..=1_000_000u64 {
        if let Err(e) = w.append(&payload(i)) {
            failure = Some(e);
            break;
        }
        if i % 100 == 0 {
            match w.sync() {
                Ok(()) => synced = i,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    let failure = failure.expect("the file-size limit must stop the writer");
    assert_eq!(
        failure.raw_os_error(),
        Some(libc::EFBIG),
        "typed I/O error with errno: {failure}"
    );
    // Every later call is refused, naming the first failure.
    match w.append(b"x") {
        Err(Error::WriterFailed(m)) => assert!(m.contains("write block"), "{m}"),
        other => panic!("expected WriterFailed, got {other:?}"),
    }
    assert!(matches!(w.sync(), Err(Error::WriterFailed(_))));
    std::fs::write(Path::new(&dir).join("synced"), synced.to_string()).unwrap();
    std::mem::forget(w); // like a process that gives up: no close, no seal
}

#[test]
fn write_failure_keeps_synced_events_readable() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fsize_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "child failed: {status}");
    let synced: u64 = std::fs::read_to_string(dir.path().join("synced"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        synced >= 1000,
        "the limit leaves room for some synced events, got {synced}"
    );

    // Recovery: every synced event, byte-exact; the partial block is a torn tail, not an error.
    let mut m = Manager::open(dir.path(), RecoveryOptions::default()).unwrap();
    let mut next = 1;
    while let Some(ev) = m.next().unwrap() {
        assert_eq!(ev.id, next);
        assert_eq!(ev.payload, &payload(next)[..]);
        next += 1;
    }
    assert!(
        next > synced,
        "delivered up to {}, synced up to {synced}",
        next - 1
    );
    let report = m.report();
    assert!(report.is_clean(), "{}", report.to_json());
    drop(m);

    // The directory is usable again once space is back: the writer repairs and continues.
    let mut w = Writer::open(dir.path(), WriterOptions::default()).unwrap();
    assert_eq!(w.next_event_id(), next);
    w.append(&payload(next)).unwrap();
    w.close().unwrap();
    let mut m = Manager::open(dir.path(), RecoveryOptions::default()).unwrap();
    let mut count = 0;
    while m.next().unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, next);
    assert!(m.report().is_clean());
}
