//! A FlashStrike v1 segment file — arbitrary bytes, or a generated valid segment mutated by the
//! input — replayed through `SegmentReader::open` + `verify` + every event, and through
//! `Manager::open` (format forced to FlashStrike) in each recovery mode. Never a panic; every
//! event returned is a whole 64-byte record whose first 8 bytes are its id, inside the header's
//! range and inside the block the sparse index says holds it; the manager delivers ids in
//! strictly increasing order, only ids the reader verified, with the same bytes. An unmutated
//! generated segment is read back exactly.
//!
//! Input: byte 0 = flags — bit 0: generate (else bytes 1.. are the file), bit 1: store it cold
//! (`FS.00000000.wal.lz4`; a generated segment is compressed after mutation), bit 2: recompute
//! the checksums after mutation (`walfuzz::flashstrike_fixup`), bits 3-4: the manager's mode
//! (Strict, StopAtCorruption, SkipCorrupted; 3: all three). Generated: bytes 1..7 are the
//! parameters (`walfuzz::FsParams::decode`: blocks 1..=3, event count, state finalized /
//! unfinalized / pre-created, zeroed magic byte, first id, high ids), then 4-byte mutations:
//! a 24-bit offset (modulo the length) and an XOR mask (0: truncate there).
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wal_recovery::flashstrike::event::sample_event;
use wal_recovery::flashstrike::generate::compress_cold;
use wal_recovery::recovery::format::{Format, FormatChoice};
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, SegmentReader};

const GENERATE: u8 = 1;
const COLD: u8 = 2;
const FIX: u8 = 4;
const MODES: [RecoveryMode; 3] = [
    RecoveryMode::Strict,
    RecoveryMode::StopAtCorruption,
    RecoveryMode::SkipCorrupted,
];

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = walfuzz::scratch("flashstrike");
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("create scratch dir");
        d
    })
}

fn id_of(record: &[u8]) -> u64 {
    u64::from_le_bytes(record[..8].try_into().expect("8 bytes"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (file, pristine) = if flags & GENERATE != 0 {
        let p = walfuzz::FsParams::decode(rest);
        let mut f = p.generate();
        let muts = rest.get(6..).unwrap_or(&[]);
        for m in muts.chunks_exact(4) {
            if f.is_empty() {
                break;
            }
            let off =
                (usize::from(m[0]) | usize::from(m[1]) << 8 | usize::from(m[2]) << 16) % f.len();
            match m[3] {
                0 => f.truncate(off),
                x => f[off] ^= x,
            }
        }
        if flags & FIX != 0 {
            walfuzz::flashstrike_fixup(&mut f);
        }
        let pristine = (muts.len() < 4).then_some(p);
        (f, pristine)
    } else {
        (rest.to_vec(), None)
    };
    let dir = dir();
    for e in fs::read_dir(dir).expect("read scratch dir") {
        let _ = fs::remove_file(e.expect("entry").path());
    }
    let cold = flags & COLD != 0;
    let path = if cold {
        let bytes = if flags & GENERATE != 0 {
            compress_cold(&file)
        } else {
            file.clone()
        };
        let p = dir.join("FS.00000000.wal.lz4");
        fs::write(&p, bytes).expect("write scratch file");
        p
    } else {
        let p = dir.join("FS.00000000.wal");
        fs::write(&p, &file).expect("write scratch file");
        p
    };

    // The segment reader alone.
    let mut verified: Vec<(u64, Vec<u8>)> = Vec::new();
    if let Ok(mut r) = SegmentReader::open(&path) {
        r.verify();
        let flashstrike = r.format() == Format::FlashStrikeV1;
        let (first, end) = (r.first_event_id(), r.end_event_id());
        assert!(end >= first);
        let index = r.index().to_vec();
        let max = r.file_len() / 64;
        let mut expect = first;
        loop {
            match r.next() {
                Ok(Some(ev)) => {
                    assert_eq!(ev.id, expect, "ids are contiguous");
                    assert!(
                        first <= ev.id && ev.id < end,
                        "id {} outside {first}..{end}",
                        ev.id
                    );
                    if flashstrike {
                        assert_eq!(ev.payload.len(), 64, "a whole RequestEvent");
                        assert_eq!(id_of(ev.payload), ev.id, "first 8 bytes are the id");
                        assert!(
                            index.iter().any(|b| b.first_event_id <= ev.id
                                && ev.id - b.first_event_id < u64::from(b.event_count)),
                            "id {} in no indexed block",
                            ev.id
                        );
                    }
                    verified.push((ev.id, ev.payload.to_vec()));
                    expect += 1;
                    assert!(
                        verified.len() as u64 <= max,
                        "more events than the file holds"
                    );
                }
                Ok(None) => {
                    assert_eq!(expect, end, "iteration ends at end_event_id");
                    break;
                }
                Err(_) => break,
            }
        }
    }
    if let Some(p) = pristine {
        // Unmutated: exactly what was generated (an unfinalized segment keeps its full blocks).
        let n = match p.state {
            0 => p.count,
            1 => p.count - p.count % 256,
            _ => 0,
        };
        assert_eq!(verified.len() as u64, n, "{p:?}");
        for (k, (id, payload)) in verified.iter().enumerate() {
            assert_eq!(*id, p.first_id + k as u64);
            assert_eq!(payload[..], sample_event(*id).encode()[..]);
        }
    }

    // The manager, in the mode(s) the input picks.
    let modes = match usize::from(flags >> 3 & 3) {
        3 => &MODES[..],
        m => &MODES[m..=m],
    };
    for &mode in modes {
        let opts = RecoveryOptions {
            mode,
            format: FormatChoice::FlashStrikeV1,
            ..RecoveryOptions::default()
        };
        let Ok(mut m) = Manager::open(dir, opts) else {
            continue;
        };
        let mut prev = 0u64;
        let mut n = 0usize;
        while let Ok(Some(ev)) = m.next() {
            assert_eq!(ev.payload.len(), 64, "{mode:?}: a whole RequestEvent");
            assert_eq!(
                id_of(ev.payload),
                ev.id,
                "{mode:?}: first 8 bytes are the id"
            );
            assert!(ev.id > prev, "{mode:?}: ids strictly increase");
            prev = ev.id;
            let same = verified
                .binary_search_by_key(&ev.id, |v| v.0)
                .ok()
                .is_some_and(|i| verified[i].1 == ev.payload);
            assert!(
                same,
                "{mode:?}: id {} not verified by SegmentReader with these bytes",
                ev.id
            );
            n += 1;
            assert!(
                n <= verified.len(),
                "{mode:?}: more events than the reader verified"
            );
        }
        let _ = m.report();
    }
});
