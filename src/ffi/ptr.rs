//! Checked access to pointer arguments, versioned option structs and caller buffers.
//!
//! Every pointer argument goes through one of the macros here before it is used: a NULL
//! argument makes the function return early with [`NullDefault::null_value`]
//! (`WAL_ERR_NULL_ARGUMENT`, 0 or nothing) after recording which argument was NULL. No slice or
//! reference is ever built from a pointer before it has been checked.

use std::ffi::{c_char, CStr, OsStr};
use std::mem::size_of;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::status::{fail_with, wal_status};

/// What a function returns when a required pointer argument is NULL.
pub(crate) trait NullDefault {
    /// The value returned.
    fn null_value() -> Self;
}

impl NullDefault for wal_status {
    fn null_value() -> Self {
        wal_status::WAL_ERR_NULL_ARGUMENT
    }
}

impl NullDefault for () {
    fn null_value() -> Self {}
}

impl NullDefault for usize {
    fn null_value() -> Self {
        0
    }
}

/// Records that argument `name` was NULL and returns the function's NULL value.
#[cold]
#[inline(never)]
pub(crate) fn null_argument<T: NullDefault>(name: &str) -> T {
    fail_with(
        wal_status::WAL_ERR_NULL_ARGUMENT,
        format!("argument `{name}` is NULL"),
    );
    T::null_value()
}

/// `try_ref!(p)`: `&T` from a `*const T`/`*mut T` argument, or an early return when it is NULL.
macro_rules! try_ref {
    ($ptr:ident) => {
        // SAFETY: by the calling function's contract a non-NULL pointer argument points to a
        // live, properly aligned object of its type, not mutated elsewhere during the call.
        match unsafe { $ptr.as_ref() } {
            Some(r) => r,
            None => return $crate::ffi::ptr::null_argument(stringify!($ptr)),
        }
    };
}
pub(crate) use try_ref;

/// `try_mut!(p)`: `&mut T` from a `*mut T` argument, or an early return when it is NULL.
macro_rules! try_mut {
    ($ptr:ident) => {
        // SAFETY: by the calling function's contract a non-NULL pointer argument points to a
        // live, properly aligned object of its type that nothing else accesses during the call.
        match unsafe { $ptr.as_mut() } {
            Some(r) => r,
            None => return $crate::ffi::ptr::null_argument(stringify!($ptr)),
        }
    };
}
pub(crate) use try_mut;

/// `check_nonnull!(p)`: an early return when the pointer `p` is NULL. Used for outputs, which
/// are then only written with `p.write(..)`, never read (so they may point to uninitialised
/// memory), and for inputs that are read through a dedicated helper (C strings).
macro_rules! check_nonnull {
    ($ptr:ident) => {
        if $ptr.is_null() {
            return $crate::ffi::ptr::null_argument(stringify!($ptr));
        }
    };
}
pub(crate) use check_nonnull;

/// `try_path!(p)`: the `&Path` a NUL-terminated C string names, or an early return when it is
/// NULL or empty.
macro_rules! try_path {
    ($ptr:ident) => {{
        if $ptr.is_null() {
            return $crate::ffi::ptr::null_argument(stringify!($ptr));
        }
        // SAFETY: non-NULL, and by the calling function's contract a NUL-terminated string
        // that stays unchanged during the call.
        match unsafe { $crate::ffi::ptr::path_from_c($ptr) } {
            Some(p) => p,
            None => {
                return $crate::ffi::status::fail_with(
                    $crate::ffi::status::wal_status::WAL_ERR_INVALID_ARGUMENT,
                    concat!(
                        "invalid argument: `",
                        stringify!($ptr),
                        "` is an empty path"
                    ),
                )
            }
        }
    }};
}
pub(crate) use try_path;

/// The path a C string names (bytes as-is: Unix paths need not be UTF-8); `None` if empty.
///
/// # Safety
/// `s` is non-NULL and points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn path_from_c<'a>(s: *const c_char) -> Option<&'a Path> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { CStr::from_ptr(s) }.to_bytes();
    (!bytes.is_empty()).then(|| Path::new(OsStr::from_bytes(bytes)))
}

/// Option structs that begin with a `uint32_t struct_size` and may grow by appending fields.
///
/// # Safety
/// Implementors are `#[repr(C)]`, have no padding, begin with `struct_size: u32`, and every bit
/// pattern is a valid value of every field (integers only).
pub(crate) unsafe trait Versioned: Copy {
    /// Size of the first published version: the smallest `struct_size` accepted.
    const V1_SIZE: usize;
}

/// Largest `struct_size` accepted: protects against an uninitialised size.
const MAX_STRUCT_SIZE: usize = 4096;

/// Reads a caller's option struct of `struct_size` bytes over `defaults`:
/// * `struct_size` below the v1 size, or above 4096: invalid argument;
/// * smaller than this library's struct (an older caller): only the fields it has are read, the
///   rest keep `defaults`;
/// * larger (a newer caller): the bytes this library does not know must be zero, so that an
///   option the library cannot honour is never silently ignored.
///
/// # Safety
/// `p` is non-NULL and points to at least `struct_size` readable bytes (its first 4 bytes are
/// `struct_size`).
pub(crate) unsafe fn read_versioned<T: Versioned>(
    p: *const T,
    defaults: T,
) -> Result<T, wal_status> {
    // SAFETY: `p` points to a struct that begins with a `u32` (contract).
    let size = unsafe { p.cast::<u32>().read_unaligned() } as usize;
    let name = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("options");
    if !(T::V1_SIZE..=MAX_STRUCT_SIZE).contains(&size) {
        return Err(fail_with(
            wal_status::WAL_ERR_INVALID_ARGUMENT,
            format!(
                "invalid argument: {name}.struct_size is {size}; expected sizeof({name}) = {} \
                 (call {name}_init first)",
                size_of::<T>()
            ),
        ));
    }
    let ours = size_of::<T>();
    let bytes = p.cast::<u8>();
    if size > ours {
        // SAFETY: the caller's struct has `size` readable bytes (contract), so bytes
        // `ours..size` are readable.
        let extra = unsafe { std::slice::from_raw_parts(bytes.add(ours), size - ours) };
        if let Some(i) = extra.iter().position(|&b| b != 0) {
            return Err(fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                format!(
                    "invalid argument: {name} sets byte {} beyond the {ours} bytes this library \
                     version knows (an option it cannot honour)",
                    ours + i
                ),
            ));
        }
    }
    let mut value = defaults;
    // SAFETY: `min(size, ours)` bytes are readable at `p` (contract) and writable in `value`;
    // `T` has no padding and accepts every bit pattern (`Versioned` contract), and the regions
    // do not overlap (`value` is a local).
    unsafe {
        std::ptr::copy_nonoverlapping(bytes, (&mut value as *mut T).cast::<u8>(), size.min(ours));
    }
    Ok(value)
}

/// Copies `s` and a NUL into `buf` when it fits: `*needed` is always set to `s.len() + 1`;
/// when `cap` is smaller, nothing is copied (an empty string is written if `cap > 0`) and
/// `WAL_ERR_BUFFER_TOO_SMALL` is returned.
///
/// # Safety
/// `needed` is valid for a write; `buf` is NULL only when `cap` is 0, and otherwise valid for
/// writes of `cap` bytes.
pub(crate) unsafe fn write_string(
    s: &str,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> wal_status {
    let need = s.len() + 1;
    // SAFETY: `needed` is valid for a write (contract).
    unsafe { needed.write(need) };
    if cap < need {
        if cap > 0 {
            // SAFETY: `cap > 0` so `buf` is valid for at least one byte (contract).
            unsafe { buf.write(0) };
        }
        return fail_with(
            wal_status::WAL_ERR_BUFFER_TOO_SMALL,
            format!("buffer too small: {need} bytes needed, {cap} given"),
        );
    }
    // SAFETY: `buf` is valid for `cap >= need` bytes (contract) and does not overlap `s`.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        buf.add(s.len()).write(0);
    }
    wal_status::WAL_OK
}

/// `check_buf!(buf, cap)`: an early return when `buf` is NULL but `cap` is not 0.
macro_rules! check_buf {
    ($buf:ident, $cap:ident) => {
        if $buf.is_null() && $cap != 0 {
            return $crate::ffi::ptr::null_argument(stringify!($buf));
        }
    };
}
pub(crate) use check_buf;

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct V2 {
        struct_size: u32,
        a: u32,
        b: u64,
    }

    // SAFETY: repr(C), integers only, no padding, starts with `struct_size: u32`.
    unsafe impl Versioned for V2 {
        const V1_SIZE: usize = 8;
    }

    const DEFAULTS: V2 = V2 {
        struct_size: 16,
        a: 7,
        b: 9,
    };

    #[test]
    fn struct_size_rules() {
        // An older caller (v1: struct_size and `a` only): `b` keeps its default.
        let old = V2 {
            struct_size: 8,
            a: 1,
            b: 0xdead,
        };
        // SAFETY: `old` is readable for its 16 bytes >= struct_size.
        let got = unsafe { read_versioned(&old, DEFAULTS) };
        assert_eq!(
            got,
            Ok(V2 {
                struct_size: 8,
                a: 1,
                b: 9
            })
        );
        // The current size: every field is read.
        let cur = V2 {
            struct_size: 16,
            a: 2,
            b: 3,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { read_versioned(&cur, DEFAULTS) }, Ok(cur));
        // Too small, or absurdly large.
        for size in [0, 4, 7, 4097] {
            let bad = V2 {
                struct_size: size,
                a: 2,
                b: 3,
            };
            // SAFETY: rejected before anything past the size field is read.
            let got = unsafe { read_versioned(&bad, DEFAULTS) };
            assert_eq!(got, Err(wal_status::WAL_ERR_INVALID_ARGUMENT));
        }
        // A newer caller: zero extra bytes are accepted, non-zero ones refused.
        #[repr(C)]
        struct Newer {
            v: V2,
            extra: [u8; 8],
        }
        let mut newer = Newer {
            v: V2 {
                struct_size: 24,
                a: 4,
                b: 5,
            },
            extra: [0; 8],
        };
        // A pointer to the whole struct (not to its `v` field, whose provenance ends after 16
        // bytes): the library reads all `struct_size` = 24 bytes through it.
        let whole = (&raw const newer).cast::<V2>();
        // SAFETY: `whole` points to `newer`, readable for its 24 bytes.
        let got = unsafe { read_versioned(whole, DEFAULTS) };
        assert_eq!(
            got,
            Ok(V2 {
                struct_size: 24,
                a: 4,
                b: 5
            })
        );
        newer.extra[3] = 1;
        let whole = (&raw const newer).cast::<V2>();
        // SAFETY: as above.
        let got = unsafe { read_versioned(whole, DEFAULTS) };
        assert_eq!(got, Err(wal_status::WAL_ERR_INVALID_ARGUMENT));
        assert!(super::super::status::thread_last_error().contains("byte 19"));
    }

    #[test]
    fn strings_need_room_for_the_nul() {
        let mut buf = [1 as c_char; 4];
        let mut needed = 0usize;
        // SAFETY: buf valid for 4 bytes, needed for a write.
        let got = unsafe { write_string("abcd", buf.as_mut_ptr(), 4, &mut needed) };
        assert_eq!(got, wal_status::WAL_ERR_BUFFER_TOO_SMALL);
        assert_eq!((needed, buf[0]), (5, 0));
        // SAFETY: as above.
        let got = unsafe { write_string("abc", buf.as_mut_ptr(), 4, &mut needed) };
        assert_eq!(got, wal_status::WAL_OK);
        assert_eq!(needed, 4);
        // SAFETY: NUL-terminated by write_string.
        assert_eq!(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes(), b"abc");
    }
}
