//! One rule per transaction: its chain of links, then, on a full match, the last
//! link's setvars (unless they ran per match), every link's ctls and the recorded
//! match (with the score it added).

use super::link::eval_link;
use super::*;

impl Program {
    /// Evaluates a rule and its chain; on a full match runs the actions and records it.
    pub(super) fn eval_rule(&self, rule: &CRule, s: &mut CrsScratch, out: &mut CrsOutcome) -> bool {
        let mut evidence = s.evidence_buf();
        // MATCHED_VARS is reset per rule, not per link: a chain link reads the values the
        // links before it matched (Coraza resets it before each top-level rule).
        s.matched_vars.clear();
        s.starter_score = 0;
        for (n, link) in rule.links.iter().enumerate() {
            let starter = n + 1 < rule.links.len();
            if !eval_link(&self.c, rule, link, s, starter, &mut evidence) {
                s.spare_evidence_buf(evidence);
                return false;
            }
        }
        self.finish_rule(rule, s, out, evidence);
        true
    }

    /// A rule matched: runs the last link's setvars and every link's ctls and records
    /// the match.
    pub(super) fn finish_rule(
        &self,
        rule: &CRule,
        s: &mut CrsScratch,
        out: &mut CrsOutcome,
        evidence: Vec<u8>,
    ) {
        let mut score = s.starter_score;
        // The links before the last ran their setvars as they matched (eval_link); the
        // last link's run once here, on the full match, with the ctls of every link
        // (unless they ran per match: `each_match`).
        if let Some(last) = rule.links.last().filter(|l| !l.each_match) {
            for sv in &last.setvars {
                score = score.saturating_add(setvar_score(apply_setvar(rule, sv, s), sv));
            }
        }
        for link in &rule.links {
            for c in &link.ctls {
                s.apply_ctl(c);
            }
        }
        if out.matched.len() >= MAX_MATCHES {
            s.matches_dropped += 1;
        } else {
            out.matched.push(CrsMatch {
                id: rule.id,
                paranoia_level: rule.paranoia_level,
                severity: rule.severity,
                score,
                evidence,
                logged: !rule.nolog,
            });
        }
    }
}

/// The anomaly score a setvar added, if it is a scoring setvar.
pub(super) fn setvar_score(added: i64, sv: &compile::CSetVar) -> u32 {
    if sv.score_pl.is_some() {
        u32::try_from(added.max(0)).unwrap_or(0)
    } else {
        0
    }
}
