//! Fixed, seedless hashes for what the core and the stores derive or look up by hashing.
//! `std`'s default hasher is seeded at random, which the core may not read (I7), and
//! SipHash costs more than the rest of an id lookup.
//!
//! - [`hash128`] (and [`Fnv64`], for snapshot checksums): FNV-1a, for event ids and the
//!   fingerprints of keyed commands. Its
//!   output is part of the stored data (an event id derived today must be derived the
//!   same way by a retry tomorrow), so it never changes.
//! - [`IdHasher`]: for maps keyed by case and event ids (the repository's cache, the
//!   stores' id indexes). Not stored anywhere, so it may change.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// FNV-1a's 64-bit prime.
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a over 64 bits (snapshot checksums).
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    /// A hasher at FNV-1a's offset basis.
    pub(crate) const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }
}

/// FNV-1a over 64 bits, twice at once from two offsets: `hash128` used to hash its value
/// once per offset; one pass with two states gives the same two results, feeding each
/// byte to both.
struct Fnv64Pair {
    low: u64,
    high: u64,
}

impl Hasher for Fnv64Pair {
    fn finish(&self) -> u64 {
        self.low
    }

    fn write(&mut self, bytes: &[u8]) {
        let (mut low, mut high) = (self.low, self.high);
        for byte in bytes {
            low = (low ^ u64::from(*byte)).wrapping_mul(PRIME);
            high = (high ^ u64::from(*byte)).wrapping_mul(PRIME);
        }
        (self.low, self.high) = (low, high);
    }

    // The fixed-size writes (integers, lengths, enum discriminants) feed the same bytes
    // as `Hasher`'s defaults (`write(&n.to_ne_bytes())`), as arrays of known length, so
    // the loop unrolls.
    fn write_u8(&mut self, n: u8) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_u16(&mut self, n: u16) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_u32(&mut self, n: u32) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_u64(&mut self, n: u64) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_usize(&mut self, n: usize) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_i32(&mut self, n: i32) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_i64(&mut self, n: i64) {
        self.write_array(n.to_ne_bytes());
    }

    fn write_isize(&mut self, n: isize) {
        self.write_array(n.to_ne_bytes());
    }
}

impl Fnv64Pair {
    #[inline(always)]
    fn write_array<const N: usize>(&mut self, bytes: [u8; N]) {
        let (mut low, mut high) = (self.low, self.high);
        for byte in bytes {
            low = (low ^ u64::from(byte)).wrapping_mul(PRIME);
            high = (high ^ u64::from(byte)).wrapping_mul(PRIME);
        }
        (self.low, self.high) = (low, high);
    }
}

/// 128 bits of `value`'s hash: two FNV-1a runs from different offsets (the high 64
/// bits from `0x6c62_272e_07bb_0142`, the low ones from FNV's own offset basis).
pub(crate) fn hash128(value: &impl Hash) -> u128 {
    let mut pair = Fnv64Pair { low: 0xcbf2_9ce4_8422_2325, high: 0x6c62_272e_07bb_0142 };
    value.hash(&mut pair);
    (u128::from(pair.high) << 64) | u128::from(pair.low)
}

/// A hasher for maps keyed by ids (uuids): eight bytes at a time, each word mixed in
/// with a folded 64×64→128-bit multiply, so both the low bits (the bucket) and the high
/// bits (the map's tag) depend on every input bit. About a tenth of SipHash's cost for
/// a 16-byte id.
///
/// Seedless, so not resistant to chosen collisions: fine for the ids these maps hold
/// (the library derives event ids from a hash of the event; v7 case ids carry random
/// bits), and one case's id map holds at most that case's events.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

/// Builds [`IdHasher`]s: `HashMap<K, V, IdHashing>`.
pub(crate) type IdHashing = BuildHasherDefault<IdHasher>;

impl IdHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        #[allow(clippy::cast_possible_truncation)] // Folding the product's halves is the point.
        let folded = (product as u64) ^ ((product >> 64) as u64);
        self.0 = folded;
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut le = [0; 8];
            le.copy_from_slice(word);
            self.mix(u64::from_le_bytes(le));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let word = rest.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            self.mix(word ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference FNV-1a, one run per offset: what `hash128` computed before it
    /// hashed both in one pass. Ids derived before must be derived again.
    fn two_runs(value: &impl Hash) -> u128 {
        struct Fnv64(u64);
        impl Hasher for Fnv64 {
            fn finish(&self) -> u64 {
                self.0
            }
            fn write(&mut self, bytes: &[u8]) {
                for byte in bytes {
                    self.0 ^= u64::from(*byte);
                    self.0 = self.0.wrapping_mul(PRIME);
                }
            }
        }
        let mut low = Fnv64(0xcbf2_9ce4_8422_2325);
        let mut high = Fnv64(0x6c62_272e_07bb_0142);
        value.hash(&mut low);
        value.hash(&mut high);
        (u128::from(high.finish()) << 64) | u128::from(low.finish())
    }

    #[test]
    fn one_pass_gives_the_two_runs_result() {
        assert_eq!(hash128(&("ana", 7u64, "software", [1u8; 16])), two_runs(&("ana", 7u64, "software", [1u8; 16])));
        assert_eq!(hash128(&""), two_runs(&""));
        let numbers = (1u8, 2u16, 3u32, 4u64, 5usize, -6i32, -7i64, -8isize, 9u128, Some(10u8));
        assert_eq!(hash128(&numbers), two_runs(&numbers));
        // FNV-1a's published 64-bit value for "a" (one byte, no length prefix).
        let mut pair = Fnv64Pair { low: 0xcbf2_9ce4_8422_2325, high: 0 };
        pair.write(b"a");
        assert_eq!(pair.low, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn id_hashes_spread_over_low_and_high_bits() {
        let hash = |n: u128| {
            let mut h = IdHasher::default();
            uuid::Uuid::from_u128(n).hash(&mut h);
            h.finish()
        };
        // Ids differing in one bit anywhere differ in the bucket bits and the tag bits.
        let base = hash(0);
        let mut low_bits = std::collections::BTreeSet::new();
        for bit in 0..128 {
            let other = hash(1 << bit);
            assert_ne!(other, base, "bit {bit}");
            low_bits.insert(other & 0xff);
        }
        assert!(low_bits.len() > 64, "{} distinct low bytes of 128", low_bits.len());
    }
}
