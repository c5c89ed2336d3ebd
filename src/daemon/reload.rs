//! Rules and policy: loaded at start, reloaded on SIGHUP.
//!
//! A reload reads the configuration file again, loads and compiles its rules into a
//! complete [`Detector`], and only then swaps it in; any error — unreadable config, a
//! bad rule, an empty rule set — leaves the running detector untouched, is logged with
//! its file and line, and is counted as `tamperwatch_reloads_total{result="error"}`.
//! Per-client threshold windows live in one table shared across reloads, so a reload
//! does not reset a brute-force count. Settings that shape the running process
//! (capture, metrics listener, events path, store, content groups) apply on restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::DaemonError;
use crate::config::Config;
use crate::detect::rules::RuleError;
use crate::detect::shared::SharedDetector;
use crate::detect::threshold::ThresholdTable;
use crate::detect::Detector;
use crate::sink::metrics::Metrics;

/// What a reload needs: where the config is, and what it updates.
pub struct RuleReloader {
    config_path: PathBuf,
    thresholds: Arc<ThresholdTable>,
    detector: Arc<SharedDetector>,
    metrics: Arc<Metrics>,
}

/// Loads and compiles the rules a configuration names; an empty rule set is refused,
/// as `tamperwatch rules check` refuses it: a monitor with no rules flags nothing.
pub fn load_detector(
    config: &Config,
    thresholds: &Arc<ThresholdTable>,
) -> Result<Detector, DaemonError> {
    let rules_dir = config.rules_dir();
    let detector = Detector::load(&rules_dir, config, Arc::clone(thresholds))?;
    if detector.rule_count() == 0 {
        return Err(DaemonError::Rules(RuleError::Empty { path: rules_dir }));
    }
    Ok(detector)
}

/// Publishes a rule set's size and creates its flagged-event series at zero.
pub fn register(metrics: &Metrics, detector: &Detector) {
    metrics.set_rules_loaded(detector.rule_count());
    metrics.register_rules(
        detector
            .rules()
            .rules()
            .iter()
            .map(|r| (r.category, r.name.as_str())),
    );
}

impl RuleReloader {
    /// A reloader for the detector started from `config_path`.
    pub fn new(
        config_path: &Path,
        thresholds: Arc<ThresholdTable>,
        detector: Arc<SharedDetector>,
        metrics: Arc<Metrics>,
    ) -> RuleReloader {
        RuleReloader {
            config_path: config_path.to_path_buf(),
            thresholds,
            detector,
            metrics,
        }
    }

    /// The running detector.
    pub fn detector(&self) -> &Arc<SharedDetector> {
        &self.detector
    }

    /// Loads the configuration and rules again and swaps them in if they are sound;
    /// returns the new rule count. Blocking (file reads, compilation).
    pub fn reload(&self) -> Result<usize, DaemonError> {
        let result = Config::load(&self.config_path)
            .map_err(DaemonError::from)
            .and_then(|config| load_detector(&config, &self.thresholds));
        match result {
            Ok(detector) => {
                let count = detector.rule_count();
                register(&self.metrics, &detector);
                self.detector.replace(detector);
                self.metrics.observe_reload(true);
                Ok(count)
            }
            Err(e) => {
                self.metrics.observe_reload(false);
                Err(e)
            }
        }
    }
}
