//! C access to FlashStrike `RequestEvent`s: a plain struct and a decode function, so a C or C++
//! engine replaying a FlashStrike log reads typed fields instead of offsets into the 64-byte
//! record `wal_recovery_next` delivers.

use super::panic::ffi_panic_boundary;
use super::ptr::check_nonnull;
use super::status::{fail_with, wal_status};
use crate::flashstrike::event::RequestEvent;
use crate::flashstrike::EVENT_BYTES;

/// A FlashStrike `RequestEvent`, decoded (little-endian, as FlashStrike writes it on x86-64 and
/// ARM64). Fill with `wal_request_event_decode`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct wal_request_event {
    /// Event id (the record's first 8 bytes; equals the `event_id` of its `wal_event`).
    pub event_id: u64,
    /// Engine timestamp, nanoseconds.
    pub timestamp: u64,
    /// Price in scaled ticks.
    pub price: i64,
    /// Quantity in scaled ticks.
    pub quantity: i64,
    /// Submitting user.
    pub user_id: u32,
    /// Order the request refers to.
    pub order_id: u32,
    /// RequestType: 0 new order, 1 modify price, 2 modify quantity, 3 cancel.
    pub request_type: u8,
    /// OrderType: 0 limit, 1 market.
    pub order_type: u8,
    /// Side: 0 bid, 1 ask.
    pub side: u8,
    /// Zero.
    pub reserved: [u8; 5],
}

const _: () = {
    assert!(std::mem::size_of::<wal_request_event>() == 48);
    assert!(std::mem::offset_of!(wal_request_event, user_id) == 32);
    assert!(std::mem::offset_of!(wal_request_event, request_type) == 40);
};

/// Decodes the 64-byte FlashStrike record at `data` (an event's `data`/`len` from a FlashStrike
/// log) into `*out`. Errors: WAL_ERR_NULL_ARGUMENT; WAL_ERR_INVALID_ARGUMENT when `len` is not
/// 64 (not a FlashStrike record). Thread-safe.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn wal_request_event_decode(
    data: *const u8,
    len: usize,
    out: *mut wal_request_event,
) -> wal_status {
    ffi_panic_boundary!({
        check_nonnull!(data);
        check_nonnull!(out);
        if len != EVENT_BYTES {
            return fail_with(
                wal_status::WAL_ERR_INVALID_ARGUMENT,
                format!("invalid argument: a FlashStrike RequestEvent is 64 bytes, got {len}"),
            );
        }
        // SAFETY: `data` is non-NULL and points to `len` == 64 readable bytes (contract).
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        let Some(e) = RequestEvent::decode(bytes) else {
            return fail_with(wal_status::WAL_ERR_INVALID_ARGUMENT, "not a 64-byte record");
        };
        let decoded = wal_request_event {
            event_id: e.event_id,
            timestamp: e.timestamp,
            price: e.price,
            quantity: e.quantity,
            user_id: e.user_id,
            order_id: e.order_id,
            request_type: e.request_type,
            order_type: e.order_type,
            side: e.side,
            reserved: [0; 5],
        };
        // SAFETY: `out` is non-NULL and valid for writes (contract).
        unsafe { out.write(decoded) };
        wal_status::WAL_OK
    })
}
