//! The on-disk format seam: everything the reader side knows about a format's bytes.
//!
//! wal_recovery replays two formats through one pipeline — its own ([`native`], `docs/FORMAT.md`
//! first part) and FlashStrike v1 ([`flashstrike`], the format the C++ recorder of the original
//! design writes). The scan, the [`SegmentReader`](super::segment_reader::SegmentReader), the
//! preloader, the manager, the report, the C ABI and `walrec` are format-neutral; what differs
//! between formats is confined to the few questions below, answered per format:
//!
//! * what a segment's header says ([`decode_header`]), reduced to the neutral
//!   [`SegmentHeader`] the scan and the manager plan with;
//! * whether the block at an offset is valid, apart from its payload checksum ([`check_block`]),
//!   and where its records are ([`IndexEntry`]);
//! * whether a block's payload matches its checksums ([`check_payload`]) — the expensive part,
//!   shared between the replay thread and the preloader;
//! * how a segment ends: its totals against its header ([`sealed_totals`]), at the end of the
//!   file ([`end_of_file`]), and whether a failed block is a torn write or damage
//!   ([`find_later_block`]);
//! * how one record is framed ([`RecordFraming`]): length-prefixed (native) or fixed 64-byte
//!   records (FlashStrike).
//!
//! The format of a file is recognised from its first bytes ([`detect`]), so a directory needs
//! no configuration; [`FormatChoice`] forces one.

pub mod flashstrike;
pub mod native;
mod zeros;

pub(crate) use zeros::{all_zero, first_nonzero, zero_suffix_start};

use std::path::Path;

use crate::error::{Corruption, CorruptionKind};
use crate::segment::header::SegmentHeader;

/// A segment file format wal_recovery reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// wal_recovery's own format (`WALS` segments, CRC32C).
    Native,
    /// FlashStrike v1 (`FS.<8 digits>.wal`, XXH64, 64-byte `RequestEvent`s, 256 per block).
    FlashStrikeV1,
}

impl Format {
    /// Name used in reports, the CLI and the C API.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::FlashStrikeV1 => "flashstrike-v1",
        }
    }
}

/// Which format a [`Manager`](crate::Manager) reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FormatChoice {
    /// Recognise the format from the segment headers (the default). A directory holding
    /// segments of both formats is an error naming a file of each.
    #[default]
    Auto,
    /// Only wal_recovery's own format; other files are reported as bad headers.
    Native,
    /// Only FlashStrike v1; other files are reported as bad headers.
    FlashStrikeV1,
}

impl FormatChoice {
    /// Name used in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            FormatChoice::Auto => "auto",
            FormatChoice::Native => "native",
            FormatChoice::FlashStrikeV1 => "flashstrike-v1",
        }
    }

    /// Whether a file of `format` is read under this choice.
    pub fn admits(self, format: Format) -> bool {
        match self {
            FormatChoice::Auto => true,
            FormatChoice::Native => format == Format::Native,
            FormatChoice::FlashStrikeV1 => format == Format::FlashStrikeV1,
        }
    }
}

/// The format whose header starts with `prefix` (at least 4 bytes), if any.
pub fn detect(prefix: &[u8]) -> Option<Format> {
    if prefix.get(..4) == Some(&crate::segment::header::SEGMENT_MAGIC[..]) {
        Some(Format::Native)
    } else if crate::flashstrike::header::looks_like(prefix) {
        Some(Format::FlashStrikeV1)
    } else {
        None
    }
}

/// Whether `path` names a cold (LZ4-compressed) FlashStrike segment: `<name>.wal.lz4`.
pub fn is_cold_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".wal.lz4"))
}

/// Bytes needed to decode a header: the segment header, and for FlashStrike the first block
/// header too (an unfinalized FlashStrike header holds no ids; its first block does).
pub const HEADER_PREFIX_BYTES: usize = 128;

/// What a segment's first bytes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A segment holding (or able to hold) events, and how its blocks are chained.
    Segment {
        /// The neutral header.
        header: SegmentHeader,
        /// Its format.
        format: Format,
        /// Chain value the first block continues (native: the header's previous chain;
        /// FlashStrike: 0, its chain restarts in every segment).
        first_chain: u64,
        /// Chain value the last block must end with, for a sealed segment (native: the header's
        /// last chain; FlashStrike: `last_chained_checksum`).
        last_chain: u64,
    },
    /// A file of this format that holds no events and never did (FlashStrike: a pre-created
    /// segment, or an empty finalized one). Not data, never lost.
    Empty {
        /// Its format.
        format: Format,
        /// What it is.
        detail: String,
    },
}

/// Why a header was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// Which check failed.
    pub kind: CorruptionKind,
    /// Specifics.
    pub detail: String,
}

/// Decodes the header at the start of `prefix` (up to [`HEADER_PREFIX_BYTES`] of the file),
/// in the format its first bytes announce; `choice` rejects the other format.
pub fn decode_header(prefix: &[u8], choice: FormatChoice) -> Result<Decoded, HeaderError> {
    let Some(format) = detect(prefix) else {
        return Err(HeaderError {
            kind: CorruptionKind::HeaderMagic,
            detail: format!(
                "first bytes {:02x?} are neither a wal_recovery (WALS) nor a FlashStrike v1 header",
                &prefix[..prefix.len().min(4)]
            ),
        });
    };
    if !choice.admits(format) {
        return Err(HeaderError {
            kind: CorruptionKind::HeaderMagic,
            detail: format!(
                "a {} header, but the format is set to {}",
                format.as_str(),
                choice.as_str()
            ),
        });
    }
    match format {
        Format::Native => native::decode_header(prefix),
        Format::FlashStrikeV1 => flashstrike::decode_header(prefix),
    }
}

/// As [`decode_header`], and when the first bytes of a FlashStrike segment look empty but may
/// not be (an unfinalized header whose first block header is zeros or damaged), looks further
/// into the file through `read_at` ([`flashstrike::probe_first_id`]): a file with data after all
/// is a segment (its damaged first block is then found by verification), a file without is
/// empty. `len` is the file's length; `stored` tells, when the probe runs, where the file's
/// trailing hole starts (`len` without one): the probe reads no further — a hole reads as
/// zeros, which hold no block header and no record, and a pre-created segment of the
/// recorder's is all hole after its header (reading it would fill the page cache with 64 MiB
/// of zeroed pages).
pub fn decode_header_probing(
    prefix: &[u8],
    choice: FormatChoice,
    len: u64,
    stored: &mut dyn FnMut() -> u64,
    read_at: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Result<Decoded, HeaderError> {
    let decoded = decode_header(prefix, choice)?;
    if detect(prefix) == Some(Format::FlashStrikeV1)
        && flashstrike::is_unfinalized(prefix)
        && !flashstrike::is_preallocated_len(len)
    {
        // The recorder preallocates before it writes a header: a shorter or longer unfinalized
        // file was cut or extended after the crash, and what it held is unknown.
        return Err(HeaderError {
            kind: CorruptionKind::Truncated,
            detail: format!(
                "unfinalized segment of {len} bytes; the recorder preallocates 64 + n × 16448"
            ),
        });
    }
    if matches!(decoded, Decoded::Empty { .. }) && flashstrike::needs_probe(prefix) {
        if let Some(first) = flashstrike::probe_first_id(stored().min(len), read_at) {
            if let Some(d) = flashstrike::unfinalized_from(prefix, first) {
                return Ok(d);
            }
        }
    }
    Ok(decoded)
}

/// One entry of the sparse index: a verified block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Id of the block's first event.
    pub first_event_id: u64,
    /// Number of events in the block.
    pub event_count: u32,
    /// File offset of the block's first record (just past its header).
    pub payload_offset: usize,
    /// File offset one past its last record.
    pub payload_end: usize,
}

/// One block's payload and what its header promises about it: the part of verification
/// ([`check_payload`]) the two threads share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadBlock {
    /// File offset of the first payload byte.
    pub start: usize,
    /// File offset one past the last record.
    pub end: usize,
    /// File offset one past the block: `end..slots_end` must be zero (FlashStrike: its unused
    /// record slots; native: the padding to the next 64-byte boundary). Checked with the
    /// payload, whose last cache line it shares, not by the header walk, which would load a
    /// line 64 KiB away from the header it reads.
    pub slots_end: usize,
    /// Id of the block's first record (FlashStrike records carry their id).
    pub first_id: u64,
    /// Checksum seed: FlashStrike's previous chained value; unused for native blocks.
    pub seed: u64,
    /// The checksum stored in the block header (native: payload CRC32C; FlashStrike: chained
    /// XXH64).
    pub expect: u64,
}

/// A valid block: its index entry, the chain value after it, where the next block starts and
/// its payload check.
#[derive(Clone, Copy, Debug)]
pub struct BlockOk {
    /// The block's index entry.
    pub entry: IndexEntry,
    /// Chain value after this block.
    pub chain: u64,
    /// Offset of the next block.
    pub next_off: usize,
    /// Its payload, for [`check_payload`].
    pub payload: PayloadBlock,
}

/// A block that failed a check.
#[derive(Clone, Debug)]
pub struct BlockFailure {
    /// Which check.
    pub kind: CorruptionKind,
    /// Specifics.
    pub detail: String,
    /// The block (or what is left of the file) is all zeros: the end of written data.
    pub zero_filled: bool,
}

impl BlockFailure {
    /// A failure that is not a zero-filled block.
    pub fn new(kind: CorruptionKind, detail: impl Into<String>) -> Self {
        BlockFailure {
            kind,
            detail: detail.into(),
            zero_filled: false,
        }
    }

    /// A block header of zeros: the end of written data.
    pub fn zero_filled_header() -> Self {
        BlockFailure {
            zero_filled: true,
            ..BlockFailure::new(CorruptionKind::BlockMagic, "zero-filled block header")
        }
    }
}

/// Where verification stands: the next block's offset and what it must continue.
#[derive(Clone, Copy, Debug)]
pub struct Cursor {
    /// Offset of the next block.
    pub off: usize,
    /// Chain value it must continue.
    pub chain: u64,
    /// Id its first event must have.
    pub expect_id: u64,
    /// Its position in the segment.
    pub block_no: u64,
    /// The log identity every block must carry: the segment header's, for native format 2;
    /// `None` for format 1 and FlashStrike (taken from the decoded header once, not re-read
    /// from the bytes at each block: a caller may hold only the block).
    pub log_id: Option<u64>,
}

/// The log identity the blocks of a segment with this header must carry ([`Cursor::log_id`]).
pub fn log_identity(format: Format, header: &SegmentHeader) -> Option<u64> {
    (format == Format::Native && header.version != crate::segment::header::FORMAT_VERSION_1)
        .then_some(header.log_id)
}

/// The 64-byte block header at `off`, or why there is none: fewer than 64 bytes left
/// (`Truncated`), or a header of zeros — the end of written data (`zero_filled`). The start
/// of every format's block check.
#[inline(always)]
pub(crate) fn block_header_at(data: &[u8], off: usize) -> Result<[u8; 64], BlockFailure> {
    let Some(raw) = crate::segment::bytes::header_at(data, off) else {
        let rest = data.get(off..).unwrap_or(&[]);
        let mut f = BlockFailure::new(
            CorruptionKind::Truncated,
            format!("{} bytes left, a block header needs 64", rest.len()),
        );
        f.zero_filled = all_zero(rest);
        return Err(f);
    };
    if raw.iter().all(|&b| b == 0) {
        return Err(BlockFailure::zero_filled_header());
    }
    Ok(raw)
}

/// The checks every format makes of a block's place: its index is its position, and its first
/// id continues the previous block (or the segment's first id).
pub(crate) fn check_place(index: u64, first_event_id: u64, c: &Cursor) -> Result<(), BlockFailure> {
    if index != c.block_no {
        return Err(BlockFailure::new(
            CorruptionKind::BlockIndex,
            format!("index {index} at position {}", c.block_no),
        ));
    }
    if first_event_id != c.expect_id {
        return Err(BlockFailure::new(
            CorruptionKind::BlockIds,
            format!(
                "first event id {first_event_id} where {} was expected",
                c.expect_id
            ),
        ));
    }
    Ok(())
}

/// Checks the block at `c` — everything but its payload checksum when `with_payload` is false
/// (shared verification checks that separately).
///
/// Inlined into the verification loops together with the checks it calls: with a call and a
/// returned `Result` between one block's CRC and the next, the next CRC ran slower, and a
/// segment's open+verify went from 0.80–0.82x to 0.84–0.85x a raw CRC pass over the same bytes
/// once inlined (`examples/verify_parts.rs`, BENCHMARKS.md).
#[inline(always)]
pub fn check_block(
    format: Format,
    data: &[u8],
    c: &Cursor,
    with_payload: bool,
) -> Result<BlockOk, BlockFailure> {
    let ok = match format {
        Format::Native => native::check_block(data, c),
        Format::FlashStrikeV1 => flashstrike::check_block(data, c),
    }?;
    if with_payload {
        check_payload(format, data, &ok.payload)?;
    }
    Ok(ok)
}

/// Checks a block's payload against what its header promises.
#[inline(always)]
pub fn check_payload(format: Format, data: &[u8], b: &PayloadBlock) -> Result<(), BlockFailure> {
    match format {
        Format::Native => native::check_payload(data, b),
        Format::FlashStrikeV1 => flashstrike::check_payload(data, b),
    }
}

/// How many consecutive blocks' payload checks are claimed and run together: four for
/// FlashStrike, whose chained XXH64s are computed four at a time
/// ([`crate::flashstrike::xxh64_x4`]); one for the native format (CRC32C is already as fast
/// as memory on one stream).
pub fn check_group(format: Format) -> usize {
    match format {
        Format::Native => 1,
        Format::FlashStrikeV1 => 4,
    }
}

/// [`check_payload`] of each of `blocks` (consecutive, at most [`check_group`] of them), as
/// "passed" flags in `ok` (same length).
pub fn check_payloads(format: Format, data: &[u8], blocks: &[PayloadBlock], ok: &mut [bool]) {
    if let (Format::FlashStrikeV1, Ok(four), Ok(out)) = (
        format,
        <&[PayloadBlock; 4]>::try_from(blocks),
        <&mut [bool; 4]>::try_from(&mut *ok),
    ) {
        *out = flashstrike::check_payloads_x4(data, four);
        return;
    }
    for (b, o) in blocks.iter().zip(ok.iter_mut()) {
        *o = check_payload(format, data, b).is_ok();
    }
}

/// How a verified segment's data ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Every byte verified.
    Clean,
    /// An unsealed segment ending in a torn write.
    TornTail(TornTail),
    /// Verification failed; only the prefix before `offset` is valid.
    Corrupt(Corruption),
}

/// Where an unsealed segment's valid data stops because its last write was torn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// File offset of the first byte not part of the valid prefix.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file (dropped).
    pub bytes: u64,
    /// What was found there.
    pub reason: String,
}

/// What the end-of-segment decisions need to know about a segment.
#[derive(Clone, Copy, Debug)]
pub struct SegmentFacts<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its format.
    pub format: Format,
    /// Its neutral header.
    pub header: &'a SegmentHeader,
    /// The chain value a sealed segment's last block must end with.
    pub last_chain: u64,
    /// Where the file's trailing hole starts (its length when it has none): bytes from there
    /// on are zeros without being read (`segment_bytes::trailing_hole`).
    pub zeros_from: usize,
}

impl SegmentFacts<'_> {
    /// Where the bytes to read end, for checks of the `len`-byte data from offset `from` on:
    /// the trailing hole's start — a hole reads as zeros, so a check that bytes are zero, or
    /// that no block header follows, need not read it (reading it would fill the page cache
    /// with zeroed pages: a FlashStrike recorder preallocates 64 MiB segments, mostly hole
    /// after a crash) — or `len`, every byte read, when the hole starts before `from`: it was
    /// looked up before the file grew past it.
    pub fn stored_end(&self, len: usize, from: usize) -> usize {
        if self.zeros_from >= from {
            self.zeros_from.min(len)
        } else {
            len
        }
    }
}

pub(crate) fn corruption_at(
    path: &Path,
    offset: u64,
    block: Option<u64>,
    kind: CorruptionKind,
    detail: String,
) -> Corruption {
    Corruption {
        path: path.to_path_buf(),
        offset,
        block,
        kind,
        detail,
    }
}

/// A sealed segment after its last counted block: totals and what follows must match.
pub fn sealed_totals(data: &[u8], s: &SegmentFacts<'_>, c: &Cursor) -> SegmentEnd {
    let h = s.header;
    let count = c.expect_id - h.first_event_id;
    if count != h.event_count || c.chain != s.last_chain {
        return SegmentEnd::Corrupt(corruption_at(
            s.path,
            0,
            None,
            CorruptionKind::SealedMismatch,
            format!(
                "header says {} events, last chain {:#x}; blocks hold {count} events, chain {:#x}",
                h.event_count, s.last_chain, c.chain
            ),
        ));
    }
    match s.format {
        Format::Native => native::after_last_block(data, s.path, c),
        Format::FlashStrikeV1 => flashstrike::after_last_block(data, s, c),
    }
}

/// The file ends exactly at a block boundary: clean for an unsealed segment, truncation for a
/// sealed one that promised more blocks.
pub fn end_of_file(s: &SegmentFacts<'_>, c: &Cursor) -> SegmentEnd {
    if s.header.sealed {
        SegmentEnd::Corrupt(corruption_at(
            s.path,
            c.off as u64,
            Some(c.block_no),
            CorruptionKind::Truncated,
            format!(
                "file ends after {} of {} blocks",
                c.block_no, s.header.block_count
            ),
        ))
    } else {
        SegmentEnd::Clean
    }
}

/// How a segment whose block `block_no` at `off` failed ends: the torn tail of the last write
/// when the segment is unsealed, no valid block follows the damage, and the damage has the
/// shape an interrupted write leaves (per format: [`native::torn_shape`],
/// [`flashstrike::torn_shape`]; native format 2 also [`native::lost_sector`]); corruption
/// otherwise. A bit flip in the last written block is therefore corruption, never a torn tail:
/// Strict never ends clean on it. Native format 2 also decides a failed block that valid ones
/// follow, from the synced offsets they record ([`native::sync_proof`]): covered by a
/// completed sync, damage; otherwise un-synced writes a power loss kept out of order, the torn
/// tail (docs/FORMAT.md, "Torn tail or damage").
pub fn classify(
    data: &[u8],
    s: &SegmentFacts<'_>,
    off: usize,
    block_no: u64,
    fail: BlockFailure,
) -> SegmentEnd {
    let c = corruption_at(
        s.path,
        off as u64,
        Some(block_no),
        fail.kind,
        fail.detail.clone(),
    );
    if s.header.sealed {
        return SegmentEnd::Corrupt(c);
    }
    let v2 =
        s.format == Format::Native && s.header.version != crate::segment::header::FORMAT_VERSION_1;
    let rest_len = data.len().saturating_sub(off) as u64;
    let stored = s.stored_end(data.len(), off);
    if let Some(later) = find_later_block(s.format, data, off, block_no, stored) {
        // Format 2 records in each block how far the last completed sync reached, which
        // decides whether the failed block was ever synced (docs/FORMAT.md, "Torn tail or
        // damage").
        if v2 {
            if let Some((at, synced)) = native::sync_proof(data, off, block_no) {
                let mut c = c;
                c.detail = format!(
                    "{}; the block at offset {at} records a completed sync up to offset {synced}, \
                     beyond this block, so this block was synced: damage, not a torn write",
                    c.detail
                );
                return SegmentEnd::Corrupt(c);
            }
            // Not proven synced: a torn tail if the damage is what a lost write leaves (its
            // header's sector, or a whole sector inside it, reads as zeros); a changed byte is
            // still damage.
            let header_lost = fail.zero_filled && native::header_sector_lost(data, off, stored);
            if header_lost || native::lost_sector(data, off) {
                return SegmentEnd::TornTail(TornTail {
                    offset: off as u64,
                    bytes: rest_len,
                    reason: format!(
                        "{}, followed by blocks no completed sync covered (un-synced writes \
                         that a power loss kept out of order)",
                        fail.kind.as_str()
                    ),
                });
            }
            let mut c = c;
            c.detail = format!(
                "{}; a valid block follows at offset {later}, and the damage is not a lost \
                 sector, so this is not a torn write",
                c.detail
            );
            return SegmentEnd::Corrupt(c);
        }
        let mut c = c;
        c.detail = format!(
            "{}; a valid block follows at offset {later}, so this is not a torn write",
            c.detail
        );
        return SegmentEnd::Corrupt(c);
    }
    let torn = match s.format {
        Format::Native => {
            native::torn_shape(data, off, &fail, stored) || (v2 && native::lost_sector(data, off))
        }
        Format::FlashStrikeV1 => flashstrike::torn_shape(data, off, &fail, stored),
    };
    if !torn {
        let mut c = c;
        c.detail = format!(
            "{}; not what an interrupted write leaves (the damaged block is not cut short and \
             not followed by zeros only), so this is not a torn write",
            c.detail
        );
        return SegmentEnd::Corrupt(c);
    }
    let stored_rest = data.get(off..stored).unwrap_or(&[]);
    let reason = if !fail.zero_filled {
        fail.kind.as_str().to_string()
    } else if all_zero(stored_rest) {
        "zero-filled block".to_string()
    } else {
        "zero-filled block header, non-zero bytes after it".to_string()
    };
    SegmentEnd::TornTail(TornTail {
        offset: off as u64,
        bytes: rest_len,
        reason,
    })
}

/// Looks for a block header that verifies on its own after a failed block at `off`: if one
/// exists, the failure is damage in the middle of data, not a torn final write.
pub fn find_later_block(
    format: Format,
    data: &[u8],
    off: usize,
    block_no: u64,
    stored: usize,
) -> Option<usize> {
    match format {
        Format::Native => native::find_later_block(data, off, block_no, stored),
        Format::FlashStrikeV1 => flashstrike::find_later_block(data, off, block_no, stored),
    }
}

/// How records are framed inside a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFraming {
    /// Native: a `u32` length, the payload, zero padding to 8 bytes.
    LengthPrefixed,
    /// FlashStrike: raw fixed-size records (64-byte `RequestEvent`s), delivered whole.
    Fixed(usize),
}

impl RecordFraming {
    /// The framing of `format`.
    pub fn of(format: Format) -> Self {
        match format {
            Format::Native => RecordFraming::LengthPrefixed,
            Format::FlashStrikeV1 => RecordFraming::Fixed(crate::flashstrike::EVENT_BYTES),
        }
    }

    /// The record at `pos` of `block` (which ends at the block's last record): payload start,
    /// payload end, next record. `None` when it would overrun the block.
    #[inline(always)]
    pub fn decode_at(self, block: &[u8], pos: usize) -> Option<(usize, usize, usize)> {
        match self {
            RecordFraming::LengthPrefixed => crate::segment::record::decode_at(block, pos),
            RecordFraming::Fixed(n) => {
                let end = pos.checked_add(n)?;
                (end <= block.len()).then_some((pos, end, end))
            }
        }
    }
}
