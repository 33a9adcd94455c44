//! A fast hasher for the hot maps (process trees, event-type sets): FxHash, as rustc uses it.
//! Not resistant to chosen collisions; the keys come from the data being hunted through, so
//! each map that uses it is bounded in size (a flood of colliding keys only slows it down).

use std::hash::{BuildHasherDefault, Hasher};

/// The rustc hasher: a multiply and rotate per word.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        // A long value (a script block, a command line) in four independent lanes, folded in
        // at the end: one lane is a chain of dependent multiplies, four run side by side.
        if bytes.len() >= 64 {
            let mut lanes = [self.hash, SEED, SEED.rotate_left(17), SEED.rotate_left(41)];
            let mut blocks = bytes.chunks_exact(32);
            for b in &mut blocks {
                for (i, lane) in lanes.iter_mut().enumerate() {
                    let w = u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
                    *lane = (lane.rotate_left(5) ^ w).wrapping_mul(SEED);
                }
            }
            bytes = blocks.remainder();
            self.hash = lanes[0];
            for lane in &lanes[1..] {
                self.add(*lane);
            }
        }
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FastSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_lengths_differ() {
        let mut m: FastMap<String, u32> = FastMap::default();
        m.insert("a".into(), 1);
        m.insert("abcdefghij".into(), 2);
        assert_eq!(m.get("a"), Some(&1));
        assert_eq!(m.get("abcdefghij"), Some(&2));
        let h = |s: &str| {
            let mut x = FxHasher::default();
            x.write(s.as_bytes());
            x.finish()
        };
        assert_ne!(h("ab"), h("ba"));
        // Long values: every lane and the tail count.
        let long = "x".repeat(100);
        for at in [0, 9, 17, 25, 31, 63, 96, 99] {
            let mut other = long.clone().into_bytes();
            other[at] = b'y';
            assert_ne!(h(&long), h(std::str::from_utf8(&other).unwrap()), "byte {at}");
        }
        assert_ne!(h(&"x".repeat(64)), h(&"x".repeat(65)));
    }
}
