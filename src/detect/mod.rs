//! Detection: transactions and packets in, redacted alerts out.
//!
//! [`rules`] loads YAML rule files, [`ruleset`] compiles them into per-field automata,
//! [`fields`] and [`normalize`] turn a transaction into the values rules test,
//! [`policy`] adds the site policy's verdicts as values, [`threshold`] keeps the
//! per-client windows shared by workers, [`tcp`] watches SYNs, and [`surge`] and
//! [`slow`] count site-wide floods (what reaches them outside transactions goes
//! through `network.rs`). The [`Detector`]
//! runs them in that order and builds each [`alert::Alert`] redacted; [`shared`] holds
//! the running detector for live workers and swaps it whole on reload.

pub mod alert;
pub mod crs;
pub mod evidence;
mod crs_glue;
pub mod fields;
pub mod normalize;
pub mod policy;
pub mod readings;
pub mod rules;
pub mod ruleset;
pub mod output;
pub mod shared;
mod network;
pub mod stage;
pub mod slow;
pub mod surge;
pub mod tcp;
pub mod threshold;

pub use output::{AlertSink, SinkError};
pub use stage::{DetectionStage, DetectorRef};

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use alert::{evidence, Alert, AlertRule};
use fields::FieldValues;
use policy::Policy;
use ruleset::RuleSet;
use tcp::TcpDetectors;
use threshold::ThresholdTable;

use crate::config::Config;
use crate::http::HttpTransaction;
use crate::time::Timestamp;

/// Why detection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Rules(#[from] rules::RuleError),
    #[error("compiling rules: {0}")]
    Compile(#[from] ruleset::CompileError),
    #[error("CRS: {0}")]
    Crs(#[from] crs::CrsError),
}

/// What [`Detector::judge`] found in one transaction, for [`Detector::settle`] to count.
#[derive(Debug, Default)]
pub struct Judgement {
    /// The request (server, time) the site-wide surge detector counts; `None` for a
    /// transaction without a request.
    request: Option<(SocketAddr, Timestamp)>,
    /// Rules that matched, in rule order, each with the threshold it must cross
    /// first, if any.
    rule_alerts: RuleMatches,
    /// CRS's alert, kept unless a rule alert covers its category (boxed: a judgement
    /// is moved with its transaction, and CRS rarely fires).
    crs: Option<Box<Alert>>,
}

/// The rules that matched a transaction, the first held inline: most transactions
/// match one rule (the request flood's threshold), and a list for it was an
/// allocation per transaction.
#[derive(Debug, Default)]
struct RuleMatches {
    first: Option<RuleMatch>,
    rest: Vec<RuleMatch>,
}

impl RuleMatches {
    fn push(&mut self, m: RuleMatch) {
        if self.first.is_none() {
            self.first = Some(m);
        } else {
            self.rest.push(m);
        }
    }
}

impl IntoIterator for RuleMatches {
    type Item = RuleMatch;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<RuleMatch>, std::vec::IntoIter<RuleMatch>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

/// A rule that matched a transaction; [`Detector::settle`] builds its alert (from the
/// same transaction) if it fires.
#[derive(Debug)]
struct RuleMatch {
    /// Its index in the detector's rules.
    rule: usize,
    hit: Option<ruleset::Hit>,
    gate: Option<Gate>,
}

/// A threshold rule's window: its alert fires only when this match crosses the count.
#[derive(Debug)]
struct Gate {
    rule_id: u32,
    count: u32,
    window_secs: u64,
    distinct: Option<u64>,
}

/// Policy, rules and behavioural detectors, ready to evaluate.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    policy: Policy,
    tcp: TcpDetectors,
    thresholds: Arc<ThresholdTable>,
    crs: Option<Arc<crs::CrsEngine>>,
}

impl Detector {
    /// Loads and compiles the rules at `rules_path` for this configuration.
    pub fn load(
        rules_path: &Path,
        config: &Config,
        thresholds: Arc<ThresholdTable>,
    ) -> Result<Detector, DetectError> {
        let defs = rules::load(rules_path)?;
        let rules = RuleSet::compile(defs)?;
        let mut d = Detector::new(rules, config, thresholds);
        if config.crs.enabled {
            let settings = crs_glue::settings(rules_path, config);
            if config.crs.path.is_none() && !settings.path.join("rules").is_dir() {
                // No bundled copy beside these rules and none configured: run without.
                tracing::debug!(path = %settings.path.display(), "no CRS directory; CRS disabled");
            } else {
                d.crs = Some(Arc::new(crs::CrsEngine::load(&settings)?));
            }
        }
        Ok(d)
    }

    /// The CRS engine, when enabled.
    pub fn crs(&self) -> Option<&Arc<crs::CrsEngine>> {
        self.crs.as_ref()
    }

    /// Replaces the CRS engine (tests, harness).
    pub fn set_crs(&mut self, engine: Option<Arc<crs::CrsEngine>>) {
        self.crs = engine;
    }

    /// A detector from compiled rules.
    pub fn new(rules: RuleSet, config: &Config, thresholds: Arc<ThresholdTable>) -> Detector {
        Detector {
            rules,
            policy: Policy::new(&config.policy),
            tcp: TcpDetectors::new(config.detectors.clone()),
            thresholds,
            crs: None,
        }
    }

    /// Rules loaded.
    pub fn rule_count(&self) -> usize {
        self.rules.rules().len()
    }

    /// The compiled rule set.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Evaluates one transaction; alerts are appended to `out` in rule order.
    pub fn evaluate(&self, txn: &HttpTransaction, out: &mut Vec<Alert>) {
        let judgement = self.judge(txn);
        self.settle(txn, judgement, out);
    }

    /// The part of [`Detector::evaluate`] that reads no state shared across flows: the
    /// rules, the policy and CRS over this transaction alone. A sharded replay runs it
    /// on every worker at once, then [`Detector::settle`] in capture order.
    pub fn judge(&self, txn: &HttpTransaction) -> Judgement {
        let mut judgement = Judgement::default();
        if txn.request.is_none() {
            return judgement;
        }
        judgement.request = Some((txn.server, txn.ts));
        if self.rules.rules().is_empty() && self.crs.is_none() {
            return judgement;
        }
        let mut values = FieldValues::extract_filtered(
            txn,
            self.rules.header_names(),
            self.rules.fields_read(),
            &self.rules,
        );
        self.policy.judge(txn, &mut values);
        let rule_alerts = &mut judgement.rule_alerts;
        self.rules.evaluate_each(&values, |m| {
            let rule = m.rule;
            let gate = rule.threshold.as_ref().map(|t| Gate {
                rule_id: rule.id,
                count: t.count,
                window_secs: t.window_secs,
                distinct: rule.distinct_field.map(|f| {
                    let mut h = ahash::AHasher::default();
                    values
                        .get(f)
                        .first()
                        .map(|v| v.bytes)
                        .unwrap_or_default()
                        .hash(&mut h);
                    h.finish()
                }),
            });
            // The alert itself is built by `settle`, and only if it fires: a threshold
            // rule such as the request flood matches every request.
            rule_alerts.push(RuleMatch {
                rule: m.index,
                hit: m.hit,
                gate,
            });
        });
        if let Some(engine) = &self.crs {
            // The site policy judges every write method (authorized or not): CRS's
            // method enforcement does not count for them.
            let policy = values.get(fields::Field::Policy);
            let ctx = crs_glue::Context {
                policy_method: policy
                    .iter()
                    .any(|v| v.bytes == b"authorized" || v.bytes == b"write_method"),
                upload_endpoint: policy.iter().any(|v| v.bytes == b"upload_endpoint"),
                authorized: policy.iter().any(|v| v.bytes == b"authorized"),
            };
            judgement.crs = crs_glue::verdict(engine, txn, ctx).map(Box::new);
        }
        judgement
    }

    /// The part of [`Detector::evaluate`] that counts across flows, in the order
    /// transactions happen: the site-wide request surge, threshold rules' windows, and
    /// CRS's verdict, dropped when a native alert already covers its category.
    pub fn settle(&self, txn: &HttpTransaction, judgement: Judgement, out: &mut Vec<Alert>) {
        let Judgement {
            request,
            rule_alerts,
            crs,
        } = judgement;
        let Some((server, ts)) = request else {
            return;
        };
        let cfg = self.tcp.config();
        out.extend(self.thresholds.site.observe_request(cfg, server, ts));
        let first = out.len();
        for m in rule_alerts {
            if let Some(g) = &m.gate {
                let crossed = self.thresholds.observe(
                    g.rule_id,
                    txn.client.ip(),
                    txn.ts,
                    g.count,
                    g.window_secs,
                    g.distinct,
                );
                if !crossed {
                    continue;
                }
            }
            if let Some(rule) = self.rules.rules().get(m.rule) {
                out.push(rule_alert(txn, rule, m.hit.as_ref()));
            }
        }
        if let Some(a) = crs {
            if !out[first..]
                .iter()
                .any(|n| n.rule.category == a.rule.category)
            {
                out.push(*a);
            }
        }
    }
}

/// The alert of `rule`, which matched `txn` with evidence `hit`.
fn rule_alert(txn: &HttpTransaction, rule: &ruleset::Rule, hit: Option<&ruleset::Hit>) -> Alert {
    let upload = hit
        .and_then(|h| h.upload)
        .and_then(|i| txn.uploads.get(i))
        .map(|u| {
            // Every reading of an ambiguous filename, so the alert shows the one that
            // matched ("permit.pdf | shell.php").
            let readings = (!u.alt_filenames.is_empty())
                .then(|| u.filenames().collect::<Vec<_>>().join(" | "));
            Alert::upload_of(
                readings.as_deref().or(u.filename.as_deref()),
                u.content_type.as_deref(),
                u.detected,
                u.size,
            )
        });
    let token = match (hit, &rule.threshold) {
        (_, Some(t)) => format!("{} in {}s", t.count, t.window_secs).into_bytes(),
        (Some(h), None) => h.evidence.clone(),
        (None, None) => rule.name.clone().into_bytes(),
    };
    Alert {
        timestamp: txn.ts,
        flow_id: txn.flow_id,
        src: txn.client,
        dest: txn.server,
        rule: AlertRule {
            signature_id: rule.id,
            rule: rule.name.clone(),
            signature: rule.signature.clone(),
            category: rule.category,
            severity: rule.severity,
        },
        http: Alert::http_of(txn),
        upload,
        evidence: evidence(&token),
        crs: None,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod crs_tests;
