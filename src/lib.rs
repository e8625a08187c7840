//! # wal_recovery
//!
//! Rebuilds the state of an event-driven engine after a crash by replaying its write-ahead log
//! (WAL) in strict event-id order, verified, zero-copy, from any event id.
//!
//! The crate mirrors the original design's four recovery components:
//!
//! * [`recovery::manager::Manager`] scans the directory, resumes from an event id and streams
//!   events, switching segments without doing slow I/O on the replay thread;
//! * [`recovery::segment_reader::SegmentReader`] maps one segment, verifies every checksum in one
//!   pass while building a sparse index, seeks, and reads events zero-copy;
//! * [`recovery::worker::segment_preloader`] opens and verifies upcoming segments on a background
//!   thread and closes finished ones, handing readers over two SPSC rings;
//! * [`recovery::telemetry`] holds per-component metrics with HDR histograms.
//!
//! [`recorder::Writer`] produces the segments ([`segment`] is the byte format shared by both
//! sides; see `docs/FORMAT.md`). The same pipeline also replays logs written by FlashStrike's
//! C++ recorder ([`flashstrike`] is that byte format, with a typed [`flashstrike::event::RequestEvent`]
//! view and a generator of its logs and crash states); [`recovery::format`] is the seam
//! between the formats. [`ffi`] is the C ABI; nothing outside it touches raw pointers.
#![deny(missing_debug_implementations, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod error;
pub mod ffi;
pub mod flashstrike;
pub mod recorder;
pub mod recovery;
pub mod segment;

pub use error::{Corruption, CorruptionKind, Error, Result};
pub use recorder::{Writer, WriterOptions};
pub use recovery::follow::{IdleStrategy, Next};
pub use recovery::manager::{Event, Manager, RecoveryMode, RecoveryOptions};
pub use recovery::report::RecoveryReport;
pub use recovery::segment_reader::SegmentReader;
