//! Typed errors for every failure the library can report.
//!
//! Recovery is only trustworthy if an operator can tell *what* failed, *where* (file, offset,
//! block, id range) and *why*. Every error therefore carries that context; nothing is reduced to a
//! bare boolean or a log line. The C ABI maps each variant to a stable status number
//! (`ffi::status`), so variants may be added but their meaning never changes.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which integrity check failed. Stable: the C ABI reports these as distinct statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CorruptionKind {
    /// The file is shorter than a segment header.
    TooShort,
    /// Segment header magic is not `WALS`.
    HeaderMagic,
    /// Unknown format version or header size.
    HeaderVersion,
    /// The segment header CRC32C does not match its bytes.
    HeaderChecksum,
    /// A header field is invalid on its own or inconsistent with another (e.g. first id 0,
    /// unknown flag bits, unsealed header with sealed-only fields set).
    HeaderField,
    /// Block header magic is not `WALB`.
    BlockMagic,
    /// The block header CRC32C does not match its bytes.
    BlockHeaderChecksum,
    /// The block index is not the block's position in the segment.
    BlockIndex,
    /// The block's event ids do not continue the previous block (or the segment's first id).
    BlockIds,
    /// The block's payload length or event count is out of bounds or misaligned.
    BlockLength,
    /// The payload CRC32C does not match.
    PayloadChecksum,
    /// The chained checksum does not extend the previous block's (or segment's) chain value.
    ChainMismatch,
    /// Reserved or padding bytes that must be zero are not.
    Padding,
    /// Record framing inside a verified block is inconsistent (lengths overrun the block).
    RecordFraming,
    /// A sealed segment's header totals (ids, counts, chain) disagree with its blocks.
    SealedMismatch,
    /// The file ends inside a block (or, for a sealed segment, before the blocks its header
    /// counts).
    Truncated,
    /// Bytes follow the last block of a sealed segment (FlashStrike: a non-zero byte in the
    /// preallocated space after the last block).
    TrailingData,
    /// A cold (`.wal.lz4`) segment's LZ4 frame is truncated or garbled.
    ColdFrame,
}

impl CorruptionKind {
    /// Short human name, used in messages and the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooShort => "file too short",
            Self::HeaderMagic => "bad segment header magic",
            Self::HeaderVersion => "unsupported format version or header size",
            Self::HeaderChecksum => "segment header checksum mismatch",
            Self::HeaderField => "invalid segment header field",
            Self::BlockMagic => "bad block magic",
            Self::BlockHeaderChecksum => "block header checksum mismatch",
            Self::BlockIndex => "block index out of sequence",
            Self::BlockIds => "block event ids not contiguous",
            Self::BlockLength => "block length out of bounds",
            Self::PayloadChecksum => "block payload checksum mismatch",
            Self::ChainMismatch => "chained checksum mismatch",
            Self::Padding => "non-zero padding",
            Self::RecordFraming => "record framing overruns block",
            Self::SealedMismatch => "sealed header disagrees with blocks",
            Self::Truncated => "file ends inside a block",
            Self::TrailingData => "trailing bytes after sealed data",
            Self::ColdFrame => "cold segment's LZ4 frame does not decompress",
        }
    }
}

/// A failed integrity check, with where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// Segment file.
    pub path: PathBuf,
    /// Byte offset in the file of the structure that failed (segment header = 0).
    pub offset: u64,
    /// Block index, when the failure is inside a block.
    pub block: Option<u64>,
    /// Which check failed.
    pub kind: CorruptionKind,
    /// Expected/found values or other specifics.
    pub detail: String,
}

impl Corruption {
    /// What failed and where inside the file, without the file name (for reports that name the
    /// file separately).
    pub fn what(&self) -> String {
        let mut s = format!("{} at offset {}", self.kind.as_str(), self.offset);
        if let Some(b) = self.block {
            s.push_str(&format!(" (block {b})"));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.what())
    }
}

/// How two neighbouring segments fail to line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContinuityKind {
    /// Ids are missing between the two segments.
    Gap,
    /// Two segments cover the same id range with different content.
    ConflictingDuplicate,
    /// The next segment starts inside the previous one's range.
    Overlap,
    /// Ids are contiguous but the cross-segment chain value does not match: a segment was
    /// replaced by one from another log, or rewritten.
    ChainBreak,
}

impl ContinuityKind {
    /// Short human name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gap => "gap",
            Self::ConflictingDuplicate => "conflicting duplicate",
            Self::Overlap => "overlap",
            Self::ChainBreak => "broken chain",
        }
    }
}

/// Every error the library reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed.
    Io {
        /// What was being done ("open", "mmap", "write", …).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error (its errno is kept).
        source: io::Error,
    },
    /// The log directory does not exist.
    DirectoryNotFound(PathBuf),
    /// The log path exists but is not a directory.
    NotADirectory(PathBuf),
    /// Bytes on disk failed an integrity check.
    Corrupt(Box<Corruption>),
    /// Two neighbouring segments do not continue each other.
    Continuity {
        /// What is wrong between them.
        kind: ContinuityKind,
        /// The earlier segment (empty when the problem is before the first segment).
        previous: PathBuf,
        /// The later segment.
        next: PathBuf,
        /// First id that cannot be replayed in order.
        first_id: u64,
        /// Last id affected (inclusive).
        last_id: u64,
    },
    /// A segment's content could not be read at all (bad header, unreadable file) and ids are
    /// missing because of it.
    SegmentUnusable {
        /// The damaged file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// The requested event id is outside this segment's range.
    EventNotInSegment {
        /// Requested id.
        requested: u64,
        /// First id the segment holds.
        first: u64,
        /// One past the last id the segment holds (a valid resume position).
        end: u64,
        /// The segment.
        path: PathBuf,
    },
    /// The requested id is older than the oldest retained event.
    EventTooOld {
        /// Requested id.
        requested: u64,
        /// Oldest id available.
        oldest: u64,
    },
    /// The requested id is beyond the end of the log (last + 1 is the furthest valid position).
    EventBeyondEnd {
        /// Requested id.
        requested: u64,
        /// The id the next appended event would get (last + 1).
        end: u64,
    },
    /// The log holds no events at all and a specific id was requested.
    EmptyLog,
    /// A payload exceeds the format's maximum.
    PayloadTooLarge {
        /// Length given.
        len: usize,
        /// Maximum allowed ([`crate::segment::MAX_EVENT_BYTES`]).
        max: usize,
    },
    /// Event ids would exceed `u64::MAX`.
    IdOverflow,
    /// An argument or option is invalid.
    InvalidArgument(String),
    /// A previous write failed; the writer refuses further appends (everything synced before
    /// the failure is still readable).
    WriterFailed(String),
    /// Another writer holds the directory.
    DirectoryLocked(PathBuf),
    /// The directory holds segments of two formats (wal_recovery's own and FlashStrike v1);
    /// which one is the log cannot be told, so nothing is replayed. Set the format option to
    /// read one of them.
    MixedFormats {
        /// A wal_recovery segment.
        native: PathBuf,
        /// A FlashStrike segment.
        flashstrike: PathBuf,
    },
    /// The directory holds segments of two logs: their format-2 log ids differ, or segments of
    /// format 1 (no log id) sit next to segments of format 2. A segment copied from another
    /// log, or two runs in one directory; which one is the log cannot be told, so nothing is
    /// replayed or appended, in any mode.
    MixedLogs {
        /// A segment of one log.
        first: PathBuf,
        /// Its identity ("log id 0x…", or "format 1, no log id").
        first_id: String,
        /// A segment of another.
        other: PathBuf,
        /// Its identity.
        other_id: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        block: Option<u64>,
        kind: CorruptionKind,
        detail: impl Into<String>,
    ) -> Self {
        Error::Corrupt(Box::new(Corruption {
            path: path.into(),
            offset,
            block,
            kind,
            detail: detail.into(),
        }))
    }

    /// A copy of this error (I/O errors keep their kind, errno and message), so a sticky failure
    /// can be reported again on every later call.
    pub fn duplicate(&self) -> Error {
        match self {
            Error::Io { op, path, source } => Error::Io {
                op,
                path: path.clone(),
                source: match source.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(source.kind(), source.to_string()),
                },
            },
            Error::DirectoryNotFound(p) => Error::DirectoryNotFound(p.clone()),
            Error::NotADirectory(p) => Error::NotADirectory(p.clone()),
            Error::Corrupt(c) => Error::Corrupt(c.clone()),
            Error::Continuity {
                kind,
                previous,
                next,
                first_id,
                last_id,
            } => Error::Continuity {
                kind: *kind,
                previous: previous.clone(),
                next: next.clone(),
                first_id: *first_id,
                last_id: *last_id,
            },
            Error::SegmentUnusable { path, reason } => Error::SegmentUnusable {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::EventNotInSegment {
                requested,
                first,
                end,
                path,
            } => Error::EventNotInSegment {
                requested: *requested,
                first: *first,
                end: *end,
                path: path.clone(),
            },
            Error::EventTooOld { requested, oldest } => Error::EventTooOld {
                requested: *requested,
                oldest: *oldest,
            },
            Error::EventBeyondEnd { requested, end } => Error::EventBeyondEnd {
                requested: *requested,
                end: *end,
            },
            Error::EmptyLog => Error::EmptyLog,
            Error::PayloadTooLarge { len, max } => Error::PayloadTooLarge {
                len: *len,
                max: *max,
            },
            Error::IdOverflow => Error::IdOverflow,
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::WriterFailed(m) => Error::WriterFailed(m.clone()),
            Error::DirectoryLocked(p) => Error::DirectoryLocked(p.clone()),
            Error::MixedFormats {
                native,
                flashstrike,
            } => Error::MixedFormats {
                native: native.clone(),
                flashstrike: flashstrike.clone(),
            },
            Error::MixedLogs {
                first,
                first_id,
                other,
                other_id,
            } => Error::MixedLogs {
                first: first.clone(),
                first_id: first_id.clone(),
                other: other.clone(),
                other_id: other_id.clone(),
            },
        }
    }

    /// The corruption details, when this is a corruption error.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            Error::Corrupt(c) => Some(c),
            _ => None,
        }
    }

    /// The OS errno, when this is an I/O error that carries one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => {
                write!(f, "I/O error: {op} {}: {source}", path.display())
            }
            Error::DirectoryNotFound(p) => write!(f, "log directory not found: {}", p.display()),
            Error::NotADirectory(p) => write!(f, "not a directory: {}", p.display()),
            Error::Corrupt(c) => write!(f, "corruption: {c}"),
            Error::Continuity {
                kind,
                previous,
                next,
                first_id,
                last_id,
            } => write!(
                f,
                "{} between {} and {}: event ids {first_id}..={last_id}",
                kind.as_str(),
                if previous.as_os_str().is_empty() {
                    "<start>".into()
                } else {
                    previous.display().to_string()
                },
                next.display()
            ),
            Error::SegmentUnusable { path, reason } => {
                write!(f, "segment unusable: {}: {reason}", path.display())
            }
            Error::EventNotInSegment {
                requested,
                first,
                end,
                path,
            } => write!(
                f,
                "event {requested} not in segment {} (holds {first}..{end}, end exclusive)",
                path.display()
            ),
            Error::EventTooOld { requested, oldest } => write!(
                f,
                "event {requested} is older than the oldest retained event {oldest}"
            ),
            Error::EventBeyondEnd { requested, end } => write!(
                f,
                "event {requested} is beyond the end of the log (next id would be {end})"
            ),
            Error::EmptyLog => write!(f, "the log holds no events"),
            Error::PayloadTooLarge { len, max } => {
                write!(
                    f,
                    "payload of {len} bytes exceeds the maximum of {max} bytes"
                )
            }
            Error::IdOverflow => write!(f, "event id overflow"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::WriterFailed(m) => write!(f, "writer failed earlier and is closed: {m}"),
            Error::DirectoryLocked(p) => {
                write!(f, "another writer holds the log directory {}", p.display())
            }
            Error::MixedFormats {
                native,
                flashstrike,
            } => write!(
                f,
                "the directory holds segments of two formats: {} is a wal_recovery segment, {} a FlashStrike v1 segment; set the format option to read one of them",
                native.display(),
                flashstrike.display()
            ),
            Error::MixedLogs {
                first,
                first_id,
                other,
                other_id,
            } => write!(
                f,
                "the directory holds segments of two logs: {} ({first_id}) and {} ({other_id}); a segment copied from another log, or two runs in one directory",
                first.display(),
                other.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
