//! Strict decompression of cold FlashStrike segments (`FS.xxxxxxxx.wal.lz4`).
//!
//! FlashStrike's maintainer freezes a segment by writing the whole preallocated file as one LZ4
//! *frame* (4 MiB linked blocks, no checksums, no content size) and deleting the `.wal`, even when
//! compression failed. A crash mid-freeze can therefore leave a truncated `.lz4` as the only copy.
//! The frame has no content checksum and no content size, so nothing inside it says how long the
//! output should be: the one structural proof of completeness is the end mark.
//!
//! `lz4_flex`'s `FrameDecoder` treats end of input at a block boundary as a clean end of stream
//! (it returns the short output as `Ok`, end mark or not), so this module first walks the frame's
//! structure itself — descriptor, every block's size word, the end mark, nothing after it — and
//! only then lets `lz4_flex` inflate it, stopping at the caller's limit. Every failure is an
//! `InvalidData` error whose message starts with `truncated LZ4 frame`, `garbled LZ4 frame` or
//! `LZ4 frame decompresses to more than`, so callers (and operators) can tell them apart.

use std::io::{self, Read as _};

use lz4_flex::frame::FrameDecoder;

/// LZ4 frame magic number (`04 22 4D 18` on disk).
const FRAME_MAGIC: u32 = 0x184D_2204;
/// Magic of the legacy LZ4 format, which FlashStrike never writes.
const LEGACY_MAGIC: u32 = 0x184C_2102;
/// End mark: a zero block-size word.
const END_MARK: u32 = 0;
/// Block-size word bit flagging an uncompressed block.
const UNCOMPRESSED_BIT: u32 = 0x8000_0000;

fn truncated(detail: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("truncated LZ4 frame: {detail}"),
    )
}

fn garbled(detail: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("garbled LZ4 frame: {detail}"),
    )
}

fn u32_le_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(word))
}

/// Checks that `frame` is exactly one complete LZ4 frame: magic, descriptor, blocks whose sizes
/// fit the frame's maximum and the input, the end mark, the content checksum if flagged, and no
/// byte after. Block contents are left to the decoder.
fn check_structure(frame: &[u8]) -> io::Result<()> {
    let len = frame.len();
    let magic = u32_le_at(frame, 0)
        .ok_or_else(|| truncated(format!("{len} bytes, shorter than the magic number")))?;
    match magic {
        FRAME_MAGIC => {}
        LEGACY_MAGIC => return Err(garbled("legacy LZ4 format, not a frame".into())),
        other => return Err(garbled(format!("magic {other:#010x}, not an LZ4 frame"))),
    }
    let (Some(&flg), Some(&bd)) = (frame.get(4), frame.get(5)) else {
        return Err(truncated(format!("{len} bytes, frame descriptor cut")));
    };
    if flg >> 6 != 1 {
        return Err(garbled(format!(
            "frame version {} (flags {flg:#04x})",
            flg >> 6
        )));
    }
    let descriptor_end =
        7 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 };
    if len < descriptor_end {
        return Err(truncated(format!("{len} bytes, frame descriptor cut")));
    }
    let max_block: usize = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        other => return Err(garbled(format!("block maximum size id {other}"))),
    };
    let block_checksum_len = if flg & 0x10 != 0 { 4 } else { 0 };
    let mut pos = descriptor_end;
    let mut block = 0u64;
    loop {
        let word = u32_le_at(frame, pos).ok_or_else(|| {
            truncated(format!(
                "ends after {block} blocks ({len} bytes) without its end mark"
            ))
        })?;
        pos += 4;
        if word == END_MARK {
            break;
        }
        let size = (word & !UNCOMPRESSED_BIT) as usize;
        if size > max_block {
            return Err(garbled(format!(
                "block {block} at offset {} claims {size} bytes, over the {max_block}-byte maximum",
                pos - 4
            )));
        }
        let end = pos + size + block_checksum_len;
        if end > len {
            let present = len - pos;
            return Err(truncated(format!(
                "cut inside block {block} ({present} of {size} bytes)"
            )));
        }
        pos = end;
        block += 1;
    }
    if flg & 0x04 != 0 {
        if pos + 4 > len {
            return Err(truncated(
                "content checksum missing after the end mark".into(),
            ));
        }
        pos += 4;
    }
    if pos != len {
        return Err(garbled(format!("{} bytes after the end mark", len - pos)));
    }
    Ok(())
}

/// Inflates a structurally checked frame, producing at most `cap` bytes.
fn inflate(frame: &[u8], cap: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut decoder = FrameDecoder::new(frame);
    match (&mut decoder).take(cap).read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(truncated(e.to_string())),
        Err(e) => Err(garbled(e.to_string())),
    }
}

/// Decompresses a cold `.wal.lz4` segment (an LZ4 frame) into memory, refusing to produce more
/// than `limit` bytes.
///
/// # Errors
///
/// `InvalidData` for a truncated frame (no end mark, cut inside a block or the descriptor), a
/// garbled one (bad magic, version, header checksum, block size or block data, bytes after the
/// end mark), or output over `limit`; the message says which.
pub fn decompress(compressed: &[u8], limit: u64) -> io::Result<Vec<u8>> {
    check_structure(compressed)?;
    let out = inflate(compressed, limit.saturating_add(1))?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("LZ4 frame decompresses to more than {limit} bytes"),
        ));
    }
    Ok(out)
}

/// Decompresses only the first `n` bytes (for reading a header at scan time without inflating
/// the whole file). Returns fewer than `n` bytes only when the complete frame holds fewer.
///
/// LZ4 cannot stop inside a block, so this inflates the blocks covering the prefix: for a
/// 64-byte prefix, the first block (the whole file up to 4 MiB, as FlashStrike writes them).
///
/// # Errors
///
/// As [`decompress`]: the whole frame's structure is checked (a cheap walk over its block-size
/// words), so a truncated file is reported even when its first `n` bytes would inflate.
pub fn decompress_prefix(compressed: &[u8], n: usize) -> io::Result<Vec<u8>> {
    check_structure(compressed)?;
    inflate(compressed, n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flashstrike::generate::compress_cold;
    use std::path::PathBuf;

    fn samples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/flashstrike")
    }

    fn kind_and_message(r: io::Result<Vec<u8>>) -> (io::ErrorKind, String) {
        let e = r.expect_err("must fail");
        (e.kind(), e.to_string())
    }

    fn assert_fails(r: io::Result<Vec<u8>>, starts: &str) {
        let (kind, msg) = kind_and_message(r);
        assert_eq!(kind, io::ErrorKind::InvalidData, "{msg}");
        assert!(
            msg.starts_with(starts),
            "{msg:?} does not start with {starts:?}"
        );
    }

    #[test]
    fn decompresses_flashstrikes_frozen_segments_to_the_clean_files() {
        for i in 0..2 {
            let lz4 = std::fs::read(samples().join(format!("cold/FS.0000000{i}.wal.lz4"))).unwrap();
            let wal = std::fs::read(samples().join(format!("clean/FS.0000000{i}.wal"))).unwrap();
            assert_eq!(&lz4[..7], &[0x04, 0x22, 0x4D, 0x18, 0x40, 0x70, 0xDF]);
            assert_eq!(decompress(&lz4, 263_232).unwrap(), wal);
            assert_eq!(decompress_prefix(&lz4, 64).unwrap(), &wal[..64]);
            assert_eq!(decompress_prefix(&lz4, 0).unwrap(), b"");
            assert_eq!(decompress_prefix(&lz4, 1 << 20).unwrap(), wal);
            assert_fails(
                decompress(&lz4, 263_231),
                "LZ4 frame decompresses to more than 263231",
            );
        }
    }

    #[test]
    fn every_truncation_of_a_real_frame_is_an_error() {
        let lz4 = std::fs::read(samples().join("cold/FS.00000000.wal.lz4")).unwrap();
        let len = lz4.len();
        // Cut in the magic, the descriptor, the block size word, the block, before the end mark.
        for cut in [
            0,
            1,
            3,
            4,
            5,
            6,
            7,
            8,
            10,
            11,
            12,
            5000,
            len / 2,
            len - 5,
            len - 4,
            len - 1,
        ] {
            let r = decompress(&lz4[..cut], u64::MAX);
            assert_fails(r, "truncated LZ4 frame");
            assert_fails(decompress_prefix(&lz4[..cut], 64), "truncated LZ4 frame");
        }
        // lz4_flex alone returns the full content for a frame missing only its end mark.
        let mut plain = Vec::new();
        FrameDecoder::new(&lz4[..len - 4])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain.len(), 263_232);
    }

    #[test]
    fn a_frame_cut_at_a_block_boundary_is_an_error() {
        // 9 MiB: three 4 MiB-max blocks; lz4_flex alone would return the first block(s) as Ok.
        let data: Vec<u8> = (0..9u32 << 20).map(|i| (i / 4096) as u8).collect();
        let lz4 = compress_cold(&data);
        assert_eq!(decompress(&lz4, u64::MAX).unwrap(), data);
        let first_block = 7 + 4 + u32_le_at(&lz4, 7).unwrap() as usize;
        let mut plain = Vec::new();
        FrameDecoder::new(&lz4[..first_block])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(
            plain.len(),
            4 << 20,
            "lz4_flex's own behaviour: silently short"
        );
        assert_fails(
            decompress(&lz4[..first_block], u64::MAX),
            "truncated LZ4 frame: ends after 1 blocks",
        );
        assert_fails(
            decompress_prefix(&lz4[..first_block], 64),
            "truncated LZ4 frame",
        );
    }

    #[test]
    fn garbled_frames_are_errors() {
        let good = compress_cold(&[7u8; 100_000]);
        let with = |at: usize, byte: u8| {
            let mut f = good.clone();
            f[at] = byte;
            f
        };
        assert_fails(
            decompress(&with(0, 0x05), 1 << 20),
            "garbled LZ4 frame: magic 0x184d2205",
        );
        assert_fails(
            decompress(&with(4, 0x80), 1 << 20),
            "garbled LZ4 frame: frame version 2",
        );
        assert_fails(
            decompress(&with(5, 0x30), 1 << 20),
            "garbled LZ4 frame: block maximum size id 3",
        );
        assert_fails(
            decompress(&with(6, good[6] ^ 1), 1 << 20),
            "garbled LZ4 frame",
        );
        // Block size word over the 4 MiB maximum.
        let mut big = good.clone();
        big[7..11].copy_from_slice(&(5u32 << 20).to_le_bytes());
        assert_fails(
            decompress(&big, 1 << 20),
            "garbled LZ4 frame: block 0 at offset 7 claims",
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_fails(
            decompress(&trailing, 1 << 20),
            "garbled LZ4 frame: 1 bytes after the end mark",
        );
        let legacy = [0x02, 0x21, 0x4C, 0x18, 0, 0, 0, 0];
        assert_fails(decompress(&legacy, 1 << 20), "garbled LZ4 frame: legacy");
        assert_eq!(decompress(&good, 100_000).unwrap(), vec![7u8; 100_000]);
        assert_fails(
            decompress(&good, 99_999),
            "LZ4 frame decompresses to more than 99999 bytes",
        );
    }

    #[test]
    fn mutated_frames_never_panic() {
        let data: Vec<u8> = (0..20_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 700) as u8)
            .collect();
        let good = compress_cold(&data);
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut ok, mut failed) = (0, 0);
        for _ in 0..300 {
            let mut f = good.clone();
            for _ in 0..1 + rand() % 3 {
                let at = (rand() % f.len() as u64) as usize;
                f[at] = rand() as u8;
            }
            if rand() % 4 == 0 {
                f.truncate((rand() % f.len() as u64) as usize);
            }
            match decompress(&f, 1 << 20) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                    failed += 1;
                }
            }
            let _ = decompress_prefix(&f, 64);
        }
        assert!(failed > 0 && ok + failed == 300);
    }

    #[test]
    fn empty_content_round_trips() {
        let lz4 = compress_cold(&[]);
        assert_eq!(lz4, [0x04, 0x22, 0x4D, 0x18, 0x40, 0x70, 0xDF, 0, 0, 0, 0]);
        assert_eq!(decompress(&lz4, 0).unwrap(), b"");
        assert_eq!(decompress_prefix(&lz4, 64).unwrap(), b"");
    }
}
