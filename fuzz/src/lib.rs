//! Helpers shared by the fuzz targets and the seed-corpus generator.
//!
//! The format is CRC-protected everywhere, so random mutations almost never get past the first
//! checksum. [`fixup`] optionally recomputes the checksums of a mutated segment (segment header
//! CRC; block payload CRC, chain and header CRC, block by block as the headers lay them out), so
//! the fuzzer also reaches everything *behind* the checksums: field checks, ids, index, sealed
//! totals, padding, record framing.

use std::path::{Path, PathBuf};

/// Flag bit of the first input byte: recompute the segment header CRC.
pub const FIX_SEGMENT_HEADER: u8 = 1;
/// Flag bit: recompute every block's payload CRC, chain and header CRC.
pub const FIX_BLOCKS: u8 = 2;

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes the checksums selected by `flags` in the segment file image `file`, in place.
pub fn fixup(file: &mut [u8], flags: u8) {
    if file.len() < 64 {
        return;
    }
    if flags & FIX_BLOCKS != 0 {
        let mut chain = u32_at(file, 56);
        let mut off = 64usize;
        while off + 64 <= file.len() {
            let len = u32_at(file, off + 20) as usize;
            let start = off + 64;
            let Some(end) = start.checked_add(len).filter(|&e| e <= file.len()) else {
                break;
            };
            let pcrc = crc32c::crc32c(&file[start..end]);
            put_u32(file, off + 24, pcrc);
            chain = crc32c::crc32c_append(chain, &file[off..off + 28]);
            put_u32(file, off + 28, chain);
            let hcrc = crc32c::crc32c_append(
                crc32c::crc32c(&file[off..off + 32]),
                &file[off + 36..off + 64],
            );
            put_u32(file, off + 32, hcrc);
            off = end.next_multiple_of(64);
        }
    }
    if flags & FIX_SEGMENT_HEADER != 0 {
        let crc = crc32c::crc32c_append(crc32c::crc32c(&file[0..8]), &file[12..64]);
        put_u32(file, 8, crc);
    }
}

/// A per-process scratch path under the temp dir (tmpfs when `/dev/shm` exists).
pub fn scratch(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("walfuzz-{}-{name}", std::process::id()))
}

/// Payload of event `i` (same formula as the hardening tests).
pub fn payload(i: u64) -> Vec<u8> {
    (0..(i % 200) as usize)
        .map(|k| {
            if k < 8 {
                i.to_le_bytes()[k]
            } else {
                (i.wrapping_mul(31).wrapping_add(k as u64 * 17) % 251) as u8
            }
        })
        .collect()
}

/// FlashStrike v1: recomputes, block by block, every block header (ids from the records, both
/// XXH64 values, the self checksum; the stored index is kept, a count out of 1..=256 is clamped)
/// while the blocks' headers are not all zeros, then — for a finalized header (checksum field
/// not zero) — `last_chained_checksum` and the header checksum. Counts and ids in the segment
/// header are left as the input has them, so the fuzzer reaches every check behind the
/// checksums.
pub fn flashstrike_fixup(file: &mut [u8]) {
    use wal_recovery::flashstrike::block::encode_block_header;
    use wal_recovery::flashstrike::header::header_checksum;
    use wal_recovery::flashstrike::{BLOCK_BYTES, BLOCK_EVENTS, EVENT_BYTES, HEADER_BYTES};
    let mut chain = 0u64;
    let mut at = HEADER_BYTES;
    while at + BLOCK_BYTES <= file.len() {
        if file[at..at + 64].iter().all(|&b| b == 0) {
            break;
        }
        let count = usize::from(u16::from_le_bytes([file[at + 44], file[at + 45]]));
        let count = count.clamp(1, BLOCK_EVENTS);
        let index = u32_at(file, at + 40);
        let start = at + 64;
        let (header, next) =
            encode_block_header(&file[start..start + count * EVENT_BYTES], index, chain);
        file[at..at + 64].copy_from_slice(&header);
        chain = next;
        at += BLOCK_BYTES;
    }
    if file.len() >= HEADER_BYTES && file[48..56] != [0u8; 8] {
        file[56..64].copy_from_slice(&chain.to_le_bytes());
        let raw: [u8; 64] = file[..64].try_into().expect("64 bytes");
        let sum = header_checksum(&raw);
        file[48..56].copy_from_slice(&sum.to_le_bytes());
    }
}

/// What a `flashstrike_segment` input asks for: a generated FlashStrike segment (before
/// mutation) and how to store it. See `fuzz_targets/flashstrike_segment.rs` for the layout.
#[derive(Clone, Copy, Debug)]
pub struct FsParams {
    pub blocks: u32,
    pub first_id: u64,
    pub count: u64,
    /// 0 finalized, 1 unfinalized (full blocks only), 2 pre-created (empty).
    pub state: u8,
    pub zero_magic: bool,
}

impl FsParams {
    /// Decodes bytes 1..7 of an input (missing bytes read as zero).
    pub fn decode(b: &[u8]) -> FsParams {
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let blocks = u32::from(at(0) % 3) + 1;
        let capacity = u64::from(blocks) * 256;
        let count = u64::from(u16::from_le_bytes([at(1), at(2)])) % (capacity + 1);
        let low = u64::from(u16::from_le_bytes([at(4), at(5)]));
        let first_id = if at(3) & 8 != 0 {
            u64::MAX - 2 * capacity + low % capacity
        } else {
            low + 1
        };
        FsParams {
            blocks,
            first_id,
            count,
            state: at(3) % 3,
            zero_magic: at(3) & 4 != 0,
        }
    }

    /// The segment, byte-exact what FlashStrike's recorder writes (`sample_event` payloads).
    pub fn generate(self) -> Vec<u8> {
        use wal_recovery::flashstrike::event::sample_event;
        use wal_recovery::flashstrike::generate::{segment_bytes, SegmentState};
        let (first, count, state) = match self.state {
            0 => (self.first_id, self.count, SegmentState::Finalized),
            1 => (
                self.first_id,
                self.count,
                SegmentState::Unfinalized {
                    zero_magic: self.zero_magic,
                },
            ),
            _ => (
                0,
                0,
                SegmentState::Unfinalized {
                    zero_magic: self.zero_magic,
                },
            ),
        };
        let ts = 1_767_225_600_000_000_000;
        segment_bytes(
            0,
            self.blocks,
            first,
            count,
            ts,
            ts + 9,
            state,
            &sample_event,
        )
    }
}
