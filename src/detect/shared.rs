//! The running detector, shared by every packet worker and replaced whole on reload.
//!
//! A reload builds and compiles a complete new [`Detector`] first and only then
//! [`SharedDetector::replace`]s the old one, so workers see either the old rules or the
//! new ones, never a mix, and a reload that fails leaves the old rules running. Workers
//! read the current detector once per transaction or packet; the read is a lock-free
//! `arc-swap` load, so a reload never stalls the packet path.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::Detector;

/// A [`Detector`] that can be swapped atomically while workers use it.
#[derive(Debug)]
pub struct SharedDetector {
    current: ArcSwap<Detector>,
}

impl SharedDetector {
    /// Shares `detector`.
    pub fn new(detector: Detector) -> SharedDetector {
        SharedDetector {
            current: ArcSwap::from_pointee(detector),
        }
    }

    /// The detector running now; hold the guard for one transaction or packet only.
    pub fn load(&self) -> Guard<Arc<Detector>> {
        self.current.load()
    }

    /// Puts `detector` in place for every later read; returns the one it replaced.
    pub fn replace(&self, detector: Detector) -> Arc<Detector> {
        self.current.swap(Arc::new(detector))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::detect::threshold::ThresholdTable;

    fn detector(rules_yaml: &str) -> Detector {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("r.yaml"), rules_yaml).expect("write rules");
        Detector::load(
            dir.path(),
            &Config::default(),
            Arc::new(ThresholdTable::default()),
        )
        .expect("rules load")
    }

    #[test]
    fn readers_see_the_replacement_after_replace() {
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let full = Detector::load(
            &bundled,
            &Config::default(),
            Arc::new(ThresholdTable::default()),
        )
        .expect("bundled rules");
        let full_count = full.rule_count();
        let shared = SharedDetector::new(full);
        let held = shared.load();
        let one = detector(
            "- id: 900001\n  name: test.one\n  signature: One\n  category: recon\n  severity: 3\n  match:\n    all:\n      - { field: path, equals: /only-this }\n",
        );
        let old = shared.replace(one);
        assert_eq!(old.rule_count(), full_count);
        // A guard taken before the swap keeps the old detector alive and unchanged.
        assert_eq!(held.rule_count(), full_count);
        assert_eq!(shared.load().rule_count(), 1);
    }
}
