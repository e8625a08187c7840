//! Deterministic benchmark events, generated once in memory before any system writes.
//!
//! Event ids are 1-based. For event `i` with payload length `len`, payload byte `k` is
//! byte `k` of `i` as a little-endian u64 when `k < 8`, and `(i * 31 + k * 17) mod 251`
//! otherwise. So the first 8 bytes of each payload, read as a u64 LE, give back the id,
//! and the sum of those values over all payloads is `1 + 2 + … + n`.
//!
//! Unlike the random bytes of the peer-measurements note, these payloads are very
//! compressible (a period-251 pattern), so raft-engine's default LZ4 shrinks its log about
//! 4x; the "compression off" row is the like-for-like one.

/// All payloads of one benchmark run, stored back to back in one buffer.
pub struct Events {
    count: u64,
    payload_size: usize,
    data: Vec<u8>,
}

impl Events {
    /// Generates `count` payloads of `payload_size` bytes each (`payload_size >= 8`).
    pub fn generate(count: u64, payload_size: usize) -> anyhow::Result<Events> {
        anyhow::ensure!(
            payload_size >= 8,
            "payload size must be at least 8 bytes (it carries the event id)"
        );
        let total = usize::try_from(count)?
            .checked_mul(payload_size)
            .ok_or_else(|| anyhow::anyhow!("{count} x {payload_size} bytes overflows"))?;
        let mut data = vec![0u8; total];
        for (idx, chunk) in data.chunks_exact_mut(payload_size).enumerate() {
            fill_payload(idx as u64 + 1, chunk);
        }
        Ok(Events {
            count,
            payload_size,
            data,
        })
    }

    /// Number of events.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Length of every payload in bytes.
    pub fn payload_size(&self) -> usize {
        self.payload_size
    }

    /// Total payload bytes (`count * payload_size`).
    pub fn payload_bytes(&self) -> u64 {
        self.data.len() as u64
    }

    /// The payload of event `id` (1-based).
    pub fn payload(&self, id: u64) -> &[u8] {
        let start = (id - 1) as usize * self.payload_size;
        &self.data[start..start + self.payload_size]
    }

    /// All payloads in id order.
    pub fn iter(&self) -> std::slice::ChunksExact<'_, u8> {
        self.data.chunks_exact(self.payload_size)
    }

    /// The sum every replay must report: sum of ids 1..=count.
    pub fn expected_sum(&self) -> u64 {
        expected_sum(self.count)
    }
}

/// Sum of ids `1..=count` (wrapping, like the replay sums).
pub fn expected_sum(count: u64) -> u64 {
    let n = u128::from(count);
    (n * (n + 1) / 2) as u64 // truncation = wrapping mod 2^64
}

/// Writes the payload of event `id` into `out` (whose length is the payload length).
pub fn fill_payload(id: u64, out: &mut [u8]) {
    let id_bytes = id.to_le_bytes();
    for (k, b) in out.iter_mut().enumerate() {
        *b = if k < 8 {
            id_bytes[k]
        } else {
            (id.wrapping_mul(31).wrapping_add(k as u64 * 17) % 251) as u8
        };
    }
}

/// The first 8 bytes of a payload as u64 LE: the value every replay sums.
#[inline]
pub fn first8(payload: &[u8]) -> u64 {
    u64::from_le_bytes(
        payload[..8]
            .try_into()
            .expect("payload shorter than 8 bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_layout_and_sum() {
        let ev = Events::generate(1000, 20).unwrap();
        assert_eq!(ev.iter().count(), 1000);
        let p = ev.payload(7);
        assert_eq!(first8(p), 7);
        assert_eq!(p[8], ((7 * 31 + 8 * 17) % 251) as u8);
        assert_eq!(p[19], ((7 * 31 + 19 * 17) % 251) as u8);
        let sum: u64 = ev.iter().map(first8).sum();
        assert_eq!(sum, ev.expected_sum());
        assert_eq!(expected_sum(5_000_000), 5_000_000 * 5_000_001 / 2);
        assert_eq!(expected_sum(7), 28);
    }

    #[test]
    fn rejects_short_payloads() {
        assert!(Events::generate(10, 7).is_err());
    }
}
