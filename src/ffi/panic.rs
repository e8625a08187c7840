//! The panic boundary: no panic ever unwinds into C.
//!
//! Every exported function wraps its body in [`ffi_panic_boundary!`]. The macro wraps only the
//! body, so cbindgen still sees the plain signature. A caught panic returns the value that
//! [`PanicDefault`] gives for the function's return type (`WAL_ERR_PANIC`, 0, NULL or nothing)
//! and leaves the panic message as the calling thread's last error. The `handle, { body }` form
//! also copies any error message into the handle and, on a panic, poisons the handle so later
//! calls on it return `WAL_ERR_POISONED` instead of using a half-updated state.
//!
//! The default panic hook still prints the panic to stderr: a library does not replace the
//! process-wide hook.

use std::any::Any;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{fail_with, wal_status};

/// What a function returns when its body panicked.
pub(crate) trait PanicDefault {
    /// The value returned after a panic.
    fn panic_value() -> Self;
}

impl PanicDefault for wal_status {
    fn panic_value() -> Self {
        wal_status::WAL_ERR_PANIC
    }
}

impl PanicDefault for () {
    fn panic_value() -> Self {}
}

impl PanicDefault for usize {
    fn panic_value() -> Self {
        0
    }
}

impl PanicDefault for u32 {
    fn panic_value() -> Self {
        0
    }
}

/// `wal_recovery_hot_window`: a panic gives NULL (and `wal_recovery_next_hot` then makes a call
/// per event).
impl PanicDefault for *mut super::hot_window::wal_hot_window {
    fn panic_value() -> Self {
        std::ptr::null_mut()
    }
}

/// Functions returning a string promise never to return NULL: a panic gives "".
impl PanicDefault for *const c_char {
    fn panic_value() -> Self {
        c"".as_ptr()
    }
}

/// Runs `f`, turning a panic into [`PanicDefault::panic_value`] and recording its message as
/// the calling thread's last error.
#[inline(always)]
pub(crate) fn catch<T: PanicDefault>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => on_panic(payload),
    }
}

#[cold]
#[inline(never)]
fn on_panic<T: PanicDefault>(payload: Box<dyn Any + Send>) -> T {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic payload");
    fail_with(
        wal_status::WAL_ERR_PANIC,
        format!("internal panic (library bug): {what}"),
    );
    // A payload whose destructor panics would abort here; forgetting it leaks a few bytes once.
    std::mem::forget(payload);
    T::panic_value()
}

/// Wraps an exported function's body: `ffi_panic_boundary!({ body })`, or
/// `ffi_panic_boundary!(handle, { body })` for a `wal_status` function whose pointer argument
/// `handle` (NULL or live) keeps its own last error. `return` inside the body returns from the
/// boundary, which is what the early-return pointer macros rely on.
macro_rules! ffi_panic_boundary {
    ($handle:ident, $body:block) => {{
        let status: $crate::ffi::status::wal_status = $crate::ffi::panic::catch(|| $body);
        if status.is_error() {
            // SAFETY: `$handle` is a pointer argument of the calling function, which is NULL or
            // points to a live handle by that function's contract (checked for NULL inside).
            unsafe { $crate::ffi::status::mirror($handle as *const _, status) }
        } else {
            status
        }
    }};
    ($body:block) => {
        $crate::ffi::panic::catch(|| $body)
    };
}
pub(crate) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::{thread_last_error, wal_status::*};

    #[test]
    fn panics_become_statuses_and_messages() {
        let s: wal_status = ffi_panic_boundary!({
            if thread_last_error().len() < usize::MAX {
                panic!("boom {}", 42);
            }
            WAL_OK
        });
        assert_eq!(s, WAL_ERR_PANIC);
        assert!(
            thread_last_error().contains("boom 42"),
            "{}",
            thread_last_error()
        );
        let n: usize = ffi_panic_boundary!({ std::panic::panic_any(7u8) });
        assert_eq!(n, 0);
        assert!(thread_last_error().contains("unknown panic payload"));
        let ok: wal_status = ffi_panic_boundary!({ WAL_END });
        assert_eq!(ok, WAL_END);
    }
}
