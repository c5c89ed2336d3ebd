//! The live workers' heap shares, pooled and lent where the flows are.
//!
//! The daemon shards flows by address pair, so that every fragment and both directions
//! of a connection meet in one worker. One client's flood therefore lands on one
//! worker: with the heap split evenly, a single address's slow bodies pushed that
//! worker into evicting established flows (its own and every other client's on it) at
//! a fraction 1/N of the budget, while the other workers' heap stood idle (replaying
//! slowhttptest's 11,602 slow bodies from one address: no eviction on one worker,
//! 18,508 evictions on two).
//!
//! So each worker keeps a quarter of its heap share as its own ([`OWN_SHARE_DIVISOR`])
//! and deposits the rest here; a worker whose flows pass its limit borrows before it
//! takes any emergency step, and repays at its once-a-second sweep what it no longer
//! needs. The sum of every limit never exceeds the heap shares: the budget is the same,
//! only where it is held moves. Borrowing and repaying are one atomic operation each,
//! only when a worker passes its limit or sweeps with a loan: nothing per packet.
//!
//! A sharded `replay` does not share this pool: which worker borrows first depends on
//! thread timing, and a replay's output must not. Its calling thread lends heap between
//! epochs instead, from what the workers reported (`src/replay/lend.rs`), through
//! [`FlowTable::set_heap_limit`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{EvictionHint, FlowTable};

/// A worker keeps one part in this many of its heap share as its own; the rest is
/// pooled.
pub const OWN_SHARE_DIVISOR: usize = 4;
/// Loans are made in whole grants of at least this many bytes, so a worker growing
/// slowly does not come back every packet.
pub const MIN_GRANT_BYTES: usize = 64 * 1024;

/// Heap bytes deposited by the workers and not lent out.
#[derive(Debug, Default)]
pub struct HeapPool {
    free: AtomicUsize,
    /// Bytes deposited in all (the most that can be lent).
    deposited: AtomicUsize,
}

impl HeapPool {
    /// An empty pool; workers deposit their shares as they start.
    pub fn new() -> Self {
        HeapPool::default()
    }

    /// Adds `bytes` of a worker's share to the pool.
    pub fn deposit(&self, bytes: usize) {
        self.deposited.fetch_add(bytes, Ordering::Relaxed);
        self.free.fetch_add(bytes, Ordering::AcqRel);
    }

    /// The size of one grant: a sixty-fourth of what was deposited, at least
    /// [`MIN_GRANT_BYTES`].
    pub fn grant_bytes(&self) -> usize {
        (self.deposited.load(Ordering::Relaxed) / 64).max(MIN_GRANT_BYTES)
    }

    /// Lends `want` bytes rounded up to whole grants, or as many whole grants as are
    /// left if fewer. Returns the bytes lent.
    pub fn borrow(&self, want: usize) -> usize {
        let grant = self.grant_bytes();
        let asked = want.div_ceil(grant).saturating_mul(grant);
        let mut lent = 0;
        let _ = self
            .free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                lent = if asked <= free {
                    asked
                } else {
                    free / grant * grant
                };
                Some(free - lent)
            });
        lent
    }

    /// Takes back bytes lent.
    pub fn repay(&self, bytes: usize) {
        self.free.fetch_add(bytes, Ordering::AcqRel);
    }

    /// Bytes not lent out now.
    pub fn free_bytes(&self) -> usize {
        self.free.load(Ordering::Acquire)
    }
}

impl<S: Default + EvictionHint> FlowTable<S> {
    /// Joins the live workers' pool: keeps a quarter of its heap share as its own
    /// limit and deposits the rest.
    pub fn join_pool(&mut self, pool: Arc<HeapPool>) {
        if self.pool.is_some() {
            return;
        }
        let deposit = self.heap_limit - self.heap_limit / OWN_SHARE_DIVISOR;
        self.heap_limit -= deposit;
        pool.deposit(deposit);
        self.pool = Some(pool);
    }

    /// Flows hold more heap than the limit: borrows enough that they hold at most
    /// three quarters of the new limit (the headroom the emergency steps leave too).
    /// True when the limit now covers them; false, with the limit raised by what the
    /// pool had left (a refusal, counted), when the emergency steps must follow.
    pub fn borrow_heap(&mut self) -> bool {
        let Some(pool) = &self.pool else {
            return false;
        };
        let want = (self.heap_bytes / 3 * 4).saturating_sub(self.heap_limit);
        let lent = pool.borrow(want);
        self.heap_limit += lent;
        self.borrowed += lent;
        let p = &mut self.stats.pressure;
        p.borrowed_bytes = self.borrowed as u64;
        if lent < want {
            p.pool_refusals += 1;
        }
        !self.over_budget()
    }

    /// Sets the heap limit (a sharded replay's lender decides it each epoch,
    /// [`crate::replay`]); flows over it are relieved at the next packet.
    pub fn set_heap_limit(&mut self, limit: usize) {
        self.heap_limit = limit;
    }

    /// The most heap flows held since the last call; starts over from what they hold.
    pub fn take_peak_heap(&mut self) -> usize {
        std::mem::replace(&mut self.peak_heap, self.heap_bytes)
    }

    /// At the once-a-second sweep: repays the whole grants its flows no longer need,
    /// keeping the limit a third above what they hold.
    pub(super) fn repay_surplus(&mut self) {
        let Some(pool) = &self.pool else {
            return;
        };
        if self.borrowed == 0 {
            return;
        }
        let grant = pool.grant_bytes();
        let surplus = self
            .heap_limit
            .saturating_sub(self.heap_bytes / 3 * 4)
            .min(self.borrowed);
        let repaid = surplus / grant * grant;
        if repaid == 0 {
            return;
        }
        pool.repay(repaid);
        self.heap_limit -= repaid;
        self.borrowed -= repaid;
        self.stats.pressure.borrowed_bytes = self.borrowed as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lends_whole_grants_and_no_more_than_was_deposited() {
        let pool = HeapPool::new();
        pool.deposit(64 * MIN_GRANT_BYTES);
        let grant = pool.grant_bytes();
        assert_eq!(grant, MIN_GRANT_BYTES);
        assert_eq!(pool.borrow(1), grant, "rounded up to a grant");
        assert_eq!(pool.borrow(grant * 10 + 1), grant * 11);
        // 52 grants left: asking for 60 lends the 52.
        assert_eq!(pool.borrow(grant * 60), grant * 52);
        assert_eq!(pool.free_bytes(), 0);
        assert_eq!(pool.borrow(1), 0);
        pool.repay(grant * 3);
        assert_eq!(pool.borrow(grant), grant);
        assert_eq!(pool.free_bytes(), grant * 2);
    }

    #[test]
    fn threads_borrowing_at_once_never_lend_more_than_the_pool() {
        let pool = std::sync::Arc::new(HeapPool::new());
        pool.deposit(64 * MIN_GRANT_BYTES);
        assert_eq!(pool.grant_bytes(), MIN_GRANT_BYTES);
        // Each thread asks for a grant 40 times and notes what it got.
        let loans: Vec<Vec<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let pool = &pool;
                    s.spawn(move || (0..40).map(|_| pool.borrow(1)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let all: Vec<usize> = loans.into_iter().flatten().collect();
        assert_eq!(all.iter().sum::<usize>(), 64 * MIN_GRANT_BYTES);
        assert_eq!(all.iter().filter(|&&l| l == MIN_GRANT_BYTES).count(), 64);
        assert_eq!(all.iter().filter(|&&l| l == 0).count(), 96);
        assert_eq!(pool.free_bytes(), 0);
    }
}
