//! The fault tests' source of random moments (when to kill, what to kill): seeded, so a
//! failing run is replayed from the seed it printed.

/// xorshift64*, which is plenty for choosing moments and needs no crate.
pub struct Rng(u64);

impl Rng {
    /// The seed in the environment variable `var`, or one from the clock.
    pub fn seed_from_env(var: &str) -> u64 {
        std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| u64::from(d.subsec_nanos()) ^ d.as_secs())
        })
    }

    /// The source for `seed` (made odd: from zero, xorshift would stay at zero).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        // The high bits: the low ones of xorshift* are its weakest (the lowest repeats
        // the state's own).
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) % n
    }
}
