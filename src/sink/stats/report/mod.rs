//! The publishable usage report: a period of the statistics database rendered as one
//! self-contained HTML page (inline CSS and SVG, no scripts, no external resources),
//! JSON or CSV. Every count below `min_count` is shown as `<min_count` in every format,
//! so a small group cannot single anyone out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

mod html;

use super::aggregate::{dim, LATENCY_BUCKETS_MS};
use super::db::StatsRow;

pub use html::to_html;

/// A count as published: the number, or "fewer than min_count".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Count(u64),
    Below(u64),
}

impl Shown {
    fn of(n: u64, min: u64) -> Shown {
        if n < min {
            Shown::Below(min)
        } else {
            Shown::Count(n)
        }
    }

    /// The number drawn in a chart (0 for a suppressed cell).
    fn value(self) -> u64 {
        match self {
            Shown::Count(n) => n,
            Shown::Below(_) => 0,
        }
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Count(n) => write!(f, "{n}"),
            Shown::Below(m) => write!(f, "<{m}"),
        }
    }
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Count(n) => s.serialize_u64(*n),
            Shown::Below(_) => s.serialize_str(&self.to_string()),
        }
    }
}

/// One row of a section.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub key: String,
    pub count: Shown,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Shown>,
}

/// One titled table.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub lines: Vec<Line>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub min_count: u64,
    /// Requests per day.
    pub traffic: Vec<Line>,
    /// Daily distinct-visitor estimates.
    pub visitors: Vec<Line>,
    /// Latency percentiles over the period, as histogram bucket upper bounds.
    pub latency_ms: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub empty: bool,
}

/// Pseudo-dimension: flagged events summed by category.
const FLAGGED_BY_CATEGORY: &str = "flagged_by_category";
/// Longest period whose days are all drawn (empty days as zero).
const MAX_DRAWN_DAYS: usize = 800;

const SECTIONS: [(&str, &str, &str); 9] = [
    (
        FLAGGED_BY_CATEGORY,
        "security-summary",
        "Security summary: flagged attempts by category",
    ),
    (
        dim::REQUESTS,
        "content",
        "Content: requests by section of the site",
    ),
    (dim::BROWSER, "browsers", "Browsers"),
    (dim::OS, "os", "Operating systems"),
    (dim::HTTP_VERSION, "http", "HTTP versions"),
    (dim::TLS_VERSION, "tls", "TLS versions offered"),
    (dim::STATUS, "status", "Responses by status class"),
    (dim::ERRORS, "errors", "Errors by section of the site"),
    (
        dim::FLAGGED,
        "security",
        "Security: flagged attempts by category and rule",
    ),
];

/// Builds the report of `rows` (already limited to the period).
pub fn build(rows: &[StatsRow], from: &str, to: &str, min_count: u64) -> Report {
    let mut per_dim: BTreeMap<&str, BTreeMap<&str, (u64, u64)>> = BTreeMap::new();
    let mut traffic: BTreeMap<String, u64> = BTreeMap::new();
    let mut visitors: BTreeMap<&str, u64> = BTreeMap::new();
    for r in rows {
        if r.dimension == dim::VISITORS {
            *visitors.entry(&r.day).or_default() += r.count;
            continue;
        }
        if r.dimension == dim::REQUESTS {
            *traffic.entry(r.day.clone()).or_default() += r.count;
        }
        let e = per_dim
            .entry(&r.dimension)
            .or_default()
            .entry(&r.key)
            .or_default();
        e.0 += r.count;
        e.1 += r.bytes;
        if r.dimension == dim::FLAGGED {
            let category = r.key.split(' ').next().unwrap_or_default();
            let e = per_dim
                .entry(FLAGGED_BY_CATEGORY)
                .or_default()
                .entry(category)
                .or_default();
            e.0 += r.count;
        }
    }
    if !rows.is_empty() {
        for day in days_between(from, to) {
            traffic.entry(day).or_default();
        }
    }
    let mut sections = Vec::new();
    for (dimension, id, title) in SECTIONS {
        let mut lines: Vec<(u64, Line)> = per_dim
            .get(dimension)
            .map(|m| {
                m.iter()
                    .map(|(k, (c, b))| {
                        let line = Line {
                            key: (*k).to_owned(),
                            count: Shown::of(*c, min_count),
                            bytes: (dimension == dim::REQUESTS).then_some({
                                if *c < min_count {
                                    Shown::Below(min_count)
                                } else {
                                    Shown::Count(*b)
                                }
                            }),
                        };
                        (*c, line)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Most first; a suppressed count sorts as if zero so order reveals nothing.
        lines.sort_by(|a, b| {
            b.1.count
                .value()
                .cmp(&a.1.count.value())
                .then(a.1.key.cmp(&b.1.key))
        });
        sections.push(Section {
            id,
            title,
            lines: lines.into_iter().map(|(_, l)| l).collect(),
        });
    }
    let latency_ms = latency_percentiles(per_dim.get(dim::LATENCY), min_count);
    let day_lines = |m: Vec<(String, u64)>| -> Vec<Line> {
        m.into_iter()
            .map(|(d, n)| Line {
                key: d,
                count: Shown::of(n, min_count),
                bytes: None,
            })
            .collect()
    };
    Report {
        from: from.to_owned(),
        to: to.to_owned(),
        min_count,
        empty: rows.is_empty(),
        traffic: day_lines(traffic.into_iter().collect()),
        visitors: day_lines(
            visitors
                .into_iter()
                .map(|(d, n)| (d.to_owned(), n))
                .collect(),
        ),
        latency_ms,
        sections,
    }
}

/// Every `YYYY-MM-DD` from `from` to `to` (at most [`MAX_DRAWN_DAYS`]).
fn days_between(from: &str, to: &str) -> Vec<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (Ok(mut d), Ok(end)) = (
        time::Date::parse(from, format),
        time::Date::parse(to, format),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d <= end && out.len() < MAX_DRAWN_DAYS {
        out.push(d.to_string());
        match d.next_day() {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// p50, p90, p99 from the histogram, as bucket bounds; suppressed below `min_count`.
fn latency_percentiles(
    hist: Option<&BTreeMap<&str, (u64, u64)>>,
    min: u64,
) -> Vec<(String, String)> {
    let mut buckets: Vec<(u64, u64)> = Vec::new(); // (upper bound ms or MAX, count)
    if let Some(h) = hist {
        for (k, (c, _)) in h {
            let bound = if *k == "+Inf" {
                u64::MAX
            } else {
                k.parse().unwrap_or(u64::MAX)
            };
            buckets.push((bound, *c));
        }
    }
    buckets.sort_unstable();
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    let last = LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.len() - 1];
    [("p50", 50u64), ("p90", 90), ("p99", 99)]
        .into_iter()
        .map(|(name, p)| {
            if total < min {
                return (name.to_owned(), format!("<{min} samples"));
            }
            let want = (total * p).div_ceil(100);
            let mut seen = 0;
            let mut text = format!("> {last} ms");
            for (bound, c) in &buckets {
                seen += c;
                if seen >= want {
                    if *bound != u64::MAX {
                        text = format!("≤ {bound} ms");
                    }
                    break;
                }
            }
            (name.to_owned(), text)
        })
        .collect()
}

/// The report as JSON.
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|_| "{}".to_owned())
}

/// The report as CSV: `section,key,count,bytes`.
pub fn to_csv(r: &Report) -> String {
    let mut out = String::from("section,key,count,bytes\n");
    let mut row = |section: &str, l: &Line| {
        let bytes = l.bytes.map(|b| b.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{}",
            csv(section),
            csv(&l.key),
            l.count,
            bytes
        );
    };
    for l in &r.traffic {
        row("traffic", l);
    }
    for l in &r.visitors {
        row("visitors", l);
    }
    for s in &r.sections {
        for l in &s.lines {
            row(s.id, l);
        }
    }
    for (p, v) in &r.latency_ms {
        let _ = writeln!(out, "latency,{},{},", p, csv(v));
    }
    out
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: &str, dimension: &str, key: &str, count: u64) -> StatsRow {
        StatsRow {
            day: day.into(),
            dimension: dimension.into(),
            key: key.into(),
            count,
            bytes: count * 100,
        }
    }

    #[test]
    fn small_cells_are_suppressed_in_every_format() {
        let rows = vec![
            row("2026-11-01", dim::REQUESTS, "permits", 50),
            row("2026-11-01", dim::REQUESTS, "council", 3),
            row("2026-11-01", dim::BROWSER, "firefox", 7),
        ];
        let r = build(&rows, "2026-11-01", "2026-11-01", 10);
        let html = to_html(&r);
        let json = to_json(&r);
        let csv = to_csv(&r);
        assert!(html.contains("&lt;10") && !html.contains(">7<") && !html.contains(">3<"));
        assert!(json.contains("\"<10\"") && !json.contains(": 7") && !json.contains(": 3,"));
        assert!(csv.contains("content,council,<10,<10") && !csv.contains(",7,"));
        assert!(csv.contains("content,permits,50,5000"));
        assert!(
            !html.contains("<script") && !html.contains("http://")
                || html.contains("xmlns=\"http://www.w3.org/2000/svg\"")
        );
    }

    #[test]
    fn an_empty_period_says_so() {
        let r = build(&[], "2026-01-01", "2026-01-31", 10);
        assert!(to_html(&r).contains("No statistics were recorded in this period"));
        assert!(to_json(&r).contains("\"empty\": true"));
    }

    #[test]
    fn latency_percentiles_come_from_the_histogram() {
        let rows = vec![
            row("2026-11-01", dim::LATENCY, "5", 90),
            row("2026-11-01", dim::LATENCY, "250", 9),
            row("2026-11-01", dim::LATENCY, "+Inf", 1),
        ];
        let r = build(&rows, "2026-11-01", "2026-11-01", 10);
        assert_eq!(r.latency_ms[0].1, "≤ 5 ms");
        assert_eq!(r.latency_ms[1].1, "≤ 5 ms");
        assert_eq!(r.latency_ms[2].1, "≤ 250 ms");
    }
}
