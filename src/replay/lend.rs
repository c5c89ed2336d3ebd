//! Heap lent between a sharded replay's workers, decided between epochs so that the
//! output never depends on thread timing.
//!
//! The live daemon's workers borrow from a shared pool the moment they need to
//! ([`crate::flow::heap_pool`]); which worker gets there first is a race, which a
//! replay must not have. Here the calling thread decides every worker's heap limit
//! for each epoch it hands out, from what the workers reported of the epochs it has
//! merged: each starts with its even share, as a fixed split would give it, and a
//! worker whose flows hold more than half its limit gets what the others' flows leave
//! unused, so that one address's flood (one worker, flows shard by address pair)
//! does not meet the emergency steps at 1/N of the budget.
//!
//! Workers run up to [`super::sharded::EPOCHS_IN_FLIGHT`] epochs apart, each under
//! the limit of its own epoch, so the limits of every epoch that can be in progress at
//! once add up to at most the workers' heap shares: heap taken from a worker is given
//! to another only once no epoch under the old limit can still be running.

use std::collections::VecDeque;

/// The lender's state: every worker's limit for the epochs handed out and not merged.
#[derive(Debug)]
pub(super) struct Lender {
    /// What all the workers' heap shares hold together.
    total: usize,
    /// What a worker keeps whatever it lends: a quarter of its share, as the live
    /// daemon's workers keep ([`crate::flow::heap_pool::OWN_SHARE_DIVISOR`]).
    floor: usize,
    /// Limits are moved in whole grants (a sixty-fourth of the total, at least 64 KiB).
    grant: usize,
    /// The limits of the epochs that may still be running, oldest first; the last is
    /// the newest epoch's.
    recent: VecDeque<Vec<usize>>,
    /// Epochs that may run at once.
    in_flight: usize,
    /// Each worker's need as of the last merged epoch.
    need: Vec<usize>,
}

impl Lender {
    /// `workers` workers, each with a heap share of `share` bytes, at most `in_flight`
    /// epochs apart.
    pub fn new(workers: usize, share: usize, in_flight: usize) -> Lender {
        let total = share * workers;
        Lender {
            total,
            floor: share / crate::flow::heap_pool::OWN_SHARE_DIVISOR,
            grant: (total / 64).max(crate::flow::heap_pool::MIN_GRANT_BYTES),
            recent: VecDeque::from([vec![share; workers]]),
            in_flight: in_flight.max(1),
            need: vec![0; workers],
        }
    }

    /// Notes the most heap each worker's flows held in the epoch just merged: a
    /// worker needs room for twice that, in whole grants.
    pub fn observe(&mut self, peaks: &[usize]) {
        for (need, &peak) in self.need.iter_mut().zip(peaks) {
            *need = peak.saturating_mul(2).div_ceil(self.grant) * self.grant;
        }
    }

    /// The limits for the next epoch handed out. Unchanged while every worker's need
    /// fits its limit; otherwise the workers with room give what they do not need (down
    /// to their need, and never below a quarter of their share), and those short get
    /// it in worker order, as far as the limits of the epochs still running leave room.
    pub fn next_limits(&mut self) -> Vec<usize> {
        let current = self.recent.back().cloned().unwrap_or_default();
        let short: usize = self
            .need
            .iter()
            .zip(&current)
            .map(|(n, l)| n.saturating_sub(*l))
            .sum();
        let mut next = current.clone();
        if short > 0 {
            // Donors first, for what earlier epochs' donations (given up, not yet
            // handed on) do not cover: what they give is free only once their older
            // limits are out of the window.
            let unassigned = self.total.saturating_sub(current.iter().sum());
            let mut wanted = short.saturating_sub(unassigned);
            for (limit, need) in next.iter_mut().zip(&self.need) {
                let spare = limit.saturating_sub((*need).max(self.floor));
                let given = spare.min(wanted);
                *limit -= given;
                wanted -= given;
            }
            let held = |next: &[usize], recent: &VecDeque<Vec<usize>>, skip_oldest: bool| {
                (0..next.len())
                    .map(|w| {
                        recent
                            .iter()
                            .skip(usize::from(skip_oldest))
                            .map(|l| l.get(w).copied().unwrap_or(0))
                            .chain([next[w]])
                            .max()
                            .unwrap_or(0)
                    })
                    .sum::<usize>()
            };
            // The oldest recent limit leaves the window when this epoch is handed out.
            let full = self.recent.len() >= self.in_flight;
            let mut room = self.total.saturating_sub(held(&next, &self.recent, full));
            for (limit, need) in next.iter_mut().zip(&self.need) {
                // Exactly what is short (needs are whole grants, limits need not be):
                // a remainder left short would keep the donors giving for nothing.
                let raise = need.saturating_sub(*limit).min(room);
                *limit += raise;
                room -= raise;
            }
        }
        self.recent.push_back(next.clone());
        while self.recent.len() > self.in_flight {
            self.recent.pop_front();
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    /// The sum, over workers, of the highest limit among the epochs that may run at
    /// once: never more than the heap shares.
    fn concurrent_sum(window: &[Vec<usize>]) -> usize {
        (0..window[0].len())
            .map(|w| window.iter().map(|l| l[w]).max().unwrap_or(0))
            .sum()
    }

    #[test]
    fn every_worker_keeps_its_even_share_until_one_needs_more() {
        let mut lender = Lender::new(2, 8 * MIB, 4);
        for _ in 0..10 {
            lender.observe(&[3 * MIB, MIB]);
            assert_eq!(lender.next_limits(), vec![8 * MIB, 8 * MIB]);
        }
    }

    #[test]
    fn a_flooded_worker_gets_the_others_unused_heap_once_no_old_limit_runs() {
        let in_flight = 4;
        let mut lender = Lender::new(2, 8 * MIB, in_flight);
        let mut sent: Vec<Vec<usize>> = Vec::new();
        // Worker 0's flows grow a MiB an epoch; worker 1's hold 1 MiB.
        for epoch in 0..14usize {
            lender.observe(&[(epoch + 1) * MIB, MIB]);
            sent.push(lender.next_limits());
            let from = sent.len().saturating_sub(in_flight);
            assert!(concurrent_sum(&sent[from..]) <= 16 * MIB, "{sent:?}");
        }
        let last = sent.last().cloned().unwrap_or_default();
        // Worker 1 keeps room for twice what it holds; worker 0 has the rest.
        assert_eq!(last[1], 2 * MIB);
        assert_eq!(last[0], 14 * MIB);
        // The loan came only after worker 1's old limit left the window.
        let first_raise = sent.iter().position(|l| l[0] > 8 * MIB);
        let first_cut = sent.iter().position(|l| l[1] < 8 * MIB);
        assert!(first_raise > first_cut, "{sent:?}");
    }

    #[test]
    fn an_idle_worker_keeps_a_quarter_of_its_share() {
        let mut lender = Lender::new(2, 8 * MIB, 4);
        let mut limits = Vec::new();
        for _ in 0..12 {
            lender.observe(&[20 * MIB, 0]);
            limits = lender.next_limits();
        }
        assert_eq!(limits, vec![14 * MIB, 2 * MIB]);
    }

    #[test]
    fn donors_stop_giving_once_the_short_worker_is_covered() {
        // Shares that are not whole grants: the short worker's need is met exactly,
        // and the donor keeps everything past it.
        let share = 8 * MIB + 12_345;
        let mut lender = Lender::new(2, share, 2);
        let mut limits = Vec::new();
        for _ in 0..20 {
            lender.observe(&[9 * MIB / 2, MIB]);
            limits = lender.next_limits();
        }
        let grant = 2 * share / 64;
        let need = (9 * MIB).div_ceil(grant) * grant;
        assert_eq!(limits[0], need, "{limits:?}");
        assert_eq!(limits[1], 2 * share - need, "{limits:?}");
    }

    #[test]
    fn heap_goes_back_when_the_flood_ends() {
        let mut lender = Lender::new(2, 8 * MIB, 2);
        for _ in 0..6 {
            lender.observe(&[7 * MIB, 0]);
            lender.next_limits();
        }
        // Now worker 1 needs its share again and worker 0 holds almost nothing.
        let mut limits = Vec::new();
        for _ in 0..6 {
            lender.observe(&[0, 4 * MIB]);
            limits = lender.next_limits();
        }
        assert_eq!(limits[1], 8 * MIB, "{limits:?}");
    }

    #[test]
    fn limits_never_add_up_to_more_than_the_shares() {
        // Needs moving about at random (a fixed generator): at every step the limits of
        // the epochs that may run at once fit in the shares.
        let in_flight = 4;
        let mut lender = Lender::new(3, 4 * MIB, in_flight);
        let mut sent: Vec<Vec<usize>> = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..500 {
            let peaks: Vec<usize> = (0..3)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % (10 * MIB as u64)) as usize
                })
                .collect();
            lender.observe(&peaks);
            sent.push(lender.next_limits());
            let from = sent.len().saturating_sub(in_flight);
            assert!(concurrent_sum(&sent[from..]) <= 12 * MIB, "{sent:?}");
        }
    }
}
