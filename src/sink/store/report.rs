//! What `tamperwatch flagged` prints: an aligned table, one alert in full, CSV, JSON
//! lines, and counts.
//!
//! Every text field came from the network, so it is made safe for where it goes: control
//! characters (terminal escapes) are shown as `\u{..}` in the table and details; CSV
//! fields are quoted per RFC 4180 and a leading `= + - @` (a spreadsheet formula) is
//! prefixed with `'`; JSON is escaped by serde.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use super::counts::Stats;
use super::row::StoredAlert;
use crate::sink::events::EveAlert;

/// URLs longer than this are cut in the table (`flagged show` prints them whole).
pub const TABLE_URL_CHARS: usize = 80;
/// `flagged list` shows this many rows unless `--limit` says otherwise.
pub const DEFAULT_LIST_LIMIT: u64 = 100;

/// Column names of `flagged export --format csv`, in order.
pub const CSV_COLUMNS: [&str; 25] = [
    "id",
    "timestamp",
    "flow_id",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "signature_id",
    "rule",
    "signature",
    "category",
    "severity",
    "hostname",
    "url",
    "http_method",
    "status",
    "http_user_agent",
    "length",
    "upload_filename",
    "upload_content_type",
    "upload_detected",
    "upload_size",
    "evidence",
    "host",
];

/// Network text made safe for a terminal: control characters escaped.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters, with `…` marking a cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `2026-11-22T10:00:00.123456+0000` → `2026-11-22 10:00:00`.
fn table_time(eve: &str) -> String {
    eve.get(..19).unwrap_or(eve).replacen('T', " ", 1)
}

/// The table of `flagged list`: id, time, src, category, rule, method, url; with a HOST
/// column after the id when some row was imported from another host.
pub fn write_table(out: &mut dyn Write, rows: &[StoredAlert]) -> io::Result<()> {
    if rows.iter().any(|r| r.host.is_some()) {
        return write_table_with_hosts(out, rows);
    }
    write_cells(out, &TABLE_HEADER, &table_cells(rows))
}

const TABLE_HEADER: [&str; 7] = [
    "ID",
    "TIME (UTC)",
    "SRC",
    "CATEGORY",
    "RULE",
    "METHOD",
    "URL",
];

fn write_table_with_hosts(out: &mut dyn Write, rows: &[StoredAlert]) -> io::Result<()> {
    let mut header = vec![TABLE_HEADER[0], "HOST"];
    header.extend_from_slice(&TABLE_HEADER[1..]);
    let cells: Vec<Vec<String>> = table_cells(rows)
        .into_iter()
        .zip(rows)
        .map(|(row, r)| {
            let mut cells = row.to_vec();
            let host = r.host.as_deref().map_or_else(|| "-".into(), printable);
            cells.insert(1, host);
            cells
        })
        .collect();
    write_cells(out, &header, &cells)
}

fn table_cells(rows: &[StoredAlert]) -> Vec<[String; 7]> {
    rows.iter()
        .map(|r| {
            let a = &r.alert;
            let http = a.http.as_ref();
            [
                r.id.to_string(),
                table_time(&a.timestamp.to_eve()),
                printable(&r.src_ip),
                a.rule.category.as_str().to_owned(),
                printable(&a.rule.rule),
                http.map(|h| printable(&h.http_method))
                    .unwrap_or_else(|| "-".into()),
                http.map(|h| clip(&printable(&h.url), TABLE_URL_CHARS))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect()
}

/// Aligned columns; the first (the id) right-aligned, the last unpadded.
fn write_cells<R: AsRef<[String]>>(
    out: &mut dyn Write,
    header: &[&str],
    cells: &[R],
) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in cells {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |fields: &[&str]| -> io::Result<()> {
        let mut text = String::new();
        for (i, (field, width)) in fields.iter().zip(&widths).enumerate() {
            if i + 1 == fields.len() {
                text.push_str(field);
            } else {
                // The id is a number: right-aligned.
                let _ = if i == 0 {
                    write!(text, "{field:>width$}  ")
                } else {
                    write!(text, "{field:<width$}  ")
                };
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(header)?;
    for row in cells {
        let fields: Vec<&str> = row.as_ref().iter().map(String::as_str).collect();
        line(&fields)?;
    }
    Ok(())
}

/// Every field of one alert, one per line, for `flagged show`.
pub fn write_details(out: &mut dyn Write, r: &StoredAlert) -> io::Result<()> {
    let a = &r.alert;
    let mut fields: Vec<(&str, String)> = vec![
        ("id", r.id.to_string()),
        ("timestamp", a.timestamp.to_eve()),
        ("flow_id", a.flow_id.to_string()),
        (
            "src_ip",
            format!("{} ({})", printable(&r.src_ip), r.src_mode),
        ),
        ("src_port", a.src.port().to_string()),
        ("dest_ip", a.dest.ip().to_string()),
        ("dest_port", a.dest.port().to_string()),
        ("proto", "TCP".into()),
        ("signature_id", a.rule.signature_id.to_string()),
        ("rule", printable(&a.rule.rule)),
        ("signature", printable(&a.rule.signature)),
        ("category", a.rule.category.to_string()),
        ("severity", a.rule.severity.to_string()),
    ];
    if let Some(host) = &r.host {
        // Only imported rows have a host; a local row prints as it always did.
        fields.insert(1, ("host", printable(host)));
    }
    let opt = |v: Option<&str>| v.map(printable).unwrap_or_else(|| "-".into());
    if let Some(h) = &a.http {
        fields.extend([
            ("http.hostname", opt(h.hostname.as_deref())),
            ("http.url", printable(&h.url)),
            ("http.http_method", printable(&h.http_method)),
            (
                "http.status",
                h.status.map_or_else(|| "-".into(), |s| s.to_string()),
            ),
            ("http.http_user_agent", opt(h.http_user_agent.as_deref())),
            ("http.length", h.length.to_string()),
        ]);
    }
    if let Some(u) = &a.upload {
        fields.extend([
            ("upload.filename", opt(u.filename.as_deref())),
            ("upload.content_type", opt(u.content_type.as_deref())),
            ("upload.detected", printable(&u.detected)),
            ("upload.size", u.size.to_string()),
        ]);
    }
    fields.push(("evidence", printable(&a.evidence)));
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in fields {
        writeln!(out, "{key:<width$}  {value}")?;
    }
    Ok(())
}

/// One CSV field: quoted when it holds a comma, quote or line break (RFC 4180), and a
/// leading formula character neutralised with `'` so a spreadsheet shows it as text.
pub fn csv_field(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The header row of the CSV export.
pub fn write_csv_header(out: &mut dyn Write) -> io::Result<()> {
    out.write_all(CSV_COLUMNS.join(",").as_bytes())?;
    out.write_all(b"\r\n")
}

/// One alert as a CSV row ([`CSV_COLUMNS`]); absent fields are empty.
pub fn write_csv_row(out: &mut dyn Write, r: &StoredAlert) -> io::Result<()> {
    let a = &r.alert;
    let h = a.http.as_ref();
    let u = a.upload.as_ref();
    let text = |v: Option<&str>| v.map(csv_field).unwrap_or_default();
    let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    let row: [String; 25] = [
        r.id.to_string(),
        a.timestamp.to_eve(),
        a.flow_id.to_string(),
        csv_field(&r.src_ip),
        a.src.port().to_string(),
        a.dest.ip().to_string(),
        a.dest.port().to_string(),
        "TCP".into(),
        a.rule.signature_id.to_string(),
        csv_field(&a.rule.rule),
        csv_field(&a.rule.signature),
        a.rule.category.to_string(),
        a.rule.severity.to_string(),
        text(h.and_then(|h| h.hostname.as_deref())),
        text(h.map(|h| h.url.as_str())),
        text(h.map(|h| h.http_method.as_str())),
        num(h.and_then(|h| h.status).map(u64::from)),
        text(h.and_then(|h| h.http_user_agent.as_deref())),
        num(h.map(|h| h.length)),
        text(u.and_then(|u| u.filename.as_deref())),
        text(u.and_then(|u| u.content_type.as_deref())),
        text(u.map(|u| u.detected.as_str())),
        num(u.map(|u| u.size)),
        csv_field(&a.evidence),
        text(r.host.as_deref()),
    ];
    out.write_all(row.join(",").as_bytes())?;
    out.write_all(b"\r\n")
}

/// An exported line: the row id, then the EVE event exactly as the event log has it.
#[derive(Serialize)]
struct Exported<'a> {
    id: i64,
    /// Where an imported alert came from (Suricata's EVE `host`, the sensor name).
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(flatten)]
    event: EveAlert<'a>,
}

/// One alert as a JSON line.
pub fn write_jsonl(out: &mut dyn Write, r: &StoredAlert) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &Exported {
            id: r.id,
            host: r.host.as_deref(),
            event: r.eve(),
        },
    )?;
    out.write_all(b"\n")
}

/// The counts of `flagged stats`.
pub fn write_stats(out: &mut dyn Write, s: &Stats) -> io::Result<()> {
    writeln!(out, "alerts: {}", s.total)?;
    let width = |keys: &mut dyn Iterator<Item = usize>| keys.max().unwrap_or(0);
    if !s.by_day.is_empty() {
        writeln!(out, "\nby day (UTC):")?;
        for (day, n) in &s.by_day {
            writeln!(out, "  {day}  {n:>8}")?;
        }
    }
    if !s.by_category.is_empty() {
        writeln!(out, "\nby category:")?;
        let w = width(&mut s.by_category.iter().map(|(c, _)| c.as_str().len()));
        for (c, n) in &s.by_category {
            writeln!(out, "  {:<w$}  {n:>8}", c.as_str())?;
        }
    }
    if !s.by_host.is_empty() {
        writeln!(out, "\nby host:")?;
        let w = width(&mut s.by_host.iter().map(|(h, _)| h.chars().count()));
        for (h, n) in &s.by_host {
            writeln!(out, "  {:<w$}  {n:>8}", printable(h))?;
        }
    }
    if !s.by_rule.is_empty() {
        writeln!(out, "\nby rule:")?;
        let w = width(&mut s.by_rule.iter().map(|r| r.rule.chars().count()));
        for r in &s.by_rule {
            writeln!(
                out,
                "  {:>9}  {:<w$}  {:>8}",
                r.signature_id,
                printable(&r.rule),
                r.count
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_csv_fields_that_need_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn neutralises_spreadsheet_formulas() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-1+2"), "'-1+2");
    }

    #[test]
    fn escapes_terminal_control_characters() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("naïve"), "naïve");
    }

    #[test]
    fn clips_long_text_with_an_ellipsis() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
