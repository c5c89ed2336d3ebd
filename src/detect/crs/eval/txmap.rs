//! The TX collection as reusable slots: each variable name gets a slot once per worker,
//! and a transaction start restores only the slots the previous transaction wrote.
//!
//! Every transaction starts from the TX the request-independent prefix left (some sixty
//! `tx.*` settings). Copying that map per transaction cost about a hundred allocations;
//! here a name keeps its slot and its buffer for the life of the worker, a write marks
//! the slot dirty, and [`TxMap::reset_from`] copies the base value back into the dirty
//! slots (or marks them absent) without allocating. The names a worker has seen are
//! bounded by [`MAX_TX_NAMES`]: past it the map is rebuilt from the base (counted).

use ahash::AHashMap;

/// Distinct TX names a worker keeps slots for; past it the map starts over from the
/// base at the next transaction.
pub(super) const MAX_TX_NAMES: usize = 4096;

#[derive(Debug, Default, Clone)]
struct Slot {
    /// The name the slot keeps for the worker's life (until a rebuild).
    name: Vec<u8>,
    present: bool,
    dirty: bool,
    val: Vec<u8>,
}

/// The TX collection (names are lowercase, as setvar writes them).
#[derive(Debug, Default, Clone)]
pub(super) struct TxMap {
    index: AHashMap<Vec<u8>, u32>,
    slots: Vec<Slot>,
    dirty: Vec<u32>,
    /// Program id of the base the slots were initialised from (0: none).
    owner: u64,
    /// Slots below this index mirror the base's.
    base_len: usize,
    /// Times the map was rebuilt because it held too many names.
    pub(super) rebuilds: u64,
    /// Changes whenever slots are reassigned (a new base or a rebuild), so caches keyed
    /// by slot know to start over.
    epoch: u64,
    /// While set, every slot written or removed is appended to `log` (see
    /// [`super::nameset`], which records a rule's writes to replay them).
    pub(super) logging: bool,
    pub(super) log: Vec<u32>,
}

/// Process-unique slot epochs.
static EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl TxMap {
    /// Starts a transaction from `base` (the prefix's TX of program `owner`).
    pub(super) fn reset_from(&mut self, base: &TxMap, owner: u64) {
        if self.owner != owner || self.index.len() > MAX_TX_NAMES {
            if self.owner == owner {
                self.rebuilds += 1;
            }
            self.index.clone_from(&base.index);
            self.slots.clone_from(&base.slots);
            for s in &mut self.slots {
                s.dirty = false;
            }
            self.dirty.clear();
            self.owner = owner;
            self.base_len = base.slots.len();
            self.epoch = EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        for &i in &self.dirty {
            let i = i as usize;
            let Some(s) = self.slots.get_mut(i) else {
                continue;
            };
            s.dirty = false;
            match base.slots.get(i).filter(|_| i < self.base_len) {
                Some(b) => {
                    s.present = b.present;
                    s.val.clear();
                    s.val.extend_from_slice(&b.val);
                }
                None => s.present = false,
            }
        }
        self.dirty.clear();
    }

    pub(super) fn get(&self, name: &[u8]) -> Option<&[u8]> {
        let &i = self.index.get(name)?;
        self.slots
            .get(i as usize)
            .filter(|s| s.present)
            .map(|s| &s.val[..])
    }

    /// The value buffer of `name`, created (empty) if absent; the slot is marked written.
    pub(super) fn entry(&mut self, name: &[u8]) -> &mut Vec<u8> {
        let i = match self.index.get(name) {
            Some(&i) => i as usize,
            None => {
                let i = self.slots.len();
                self.index.insert(name.to_vec(), i as u32);
                self.slots.push(Slot {
                    name: name.to_vec(),
                    ..Slot::default()
                });
                i
            }
        };
        if self.logging {
            self.log.push(i as u32);
        }
        let s = &mut self.slots[i];
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(i as u32);
        }
        if !s.present {
            s.present = true;
            s.val.clear();
        }
        &mut s.val
    }

    /// Sets `name` to `val`.
    pub(super) fn set(&mut self, name: &[u8], val: &[u8]) {
        let e = self.entry(name);
        e.clear();
        e.extend_from_slice(val);
    }

    pub(super) fn remove(&mut self, name: &[u8]) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        if self.logging {
            self.log.push(i);
        }
        if let Some(s) = self.slots.get_mut(i as usize) {
            if s.present {
                if !s.dirty {
                    s.dirty = true;
                    self.dirty.push(i);
                }
                s.present = false;
            }
        }
    }

    /// Sets (or, with `val` None, removes) the variable of slot `i`, made earlier in
    /// this epoch: a recorded write replayed without hashing its name.
    pub(super) fn set_slot(&mut self, i: u32, val: Option<&[u8]>) {
        let Some(s) = self.slots.get_mut(i as usize) else {
            return;
        };
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(i);
        }
        s.present = val.is_some();
        s.val.clear();
        s.val.extend_from_slice(val.unwrap_or_default());
    }

    /// Identifies the current assignment of names to slots.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Every present variable with its slot, in no particular order.
    /// Slots made so far (slot numbers below it stay valid until the epoch changes).
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The name of slot `i` (empty for an unknown slot).
    pub(super) fn slot_name(&self, i: usize) -> &[u8] {
        self.slots.get(i).map(|s| &s.name[..]).unwrap_or_default()
    }

    /// The value of slot `i` if the variable is set in this transaction.
    pub(super) fn slot_value(&self, i: usize) -> Option<&[u8]> {
        self.slots.get(i).filter(|s| s.present).map(|s| &s.val[..])
    }

    #[cfg(test)]
    pub(super) fn iter_slots(&self) -> impl Iterator<Item = (usize, &[u8], &[u8])> {
        self.index.iter().filter_map(|(k, &i)| {
            self.slots
                .get(i as usize)
                .filter(|s| s.present)
                .map(|s| (i as usize, &k[..], &s.val[..]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TxMap {
        let mut b = TxMap::default();
        b.set(b"paranoia_level", b"1");
        b.set(b"score", b"0");
        b
    }

    #[test]
    fn a_transaction_starts_from_the_base_whatever_the_last_one_wrote() {
        let b = base();
        let mut t = TxMap::default();
        for round in 0..3 {
            t.reset_from(&b, 9);
            assert_eq!(t.get(b"score"), Some(&b"0"[..]), "round {round}");
            assert_eq!(t.get(b"paranoia_level"), Some(&b"1"[..]));
            assert_eq!(
                t.get(b"new"),
                None,
                "round {round}: a new name does not leak"
            );
            assert_eq!(t.iter_slots().count(), 2);
            t.set(b"score", b"10");
            t.entry(b"new").extend_from_slice(b"x");
            t.remove(b"paranoia_level");
            assert_eq!(t.get(b"score"), Some(&b"10"[..]));
            assert_eq!(t.get(b"new"), Some(&b"x"[..]));
            assert_eq!(t.get(b"paranoia_level"), None);
            assert_eq!(t.iter_slots().count(), 2);
        }
        // Another base: initialised from it, not restored.
        let mut other = TxMap::default();
        other.set(b"only", b"1");
        t.reset_from(&other, 10);
        assert_eq!(t.get(b"score"), None);
        assert_eq!(t.get(b"only"), Some(&b"1"[..]));
        assert_eq!(t.rebuilds, 0);
    }

    #[test]
    fn too_many_names_rebuild_from_the_base() {
        let b = base();
        let mut t = TxMap::default();
        t.reset_from(&b, 1);
        for i in 0..=MAX_TX_NAMES {
            t.set(format!("k{i}").as_bytes(), b"1");
        }
        t.reset_from(&b, 1);
        assert_eq!(t.rebuilds, 1);
        assert_eq!(t.iter_slots().count(), 2);
        assert_eq!(t.get(b"k1"), None);
    }
}
