//! The deterministic payloads of `walrec gen`, so anyone can check a generated log.
//!
//! For event id `i` and payload length `len`, byte `k` (0-based) is
//!
//! * byte `k` of `i` as a little-endian `u64` when `k < 8`;
//! * `(i*31 + k*17) mod 251` otherwise.
//!
//! With a fixed size every payload is `len` bytes. With a size range `MIN-MAX`,
//! `len = MIN + (i*2654435761 mod (MAX-MIN+1))`. All arithmetic is exact (no wrapping): it is
//! done in `u128`, or reduced modulo 251 first, which gives the same result.
//!
//! FlashStrike v1 logs have no payload formula of their own: every record is a 64-byte
//! `RequestEvent`. `walrec gen --format flashstrike` writes the events of the real sample logs
//! ([`sample_event`]), so `--check-gen` on a FlashStrike log checks against that formula instead
//! ([`Checker::FlashStrike`]).

use std::fmt;

use wal_recovery::flashstrike::event::sample_event;

/// Payload sizes: fixed, or a range whose length is derived from the event id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeSpec {
    /// Smallest payload length.
    pub min: usize,
    /// Largest payload length (equal to `min` for a fixed size).
    pub max: usize,
}

impl SizeSpec {
    /// Every payload has `len` bytes.
    pub fn fixed(len: usize) -> Self {
        SizeSpec { min: len, max: len }
    }

    /// Parses `B` or `MIN-MAX` (each a plain number of bytes).
    pub fn parse(s: &str) -> Result<Self, String> {
        let num = |t: &str| -> Result<usize, String> {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{t}' is not a number of bytes"))
        };
        let spec = match s.split_once('-') {
            Some((a, b)) => SizeSpec {
                min: num(a)?,
                max: num(b)?,
            },
            None => SizeSpec::fixed(num(s)?),
        };
        if spec.min > spec.max {
            return Err(format!("payload size range {s}: MIN is larger than MAX"));
        }
        Ok(spec)
    }

    /// Whether every payload has the same length.
    pub fn is_fixed(&self) -> bool {
        self.min == self.max
    }

    /// Payload length of event `id`.
    pub fn len_of(&self, id: u64) -> usize {
        if self.is_fixed() {
            return self.min;
        }
        let span = (self.max - self.min) as u128 + 1;
        let off = (u128::from(id) * 2_654_435_761u128) % span;
        // off < span = MAX - MIN + 1, so this fits in usize.
        self.min + off as usize
    }
}

impl fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_fixed() {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// `(i*31 + k*17) mod 251`, exactly, for byte `k` of event `i`.
#[inline]
fn tail_start(id: u64) -> u32 {
    // i*31 mod 251 computed on i mod 251: no overflow, same residue.
    ((id % 251) * 31 % 251) as u32
}

/// Writes the payload of event `id` with length `len` into `out` (cleared first).
pub fn fill(out: &mut Vec<u8>, id: u64, len: usize) {
    out.clear();
    out.reserve(len);
    let le = id.to_le_bytes();
    out.extend_from_slice(&le[..len.min(8)]);
    if len > 8 {
        // value for k = 8, then +17 per byte, mod 251.
        let mut v = (tail_start(id) + 8 * 17) % 251;
        for _ in 8..len {
            out.push(v as u8);
            v += 17;
            if v >= 251 {
                v -= 251;
            }
        }
    }
}

/// The payload of event `id` under `spec`, as a new vector.
pub fn payload(id: u64, spec: SizeSpec) -> Vec<u8> {
    let mut v = Vec::new();
    fill(&mut v, id, spec.len_of(id));
    v
}

/// Inverse of 17 modulo 251 (17 * 192 = 3264 = 13 * 251 + 1).
const INV17: u64 = 192;

/// Fast generator and checker: the bytes from offset 8 on are a window of one precomputed
/// sequence, because `(i*31 + k*17) mod 251 = 17 * (k + i*31*17⁻¹) mod 251`. Filling or checking
/// a payload is then a copy or a comparison of a slice.
#[derive(Clone, Debug)]
pub struct Generator {
    spec: SizeSpec,
    /// `table[j] = (j*17) mod 251` for `j < 251 + spec.max`.
    table: Vec<u8>,
}

impl Generator {
    /// A generator for payloads of `spec`.
    pub fn new(spec: SizeSpec) -> Self {
        let n = 251 + spec.max;
        let table = (0..n)
            .map(|j| ((j as u64 % 251) * 17 % 251) as u8)
            .collect();
        Generator { spec, table }
    }

    /// The expected bytes from offset 8 on of the payload of `id` with length `len`.
    #[inline]
    fn tail(&self, id: u64, len: usize) -> &[u8] {
        if len <= 8 {
            return &[];
        }
        let a = u64::from(tail_start(id));
        let s = ((8 + a * INV17) % 251) as usize;
        &self.table[s..s + (len - 8)]
    }

    /// Writes the payload of event `id` into `out` (cleared first). Same bytes as [`fill`].
    #[inline]
    pub fn fill(&self, out: &mut Vec<u8>, id: u64) {
        let len = self.spec.len_of(id);
        out.clear();
        out.extend_from_slice(&id.to_le_bytes()[..len.min(8)]);
        out.extend_from_slice(self.tail(id, len));
    }

    /// Checks `payload` against the formula for event `id`. Same verdict as [`check`].
    #[inline]
    pub fn check(&self, id: u64, payload: &[u8]) -> Result<(), Mismatch> {
        let len = self.spec.len_of(id);
        if payload.len() == len
            && payload[..len.min(8)] == id.to_le_bytes()[..len.min(8)]
            && payload.get(8..).unwrap_or(&[]) == self.tail(id, len)
        {
            return Ok(());
        }
        check(id, payload, self.spec)
    }
}

/// What `--check-gen` compares each payload with, chosen from the log's format.
#[derive(Clone, Copy, Debug)]
pub enum Checker<'a> {
    /// A native log: the gen formula above.
    Gen(&'a Generator),
    /// A FlashStrike v1 log: the sample logs' `RequestEvent` for the id, byte for byte.
    FlashStrike,
}

impl Checker<'_> {
    /// Checks `payload` against the formula for event `id`.
    #[inline]
    pub fn check(&self, id: u64, payload: &[u8]) -> Result<(), Mismatch> {
        match self {
            Checker::Gen(g) => g.check(id, payload),
            Checker::FlashStrike => check_flashstrike(id, payload),
        }
    }
}

/// Checks that `payload` is the 64-byte record of [`sample_event`]`(id)`.
pub fn check_flashstrike(id: u64, payload: &[u8]) -> Result<(), Mismatch> {
    let want = sample_event(id).encode();
    if payload == want {
        return Ok(());
    }
    if payload.len() != want.len() {
        return Err(Mismatch::Length {
            found: payload.len(),
            expected: want.len(),
        });
    }
    let offset = payload
        .iter()
        .zip(want.iter())
        .position(|(a, b)| a != b)
        .unwrap_or(0);
    Err(Mismatch::Byte {
        offset,
        found: payload[offset],
        expected: want[offset],
    })
}

/// How a payload differs from the formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The length is not the one `spec` gives for this id.
    Length {
        /// Length found.
        found: usize,
        /// Length expected.
        expected: usize,
    },
    /// Byte `offset` differs.
    Byte {
        /// Offset in the payload.
        offset: usize,
        /// Byte found.
        found: u8,
        /// Byte expected.
        expected: u8,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Length { found, expected } => {
                write!(
                    f,
                    "payload length {found}, the gen formula gives {expected}"
                )
            }
            Mismatch::Byte {
                offset,
                found,
                expected,
            } => write!(
                f,
                "payload byte {offset} is {found:#04x}, the gen formula gives {expected:#04x}"
            ),
        }
    }
}

/// Checks that `payload` is exactly what [`fill`] produces for event `id` under `spec`.
/// Allocation-free: the expected bytes are computed on the fly.
pub fn check(id: u64, payload: &[u8], spec: SizeSpec) -> Result<(), Mismatch> {
    let expected_len = spec.len_of(id);
    if payload.len() != expected_len {
        return Err(Mismatch::Length {
            found: payload.len(),
            expected: expected_len,
        });
    }
    let le = id.to_le_bytes();
    let head = payload.len().min(8);
    if payload[..head] != le[..head] {
        let offset = (0..head).find(|&k| payload[k] != le[k]).unwrap_or(0);
        return Err(Mismatch::Byte {
            offset,
            found: payload[offset],
            expected: le[offset],
        });
    }
    let mut v = (tail_start(id) + 8 * 17) % 251;
    for (k, &b) in payload.iter().enumerate().skip(8) {
        if u32::from(b) != v {
            return Err(Mismatch::Byte {
                offset: k,
                found: b,
                expected: v as u8,
            });
        }
        v += 17;
        if v >= 251 {
            v -= 251;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flashstrike_checker() {
        let mut rec = sample_event(42).encode().to_vec();
        assert_eq!(Checker::FlashStrike.check(42, &rec), Ok(()));
        assert_eq!(
            Checker::FlashStrike.check(42, &rec[..63]),
            Err(Mismatch::Length {
                found: 63,
                expected: 64
            })
        );
        rec[16] ^= 1;
        assert!(matches!(
            Checker::FlashStrike.check(42, &rec),
            Err(Mismatch::Byte { offset: 16, .. })
        ));
        let g = Generator::new(SizeSpec::fixed(64));
        assert!(Checker::Gen(&g)
            .check(42, &payload(42, SizeSpec::fixed(64)))
            .is_ok());
    }

    /// The formula written as literally as possible, in u128.
    fn reference(id: u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|k| {
                if k < 8 {
                    id.to_le_bytes()[k]
                } else {
                    ((u128::from(id) * 31 + k as u128 * 17) % 251) as u8
                }
            })
            .collect()
    }

    #[test]
    fn fill_matches_the_literal_formula() {
        let mut buf = Vec::new();
        for id in [
            1u64,
            2,
            7,
            250,
            251,
            252,
            1_000_003,
            u64::MAX / 31,
            u64::MAX - 1,
            u64::MAX,
        ] {
            for len in [0usize, 1, 7, 8, 9, 64, 300, 1000] {
                fill(&mut buf, id, len);
                assert_eq!(buf, reference(id, len), "id {id} len {len}");
                assert_eq!(check(id, &buf, SizeSpec::fixed(len)), Ok(()));
            }
        }
    }

    #[test]
    fn known_bytes() {
        // id 1, 10 bytes: 01 00.. then (31 + 8*17) % 251 = 167, (31 + 9*17) % 251 = 184.
        assert_eq!(
            payload(1, SizeSpec::fixed(10)),
            vec![1, 0, 0, 0, 0, 0, 0, 0, 167, 184]
        );
        let p = payload(0x0102_0304_0506_0708, SizeSpec::fixed(8));
        assert_eq!(p, vec![8, 7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn range_lengths() {
        let spec = SizeSpec { min: 10, max: 20 };
        for id in 0..1000u64 {
            let len = spec.len_of(id);
            assert!((10..=20).contains(&len));
            assert_eq!(len as u128, 10 + (u128::from(id) * 2_654_435_761) % 11);
        }
        // No overflow for huge ids or a full-width span.
        let wide = SizeSpec {
            min: 0,
            max: usize::MAX - 1,
        };
        let _ = wide.len_of(u64::MAX);
        let full = SizeSpec {
            min: 0,
            max: usize::MAX,
        };
        assert_eq!(
            full.len_of(u64::MAX) as u128,
            (u128::from(u64::MAX) * 2_654_435_761) % (1u128 << 64)
        );
        assert_eq!(SizeSpec { min: 5, max: 5 }.len_of(u64::MAX), 5);
    }

    #[test]
    fn parse_specs() {
        assert_eq!(SizeSpec::parse("64"), Ok(SizeSpec::fixed(64)));
        assert_eq!(SizeSpec::parse("8-128"), Ok(SizeSpec { min: 8, max: 128 }));
        assert!(SizeSpec::parse("128-8").is_err());
        assert!(SizeSpec::parse("x").is_err());
        assert!(SizeSpec::parse("1-").is_err());
        assert_eq!(SizeSpec { min: 8, max: 128 }.to_string(), "8-128");
    }

    #[test]
    fn check_reports_the_first_difference() {
        let spec = SizeSpec::fixed(32);
        let mut p = payload(42, spec);
        p[20] ^= 0xff;
        match check(42, &p, spec) {
            Err(Mismatch::Byte { offset: 20, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        p[3] ^= 1;
        assert!(matches!(
            check(42, &p, spec),
            Err(Mismatch::Byte { offset: 3, .. })
        ));
        assert_eq!(
            check(42, &payload(42, spec), SizeSpec::fixed(31)),
            Err(Mismatch::Length {
                found: 32,
                expected: 31
            })
        );
        // A payload of another id does not pass.
        assert!(check(43, &payload(42, spec), spec).is_err());
    }

    #[test]
    fn generator_matches_the_formula() {
        for spec in [
            SizeSpec::fixed(0),
            SizeSpec::fixed(5),
            SizeSpec::fixed(64),
            SizeSpec { min: 1, max: 700 },
        ] {
            let g = Generator::new(spec);
            let mut buf = Vec::new();
            for id in (1u64..600).chain([u64::MAX - 1, u64::MAX, 1 << 40]) {
                g.fill(&mut buf, id);
                assert_eq!(buf, reference(id, spec.len_of(id)), "id {id} spec {spec}");
                assert_eq!(g.check(id, &buf), Ok(()));
                if !buf.is_empty() {
                    let k = buf.len() - 1;
                    buf[k] ^= 0x55;
                    assert!(
                        matches!(g.check(id, &buf), Err(Mismatch::Byte { offset, .. }) if offset == k)
                    );
                }
            }
        }
    }
}
