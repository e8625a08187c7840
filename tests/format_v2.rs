//! Format 2: the log identity and the synced offset (issue 17).
//!
//! * A new log is written in format 2: every segment header carries one random non-zero log id,
//!   every block carries it too, the chain starts from `chain_seed(log id)`, and every block
//!   records how far the last completed sync reached (never beyond the block itself).
//! * Format 1 is still read in every mode, and a writer continues a format-1 log in format 1.
//! * A segment of another log (different id), or a format-1 segment among format-2 ones, is
//!   refused in every mode and by the writer (`Error::MixedLogs`); a block of another log
//!   spliced into a segment is caught as a chain mismatch.
//! * The synced offset decides a damaged block followed by a valid one: beyond the last sync
//!   a later block proves, it is the torn tail; inside it, damage.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use wal_recovery::recovery::report::RecoveryReport;
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::header::{chain_seed, SegmentHeader};
use wal_recovery::segment::{naming, record, CHAIN_SEED};
use wal_recovery::{
    Error, Manager, RecoveryMode, RecoveryOptions, SegmentReader, Writer, WriterOptions,
};

#[path = "common/env.rs"]
#[allow(dead_code)] // this suite takes only the temporary directories
mod env;

const MODES: [RecoveryMode; 3] = [
    RecoveryMode::Strict,
    RecoveryMode::StopAtCorruption,
    RecoveryMode::SkipCorrupted,
];

fn payload(salt: u8, id: u64) -> Vec<u8> {
    let len = 8 + (id % 40) as usize;
    (0..len)
        .map(|k| (id as u8).wrapping_mul(31).wrapping_add(k as u8) ^ salt)
        .collect()
}

fn opts() -> WriterOptions {
    WriterOptions {
        segment_bytes: 2048,
        block_bytes: 256,
        first_event_id: 1,
    }
}

/// Writes `n` events with `salt` to a new log in `dir` and closes it.
fn write_log(dir: &Path, n: u64, salt: u8) {
    let mut w = Writer::open(dir, opts()).expect("open");
    for _ in 0..n {
        let id = w.next_event_id();
        w.append(&payload(salt, id)).expect("append");
    }
    w.close().expect("close");
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    v.sort();
    v
}

fn header(p: &Path) -> SegmentHeader {
    *SegmentReader::open(p).expect("open segment").header()
}

/// Delivered events: (id, payload).
type Events = Vec<(u64, Vec<u8>)>;

/// Every event delivered in `mode` (ids and payloads) and the report, or the error.
fn replay(dir: &Path, mode: RecoveryMode) -> Result<(Events, RecoveryReport), Error> {
    let mut m = Manager::open(
        dir,
        RecoveryOptions {
            mode,
            ..RecoveryOptions::default()
        },
    )?;
    let mut out = Vec::new();
    while let Some(e) = m.next()? {
        out.push((e.id, e.payload.to_vec()));
    }
    Ok((out, m.report()))
}

fn assert_all(events: &[(u64, Vec<u8>)], salt: u8, n: u64) {
    assert_eq!(events.len() as u64, n, "event count");
    for (k, (id, p)) in events.iter().enumerate() {
        assert_eq!(*id, k as u64 + 1);
        assert_eq!(*p, payload(salt, *id), "payload of {id}");
    }
}

#[test]
fn new_log_is_format_2_with_one_identity_in_every_segment_and_block() {
    let tmp = env::tempdir_with_prefix("walv2-");
    write_log(tmp.path(), 200, 1);
    let segs = segments(tmp.path());
    assert!(segs.len() >= 5, "the log rolls");
    let id = header(&segs[0]).log_id;
    assert_ne!(id, 0);
    assert_eq!(
        header(&segs[0]).prev_chain,
        chain_seed(id),
        "the chain starts from the log id"
    );
    for p in &segs {
        let h = header(p);
        assert_eq!((h.version, h.log_id), (2, id), "{}", p.display());
        let bytes = fs::read(p).expect("read");
        let r = SegmentReader::open_verified(p).expect("verified");
        for e in r.index() {
            let off = e.payload_offset - 64;
            let raw: [u8; 64] = bytes[off..off + 64].try_into().expect("64");
            let bh = BlockHeader::decode(&raw).expect("block header");
            assert_eq!(bh.log_id, id);
            assert!(
                bh.synced_offset >= 64 && bh.synced_offset <= off as u64,
                "synced {} at {off}",
                bh.synced_offset
            );
        }
    }
    let (events, report) = replay(tmp.path(), RecoveryMode::Strict).expect("strict");
    assert_all(&events, 1, 200);
    assert!(report.is_clean());
    // Another log gets another identity.
    let tmp2 = env::tempdir_with_prefix("walv2-");
    write_log(tmp2.path(), 10, 1);
    assert_ne!(header(&segments(tmp2.path())[0]).log_id, id);
}

/// A format-1 log, as the writer of format 1 wrote it: `segs` segments of `per` events, chained
/// from the fixed seed; the last one unsealed when `open_last`.
fn write_v1_log(dir: &Path, segs: u64, per: u64, open_last: bool) {
    fs::create_dir_all(dir).expect("mkdir");
    let mut chain = CHAIN_SEED;
    let mut id = 1;
    for seq in 1..=segs {
        let first = id;
        let prev = chain;
        let mut body = Vec::new();
        for b in 0..per {
            let mut block = Vec::new();
            record::encode_into(&mut block, &payload(7, id));
            let h = BlockHeader::for_payload(b as u32, id, 1, &block, chain);
            body.extend_from_slice(&h.encode());
            body.extend_from_slice(&block);
            body.resize(body.len().next_multiple_of(64), 0);
            chain = h.chain;
            id += 1;
        }
        let mut h = SegmentHeader::new_open(seq, first, prev, 0);
        assert_eq!(h.version, 1);
        if !(open_last && seq == segs) {
            h = SegmentHeader {
                sealed: true,
                block_count: per as u32,
                last_event_id: id - 1,
                event_count: per,
                last_chain: chain,
                ..h
            };
        }
        let mut file = h.encode().to_vec();
        file.extend_from_slice(&body);
        fs::write(dir.join(naming::file_name(seq)), file).expect("write segment");
    }
}

#[test]
fn format_1_is_read_in_every_mode_and_continued_in_format_1() {
    let tmp = env::tempdir_with_prefix("walv1-");
    write_v1_log(tmp.path(), 3, 5, true);
    for mode in MODES {
        let (events, report) = replay(tmp.path(), mode).expect("format 1 replays");
        assert_all(&events, 7, 15);
        assert!(report.is_clean(), "{mode:?}");
    }
    let mut w = Writer::open(tmp.path(), opts()).expect("writer continues a format-1 log");
    assert_eq!(w.next_event_id(), 16);
    for _ in 0..30 {
        let id = w.next_event_id();
        w.append(&payload(7, id)).expect("append");
    }
    w.close().expect("close");
    for p in segments(tmp.path()) {
        assert_eq!(
            (header(&p).version, header(&p).log_id),
            (1, 0),
            "{}",
            p.display()
        );
    }
    for mode in MODES {
        let (events, report) = replay(tmp.path(), mode).expect("continued log replays");
        assert_all(&events, 7, 45);
        assert!(report.is_clean(), "{mode:?}");
    }
}

fn expect_mixed(dir: &Path, a: &str, b: &str) {
    for mode in MODES {
        match replay(dir, mode) {
            Err(Error::MixedLogs { first, other, .. }) => {
                let names = [first, other]
                    .map(|p| p.file_name().expect("name").to_string_lossy().into_owned());
                assert!(
                    names.contains(&a.to_string()) && names.contains(&b.to_string()),
                    "{mode:?}: {names:?}"
                );
            }
            other => panic!(
                "{mode:?}: expected MixedLogs, got {:?}",
                other.map(|(e, _)| e.len())
            ),
        }
    }
    match Writer::open(dir, opts()) {
        Err(Error::MixedLogs { .. }) => {}
        other => panic!("writer: expected MixedLogs, got {other:?}"),
    }
}

#[test]
fn a_segment_of_another_log_is_refused_in_every_mode_and_by_the_writer() {
    let tmp = env::tempdir_with_prefix("walmix-");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // Same layout, same ids, same payloads: only the identity tells the logs apart.
    write_log(&a, 120, 3);
    write_log(&b, 120, 3);
    let name = naming::file_name(3);
    fs::copy(b.join(&name), a.join(&name)).expect("copy a segment of b into a");
    expect_mixed(&a, &naming::file_name(1), &name);
}

#[test]
fn a_format_1_segment_among_format_2_is_refused() {
    let tmp = env::tempdir_with_prefix("walmix1-");
    let (a, v1) = (tmp.path().join("a"), tmp.path().join("v1"));
    write_log(&a, 60, 7);
    write_v1_log(&v1, 1, 5, false);
    let stray = naming::file_name(90);
    fs::copy(v1.join(naming::file_name(1)), a.join(&stray)).expect("copy");
    expect_mixed(&a, &naming::file_name(1), &stray);
}

#[test]
fn a_block_of_another_log_is_caught_in_every_mode() {
    let tmp = env::tempdir_with_prefix("walsplice-");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_log(&a, 120, 3);
    write_log(&b, 120, 3);
    // Block 1 of segment 2: same position, ids and payload in both logs.
    let name = naming::file_name(2);
    let (pa, pb) = (a.join(&name), b.join(&name));
    let ra = SegmentReader::open_verified(&pa).expect("a");
    let e = ra.index()[1];
    let (start, end) = (e.payload_offset - 64, e.payload_end.next_multiple_of(64));
    let theirs = fs::read(&pb).expect("read b")[start..end].to_vec();
    assert_ne!(
        fs::read(&pa).expect("read a")[start..end],
        theirs[..],
        "the blocks differ only by identity and chain"
    );
    fs::File::options()
        .write(true)
        .open(&pa)
        .and_then(|f| f.write_all_at(&theirs, start as u64))
        .expect("splice");
    drop(ra);
    match replay(&a, RecoveryMode::Strict) {
        Err(Error::Corrupt(c)) => {
            assert!(c.detail.contains("block of another log"), "{}", c.detail)
        }
        other => panic!(
            "strict: expected corruption, got {:?}",
            other.map(|(e, _)| e.len())
        ),
    }
    for mode in [RecoveryMode::StopAtCorruption, RecoveryMode::SkipCorrupted] {
        let (events, report) = replay(&a, mode).expect("replays");
        assert!(!report.is_clean(), "{mode:?}: the splice is reported");
        let spliced: Vec<u64> =
            (e.first_event_id..e.first_event_id + u64::from(e.event_count)).collect();
        for (id, p) in &events {
            assert!(
                !spliced.contains(id),
                "{mode:?}: delivered spliced event {id}"
            );
            assert_eq!(*p, payload(3, *id));
        }
    }
}

/// Writes 3 blocks and syncs, then 6 more blocks and flushes without syncing, and leaves the
/// log as a crash would (the writer is forgotten, so it never seals). Returns the segment and
/// the offsets of its blocks.
fn synced_then_unsynced(dir: &Path) -> (PathBuf, Vec<usize>) {
    let mut w = Writer::open(
        dir,
        WriterOptions {
            segment_bytes: 1 << 20,
            block_bytes: 64,
            first_event_id: 1,
        },
    )
    .expect("open");
    for k in 0..9 {
        let id = w.next_event_id();
        w.append(&[id as u8 | 1; 56]).expect("append");
        if k == 2 {
            w.sync().expect("sync");
        }
    }
    w.flush().expect("flush");
    std::mem::forget(w); // a crash: no seal, and the lock goes with the process
    let p = segments(dir).pop().expect("segment");
    let r = SegmentReader::open_verified(&p).expect("verified");
    let offs = r.index().iter().map(|e| e.payload_offset - 64).collect();
    (p, offs)
}

#[test]
fn damage_followed_by_a_valid_block_is_decided_by_the_synced_offset() {
    // Un-synced: the 512-byte sector from block 4's header on (after the sync) lost, reading as
    // zeros, while a later block survived: the torn tail. (A sector is written whole, so what a
    // lost write leaves is the rest of the sector too, not the header alone.)
    let tmp = env::tempdir_with_prefix("walsync-");
    let (p, offs) = synced_then_unsynced(tmp.path());
    assert_eq!(offs.len(), 9);
    let sector_end = (offs[4] / 512 + 1) * 512;
    assert!(offs[8] >= sector_end, "a block after the lost sector");
    let copy = zeroed_copy(tmp.path(), "unsynced", &p, offs[4]..sector_end);
    for mode in MODES {
        let (events, report) =
            replay(&copy, mode).expect("a hole after the last sync is a torn tail");
        assert_eq!(events.len(), 4, "{mode:?}");
        let torn = report.torn_tail.expect("torn tail reported");
        assert_eq!(torn.offset, offs[4] as u64);
        assert!(
            torn.reason.contains("no completed sync covered"),
            "{}",
            torn.reason
        );
    }
    let w = Writer::open(&copy, opts()).expect("the writer reopens");
    assert_eq!(w.next_event_id(), 5);
    drop(w);

    // Un-synced, the header alone zeroed beside its block's record and the next blocks in its
    // sector: not what a lost write leaves, so damage although no sync covered it.
    let copy = zeroed_copy(tmp.path(), "unsynced-header", &p, offs[4]..offs[4] + 64);
    assert_damage(&copy, "the damage is not a lost sector");

    // Synced: block 1 zeroed, while block 4 and later record a sync beyond it: damage.
    let copy = zeroed_copy(tmp.path(), "synced", &p, offs[1]..offs[1] + 64);
    assert_damage(&copy, "so this block was synced");
}

/// A log directory `dir/name` holding a copy of segment `p` with `range` zeroed.
fn zeroed_copy(dir: &Path, name: &str, p: &Path, range: std::ops::Range<usize>) -> PathBuf {
    let copy = dir.join(name);
    fs::create_dir_all(&copy).expect("mkdir");
    let q = copy.join(p.file_name().expect("name"));
    fs::copy(p, &q).expect("copy");
    fs::File::options()
        .write(true)
        .open(&q)
        .and_then(|f| f.write_all_at(&vec![0u8; range.len()], range.start as u64))
        .expect("zero");
    copy
}

/// Strict fails on the log in `dir` with corruption whose detail contains `why`, and the writer
/// refuses the directory.
#[track_caller]
fn assert_damage(dir: &Path, why: &str) {
    match replay(dir, RecoveryMode::Strict) {
        Err(Error::Corrupt(c)) => assert!(c.detail.contains(why), "{}", c.detail),
        other => panic!(
            "strict: expected corruption, got {:?}",
            other.map(|(e, _)| e.len())
        ),
    }
    match Writer::open(dir, opts()) {
        Err(Error::Corrupt(_)) => {}
        other => panic!("writer: expected corruption, got {other:?}"),
    }
}

#[test]
fn the_c_header_states_the_format_versions() {
    let h =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/wal_recovery.h"))
            .expect("read the C header");
    let want = format!(
        "#define WAL_FORMAT_VERSION {}\n",
        wal_recovery::segment::header::FORMAT_VERSION
    );
    assert!(h.contains(&want), "the header must say {want:?}");
    let oldest = format!(
        "#define WAL_FORMAT_VERSION_OLDEST_READ {}\n",
        wal_recovery::segment::header::FORMAT_VERSION_1
    );
    assert!(h.contains(&oldest), "the header must say {oldest:?}");
}

#[test]
fn format_1_damage_followed_by_a_valid_block_is_corruption() {
    let tmp = env::tempdir_with_prefix("walv1d-");
    write_v1_log(tmp.path(), 1, 6, true);
    let p = segments(tmp.path()).pop().expect("segment");
    let r = SegmentReader::open_verified(&p).expect("verified");
    let off = r.index()[2].payload_offset - 64;
    drop(r);
    fs::File::options()
        .write(true)
        .open(&p)
        .and_then(|f| f.write_all_at(&[0u8; 64], off as u64))
        .expect("zero");
    let mut r = SegmentReader::open(&p).expect("open");
    r.verify();
    match r.end() {
        wal_recovery::recovery::segment_reader::SegmentEnd::Corrupt(c) => {
            assert!(
                c.detail.contains("so this is not a torn write"),
                "{}",
                c.detail
            )
        }
        other => panic!("format 1: expected corruption, found {other:?}"),
    }
    match replay(tmp.path(), RecoveryMode::Strict) {
        Err(Error::Corrupt(_)) => {}
        other => panic!(
            "strict: expected corruption, got {:?}",
            other.map(|(e, _)| e.len())
        ),
    }
}
