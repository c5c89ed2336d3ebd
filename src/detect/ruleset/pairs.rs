//! Whether a short value holds any literal of a set, in one scalar pass keyed by the
//! value's byte pairs: the test of a field's gate union ([`super::regexes::FieldGate`])
//! on the short values most requests carry (paths, header values, parameters), where
//! the packed SIMD searcher falls back to Rabin-Karp and costs hundreds of
//! instructions per value.
//!
//! Every literal of two bytes or more marks its first two bytes in a 64 Kib table; a
//! one-byte literal marks every pair it starts. A value's pair that is marked is then
//! checked against the literals starting with that pair (found by the pair's rank
//! among the marked ones, not by a walk over every literal with its first byte), so
//! the answer is exact: the same as a substring search for each literal.

/// Values longer than this are left to the SIMD searchers (a scalar pass costs a few
/// instructions per byte; the packed searcher is faster past a few hundred bytes).
pub(super) const MAX_PAIR_SCAN_BYTES: usize = 256;

/// Words of the pair table: one bit per pair of bytes.
const PAIR_WORDS: usize = (1 << 16) / 64;

/// A literal set, searched by byte pairs. Literals and values are lowercase (see
/// [`crate::detect::fields::Value::bytes`]).
#[derive(Debug, Clone)]
pub(super) struct PairSet {
    /// Bit `a << 8 | b`: some literal starts with `a b`, or `a` alone is a literal.
    pairs: Box<[u64; PAIR_WORDS]>,
    /// Bit per byte: the byte alone is a literal.
    single: [u64; 4],
    /// Literals of two bytes or more, sorted, each with its first pair.
    literals: Vec<(u16, Vec<u8>)>,
    /// By word of `pairs`: how many pairs the words before it mark (a marked pair's
    /// rank is this plus the marked bits below it in its word).
    rank: Box<[u32; PAIR_WORDS]>,
    /// By rank of a marked pair: the range of `literals` starting with it (empty for
    /// a pair marked only by a one-byte literal).
    ranges: Vec<(u32, u32)>,
}

impl PairSet {
    /// The set of `literals` (lowercased); `None` if one is empty (it would match
    /// every value: the caller's search answers that).
    pub(super) fn new<L: AsRef<[u8]>>(literals: &[L]) -> Option<PairSet> {
        let mut set = PairSet {
            pairs: Box::new([0u64; PAIR_WORDS]),
            single: [0; 4],
            literals: Vec::new(),
            rank: Box::new([0; PAIR_WORDS]),
            ranges: Vec::new(),
        };
        for lit in literals {
            let lit = lit.as_ref().to_ascii_lowercase();
            match *lit.as_slice() {
                [] => return None,
                [a] => {
                    set.single[usize::from(a / 64)] |= 1 << (a % 64);
                    for b in 0..=u8::MAX {
                        set.mark(pair(a, b));
                    }
                }
                [a, b, ..] => {
                    set.mark(pair(a, b));
                    set.literals.push((pair(a, b), lit));
                }
            }
        }
        set.literals.sort();
        set.literals.dedup();
        let mut marked = 0u32;
        for (w, word) in set.pairs.iter().enumerate() {
            set.rank[w] = marked;
            marked += word.count_ones();
            let mut bits = *word;
            while bits != 0 {
                // `w` is below 1024: the key fits a `u16`.
                let key = u16::try_from(w * 64 + bits.trailing_zeros() as usize).ok()?;
                bits &= bits - 1;
                let start = set.literals.partition_point(|(k, _)| *k < key);
                let end = set.literals.partition_point(|(k, _)| *k <= key);
                set.ranges
                    .push((u32::try_from(start).ok()?, u32::try_from(end).ok()?));
            }
        }
        Some(set)
    }

    fn mark(&mut self, key: u16) {
        // In bounds: a `u16` over 64 is below `PAIR_WORDS`.
        self.pairs[usize::from(key / 64)] |= 1 << (key % 64);
    }

    fn is_single(&self, b: u8) -> bool {
        self.single[usize::from(b / 64)] & (1 << (b % 64)) != 0
    }

    /// Whether `value` holds any of the literals.
    pub(super) fn holds(&self, value: &[u8]) -> bool {
        let Some((&first, rest)) = value.split_first() else {
            return false;
        };
        // The pair key kept in a register across bytes: shifted up, the next byte
        // or'ed in (a `u16` drops the byte before).
        let pairs: &[u64; PAIR_WORDS] = &self.pairs;
        let mut key = u16::from(first);
        for (i, &b) in rest.iter().enumerate() {
            key = key << 8 | u16::from(b);
            // In bounds: a `u16` over 64 is below `PAIR_WORDS`.
            if pairs[usize::from(key / 64)] & (1 << (key % 64)) != 0
                && self.starts_here(key, value.get(i..).unwrap_or_default())
            {
                return true;
            }
        }
        // The last byte starts no pair.
        self.is_single(value.last().copied().unwrap_or(first))
    }

    /// Whether `rest` (which starts with pair `key`) starts with a literal. Out of
    /// line: the scan loop then keeps its state in registers.
    #[inline(never)]
    fn starts_here(&self, key: u16, rest: &[u8]) -> bool {
        if rest.first().is_some_and(|&b| self.is_single(b)) {
            return true;
        }
        let word = usize::from(key / 64);
        let below = self.pairs[word] & ((1 << (key % 64)) - 1);
        let rank = self.rank[word] as usize + below.count_ones() as usize;
        let Some(&(start, end)) = self.ranges.get(rank) else {
            return false;
        };
        self.literals
            .get(start as usize..end as usize)
            .unwrap_or_default()
            .iter()
            .any(|(_, lit)| starts_with(rest, lit))
    }
}

/// Whether `rest` starts with `lit`, compared in place (the literals are short: a
/// call to `memcmp` cost more than the comparison).
fn starts_with(rest: &[u8], lit: &[u8]) -> bool {
    rest.len() >= lit.len() && rest.iter().zip(lit).all(|(a, b)| a == b)
}

/// The key of the pair `a b`.
fn pair(a: u8, b: u8) -> u16 {
    u16::from(a) << 8 | u16::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: a substring search for each literal.
    fn any_literal(literals: &[&[u8]], value: &[u8]) -> bool {
        literals
            .iter()
            .any(|l| memchr::memmem::find(value, l).is_some())
    }

    #[test]
    fn finds_literals_anywhere_and_single_bytes_at_the_end() {
        let lits: [&[u8]; 4] = [b"/etc/passwd", b"..", b"'", b"select"];
        let set = PairSet::new(&lits).expect("no empty literal");
        assert!(set.holds(b"/a/../b"));
        assert!(set.holds(b"x'"));
        assert!(set.holds(b"'"));
        assert!(set.holds(b"1 union select 2"));
        assert!(set.holds(b"/x/etc/passwd"));
        assert!(!set.holds(b"/etc/passw"));
        assert!(!set.holds(b"/assets/icon-21.png"));
        assert!(!set.holds(b"selec"));
        assert!(!set.holds(b""));
        assert!(PairSet::new(&[b"".as_slice()]).is_none());
    }

    proptest! {
        /// Agrees with a substring search for each literal, on values made of the
        /// literals' own bytes (so near misses are common).
        #[test]
        fn agrees_with_a_search_per_literal(
            lits in prop::collection::vec(prop::collection::vec(prop::sample::select(b"ab/.'e".to_vec()), 1..5), 1..8),
            value in prop::collection::vec(prop::sample::select(b"ab/.'ex".to_vec()), 0..40),
        ) {
            let refs: Vec<&[u8]> = lits.iter().map(Vec::as_slice).collect();
            let set = PairSet::new(&refs).expect("no empty literal");
            prop_assert_eq!(set.holds(&value), any_literal(&refs, &value));
        }
    }
}
