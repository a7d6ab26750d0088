//! A fixed, seedless hash (FNV-1a), for everything the core derives by hashing: event ids
//! and the fingerprints of keyed commands. `std`'s default hasher is seeded at random,
//! which the core may not read (I7).

use std::hash::{Hash, Hasher};

/// FNV-1a over 64 bits.
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
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// 128 bits of `value`'s hash: two FNV-1a runs from different offsets.
pub(crate) fn hash128(value: &impl Hash) -> u128 {
    let mut low = Fnv64(0xcbf2_9ce4_8422_2325);
    let mut high = Fnv64(0x6c62_272e_07bb_0142);
    value.hash(&mut low);
    value.hash(&mut high);
    (u128::from(high.finish()) << 64) | u128::from(low.finish())
}
