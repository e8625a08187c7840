//! The recorder: appends events to segment files in the [`crate::segment`] format.
//!
//! Engines, tests and benchmarks need a writer that produces exactly what the reader expects.
//! Records are packed into an in-memory block; a full block joins the segment's write buffer,
//! which is written with one `write` whenever it reaches a multiple of 2 MiB of the file
//! ([`HUGE_PAGE_BYTES`]), and by [`Writer::flush`], [`Writer::sync`], rolling and closing. Writes
//! that cover whole aligned 2 MiB ranges let the kernel keep the segment in 2 MiB page-cache
//! folios, which the reader then maps with one page-table entry each instead of 512 (measured:
//! prefault, TLB misses and unmapping of a 64 MiB segment are 15–40x cheaper; see
//! `docs/ARCHITECTURE.md`, "Page-cache folios"). Durability is explicit: [`Writer::sync`] makes everything appended
//! so far durable (`fdatasync`, plus `fsync` of the directory after a segment was created). A
//! segment is sealed — its header rewritten with totals and its last chain value — when the
//! writer rolls to the next one or closes.
//!
//! **Crash recovery.** [`Writer::open`] on an existing directory refuses one that mixes two
//! logs ([`Error::MixedLogs`]), sets aside segments that follow a missing sequence number (a
//! rename a power loss did not keep: they hold no synced event), then verifies the newest
//! segment. A torn tail (the partial block a crash left) is truncated — never a block a
//! completed sync is known to cover — and the segment is sealed; appending continues in a new
//! segment with the next id and the right chain value. Corruption that is not a torn tail is
//! refused with a typed error.
//!
//! **Format.** A new log is written in format 2: a random log id in every segment and block
//! header, seeding the chain, and in each block the offset the last completed `fdatasync`
//! reached (`docs/FORMAT.md`). A format-1 log is continued in format 1. Every file-system call
//! and why it is needed: `docs/RELIABILITY.md`, "The fsync discipline".
//!
//! **Failures.** After any failed write or sync the writer refuses further work
//! ([`Error::WriterFailed`]); everything synced before the failure stays readable because blocks
//! are only ever appended and the header is rewritten only at sealing.

mod durable;
mod knobs;
mod lock;
mod options;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use knobs::Knob;
pub use options::WriterOptions;

use crate::error::{Error, Result};
use crate::recovery::segment_reader::{SegmentEnd, SegmentReader};
use crate::segment::block::BlockHeader;
use crate::segment::header::{chain_seed, SegmentHeader, FORMAT_VERSION, FORMAT_VERSION_1};
use crate::segment::{
    naming, record, record_size, BLOCK_ALIGN, CHAIN_SEED, HEADER_BYTES, HUGE_PAGE_BYTES,
    MAX_EVENT_BYTES,
};

/// The segment currently being appended to.
#[derive(Debug)]
struct OpenSegment {
    file: File,
    path: PathBuf,
    header: SegmentHeader,
    /// Length including the blocks still in the write buffer.
    len: u64,
    /// Bytes written to the file so far; the write buffer holds `written..len`.
    written: u64,
    /// Bytes the last completed `fdatasync` of this file covered (format 2 records it in each
    /// block header, which makes a damaged block followed by a valid one decidable).
    synced: u64,
    blocks: u32,
}

/// Appends events to a log directory. See the module docs.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    opts: WriterOptions,
    _lock: lock::DirLock,
    segment: Option<OpenSegment>,
    /// Format version of the log (2 for a new log; a format-1 log is continued in format 1).
    version: u8,
    /// The log's identity (format 2), 0 in format 1.
    log_id: u64,
    next_sequence: u64,
    /// Chain value after the last block written.
    chain: u32,
    /// Id of the next appended event.
    next_id: u64,
    /// Records of the block being filled, after 64 bytes reserved for its header.
    block: Vec<u8>,
    block_first_id: u64,
    block_events: u32,
    /// Complete blocks not yet written: bytes `written..len` of the open segment.
    pending: Vec<u8>,
    dir_dirty: bool,
    failed: Option<String>,
}

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A random non-zero log id, from the kernel's random number generator.
fn random_log_id() -> Result<u64> {
    let mut b = [0u8; 8];
    loop {
        // SAFETY: getrandom writes at most `b.len()` bytes into `b`, a buffer we own.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
        if n == b.len() as isize {
            let id = u64::from_le_bytes(b);
            if id != 0 {
                return Ok(id);
            }
            continue;
        }
        let e = std::io::Error::last_os_error();
        if n < 0 && e.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n >= 0 {
            continue; // a short read: try again
        }
        return Err(Error::io("getrandom", "log id", e));
    }
}

/// Canonically named segment files in `dir`, sorted by sequence number.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let rd = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        if let Some(seq) = entry.file_name().to_str().and_then(naming::parse) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

impl Writer {
    /// Opens (creating if needed) the log directory `dir` for appending. Only one writer may hold
    /// a directory at a time. An existing log continues where it ended (see module docs);
    /// `opts.first_event_id` applies only to a new log.
    pub fn open(dir: impl AsRef<Path>, opts: WriterOptions) -> Result<Self> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        // A created directory's own entry must be durable before any sync can vouch for the
        // events inside it: fsync(2) of a file does not make its name durable.
        durable::create_dir_durably(&dir, !knobs::active(Knob::RevertParentFsync))?;
        let lock = lock::DirLock::acquire(&dir)?;
        // A new log gets format 2 and a fresh identity; `recover_tail` replaces both with the
        // existing log's. (Knob `revert-hole-rule`: format 1, whose blocks record no synced
        // offset.)
        let (version, log_id) = if knobs::active(Knob::RevertHoleRule) {
            (FORMAT_VERSION_1, 0)
        } else {
            (FORMAT_VERSION, random_log_id()?)
        };
        let mut w = Writer {
            block: Vec::with_capacity(HEADER_BYTES + opts.block_bytes as usize),
            dir,
            _lock: lock,
            segment: None,
            version,
            log_id,
            next_sequence: 1,
            chain: if version == FORMAT_VERSION_1 {
                CHAIN_SEED
            } else {
                chain_seed(log_id)
            },
            next_id: opts.first_event_id,
            block_first_id: opts.first_event_id,
            block_events: 0,
            pending: Vec::new(),
            dir_dirty: false,
            failed: None,
            opts,
        };
        w.block.resize(HEADER_BYTES, 0);
        w.recover_tail()?;
        Ok(w)
    }

    /// Continues an existing log: verifies its newest segment, repairs a torn tail, and sets the
    /// next sequence, id and chain value.
    fn recover_tail(&mut self) -> Result<()> {
        self.remove_stale_temporaries()?;
        // Before anything is set aside or repaired: a directory mixing two logs is refused.
        one_log(&list_segments(&self.dir)?)?;
        if !knobs::active(Knob::RevertRollBarrier) {
            self.set_aside_after_gap()?;
        }
        let segments = list_segments(&self.dir)?;
        let Some((seq, path)) = segments.last().cloned() else {
            return Ok(());
        };
        let mut reader = SegmentReader::open(&path)?;
        self.version = reader.header().version;
        self.log_id = reader.header().log_id;
        reader.verify();
        match reader.end().clone() {
            SegmentEnd::Corrupt(c) => return Err(Error::Corrupt(Box::new(c))),
            SegmentEnd::Clean if reader.header().sealed => {}
            SegmentEnd::Clean | SegmentEnd::TornTail(_) => {
                // An unsealed segment: cut the torn tail, then seal (or remove if empty).
                let valid_len = reader.valid_len();
                let header = *reader.header();
                let (count, chain) = (reader.event_count(), reader.last_chain());
                let blocks = reader.index().len();
                drop(reader);
                if count == 0 {
                    fs::remove_file(&path)
                        .map_err(|e| Error::io("remove empty segment", &path, e))?;
                    self.sync_dir()?;
                    self.next_sequence = seq;
                    self.next_id = header.first_event_id;
                    self.chain = header.prev_chain;
                    self.block_first_id = self.next_id;
                    return Ok(());
                }
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io("open for repair", &path, e))?;
                file.set_len(valid_len)
                    .map_err(|e| Error::io("truncate torn tail", &path, e))?;
                // The cut must be durable before a sealed header vouches for it.
                file.sync_data()
                    .map_err(|e| Error::io("fdatasync", &path, e))?;
                let sealed = SegmentHeader {
                    sealed: true,
                    block_count: u32::try_from(blocks).map_err(|_| Error::IdOverflow)?,
                    last_event_id: header.first_event_id + count - 1,
                    event_count: count,
                    last_chain: chain,
                    ..header
                };
                file.write_all_at(&sealed.encode(), 0)
                    .map_err(|e| Error::io("seal segment", &path, e))?;
                file.sync_data()
                    .map_err(|e| Error::io("fdatasync", &path, e))?;
                reader = SegmentReader::open_verified(&path)?;
            }
        }
        self.next_sequence = seq.checked_add(1).ok_or(Error::IdOverflow)?;
        self.next_id = reader.end_event_id();
        self.chain = reader.last_chain();
        self.block_first_id = self.next_id;
        Ok(())
    }

    /// Sets aside the segments that follow a missing sequence number (renamed to
    /// `<name>.wal.unsynced`, which recovery ignores), so that appending continues after the
    /// last segment before the gap instead of after segments Strict recovery can never reach.
    ///
    /// Why this is only ever un-synced data: the writer never removes a segment in the middle
    /// of a log, so a missing sequence number is a rename that did not survive a power loss.
    /// Every sync that returned after that rename fsynced the directory, which would have made
    /// the rename durable; so no sync returned after the missing segment was created, and
    /// nothing in it or after it was ever synced. A writer of this version cannot leave such a
    /// state (it fsyncs the directory before a second rename, [`Self::create_segment`]); older
    /// writers, whose two rolls could share one directory fsync, can. The files are kept, not
    /// removed, so that a gap made by hand (a deleted segment) loses nothing for good.
    fn set_aside_after_gap(&mut self) -> Result<()> {
        let segments = list_segments(&self.dir)?;
        let gap = segments
            .windows(2)
            .position(|w| w[0].0.checked_add(1) != Some(w[1].0));
        let Some(at) = gap else {
            return Ok(());
        };
        for (_, path) in segments.iter().skip(at + 1).rev() {
            let aside = (0u32..)
                .map(|n| {
                    let mut name = path.as_os_str().to_os_string();
                    name.push(if n == 0 {
                        ".unsynced".to_string()
                    } else {
                        format!(".unsynced.{n}")
                    });
                    PathBuf::from(name)
                })
                .find(|p| !p.exists())
                .ok_or_else(|| Error::WriterFailed("no free name to set a segment aside".into()))?;
            fs::rename(path, &aside)
                .map_err(|e| Error::io("set aside segment after a missing one", path, e))?;
        }
        self.sync_dir()
    }

    /// Removes `*.wal.tmp` files: a crash inside [`Self::create_segment`] left them before
    /// their rename became durable, so they hold no synced event (after a power loss one can
    /// hold a whole sealed segment, whose rename and events were never synced).
    fn remove_stale_temporaries(&mut self) -> Result<()> {
        let rd = fs::read_dir(&self.dir).map_err(|e| Error::io("read directory", &self.dir, e))?;
        let mut removed = false;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("read directory", &self.dir, e))?;
            let name = entry.file_name();
            let stale = name
                .to_str()
                .and_then(|n| n.strip_suffix(".tmp"))
                .and_then(naming::parse)
                .is_some();
            if stale {
                let path = entry.path();
                fs::remove_file(&path)
                    .map_err(|e| Error::io("remove stale temporary", &path, e))?;
                removed = true;
            }
        }
        if removed {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn check_ok(&self) -> Result<()> {
        match &self.failed {
            Some(m) => Err(Error::WriterFailed(m.clone())),
            None => Ok(()),
        }
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        self.failed = Some(e.to_string());
        Err(e)
    }

    /// Appends one event and returns its id. The event is durable after the next
    /// [`Self::sync`] (or [`Self::close`]).
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        self.check_ok()?;
        if payload.len() > MAX_EVENT_BYTES {
            return Err(Error::PayloadTooLarge {
                len: payload.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        let id = self.next_id;
        // Ids stay below u64::MAX so that `last + 1` is always representable: the largest id
        // is u64::MAX - 1, whose successor u64::MAX is the end position (never an id).
        let next = id.checked_add(1).ok_or(Error::IdOverflow)?;
        let used = self.block.len() - HEADER_BYTES;
        if self.block_events > 0
            && (used + record_size(payload.len()) > self.opts.block_bytes as usize
                || self.block_events == u32::MAX)
        {
            self.end_block()?;
        }
        if self.block_events == 0 {
            self.block_first_id = id;
        }
        record::encode_into(&mut self.block, payload);
        self.block_events += 1;
        self.next_id = next;
        Ok(id)
    }

    /// Id the next appended event will get.
    pub fn next_event_id(&self) -> u64 {
        self.next_id
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes every appended event to the current segment file (ending the block being
    /// filled, rolling to a new segment first when it would exceed the target size), so that
    /// readers see them and a crash of this process cannot lose them. Not durable against a
    /// crash of the machine until [`Self::sync`].
    pub fn flush(&mut self) -> Result<()> {
        self.end_block()?;
        let r = self.write_pending();
        match r {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// Ends the block being filled (if any): it joins the write buffer, which is written out if
    /// it now reaches a 2 MiB boundary of the file.
    fn end_block(&mut self) -> Result<()> {
        self.check_ok()?;
        if self.block_events == 0 {
            return Ok(());
        }
        match self.write_block() {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// Writes the buffered blocks of the open segment up to `upto` (a file offset between
    /// `written` and `len`), keeping the rest buffered.
    fn write_pending_upto(&mut self, upto: u64) -> Result<()> {
        let Some(seg) = self.segment.as_mut() else {
            return Ok(());
        };
        let n = usize::try_from(upto.saturating_sub(seg.written)).unwrap_or(usize::MAX);
        let Some(bytes) = self.pending.get(..n) else {
            return Err(Error::WriterFailed(
                "write buffer shorter than its range".into(),
            ));
        };
        if n == 0 {
            return Ok(());
        }
        seg.file
            .write_all_at(bytes, seg.written)
            .map_err(|e| Error::io("write blocks", &seg.path, e))?;
        seg.written = upto;
        self.pending.drain(..n);
        Ok(())
    }

    /// Writes every buffered block of the open segment.
    fn write_pending(&mut self) -> Result<()> {
        match &self.segment {
            Some(seg) => self.write_pending_upto(seg.len),
            None => Ok(()),
        }
    }

    fn write_block(&mut self) -> Result<()> {
        let payload_len = self.block.len() - HEADER_BYTES;
        let total = (HEADER_BYTES + payload_len).next_multiple_of(BLOCK_ALIGN);
        let roll = match &self.segment {
            Some(s) => {
                s.blocks > 0 && s.len + total as u64 > self.opts.segment_bytes
                    || s.blocks == u32::MAX
            }
            None => true,
        };
        if roll {
            self.seal_current()?;
            self.create_segment()?;
        }
        let seg = self
            .segment
            .as_mut()
            .ok_or_else(|| Error::WriterFailed("no open segment".into()))?;
        let mut bh = BlockHeader::for_payload(
            seg.blocks,
            self.block_first_id,
            self.block_events,
            &self.block[HEADER_BYTES..],
            self.chain,
        );
        if self.version != FORMAT_VERSION_1 {
            bh = bh.with_identity(self.log_id, seg.synced);
        }
        self.block[..HEADER_BYTES].copy_from_slice(&bh.encode());
        self.block.resize(total, 0);
        self.pending.extend_from_slice(&self.block);
        seg.len += total as u64;
        seg.blocks += 1;
        self.chain = bh.chain;
        self.block.truncate(HEADER_BYTES);
        self.block_events = 0;
        self.block_first_id = self.next_id;
        // Write out whole 2 MiB ranges of the file as soon as they are complete.
        let boundary = seg.len - seg.len % HUGE_PAGE_BYTES as u64;
        if boundary > seg.written {
            self.write_pending_upto(boundary)?;
        }
        Ok(())
    }

    /// Creates the next segment. The header is written and synced under a temporary name
    /// (`<name>.tmp`, which recovery ignores) and only then renamed into place, so a crash can
    /// never leave a canonically named segment without a valid header.
    fn create_segment(&mut self) -> Result<()> {
        let seq = self.next_sequence;
        let name = naming::file_name(seq);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io("create segment", &tmp, e))?;
        let header = SegmentHeader {
            version: self.version,
            log_id: self.log_id,
            ..SegmentHeader::new_open(seq, self.block_first_id, self.chain, unix_ns())
        };
        file.write_all_at(&header.encode(), 0)
            .map_err(|e| Error::io("write header", &tmp, e))?;
        file.sync_data()
            .map_err(|e| Error::io("fdatasync", &tmp, e))?;
        if path.exists() {
            return Err(Error::io(
                "create segment",
                &path,
                std::io::Error::from_raw_os_error(libc::EEXIST),
            ));
        }
        // Two renames must never share one directory fsync: if only the later one survived a
        // power loss, the log would have a gap after which appending can never be reached. So
        // a rename not yet made durable by a sync is made durable before the next one.
        if self.dir_dirty && !knobs::active(Knob::RevertRollBarrier) {
            self.sync_dir()?;
        }
        fs::rename(&tmp, &path).map_err(|e| Error::io("rename segment into place", &path, e))?;
        self.next_sequence = seq.checked_add(1).ok_or(Error::IdOverflow)?;
        self.dir_dirty = true;
        self.segment = Some(OpenSegment {
            file,
            path,
            header,
            len: HEADER_BYTES as u64,
            written: HEADER_BYTES as u64,
            synced: HEADER_BYTES as u64,
            blocks: 0,
        });
        Ok(())
    }

    /// Seals the open segment: header rewritten with totals, then fdatasync.
    fn seal_current(&mut self) -> Result<()> {
        self.write_pending()?;
        let Some(seg) = self.segment.take() else {
            return Ok(());
        };
        let count = self.block_first_id - seg.header.first_event_id;
        let sealed = SegmentHeader {
            sealed: true,
            block_count: seg.blocks,
            last_event_id: seg.header.first_event_id + count - 1,
            event_count: count,
            last_chain: self.chain,
            ..seg.header
        };
        // Blocks first, then the header that vouches for them.
        seg.file
            .sync_data()
            .map_err(|e| Error::io("fdatasync", &seg.path, e))?;
        seg.file
            .write_all_at(&sealed.encode(), 0)
            .map_err(|e| Error::io("seal segment", &seg.path, e))?;
        seg.file
            .sync_data()
            .map_err(|e| Error::io("fdatasync", &seg.path, e))?;
        Ok(())
    }

    fn sync_dir(&mut self) -> Result<()> {
        durable::fsync_dir(&self.dir)?;
        self.dir_dirty = false;
        Ok(())
    }

    /// Flushes and makes every event appended so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        let r = self.sync_inner();
        match r {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    fn sync_inner(&mut self) -> Result<()> {
        self.write_pending()?;
        if let Some(seg) = self.segment.as_mut() {
            if !knobs::active(Knob::SkipFdatasync) {
                seg.file
                    .sync_data()
                    .map_err(|e| Error::io("fdatasync", &seg.path, e))?;
            }
            seg.synced = seg.written;
        }
        if self.dir_dirty && !knobs::active(Knob::SkipDirFsync) {
            self.sync_dir()?;
        }
        Ok(())
    }

    /// Flushes, seals the open segment and syncs. The directory can then be reopened by another
    /// writer or read by recovery with no torn tail.
    pub fn close(mut self) -> Result<()> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<()> {
        self.flush()?;
        let r = self.seal_current().and_then(|_| {
            if self.dir_dirty {
                self.sync_dir()
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => {
                self.failed = Some("writer closed".into());
                Ok(())
            }
            Err(e) => self.fail(e),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.failed.is_none() {
            // Best effort, as close() would; errors cannot be reported from drop.
            let _ = self.close_inner();
        }
    }
}

/// Fails with [`Error::MixedLogs`] unless every segment of `segments` whose header decodes
/// belongs to one log (same format version and log id): appending to a directory that mixes
/// two logs would bury the mix under new events. Damaged headers are left to the checks that
/// follow.
fn one_log(segments: &[(u64, PathBuf)]) -> Result<()> {
    use std::io::Read as _;
    let mut first: Option<(&Path, SegmentHeader)> = None;
    for (_, path) in segments {
        let mut raw = [0u8; HEADER_BYTES];
        let read = File::open(path).and_then(|mut f| f.read_exact(&mut raw));
        let Ok(h) = read
            .map_err(|_| ())
            .and_then(|_| SegmentHeader::decode(&raw).map_err(|_| ()))
        else {
            continue;
        };
        match &first {
            None => first = Some((path, h)),
            Some((p, g)) if (g.version, g.log_id) != (h.version, h.log_id) => {
                return Err(Error::MixedLogs {
                    first: p.to_path_buf(),
                    first_id: g.identity(),
                    other: path.clone(),
                    other_id: h.identity(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}
