//! Buffers an outcome hands back: the match list and the evidence of its matches,
//! reused by the next transaction (a rule such as 941010 matches in nearly every
//! request, and each match allocated its evidence).

use super::{CrsMatch, CrsOutcome, CrsScratch};

/// Evidence buffers kept for reuse, at most.
const MAX_SPARE_EVIDENCE: usize = 64;

impl CrsScratch {
    /// An empty evidence buffer, a spare one when there is one.
    pub(super) fn evidence_buf(&mut self) -> Vec<u8> {
        self.spare_evidence.pop().unwrap_or_default()
    }

    /// Keeps an evidence buffer no match took, for the next rule.
    pub(super) fn spare_evidence_buf(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > 0 && self.spare_evidence.len() < MAX_SPARE_EVIDENCE {
            buf.clear();
            self.spare_evidence.push(buf);
        }
    }

    /// The match list for a new outcome: the last recycled one, empty.
    pub(in crate::detect::crs) fn take_matched(&mut self) -> Vec<CrsMatch> {
        std::mem::take(&mut self.spare_matched)
    }

    /// Takes back an outcome once its caller is done with it, so that the next
    /// transaction's matches reuse its list and evidence buffers.
    pub fn recycle(&mut self, mut outcome: CrsOutcome) {
        for m in outcome.matched.drain(..) {
            self.spare_evidence_buf(m.evidence);
        }
        self.spare_matched = outcome.matched;
    }
}
