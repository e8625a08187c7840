//! Test-only knobs that break the writer's fsync discipline on purpose, so that the crash-state
//! explorer (`tests/crash_explorer.rs`) can show it catches each break.
//!
//! Compiled only with the `crash-knobs` cargo feature, which only the tests enable; without it
//! [`active`] is a constant `false` and every knob compiles away. With it, the knobs named in
//! the comma-separated environment variable `WALREC_CRASH_KNOBS` are active:
//!
//! | knob | what the writer then skips |
//! |---|---|
//! | `skip-fdatasync` | the segment `fdatasync` of [`super::Writer::sync`] |
//! | `skip-dir-fsync` | the directory `fsync` of [`super::Writer::sync`] |
//! | `revert-parent-fsync` | fsyncing the parent of a log directory it created (defect 1 of issue 17) |
//! | `revert-roll-barrier` | the directory `fsync` between two segment renames, and setting aside segments after a missing one on reopen (defect 3 of issue 17) |
//! | `revert-hole-rule` | format 2 for a new log: it writes format 1, whose blocks record no synced offset, so a damaged block followed by a valid one is corruption again (defect 2 of issue 17) |

/// A knob that breaks one step of the discipline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Knob {
    SkipFdatasync,
    SkipDirFsync,
    RevertParentFsync,
    RevertRollBarrier,
    RevertHoleRule,
}

#[cfg(feature = "crash-knobs")]
impl Knob {
    fn name(self) -> &'static str {
        match self {
            Knob::SkipFdatasync => "skip-fdatasync",
            Knob::SkipDirFsync => "skip-dir-fsync",
            Knob::RevertParentFsync => "revert-parent-fsync",
            Knob::RevertRollBarrier => "revert-roll-barrier",
            Knob::RevertHoleRule => "revert-hole-rule",
        }
    }
}

/// Whether `knob` is active (never, without the `crash-knobs` feature).
#[cfg(feature = "crash-knobs")]
pub(crate) fn active(knob: Knob) -> bool {
    std::env::var("WALREC_CRASH_KNOBS")
        .map(|v| v.split(',').any(|k| k.trim() == knob.name()))
        .unwrap_or(false)
}

/// Whether `knob` is active (never, without the `crash-knobs` feature).
#[cfg(not(feature = "crash-knobs"))]
#[inline(always)]
pub(crate) fn active(_knob: Knob) -> bool {
    false
}
