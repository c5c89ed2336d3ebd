//! A cheap test run before an exact-match table's hash lookup: most values (header
//! names, methods, paths) have a length, first byte or last byte that no key has.

/// What every key of an exact-match table looks like: its length (bit per length
/// under 64; longer keys set the top bit), first byte and last byte. A value whose
/// length, first or last byte no key has is in no table. (Paths share their first
/// byte and often a key's length: `/search` and `/signin`; the last byte tells them
/// apart without a hash.)
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ExactShape {
    lens: u64,
    firsts: [u64; 4],
    lasts: [u64; 4],
}

impl ExactShape {
    /// Lengths from this one on share the top bit.
    const LONG: usize = 63;

    pub(super) fn of<'k>(keys: impl Iterator<Item = &'k Vec<u8>>) -> ExactShape {
        let mut shape = ExactShape::default();
        for k in keys {
            shape.lens |= 1 << k.len().min(Self::LONG);
            // The empty key has no first byte: every first byte may match it, and
            // its length bit alone decides.
            match (k.first(), k.last()) {
                (Some(&b), Some(&z)) => {
                    shape.firsts[usize::from(b / 64)] |= 1 << (b % 64);
                    shape.lasts[usize::from(z / 64)] |= 1 << (z % 64);
                }
                _ => {
                    shape.firsts = [u64::MAX; 4];
                    shape.lasts = [u64::MAX; 4];
                }
            }
        }
        shape
    }

    /// Whether some key may equal `v` (false: none does).
    pub(super) fn may_hold(&self, v: &[u8]) -> bool {
        self.may_hold_ends(v.len(), v.first().copied(), v.last().copied())
    }

    /// [`ExactShape::may_hold`] of `v` lowercased, asked of `v` as it is (lowercasing
    /// keeps the length and changes only the bytes' case).
    pub(super) fn may_hold_lowercased(&self, v: &[u8]) -> bool {
        let lower = |b: &u8| b.to_ascii_lowercase();
        self.may_hold_ends(v.len(), v.first().map(lower), v.last().map(lower))
    }

    fn may_hold_ends(&self, len: usize, first: Option<u8>, last: Option<u8>) -> bool {
        if self.lens & (1 << len.min(Self::LONG)) == 0 {
            return false;
        }
        let has = |set: &[u64; 4], b: u8| set[usize::from(b / 64)] & (1 << (b % 64)) != 0;
        match (first, last) {
            (Some(a), Some(z)) => has(&self.firsts, a) && has(&self.lasts, z),
            _ => true,
        }
    }
}
