//! How a suite's replay reads its events: one `next()` at a time, or in batches through
//! `next_batch_with`, whose reader loop is separate code (records framed as predicted are taken
//! in a stretch). The damage suites alternate the two so that every class of damage meets both.
//! Included by path like `files.rs` (`#[path = "../common/reading.rs"] mod reading;`).

use wal_recovery::{Error, Manager};

/// How a replay reads its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// `Manager::next`, one event per call.
    Next,
    /// `Manager::next_batch_with`, at most this many events per call.
    Batches(usize),
}

impl Reading {
    /// The reading of a suite's `k`-th replay: half of them by `next()`, the others in batches
    /// of 5 or of 64 events.
    #[allow(dead_code)] // not every suite that includes this module alternates
    pub fn alternating(k: u64) -> Reading {
        match k % 4 {
            1 => Reading::Batches(5),
            3 => Reading::Batches(64),
            _ => Reading::Next,
        }
    }
}

/// Calls `each(id, payload)` for the events `m` delivers, in order, until the replay ends,
/// fails (the error is returned) or `each` returns false.
pub fn drain(
    m: &mut Manager,
    reading: Reading,
    mut each: impl FnMut(u64, &[u8]) -> bool,
) -> Result<(), Error> {
    match reading {
        Reading::Next => {
            while let Some(ev) = m.next()? {
                if !each(ev.id, ev.payload) {
                    break;
                }
            }
        }
        Reading::Batches(max) => loop {
            let mut more = true;
            let k = m.next_batch_with(max, |ev| {
                if more {
                    more = each(ev.id, ev.payload);
                }
            })?;
            assert!(k <= max, "{k} events in a batch of at most {max}");
            if k == 0 || !more {
                break;
            }
        },
    }
    Ok(())
}
