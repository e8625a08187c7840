//! Writes the committed seed corpus (fuzz/corpus/<target>/) from logs produced by the real
//! Writer: valid sealed and unsealed segments, their headers and blocks, and a few mutated
//! copies; for `flashstrike_segment`, segments from the FlashStrike generator (every state) and
//! prefixes of the real FlashStrike samples (tests/data/flashstrike). Small on purpose (< 1.5 MB
//! in total). Run from the repository root:
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus [DIR [TARGET...]]
//!
//! (scripts/fuzz.sh runs it for a target whose corpus is missing; naming targets writes only
//! theirs, so the other committed seeds stay as they are.)

use std::fs;
use std::path::{Path, PathBuf};

use wal_recovery::{Writer, WriterOptions};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("mkdir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn log(dir: &Path, opts: WriterOptions, n: u64, seal: bool) -> Vec<PathBuf> {
    let _ = fs::remove_dir_all(dir);
    let mut w = Writer::open(dir, opts).expect("writer");
    for _ in 0..n {
        let id = w.next_event_id();
        w.append(&walfuzz::payload(id)).expect("append");
    }
    if seal {
        w.close().expect("close");
    } else {
        w.sync().expect("sync");
        std::mem::forget(w);
    }
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    v.sort();
    v
}

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let only: Vec<String> = std::env::args().skip(2).collect();
    let wanted = |t: &str| only.is_empty() || only.iter().any(|o| o == t);
    if wanted("flashstrike_segment") {
        flashstrike_seeds(&root.join("flashstrike_segment"));
    }
    if ![
        "segment_header",
        "block_header",
        "segment_reader",
        "writer_reopen",
    ]
    .iter()
    .any(|t| wanted(t))
    {
        return;
    }
    let tmp = walfuzz::scratch("gen");
    let _ = fs::remove_dir_all(&tmp);
    let opts = WriterOptions {
        segment_bytes: 1024,
        block_bytes: 128,
        first_event_id: 1,
    };
    let sealed = log(&tmp.join("sealed"), opts, 30, true);
    let unsealed = log(&tmp.join("unsealed"), opts, 30, false);
    let big_first = WriterOptions {
        first_event_id: u64::MAX - 100,
        ..opts
    };
    let high = log(&tmp.join("high"), big_first, 20, true);

    let mut segments: Vec<(String, Vec<u8>)> = Vec::new();
    for (tag, files) in [
        ("sealed", &sealed),
        ("unsealed", &unsealed),
        ("high", &high),
    ] {
        for (k, p) in files.iter().enumerate().take(2) {
            segments.push((format!("{tag}{k}"), fs::read(p).expect("read")));
        }
        let last = files.last().expect("segments");
        segments.push((format!("{tag}-last"), fs::read(last).expect("read")));
    }

    // segment_header: 64-byte headers (+ a fix-up flag byte for half of them).
    let d = root.join("segment_header");
    for (name, seg) in &segments {
        write(&d, name, &seg[..64]);
        let mut m = seg[..64].to_vec();
        m[6] = 1; // toggle sealed
        m.push(1); // fix the CRC afterwards
        write(&d, &format!("{name}-flag"), &m);
    }

    // block_header: each segment's first block header + previous chain + fix flag + payload.
    let d = root.join("block_header");
    for (name, seg) in &segments {
        if seg.len() < 128 {
            continue;
        }
        let mut v = seg[64..128].to_vec();
        v.extend_from_slice(&seg[56..60]); // prev chain from the segment header
        v.push(0);
        v.extend_from_slice(&seg[128..seg.len().min(192)]);
        write(&d, name, &v);
    }

    // segment_reader: flags byte + whole files, plus mutated ones (torn, zero tail, framing).
    let d = root.join("segment_reader");
    for (name, seg) in &segments {
        let mut v = vec![0u8];
        v.extend_from_slice(seg);
        write(&d, name, &v);
        // torn: cut in the middle of the last block
        let mut t = v.clone();
        t.truncate(v.len() - 40);
        write(&d, &format!("{name}-torn"), &t);
        // a record length overrunning its block, CRCs fixed so verification passes
        let mut f = v.clone();
        f[0] = walfuzz::FIX_SEGMENT_HEADER | walfuzz::FIX_BLOCKS;
        if f.len() > 1 + 128 + 4 {
            f[1 + 128] = 0xF0;
        }
        write(&d, &format!("{name}-framing"), &f);
        // zero-filled tail
        let mut z = v.clone();
        z.extend_from_slice(&[0u8; 100]);
        write(&d, &format!("{name}-zeros"), &z);
    }

    // writer_reopen: operations on the unsealed last segment.
    let d = root.join("writer_reopen");
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("noop-append", vec![2, 0, 0]),
        ("truncate-mid", vec![1, 200, 0]),
        ("truncate-header", vec![1, 30, 0]),
        ("flip-block", vec![0, 100, 0, 0xFF]),
        ("flip-header", vec![0, 10, 0, 0xFF]),
        ("zero-tail", vec![4, 150, 0, 40]),
        ("garbage-append", vec![2, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ("replace-empty", vec![3, 0, 0]),
        ("fixed-overwrite", vec![0x10, 72, 0, 9, 9, 9, 9]),
        ("fixed-append-block", {
            let mut v = vec![0x12, 0, 0];
            let last = &segments
                .iter()
                .find(|(n, _)| n == "unsealed-last")
                .expect("seed")
                .1;
            v.extend_from_slice(&last[64..last.len().min(256)]);
            v
        }),
    ];
    for (name, v) in seeds {
        write(&d, name, &v);
    }
    let _ = fs::remove_dir_all(&tmp);
    let mut total = 0u64;
    for e in walk(&root) {
        total += fs::metadata(&e).expect("stat").len();
    }
    println!("seed corpus written to {}: {} bytes", root.display(), total);
}

/// Seeds of `flashstrike_segment` (input layout in its target's docs).
fn flashstrike_seeds(d: &Path) {
    const GENERATE: u8 = 1;
    const COLD: u8 = 2;
    const FIX: u8 = 4;
    // flags, blocks - 1, count (LE u16), state (| 4 zero magic, | 8 high ids), first id - 1.
    let gen = |flags: u8, blocks: u8, count: u16, state: u8, muts: &[[u8; 4]]| {
        let c = count.to_le_bytes();
        let mut v = vec![flags | GENERATE, blocks - 1, c[0], c[1], state, 0, 0];
        v.extend(muts.iter().flatten());
        v
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("finalized-partial-zero-tail", gen(0, 3, 600, 0, &[])),
        ("finalized-one-event", gen(0, 1, 1, 0, &[])),
        ("finalized-empty", gen(0, 2, 0, 0, &[])),
        ("finalized-high-ids", gen(0, 2, 300, 8, &[])),
        ("unfinalized-two-blocks", gen(0, 3, 700, 1 | 4, &[])),
        ("unfinalized-full", gen(0, 2, 512, 1, &[])),
        ("precreated", gen(0, 1, 0, 2 | 4, &[])),
        ("cold-finalized", gen(COLD, 2, 400, 0, &[])),
        ("cold-unfinalized", gen(COLD, 2, 300, 1, &[])),
        // A record's id changed, checksums recomputed: only the id checks can catch it.
        (
            "fixed-record-id",
            gen(FIX, 2, 300, 0, &[[0x80, 0, 0, 0x01]]),
        ),
        // Block count in the header changed, checksum recomputed.
        (
            "fixed-header-count",
            gen(FIX, 2, 300, 0, &[[8, 0, 0, 0x02]]),
        ),
        // A block index changed, checksums recomputed.
        (
            "fixed-block-index",
            gen(FIX, 2, 300, 1, &[[0x68, 0x40, 0, 0x01]]),
        ),
        ("torn-unfinalized", gen(0, 3, 700, 1, &[[0x00, 0x60, 0, 0]])),
        ("flip-payload", gen(0, 2, 300, 0, &[[0x00, 0x10, 0, 0x10]])),
    ];
    for (name, v) in seeds {
        write(d, name, &v);
    }
    // Prefixes of the real samples (written by FlashStrike's C++ recorder).
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/flashstrike");
    let block = wal_recovery::flashstrike::BLOCK_BYTES;
    for (name, file, blocks) in [
        ("real-unfinalized-2-blocks", "crash/FS.00000004.wal", 2),
        (
            "real-finalized-cut-after-1-block",
            "clean/FS.00000004.wal",
            1,
        ),
        ("real-precreated", "crash/FS.00000005.wal", 1),
        ("real-rotated-1-block", "crash_rotation/FS.00000001.wal", 1),
    ] {
        let bytes = fs::read(samples.join(file)).expect("read FlashStrike sample");
        let mut v = vec![0u8];
        v.extend_from_slice(&bytes[..64 + blocks * block]);
        write(d, name, &v);
    }
    let mut v = vec![COLD];
    v.extend(fs::read(samples.join("cold/FS.00000000.wal.lz4")).expect("read cold sample"));
    write(d, "real-cold", &v);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
