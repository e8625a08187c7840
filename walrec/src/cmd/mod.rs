//! One module per command, plus the argument types they share.

pub mod bench;
pub mod demo;
pub mod dump;
pub mod gen;
pub mod info;
pub mod replay;
pub mod verify;

use clap::ValueEnum;
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
