//! wal_recovery (the library developed in this repository) as five candidate systems that
//! share one written log (`data_key` [`DATA_KEY`]).
//!
//! Write: [`Writer::open`] with [`WriterOptions::default`] (64 MiB segments, 64 KiB blocks;
//! the harness may set another segment size, see `Config::wal_segment_bytes`), one `append`
//! per event, `close` once (seals and fdatasyncs the last segment; full segments are synced
//! when the writer rolls).
//!
//! Replay, always verified (strict mode, every block checksum checked before delivery):
//! * **Rust API**: `Manager::open_with_telemetry` + `next()` per event, default options
//!   (telemetry on: one `next()` in 1024 timed);
//! * **telemetry off**: the same with `next_event_sample_every = u32::MAX`;
//! * **Rust API, next_batch_with**: `Manager::next_batch_with(usize::MAX, |ev| ..)` until it
//!   returns 0 — the closure API, whose cursor stays in registers for a whole block;
//! * **C ABI, per event**: `libwal_recovery.so` loaded with `libloading`; `wal_recovery_open`
//!   + `wal_recovery_next` per event;
//! * **C ABI, batched 64**: the same with `wal_recovery_next_batch(.., 64, ..)` (the caller
//!   reads each batch's payloads after the call; 64 events are still in cache then, 1024 are
//!   not: `examples/ffi_bench.rs` runs both).
//!
//! The Rust-API replays record into one shared [`Telemetry`] per harness phase (warm, cold)
//! so that the segment-handoff histogram covers every replay of the phase; [`take_phase`]
//! returns and resets it. Each replay's [`wal_recovery::RecoveryReport`] counters (fallback
//! opens, sync closes) are accumulated per system, for the C-ABI ones via
//! `wal_recovery_report_json`. All of this happens after the replay timer stops.
//!
//! The C-ABI systems find the cdylib next to the running executable ([`find_cdylib`]); it is
//! loaded once per process by [`System::prepare`] (untimed), and the symbols are resolved once
//! per replay, inside the timer but outside the per-event loop.

use std::{
    collections::BTreeMap,
    ffi::{c_char, CStr, CString},
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use anyhow::Context;
use libloading::Library;
use wal_recovery::{
    recovery::telemetry::{Telemetry, TelemetrySnapshot, DEFAULT_NEXT_EVENT_SAMPLE_EVERY},
    Manager, RecoveryOptions, RecoveryReport, Writer, WriterOptions,
};

use super::{after_timer, Kind, System};
use crate::events::{first8, Events};

/// Name of the `next_batch_with` row.
pub const BATCH_ROW: &str = "wal_recovery (Rust API, next_batch_with)";
/// Data key shared by every wal_recovery system.
pub const DATA_KEY: &str = "wal_recovery";
/// Events per `wal_recovery_next_batch` call of the batched C-ABI system.
pub const C_BATCH: usize = 64;
/// ABI version this harness's struct declarations match (`WAL_RECOVERY_ABI_VERSION`).
pub const EXPECTED_ABI: u32 = 1;

/// Which API a replay goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `Manager::next()` per event; `telemetry: false` sets `next_event_sample_every` to
    /// `u32::MAX` (no per-event sampling).
    Rust { telemetry: bool },
    /// `Manager::next_batch_with` (closure per event), default options.
    RustBatch,
    /// `wal_recovery_next` per event through the cdylib.
    CPerEvent,
    /// `wal_recovery_next_batch` with this capacity through the cdylib.
    CBatched(usize),
}

/// One wal_recovery configuration under test.
#[derive(Clone, Debug)]
pub struct WalRecovery {
    pub api: Api,
    /// Writer segment size (only used by the system that writes the shared log).
    pub segment_bytes: u64,
}

impl WalRecovery {
    /// The five candidate rows, writing `segment_bytes` segments.
    pub fn all(segment_bytes: u64) -> Vec<WalRecovery> {
        [
            Api::Rust { telemetry: true },
            Api::Rust { telemetry: false },
            Api::RustBatch,
            Api::CPerEvent,
            Api::CBatched(C_BATCH),
        ]
        .into_iter()
        .map(|api| WalRecovery { api, segment_bytes })
        .collect()
    }
}

impl System for WalRecovery {
    fn name(&self) -> String {
        match self.api {
            Api::Rust { telemetry: true } => "wal_recovery (Rust API)".into(),
            Api::Rust { telemetry: false } => "wal_recovery (telemetry off)".into(),
            Api::RustBatch => BATCH_ROW.into(),
            Api::CPerEvent => "wal_recovery (C ABI, per event)".into(),
            Api::CBatched(n) => format!("wal_recovery (C ABI, batched {n})"),
        }
    }

    fn kind(&self) -> Kind {
        Kind::Candidate
    }

    fn data_key(&self) -> String {
        DATA_KEY.into()
    }

    fn prepare(&self) -> anyhow::Result<()> {
        match self.api {
            Api::Rust { .. } | Api::RustBatch => Ok(()),
            Api::CPerEvent | Api::CBatched(_) => cdylib().map(|_| ()),
        }
    }

    fn write(&self, dir: &Path, events: &Events) -> anyhow::Result<()> {
        let opts = WriterOptions {
            segment_bytes: self.segment_bytes,
            ..WriterOptions::default()
        };
        let mut w = Writer::open(dir, opts).context("Writer::open")?;
        for p in events.iter() {
            w.append(p).context("Writer::append")?;
        }
        w.close().context("Writer::close")?;
        Ok(())
    }

    fn replay(&self, dir: &Path) -> anyhow::Result<(u64, u64)> {
        match self.api {
            Api::Rust { telemetry } => replay_rust(&self.name(), dir, telemetry),
            Api::RustBatch => replay_rust_batch(&self.name(), dir),
            Api::CPerEvent => replay_c(&self.name(), dir, None),
            Api::CBatched(n) => replay_c(&self.name(), dir, Some(n)),
        }
    }
}

fn replay_rust(name: &str, dir: &Path, telemetry: bool) -> anyhow::Result<(u64, u64)> {
    let opts = RecoveryOptions {
        next_event_sample_every: if telemetry {
            DEFAULT_NEXT_EVENT_SAMPLE_EVERY
        } else {
            u32::MAX
        },
        ..RecoveryOptions::default()
    };
    let mut m = Manager::open_with_telemetry(dir, opts, phase_telemetry())
        .with_context(|| format!("Manager::open {}", dir.display()))?;
    let (mut count, mut sum) = (0u64, 0u64);
    while let Some(ev) = m.next().context("Manager::next")? {
        count += 1;
        sum = sum.wrapping_add(first8(ev.payload));
    }
    report_after_timer(name, m);
    Ok((count, sum))
}

/// After the timer: the replay's report counters, then the manager's teardown.
fn report_after_timer(name: &str, m: Manager) {
    let name = name.to_string();
    after_timer(move || {
        let r = m.report();
        drop(m);
        note_report(&name, ReportCounters::from_report(&r));
    });
}

fn replay_rust_batch(name: &str, dir: &Path) -> anyhow::Result<(u64, u64)> {
    let mut m = Manager::open_with_telemetry(dir, RecoveryOptions::default(), phase_telemetry())
        .with_context(|| format!("Manager::open {}", dir.display()))?;
    let (mut count, mut sum) = (0u64, 0u64);
    while m
        .next_batch_with(usize::MAX, |ev| {
            count += 1;
            sum = sum.wrapping_add(first8(ev.payload));
        })
        .context("Manager::next_batch_with")?
        > 0
    {}
    report_after_timer(name, m);
    Ok((count, sum))
}

// ---------------------------------------------------------------------------------------
// Shared per-phase state.

/// Per-system sums of the counters of every replay's recovery report.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportCounters {
    /// Replays counted.
    pub replays: u64,
    /// Segments the manager opened itself because the preloader had not (summed).
    pub fallback_opens: u64,
    /// Finished segments closed synchronously because the finished ring was full (summed).
    pub sync_closes: u64,
    /// Segments replayed (summed).
    pub segments_replayed: u64,
    /// Replays whose report was not clean or not complete.
    pub unclean: u64,
}

impl ReportCounters {
    pub(crate) fn from_report(r: &RecoveryReport) -> ReportCounters {
        ReportCounters {
            replays: 1,
            fallback_opens: r.fallback_opens,
            sync_closes: r.sync_closes,
            segments_replayed: r.segments_replayed,
            unclean: u64::from(!(r.is_clean() && r.complete)),
        }
    }

    pub(crate) fn from_json(j: &serde_json::Value) -> ReportCounters {
        let n = |k: &str| j[k].as_u64().unwrap_or(0);
        ReportCounters {
            replays: 1,
            fallback_opens: n("fallback_opens"),
            sync_closes: n("sync_closes"),
            segments_replayed: n("segments_replayed"),
            unclean: u64::from(!(j["clean"] == true && j["complete"] == true)),
        }
    }

    fn add(&mut self, o: &ReportCounters) {
        self.replays += o.replays;
        self.fallback_opens += o.fallback_opens;
        self.sync_closes += o.sync_closes;
        self.segments_replayed += o.segments_replayed;
        self.unclean += o.unclean;
    }
}

struct PhaseState {
    telemetry: Arc<Telemetry>,
    rust_replays: u64,
    reports: BTreeMap<String, ReportCounters>,
}

static PHASE: Mutex<Option<PhaseState>> = Mutex::new(None);

fn with_phase<T>(f: impl FnOnce(&mut PhaseState) -> T) -> T {
    let mut g = PHASE.lock().unwrap_or_else(|p| p.into_inner());
    let st = g.get_or_insert_with(|| PhaseState {
        telemetry: Arc::new(Telemetry::new()),
        rust_replays: 0,
        reports: BTreeMap::new(),
    });
    f(st)
}

/// The phase's telemetry, for one more Rust-API replay.
fn phase_telemetry() -> Arc<Telemetry> {
    with_phase(|s| {
        s.rust_replays += 1;
        Arc::clone(&s.telemetry)
    })
}

pub(crate) fn note_report(name: &str, c: ReportCounters) {
    with_phase(|s| s.reports.entry(name.to_string()).or_default().add(&c));
}

/// What the wal_recovery replays of one phase recorded.
#[derive(Clone, Debug, Default)]
pub struct PhaseStats {
    /// Telemetry shared by the Rust-API replays of the phase (the C-ABI replays have their
    /// own, inside the cdylib, and are not in it).
    pub telemetry: TelemetrySnapshot,
    /// Number of Rust-API replays that recorded into `telemetry`.
    pub rust_replays: u64,
    /// Report counters per system name.
    pub reports: BTreeMap<String, ReportCounters>,
}

/// Returns what the replays since the last call recorded and starts a new phase.
pub fn take_phase() -> PhaseStats {
    let mut g = PHASE.lock().unwrap_or_else(|p| p.into_inner());
    match g.take() {
        Some(st) => {
            st.telemetry.manager.flush();
            PhaseStats {
                telemetry: st.telemetry.snapshot(),
                rust_replays: st.rust_replays,
                reports: st.reports,
            }
        }
        None => PhaseStats::default(),
    }
}

// ---------------------------------------------------------------------------------------
// C ABI.

/// `struct wal_recovery_options` of include/wal_recovery.h (ABI v1, 40 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WalRecoveryOptions {
    pub struct_size: u32,
    pub mode: u32,
    pub start_event_id: u64,
    pub preload_depth: u32,
    pub finished_capacity: u32,
    pub fallback_after_us: u32,
    pub next_event_sample_every: u32,
    pub format: u32,
    /// `wal_follow` (0: off); was `reserved`.
    pub follow: u32,
}

/// `struct wal_event` of include/wal_recovery.h.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WalEvent {
    pub event_id: u64,
    pub data: *const u8,
    pub len: usize,
}

impl WalEvent {
    const EMPTY: WalEvent = WalEvent {
        event_id: 0,
        data: std::ptr::null(),
        len: 0,
    };
}

const _: () = {
    assert!(std::mem::size_of::<WalRecoveryOptions>() == 40);
    assert!(std::mem::size_of::<WalEvent>() == 8 + 2 * std::mem::size_of::<usize>());
};

/// Opaque `struct wal_recovery`.
#[repr(C)]
pub struct WalRecoveryHandle {
    _private: [u8; 0],
}

/// `WAL_OK`.
pub const WAL_OK: u32 = 0;
/// `WAL_END`.
pub const WAL_END: u32 = 1;

type FnOptionsInit = unsafe extern "C" fn(*mut WalRecoveryOptions, usize) -> u32;
type FnOpen = unsafe extern "C" fn(
    *const c_char,
    *const WalRecoveryOptions,
    *mut *mut WalRecoveryHandle,
) -> u32;
type FnNext = unsafe extern "C" fn(*mut WalRecoveryHandle, *mut WalEvent) -> u32;
type FnNextBatch =
    unsafe extern "C" fn(*mut WalRecoveryHandle, *mut WalEvent, usize, *mut usize) -> u32;
type FnClose = unsafe extern "C" fn(*mut WalRecoveryHandle);
type FnLastError = unsafe extern "C" fn(*const WalRecoveryHandle, *mut c_char, usize) -> usize;
type FnStatusName = unsafe extern "C" fn(u32) -> *const c_char;
type FnReportJson =
    unsafe extern "C" fn(*const WalRecoveryHandle, *mut c_char, usize, *mut usize) -> u32;
type FnAbiVersion = unsafe extern "C" fn() -> u32;

/// File name of the cdylib on this platform (`libwal_recovery.so` on Linux).
pub fn cdylib_name() -> String {
    format!(
        "{}wal_recovery{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Where `libwal_recovery.so` is looked for: `$WAL_RECOVERY_CDYLIB` if set, else next to
/// the running executable: `target/<profile>/deps/` (where building wal-bench puts it, as a
/// dependency's crate type) and then `target/<profile>/` (where `cargo build -p wal-recovery`
/// copies it).
pub fn cdylib_candidates() -> anyhow::Result<Vec<PathBuf>> {
    if let Some(p) = std::env::var_os("WAL_RECOVERY_CDYLIB") {
        return Ok(vec![PathBuf::from(p)]);
    }
    let exe = std::env::current_exe().context("current_exe")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no parent directory", exe.display()))?;
    let name = cdylib_name();
    Ok(if dir.file_name().is_some_and(|n| n == "deps") {
        let mut v = vec![dir.join(&name)];
        v.extend(dir.parent().map(|p| p.join(&name)));
        v
    } else {
        vec![dir.join("deps").join(&name), dir.join(&name)]
    })
}

/// The first existing [`cdylib_candidates`] entry, or an error saying how to build it.
pub fn find_cdylib() -> anyhow::Result<PathBuf> {
    find_cdylib_in(&cdylib_candidates()?)
}

/// The first existing path of `candidates`, or an error saying how to build the cdylib.
pub fn find_cdylib_in(candidates: &[PathBuf]) -> anyhow::Result<PathBuf> {
    if let Some(p) = candidates.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    anyhow::bail!(
        "{} not found (looked in: {}). Build it with `cargo build --release -p wal-recovery` \
         (same CARGO_TARGET_DIR and profile as wal-bench; drop --release for debug), or set \
         WAL_RECOVERY_CDYLIB to its path",
        cdylib_name(),
        looked.join(", ")
    )
}

/// The cdylib, loaded once per process (its ABI version checked).
fn cdylib() -> anyhow::Result<&'static Library> {
    static LIB: OnceLock<Result<Library, String>> = OnceLock::new();
    LIB.get_or_init(|| load_cdylib().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn load_cdylib() -> anyhow::Result<Library> {
    let path = find_cdylib()?;
    // SAFETY: loading the library runs its initialisers; libwal_recovery.so is this
    // repository's own Rust cdylib, whose only initialisers are the Rust runtime's.
    let lib = unsafe { Library::new(&path) }.with_context(|| format!("load {}", path.display()))?;
    // SAFETY: the symbol has this signature in include/wal_recovery.h (`uint32_t
    // wal_abi_version(void)`).
    let abi = unsafe {
        let f = lib.get::<FnAbiVersion>(b"wal_abi_version\0")?;
        f()
    };
    anyhow::ensure!(
        abi == EXPECTED_ABI,
        "{} has ABI version {abi}, this harness declares the v{EXPECTED_ABI} structs",
        path.display()
    );
    Ok(lib)
}

/// The C functions a replay calls, resolved from the loaded library.
struct CApi {
    options_init: FnOptionsInit,
    open: FnOpen,
    next: FnNext,
    next_batch: FnNextBatch,
    close: FnClose,
    last_error: FnLastError,
    status_name: FnStatusName,
    report_json: FnReportJson,
}

impl CApi {
    fn resolve(lib: &'static Library) -> anyhow::Result<CApi> {
        // SAFETY: each type alias above is the exact C signature of the symbol in
        // include/wal_recovery.h (ABI v1, checked when loading); the library stays loaded for
        // the whole process (static), so the copied function pointers never dangle.
        unsafe {
            Ok(CApi {
                options_init: *lib.get(b"wal_recovery_options_init_sized\0")?,
                open: *lib.get(b"wal_recovery_open\0")?,
                next: *lib.get(b"wal_recovery_next\0")?,
                next_batch: *lib.get(b"wal_recovery_next_batch\0")?,
                close: *lib.get(b"wal_recovery_close\0")?,
                last_error: *lib.get(b"wal_last_error_message\0")?,
                status_name: *lib.get(b"wal_status_name\0")?,
                report_json: *lib.get(b"wal_recovery_report_json\0")?,
            })
        }
    }

    /// `"WAL_ERR_X: message"` for a failed call (`h` NULL: the thread's last error).
    fn error(&self, status: u32, h: *const WalRecoveryHandle) -> anyhow::Error {
        // SAFETY: `h` is NULL or the live handle of the failed call; the buffer is valid for
        // `cap` bytes; wal_status_name returns a static NUL-terminated string.
        let (name, msg) = unsafe {
            let name = CStr::from_ptr((self.status_name)(status))
                .to_string_lossy()
                .into_owned();
            let mut buf = vec![0u8; 1024];
            let n = (self.last_error)(h, buf.as_mut_ptr().cast(), buf.len());
            buf.truncate(n.min(buf.len() - 1));
            (name, String::from_utf8_lossy(&buf).into_owned())
        };
        anyhow::anyhow!("{name} ({status}): {msg}")
    }

    /// The handle's report as JSON.
    fn report(&self, h: *const WalRecoveryHandle) -> anyhow::Result<serde_json::Value> {
        let mut needed = 0usize;
        // SAFETY: NULL buffer with cap 0 asks the size; then a buffer of `needed` bytes.
        unsafe { (self.report_json)(h, std::ptr::null_mut(), 0, &mut needed) };
        let mut buf = vec![0u8; needed.max(1)];
        // SAFETY: `buf` is valid for `buf.len()` bytes; `h` is live.
        let st = unsafe { (self.report_json)(h, buf.as_mut_ptr().cast(), buf.len(), &mut needed) };
        if st != WAL_OK {
            return Err(self.error(st, h));
        }
        let text = CStr::from_bytes_until_nul(&buf)?.to_str()?;
        Ok(serde_json::from_str(text)?)
    }
}

fn replay_c(name: &str, dir: &Path, batch: Option<usize>) -> anyhow::Result<(u64, u64)> {
    let api = CApi::resolve(cdylib()?)?;
    let cdir = CString::new(dir.as_os_str().as_bytes())?;
    let mut opts = WalRecoveryOptions::default();
    let mut h: *mut WalRecoveryHandle = std::ptr::null_mut();
    // SAFETY: `opts` is a writable wal_recovery_options; `cdir` is NUL-terminated; `h` is a
    // writable pointer.
    let st = unsafe {
        (api.options_init)(&mut opts, std::mem::size_of::<WalRecoveryOptions>());
        (api.open)(cdir.as_ptr(), &opts, &mut h)
    };
    if st != WAL_OK || h.is_null() {
        return Err(api.error(st, std::ptr::null()).context("wal_recovery_open"));
    }
    let (mut count, mut sum) = (0u64, 0u64);
    let end = match batch {
        None => {
            let mut ev = WalEvent::EMPTY;
            loop {
                // SAFETY: `h` is live; `ev` is writable.
                let st = unsafe { (api.next)(h, &mut ev) };
                if st != WAL_OK {
                    break st;
                }
                // SAFETY: on WAL_OK, `data` points to `len` readable bytes until the next call
                // on `h`.
                let p = unsafe { std::slice::from_raw_parts(ev.data, ev.len) };
                count += 1;
                sum = sum.wrapping_add(first8(p));
            }
        }
        Some(cap) => {
            let mut evs = vec![WalEvent::EMPTY; cap];
            loop {
                let mut n = 0usize;
                // SAFETY: `h` is live; `evs` is writable for `cap` events; `n` is writable.
                let st = unsafe { (api.next_batch)(h, evs.as_mut_ptr(), cap, &mut n) };
                if st != WAL_OK {
                    break st;
                }
                for ev in &evs[..n] {
                    // SAFETY: the first `n` events were filled; each `data` points to `len`
                    // readable bytes until the next call on `h`.
                    let p = unsafe { std::slice::from_raw_parts(ev.data, ev.len) };
                    sum = sum.wrapping_add(first8(p));
                }
                count += n as u64;
            }
        }
    };
    if end != WAL_END {
        let e = api.error(end, h);
        // SAFETY: `h` is live and not used afterwards.
        unsafe { (api.close)(h) };
        return Err(e.context(if batch.is_some() {
            "wal_recovery_next_batch"
        } else {
            "wal_recovery_next"
        }));
    }
    let name = name.to_string();
    after_timer(move || {
        let counters = api.report(h).map(|j| ReportCounters::from_json(&j));
        // SAFETY: `h` is live and not used afterwards.
        unsafe { (api.close)(h) };
        match counters {
            Ok(c) => note_report(&name, c),
            Err(e) => eprintln!("[wal-bench] {name}: report unavailable: {e:#}"),
        }
    });
    Ok((count, sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local struct declarations list the header's fields in the header's order.
    #[test]
    fn structs_match_header() {
        let h = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../include/wal_recovery.h"
        ))
        .unwrap();
        let fields = |name: &str| -> Vec<String> {
            let start = h.find(&format!("typedef struct {name} {{")).unwrap();
            let body = &h[start..start + h[start..].find("} ").unwrap()];
            body.lines()
                .map(str::trim)
                .filter(|l| l.ends_with(';') && !l.starts_with('*') && !l.starts_with("/*"))
                .map(|l| l.trim_end_matches(';').to_string())
                .collect()
        };
        assert_eq!(
            fields("wal_recovery_options"),
            [
                "uint32_t struct_size",
                "uint32_t mode",
                "uint64_t start_event_id",
                "uint32_t preload_depth",
                "uint32_t finished_capacity",
                "uint32_t fallback_after_us",
                "uint32_t next_event_sample_every",
                "uint32_t format",
                "uint32_t follow"
            ]
        );
        assert_eq!(
            fields("wal_event"),
            ["uint64_t event_id", "const uint8_t *data", "size_t len"]
        );
        assert!(h.contains(&format!("#define WAL_RECOVERY_ABI_VERSION {EXPECTED_ABI}")));
    }

    #[test]
    fn missing_cdylib_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_cdylib_in(&[dir.path().join(cdylib_name())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cargo build --release -p wal-recovery"),
            "{err}"
        );
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[test]
    fn cdylib_is_built_next_to_the_test_binary() {
        let p = find_cdylib().unwrap();
        assert!(p.ends_with(cdylib_name()), "{}", p.display());
    }
}
