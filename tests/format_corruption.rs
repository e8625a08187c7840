//! Every corruption class a `SegmentReader` must tell apart, each with its exact typed outcome
//! (kind, offset, block index) and with no wrong payload ever returned: everything before the
//! damage reads back byte-exact, nothing at or after it is returned.

mod format_support;

use std::fs;
use std::path::{Path, PathBuf};

use format_support::*;

#[path = "common/craft.rs"]
mod craft;
use wal_recovery::recovery::segment_reader::{SegmentEnd, SegmentReader, TornTail};
use wal_recovery::segment::block::BlockHeader;
use wal_recovery::segment::header::{chain_seed, SegmentHeader};
use wal_recovery::segment::{record, CHAIN_SEED, HEADER_BYTES};
use wal_recovery::{CorruptionKind, Error, Manager, RecoveryOptions};

const SEED: u64 = 0xC088_0001;

/// Writes mutated copies of one segment file, each under a new name (no file is rewritten while
/// a reader may still map it).
struct Scratch {
    dir: PathBuf,
    original: Vec<u8>,
    n: usize,
}

impl Scratch {
    fn new(dir: &Path, original: &Path) -> Self {
        let dir = dir.join("scratch");
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch {
            dir,
            original: fs::read(original).expect("read original"),
            n: 0,
        }
    }

    fn mutate(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
        let mut b = self.original.clone();
        f(&mut b);
        self.n += 1;
        let p = self.dir.join(format!("m{:06}.wal", self.n));
        fs::write(&p, &b).expect("write mutated copy");
        p
    }
}

/// A sealed segment of many small blocks (ids from 1) and its log.
fn sealed_fixture(dir: &Path) -> (PathBuf, Vec<Ev>) {
    let log = sealed_log(&dir.join("sealed"), wopts(1 << 20, 256), SEED, 120, 100);
    let files = wal_files(&dir.join("sealed"));
    assert_eq!(files.len(), 1);
    (files[0].clone(), log)
}

/// An unsealed segment (snapshot taken after `sync`, before the writer sealed it) and its log.
fn unsealed_fixture(dir: &Path) -> (PathBuf, Vec<Ev>) {
    let snap = dir.join("unsealed");
    let log = unsealed_snapshot(
        &dir.join("live"),
        &snap,
        wopts(1 << 20, 256),
        SEED + 1,
        120,
        100,
    );
    let files = wal_files(&snap);
    assert_eq!(files.len(), 1);
    let r = SegmentReader::open_verified(&files[0]).expect("open");
    assert!(!r.header().sealed, "snapshot must be unsealed");
    assert_eq!(r.end(), &SegmentEnd::Clean);
    (files[0].clone(), log)
}

type HeaderEdit = Box<dyn Fn(&mut [u8; 64])>;

/// Boxes a header edit (a helper so closure parameter types are inferred).
fn edit(f: impl Fn(&mut [u8; 64]) + 'static) -> HeaderEdit {
    Box::new(f)
}

fn seg_header_crc(b: &[u8; 64]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&b[0..8]), &b[12..64])
}

fn block_header_crc(b: &[u8; 64]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&b[0..32]), &b[36..64])
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn header64(b: &[u8], off: u64) -> [u8; 64] {
    b[off as usize..off as usize + 64]
        .try_into()
        .expect("64 bytes")
}

/// Edits the block header at `off` of `bytes` with `f`, then recomputes its self-checksum.
fn edit_block_header(bytes: &mut [u8], off: u64, f: impl FnOnce(&mut [u8; 64])) {
    let mut h = header64(bytes, off);
    f(&mut h);
    let crc = block_header_crc(&h);
    put_u32(&mut h, 32, crc);
    bytes[off as usize..off as usize + 64].copy_from_slice(&h);
}

/// Edits the segment header of `bytes` with `f`, then recomputes its checksum.
fn edit_segment_header(bytes: &mut [u8], f: impl FnOnce(&mut [u8; 64])) {
    let mut h = header64(bytes, 0);
    f(&mut h);
    let crc = seg_header_crc(&h);
    put_u32(&mut h, 8, crc);
    bytes[..64].copy_from_slice(&h);
}

/// Asserts opening `path` fails with a corruption of `kind` at offset 0 of that file.
#[track_caller]
fn assert_open_fails(path: &Path, kind: CorruptionKind) {
    match SegmentReader::open(path) {
        Ok(r) => panic!(
            "{}: open succeeded (header {:?}), expected {kind:?}",
            path.display(),
            r.header()
        ),
        Err(e) => {
            let c = expect_corrupt_err(&e);
            assert_eq!((c.kind, c.offset, c.block), (kind, 0, None), "{e}");
            assert_eq!(c.path, path);
        }
    }
}

/// Verifies `path` and asserts it is corrupt with `kind` at block `k` (layout `b`), with blocks
/// before `k` as the valid prefix and exactly their events readable.
#[track_caller]
fn assert_block_corrupt(
    path: &Path,
    log: &[Ev],
    blocks: &[BlockLayout],
    k: usize,
    kind: CorruptionKind,
) {
    let b = blocks[k];
    let mut r = SegmentReader::open_verified(path).expect("open");
    let c = expect_corrupt(r.end()).clone();
    assert_eq!(
        (c.kind, c.offset, c.block),
        (kind, b.off, Some(k as u64)),
        "{c}"
    );
    assert_eq!(c.path, path);
    assert_valid_prefix(&mut r, log, k, b.off);
}

/// The reader's valid prefix is exactly blocks `0..k`, ending at file offset `valid_len`, and
/// reading yields exactly their events, then `None`.
#[track_caller]
fn assert_valid_prefix(r: &mut SegmentReader, log: &[Ev], k: usize, valid_len: u64) {
    assert_eq!(r.index().len(), k, "valid blocks");
    assert_eq!(r.valid_len(), valid_len, "valid length");
    let first = r.first_event_id();
    let end = r.end_event_id();
    let got = read_all(r);
    let want = ids_in(log, first, end);
    assert_events(&got, &want);
    assert_eq!(got.len() as u64, r.event_count());
    assert!(r.next().expect("next").is_none());
}

/// The first block index whose extent `[off, next_off)` contains `cut`.
fn block_at(blocks: &[BlockLayout], cut: u64) -> Option<usize> {
    blocks.iter().position(|b| b.off <= cut && cut < b.next_off)
}

// ---------------------------------------------------------------------------------------------
// Segment header

#[test]
fn segment_header_every_bit_flip() {
    let tmp = fast_tempdir();
    let (sealed, _) = sealed_fixture(tmp.path());
    let (unsealed, _) = unsealed_fixture(tmp.path());
    for (i, original) in [sealed, unsealed].into_iter().enumerate() {
        let mut s = Scratch::new(&tmp.path().join(format!("s{i}")), &original);
        for byte in 0..64 {
            for bit in 0..8 {
                let p = s.mutate(|b| b[byte] ^= 1 << bit);
                // Magic is checked first; every other byte (version, size, flags, the CRC itself,
                // counts, ids, time, chain values) is covered by the header CRC.
                let kind = if byte < 4 {
                    CorruptionKind::HeaderMagic
                } else {
                    CorruptionKind::HeaderChecksum
                };
                assert_open_fails(&p, kind);
            }
        }
    }
}

#[test]
fn segment_header_field_checks_behind_a_valid_crc() {
    let tmp = fast_tempdir();
    let (sealed, _) = sealed_fixture(tmp.path());
    let (unsealed, _) = unsealed_fixture(tmp.path());
    let mut s = Scratch::new(tmp.path(), &sealed);
    let cases: Vec<(&str, HeaderEdit, CorruptionKind)> = vec![
        (
            "version 3",
            edit(|h| h[4] = 3),
            CorruptionKind::HeaderVersion,
        ),
        (
            "version 0",
            edit(|h| h[4] = 0),
            CorruptionKind::HeaderVersion,
        ),
        (
            "header size 63",
            edit(|h| h[5] = 63),
            CorruptionKind::HeaderVersion,
        ),
        (
            "unknown flag",
            edit(|h| h[6] |= 2),
            CorruptionKind::HeaderField,
        ),
        (
            "high flag",
            edit(|h| h[7] |= 0x80),
            CorruptionKind::HeaderField,
        ),
        (
            "first id 0",
            edit(|h| put_u64(h, 24, 0)),
            CorruptionKind::HeaderField,
        ),
        // Format 2 keeps the log id where format 1 kept the (redundant) last id.
        (
            "log id 0",
            edit(|h| put_u64(h, 32, 0)),
            CorruptionKind::HeaderField,
        ),
        (
            "events without blocks",
            edit(|h| put_u32(h, 12, 0)),
            CorruptionKind::HeaderField,
        ),
        (
            "first + count overflows",
            edit(|h| {
                put_u64(h, 24, u64::MAX - 1);
                put_u64(h, 32, u64::MAX);
            }),
            CorruptionKind::HeaderField,
        ),
    ];
    for (what, f, kind) in &cases {
        let p = s.mutate(|b| edit_segment_header(b, f));
        match SegmentReader::open(&p) {
            Ok(_) => panic!("{what}: open succeeded"),
            Err(e) => assert_eq!(expect_corrupt_err(&e).kind, *kind, "{what}: {e}"),
        }
    }
    // An unsealed header must not carry sealed-only fields.
    let mut s = Scratch::new(&tmp.path().join("u"), &unsealed);
    for (what, off) in [
        ("block count", 12usize),
        ("event count", 40),
        ("last chain", 60),
    ] {
        let p = s.mutate(|b| edit_segment_header(b, |h| h[off] = 1));
        match SegmentReader::open(&p) {
            Ok(_) => panic!("unsealed with {what} set: open succeeded"),
            Err(e) => assert_eq!(
                expect_corrupt_err(&e).kind,
                CorruptionKind::HeaderField,
                "{what}: {e}"
            ),
        }
    }
    // Files too short for a header.
    for len in [0usize, 1, 63] {
        let p = s.mutate(|b| b.truncate(len));
        assert_open_fails(&p, CorruptionKind::TooShort);
    }
}

// ---------------------------------------------------------------------------------------------
// Block header, payload, padding, chain

#[test]
fn block_header_every_bit_flip() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    assert!(blocks.len() >= 10, "{} blocks", blocks.len());
    let mut s = Scratch::new(tmp.path(), &path);
    for k in [0, blocks.len() / 2, blocks.len() - 1] {
        for byte in 0..64u64 {
            for bit in 0..8 {
                let p = s.mutate(|b| b[(blocks[k].off + byte) as usize] ^= 1 << bit);
                // Magic first; then the header CRC covers everything else, including the chain
                // value (28..32), the CRC itself (32..36) and the reserved bytes.
                let kind = if byte < 4 {
                    CorruptionKind::BlockMagic
                } else {
                    CorruptionKind::BlockHeaderChecksum
                };
                assert_block_corrupt(&p, &log, &blocks, k, kind);
            }
        }
    }
}

#[test]
fn payload_and_padding_bit_flips() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let mut s = Scratch::new(tmp.path(), &path);
    let mut rng = Rng::new(SEED);
    let mut padded = 0;
    for (k, b) in blocks.iter().enumerate() {
        // Every payload byte of the first, a middle and the last block; a sample elsewhere.
        let every = k == 0 || k == blocks.len() / 2 || k == blocks.len() - 1;
        for off in b.payload_off..b.payload_end {
            if !every && !rng.chance(1, 16) {
                continue;
            }
            let bit = rng.below(8) as u8;
            let p = s.mutate(|bytes| bytes[off as usize] ^= 1 << bit);
            assert_block_corrupt(&p, &log, &blocks, k, CorruptionKind::PayloadChecksum);
        }
        // Block padding (payload end up to the next 64-byte boundary) must be zero.
        for off in b.payload_end..b.next_off {
            padded += 1;
            let p = s.mutate(|bytes| bytes[off as usize] = 0x01);
            assert_block_corrupt(&p, &log, &blocks, k, CorruptionKind::Padding);
        }
    }
    assert!(padded > 0, "fixture should have padded blocks");
}

#[test]
fn block_field_checks_behind_a_valid_header_crc() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let mut s = Scratch::new(tmp.path(), &path);
    for k in [0, 3, blocks.len() - 1] {
        let off = blocks[k].off;
        let cases: Vec<(&str, HeaderEdit, CorruptionKind)> = vec![
            (
                "index + 1",
                edit(move |h| put_u32(h, 4, k as u32 + 1)),
                CorruptionKind::BlockIndex,
            ),
            (
                "first id + 1",
                edit(|h| h[8] = h[8].wrapping_add(1)),
                CorruptionKind::BlockIds,
            ),
            (
                "first id 0",
                edit(|h| put_u64(h, 8, 0)),
                CorruptionKind::BlockIds,
            ),
            (
                "ids overflow",
                edit(|h| put_u64(h, 8, u64::MAX)),
                CorruptionKind::BlockIds,
            ),
            (
                "count 0",
                edit(|h| put_u32(h, 16, 0)),
                CorruptionKind::BlockLength,
            ),
            (
                "count > len / 8",
                edit(|h| put_u32(h, 16, 1_000_000)),
                CorruptionKind::BlockLength,
            ),
            (
                "len not aligned",
                edit(|h| h[20] ^= 4),
                CorruptionKind::BlockLength,
            ),
            (
                "len > 16 MiB",
                edit(|h| put_u32(h, 20, (16 << 20) + 8)),
                CorruptionKind::BlockLength,
            ),
            // Format 2: 36..44 synced offset, 44..52 log id, 52..64 reserved.
            (
                "log id",
                edit(|h| h[44] ^= 1),
                CorruptionKind::ChainMismatch,
            ),
            (
                "first reserved byte",
                edit(|h| h[52] = 1),
                CorruptionKind::Padding,
            ),
            (
                "middle reserved byte",
                edit(|h| h[58] = 0x80),
                CorruptionKind::Padding,
            ),
            (
                "last reserved byte",
                edit(|h| h[63] = 1),
                CorruptionKind::Padding,
            ),
            (
                "chain",
                edit(|h| h[28] ^= 0x10),
                CorruptionKind::ChainMismatch,
            ),
            (
                "payload crc",
                edit(|h| h[24] ^= 1),
                CorruptionKind::ChainMismatch,
            ),
        ];
        for (what, f, kind) in &cases {
            let p = s.mutate(|b| edit_block_header(b, off, f));
            let r = SegmentReader::open_verified(&p).expect("open");
            let c = expect_corrupt(r.end());
            assert_eq!(
                (c.kind, c.offset, c.block),
                (*kind, off, Some(k as u64)),
                "block {k}, {what}: {c}"
            );
            drop(r);
            assert_block_corrupt(&p, &log, &blocks, k, *kind);
        }
    }
}

/// A chain value that does not extend the previous block's, in a header whose own CRC is right.
#[test]
fn chain_mismatch_with_reencoded_header() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let bytes = fs::read(&path).expect("read");
    let mut s = Scratch::new(tmp.path(), &path);
    for k in [0, 1, blocks.len() / 2, blocks.len() - 1] {
        let off = blocks[k].off;
        let good = BlockHeader::decode(&header64(&bytes, off)).expect("decode");
        let bad = BlockHeader {
            chain: good.chain ^ 0x8000_0001,
            ..good
        };
        let p = s.mutate(|b| b[off as usize..off as usize + 64].copy_from_slice(&bad.encode()));
        assert_block_corrupt(&p, &log, &blocks, k, CorruptionKind::ChainMismatch);
        // Same, built from the payload with a wrong previous chain value.
        let payload = &bytes[blocks[k].payload_off as usize..blocks[k].payload_end as usize];
        let wrong_prev = BlockHeader::for_payload(
            good.index,
            good.first_event_id,
            good.event_count,
            payload,
            0xDEAD_BEEF,
        );
        assert_eq!(wrong_prev.payload_crc, good.payload_crc);
        let p =
            s.mutate(|b| b[off as usize..off as usize + 64].copy_from_slice(&wrong_prev.encode()));
        assert_block_corrupt(&p, &log, &blocks, k, CorruptionKind::ChainMismatch);
    }
}

/// A segment header whose `prev_chain` is not what its first block extends (e.g. a segment
/// re-headed or moved from another log): the first block fails the chain check, no event is read.
#[test]
fn chain_mismatch_from_segment_prev_chain() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let mut s = Scratch::new(tmp.path(), &path);
    let h = SegmentReader::open(&path)
        .expect("open")
        .header()
        .to_owned();
    assert_eq!(
        h.prev_chain,
        chain_seed(h.log_id),
        "format 2 seeds the chain"
    );
    let p = s.mutate(|b| {
        b[..64].copy_from_slice(
            &SegmentHeader {
                prev_chain: 0x1234_5678,
                ..h
            }
            .encode(),
        )
    });
    assert_block_corrupt(&p, &log, &blocks, 0, CorruptionKind::ChainMismatch);
}

/// A block rewritten consistently (new payload, correct payload CRC, header CRC and chain from
/// its predecessor) cannot be detected on its own: the chain detects it at the *next* block
/// (or, for the last block of a sealed segment, at the header's last chain value).
#[test]
fn replaced_block_breaks_the_chain_of_its_successor() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let bytes = fs::read(&path).expect("read");
    let mut s = Scratch::new(tmp.path(), &path);
    for k in [0, blocks.len() / 2, blocks.len() - 1] {
        let b = blocks[k];
        let good = BlockHeader::decode(&header64(&bytes, b.off)).expect("decode");
        let prev_chain = if k == 0 {
            SegmentReader::open(&path)
                .expect("open")
                .header()
                .prev_chain
        } else {
            BlockHeader::decode(&header64(&bytes, blocks[k - 1].off))
                .expect("decode")
                .chain
        };
        // Same record lengths, different bytes: framing stays valid.
        let mut payload = bytes[b.payload_off as usize..b.payload_end as usize].to_vec();
        let mut pos = 0;
        while let Some((start, end, next)) = record::decode_at(&payload, pos) {
            payload[start..end].iter_mut().for_each(|x| *x = !*x);
            pos = next;
            if pos == payload.len() {
                break;
            }
        }
        let forged = BlockHeader::for_payload(
            good.index,
            good.first_event_id,
            good.event_count,
            &payload,
            prev_chain,
        )
        .with_identity(good.log_id, good.synced_offset);
        assert_ne!(forged.chain, good.chain);
        let p = s.mutate(|bytes| {
            bytes[b.off as usize..b.off as usize + 64].copy_from_slice(&forged.encode());
            bytes[b.payload_off as usize..b.payload_end as usize].copy_from_slice(&payload);
        });
        let mut r = SegmentReader::open_verified(&p).expect("open");
        if k + 1 < blocks.len() {
            let c = expect_corrupt(r.end()).clone();
            let next = blocks[k + 1];
            assert_eq!(
                (c.kind, c.offset, c.block),
                (CorruptionKind::ChainMismatch, next.off, Some(k as u64 + 1))
            );
            // Blocks before the forged one are exact; the forged block itself verified on its
            // own, so it is part of the valid prefix (the chain cannot say which of the two
            // neighbours was replaced).
            let got = read_all(&mut r);
            assert_eq!(got.len() as u64, next.first_id - 1);
            assert_events(
                &got[..(b.first_id - 1) as usize],
                &ids_in(&log, 1, b.first_id),
            );
        } else {
            let c = expect_corrupt(r.end()).clone();
            assert_eq!(
                (c.kind, c.offset, c.block),
                (CorruptionKind::SealedMismatch, 0, None),
                "{c}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Truncation and trailing data of sealed segments

/// Cutting a sealed segment anywhere: inside the segment header it cannot be opened (TooShort);
/// anywhere else — inside a block header, a payload, padding, or exactly on a block boundary — it
/// is `Truncated` at the first incomplete or missing block.
#[test]
fn sealed_truncated_at_every_offset() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let len = file_len(&path);
    let mut s = Scratch::new(tmp.path(), &path);
    for cut in 0..len {
        let p = s.mutate(|b| b.truncate(cut as usize));
        if cut < HEADER_BYTES as u64 {
            assert_open_fails(&p, CorruptionKind::TooShort);
            continue;
        }
        let k = block_at(&blocks, cut).expect("cut inside the blocks");
        let mut r = SegmentReader::open_verified(&p).expect("open");
        let c = expect_corrupt(r.end()).clone();
        assert_eq!(
            (c.kind, c.offset, c.block),
            (CorruptionKind::Truncated, blocks[k].off, Some(k as u64)),
            "cut {cut}: {c}"
        );
        assert_valid_prefix(&mut r, &log, k, blocks[k].off);
    }
}

/// A sealed segment shorter than its header claims, cut on a block boundary: the missing blocks
/// are reported as truncation (not a torn tail, not a clean end).
#[test]
fn sealed_shorter_than_header_claims() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let n = blocks.len();
    let mut s = Scratch::new(tmp.path(), &path);
    for k in [0, 1, n / 2, n - 1] {
        let p = s.mutate(|b| b.truncate(blocks[k].off as usize));
        let mut r = SegmentReader::open_verified(&p).expect("open");
        assert!(r.header().sealed);
        assert_eq!(r.header().block_count as usize, n);
        let c = expect_corrupt(r.end()).clone();
        assert_eq!(
            (c.kind, c.offset, c.block),
            (CorruptionKind::Truncated, blocks[k].off, Some(k as u64))
        );
        assert!(
            c.detail.contains(&format!("{k} of {n} blocks")),
            "{}",
            c.detail
        );
        assert_valid_prefix(&mut r, &log, k, blocks[k].off);
    }
}

/// Bytes after a sealed segment's last block: `TrailingData` at the end of the last block; every
/// event is still readable (the blocks all verified).
#[test]
fn sealed_trailing_data() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let len = file_len(&path);
    let bytes = fs::read(&path).expect("read");
    let n = blocks.len();
    let last = blocks[n - 1];
    // A perfectly valid block n continuing ids and chain, appended after sealing.
    let last_h = BlockHeader::decode(&header64(&bytes, last.off)).expect("decode");
    let mut payload = Vec::new();
    record::encode_into(&mut payload, b"appended after sealing");
    let extra = BlockHeader::for_payload(n as u32, last.end_id(), 1, &payload, last_h.chain);
    let mut extra_block = extra.encode().to_vec();
    extra_block.extend_from_slice(&payload);
    extra_block.resize(extra_block.len().next_multiple_of(64), 0);

    let mut s = Scratch::new(tmp.path(), &path);
    let tails: Vec<(&str, Vec<u8>)> = vec![
        ("one byte", vec![0x55]),
        ("one zero byte", vec![0]),
        ("zero block", vec![0; 64]),
        ("zero page", vec![0; 4096]),
        (
            "a copy of the last block",
            bytes[last.off as usize..last.next_off as usize].to_vec(),
        ),
        ("a valid next block", extra_block),
    ];
    for (what, tail) in tails {
        let p = s.mutate(|b| b.extend_from_slice(&tail));
        let mut r = SegmentReader::open_verified(&p).expect("open");
        let c = expect_corrupt(r.end()).clone();
        assert_eq!(
            (c.kind, c.offset, c.block),
            (CorruptionKind::TrailingData, len, None),
            "{what}: {c}"
        );
        assert_valid_prefix(&mut r, &log, n, len);
    }
}

/// Header totals that disagree with the blocks.
#[test]
fn sealed_header_totals_mismatch() {
    let tmp = fast_tempdir();
    let (path, log) = sealed_fixture(tmp.path());
    let blocks = layout(&path);
    let n = blocks.len();
    let h = *SegmentReader::open(&path).expect("open").header();
    let mut s = Scratch::new(tmp.path(), &path);
    let mismatches = [
        (
            "last chain",
            SegmentHeader {
                last_chain: h.last_chain ^ 1,
                ..h
            },
        ),
        (
            "one event more",
            SegmentHeader {
                event_count: h.event_count + 1,
                last_event_id: h.last_event_id + 1,
                ..h
            },
        ),
        (
            "one event less",
            SegmentHeader {
                event_count: h.event_count - 1,
                last_event_id: h.last_event_id - 1,
                ..h
            },
        ),
        (
            "one block less, totals unchanged",
            SegmentHeader {
                block_count: h.block_count - 1,
                ..h
            },
        ),
    ];
    for (what, bad) in mismatches {
        let p = s.mutate(|b| b[..64].copy_from_slice(&bad.encode()));
        let mut r = SegmentReader::open_verified(&p).expect("open");
        let c = expect_corrupt(r.end()).clone();
        assert_eq!(
            (c.kind, c.offset, c.block),
            (CorruptionKind::SealedMismatch, 0, None),
            "{what}: {c}"
        );
        let k = bad.block_count as usize;
        assert_valid_prefix(&mut r, &log, k, blocks[k - 1].next_off);
    }
    // A header sealed one block early but with totals matching that prefix: the last block is
    // then data after the sealed end.
    let bytes = fs::read(&path).expect("read");
    let prev = BlockHeader::decode(&header64(&bytes, blocks[n - 2].off)).expect("decode");
    let early = SegmentHeader {
        block_count: h.block_count - 1,
        event_count: h.event_count - u64::from(blocks[n - 1].count),
        last_event_id: blocks[n - 1].first_id - 1,
        last_chain: prev.chain,
        ..h
    };
    let p = s.mutate(|b| b[..64].copy_from_slice(&early.encode()));
    let mut r = SegmentReader::open_verified(&p).expect("open");
    let c = expect_corrupt(r.end()).clone();
    assert_eq!(
        (c.kind, c.offset, c.block),
        (CorruptionKind::TrailingData, blocks[n - 1].off, None),
        "{c}"
    );
    assert_valid_prefix(&mut r, &log, n - 1, blocks[n - 1].off);
}

// ---------------------------------------------------------------------------------------------
// Unsealed segments: torn tails versus corruption

#[track_caller]
fn assert_torn(r: &SegmentReader, offset: u64, bytes: u64) -> TornTail {
    match r.end() {
        SegmentEnd::TornTail(t) => {
            assert_eq!((t.offset, t.bytes), (offset, bytes), "{t:?}");
            t.clone()
        }
        other => panic!("expected a torn tail at {offset} ({bytes} bytes), found {other:?}"),
    }
}

/// Cutting an unsealed segment anywhere after its header: on a block boundary the prefix is
/// clean; anywhere else the partial block is a torn tail starting at that block, `bytes` long up
/// to the end of the file.
#[test]
fn unsealed_truncated_at_every_offset() {
    let tmp = fast_tempdir();
    let (path, log) = unsealed_fixture(tmp.path());
    let blocks = layout(&path);
    let len = file_len(&path);
    let mut s = Scratch::new(tmp.path(), &path);
    for cut in HEADER_BYTES as u64..=len {
        let p = s.mutate(|b| b.truncate(cut as usize));
        let mut r = SegmentReader::open_verified(&p).expect("open");
        let k = match blocks.iter().position(|b| b.off == cut) {
            Some(k) => {
                assert_eq!(r.end(), &SegmentEnd::Clean, "cut {cut} on a block boundary");
                k
            }
            None if cut == len => {
                assert_eq!(r.end(), &SegmentEnd::Clean);
                blocks.len()
            }
            None => {
                let k = block_at(&blocks, cut).expect("inside a block");
                // (The reason text is not pinned: it currently reads "sealed segment
                // truncated", the name of the Truncated kind, although the segment is unsealed.)
                assert_torn(&r, blocks[k].off, cut - blocks[k].off);
                k
            }
        };
        let valid_len = blocks.get(k).map_or(len, |b| b.off);
        assert_valid_prefix(&mut r, &log, k, valid_len);
        assert_eq!(r.file_len(), cut);
    }
}

/// Zeros after the last block of an unsealed segment (a file extended but never written): a
/// torn tail at the old end, reported as zero-filled; the whole prefix is readable.
#[test]
fn unsealed_zero_filled_tail() {
    let tmp = fast_tempdir();
    let (path, log) = unsealed_fixture(tmp.path());
    let blocks = layout(&path);
    let len = file_len(&path);
    let mut s = Scratch::new(tmp.path(), &path);
    for zeros in [1usize, 8, 63, 64, 65, 4096, 3 * 4096 + 17] {
        let p = s.mutate(|b| b.resize(b.len() + zeros, 0));
        let mut r = SegmentReader::open_verified(&p).expect("open");
        let t = assert_torn(&r, len, zeros as u64);
        assert_eq!(t.reason, "zero-filled block");
        assert_valid_prefix(&mut r, &log, blocks.len(), len);
    }
    // Zeros over the end of the last block too (its tail never reached the disk).
    let last = *blocks.last().expect("blocks");
    let p = s.mutate(|b| {
        b[last.payload_off as usize + 3..]
            .iter_mut()
            .for_each(|x| *x = 0)
    });
    let mut r = SegmentReader::open_verified(&p).expect("open");
    let t = assert_torn(&r, last.off, len - last.off);
    assert_eq!(t.reason, CorruptionKind::PayloadChecksum.as_str());
    assert_valid_prefix(&mut r, &log, blocks.len() - 1, last.off);
    // Its header and the rest of the header's 512-byte sector zeroed, whatever follows: a lost
    // sector.
    let off = last.off as usize;
    let p = s.mutate(|b| {
        let end = sector_end(off).min(b.len());
        b[off..end].fill(0)
    });
    let mut r = SegmentReader::open_verified(&p).expect("open");
    assert_torn(&r, last.off, len - last.off);
    assert_valid_prefix(&mut r, &log, blocks.len() - 1, last.off);
    // And a last block zeroed entirely, followed by more zeros.
    let p = s.mutate(|b| {
        b[last.off as usize..].iter_mut().for_each(|x| *x = 0);
        b.resize(b.len() + 4096, 0);
    });
    let mut r = SegmentReader::open_verified(&p).expect("open");
    let t = assert_torn(&r, last.off, len + 4096 - last.off);
    assert_eq!(t.reason, "zero-filled block");
    assert_valid_prefix(&mut r, &log, blocks.len() - 1, last.off);
}

/// Garbage after the last block of an unsealed segment, a changed byte in its last block, or
/// its header zeroed beside its records in one sector, is corruption, not a torn tail: an
/// interrupted append leaves a *prefix* of its block (the file ends inside it, or zeros follow)
/// or loses whole sectors, never other bytes. So Strict never ends clean on it. The valid
/// prefix before it is still delivered.
#[test]
fn unsealed_damaged_last_block_is_corruption() {
    let tmp = fast_tempdir();
    let (path, log) = unsealed_fixture(tmp.path());
    let blocks = layout(&path);
    let len = file_len(&path);
    let last = *blocks.last().expect("blocks");
    let n = blocks.len();
    let mut s = Scratch::new(tmp.path(), &path);
    let mut rng = Rng::new(SEED);
    let garbage: Vec<u8> = (0..300).map(|_| rng.next_u64() as u8).collect();
    let p = s.mutate(|b| b.extend_from_slice(&garbage));
    let mut r = SegmentReader::open_verified(&p).expect("open");
    let c = expect_corrupt(r.end()).clone();
    assert_eq!((c.offset, c.block), (len, Some(n as u64)), "{c}");
    assert!(c.detail.contains("not a torn write"), "{c}");
    assert_valid_prefix(&mut r, &log, n, len);
    // The same garbage cut to a prefix of zeros is what a torn write leaves.
    let p = s.mutate(|b| b.extend_from_slice(&[0u8; 300]));
    let mut r = SegmentReader::open_verified(&p).expect("open");
    assert_torn(&r, len, 300);
    assert_valid_prefix(&mut r, &log, n, len);

    for (what, off, kind) in [
        ("header", last.off + 20, CorruptionKind::BlockHeaderChecksum),
        (
            "payload",
            last.payload_off + 1,
            CorruptionKind::PayloadChecksum,
        ),
    ] {
        let p = s.mutate(|b| b[off as usize] ^= 0x40);
        let mut r = SegmentReader::open_verified(&p).expect("open");
        let c = expect_corrupt(r.end()).clone();
        assert_eq!(
            (c.kind, c.offset, c.block),
            (kind, last.off, Some(n as u64 - 1)),
            "damaged {what}: {c}"
        );
        assert_valid_prefix(&mut r, &log, n - 1, last.off);
    }

    // Its header alone zeroed, its first record beside it in the same 512-byte sector: a disk
    // writes a sector whole, so no crash leaves this (the torn side: `unsealed_zero_filled_tail`).
    let off = last.off as usize;
    let p = s.mutate(|b| b[off..off + HEADER_BYTES].fill(0));
    assert_ne!(
        fs::read(&p).expect("read")[off + HEADER_BYTES],
        0,
        "a record follows"
    );
    let mut r = SegmentReader::open_verified(&p).expect("open");
    let c = expect_corrupt(r.end()).clone();
    assert_eq!(
        (c.kind, c.offset, c.block),
        (CorruptionKind::BlockMagic, last.off, Some(n as u64 - 1)),
        "{c}"
    );
    assert!(c.detail.contains("not a torn write"), "{c}");
    assert_valid_prefix(&mut r, &log, n - 1, last.off);
}

/// Damage followed by a valid block in an unsealed segment whose blocks record no completed
/// sync beyond it (format 2: the fixture syncs once, after its last block). A changed byte is
/// still corruption: a lost write reads as zeros. A hole is the torn tail — an un-synced write
/// that a power loss dropped while later ones persisted — when it is what lost sectors leave:
/// the block's header and the rest of its 512-byte sector read as zeros. A zeroed block beside
/// the next block's bytes in one sector is not (a disk writes a sector whole). (Damage a
/// later block proves synced is corruption whatever its shape:
/// `format_v2::damage_followed_by_a_valid_block_is_decided_by_the_synced_offset`; format 1,
/// which cannot tell, calls the hole corruption too:
/// `format_v2::format_1_damage_followed_by_a_valid_block_is_corruption`.)
#[test]
fn unsealed_damage_followed_by_unsynced_valid_blocks_hole_or_damage() {
    let tmp = fast_tempdir();
    let (path, log) = unsealed_fixture(tmp.path());
    let blocks = layout(&path);
    let n = blocks.len();
    let mut s = Scratch::new(tmp.path(), &path);
    for k in [0, n / 2, n - 2] {
        let b = blocks[k];
        let cases: Vec<(CorruptionKind, PathBuf)> = vec![
            (
                CorruptionKind::PayloadChecksum,
                s.mutate(|x| x[b.payload_off as usize] ^= 1),
            ),
            (
                CorruptionKind::BlockHeaderChecksum,
                s.mutate(|x| x[b.off as usize + 9] ^= 1),
            ),
            (
                CorruptionKind::BlockMagic,
                s.mutate(|x| x[b.off as usize] ^= 1),
            ),
            // A hole: the whole block zeroed, valid blocks after it.
            (
                CorruptionKind::BlockMagic,
                s.mutate(|x| x[b.off as usize..b.next_off as usize].fill(0)),
            ),
            // Lost sectors: the block and the rest of its header's sector zeroed.
            (
                CorruptionKind::BlockMagic,
                s.mutate(|x| {
                    let end = (b.next_off as usize).max(sector_end(b.off as usize));
                    x[b.off as usize..end].fill(0)
                }),
            ),
        ];
        for (kind, p) in cases {
            let hole = kind == CorruptionKind::BlockMagic && {
                let bytes = fs::read(&p).expect("read");
                let end = sector_end(b.off as usize).min(bytes.len());
                bytes[b.off as usize..end].iter().all(|&x| x == 0)
            };
            let mut r = SegmentReader::open_verified(&p).expect("open");
            match (hole, r.end().clone()) {
                (true, SegmentEnd::TornTail(t)) => {
                    assert_eq!(t.offset, b.off, "block {k}");
                    assert!(
                        t.reason.contains("no completed sync covered"),
                        "block {k}: {}",
                        t.reason
                    );
                }
                (false, SegmentEnd::Corrupt(c)) => {
                    assert_eq!((c.kind, c.offset, c.block), (kind, b.off, Some(k as u64)));
                    assert!(
                        c.detail.contains("the damage is not a lost sector"),
                        "block {k}: {}",
                        c.detail
                    );
                }
                (hole, other) => panic!("block {k} ({kind:?}, hole {hole}): found {other:?}"),
            }
            assert_valid_prefix(&mut r, &log, k, b.off);
        }
    }
}

/// Where the 512-byte sector holding file offset `off` ends.
fn sector_end(off: usize) -> usize {
    (off / 512 + 1) * 512
}

// ---------------------------------------------------------------------------------------------
// Record framing inside blocks whose checksums are all valid

/// Writes a hand-built unsealed segment with the given blocks (each: record payloads, declared
/// event count, and an optional raw payload overriding the framing).
fn craft_segment(path: &Path, blocks: &[(u32, Vec<u8>)]) {
    let mut file = SegmentHeader::new_open(1, 1, CHAIN_SEED, 0)
        .encode()
        .to_vec();
    file.extend_from_slice(&craft::blocks(1, CHAIN_SEED, blocks).0);
    fs::write(path, file).expect("write crafted segment");
}

fn records(payloads: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in payloads {
        record::encode_into(&mut v, p);
    }
    v
}

#[test]
fn record_framing_errors_are_typed_and_return_nothing_wrong() {
    let tmp = fast_tempdir();
    let good = records(&[b"alpha", b"beta"]);
    // Block 1 declares 2 events; the second length prefix overruns the block.
    let mut overrun = records(&[b"gamma"]);
    overrun.extend_from_slice(&1000u32.to_le_bytes());
    overrun.extend_from_slice(&[0; 4]);
    let p = tmp.path().join("overrun.wal");
    craft_segment(&p, &[(2, good.clone()), (2, overrun)]);
    let r = SegmentReader::open_verified(&p).expect("open");
    assert_eq!(
        r.end(),
        &SegmentEnd::Clean,
        "framing is not checked by verify"
    );
    let (got, err) = read_until_error_by_batches_too(&p);
    assert_eq!(
        got,
        vec![
            (1, b"alpha".to_vec()),
            (2, b"beta".to_vec()),
            (3, b"gamma".to_vec())
        ]
    );
    let err = err.expect("framing error");
    let c = expect_corrupt_err(&err);
    let second_record_off = (64 + 64 + good.len()).next_multiple_of(64) + 64 + 16;
    assert_eq!(
        (c.kind, c.offset, c.block),
        (
            CorruptionKind::RecordFraming,
            second_record_off as u64,
            Some(1)
        ),
        "{c}"
    );

    // Block 1 declares 1 event but holds 2 records: the leftover is an error, never an event.
    let p = tmp.path().join("extra.wal");
    craft_segment(
        &p,
        &[
            (2, good.clone()),
            (1, records(&[b"delta", b"sneaky"])),
            (1, records(&[b"eps"])),
        ],
    );
    let mut r = SegmentReader::open_verified(&p).expect("open");
    assert_eq!(r.end(), &SegmentEnd::Clean);
    let (got, err) = read_until_error_by_batches_too(&p);
    assert_eq!(
        got,
        vec![
            (1, b"alpha".to_vec()),
            (2, b"beta".to_vec()),
            (3, b"delta".to_vec())
        ]
    );
    let err = err.expect("framing error");
    assert_eq!(
        expect_corrupt_err(&err).kind,
        CorruptionKind::RecordFraming,
        "{err}"
    );
    // Seeking into the inconsistent block behaves the same: its event, then the error.
    r.seek(3).expect("seek(3)");
    let e = r.next().expect("next").expect("event 3");
    assert_eq!((e.id, e.payload), (3, &b"delta"[..]));
    let err = r
        .next()
        .expect_err("leftover record must be an error, never an event");
    assert_eq!(
        expect_corrupt_err(&err).kind,
        CorruptionKind::RecordFraming,
        "{err}"
    );
}

/// The reader's fast path for a record as long as the previous one (`SegmentReader::next_fast`)
/// checks bounds exactly like the full decode: a length prefix repeating the previous length
/// whose payload would overrun the block is a framing error, after a run of equal lengths in
/// this block and across blocks.
#[test]
fn record_of_a_repeated_length_that_overruns_is_a_framing_error() {
    let tmp = fast_tempdir();
    let twelve: [&[u8]; 3] = [b"aaaaaaaaaaaa", b"bbbbbbbbbbbb", b"cccccccccccc"];
    // Block 1: one 12-byte record, then a prefix announcing 12 more bytes with only 4 left.
    let mut overrun = records(&[b"dddddddddddd"]);
    overrun.extend_from_slice(&12u32.to_le_bytes());
    overrun.extend_from_slice(&[0; 4]);
    let p = tmp.path().join("repeat-overrun.wal");
    craft_segment(&p, &[(3, records(&twelve)), (2, overrun)]);
    let r = SegmentReader::open_verified(&p).expect("open");
    assert_eq!(r.end(), &SegmentEnd::Clean);
    let (got, err) = read_until_error_by_batches_too(&p);
    assert_eq!(
        got,
        vec![
            (1, b"aaaaaaaaaaaa".to_vec()),
            (2, b"bbbbbbbbbbbb".to_vec()),
            (3, b"cccccccccccc".to_vec()),
            (4, b"dddddddddddd".to_vec())
        ]
    );
    let c = expect_corrupt_err(&err.expect("framing error")).clone();
    assert_eq!(
        (c.kind, c.block),
        (CorruptionKind::RecordFraming, Some(1)),
        "{c}"
    );

    // Lengths that change and come back are each decoded exactly.
    let mixed: [&[u8]; 6] = [b"x", b"yy", b"yy", b"", b"zzzzzzzzz", b"yy"];
    let p = tmp.path().join("mixed.wal");
    craft_segment(&p, &[(6, records(&mixed))]);
    let (got, err) = read_until_error_by_batches_too(&p);
    assert!(err.is_none(), "{err:?}");
    let want: Vec<(u64, Vec<u8>)> = mixed
        .iter()
        .enumerate()
        .map(|(k, p)| (k as u64 + 1, p.to_vec()))
        .collect();
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------------------------
// End to end: a strict Manager replay over damaged data returns nothing wrong

#[test]
fn manager_strict_stops_at_payload_corruption() {
    let tmp = fast_tempdir();
    let dir = tmp.path().join("log");
    let log = sealed_log(&dir, wopts(2048, 256), SEED, 200, 100);
    let files = wal_files(&dir);
    assert!(files.len() >= 4);
    let victim = &files[files.len() / 2];
    let blocks = layout(victim);
    let b = blocks[blocks.len() / 2];
    flip_bit(victim, b.payload_off + 2, 3);
    let mut m = Manager::open(&dir, RecoveryOptions::default()).expect("open");
    let mut got = Vec::new();
    let err = loop {
        match m.next() {
            Ok(Some(e)) => got.push((e.id, e.payload.to_vec())),
            Ok(None) => panic!("strict replay ended cleanly over corruption"),
            Err(e) => break e,
        }
    };
    assert_events(&got, &ids_in(&log, 1, b.first_id));
    let c = expect_corrupt_err(&err);
    assert_eq!(
        (c.kind, c.offset, c.block),
        (
            CorruptionKind::PayloadChecksum,
            b.off,
            Some((blocks.len() / 2) as u64)
        )
    );
    assert_eq!(&c.path, victim);
    assert!(
        matches!(m.next(), Err(Error::Corrupt(_))),
        "the strict error is sticky"
    );
    assert!(!m.report().is_clean());
}

/// A Manager replay over an unsealed last segment with a zero-filled tail: the valid prefix is
/// delivered, the tail reported, and the replay is clean.
#[test]
fn manager_reports_torn_tail_of_unsealed_segment() {
    let tmp = fast_tempdir();
    let snap = tmp.path().join("snap");
    let log = unsealed_snapshot(
        &tmp.path().join("log"),
        &snap,
        wopts(4096, 256),
        SEED,
        150,
        100,
    );
    let files = wal_files(&snap);
    assert!(files.len() >= 2);
    let last = files.last().expect("files");
    let len = file_len(last);
    append_bytes(last, &[0; 1000]);
    let (got, err, report) = replay(&snap);
    assert!(err.is_none(), "{err:?}");
    assert_events(&got, &log);
    let t = report.torn_tail.clone().expect("torn tail reported");
    assert_eq!(
        (t.path.as_path(), t.offset, t.bytes),
        (last.as_path(), len, 1000)
    );
    assert!(report.is_clean(), "{report:?}");
    assert!(report.complete);
}
