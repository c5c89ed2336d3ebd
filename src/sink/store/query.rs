//! Queries IT staff run against the store: list, show, export, stats.
//!
//! Every filter becomes a bound parameter of one `WHERE` clause (never text pasted into
//! SQL), served by the indexes of [`schema`](super::schema): time, category, rule,
//! signature id, the 16-byte source key for CIDR ranges, and the host of imported rows. `list` gives the newest
//! first; `export` streams the oldest first, row by row, without collecting.

use std::io::Write;
use std::str::FromStr;

use ipnet::IpNet;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, OptionalExtension};

use super::address::range_key;
use super::counts::{RuleCount, Stats};
use super::filter::{Filters, RuleRef};
use super::report;
use super::row::{self, StoredAlert, SELECT_COLUMNS};
use super::{FlaggedStore, StoreError};
use crate::detect::alert::Category;
use crate::time::Timestamp;

const MICROS_PER_DAY: i64 = 86_400 * Timestamp::MICROS_PER_SEC;

/// The shape of `flagged export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// One EVE JSON object per line, with the row `id` first.
    #[default]
    Jsonl,
    /// A header row, then one quoted row per alert.
    Csv,
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" | "json" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(format!("`{other}` is not an export format (jsonl or csv)")),
        }
    }
}

/// The `WHERE` clause of `f` (empty when there is no filter) and its parameters.
fn where_clause(f: &Filters) -> (String, Vec<Value>) {
    let mut terms: Vec<&str> = Vec::new();
    let mut values = Vec::new();
    if let Some(t) = f.since {
        terms.push("ts_us >= ?");
        values.push(Value::Integer(t.0));
    }
    if let Some(t) = f.until {
        terms.push("ts_us < ?");
        values.push(Value::Integer(t.0));
    }
    if let Some(c) = f.category {
        terms.push("category = ?");
        values.push(Value::Text(c.as_str().to_owned()));
    }
    match &f.rule {
        Some(RuleRef::Id(id)) => {
            terms.push("signature_id = ?");
            values.push(Value::Integer(i64::from(*id)));
        }
        Some(RuleRef::Name(name)) => {
            terms.push("rule = ?");
            values.push(Value::Text(name.clone()));
        }
        None => {}
    }
    if let Some(net) = f.src {
        let (lo, hi) = key_range(net);
        terms.push("src_key >= ? AND src_key <= ?");
        values.push(Value::Blob(lo.to_vec()));
        values.push(Value::Blob(hi.to_vec()));
    }
    if let Some(host) = &f.host {
        terms.push("host = ?");
        values.push(Value::Text(host.clone()));
    }
    if terms.is_empty() {
        (String::new(), values)
    } else {
        (format!(" WHERE {}", terms.join(" AND ")), values)
    }
}

/// The first and last 16-byte keys inside `net`.
fn key_range(net: IpNet) -> ([u8; 16], [u8; 16]) {
    (range_key(net.network()), range_key(net.broadcast()))
}

fn limit_clause(f: &Filters, values: &mut Vec<Value>) -> &'static str {
    match f.limit {
        Some(n) => {
            values.push(Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)));
            " LIMIT ?"
        }
        None => "",
    }
}

/// `list`'s order: newest first (ids break ties within a microsecond).
const NEWEST_FIRST: &str = "ts_us DESC, id DESC";
/// `export`'s order: oldest first.
const OLDEST_FIRST: &str = "ts_us ASC, id ASC";

/// The `SELECT` of the rows matching `f` in `order`, with its limit, and its parameters.
fn selection(f: &Filters, order: &str) -> (String, Vec<Value>) {
    let (wh, mut values) = where_clause(f);
    let limit = limit_clause(f, &mut values);
    let sql = format!("SELECT {SELECT_COLUMNS} FROM alerts{wh} ORDER BY {order}{limit}");
    (sql, values)
}

impl FlaggedStore {
    /// Alerts matching `f`, newest first, at most `f.limit`.
    pub fn list(&self, f: &Filters) -> Result<Vec<StoredAlert>, StoreError> {
        let fail = self.error("listing alerts");
        let (sql, values) = selection(f, NEWEST_FIRST);
        let mut stmt = self.conn.prepare(&sql).map_err(&fail)?;
        let rows = stmt
            .query_map(params_from_iter(values), row::from_row)
            .map_err(&fail)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&fail)
    }

    /// How many alerts match `f` (its limit ignored).
    pub fn count(&self, f: &Filters) -> Result<u64, StoreError> {
        let (wh, values) = where_clause(f);
        self.conn
            .query_row(
                &format!("SELECT count(*) FROM alerts{wh}"),
                params_from_iter(values),
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.error("counting alerts"))
    }

    /// One alert by id; a missing id is [`StoreError::NoSuchAlert`].
    pub fn show(&self, id: i64) -> Result<StoredAlert, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {SELECT_COLUMNS} FROM alerts WHERE id = ?1"),
                [id],
                row::from_row,
            )
            .optional()
            .map_err(self.error("reading an alert"))?
            .ok_or_else(|| StoreError::NoSuchAlert {
                path: self.path.clone(),
                id,
            })
    }

    /// Writes the alerts matching `f`, oldest first, to `out`; returns how many.
    pub fn export(
        &self,
        f: &Filters,
        format: ExportFormat,
        out: &mut dyn Write,
    ) -> Result<u64, StoreError> {
        let fail = self.error("exporting alerts");
        let (sql, values) = selection(f, OLDEST_FIRST);
        let mut stmt = self.conn.prepare(&sql).map_err(&fail)?;
        let rows = stmt
            .query_map(params_from_iter(values), row::from_row)
            .map_err(&fail)?;
        if format == ExportFormat::Csv {
            report::write_csv_header(out).map_err(StoreError::Output)?;
        }
        let mut n = 0;
        for stored in rows {
            let stored = stored.map_err(&fail)?;
            match format {
                ExportFormat::Jsonl => report::write_jsonl(out, &stored),
                ExportFormat::Csv => report::write_csv_row(out, &stored),
            }
            .map_err(StoreError::Output)?;
            n += 1;
        }
        out.flush().map_err(StoreError::Output)?;
        Ok(n)
    }

    /// Counts of the alerts matching `f` by day, category and rule (limit ignored).
    pub fn stats(&self, f: &Filters) -> Result<Stats, StoreError> {
        let fail = self.error("counting alerts");
        let (wh, values) = where_clause(f);
        let group = |select: &str, group_order: &str| {
            format!("SELECT {select}, count(*) AS n FROM alerts{wh} GROUP BY {group_order}")
        };
        let to_u64 = |n: i64| u64::try_from(n).unwrap_or(0);

        // Floor division, so the day of a time before 1970 is right too.
        let day_expr = format!(
            "(ts_us - (((ts_us % {MICROS_PER_DAY}) + {MICROS_PER_DAY}) % {MICROS_PER_DAY})) / {MICROS_PER_DAY}"
        );
        let mut by_day = Vec::new();
        let days: Vec<(i64, i64)> = self.grouped(
            &group(&format!("{day_expr} AS day"), "day ORDER BY day"),
            &values,
            &fail,
        )?;
        for (day, n) in days {
            let date = Timestamp(day.saturating_mul(MICROS_PER_DAY)).to_eve();
            by_day.push((date.get(..10).unwrap_or_default().to_owned(), to_u64(n)));
        }

        let mut by_category = Vec::new();
        let categories: Vec<(String, i64)> = self.grouped(
            &group("category", "category ORDER BY n DESC, category"),
            &values,
            &fail,
        )?;
        for (name, n) in categories {
            // Rows are written from `Category`, so an unknown name is skipped, not fatal.
            if let Some(c) = Category::parse(&name) {
                by_category.push((c, to_u64(n)));
            }
        }

        let mut by_rule = Vec::new();
        let mut stmt = self
            .conn
            .prepare(&group(
                "signature_id, rule",
                "signature_id, rule ORDER BY n DESC, signature_id",
            ))
            .map_err(&fail)?;
        let rule_rows = stmt
            .query_map(params_from_iter(values.iter()), |r| {
                Ok(RuleCount {
                    signature_id: r.get(0)?,
                    rule: r.get(1)?,
                    count: to_u64(r.get(2)?),
                })
            })
            .map_err(&fail)?;
        for r in rule_rows {
            by_rule.push(r.map_err(&fail)?);
        }

        let host_where = if wh.is_empty() {
            " WHERE host IS NOT NULL".to_owned()
        } else {
            format!("{wh} AND host IS NOT NULL")
        };
        let by_host = self
            .grouped::<String>(
                &format!(
                    "SELECT host, count(*) AS n FROM alerts{host_where} GROUP BY host ORDER BY n DESC, host"
                ),
                &values,
                &fail,
            )?
            .into_iter()
            .map(|(host, n)| (host, to_u64(n)))
            .collect();

        Ok(Stats {
            total: by_day.iter().map(|(_, n)| n).sum(),
            by_day,
            by_category,
            by_rule,
            by_host,
        })
    }
}

impl FlaggedStore {
    /// Rows of `SELECT key, count ... GROUP BY key`, as (key, count).
    fn grouped<K: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        values: &[Value],
        fail: &impl Fn(rusqlite::Error) -> StoreError,
    ) -> Result<Vec<(K, i64)>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(fail)?;
        let rows = stmt
            .query_map(params_from_iter(values.iter()), |r| {
                Ok((r.get::<_, K>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(fail)?;
        rows.collect::<Result<_, _>>().map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_no_where_clause_without_filters() {
        let (wh, values) = where_clause(&Filters::default());
        assert_eq!(wh, "");
        assert!(values.is_empty());
    }

    #[test]
    fn binds_every_filter_as_a_parameter() {
        let f = Filters {
            since: Some(Timestamp(1)),
            until: Some(Timestamp(2)),
            category: Some(Category::Upload),
            rule: Some(RuleRef::Name("x'; DROP TABLE alerts; --".into())),
            src: Some("198.51.100.0/24".parse().expect("net")),
            host: Some("web1".into()),
            limit: Some(3),
        };
        let (wh, values) = where_clause(&f);
        assert!(!wh.contains("DROP"), "{wh}");
        assert_eq!(wh.matches('?').count(), values.len());
    }

    #[test]
    fn maps_an_ipv4_network_into_the_mapped_range() {
        let (lo, hi) = key_range("198.51.100.0/24".parse().expect("net"));
        assert_eq!(lo[..12], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
        assert_eq!(lo[12..], [198, 51, 100, 0]);
        assert_eq!(hi[12..], [198, 51, 100, 255]);
    }

    #[test]
    fn reads_export_format_names() {
        assert_eq!("csv".parse(), Ok(ExportFormat::Csv));
        assert_eq!("jsonl".parse(), Ok(ExportFormat::Jsonl));
        assert!("xml".parse::<ExportFormat>().is_err());
    }
}
