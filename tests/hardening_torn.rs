//! Torn writes below the file level: what a crash (or power loss) can leave of the *last* write,
//! byte by byte, and what recovery and the reopened writer make of it.
//!
//! * every prefix length of the last block of an unsealed segment — header bytes only, header +
//!   part of the payload, …, up to the full block — for a segment left unsealed by a crash after
//!   `sync()` (`mem::forget(writer)`) and for a sealed segment turned back into its unsealed form
//!   (the state just before the sealing header write). Each must recover with every previous
//!   block intact, the cut block reported as the torn tail, no error in any mode, and a reopened
//!   writer must continue the log cleanly;
//! * a block whose header reached the disk but whose payload is zeros (or partly zeros), and a
//!   block whose payload reached the disk but whose header is zeros → torn tail, never a wrong
//!   payload;
//! * a crash while a new segment is being created: the file exists but is empty, or its header is
//!   zeros, or it holds only its (unsealed) header.

mod hardening_support;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hardening_support::*;
use tempfile::TempDir;
use wal_recovery::recovery::report::RecoveryReport;
use wal_recovery::segment::header::SegmentHeader;
use wal_recovery::{Manager, RecoveryMode, RecoveryOptions, SegmentReader, Writer, WriterOptions};

const MODES: [RecoveryMode; 3] = [
    RecoveryMode::Strict,
    RecoveryMode::StopAtCorruption,
    RecoveryMode::SkipCorrupted,
];
const LIMIT: Duration = Duration::from_secs(10);
const EVENTS: u64 = 150;

fn opts() -> WriterOptions {
    wopts(4096, 512)
}

/// How the unsealed last segment is produced.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// `sync()` then `mem::forget(writer)`.
    ForgottenWriter,
    /// A closed log whose last segment header is rewritten in its unsealed form.
    SealedThenUnsealed,
}

struct Fixture {
    _tmp: TempDir,
    orig: PathBuf,
    last: PathBuf,
    /// (header offset, full length incl. padding, first id) of each block of the last segment.
    blocks: Vec<(u64, u64, u64)>,
    /// Payload length (without padding) of the last block.
    last_payload_len: u64,
}

fn fixture(s: Scenario) -> Fixture {
    let tmp = tempdir("torn");
    let orig = tmp.path().join("orig");
    match s {
        Scenario::ForgottenWriter => write_log(&orig, opts(), EVENTS, 0, Ending::Unsealed),
        Scenario::SealedThenUnsealed => {
            write_log(&orig, opts(), EVENTS, 0, Ending::Sealed);
            let last = wal_files(&orig).pop().expect("segments");
            let h = *SegmentReader::open(&last).expect("open").header();
            assert!(h.sealed);
            // The header as created: same format and log id, sealed-only fields cleared.
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
            OpenOptions::new()
                .write(true)
                .open(&last)
                .expect("open")
                .write_all_at(&open.encode(), 0)
                .expect("unseal");
        }
    }
    let files = wal_files(&orig);
    assert!(files.len() >= 3, "want a multi-segment log");
    let last = files.last().expect("segments").clone();
    let r = SegmentReader::open_verified(&last).expect("open last");
    assert!(!r.header().sealed);
    assert!(
        r.index().len() >= 2,
        "want several blocks in the last segment"
    );
    let blocks = r
        .index()
        .iter()
        .map(|e| {
            let off = (e.payload_offset - 64) as u64;
            (
                off,
                (e.payload_end as u64).next_multiple_of(64) - off,
                e.first_event_id,
            )
        })
        .collect();
    assert_eq!(r.end_event_id(), EVENTS + 1);
    let e = r.index().last().expect("blocks");
    let last_payload_len = (e.payload_end - e.payload_offset) as u64;
    Fixture {
        _tmp: tmp,
        orig,
        last,
        blocks,
        last_payload_len,
    }
}

fn replay_all(dir: &Path, what: &str) -> Vec<(RecoveryMode, Outcome)> {
    MODES
        .iter()
        .map(
            |&mode| match guarded_replay(dir, ropts(mode), 100_000, LIMIT) {
                Run::Done(o) => (mode, *o),
                Run::Panicked(p) => panic!("{what} [{mode:?}]: panic: {p}"),
                Run::Hung => panic!("{what} [{mode:?}]: hang"),
            },
        )
        .collect()
}

/// Asserts a replay delivered exactly `1..end` (right payloads), with no error, and returns the
/// report.
#[track_caller]
fn assert_prefix(o: &Outcome, end: u64, what: &str) -> RecoveryReport {
    assert_eq!(
        (o.open_err.as_deref(), o.end_err.as_deref()),
        (None, None),
        "{what}: errors"
    );
    assert!(
        o.wrong.is_empty(),
        "{what}: wrong payloads [{}]",
        ranges_of(&o.wrong)
    );
    let want: Vec<u64> = (1..end).collect();
    assert!(
        o.ids == want,
        "{what}: delivered [{}], want 1..{end}",
        ranges_of(&o.ids)
    );
    let r = o.report.clone().expect("report");
    assert!(r.is_clean(), "{what}: report not clean: {}", r.to_json());
    r
}

/// After recovery: a new writer opens the damaged log, continues after the last valid event,
/// and the result is one clean contiguous log.
fn assert_reopen_continues(dir: &Path, end: u64, what: &str) {
    let mut w = Writer::open(dir, opts()).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    assert_eq!(
        w.next_event_id(),
        end,
        "{what}: reopened writer continues at the wrong id"
    );
    append_n(&mut w, 20, 0);
    w.close().expect("close");
    let outs = replay_all(dir, what);
    for (mode, o) in &outs {
        let r = assert_prefix(o, end + 20, &format!("{what} after reopen [{mode:?}]"));
        assert!(r.torn_tail.is_none(), "{what}: torn tail left after reopen");
    }
}

fn every_prefix_of_the_last_block(s: Scenario) {
    let f = fixture(s);
    let &(off, full, first_id) = f.blocks.last().expect("blocks");
    let file_len = fs::metadata(&f.last).expect("stat").len();
    assert_eq!(off + full, file_len, "the last block ends the file");
    let work = tempdir("torn-work");
    let name = f.last.file_name().expect("name").to_owned();
    let mut torn = 0;
    for l in 0..=full {
        let what = format!("{s:?}: last block at {off} cut to {l} of {full} bytes");
        let dir = work.path().join(format!("cut{l}"));
        copy_wal_files(&f.orig, &dir);
        OpenOptions::new()
            .write(true)
            .open(dir.join(&name))
            .expect("open")
            .set_len(off + l)
            .expect("truncate");
        let end = if l == full { EVENTS + 1 } else { first_id };
        for (mode, o) in replay_all(&dir, &what) {
            let r = assert_prefix(&o, end, &format!("{what} [{mode:?}]"));
            match (l, l == full, &r.torn_tail) {
                (0, _, None) | (_, true, None) => {}
                (_, false, Some(t)) => {
                    assert_eq!(
                        (t.offset, t.bytes),
                        (off, l),
                        "{what} [{mode:?}]: torn tail"
                    );
                    assert!(t.path.ends_with(&name));
                }
                (_, _, t) => panic!("{what} [{mode:?}]: unexpected torn tail {t:?}"),
            }
        }
        if l > 0 && l < full {
            torn += 1;
        }
        // The writer repairs every cut (reopening is slower: every 7th length, and the ends).
        if l % 7 == 0 || l == 1 || l + 1 >= full {
            assert_reopen_continues(&dir, end, &what);
        }
        fs::remove_dir_all(&dir).expect("cleanup");
    }
    println!("torn[{s:?}]: {} prefix lengths of a {full}-byte last block, {torn} torn tails, every one recovered", full + 1);
}

#[test]
fn every_prefix_of_last_block_forgotten_writer() {
    every_prefix_of_the_last_block(Scenario::ForgottenWriter);
}

#[test]
fn every_prefix_of_last_block_sealed_then_unsealed() {
    every_prefix_of_the_last_block(Scenario::SealedThenUnsealed);
}

/// The block header reached the disk, the payload (or its end) did not: zeros. Torn tail at the
/// block, never a payload of it. The header's sector lost while the rest persisted: torn tail
/// too; the header alone zeroed beside records of its own sector: damage.
#[test]
fn header_written_payload_zeros_is_torn_tail() {
    for s in [Scenario::ForgottenWriter, Scenario::SealedThenUnsealed] {
        let f = fixture(s);
        let &(off, full, first_id) = f.blocks.last().expect("blocks");
        let payload_len = f.last_payload_len;
        let work = tempdir("torn-zero");
        let name = f.last.file_name().expect("name").to_owned();
        let original = fs::read(&f.last).expect("read last segment");
        for from in [0, 8, payload_len / 2 / 8 * 8, payload_len - 8] {
            let region = &original[(off + 64 + from) as usize..(off + 64 + payload_len) as usize];
            if region.iter().all(|&b| b == 0) {
                continue; // already zeros (record padding): nothing torn
            }
            let what = format!(
                "{s:?}: payload of the last block zeroed from byte {from} of {payload_len}"
            );
            let dir = work.path().join(format!("z{from}"));
            copy_wal_files(&f.orig, &dir);
            let zeros = vec![0u8; (payload_len - from) as usize];
            OpenOptions::new()
                .write(true)
                .open(dir.join(&name))
                .expect("open")
                .write_all_at(&zeros, off + 64 + from)
                .expect("zero");
            for (mode, o) in replay_all(&dir, &what) {
                let r = assert_prefix(&o, first_id, &format!("{what} [{mode:?}]"));
                let t = r
                    .torn_tail
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what} [{mode:?}]: no torn tail"));
                assert_eq!((t.offset, t.bytes), (off, full), "{what}");
            }
            assert_reopen_continues(&dir, first_id, &what);
        }
        // Payload present, header zeros, with the rest of the header's 512-byte sector: a lost
        // sector of an un-synced write (reordered persistence).
        let sector_end = (off / 512 + 1) * 512;
        let what = format!("{s:?}: last block header's sector zeroed");
        let dir = work.path().join("hz");
        copy_wal_files(&f.orig, &dir);
        let zeros = vec![0u8; (sector_end.min(off + full) - off) as usize];
        OpenOptions::new()
            .write(true)
            .open(dir.join(&name))
            .expect("open")
            .write_all_at(&zeros, off)
            .expect("zero");
        for (mode, o) in replay_all(&dir, &what) {
            let r = assert_prefix(&o, first_id, &format!("{what} [{mode:?}]"));
            let t = r
                .torn_tail
                .as_ref()
                .unwrap_or_else(|| panic!("{what} [{mode:?}]: no torn tail"));
            assert_eq!((t.offset, t.bytes), (off, full), "{what}");
        }
        assert_reopen_continues(&dir, first_id, &what);
        // The header alone zeroed, the block's first record beside it in the same sector: a
        // disk writes a sector whole, so no crash leaves this. Strict delivers every event before
        // the block and fails there; the writer refuses the directory.
        let what = format!("{s:?}: last block header zeroed alone");
        let beside = &original[(off + 64) as usize..sector_end.min(off + full) as usize];
        assert!(
            beside.iter().any(|&b| b != 0),
            "{what}: its sector holds records"
        );
        let dir = work.path().join("hz-alone");
        copy_wal_files(&f.orig, &dir);
        OpenOptions::new()
            .write(true)
            .open(dir.join(&name))
            .expect("open")
            .write_all_at(&[0u8; 64], off)
            .expect("zero");
        for (mode, o) in replay_all(&dir, &what) {
            assert!(o.wrong.is_empty(), "{what} [{mode:?}]: wrong payloads");
            assert!(
                o.ids == (1..first_id).collect::<Vec<_>>(),
                "{what} [{mode:?}]: delivered [{}], want 1..{first_id}",
                ranges_of(&o.ids)
            );
            let damage = o.end_err.as_deref().map_or_else(
                || o.report.as_ref().is_some_and(|r| !r.is_clean()),
                |e| e.contains("not a torn write"),
            );
            assert!(
                damage,
                "{what} [{mode:?}]: reported as damage: {:?}",
                o.end_err
            );
            if mode == RecoveryMode::Strict {
                assert!(o.end_err.is_some(), "{what}: Strict must fail");
            }
        }
        match Writer::open(&dir, opts()) {
            Err(wal_recovery::Error::Corrupt(_)) => {}
            other => panic!("{what}: the writer must refuse, got {other:?}"),
        }
    }
}

/// A crash right after a roll created the next segment and wrote its (unsealed) header, before
/// any block: an empty unsealed segment ends the log. Nothing is lost; the writer reopens.
#[test]
fn crash_after_new_segment_header() {
    let tmp = tempdir("torn-newseg");
    let dir = tmp.path().join("log");
    write_log(&dir, opts(), EVENTS, 0, Ending::Sealed);
    let files = wal_files(&dir);
    let last = SegmentReader::open_verified(files.last().expect("segments")).expect("open");
    let h = last.header();
    let next = SegmentHeader {
        version: h.version,
        log_id: h.log_id,
        ..SegmentHeader::new_open(
            h.sequence + 1,
            h.last_event_id + 1,
            h.last_chain,
            h.created_unix_ns + 1,
        )
    };
    fs::write(dir.join(seg_name(h.sequence + 1)), next.encode()).expect("write new segment");
    for (mode, o) in replay_all(&dir, "empty unsealed last segment") {
        assert_prefix(
            &o,
            EVENTS + 1,
            &format!("empty unsealed last segment [{mode:?}]"),
        );
    }
    assert_reopen_continues(&dir, EVENTS + 1, "empty unsealed last segment");
}

/// A crash during segment creation: the writer writes and syncs a new segment's header under a
/// temporary name and renames it into place, so a crash before the rename leaves only
/// `<name>.wal.tmp` (empty, partial or zero-filled). Recovery ignores it; the next writer removes
/// it and continues.
fn crash_during_creation(contents: &[u8], what: &str) {
    let tmp = tempdir("torn-create");
    let base = tmp.path().join("base");
    write_log(&base, opts(), EVENTS, 0, Ending::Unsealed);
    // The forgotten writer still holds `base`'s lock: work on a copy, as a restarted process.
    let dir = tmp.path().join("log");
    copy_wal_files(&base, &dir);
    let n = wal_files(&dir).len() as u64;
    let leftover = dir.join(format!("{}.tmp", seg_name(n + 1)));
    fs::write(&leftover, contents).expect("write temporary");
    for (mode, o) in replay_all(&dir, what) {
        assert_prefix(&o, EVENTS + 1, &format!("{what} [{mode:?}]"));
    }
    assert_reopen_continues(&dir, EVENTS + 1, what);
    assert!(
        !leftover.exists(),
        "{what}: the writer removes the leftover temporary"
    );
}

#[test]
fn crash_during_segment_creation_empty_temporary() {
    crash_during_creation(&[], "empty temporary segment");
}

#[test]
fn crash_during_segment_creation_zero_filled_temporary() {
    crash_during_creation(&[0u8; 64], "zero-filled temporary segment");
}

/// A canonically named newest segment with no header cannot be left by a crash (see above), so
/// it is damage of unknown extent: Strict delivers every event before it and then fails naming
/// the file, and the writer refuses to append (it would otherwise reuse ids the damaged file
/// may have held) and leaves the file untouched.
#[test]
fn headerless_newest_segment_is_damage_not_a_torn_write() {
    for (contents, what) in [(&[][..], "empty"), (&[0u8; 64][..], "zero-filled")] {
        let tmp = tempdir("torn-nohdr");
        let base = tmp.path().join("base");
        write_log(&base, opts(), EVENTS, 0, Ending::Unsealed);
        let dir = tmp.path().join("log");
        copy_wal_files(&base, &dir);
        let n = wal_files(&dir).len() as u64;
        let victim = dir.join(seg_name(n + 1));
        fs::write(&victim, contents).expect("write segment");
        let mut m = Manager::open(&dir, RecoveryOptions::default()).expect("open");
        let mut delivered = 0u64;
        let err = loop {
            match m.next() {
                Ok(Some(ev)) => {
                    assert_eq!(ev.payload, &payload(ev.id)[..], "{what}: id {}", ev.id);
                    delivered += 1;
                }
                Ok(None) => panic!("{what}: strict replay must not end cleanly"),
                Err(e) => break e,
            }
        };
        assert_eq!(delivered, EVENTS, "{what}: every event before the damage");
        match err {
            wal_recovery::Error::SegmentUnusable { path, .. } => assert_eq!(path, victim, "{what}"),
            other => panic!("{what}: expected SegmentUnusable, got {other}"),
        }
        drop(m);
        match Writer::open(&dir, opts()) {
            Err(wal_recovery::Error::Corrupt(_)) => {}
            other => panic!("{what}: the writer must refuse, got {other:?}"),
        }
        assert_eq!(
            fs::read(&victim).expect("read"),
            contents,
            "{what}: untouched"
        );
    }
}
