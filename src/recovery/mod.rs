//! Recovery: everything that reads a log back.
//!
//! * [`format`] is the on-disk format seam: what differs between wal_recovery's own format and
//!   FlashStrike v1 (the reader side; the byte layouts are [`crate::segment`] and
//!   [`crate::flashstrike`]);
//! * [`scan`] reads and validates every segment header in a directory;
//! * [`segment_reader`] verifies and reads one segment;
//! * [`worker::segment_preloader`] verifies upcoming segments on a background thread;
//! * [`manager`] ties them together and streams events in id order;
//! * [`report`] is the account of what was and was not recovered;
//! * [`telemetry`] measures all of it.

pub mod event;
pub mod follow;
pub mod format;
pub mod manager;
pub mod options;
pub mod payload_checks;
pub mod prefetch;
pub mod report;
pub mod scan;
pub mod segment_bytes;
pub mod segment_reader;
pub mod telemetry;
pub mod worker;

pub use event::Event;
