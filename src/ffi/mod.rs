//! The C ABI: every `extern "C"` function and `#[repr(C)]` type of the library, and the only
//! code that touches raw pointers. `include/wal_recovery.h` is generated from this module by
//! `build.rs` (cbindgen); do not edit the header.
//!
//! Conventions, which the header repeats per function:
//! * Names are `wal_<noun>_<verb>`. Handles (`wal_recovery`, `wal_writer`) are opaque, created by
//!   `_open` through an out-parameter and freed by `_close`; `_close(NULL)` does nothing.
//! * Fallible functions return a [`wal_status`]: `WAL_OK` 0, `WAL_END` 1, every error >= 2, with
//!   stable numbers ([`status`]). The detail of the last error is a message
//!   (`wal_last_error_message`), kept per handle and per thread.
//! * Every pointer argument is checked for NULL before use (`WAL_ERR_NULL_ARGUMENT`).
//! * No panic unwinds into C: each body runs inside `ffi_panic_boundary!` (`panic.rs`), and a panic
//!   becomes `WAL_ERR_PANIC` (and poisons the handle).
//! * Text goes into caller buffers: either with `*needed` and `WAL_ERR_BUFFER_TOO_SMALL`, or
//!   `snprintf`-style for error messages.
//! * Option structs begin with `struct_size` (`ptr.rs`, `read_versioned`, states the rule).
//! * Thread-safety is stated per function; see [`recovery`] for why the telemetry functions may
//!   run beside a replay.
//!
//! Building and linking: `cargo build --release` gives `target/release/libwal_recovery.so`
//! (SONAME `libwal_recovery.so.<ABI>`, exporting only `wal_*` symbols) and
//! `libwal_recovery.a`; the header is `include/wal_recovery.h`, also published to dependent
//! build scripts as `DEP_WAL_RECOVERY_INCLUDE` (`links = "wal_recovery"`). `c_tests/` holds C,
//! C++ and `dlopen` programs that use the whole API (driven by `tests/ffi_c.rs`);
//! `scripts/sanitizers.sh` runs them under ASan/UBSan and valgrind; `examples/ffi_bench.rs`
//! measures replay through the C ABI against the Rust API.
#![allow(non_camel_case_types)]

pub mod flashstrike;
pub mod follow;
pub mod hot_window;
pub mod options;
pub(crate) mod panic;
pub(crate) mod ptr;
pub mod recovery;
pub mod status;
pub mod telemetry;
pub mod version;
pub mod writer;

pub use flashstrike::{wal_request_event, wal_request_event_decode};
pub use follow::{wal_follow, wal_recovery_next_wait};
pub use hot_window::{wal_hot_window, wal_recovery_hot_window, wal_recovery_next_refill};
#[allow(deprecated)] // re-exported for the C ABI; deprecated for new callers only
pub use options::{
    wal_format, wal_mode, wal_recovery_options, wal_recovery_options_init,
    wal_recovery_options_init_sized,
};
pub use recovery::{
    wal_event, wal_last_error_message, wal_recovery, wal_recovery_close, wal_recovery_next,
    wal_recovery_next_batch, wal_recovery_open, wal_recovery_report_json, wal_recovery_resume,
};
pub use status::{wal_status, wal_status_name, wal_status_str};
pub use telemetry::{
    wal_histogram, wal_manager_telemetry, wal_op_stats, wal_segment_preloader_telemetry,
    wal_segment_reader_telemetry, wal_telemetry, wal_telemetry_dump, wal_telemetry_prometheus,
    wal_telemetry_snapshot,
};
pub use version::{wal_abi_version, wal_version};
pub use writer::{
    wal_writer, wal_writer_append, wal_writer_close, wal_writer_last_error_message,
    wal_writer_open, wal_writer_options, wal_writer_options_init, wal_writer_sync,
};
