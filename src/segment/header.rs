//! The 64-byte segment header at offset 0 of every segment file.
//!
//! Written when the segment is created (unsealed: only identity fields) and rewritten once, in
//! place, when the segment is sealed (totals and the last chain value filled in). A 64-byte write
//! at offset 0 never straddles a sector, so a crash leaves either the old or the new header.
//!
//! Format version 2 (written by new logs) differs from version 1 (still read, and still
//! written when a writer continues a version-1 log) in one field: offset 32 holds the **log
//! id**, a random non-zero 64-bit number chosen when the log is created and carried by every
//! segment (and every block, [`super::block`]) of the log, so that a segment of another log, or
//! a directory mixing two runs, is told apart in every mode. The last event id it replaces
//! was redundant (`first + count - 1` when sealed, 0 while open) and is derived on decoding.
//! The log id also seeds the chain: the first segment's previous chain value is
//! [`chain_seed`]`(log id)` instead of [`super::CHAIN_SEED`]. There is no room for more than 64
//! bits in the 64-byte header; a random 64-bit id makes two logs' ids equal by accident with a
//! probability of 2^-64.
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 4 | magic `WALS` |
//! | 4 | 1 | format version (1 or 2) |
//! | 5 | 1 | header size (64) |
//! | 6 | 2 | flags (bit 0 = sealed) |
//! | 8 | 4 | CRC32C of bytes 0..8 and 12..64 |
//! | 12 | 4 | block count (sealed) |
//! | 16 | 8 | segment sequence number |
//! | 24 | 8 | first event id |
//! | 32 | 8 | v1: last event id (sealed); v2: log id (non-zero) |
//! | 40 | 8 | event count (sealed) |
//! | 48 | 8 | created, wall clock, unix ns |
//! | 56 | 4 | previous segment's last chain value |
//! | 60 | 4 | this segment's last chain value (sealed) |

use super::bytes::{put, u16_at, u32_at, u64_at};
use super::checksum;
use super::HEADER_BYTES;
use crate::error::CorruptionKind;

/// `WALS` — wal_recovery segment.
pub const SEGMENT_MAGIC: [u8; 4] = *b"WALS";
/// Format version a new log is written in.
pub const FORMAT_VERSION: u8 = 2;
/// The first format version, still read (and written when a writer continues such a log).
pub const FORMAT_VERSION_1: u8 = 1;
/// Flag bit: the segment is complete and its totals are valid.
pub const FLAG_SEALED: u16 = 1;
const KNOWN_FLAGS: u16 = FLAG_SEALED;

/// Decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version (1 or 2).
    pub version: u8,
    /// Identity of the log the segment belongs to (v2, non-zero); 0 in version 1.
    pub log_id: u64,
    /// Complete segment: totals below are valid and must match the blocks.
    pub sealed: bool,
    /// Number of blocks (sealed only; 0 while open).
    pub block_count: u32,
    /// Writer's segment sequence number (also in the file name).
    pub sequence: u64,
    /// Id of the segment's first event (≥ 1).
    pub first_event_id: u64,
    /// Id of the last event (sealed only; `first - 1` for an empty sealed segment, 0 while open).
    pub last_event_id: u64,
    /// Number of events (sealed only).
    pub event_count: u64,
    /// Creation time, wall clock, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// Chain value of the previous segment's last block ([`super::CHAIN_SEED`] for a new log).
    pub prev_chain: u32,
    /// Chain value of this segment's last block (sealed only; `prev_chain` when empty).
    pub last_chain: u32,
}

/// Why a header was rejected, with the failing check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// Which check failed.
    pub kind: CorruptionKind,
    /// Specifics (expected vs found).
    pub detail: String,
}

fn header_crc(b: &[u8; 64]) -> u32 {
    checksum::crc32c_append(checksum::crc32c(&b[0..8]), &b[12..64])
}

/// The chain value a version-2 log starts from: a function of its log id, so that two logs'
/// chains differ from their first block even when their ids and payloads are equal.
pub fn chain_seed(log_id: u64) -> u32 {
    checksum::crc32c(&log_id.to_le_bytes())
}

impl SegmentHeader {
    /// A fresh, unsealed version-1 header (a writer of a new log sets `version` and `log_id`).
    pub fn new_open(
        sequence: u64,
        first_event_id: u64,
        prev_chain: u32,
        created_unix_ns: u64,
    ) -> Self {
        SegmentHeader {
            version: FORMAT_VERSION_1,
            log_id: 0,
            sealed: false,
            block_count: 0,
            sequence,
            first_event_id,
            last_event_id: 0,
            event_count: 0,
            created_unix_ns,
            prev_chain,
            last_chain: 0,
        }
    }

    /// Which log the segment belongs to, for messages: `log id 0x…` (format 2) or
    /// `format 1, no log id`.
    pub fn identity(&self) -> String {
        if self.version == FORMAT_VERSION_1 {
            "format 1, no log id".into()
        } else {
            format!("log id {:#018x}", self.log_id)
        }
    }

    /// One past the last event id, when sealed.
    pub fn end_id(&self) -> Option<u64> {
        self.sealed.then(|| self.first_event_id + self.event_count)
    }

    /// Encodes the header, computing its checksum.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; 64];
        put(&mut b, 0, &SEGMENT_MAGIC);
        b[4] = self.version;
        b[5] = HEADER_BYTES as u8;
        put(
            &mut b,
            6,
            &(if self.sealed { FLAG_SEALED } else { 0 }).to_le_bytes(),
        );
        put(&mut b, 12, &self.block_count.to_le_bytes());
        put(&mut b, 16, &self.sequence.to_le_bytes());
        put(&mut b, 24, &self.first_event_id.to_le_bytes());
        if self.version == FORMAT_VERSION_1 {
            put(&mut b, 32, &self.last_event_id.to_le_bytes());
        } else {
            put(&mut b, 32, &self.log_id.to_le_bytes());
        }
        put(&mut b, 40, &self.event_count.to_le_bytes());
        put(&mut b, 48, &self.created_unix_ns.to_le_bytes());
        put(&mut b, 56, &self.prev_chain.to_le_bytes());
        put(&mut b, 60, &self.last_chain.to_le_bytes());
        let crc = header_crc(&b);
        put(&mut b, 8, &crc.to_le_bytes());
        b
    }

    /// Decodes and validates a header: magic, version, size, checksum, flags and field
    /// consistency. Every failure names its check.
    pub fn decode(b: &[u8; HEADER_BYTES]) -> Result<Self, HeaderError> {
        let err = |kind, detail: String| Err(HeaderError { kind, detail });
        if b[0..4] != SEGMENT_MAGIC {
            return err(
                CorruptionKind::HeaderMagic,
                format!("found {:02x?}", &b[0..4]),
            );
        }
        let stored = u32_at(b, 8);
        let computed = header_crc(b);
        if stored != computed {
            return err(
                CorruptionKind::HeaderChecksum,
                format!("stored {stored:#010x}, computed {computed:#010x}"),
            );
        }
        let version = b[4];
        if !(version == FORMAT_VERSION_1 || version == FORMAT_VERSION)
            || b[5] as usize != HEADER_BYTES
        {
            return err(
                CorruptionKind::HeaderVersion,
                format!(
                    "version {} header size {} (expected {FORMAT_VERSION_1} or {FORMAT_VERSION}, 64)",
                    b[4], b[5]
                ),
            );
        }
        let flags = u16_at(b, 6);
        if flags & !KNOWN_FLAGS != 0 {
            return err(
                CorruptionKind::HeaderField,
                format!("unknown flags {flags:#06x}"),
            );
        }
        let sealed = flags & FLAG_SEALED != 0;
        let (log_id, last_event_id) = if version == FORMAT_VERSION_1 {
            (0, u64_at(b, 32))
        } else {
            let log_id = u64_at(b, 32);
            if log_id == 0 {
                return err(CorruptionKind::HeaderField, "log id is 0".into());
            }
            // Derived: consistent by construction, so the overflow check below still applies.
            let first = u64_at(b, 24);
            let count = u64_at(b, 40);
            let last = if sealed {
                first.wrapping_add(count).wrapping_sub(1)
            } else {
                0
            };
            (log_id, last)
        };
        let h = SegmentHeader {
            version,
            log_id,
            sealed,
            block_count: u32_at(b, 12),
            sequence: u64_at(b, 16),
            first_event_id: u64_at(b, 24),
            last_event_id,
            event_count: u64_at(b, 40),
            created_unix_ns: u64_at(b, 48),
            prev_chain: u32_at(b, 56),
            last_chain: u32_at(b, 60),
        };
        if h.first_event_id == 0 {
            return err(CorruptionKind::HeaderField, "first event id is 0".into());
        }
        if h.sealed {
            let end = h.first_event_id.checked_add(h.event_count);
            let consistent = match end {
                Some(end) => end - 1 == h.last_event_id,
                None => false,
            };
            if !consistent {
                return err(
                    CorruptionKind::HeaderField,
                    format!(
                        "first {} + count {} does not end at last {}",
                        h.first_event_id, h.event_count, h.last_event_id
                    ),
                );
            }
            if (h.event_count == 0) != (h.block_count == 0) {
                return err(
                    CorruptionKind::HeaderField,
                    format!("{} events in {} blocks", h.event_count, h.block_count),
                );
            }
        } else if h.block_count != 0
            || h.last_event_id != 0
            || h.event_count != 0
            || h.last_chain != 0
        {
            return err(
                CorruptionKind::HeaderField,
                "unsealed header has sealed-only fields set".into(),
            );
        }
        Ok(h)
    }
}
