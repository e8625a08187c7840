//! INTERIM telemetry shim — replaced by the real module.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;
use crate::error::Error;
use crate::recovery::segment_reader::SegmentReader;
pub const DEFAULT_NEXT_EVENT_SAMPLE_EVERY: u32 = 1024;
pub fn now_ns() -> u64 { static E: OnceLock<Instant> = OnceLock::new(); E.get_or_init(Instant::now).elapsed().as_nanos() as u64 }
#[derive(Debug, Default)] pub struct Telemetry { pub manager: M, pub segment_reader: R, pub segment_preloader: P }
impl Telemetry { pub fn new() -> Self { Self::default() } }
#[derive(Debug, Default)] pub struct M { pub fallback_opens: AtomicU64 }
#[derive(Debug, Default)] pub struct R;
#[derive(Debug, Default)] pub struct P;
impl M { pub fn on_read_segment_header(&self, _s: u64, _ok: bool) {} pub fn on_replay_start(&self) {} pub fn on_resume_from_event(&self, _s: u64, _ok: bool) {} pub fn on_seek_event(&self, _s: u64, _ok: bool) {} pub fn on_next_event(&self, _s: u64) {} pub fn on_handoff(&self, _s: u64) {} pub fn on_fallback_open(&self) { self.fallback_opens.fetch_add(1, Ordering::Relaxed); } pub fn publish_progress(&self, _e: u64, _b: u64) {} pub fn on_sync_close(&self) {} pub fn set_segments(&self, _t: u64, _r: u64) {} }
impl R { pub fn on_open_segment(&self, _s: u64, _ok: bool) {} pub fn on_open_failure(&self, _e: &Error) {} pub fn on_verify_segment(&self, _s: u64, _r: &SegmentReader) {} pub fn on_close_segment(&self, _s: u64, _ok: bool) {} }
impl P { pub fn on_finish_segment(&self, _s: u64, _ok: bool) {} pub fn on_ring_full_wait(&self, _ns: u64) {} pub fn on_preload_segment(&self, _s: u64, _ok: bool) {} pub fn on_segment_skipped(&self, _e: &Error) {} }
