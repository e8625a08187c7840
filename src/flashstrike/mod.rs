//! FlashStrike v1 WAL format: a pure codec and a byte-exact generator.
//!
//! FlashStrike (`locar77i/Wirekrak`, MIT) is a C++ matching engine whose recorder writes a
//! write-ahead log this crate must be able to read. Its format is not ours (that one lives in
//! [`crate::segment`]), so it gets its own module, kept free of I/O policy: the functions here only
//! turn bytes into fields and fields into bytes, exactly as FlashStrike's recorder lays them out
//! (see `shared/reference/flashstrike.md` §1–§7 and §15 for the layout this follows).
//!
//! * [`header`]: the 64-byte segment header and its split-range checksum;
//! * [`block`]: the 64-byte block header, its self checksum, and the payload/chain checksums;
//! * [`event`]: FlashStrike's 64-byte `RequestEvent` and the sample logs' event formula;
//! * [`generate`]: segment files and whole log directories in every state the recorder leaves
//!   them (finalized, unfinalized, pre-created, frozen to LZ4), regenerating the real samples
//!   byte for byte — for tests, fuzzing, `walrec gen` and benchmarks;
//! * [`cold`]: strict decompression of cold `.wal.lz4` segments (an LZ4 frame).
//!
//! Everything on disk is little-endian. The XXH64 implementation is chosen in one place,
//! [`xxh64`], so that swapping crates never touches the codec.

pub mod block;
pub mod cold;
pub mod event;
pub mod generate;
pub mod header;
pub mod xxh64_x4;

/// Size of the segment header at offset 0 of every segment file.
pub const HEADER_BYTES: usize = 64;
/// Events per block (`WAL_BLOCK_EVENTS`); older FlashStrike docs say 64, the code says 256.
pub const BLOCK_EVENTS: usize = 256;
/// Size of one `RequestEvent` record.
pub const EVENT_BYTES: usize = 64;
/// Size of the header in front of every block's events.
pub const BLOCK_HEADER_BYTES: usize = 64;
/// Size of one block: its header plus 256 event slots (16 448 bytes).
pub const BLOCK_BYTES: usize = BLOCK_HEADER_BYTES + BLOCK_EVENTS * EVENT_BYTES;
/// Segment header magic `0x4653`, on disk `53 46`.
pub const MAGIC: u16 = 0x4653;
/// The only format version FlashStrike writes.
pub const VERSION: u8 = 1;
/// Fewest blocks per segment the recorder accepts (it clamps into `MIN_BLOCKS..=MAX_BLOCKS`).
pub const MIN_BLOCKS: u32 = 16;
/// Most blocks per segment the recorder accepts (an 8 GiB file).
pub const MAX_BLOCKS: u32 = 524_288;
/// Extension appended to a frozen segment's name: `FS.00000000.wal.lz4`.
pub const COLD_EXTENSION: &str = "lz4";

/// Classic XXH64 of `bytes` with `seed`: every FlashStrike checksum is built from this.
///
/// Backed by `xxhash-rust` (measured ~6 % faster than `twox-hash` over 16 KiB block payloads,
/// identical results); this is the only place that names the crate.
#[inline]
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    xxhash_rust::xxh64::xxh64(bytes, seed)
}

/// File size of a segment preallocated with `blocks` blocks: 64 + blocks × 16 448.
///
/// The recorder `ftruncate`s every new segment to this size up front, so a segment file is this
/// long whatever it holds (unused blocks are zeros).
pub fn segment_file_len(blocks: u32) -> u64 {
    HEADER_BYTES as u64 + u64::from(blocks) * BLOCK_BYTES as u64
}

/// Canonical file name of segment `index`: `FS.{index:08}.wal`, as FlashStrike's
/// `compose_segment_filename(buf, "FS", index, 8)` writes it.
///
/// Like FlashStrike, only the low 8 decimal digits are kept: an index ≥ 10⁸ wraps
/// (`100000005` → `FS.00000005.wal`), so such names collide exactly as they do on disk.
pub fn segment_file_name(index: u32) -> String {
    format!("FS.{:08}.wal", index % 100_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_flashstrike() {
        assert_eq!(BLOCK_BYTES, 16_448);
        assert_eq!(segment_file_len(16), 263_232);
        assert_eq!(segment_file_len(256), 4_210_752);
        assert_eq!(segment_file_len(MAX_BLOCKS), 8_623_489_088);
        assert_eq!(segment_file_len(0), 64);
    }

    #[test]
    fn names_are_eight_digits_and_wrap_like_flashstrike() {
        assert_eq!(segment_file_name(0), "FS.00000000.wal");
        assert_eq!(segment_file_name(42), "FS.00000042.wal");
        assert_eq!(segment_file_name(99_999_999), "FS.99999999.wal");
        assert_eq!(segment_file_name(100_000_005), "FS.00000005.wal");
        assert_eq!(
            format!("{}.{COLD_EXTENSION}", segment_file_name(7)),
            "FS.00000007.wal.lz4"
        );
    }

    #[test]
    fn xxh64_known_vectors() {
        // Reference values of classic XXH64 (xxhash.h).
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
    }
}

/// The key tests: the real FlashStrike sample logs (`tests/data/flashstrike/`, written by its C++
/// recorder) regenerated from this module's encoders, file by file and directory by directory.
#[cfg(test)]
mod samples {
    use super::cold::decompress;
    use super::event::sample_event;
    use super::generate::*;
    use super::header::RawHeader;
    use super::{segment_file_name, COLD_EXTENSION};
    use std::path::{Path, PathBuf};

    const BLOCKS: u32 = 16;
    const PER: u64 = 4096;

    fn samples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/flashstrike")
    }

    fn ts(file: &[u8]) -> (u64, u64) {
        let raw: [u8; 64] = file[..64].try_into().unwrap();
        let h = RawHeader::decode(&raw);
        (h.created_ts_ns, h.closed_ts_ns)
    }

    /// Regenerates `index` with the sample's own timestamps.
    fn regen(sample: &[u8], index: u32, first: u64, count: u64, state: SegmentState) -> Vec<u8> {
        let (created, closed) = ts(sample);
        segment_bytes(
            index,
            BLOCKS,
            first,
            count,
            created,
            closed,
            state,
            &sample_event,
        )
    }

    fn finalized(i: u32) -> (u32, u64, u64, SegmentState) {
        (i, u64::from(i) * PER + 1, PER, SegmentState::Finalized)
    }

    /// Every sample file as (dir, index, first id, count, state), from the samples' README.
    fn sample_table() -> Vec<(&'static str, u32, u64, u64, SegmentState)> {
        let zeroed = SegmentState::Unfinalized { zero_magic: true };
        let mut t = vec![];
        for dir in ["clean", "cold", "crash", "restart"] {
            for i in 0..4 {
                let (i, first, n, s) = finalized(i);
                t.push((dir, i, first, n, s));
            }
        }
        for dir in ["clean", "cold"] {
            t.push((dir, 4, 16_385, 3_616, SegmentState::Finalized));
        }
        // 1616 appended to the active segment; only its 6 full blocks reached the file.
        t.push(("crash", 4, 16_385, 1_616, zeroed));
        t.extend((5..8).map(|i| ("crash", i, 0, 0, zeroed)));
        t.push(("restart", 4, 18_001, 2_000, SegmentState::Finalized));
        t.push((
            "crash_rotation",
            0,
            1,
            PER,
            SegmentState::Unfinalized { zero_magic: false },
        ));
        t.extend((1..4).map(|i| ("crash_rotation", i, u64::from(i) * PER + 1, PER, zeroed)));
        t.extend((4..7).map(|i| ("crash_rotation", i, 0, 0, zeroed)));
        t
    }

    #[test]
    fn regenerates_every_sample_file_byte_for_byte() {
        let mut checked = 0;
        for (dir, index, first, count, state) in sample_table() {
            let name = segment_file_name(index);
            let path = samples().join(dir).join(&name);
            let (sample, cold) = match std::fs::read(&path) {
                Ok(bytes) => (bytes, false),
                Err(_) => {
                    let lz4 = std::fs::read(path.with_extension("wal.lz4")).unwrap();
                    (decompress(&lz4, 1 << 20).unwrap(), true)
                }
            };
            let ours = if count == 0 && state != SegmentState::Finalized {
                precreated_bytes(index, BLOCKS, ts(&sample).0, true)
            } else {
                regen(&sample, index, first, count, state)
            };
            assert_eq!(ours.len(), sample.len(), "{dir}/{name}");
            assert!(
                ours == sample,
                "{dir}/{name}: first difference at byte {:?}",
                first_diff(&ours, &sample)
            );
            if cold {
                let lz4 = compress_cold(&ours);
                assert_eq!(&lz4[..7], &[0x04, 0x22, 0x4D, 0x18, 0x40, 0x70, 0xDF]);
                assert_eq!(decompress(&lz4, 1 << 20).unwrap(), sample);
            }
            checked += 1;
        }
        assert_eq!(checked, 30);
    }

    #[test]
    fn compressed_like_flashstrikes_liblz4() {
        // lz4_flex is not liblz4: the frame header and the content are the same, the match
        // choices (hence the compressed bytes) may differ. Both decompress to the segment.
        for i in 0..2 {
            let name = format!("FS.0000000{i}.wal");
            let lz4 = std::fs::read(samples().join("cold").join(format!("{name}.lz4"))).unwrap();
            let wal = std::fs::read(samples().join("clean").join(&name)).unwrap();
            let ours = compress_cold(&wal);
            assert_eq!(ours[..7], lz4[..7]);
            assert_eq!(decompress(&ours, u64::MAX).unwrap(), wal);
            assert_eq!(decompress(&lz4, u64::MAX).unwrap(), wal);
        }
    }

    fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
        a.iter().zip(b).position(|(x, y)| x != y)
    }

    /// Content of a generated or sample file with header bytes 32..64 (timestamps, checksum)
    /// masked; `.lz4` files are compared decompressed.
    fn masked(path: &Path) -> Vec<u8> {
        let mut bytes = std::fs::read(path).unwrap();
        if path.extension().is_some_and(|e| e == COLD_EXTENSION) {
            bytes = decompress(&bytes, 1 << 20).unwrap();
        }
        if bytes.len() >= 64 {
            bytes[32..64].fill(0);
        }
        bytes
    }

    fn spec(scenario: Scenario, events: u64) -> LogSpec {
        LogSpec {
            scenario,
            events,
            blocks_per_segment: BLOCKS,
            cold_segments: 2,
            restart_gap: 1616,
        }
    }

    #[test]
    fn write_log_matches_the_samples_but_for_timestamps() {
        let cases = [
            ("clean", Scenario::Clean, 20_000, vec![(1, 20_000)], None),
            ("crash", Scenario::Crash, 18_000, vec![(1, 17_920)], None),
            (
                "crash_rotation",
                Scenario::CrashRotation,
                16_385,
                vec![(1, 16_384)],
                None,
            ),
            ("cold", Scenario::Cold, 20_000, vec![(1, 20_000)], None),
            (
                "restart",
                Scenario::Restart,
                20_000,
                vec![(1, 16_384), (18_001, 20_000)],
                Some((16_385, 18_000)),
            ),
        ];
        for (dir, scenario, events, delivered, gap) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let layout = write_log(tmp.path(), &spec(scenario, events)).unwrap();
            let mut sample_files: Vec<String> = std::fs::read_dir(samples().join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            sample_files.sort();
            assert_eq!(layout.files, sample_files, "{dir}");
            assert_eq!(layout.delivered, delivered, "{dir}");
            assert_eq!(layout.gap, gap, "{dir}");
            for name in &layout.files {
                let ours = masked(&tmp.path().join(name));
                let theirs = masked(&samples().join(dir).join(name));
                assert!(
                    ours == theirs,
                    "{dir}/{name}: first difference at {:?}",
                    first_diff(&ours, &theirs)
                );
            }
        }
    }
}
