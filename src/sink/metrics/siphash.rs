//! SipHash-2-4, a keyed pseudo-random function (Aumasson and Bernstein, 2012).
//!
//! Used to hash client addresses for the visitor sketch: without the 128-bit key the
//! hashes cannot be recomputed from a guessed address, so the sketch's registers say
//! nothing about who visited. Written out here (40 lines) rather than using std's
//! deprecated `SipHasher`; the tests check it against that and the paper's vector.

/// A 128-bit SipHash key. Not `Debug`, not `Clone`: it stays where it was made.
pub struct SipKey {
    k0: u64,
    k1: u64,
}

impl SipKey {
    /// A key from 16 bytes (little-endian halves, as in the reference code).
    pub fn from_bytes(bytes: [u8; 16]) -> SipKey {
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&bytes[..8]);
        k1.copy_from_slice(&bytes[8..]);
        SipKey {
            k0: u64::from_le_bytes(k0),
            k1: u64::from_le_bytes(k1),
        }
    }

    /// SipHash-2-4 of `message` under this key.
    pub fn hash(&self, message: &[u8]) -> u64 {
        let mut v = [
            self.k0 ^ 0x736f_6d65_7073_6575,
            self.k1 ^ 0x646f_7261_6e64_6f6d,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ];
        let mut blocks = message.chunks_exact(8);
        for block in &mut blocks {
            let mut word = [0u8; 8];
            word.copy_from_slice(block);
            compress(&mut v, u64::from_le_bytes(word));
        }
        let rest = blocks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        // The final block carries the message length mod 256 in its top byte.
        last[7] = message.len() as u8;
        compress(&mut v, u64::from_le_bytes(last));
        v[2] ^= 0xff;
        for _ in 0..4 {
            round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    round(v);
    round(v);
    v[0] ^= m;
}

fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_key() -> SipKey {
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        SipKey::from_bytes(bytes)
    }

    #[test]
    fn matches_the_papers_test_vector() {
        // Appendix A of the SipHash paper: key 00..0f, message 00..0e.
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(reference_key().hash(&message), 0xa129_ca61_49be_45e5);
        assert_eq!(reference_key().hash(&[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    // std's SipHasher is deprecated but is SipHash-2-4: the reference here.
    #[allow(deprecated)]
    fn matches_std_siphash_for_every_length() {
        use std::hash::Hasher;
        let key = [7u8, 1, 200, 3, 4, 5, 6, 99, 8, 9, 10, 11, 12, 13, 14, 255];
        let ours = SipKey::from_bytes(key);
        let message: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(31)).collect();
        let k0 = u64::from_le_bytes([7, 1, 200, 3, 4, 5, 6, 99]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 255]);
        for len in 0..message.len() {
            let mut std = std::hash::SipHasher::new_with_keys(k0, k1);
            std.write(&message[..len]);
            assert_eq!(ours.hash(&message[..len]), std.finish(), "length {len}");
        }
    }
}
