//! wal_recovery through the header's inline per-event call, `wal_recovery_next_hot`: the
//! replay loop is C (`c/hot_loop.c`, compiled by `build.rs` with -O2 against
//! `include/wal_recovery.h`), linked statically with the library as a C engine links
//! `libwal_recovery.a`. It replays the log the other wal_recovery rows share
//! ([`DATA_KEY`]) with default options, like the C ABI rows of [`super::wal_recovery_sys`],
//! which call `wal_recovery_next` once per event through the cdylib.

use std::{
    ffi::{c_void, CString},
    os::unix::ffi::OsStrExt,
    path::Path,
};

use anyhow::Context;
use wal_recovery::ffi::{self, wal_recovery_close, wal_recovery_open, wal_recovery_report_json};

use super::wal_recovery_sys::{note_report, Api, ReportCounters, WalRecovery, DATA_KEY};
use super::{after_timer, Kind, System};
use crate::events::Events;

/// The row's name.
pub const ROW: &str = "wal_recovery (C ABI, inline next_hot)";

extern "C" {
    /// `c/hot_loop.c`: replays `h` (a `wal_recovery *`) to its end with
    /// `wal_recovery_next_hot`; returns the status that ended it (`u32::MAX`: a payload
    /// shorter than 8 bytes), the events' count and the sum of their first 8 payload bytes.
    fn wal_bench_replay_hot(h: *mut c_void, count: *mut u64, sum: *mut u64) -> u32;
}

/// The inline-call row; `segment_bytes` as [`WalRecovery::segment_bytes`], for `write`.
#[derive(Clone, Debug)]
pub struct WalRecoveryInline {
    pub segment_bytes: u64,
}

impl System for WalRecoveryInline {
    fn name(&self) -> String {
        ROW.into()
    }

    fn kind(&self) -> Kind {
        Kind::Candidate
    }

    fn data_key(&self) -> String {
        DATA_KEY.into()
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        WalRecovery {
            api: Api::Rust { telemetry: true },
            segment_bytes: self.segment_bytes,
        }
        .write(dir, events)
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        let cdir = CString::new(dir.as_os_str().as_bytes())?;
        let mut h: *mut ffi::wal_recovery = std::ptr::null_mut();
        // SAFETY: `cdir` is NUL-terminated, NULL options are the defaults, `h` is writable.
        let st = unsafe { wal_recovery_open(cdir.as_ptr(), std::ptr::null(), &mut h) };
        if st != ffi::wal_status::WAL_OK {
            anyhow::bail!("wal_recovery_open {}: {st:?}", dir.display());
        }
        let (mut count, mut sum) = (0u64, 0u64);
        // SAFETY: `h` is a live handle; `count` and `sum` are writable.
        let end = unsafe { wal_bench_replay_hot(h.cast(), &mut count, &mut sum) };
        let report = report_json(h);
        if end != ffi::wal_status::WAL_END as u32 {
            // SAFETY: `h` is live and not used afterwards.
            unsafe { wal_recovery_close(h) };
            if end == u32::MAX {
                anyhow::bail!("event {}: payload shorter than 8 bytes", count + 1);
            }
            anyhow::bail!("wal_recovery_next_hot ended with status {end}");
        }
        after_timer(move || {
            // SAFETY: `h` is live and not used afterwards.
            unsafe { wal_recovery_close(h) };
            match report {
                Ok(j) => note_report(ROW, ReportCounters::from_json(&j)),
                Err(e) => eprintln!("[wal-bench] {ROW}: report unavailable: {e:#}"),
            }
        });
        Ok((count, sum))
    }
}

/// The handle's recovery report, parsed.
fn report_json(h: *mut ffi::wal_recovery) -> anyhow::Result<serde_json::Value> {
    let mut needed = 0usize;
    // SAFETY: `h` is live; NULL/0 asks the size; `needed` is writable.
    unsafe { wal_recovery_report_json(h, std::ptr::null_mut(), 0, &mut needed) };
    let mut buf = vec![0u8; needed];
    // SAFETY: `buf` is writable for `needed` bytes.
    let st = unsafe { wal_recovery_report_json(h, buf.as_mut_ptr().cast(), needed, &mut needed) };
    if st != ffi::wal_status::WAL_OK {
        anyhow::bail!("wal_recovery_report_json: {st:?}");
    }
    let text = std::ffi::CStr::from_bytes_until_nul(&buf).context("report not NUL-terminated")?;
    Ok(serde_json::from_slice(text.to_bytes())?)
}
