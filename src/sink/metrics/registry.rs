//! Registering series with the Prometheus registry, and moving counters: the helpers
//! [`Metrics::new`](super::Metrics::new) and the counter setters share.

use std::sync::{Mutex, MutexGuard};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::caps;
use super::names::MetricName;
use super::MetricsError;

/// Locks a mutex, taking the data even if a panicking thread poisoned it (counters
/// stay meaningful).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Moves a counter to an absolute value; a lower value restarts it.
pub(super) fn advance_to(counter: &IntCounter, value: u64) {
    let current = counter.get();
    if value >= current {
        counter.inc_by(value - current);
    } else {
        counter.reset();
        counter.inc_by(value);
    }
}

pub(super) fn counter(r: &Registry, m: MetricName) -> Result<IntCounter, MetricsError> {
    let c = IntCounter::new(m.name, m.help)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

pub(super) fn counter_vec(
    r: &Registry,
    m: MetricName,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(m.name, m.help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

/// One counter per [`caps::CAPS`] row read here; rows that share a series share its
/// vector. Pushed rows are registered by their owners and get `None`.
pub(super) fn cap_counters(r: &Registry) -> Result<Vec<Option<IntCounter>>, MetricsError> {
    let mut vecs: Vec<(&str, IntCounterVec)> = Vec::new();
    let mut out = Vec::with_capacity(caps::CAPS.len());
    for cap in caps::CAPS {
        if matches!(cap.reading, caps::Reading::Pushed { .. }) {
            out.push(None);
            continue;
        }
        let vec = match vecs.iter().find(|(name, _)| *name == cap.metric.name) {
            Some((_, v)) => v.clone(),
            None => {
                let labels: Vec<&str> = cap.label.iter().map(|(k, _)| *k).collect();
                let v = counter_vec(r, cap.metric, &labels)?;
                vecs.push((cap.metric.name, v.clone()));
                v
            }
        };
        let values: Vec<&str> = cap.label.iter().map(|(_, v)| *v).collect();
        out.push(Some(vec.get_metric_with_label_values(&values)?));
    }
    Ok(out)
}

pub(super) fn gauge(r: &Registry, m: MetricName) -> Result<IntGauge, MetricsError> {
    let g = IntGauge::new(m.name, m.help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

pub(super) fn histogram(
    r: &Registry,
    m: MetricName,
    buckets: &[f64],
) -> Result<Histogram, MetricsError> {
    let h = Histogram::with_opts(HistogramOpts::new(m.name, m.help).buckets(buckets.to_vec()))?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

/// Resolves (and so exposes at zero) one child per label-value tuple.
pub(super) fn children<'a>(
    vec: &IntCounterVec,
    values: impl Iterator<Item = Vec<&'a str>>,
) -> Result<Vec<IntCounter>, MetricsError> {
    values
        .map(|v| Ok(vec.get_metric_with_label_values(&v)?))
        .collect()
}

pub(super) fn pair(children: Vec<IntCounter>) -> Result<[IntCounter; 2], MetricsError> {
    <[IntCounter; 2]>::try_from(children).map_err(|_| {
        MetricsError::Registry(prometheus::Error::Msg("expected two label values".into()))
    })
}

pub(super) fn triple(children: Vec<IntCounter>) -> Result<[IntCounter; 3], MetricsError> {
    <[IntCounter; 3]>::try_from(children).map_err(|_| {
        MetricsError::Registry(prometheus::Error::Msg("expected three label values".into()))
    })
}
