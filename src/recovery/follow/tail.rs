//! The live end of a followed log: reads the segment the writer is appending to with `pread`,
//! one verified block at a time, and moves to the next segment as soon as the writer seals the
//! current one — never waiting at a boundary (see the module docs of [`super`] for why `pread`
//! and not a mapping, and docs/ARCHITECTURE.md, "Follow mode", for the visibility rule).
//!
//! The tail knows what must come next — segment sequence, event id, chain value, block index —
//! and delivers a block only when all of it and the block's payload CRC check out. A block that
//! does not verify is "nothing yet" until the writer has provably moved past it; a writer that
//! crashed and reopened has done exactly that (it cuts the torn tail, seals the segment and
//! continues in the next one), so the torn bytes are never delivered and never reported.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{ContinuityKind, CorruptionKind, Error, Result};
use crate::recovery::format::{self, native, Cursor, Format};
use crate::segment::block::BlockHeader;
use crate::segment::header::SegmentHeader;
use crate::segment::{naming, record, BLOCK_ALIGN, HEADER_BYTES, MAX_BLOCK_PAYLOAD};

/// Bytes read at a block's offset in one `pread`: a default-sized block (64 KiB payload) with
/// its header, so that the common block costs one system call.
const READ_AHEAD: usize = 64 * 1024 + 2 * HEADER_BYTES;
/// While nothing at all is written at the offset of an unsealed segment, how often (in polls) to
/// look for the next segment or a replaced file ([`Tail::moved_past`]).
const PROOF_EVERY: u32 = 8;
/// The most a failing block and the next block's header can span: where to look for a later
/// block that proves the writer moved on.
const PROBE_SPAN: usize = HEADER_BYTES + MAX_BLOCK_PAYLOAD + 2 * BLOCK_ALIGN + HEADER_BYTES;

/// What the tail can do now.
#[derive(Debug)]
pub(crate) enum Step {
    /// A verified block is loaded: [`Tail::next_record`] returns its next event.
    Ready,
    /// Nothing new has verified yet.
    Pending,
    /// The writer provably moved past data that does not verify, or the next segment does not
    /// continue the log. The tail is already positioned to continue after it (the next segment)
    /// should the recovery mode say so.
    Damage(Damage),
}

/// A problem met while following, for the manager to handle per recovery mode.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) error: Error,
    /// Ids that continuing skips: first and last (`None`: up to wherever the log continues).
    pub(crate) lost: Option<(u64, Option<u64>)>,
    /// The segment concerned.
    pub(crate) path: PathBuf,
}

/// Where the tail starts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Start {
    /// Sequence of the next segment to read (`None`: the lowest one to appear in the directory).
    pub(crate) seq: Option<u64>,
    /// Id the next event must have (`None`: whatever the first segment starts with).
    pub(crate) next_id: Option<u64>,
    /// Chain value the next segment (or block) must continue.
    pub(crate) chain: Option<u32>,
    /// Inside segment `seq`: its offset, block index, id and chain after the blocks already
    /// delivered by the catch-up.
    pub(crate) inside: Option<(u64, u32)>,
    /// Damage before this point: a gap at the next segment is its consequence.
    pub(crate) cause: Option<String>,
    /// Events below this id are read and verified but not delivered (a start id beyond the end).
    pub(crate) floor: u64,
}

#[derive(Debug)]
struct Live {
    file: File,
    path: PathBuf,
    ino: (u64, u64),
    header: SegmentHeader,
    off: u64,
    block_no: u32,
    chain: u32,
    next_id: u64,
    /// File length at the last search for a later block (none since: `u64::MAX`).
    probed_len: u64,
    /// Polls in a row that found nothing at all at the offset.
    idle_polls: u32,
}

/// The live end of a followed log. See the module docs.
#[derive(Debug)]
pub(crate) struct Tail {
    dir: PathBuf,
    at: Start,
    seg: Option<Live>,
    /// The loaded block, header included, up to `end` (bytes after it are stale: the buffer
    /// keeps its size so that loading a block never clears it).
    buf: Vec<u8>,
    end: usize,
    pos: usize,
    remaining: u32,
    id: u64,
    /// Inotify watch of the directory, made at the first back-off wait ([`Self::wait`]).
    watch: Option<super::watch::DirWatch>,
    /// Tests: runs between the two looks of [`Self::moved_past`].
    #[cfg(test)]
    between_looks: Option<Hook>,
}

/// A test's code to run at a chosen point of the tail.
#[cfg(test)]
struct Hook(Box<dyn FnMut() + Send>);

#[cfg(test)]
impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

enum Load {
    Block,
    Pending,
    Done,
    Damage(Damage),
}

impl Tail {
    pub(crate) fn new(dir: &Path, at: Start) -> Self {
        Tail {
            dir: dir.to_path_buf(),
            at,
            seg: None,
            buf: Vec::new(),
            end: 0,
            pos: 0,
            remaining: 0,
            id: 0,
            watch: None,
            #[cfg(test)]
            between_looks: None,
        }
    }

    /// Blocks until the writer touches the directory or `timeout` passes; false when there is
    /// no watch to wait on (the caller sleeps instead). The first call only sets the watch up
    /// and returns at once, so that a write between the last check and the watch is not waited
    /// for: the caller checks again, and from then on every write is queued.
    pub(crate) fn wait(&mut self, timeout: std::time::Duration) -> bool {
        match &self.watch {
            Some(w) => {
                w.wait(timeout);
                // Discard what woke us: the next check looks at the files themselves. Whatever
                // arrives after this stays queued for the next wait.
                w.drain();
                true
            }
            None => {
                self.watch = super::watch::DirWatch::new(&self.dir);
                self.watch.is_some()
            }
        }
    }

    /// The segment being read (or awaited).
    pub(crate) fn path(&self) -> Option<&Path> {
        self.seg.as_ref().map(|s| s.path.as_path())
    }

    /// Loads the next verified block if the current one is used up.
    pub(crate) fn fill(&mut self) -> Result<Step> {
        while self.remaining == 0 {
            if self.seg.is_none() {
                match self.open_next()? {
                    Load::Block => {}
                    Load::Pending | Load::Done => return Ok(Step::Pending),
                    Load::Damage(d) => return Ok(Step::Damage(d)),
                }
            }
            match self.load_block()? {
                Load::Block => {}
                Load::Pending => return Ok(Step::Pending),
                Load::Done => self.finish_segment(None),
                Load::Damage(d) => return Ok(Step::Damage(d)),
            }
        }
        Ok(Step::Ready)
    }

    /// The next event of the loaded block: id and the range of its payload in [`Self::payload`].
    #[inline]
    pub(crate) fn next_record(&mut self) -> Option<(u64, usize, usize)> {
        if self.remaining == 0 {
            return None;
        }
        // Framing was checked for every record when the block was loaded.
        let (start, end, next) = record::decode_at(&self.buf[..self.end], self.pos)?;
        self.pos = next;
        self.remaining -= 1;
        let id = self.id;
        self.id += 1;
        Some((id, start, end))
    }

    /// Positions of up to `max` events of the loaded block, and the buffer they index.
    pub(crate) fn batch_positions(&mut self, max: usize) -> (Vec<(u64, usize, usize)>, &[u8]) {
        let n = max.min(self.remaining as usize);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match self.next_record() {
                Some(p) => out.push(p),
                None => break,
            }
        }
        (out, &self.buf[..self.end])
    }

    #[inline]
    pub(crate) fn payload(&self, start: usize, end: usize) -> &[u8] {
        &self.buf[start..end]
    }

    /// Leaves the current segment for the next one; `cause` is the damage that ends it.
    fn finish_segment(&mut self, cause: Option<String>) {
        if let Some(s) = self.seg.take() {
            self.at.seq = s.header.sequence.checked_add(1);
            self.at.next_id = Some(s.next_id);
            self.at.chain = Some(s.chain);
        }
        self.at.inside = None;
        if cause.is_some() {
            self.at.cause = cause;
        }
    }

    /// Opens the next segment when it exists and checks that it continues the log.
    fn open_next(&mut self) -> Result<Load> {
        let seq = match self.at.seq {
            Some(s) => s,
            None => match lowest_segment(&self.dir)? {
                Some(s) => s,
                None => return Ok(Load::Pending),
            },
        };
        let path = self.dir.join(naming::file_name(seq));
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Load::Pending),
            Err(e) => return Err(Error::io("open segment", &path, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::io("stat segment", &path, e))?;
        let mut raw = [0u8; HEADER_BYTES];
        let n = read_full(&file, &mut raw, 0, &path)?;
        // The writer renames a segment into place only after writing its header, so a short
        // or invalid header is damage, not a write in flight.
        let decoded = if n < HEADER_BYTES {
            Err((
                CorruptionKind::TooShort,
                format!("{n} bytes, a segment header needs 64"),
            ))
        } else {
            SegmentHeader::decode(&raw).map_err(|e| (e.kind, e.detail))
        };
        let header = match decoded {
            Ok(h) => h,
            Err((kind, detail)) => {
                self.at.seq = seq.checked_add(1);
                let c = format::corruption_at(&path, 0, None, kind, detail);
                return Ok(Load::Damage(
                    self.damage(Error::Corrupt(Box::new(c)), &path),
                ));
            }
        };
        if header.sequence != seq {
            self.at.seq = seq.checked_add(1);
            let e = Error::SegmentUnusable {
                path: path.clone(),
                reason: format!("its header says sequence {}", header.sequence),
            };
            return Ok(Load::Damage(self.damage(e, &path)));
        }
        let (off, block_no) = self.at.inside.unwrap_or((HEADER_BYTES as u64, 0));
        let mut live = Live {
            file,
            path: path.clone(),
            ino: (meta.dev(), meta.ino()),
            header,
            off,
            block_no,
            chain: header.prev_chain,
            next_id: header.first_event_id,
            probed_len: u64::MAX,
            idle_polls: 0,
        };
        let mut problem = None;
        if self.at.inside.take().is_some() {
            // Continuing the segment the catch-up read: its blocks up to `inside` were verified.
            live.next_id = self.at.next_id.unwrap_or(header.first_event_id);
            live.chain = self.at.chain.unwrap_or(header.prev_chain);
        } else if let Some(expect) = self.at.next_id {
            let first = header.first_event_id;
            let chain_ok = self.at.chain.is_none_or(|c| c == header.prev_chain);
            if first > expect {
                problem = Some((ContinuityKind::Gap, expect, first - 1));
            } else if first < expect {
                problem = Some((ContinuityKind::Overlap, first, expect - 1));
                // Continuing delivers only the ids not delivered yet.
                self.at.floor = self.at.floor.max(expect);
            } else if !chain_ok && self.at.cause.is_none() {
                problem = Some((ContinuityKind::ChainBreak, first, first));
            }
        }
        let prev = self.dir.join(naming::file_name(seq.saturating_sub(1)));
        self.at.seq = Some(seq);
        self.at.cause = None;
        self.seg = Some(live);
        if let Some((kind, first_id, last_id)) = problem {
            let lost = (kind == ContinuityKind::Gap).then_some((first_id, Some(last_id)));
            let e = Error::Continuity {
                kind,
                previous: prev,
                next: path.clone(),
                first_id,
                last_id,
            };
            return Ok(Load::Damage(Damage {
                error: e,
                lost,
                path,
            }));
        }
        Ok(Load::Block)
    }

    fn damage(&mut self, error: Error, path: &Path) -> Damage {
        self.at.cause = Some(error.to_string());
        Damage {
            error,
            lost: None,
            path: path.to_path_buf(),
        }
    }

    /// Reads and verifies the block at the current offset; decides, when it does not verify,
    /// whether that is a write in flight or damage.
    fn load_block(&mut self) -> Result<Load> {
        let first = self.try_block()?;
        let fail = match first {
            Ok(()) => return Ok(Load::Block),
            Err(f) => f,
        };
        // Nothing verifiable here (yet). Only proof that the writer moved on makes it final;
        // the proof is taken before the second look, so that the second look sees everything
        // the writer wrote before sealing, creating the next segment or writing a later block.
        let Some(proof) = self.moved_past(fail.available)? else {
            return Ok(Load::Pending);
        };
        let fail = match self.try_block()? {
            Ok(()) => return Ok(Load::Block),
            Err(f) => f,
        };
        let seg = self.seg.as_ref().expect("a segment is open");
        let path = seg.path.clone();
        let (off, block_no) = (seg.off, seg.block_no);
        let corrupt = |kind, detail: String| {
            Error::Corrupt(Box::new(format::corruption_at(
                &path,
                off,
                Some(u64::from(block_no)),
                kind,
                detail,
            )))
        };
        let error = match proof {
            Proof::Replaced => {
                // An empty segment the restarted writer removed and created again: read the new
                // file from its start.
                self.seg = None;
                return Ok(Load::Pending);
            }
            Proof::Sealed(h) if block_no == h.block_count => {
                let totals_ok = h.event_count == seg.next_id - h.first_event_id
                    && h.last_chain == seg.chain
                    && h.first_event_id == seg.header.first_event_id;
                if !totals_ok {
                    corrupt(
                        CorruptionKind::SealedMismatch,
                        format!(
                            "sealed header counts {} events ending in chain {:#010x}; the blocks \
                             hold {} ending in {:#010x}",
                            h.event_count,
                            h.last_chain,
                            seg.next_id - seg.header.first_event_id,
                            seg.chain
                        ),
                    )
                } else if fail.available > 0 {
                    corrupt(
                        CorruptionKind::TrailingData,
                        format!("{} bytes after the last block", fail.available),
                    )
                } else {
                    return Ok(Load::Done);
                }
            }
            Proof::Sealed(h) => corrupt(
                fail.kind,
                format!(
                    "{} (the segment is sealed with {} blocks)",
                    fail.detail, h.block_count
                ),
            ),
            Proof::NextSegment => corrupt(
                fail.kind,
                format!("{} (the next segment exists)", fail.detail),
            ),
            Proof::LaterBlock(at) => corrupt(
                fail.kind,
                format!("{} (a later block starts at offset {at})", fail.detail),
            ),
        };
        let reason = error.to_string();
        self.finish_segment(Some(reason));
        Ok(Load::Damage(Damage {
            error,
            lost: None,
            path,
        }))
    }

    /// Reads the block at the current offset and, if it verifies, loads it. `Err` says why not.
    fn try_block(&mut self) -> Result<std::result::Result<(), Failure>> {
        let seg = self.seg.as_mut().expect("a segment is open");
        if self.buf.len() < READ_AHEAD {
            self.buf.resize(READ_AHEAD, 0);
        }
        let mut n = read_full(&seg.file, &mut self.buf, seg.off, &seg.path)?;
        if n < HEADER_BYTES || self.buf[..HEADER_BYTES].iter().all(|&b| b == 0) {
            return Ok(Err(Failure {
                kind: CorruptionKind::Truncated,
                detail: format!("{n} bytes written at the next block's offset"),
                available: n,
            }));
        }
        let raw: [u8; HEADER_BYTES] = self.buf[..HEADER_BYTES].try_into().expect("64 bytes");
        let bh = match BlockHeader::decode(&raw) {
            Ok(h) => h,
            Err(e) => {
                return Ok(Err(Failure {
                    kind: e.kind,
                    detail: e.detail,
                    available: n,
                }))
            }
        };
        let total = (HEADER_BYTES + bh.payload_len as usize).next_multiple_of(BLOCK_ALIGN);
        if total > self.buf.len() {
            self.buf.resize(total, 0);
            n = read_full(&seg.file, &mut self.buf, seg.off, &seg.path)?;
        }
        let cursor = Cursor {
            off: 0,
            chain: u64::from(seg.chain),
            expect_id: seg.next_id,
            block_no: u64::from(seg.block_no),
            log_id: format::log_identity(Format::Native, &seg.header),
        };
        let ok = match format::check_block(Format::Native, &self.buf[..n.min(total)], &cursor, true)
        {
            Ok(ok) => ok,
            Err(f) => {
                return Ok(Err(Failure {
                    kind: f.kind,
                    detail: f.detail,
                    available: n,
                }))
            }
        };
        // Every record's framing, before any of them is delivered.
        let (start, end) = (ok.entry.payload_offset, ok.entry.payload_end);
        let mut pos = start;
        for _ in 0..bh.event_count {
            match record::decode_at(&self.buf[..end], pos) {
                Some((_, _, next)) => pos = next,
                None => {
                    return Ok(Err(Failure {
                        kind: CorruptionKind::RecordFraming,
                        detail: format!("record at payload offset {} overruns", pos - start),
                        available: n,
                    }))
                }
            }
        }
        if pos != end {
            return Ok(Err(Failure {
                kind: CorruptionKind::RecordFraming,
                detail: format!(
                    "{} records fill {} of {} payload bytes",
                    bh.event_count,
                    pos - start,
                    end - start
                ),
                available: n,
            }));
        }
        seg.off += total as u64;
        seg.block_no += 1;
        seg.chain = bh.chain;
        seg.next_id += u64::from(bh.event_count);
        seg.probed_len = u64::MAX;
        seg.idle_polls = 0;
        self.pos = start;
        self.end = end;
        self.remaining = bh.event_count;
        self.id = bh.first_event_id;
        // Events below the floor (a start id beyond the end at open) are verified, not delivered.
        while self.remaining > 0 && self.id < self.at.floor {
            self.next_record();
        }
        Ok(Ok(()))
    }

    /// Whether the writer has provably moved past the current offset of the current segment.
    fn moved_past(&mut self, available: usize) -> Result<Option<Proof>> {
        let seg = self.seg.as_mut().expect("a segment is open");
        // Nothing at all at the offset — the busy-spinning follower's usual poll: the path
        // lookups (the next segment, a replaced file) are made at the first such poll and then
        // at every `PROOF_EVERY`-th, so that the others cost two `pread`s instead of three or
        // four system calls. A roll is still seen at the first poll after it (the header says
        // sealed); a writer that died without sealing is seen a few polls late.
        let look_around = available > 0 || {
            seg.idle_polls = seg.idle_polls.wrapping_add(1);
            seg.idle_polls % PROOF_EVERY == 1
        };
        // The next segment is looked for *before* the header is read: the writer seals a
        // segment before it creates the next one, so a seal made between the two looks is then
        // seen as the seal it is. In the other order, a header read just before the seal and
        // the next segment found just after it would be taken for a writer that left this
        // segment unsealed, and its clean end for damage.
        let next_exists = look_around
            && seg
                .header
                .sequence
                .checked_add(1)
                .is_some_and(|next| self.dir.join(naming::file_name(next)).exists());
        #[cfg(test)]
        if let Some(hook) = self.between_looks.as_mut() {
            hook.0();
        }
        let mut raw = [0u8; HEADER_BYTES];
        let n = read_full(&seg.file, &mut raw, 0, &seg.path)?;
        // A header being rewritten (sealing) may be read half old, half new: then it is not
        // proof of anything yet.
        if let Ok(h) = SegmentHeader::decode(&raw) {
            if n == HEADER_BYTES && h.sealed {
                return Ok(Some(Proof::Sealed(h)));
            }
        }
        if !look_around {
            return Ok(None);
        }
        if next_exists {
            return Ok(Some(Proof::NextSegment));
        }
        if seg.block_no == 0 {
            // A restarted writer removes an empty unsealed segment and creates it again.
            match std::fs::metadata(&seg.path) {
                Ok(m) if (m.dev(), m.ino()) != seg.ino => return Ok(Some(Proof::Replaced)),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Some(Proof::Replaced)),
                Err(e) => return Err(Error::io("stat segment", &seg.path, e)),
            }
        }
        // A later block that verifies on its own: the writer appends in order. Nothing at all
        // after the offset: no later block either.
        if available == 0 {
            return Ok(None);
        }
        let len = seg
            .file
            .metadata()
            .map_err(|e| Error::io("stat segment", &seg.path, e))?
            .len();
        if len > seg.off + HEADER_BYTES as u64 && len != seg.probed_len {
            seg.probed_len = len;
            let span = usize::try_from(len - seg.off)
                .unwrap_or(usize::MAX)
                .min(PROBE_SPAN);
            let mut data = vec![0u8; span];
            let got = read_full(&seg.file, &mut data, seg.off, &seg.path)?;
            data.truncate(got);
            // Skip the failing block's own extent when its header tells it: its payload may
            // hold anything.
            let from = header_extent(&data).unwrap_or(0);
            if let Some(at) =
                native::find_later_block(&data, from, u64::from(seg.block_no), data.len())
            {
                return Ok(Some(Proof::LaterBlock(seg.off + at as u64)));
            }
        }
        Ok(None)
    }
}

/// Why the writer has moved past the current offset.
enum Proof {
    Sealed(SegmentHeader),
    NextSegment,
    LaterBlock(u64),
    Replaced,
}

/// A block that does not verify (yet).
struct Failure {
    kind: CorruptionKind,
    detail: String,
    /// Bytes readable at its offset.
    available: usize,
}

/// The extent of a block whose header at the start of `data` decodes, minus one alignment
/// unit (so that [`native::find_later_block`], which starts one unit on, probes right after it).
fn header_extent(data: &[u8]) -> Option<usize> {
    let raw = crate::segment::bytes::header_at(data, 0)?;
    let bh = BlockHeader::decode(&raw).ok()?;
    let total = (HEADER_BYTES + bh.payload_len as usize).next_multiple_of(BLOCK_ALIGN);
    Some(total - BLOCK_ALIGN)
}

/// Reads at `off` until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &File, buf: &mut [u8], off: u64, path: &Path) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], off + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read segment", path, e)),
        }
    }
    Ok(n)
}

/// The lowest canonically named segment in `dir`; `None` while there is none or no directory.
fn lowest_segment(dir: &Path) -> Result<Option<u64>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    let mut lowest = None;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        if let Some(seq) = entry.file_name().to_str().and_then(naming::parse) {
            lowest = Some(lowest.map_or(seq, |l: u64| l.min(seq)));
        }
    }
    Ok(lowest)
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
