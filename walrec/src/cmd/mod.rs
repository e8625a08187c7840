//! One module per command, plus the argument types they share.
//!
//! Every command that reads a log takes `--format` ([`FormatArg`]): the default, `auto`,
//! recognises each file's format from its first bytes, so a FlashStrike v1 directory (or a native
//! one) needs no option at all; `native` / `flashstrike` force one format, and files of the other
//! are then reported as bad headers instead of being read.

pub mod bench;
pub mod demo;
pub mod dump;
pub mod gen;
pub mod info;
pub mod replay;
pub mod tail;
pub mod verify;

use clap::ValueEnum;
use wal_recovery::recovery::format::FormatChoice;
use wal_recovery::RecoveryMode;

use crate::genpayload::SizeSpec;

/// Recovery mode names on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Fail at the first problem (a torn tail at the end is not one).
    Strict,
    /// Stop cleanly at the first problem (point-in-time recovery).
    Stop,
    /// Skip damaged data, record every lost range, and go on.
    Skip,
}

impl From<Mode> for RecoveryMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Strict => RecoveryMode::Strict,
            Mode::Stop => RecoveryMode::StopAtCorruption,
            Mode::Skip => RecoveryMode::SkipCorrupted,
        }
    }
}

/// Log format names on the command line (`--format`), mapped to the library's [`FormatChoice`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Recognise the format from the segment headers.
    #[default]
    Auto,
    /// Only wal_recovery's own format.
    Native,
    /// Only FlashStrike v1 (`FS.<8 digits>.wal`, `.wal.lz4`).
    #[value(alias = "flashstrike-v1")]
    Flashstrike,
}

impl From<FormatArg> for FormatChoice {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Auto => FormatChoice::Auto,
            FormatArg::Native => FormatChoice::Native,
            FormatArg::Flashstrike => FormatChoice::FlashStrikeV1,
        }
    }
}

/// The log's format as printed by the commands: its name, or `unknown` when no segment header
/// was recognised.
pub fn format_name(f: Option<wal_recovery::recovery::format::Format>) -> &'static str {
    f.map_or("unknown", |f| f.as_str())
}

/// clap value parser for `B` or `MIN-MAX`.
pub fn size_spec(s: &str) -> Result<SizeSpec, String> {
    SizeSpec::parse(s)
}

/// clap value parser for byte sizes with optional K/M/G suffix.
pub fn size(s: &str) -> Result<u64, String> {
    crate::output::parse_size(s)
}

/// clap value parser for counts with optional K/M/G (decimal) suffix.
pub fn count(s: &str) -> Result<u64, String> {
    crate::output::parse_count(s)
}
