//! A valid small log (two sealed segments and an unsealed last one, as a crash leaves it) whose
//! last segment is mutated by the input; then `Writer::open` (crash repair), append, close, and a
//! replay in every recovery mode. Never panics, never hangs; typed errors are fine.
//!
//! Input: byte 0 = operation on the last segment (0 overwrite at an offset, 1 truncate, 2
//! append, 3 replace whole file, 4 zero a range), bit 4 of byte 0 = fix the CRCs afterwards
//! (`walfuzz::fixup`), bytes 1..3 = offset/length (LE u16), the rest = bytes.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wal_recovery::segment::header::SegmentHeader;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, Writer, WriterOptions};

const OPTS: WriterOptions = WriterOptions {
    segment_bytes: 1024,
    block_bytes: 128,
    first_event_id: 1,
};

struct Base {
    dir: PathBuf,
    work: PathBuf,
    files: Vec<(String, Vec<u8>)>,
}

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(|| {
        let dir = walfuzz::scratch("reopen-base");
        let _ = fs::remove_dir_all(&dir);
        let mut w = Writer::open(&dir, OPTS).expect("writer");
        for i in 1..=150u64 {
            w.append(&walfuzz::payload(i % 50)).expect("append");
        }
        w.close().expect("close");
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "wal"))
            .map(|p| {
                (
                    p.file_name().expect("name").to_string_lossy().into_owned(),
                    fs::read(&p).expect("read"),
                )
            })
            .collect();
        files.sort();
        assert!(files.len() >= 3, "want at least 3 segments");
        // Leave the last segment unsealed, as a crash after sync does (rewriting its header in
        // the unsealed form; `mem::forget(writer)` would be reported by LeakSanitizer).
        let last = &mut files.last_mut().expect("segments").1;
        let h = SegmentHeader::decode(last[..64].try_into().expect("64 bytes")).expect("header");
        // Same format and log id (format 2 blocks carry the id), sealed-only fields cleared.
        let open = SegmentHeader {
            version: h.version,
            log_id: h.log_id,
            ..SegmentHeader::new_open(
                h.sequence,
                h.first_event_id,
                h.prev_chain,
                h.created_unix_ns,
            )
        };
        last[..64].copy_from_slice(&open.encode());
        Base {
            dir,
            work: walfuzz::scratch("reopen-work"),
            files,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let b = base();
    let _ = &b.dir;
    let _ = fs::remove_dir_all(&b.work);
    fs::create_dir_all(&b.work).expect("mkdir");
    let (last_name, last) = b.files.last().expect("segments");
    for (name, bytes) in &b.files[..b.files.len() - 1] {
        fs::write(b.work.join(name), bytes).expect("write segment");
    }
    let op = data.first().copied().unwrap_or(0);
    let arg = data
        .get(1..3)
        .map_or(0, |a| u16::from_le_bytes([a[0], a[1]])) as usize;
    let rest = data.get(3..).unwrap_or(&[]);
    let mut seg = last.clone();
    match op % 5 {
        0 => {
            let at = arg % (seg.len() + 1);
            let end = (at + rest.len()).min(seg.len());
            seg[at..end].copy_from_slice(&rest[..end - at]);
        }
        1 => seg.truncate(arg % (seg.len() + 1)),
        2 => seg.extend_from_slice(rest),
        3 => seg = rest.to_vec(),
        _ => {
            let at = arg % (seg.len() + 1);
            let len = rest.first().map_or(64, |&l| l as usize * 8);
            let end = (at + len).min(seg.len());
            seg[at..end].iter_mut().for_each(|x| *x = 0);
        }
    }
    if op & 0x10 != 0 {
        walfuzz::fixup(&mut seg, walfuzz::FIX_SEGMENT_HEADER | walfuzz::FIX_BLOCKS);
    }
    fs::write(b.work.join(last_name), &seg).expect("write last segment");

    if let Ok(mut w) = Writer::open(&b.work, OPTS) {
        for _ in 0..5 {
            let id = w.next_event_id();
            if w.append(&walfuzz::payload(id)).is_err() {
                break;
            }
        }
        let _ = w.close();
    }
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::StopAtCorruption,
        RecoveryMode::SkipCorrupted,
    ] {
        let opts = RecoveryOptions {
            mode,
            ..RecoveryOptions::default()
        };
        let Ok(mut m) = Manager::open(&b.work, opts) else {
            continue;
        };
        let mut prev = 0u64;
        for _ in 0..10_000 {
            match m.next() {
                Ok(Some(ev)) => {
                    assert!(ev.id > prev, "ids strictly increase");
                    prev = ev.id;
                }
                Ok(None) | Err(_) => break,
            }
        }
        let _ = m.report().to_json();
    }
});
