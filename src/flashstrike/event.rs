//! FlashStrike's 64-byte `RequestEvent` (`event::Request`), the record every block slot holds.
//!
//! The recorder `memcpy`s the in-memory struct, so its fields are in *host* byte order; every
//! platform FlashStrike targets (x86-64, ARM64) is little-endian, so this module reads and writes
//! them little-endian. The 21 pad bytes at 43..64 are zero when written and covered by the block
//! checksums like everything else, but carry no meaning.
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! | 0 | 8 | event id (u64; 0 is invalid) |
//! | 8 | 8 | timestamp, ns |
//! | 16 | 8 | price (i64, scaled ticks) |
//! | 24 | 8 | quantity (i64, scaled ticks) |
//! | 32 | 4 | user id |
//! | 36 | 4 | order id |
//! | 40 | 1 | request type: new 0, modify price 1, modify quantity 2, cancel 3 |
//! | 41 | 1 | order type: limit 0, market 1 |
//! | 42 | 1 | side: bid 0, ask 1 |
//! | 43 | 21 | pad |
//!
//! [`sample_event`] is the formula the real sample logs were recorded with, so generated logs can
//! match them byte for byte.

use super::EVENT_BYTES;
use crate::segment::bytes::{put, u32_at, u64_at};

/// FlashStrike's 64-byte `RequestEvent`, decoded little-endian (as written on x86-64 and ARM64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RequestEvent {
    /// Strictly increasing id; 0 is reserved as invalid.
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
    /// `RequestType` (see [`RequestEvent::request_type_name`]).
    pub request_type: u8,
    /// `OrderType` (see [`RequestEvent::order_type_name`]).
    pub order_type: u8,
    /// `Side` (see [`RequestEvent::side_name`]).
    pub side: u8,
}

impl RequestEvent {
    /// Decodes one 64-byte record; `None` unless `record.len() == 64`. Pad bytes are ignored.
    pub fn decode(record: &[u8]) -> Option<RequestEvent> {
        let raw: &[u8; EVENT_BYTES] = record.try_into().ok()?;
        Some(RequestEvent {
            event_id: u64_at(raw, 0),
            timestamp: u64_at(raw, 8),
            price: u64_at(raw, 16) as i64,
            quantity: u64_at(raw, 24) as i64,
            user_id: u32_at(raw, 32),
            order_id: u32_at(raw, 36),
            request_type: raw[40],
            order_type: raw[41],
            side: raw[42],
        })
    }

    /// The 64-byte record as the recorder writes it; pad bytes 43..64 are zero.
    pub fn encode(&self) -> [u8; 64] {
        let mut raw = [0u8; EVENT_BYTES];
        put(&mut raw, 0, &self.event_id.to_le_bytes());
        put(&mut raw, 8, &self.timestamp.to_le_bytes());
        put(&mut raw, 16, &self.price.to_le_bytes());
        put(&mut raw, 24, &self.quantity.to_le_bytes());
        put(&mut raw, 32, &self.user_id.to_le_bytes());
        put(&mut raw, 36, &self.order_id.to_le_bytes());
        raw[40] = self.request_type;
        raw[41] = self.order_type;
        raw[42] = self.side;
        raw
    }

    /// `"new_order"`, `"modify_order_price"`, `"modify_order_quantity"`, `"cancel_order"`, or
    /// `"unknown"` for any other value.
    pub fn request_type_name(&self) -> &'static str {
        match self.request_type {
            0 => "new_order",
            1 => "modify_order_price",
            2 => "modify_order_quantity",
            3 => "cancel_order",
            _ => "unknown",
        }
    }

    /// `"limit"`, `"market"`, or `"unknown"`.
    pub fn order_type_name(&self) -> &'static str {
        match self.order_type {
            0 => "limit",
            1 => "market",
            _ => "unknown",
        }
    }

    /// `"bid"`, `"ask"`, or `"unknown"`.
    pub fn side_name(&self) -> &'static str {
        match self.side {
            0 => "bid",
            1 => "ask",
            _ => "unknown",
        }
    }
}

/// The samples' event for id `i`: timestamp `i*1000`, price `i*7`, quantity `i%100 + 1`,
/// user id `i%997`, order id `i as u32`, request type `i%4`, order type `i%2`, side `i%2`
/// (arithmetic wraps, as the C++ `uint64_t` formula does, so any id is accepted).
pub fn sample_event(id: u64) -> RequestEvent {
    RequestEvent {
        event_id: id,
        timestamp: id.wrapping_mul(1000),
        price: id.wrapping_mul(7) as i64,
        quantity: (id % 100 + 1) as i64,
        user_id: (id % 997) as u32,
        order_id: id as u32,
        request_type: (id % 4) as u8,
        order_type: (id % 2) as u8,
        side: (id % 2) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_event_matches_the_recorded_bytes() {
        // The first record of clean/FS.00000000.wal (offset 128), and the one of id 16385.
        let mut want = [0u8; 64];
        want[0] = 1;
        want[8..10].copy_from_slice(&1000u16.to_le_bytes());
        want[16] = 7;
        want[24] = 2;
        want[32] = 1;
        want[36] = 1;
        want[40] = 1;
        want[41] = 1;
        want[42] = 1;
        assert_eq!(sample_event(1).encode(), want);

        let e = sample_event(16_385);
        assert_eq!(
            e,
            RequestEvent {
                event_id: 16_385,
                timestamp: 16_385_000,
                price: 114_695,
                quantity: 86,
                user_id: 433,
                order_id: 16_385,
                request_type: 1,
                order_type: 1,
                side: 1,
            }
        );
    }

    #[test]
    fn round_trips_and_ignores_pad() {
        let e = RequestEvent {
            event_id: u64::MAX,
            timestamp: 42,
            price: -5,
            quantity: i64::MIN,
            user_id: 7,
            order_id: u32::MAX,
            request_type: 3,
            order_type: 0,
            side: 9,
        };
        let mut raw = e.encode();
        assert!(raw[43..].iter().all(|&b| b == 0));
        assert_eq!(RequestEvent::decode(&raw), Some(e));
        raw[63] = 0xFF;
        assert_eq!(RequestEvent::decode(&raw), Some(e));
    }

    #[test]
    fn decode_needs_exactly_64_bytes() {
        assert_eq!(RequestEvent::decode(&[]), None);
        assert_eq!(RequestEvent::decode(&[0u8; 63]), None);
        assert_eq!(RequestEvent::decode(&[0u8; 65]), None);
        assert_eq!(
            RequestEvent::decode(&[0u8; 64]),
            Some(RequestEvent::default())
        );
    }

    #[test]
    fn names() {
        let names = |t, o, s| {
            let e = RequestEvent {
                request_type: t,
                order_type: o,
                side: s,
                ..RequestEvent::default()
            };
            (e.request_type_name(), e.order_type_name(), e.side_name())
        };
        assert_eq!(names(0, 0, 0), ("new_order", "limit", "bid"));
        assert_eq!(names(1, 1, 1), ("modify_order_price", "market", "ask"));
        assert_eq!(
            names(2, 2, 2),
            ("modify_order_quantity", "unknown", "unknown")
        );
        assert_eq!(names(3, 0, 0).0, "cancel_order");
        assert_eq!(names(4, 0, 0).0, "unknown");
        assert_eq!(names(255, 255, 255), ("unknown", "unknown", "unknown"));
    }
}
