//! A small deterministic PRNG (xoshiro256**, seeded through splitmix64): no dependency, same
//! sequence on every platform, so the same options give the same bytes.

/// One splitmix64 step: advances `state` and returns a well-mixed value.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix(*state)
}

/// Stateless 64-bit mixer (splitmix64's finaliser): a hash of `x`.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a of a string, for values that must be stable per name (hashes of a binary).
pub(crate) fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// xoshiro256** generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for `seed` and a stream number (independent sequences from one seed).
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ mix(stream.wrapping_add(0x5151_5151));
        let mut s = [0u64; 4];
        for x in &mut s {
            *x = splitmix(&mut sm);
        }
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n` > 0; 0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `0..n` for 64-bit bounds.
    pub(crate) fn below64(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi` (`hi` > `lo`).
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below64(hi - lo)
    }

    /// True with probability `num / den`.
    pub(crate) fn chance(&mut self, num: u32, den: u32) -> bool {
        self.below(den) < num
    }

    /// A uniformly chosen element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }
}

/// Index into a cumulative weight table (`cum` strictly increasing, last = total).
pub(crate) fn pick_cum(rng: &mut Rng, cum: &[u32]) -> usize {
    let total = *cum.last().unwrap_or(&0);
    if total == 0 {
        return 0;
    }
    let r = rng.below(total);
    cum.partition_point(|&c| c <= r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7, 1);
        let mut b = Rng::new(7, 1);
        let mut c = Rng::new(7, 2);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        for _ in 0..10_000 {
            assert!(a.below(13) < 13);
            let r = a.range(5, 9);
            assert!((5..9).contains(&r));
        }
        let cum = [3, 3, 10];
        let mut seen = [0u32; 3];
        for _ in 0..10_000 {
            seen[pick_cum(&mut a, &cum)] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 2000 && seen[2] > 6000);
    }
}
