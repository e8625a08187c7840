//! The C ABI's thread-safety contract, exercised from Rust threads: while one thread replays
//! (per event, then in batches, then on another thread the handle moved to), other threads read
//! the telemetry of the same handle with `wal_telemetry_snapshot`, `_dump` and `_prometheus`.
//! Meant to run under ThreadSanitizer as well as normally.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use wal_recovery::ffi::{
    self, wal_event, wal_recovery_close, wal_recovery_next, wal_recovery_next_batch,
    wal_recovery_open, wal_status, wal_telemetry, wal_telemetry_dump, wal_telemetry_prometheus,
    wal_telemetry_snapshot,
};
use wal_recovery::{Writer, WriterOptions};

const EVENTS: u64 = 60_000;

/// A handle pointer that may cross threads.
#[derive(Clone, Copy)]
struct Handle(*mut ffi::wal_recovery);

// SAFETY: the C ABI allows a handle to move between threads, and its telemetry functions to be
// called from other threads during replay; this test follows exactly that contract.
unsafe impl Send for Handle {}

impl Handle {
    /// The pointer (a method, so that closures capture the whole `Send` wrapper).
    fn ptr(self) -> *mut ffi::wal_recovery {
        self.0
    }
}

fn write_log(dir: &std::path::Path) {
    let opts = WriterOptions {
        segment_bytes: 64 << 10,
        block_bytes: 4 << 10,
        ..WriterOptions::default()
    };
    let mut w = Writer::open(dir, opts).unwrap();
    for i in 1..=EVENTS {
        w.append(&i.to_le_bytes()).unwrap();
    }
    w.close().unwrap();
}

fn check(ev: &wal_event, id: u64) {
    assert_eq!(ev.event_id, id);
    // SAFETY: `data` is valid for `len` bytes until the next replay call on the handle.
    let payload = unsafe { std::slice::from_raw_parts(ev.data, ev.len) };
    assert_eq!(payload, id.to_le_bytes());
}

fn text(h: Handle, prometheus: bool) -> usize {
    let mut buf = vec![0 as c_char; 64 << 10];
    let mut needed = 0usize;
    let label = if prometheus {
        c"wal_recovery"
    } else {
        c"monitor"
    };
    // SAFETY: live handle (closed only after the monitors stop), valid strings and buffers.
    let s = unsafe {
        if prometheus {
            wal_telemetry_prometheus(
                h.ptr(),
                label.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut needed,
            )
        } else {
            wal_telemetry_dump(
                h.ptr(),
                label.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut needed,
            )
        }
    };
    assert_eq!(s, wal_status::WAL_OK);
    needed
}

#[test]
fn telemetry_from_other_threads_during_replay() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let path = CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
    let mut raw = std::ptr::null_mut();
    // SAFETY: valid C string and out pointer; default options.
    let s = unsafe { wal_recovery_open(path.as_ptr(), std::ptr::null(), &mut raw) };
    assert_eq!(s, wal_status::WAL_OK);
    let h = Handle(raw);

    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let mut monitors: Vec<_> = (0..2)
        .map(|m| {
            let (stop, started) = (Arc::clone(&stop), Arc::clone(&started));
            std::thread::spawn(move || {
                let (mut rounds, mut last) = (0u64, 0u64);
                while !stop.load(Ordering::Acquire) {
                    let mut t = wal_telemetry {
                        struct_size: std::mem::size_of::<wal_telemetry>() as u32,
                        ..Default::default()
                    };
                    // SAFETY: live handle, valid out struct with its size set.
                    assert_eq!(
                        unsafe { wal_telemetry_snapshot(h.ptr(), &mut t) },
                        wal_status::WAL_OK
                    );
                    assert!(
                        t.manager.events_delivered >= last,
                        "delivered count went back"
                    );
                    last = t.manager.events_delivered;
                    assert!(text(h, (rounds + m) % 2 == 0) > 100);
                    if rounds == 0 {
                        started.fetch_add(1, Ordering::Release);
                    }
                    rounds += 1;
                }
            })
        })
        .collect();
    // The replay starts once every monitor has read the telemetry once: on a loaded machine a
    // monitor might otherwise first run after the replay is over.
    // A monitor that failed in its first round has finished: join it below to report why.
    while started.load(Ordering::Acquire) < monitors.len()
        && !monitors.iter().any(|m| m.is_finished())
    {
        std::thread::yield_now();
    }
    if let Some(i) = monitors.iter().position(|m| m.is_finished()) {
        monitors.swap_remove(i).join().unwrap();
    }

    // First half per event on this thread.
    let mut ev = wal_event {
        event_id: 0,
        data: std::ptr::null(),
        len: 0,
    };
    for id in 1..=EVENTS / 2 {
        // SAFETY: live handle, valid out pointer; this thread is the replay thread.
        assert_eq!(
            unsafe { wal_recovery_next(h.ptr(), &mut ev) },
            wal_status::WAL_OK
        );
        check(&ev, id);
    }
    // The rest in batches, on another thread the handle moves to.
    std::thread::spawn(move || {
        let mut evs = vec![
            wal_event {
                event_id: 0,
                data: std::ptr::null(),
                len: 0
            };
            333
        ];
        let (mut next, mut n) = (EVENTS / 2 + 1, 0usize);
        loop {
            // SAFETY: live handle, `evs` holds 333 events, `n` valid; now the replay thread.
            match unsafe { wal_recovery_next_batch(h.ptr(), evs.as_mut_ptr(), evs.len(), &mut n) } {
                wal_status::WAL_OK => {}
                wal_status::WAL_END => break,
                s => panic!("next_batch: {s:?}"),
            }
            for e in &evs[..n] {
                check(e, next);
                next += 1;
            }
        }
        assert_eq!(next, EVENTS + 1);
    })
    .join()
    .unwrap();

    stop.store(true, Ordering::Release);
    for m in monitors {
        m.join().unwrap();
    }
    let mut t = wal_telemetry {
        struct_size: std::mem::size_of::<wal_telemetry>() as u32,
        ..Default::default()
    };
    // SAFETY: live handle, valid out struct.
    assert_eq!(
        unsafe { wal_telemetry_snapshot(h.ptr(), &mut t) },
        wal_status::WAL_OK
    );
    assert_eq!(t.manager.events_delivered, EVENTS);
    // SAFETY: live handle; no other thread uses it any more; closed once.
    unsafe { wal_recovery_close(h.ptr()) };
}
