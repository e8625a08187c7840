//! Byte-exact FlashStrike segment files and log directories, in every state its recorder leaves.
//!
//! Readers of FlashStrike logs have to be tested against what the C++ recorder really writes,
//! including after crashes, at sizes far beyond the few real samples we have. This module
//! reproduces the recorder's output from first principles (reference §7), and its tests prove it
//! by regenerating the real samples (`tests/data/flashstrike/`) byte for byte:
//!
//! * **finalized** segment: preallocated file, full blocks plus the flushed partial last block,
//!   header finalized (counts, ids, closed timestamp, last chained checksum, header checksum);
//! * **unfinalized** segment (the active one at a crash, or one rotated out but not yet closed by
//!   the background maintainer): only the *full* blocks reached the mapping (a partial block never
//!   leaves memory), and the header is still the creation-time one, checksum 0;
//! * **pre-created** segment: unfinalized and empty, low magic byte zeroed by `touch()`;
//! * **cold** segment: the whole preallocated file as one LZ4 frame, `<name>.wal.lz4`;
//! * `wal_meta.dat`: 16 bytes, `(index << 32) | offset_u32` then the last event id, both LE.
//!
//! [`write_log`] lays out whole directories in the shapes of the five sample logs, at any size,
//! and says which id ranges a correct recovery must return.

use std::io::{self, Write as _};
use std::path::Path;

use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};

use super::block::encode_block_header;
use super::event::{sample_event, RequestEvent};
use super::header::{header_checksum, RawHeader};
use super::{
    segment_file_len, segment_file_name, BLOCK_BYTES, BLOCK_EVENTS, BLOCK_HEADER_BYTES,
    COLD_EXTENSION, EVENT_BYTES, HEADER_BYTES, MAGIC, MAX_BLOCKS, VERSION,
};

/// How a generated segment file is left on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentState {
    /// Closed by the recorder: partial last block flushed, header finalized (closed_ts,
    /// last_chained, checksum).
    Finalized,
    /// Written but never finalized (the active segment at a crash, or rotated but not yet
    /// finalized): only the FULL blocks are in the file (a partial block never left memory),
    /// header as created (index, created_ts, magic, version, size; everything else 0, checksum 0).
    Unfinalized {
        /// Low magic byte zeroed: the file was pre-created by the `SegmentPreparer`, whose
        /// `touch()` writes a zero at offset 0. Only a fresh log's first segment keeps `53 46`.
        zero_magic: bool,
    },
}

/// Bytes of one segment file: preallocated to `64 + blocks_per_segment × 16 448` (zero tail),
/// holding events `first_id..first_id + count` from `make(id)`, left in `state`.
///
/// `count` may be 0. Header ids come from the events' own `event_id`s (as the recorder takes
/// them), so a `make` that returns other ids produces a consistently "wrong" segment.
///
/// # Panics
///
/// If `count > blocks_per_segment × 256`, or if the file does not fit in memory (it is a
/// generator; callers choose the sizes).
#[allow(clippy::too_many_arguments)] // the API mirrors the header fields one to one
pub fn segment_bytes(
    index: u32,
    blocks_per_segment: u32,
    first_id: u64,
    count: u64,
    created_ts_ns: u64,
    closed_ts_ns: u64,
    state: SegmentState,
    make: &dyn Fn(u64) -> RequestEvent,
) -> Vec<u8> {
    let capacity = u64::from(blocks_per_segment) * BLOCK_EVENTS as u64;
    assert!(
        count <= capacity,
        "{count} events do not fit {blocks_per_segment} blocks"
    );
    let len = usize::try_from(segment_file_len(blocks_per_segment)).expect("segment fits memory");
    let mut out = vec![0u8; len];
    let block_events = BLOCK_EVENTS as u64;
    let on_disk = match state {
        SegmentState::Finalized => count,
        SegmentState::Unfinalized { .. } => count - count % block_events,
    };
    let (mut blocks, mut prev_chained, mut first_ev, mut last_ev) = (0u32, 0u64, 0u64, 0u64);
    let mut payload = Vec::with_capacity(BLOCK_EVENTS * EVENT_BYTES);
    let mut next = 0u64;
    while next < on_disk {
        let n = (on_disk - next).min(block_events);
        payload.clear();
        for k in next..next + n {
            let ev = make(first_id.wrapping_add(k));
            if k == 0 {
                first_ev = ev.event_id;
            }
            last_ev = ev.event_id;
            payload.extend_from_slice(&ev.encode());
        }
        let (header, chained) = encode_block_header(&payload, blocks, prev_chained);
        let at = HEADER_BYTES + blocks as usize * BLOCK_BYTES;
        out[at..at + BLOCK_HEADER_BYTES].copy_from_slice(&header);
        out[at + BLOCK_HEADER_BYTES..at + BLOCK_HEADER_BYTES + payload.len()]
            .copy_from_slice(&payload);
        prev_chained = chained;
        blocks += 1;
        next += n;
    }
    let mut header = RawHeader {
        magic: MAGIC,
        version: VERSION,
        header_size: HEADER_BYTES as u8,
        segment_index: index,
        block_count: 0,
        event_count: 0,
        first_event_id: 0,
        last_event_id: 0,
        created_ts_ns,
        closed_ts_ns: 0,
        checksum: 0,
        last_chained_checksum: 0,
    };
    let raw = match state {
        SegmentState::Finalized => {
            header.block_count = blocks;
            // A u32 on disk; any count that fits in memory (2^27 at MAX_BLOCKS) fits it.
            header.event_count = count as u32;
            header.first_event_id = first_ev;
            header.last_event_id = last_ev;
            header.closed_ts_ns = closed_ts_ns;
            header.last_chained_checksum = prev_chained;
            header.checksum = header_checksum(&header.encode());
            header.encode()
        }
        SegmentState::Unfinalized { zero_magic } => {
            let mut raw = header.encode();
            if zero_magic {
                raw[0] = 0;
            }
            raw
        }
    };
    out[..HEADER_BYTES].copy_from_slice(&raw);
    out
}

/// An empty pre-created segment (unfinalized header, `zero_magic` as given, no blocks).
pub fn precreated_bytes(
    index: u32,
    blocks_per_segment: u32,
    created_ts_ns: u64,
    zero_magic: bool,
) -> Vec<u8> {
    let state = SegmentState::Unfinalized { zero_magic };
    segment_bytes(
        index,
        blocks_per_segment,
        0,
        0,
        created_ts_ns,
        0,
        state,
        &sample_event,
    )
}

/// `bytes` as FlashStrike's maintainer freezes a segment: an LZ4 frame with 4 MiB max block
/// size, linked blocks, no block or content checksum, no content size (frame header bytes
/// `04 22 4D 18 40 70 DF`). The compressed blocks come from `lz4_flex`, not liblz4, so they need
/// not equal FlashStrike's byte for byte; they decompress to the same content.
///
/// # Panics
///
/// Not in practice: it writes into a `Vec`, and `lz4_flex` sizes its own block buffers.
pub fn compress_cold(bytes: &[u8]) -> Vec<u8> {
    let info = FrameInfo::new()
        .block_size(BlockSize::Max4MB)
        .block_mode(BlockMode::Linked)
        .block_checksums(false)
        .content_checksum(false)
        .content_size(None);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(bytes.len() / 2 + 64));
    // Writing into a Vec cannot fail, and lz4_flex sizes its own output buffers.
    enc.write_all(bytes).expect("LZ4 frame into a Vec");
    enc.finish().expect("LZ4 frame into a Vec")
}

/// A whole log directory in one of the sample shapes, at any size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Clean shutdown: every segment finalized, the last one partial; `wal_meta.dat`.
    Clean,
    /// Killed mid-segment: the active segment unfinalized (full blocks only), 3 pre-created.
    Crash,
    /// Killed right after rotations the maintainer had not finalized yet (`events = k·P + 1`).
    CrashRotation,
    /// [`Scenario::Clean`], then the `cold_segments` oldest segments frozen to `.wal.lz4`.
    Cold,
    /// A crash, then a restart that deleted the unfinalized files and reused their index.
    Restart,
}

/// What [`write_log`] should lay out.
#[derive(Clone, Debug)]
pub struct LogSpec {
    /// Directory shape.
    pub scenario: Scenario,
    /// Events the engine appended (ids `1..=events`), lost ones included.
    pub events: u64,
    /// Blocks per segment (FlashStrike clamps to 16..=524 288; 1..=524 288 accepted here).
    pub blocks_per_segment: u32,
    /// [`Scenario::Cold`]: how many oldest segments are frozen.
    pub cold_segments: u32,
    /// [`Scenario::Restart`]: ids lost in the restart gap.
    pub restart_gap: u64,
}

/// What [`write_log`] put on disk and what a correct recovery must return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLayout {
    /// Id ranges (inclusive) a correct recovery delivers, in order.
    pub delivered: Vec<(u64, u64)>,
    /// Id range (inclusive) lost in a restart gap. The crash's in-memory partial block is not on
    /// disk at all, so it is not reported here.
    pub gap: Option<(u64, u64)>,
    /// Every file written, `wal_meta.dat` included, sorted by name.
    pub files: Vec<String>,
}

/// One segment file to write.
#[derive(Clone, Copy)]
struct Planned {
    index: u32,
    first_id: u64,
    count: u64,
    state: SegmentState,
}

impl Planned {
    fn new(index: u32, first_id: u64, count: u64, state: SegmentState) -> Self {
        Planned {
            index,
            first_id,
            count,
            state,
        }
    }
}

/// Everything [`write_log`] will put on disk, and the recovery it expects.
struct Plan {
    /// In creation order (which is index order in every scenario).
    segments: Vec<Planned>,
    /// How many leading segments are frozen.
    cold: usize,
    /// `wal_meta.dat`: (segment index, offset, last event id).
    meta: (u32, u32, u64),
    delivered: Vec<(u64, u64)>,
    gap: Option<(u64, u64)>,
}

/// Unix-epoch ns of 2026-01-01T00:00:00Z: the base of generated timestamps (readers ignore them).
const TS_BASE_NS: u64 = 1_767_225_600_000_000_000;
/// Pre-created segments a crash leaves, counting an active one that never got a block.
const PREPARED_AHEAD: u32 = 3;
const EVENTS_PER_BLOCK: u64 = BLOCK_EVENTS as u64;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Finalized segments `first_index..` holding ids `from..=to`, `per` events each but the last.
fn finalized_run(from: u64, to: u64, per: u64, first_index: u32) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut first_id = from;
    let mut index = first_index;
    while first_id <= to {
        let count = (to - first_id + 1).min(per);
        let state = SegmentState::Finalized;
        out.push(Planned::new(index, first_id, count, state));
        first_id += count;
        index += 1;
    }
    out
}

/// `n` empty pre-created segments from `first_index` (low magic byte zeroed by `touch()`).
fn precreated_run(first_index: u32, n: u32) -> impl Iterator<Item = Planned> {
    let state = SegmentState::Unfinalized { zero_magic: true };
    (first_index..first_index + n).map(move |index| Planned::new(index, 0, 0, state))
}

/// Lays out `spec` (validated) as FlashStrike's recorder would leave it.
fn plan(spec: &LogSpec) -> io::Result<Plan> {
    let blocks = spec.blocks_per_segment;
    let per = u64::from(blocks) * EVENTS_PER_BLOCK;
    let e = spec.events;
    if e / per + u64::from(PREPARED_AHEAD) + 1 > u64::from(u32::MAX) {
        return Err(invalid(format!("{e} events need more than 2^32 segments")));
    }
    // FlashStrike's MetaState offset is a u32: large segments wrap, as they do there.
    let full_len = segment_file_len(blocks) as u32;
    // Append offset in a segment holding `n` events (a partial block is rewritten in place).
    let offset = |n: u64| segment_file_len((n / EVENTS_PER_BLOCK) as u32) as u32;
    let (segments, cold, meta, delivered, gap) = match spec.scenario {
        Scenario::Clean | Scenario::Cold => {
            let mut segments = finalized_run(1, e, per, 0);
            let last = match segments.last() {
                Some(last) => (last.index, offset(last.count), e),
                None => {
                    // Nothing appended: the first segment is still closed at shutdown.
                    segments.push(Planned::new(0, 0, 0, SegmentState::Finalized));
                    (0, 0, 0)
                }
            };
            let cold = match spec.scenario {
                Scenario::Cold => spec.cold_segments as usize,
                _ => 0,
            };
            if cold > segments.len() {
                let n = segments.len();
                return Err(invalid(format!("{cold} cold segments of only {n}")));
            }
            let delivered = if e == 0 { vec![] } else { vec![(1, e)] };
            (segments, cold, last, delivered, None)
        }
        Scenario::Crash => {
            let active = if e == 0 { 0 } else { ((e - 1) / per) as u32 };
            let before = u64::from(active) * per;
            let mut segments = finalized_run(1, before, per, 0);
            // Segment 0 of a fresh log is made by the recorder itself, the rest by the preparer.
            let state = SegmentState::Unfinalized {
                zero_magic: active != 0,
            };
            segments.push(Planned::new(active, before + 1, e - before, state));
            segments.extend(precreated_run(active + 1, PREPARED_AHEAD));
            // Last flushed at the rotation into `active` (at initialize for segment 0).
            let meta = if active == 0 {
                (0, 0, 0)
            } else {
                (active, full_len, before)
            };
            let last = before + (e - before) / EVENTS_PER_BLOCK * EVENTS_PER_BLOCK;
            let delivered = if last == 0 { vec![] } else { vec![(1, last)] };
            (segments, 0, meta, delivered, None)
        }
        Scenario::CrashRotation => {
            if e <= per || !(e - 1).is_multiple_of(per) {
                return Err(invalid(format!(
                    "CrashRotation needs events = k*{per} + 1, k >= 1"
                )));
            }
            let k = ((e - 1) / per) as u32;
            let mut segments: Vec<Planned> = (0..k)
                .map(|i| {
                    let state = SegmentState::Unfinalized { zero_magic: i != 0 };
                    Planned::new(i, u64::from(i) * per + 1, per, state)
                })
                .collect();
            segments.extend(precreated_run(k, PREPARED_AHEAD));
            // The meta flusher (fdatasync + rename per write) lagged behind the rotations: the
            // sample holds the state it wrote at the first one.
            let meta = (1, full_len, per);
            (segments, 0, meta, vec![(1, e - 1)], None)
        }
        Scenario::Restart => {
            let lost = spec.restart_gap;
            if e <= lost {
                return Err(invalid(format!(
                    "Restart needs events ({e}) > restart_gap ({lost})"
                )));
            }
            let n = (e - lost - 1) / per;
            let kept = n * per;
            let mut segments = finalized_run(1, kept, per, 0);
            let tail = e - kept - lost;
            segments.extend(finalized_run(kept + lost + 1, e, per, n as u32));
            let delivered = match (lost, kept) {
                (0, _) => vec![(1, e)],
                (_, 0) => vec![(lost + 1, e)],
                _ => vec![(1, kept), (kept + lost + 1, e)],
            };
            let gap = (lost > 0).then_some((kept + 1, kept + lost));
            (segments, 0, (n as u32, offset(tail), e), delivered, gap)
        }
    };
    Ok(Plan {
        segments,
        cold,
        meta,
        delivered,
        gap,
    })
}

/// Writes the log into `dir` (which must exist and be empty) the way FlashStrike's recorder
/// leaves it, with [`sample_event`] payloads, and returns what is on disk and what a correct
/// recovery must return. With `P = 256 × blocks_per_segment` events per segment and `E = events`:
///
/// * `Clean`: segments `0..` finalized, the last holding the remainder; delivered `1..=E`.
/// * `Crash`: full segments finalized; the active one unfinalized with its full blocks only
///   (magic kept when it is segment 0), then 3 pre-created; delivered up to the last full block.
/// * `CrashRotation`: `E = k·P + 1`, `k ≥ 1`: segments `0..k` fully written but unfinalized,
///   then 3 empty pre-created ones (event `k·P + 1` never left memory); delivered `1..=k·P`.
/// * `Cold`: `Clean`, then the `cold_segments` oldest segments replaced by `.wal.lz4` files.
/// * `Restart`: `n = (E − gap − 1) / P` full finalized segments, ids `n·P+1 ..= n·P+gap` lost,
///   then a finalized segment `n` (index reused) holding the rest up to `E`.
///
/// `wal_meta.dat` holds what the recorder's asynchronous meta flusher last wrote in each case.
/// Segments are built one at a time in memory (a whole preallocated file each).
///
/// # Errors
///
/// `InvalidInput` for an impossible spec (see above; `blocks_per_segment` outside
/// `1..=524 288`), `DirectoryNotEmpty` if `dir` has entries, and any I/O error.
///
/// # Panics
///
/// Only if one segment file does not fit in memory.
/// Writes `bytes` (a whole segment file, [`segment_bytes`]) to `path` as the recorder leaves a
/// segment: `ftruncate` to the full size first, then the bytes up to the last non-zero one, so
/// that the zero tail it never wrote stays a hole of the file (the same bytes when read).
///
/// # Errors
///
/// Any I/O error creating or writing the file.
pub fn write_preallocated(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.set_len(bytes.len() as u64)?;
    let written = crate::recovery::format::zero_suffix_start(bytes);
    f.write_all(bytes.get(..written).unwrap_or(bytes))
}

pub fn write_log(dir: &Path, spec: &LogSpec) -> io::Result<LogLayout> {
    let blocks = spec.blocks_per_segment;
    if !(1..=MAX_BLOCKS).contains(&blocks) {
        return Err(invalid(format!(
            "blocks_per_segment {blocks} not in 1..={MAX_BLOCKS}"
        )));
    }
    let plan = plan(spec)?;
    if std::fs::read_dir(dir)?.next().is_some() {
        let msg = format!("{} is not empty", dir.display());
        return Err(io::Error::new(io::ErrorKind::DirectoryNotEmpty, msg));
    }
    let mut files = Vec::with_capacity(plan.segments.len() + 1);
    for (ordinal, p) in plan.segments.iter().enumerate() {
        let created = TS_BASE_NS + ordinal as u64 * 1_000_000_000;
        let closed = created + 900_000_000;
        let bytes = segment_bytes(
            p.index,
            blocks,
            p.first_id,
            p.count,
            created,
            closed,
            p.state,
            &sample_event,
        );
        let mut name = segment_file_name(p.index);
        if ordinal < plan.cold {
            name = format!("{name}.{COLD_EXTENSION}");
            std::fs::write(dir.join(&name), compress_cold(&bytes))?;
        } else {
            write_preallocated(&dir.join(&name), &bytes)?;
        }
        files.push(name);
    }
    let (index, offset, last_id) = plan.meta;
    let mut meta = Vec::with_capacity(16);
    meta.extend_from_slice(&((u64::from(index) << 32) | u64::from(offset)).to_le_bytes());
    meta.extend_from_slice(&last_id.to_le_bytes());
    std::fs::write(dir.join("wal_meta.dat"), meta)?;
    files.push("wal_meta.dat".to_string());
    files.sort();
    Ok(LogLayout {
        delivered: plan.delivered,
        gap: plan.gap,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashstrike::header::RawHeader;

    fn spec(scenario: Scenario, events: u64, blocks: u32, cold: u32, gap: u64) -> LogSpec {
        let (blocks_per_segment, cold_segments, restart_gap) = (blocks, cold, gap);
        LogSpec {
            scenario,
            events,
            blocks_per_segment,
            cold_segments,
            restart_gap,
        }
    }

    fn write(s: LogSpec) -> (tempfile::TempDir, LogLayout) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = write_log(tmp.path(), &s).unwrap();
        (tmp, layout)
    }

    /// `wal_meta.dat` as (segment index, offset, last event id).
    fn meta(dir: &Path) -> (u32, u32, u64) {
        let raw: [u8; 16] = std::fs::read(dir.join("wal_meta.dat"))
            .unwrap()
            .try_into()
            .unwrap();
        let [packed, last] =
            [0, 8].map(|at| u64::from_le_bytes(raw[at..at + 8].try_into().unwrap()));
        ((packed >> 32) as u32, packed as u32, last)
    }

    fn header(bytes: &[u8]) -> RawHeader {
        RawHeader::decode(&bytes[..64].try_into().unwrap())
    }

    #[test]
    fn small_and_edge_shapes() {
        // Clean, exactly two full one-block segments: the meta offset is the full file.
        let (tmp, l) = write(spec(Scenario::Clean, 512, 1, 0, 0));
        assert_eq!(
            l.files,
            ["FS.00000000.wal", "FS.00000001.wal", "wal_meta.dat"]
        );
        assert_eq!(meta(tmp.path()), (1, 16_512, 512));
        let h = header(&std::fs::read(tmp.path().join("FS.00000001.wal")).unwrap());
        let fields = (
            h.block_count,
            h.event_count,
            h.first_event_id,
            h.last_event_id,
        );
        assert_eq!(fields, (1, 256, 257, 512));
        // Nothing appended: one empty finalized segment, meta all zero.
        let (tmp, l) = write(spec(Scenario::Clean, 0, 16, 0, 0));
        assert_eq!((l.delivered.len(), l.files.len()), (0, 2));
        assert_eq!(meta(tmp.path()), (0, 0, 0));
        let h = header(&std::fs::read(tmp.path().join("FS.00000000.wal")).unwrap());
        assert_eq!((h.block_count, h.checksum != 0), (0, true));
        // Crash inside segment 0: magic kept, only full blocks, meta from initialize.
        let (tmp, l) = write(spec(Scenario::Crash, 300, 2, 0, 0));
        assert_eq!((l.delivered, l.files.len()), (vec![(1, 256)], 5));
        assert_eq!(meta(tmp.path()), (0, 0, 0));
        let raw = std::fs::read(tmp.path().join("FS.00000000.wal")).unwrap();
        assert_eq!(
            (&raw[..4], raw.len()),
            (&[0x53, 0x46, 0x01, 0x40][..], 64 + 2 * 16_448)
        );
        assert!(raw[64 + 16_448..].iter().all(|&b| b == 0));
        // Crash before the first block filled: nothing on disk to deliver.
        assert!(write(spec(Scenario::Crash, 255, 16, 0, 0))
            .1
            .delivered
            .is_empty());
        // Restart with no full segment kept, and with no gap at all.
        let (_, l) = write(spec(Scenario::Restart, 100, 16, 0, 40));
        assert_eq!((l.delivered, l.gap), (vec![(41, 100)], Some((1, 40))));
        let (_, l) = write(spec(Scenario::Restart, 5000, 16, 0, 0));
        assert_eq!((l.delivered, l.gap), (vec![(1, 5000)], None));
        // Every segment cold.
        let (_, l) = write(spec(Scenario::Cold, 300, 1, 2, 0));
        assert_eq!(
            l.files,
            ["FS.00000000.wal.lz4", "FS.00000001.wal.lz4", "wal_meta.dat"]
        );
    }

    #[test]
    fn impossible_specs_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let bad = |s: LogSpec| write_log(tmp.path(), &s).unwrap_err().kind();
        for s in [
            spec(Scenario::CrashRotation, 16_384, 16, 0, 0), // not k*P + 1
            spec(Scenario::CrashRotation, 1, 16, 0, 0),      // k = 0
            spec(Scenario::Clean, 1, 0, 0, 0),
            spec(Scenario::Clean, 1, MAX_BLOCKS + 1, 0, 0),
            spec(Scenario::Cold, 20_000, 16, 6, 0), // only 5 segments
            spec(Scenario::Restart, 20_000, 16, 0, 20_000), // nothing after the gap
            spec(Scenario::Clean, u64::MAX, 16, 0, 0),
        ] {
            assert_eq!(bad(s.clone()), io::ErrorKind::InvalidInput, "{s:?}");
        }
        assert!(
            std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
            "refusals write nothing"
        );
        std::fs::write(tmp.path().join("x"), b"").unwrap();
        let s = spec(Scenario::Clean, 1, 16, 0, 0);
        assert_eq!(bad(s), io::ErrorKind::DirectoryNotEmpty);
    }

    #[test]
    fn unfinalized_segments_hold_only_full_blocks() {
        let s = SegmentState::Unfinalized { zero_magic: true };
        let a = segment_bytes(3, 16, 1, 600, 5, 6, s, &sample_event);
        assert_eq!(a, segment_bytes(3, 16, 1, 512, 5, 0, s, &sample_event));
        let h = header(&a);
        let fields = (
            h.magic,
            h.segment_index,
            h.created_ts_ns,
            h.closed_ts_ns,
            h.checksum,
        );
        assert_eq!(fields, (0x4600, 3, 5, 0, 0));
    }

    #[test]
    #[should_panic(expected = "do not fit")]
    fn overfull_segment_panics() {
        let _ = segment_bytes(0, 1, 1, 257, 0, 0, SegmentState::Finalized, &sample_event);
    }
}
