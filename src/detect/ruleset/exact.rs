//! A cheap test run before an exact-match table's hash lookup: most values (header
//! names, methods) have a length or first byte that no key has.

/// What every key of an exact-match table looks like: its length (bit per length
/// under 64; longer keys set the top bit) and first byte. A value whose length or
/// first byte no key has is in no table.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ExactShape {
    lens: u64,
    firsts: [u64; 4],
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
            match k.first() {
                Some(&b) => shape.firsts[usize::from(b / 64)] |= 1 << (b % 64),
                None => shape.firsts = [u64::MAX; 4],
            }
        }
        shape
    }

    /// Whether some key may equal `v` (false: none does).
    pub(super) fn may_hold(&self, v: &[u8]) -> bool {
        self.may_hold_first(v.len(), v.first().copied())
    }

    /// [`ExactShape::may_hold`] of `v` lowercased, asked of `v` as it is (lowercasing
    /// keeps the length and changes only the first byte's case).
    pub(super) fn may_hold_lowercased(&self, v: &[u8]) -> bool {
        self.may_hold_first(v.len(), v.first().map(u8::to_ascii_lowercase))
    }

    fn may_hold_first(&self, len: usize, first: Option<u8>) -> bool {
        if self.lens & (1 << len.min(Self::LONG)) == 0 {
            return false;
        }
        match first {
            Some(b) => self.firsts[usize::from(b / 64)] & (1 << (b % 64)) != 0,
            None => true,
        }
    }
}
