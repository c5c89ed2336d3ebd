//! The Detector's side of the Core Rule Set: settings from the configuration, one
//! scratch per worker thread, and one verdict per transaction.
//!
//! A transaction whose inbound score reaches the threshold is one alert, unless a native
//! rule already flagged the same transaction in the same category (the native alert is
//! more specific and names our own rule). For a write method (which the site policy
//! judges: authorized, or flagged as an unauthorized change by its own event), CRS's
//! method-enforcement rules (911xxx) do not count: the policy knows better.

use std::cell::RefCell;
use std::path::Path;

use super::alert::{evidence, Alert, AlertCrs, AlertRule, Category};
use super::crs::{CrsEngine, CrsMatch, CrsOutcome, CrsScratch, CrsSettings};
use crate::config::Config;
use crate::http::HttpTransaction;

thread_local! {
    static SCRATCH: RefCell<CrsScratch> = RefCell::new(CrsScratch::default());
}

/// CRS settings from the configuration: the configured directory or `crs/` beside the
/// YAML rules.
pub fn settings(rules_path: &Path, config: &Config) -> CrsSettings {
    let c = &config.crs;
    let base = if rules_path.is_file() {
        rules_path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        rules_path.to_path_buf()
    };
    let mut s = CrsSettings::new(c.path.clone().unwrap_or_else(|| base.join("crs")));
    s.paranoia_level = c.paranoia_level;
    s.detection_paranoia_level = c.paranoia_level;
    s.inbound_threshold = c.inbound_threshold;
    s.exclusions = c.exclusions.clone();
    s.tx_overrides = c.tx.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    s
}

/// CRS's "Request Missing a Host Header".
const MISSING_HOST_RULE: u32 = 920_280;

/// libinjection's SQLi rule, and the fingerprint it gives a word followed by a comment
/// opener (`docs/*.pdf`, `/*` in a path typed into a search box): alone, that shape is
/// far more often a file pattern than an injection, so it does not count.
const LIBINJECTION_SQLI_RULE: u32 = 942_100;
const WORD_COMMENT_FINGERPRINT: &[u8] = b"nc";

/// Multipart and Content-Type rules that the site policy's own upload checks replace on
/// a sanctioned upload endpoint (filenames, declared and sniffed types, sizes, and every
/// parser ambiguity are judged there, with the most dangerous reading).
const UPLOAD_PROTOCOL_RULES: [u32; 4] = [920_120, 920_121, 920_470, 920_480];

/// What the rest of detection already knows about a transaction, which decides whether
/// some CRS rules may count.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// The site policy judged the method (an authorized write, or its own event).
    pub policy_method: bool,
    /// The request went to a sanctioned upload endpoint.
    pub upload_endpoint: bool,
    /// The site policy authorized this source to write here: its method override
    /// headers (CRS's restricted headers, 920450) are its right.
    pub authorized: bool,
}

/// CRS's "HTTP header is restricted by policy" (method override headers among them).
const RESTRICTED_HEADER_RULE: u32 = 920_450;

/// Method enforcement: the site policy decides for writes it authorizes.
fn is_method_rule(id: u32) -> bool {
    (911_000..912_000).contains(&id)
}

/// The category of a CRS rule family.
pub fn category_of(id: u32) -> Category {
    match id / 1000 {
        930 => Category::Traversal,
        913 => Category::Recon,
        911 | 920 | 921 | 922 => Category::Protocol,
        _ => Category::Injection,
    }
}

/// Runs CRS over `txn` and returns its alert, if the score reaches the threshold. (The
/// detector drops it when a native alert already covers its category.)
pub fn verdict(engine: &CrsEngine, txn: &HttpTransaction, ctx: Context) -> Option<Alert> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let outcome = engine.evaluate(txn, &mut s);
            let alert = alert_of(engine, txn, ctx, &outcome);
            s.recycle(outcome);
            alert
        }
        Err(_) => alert_of(
            engine,
            txn,
            ctx,
            &engine.evaluate(txn, &mut CrsScratch::default()),
        ),
    })
}

/// The alert for `outcome`, if its score, less the matches the site policy exempts,
/// reaches the threshold. Allocates only for an alert.
fn alert_of(
    engine: &CrsEngine,
    txn: &HttpTransaction,
    ctx: Context,
    outcome: &CrsOutcome,
) -> Option<Alert> {
    let mut score = outcome.score;
    // HTTP/1.0 (RFC 1945) has no Host requirement: CRS's missing-Host rule does not count.
    let http10 = txn
        .request
        .as_ref()
        .is_some_and(|r| r.version.ends_with("1.0") || r.version.ends_with("0.9"));
    // Bytes of the request were not captured: protocol rules (920) would judge what the
    // capture lost, not what the client sent.
    let gap = txn.flags.request_gap;
    let exempt = |m: &CrsMatch| {
        (ctx.policy_method && is_method_rule(m.id))
            || (http10 && m.id == MISSING_HOST_RULE)
            || (gap && m.id / 1000 == 920)
            || (ctx.upload_endpoint && UPLOAD_PROTOCOL_RULES.contains(&m.id))
            || (ctx.authorized && m.id == RESTRICTED_HEADER_RULE)
            || (m.id == LIBINJECTION_SQLI_RULE && m.evidence == WORD_COMMENT_FINGERPRINT)
    };
    let scoring = || outcome.matched.iter().filter(|m| m.score > 0);
    let mut contributing = 0usize;
    for m in scoring() {
        if exempt(m) {
            score = score.saturating_sub(m.score);
        } else {
            contributing += 1;
        }
    }
    if outcome.threshold == 0 || score < outcome.threshold || contributing == 0 {
        return None;
    }
    let mut ranked: Vec<&CrsMatch> = scoring().filter(|m| !exempt(m)).collect();
    ranked.sort_by_key(|m| (m.severity, std::cmp::Reverse(m.score)));
    let top = ranked[0];
    let category = category_of(top.id);
    let severity = match top.severity {
        0..=2 => 1,
        3 => 2,
        _ => 3,
    };
    let msg = engine
        .rule_msg(top.id)
        .unwrap_or("OWASP CRS anomaly score reached");
    Some(Alert {
        timestamp: txn.ts,
        flow_id: txn.flow_id,
        src: txn.client,
        dest: txn.server,
        rule: AlertRule {
            signature_id: top.id,
            rule: format!("crs.{}", top.id),
            signature: format!("CRS: {msg} (score {score})"),
            category,
            severity,
        },
        http: Alert::http_of(txn),
        upload: None,
        evidence: evidence(&top.evidence),
        crs: Some(AlertCrs {
            score,
            rules: ranked.iter().map(|m| m.id).collect(),
        }),
    })
}
