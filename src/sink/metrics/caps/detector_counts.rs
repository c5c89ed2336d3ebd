//! The detector's counters that live across threads (the threshold table, the CRS
//! engine), copied into plain numbers when `/metrics` is scraped.

use crate::detect::crs::CrsStatsSnapshot;

/// Counters the detector keeps across threads, read when `/metrics` is scraped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DetectorCounts {
    /// Threshold observations not tracked: the table was at `MAX_THRESHOLD_WINDOWS`.
    pub threshold_windows_dropped: u64,
    /// CRS names or values cut before transformations (`MAX_VALUE_BYTES`).
    pub crs_values_cut: u64,
    /// CRS arguments dropped past the engine's argument cap.
    pub crs_args_dropped: u64,
    /// CRS request bodies cut at the engine's body cap, or with bytes not captured.
    pub crs_bodies_cut: u64,
    /// CRS values transformed again because the per-transaction cache was full.
    pub crs_transform_cache_full: u64,
    /// CRS rule matches not recorded past the per-transaction cap.
    pub crs_matches_dropped: u64,
    /// Times a worker's CRS memo of non-matching values was full and cleared.
    pub crs_memo_resets: u64,
    /// CRS evaluations that hit an internal limit or a body they could not parse.
    pub crs_eval_errors: u64,
}

impl DetectorCounts {
    /// Copies the CRS engine's counters, one field per kind of cap.
    pub fn set_crs(&mut self, crs: &CrsStatsSnapshot) {
        self.crs_values_cut = crs.values_cut;
        self.crs_args_dropped = crs.args_dropped;
        self.crs_bodies_cut = crs.bodies_cut;
        self.crs_transform_cache_full = crs.transform_cache_full;
        self.crs_matches_dropped = crs.matches_dropped;
        self.crs_memo_resets = crs.memo_resets;
        self.crs_eval_errors = crs.eval_errors;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each CRS counter lands in its own field: a counter copied twice or forgotten
    /// leaves two fields equal or one at zero.
    #[test]
    fn every_crs_counter_lands_in_its_own_field() {
        let crs = CrsStatsSnapshot {
            values_cut: 1,
            args_dropped: 2,
            bodies_cut: 3,
            transform_cache_full: 4,
            matches_dropped: 5,
            memo_resets: 6,
            eval_errors: 7,
            caps_hit: 100,
            evaluated: 200,
        };
        let mut counts = DetectorCounts::default();
        counts.set_crs(&crs);
        let mut got = [
            counts.crs_values_cut,
            counts.crs_args_dropped,
            counts.crs_bodies_cut,
            counts.crs_transform_cache_full,
            counts.crs_matches_dropped,
            counts.crs_memo_resets,
            counts.crs_eval_errors,
        ];
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(counts.threshold_windows_dropped, 0);
    }
}
