//! One alert as one row, both ways.
//!
//! Writing takes an [`Alert`] and the [`AddressPolicy`]; reading gives a [`StoredAlert`]:
//! the alert rebuilt from its columns plus the source as kept (which, hashed, is no
//! longer an address). Nothing is stored that the `Alert` does not hold.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rusqlite::types::Type;
use rusqlite::{params_from_iter, Row, Statement, ToSql};

use super::address::{AddressMode, AddressPolicy, KeptAddress};
use crate::detect::alert::{Alert, AlertHttp, AlertRule, AlertUpload, Category};
use crate::sink::events::EveAlert;
use crate::time::Timestamp;

/// An alert read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    /// The row id (stable; never reused after a purge).
    pub id: i64,
    /// The alert as recorded. Its `src` holds the kept address when that is an address;
    /// for a hashed source it is `0.0.0.0` with the real port: use [`Self::src_ip`].
    pub alert: Alert,
    /// The source as kept: address, network address, or hex token.
    pub src_ip: String,
    /// How the source was kept.
    pub src_mode: AddressMode,
    /// The host an imported alert came from; `None` for one recorded on this machine.
    pub host: Option<String>,
}

impl StoredAlert {
    /// The EVE record of this row, with `src_ip` as kept.
    pub fn eve(&self) -> EveAlert<'_> {
        let mut eve = EveAlert::of(&self.alert);
        eve.src_ip.clone_from(&self.src_ip);
        eve
    }
}

/// The columns read by [`from_row`], in its order.
pub(crate) const SELECT_COLUMNS: &str = "id, ts_us, flow_id, src_ip, src_mode, src_port, \
    dest_ip, dest_port, signature_id, rule, signature, category, severity, http_hostname, \
    http_url, http_method, http_status, http_user_agent, http_length, upload_filename, \
    upload_content_type, upload_detected, upload_size, evidence, host";

pub(crate) const INSERT: &str = "INSERT INTO alerts (ts_us, timestamp, flow_id, src_ip, \
    src_key, src_mode, src_port, dest_ip, dest_port, signature_id, rule, signature, \
    category, severity, http_hostname, http_url, http_method, http_status, \
    http_user_agent, http_length, upload_filename, upload_content_type, upload_detected, \
    upload_size, evidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
    ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)";

/// The insert of `flagged import`: the same columns plus `host` and `import_key`; a
/// line already imported (same key) is ignored, not an error.
pub(crate) const INSERT_IMPORTED: &str = "INSERT OR IGNORE INTO alerts (ts_us, timestamp, \
    flow_id, src_ip, src_key, src_mode, src_port, dest_ip, dest_port, signature_id, rule, \
    signature, category, severity, http_hostname, http_url, http_method, http_status, \
    http_user_agent, http_length, upload_filename, upload_content_type, upload_detected, \
    upload_size, evidence, host, import_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
    ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)";

/// Where an imported row came from and how its source was kept.
pub(crate) struct ImportedOrigin<'a> {
    /// The source as the sending host wrote it, after this store's policy.
    pub src: &'a KeptAddress,
    pub src_mode: AddressMode,
    pub host: &'a str,
    pub import_key: &'a [u8],
}

/// Sizes beyond `i64::MAX` bytes do not occur; they are clamped rather than wrapped.
fn size(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The values of [`INSERT`]'s 25 columns for one alert, in column order: the one
/// binding both inserts share. Computed once per row; the rest borrow the alert.
struct AlertColumns<'a> {
    ts_us: i64,
    timestamp: String,
    /// Flow ids are hashes over the full u64 range: stored bit for bit.
    flow_id: i64,
    src_ip: &'a str,
    src_key: Option<&'a [u8]>,
    src_mode: &'static str,
    src_port: u16,
    dest_ip: String,
    dest_port: u16,
    signature_id: u32,
    rule: &'a str,
    signature: &'a str,
    category: &'static str,
    severity: u8,
    http_hostname: Option<&'a str>,
    http_url: Option<&'a str>,
    http_method: Option<&'a str>,
    http_status: Option<u16>,
    http_user_agent: Option<&'a str>,
    http_length: Option<i64>,
    upload_filename: Option<&'a str>,
    upload_content_type: Option<&'a str>,
    upload_detected: Option<&'a str>,
    upload_size: Option<i64>,
    evidence: &'a str,
}

impl<'a> AlertColumns<'a> {
    /// The columns of `alert` with its source kept as `src` under `src_mode`.
    fn of(alert: &'a Alert, src: &'a KeptAddress, src_mode: AddressMode) -> Self {
        let http = alert.http.as_ref();
        let upload = alert.upload.as_ref();
        AlertColumns {
            ts_us: alert.timestamp.0,
            timestamp: alert.timestamp.to_eve(),
            flow_id: alert.flow_id as i64,
            src_ip: &src.text,
            src_key: src.range_key.as_ref().map(|k| &k[..]),
            src_mode: src_mode.as_str(),
            src_port: alert.src.port(),
            dest_ip: alert.dest.ip().to_string(),
            dest_port: alert.dest.port(),
            signature_id: alert.rule.signature_id,
            rule: &alert.rule.rule,
            signature: &alert.rule.signature,
            category: alert.rule.category.as_str(),
            severity: alert.rule.severity,
            http_hostname: http.and_then(|h| h.hostname.as_deref()),
            http_url: http.map(|h| h.url.as_str()),
            http_method: http.map(|h| h.http_method.as_str()),
            http_status: http.and_then(|h| h.status),
            http_user_agent: http.and_then(|h| h.http_user_agent.as_deref()),
            http_length: http.map(|h| size(h.length)),
            upload_filename: upload.and_then(|u| u.filename.as_deref()),
            upload_content_type: upload.and_then(|u| u.content_type.as_deref()),
            upload_detected: upload.map(|u| u.detected.as_str()),
            upload_size: upload.map(|u| size(u.size)),
            evidence: &alert.evidence,
        }
    }

    /// The values as bound by position (`?1` to `?25`), on the stack.
    fn values(&self) -> [&dyn ToSql; 25] {
        [
            &self.ts_us,
            &self.timestamp,
            &self.flow_id,
            &self.src_ip,
            &self.src_key,
            &self.src_mode,
            &self.src_port,
            &self.dest_ip,
            &self.dest_port,
            &self.signature_id,
            &self.rule,
            &self.signature,
            &self.category,
            &self.severity,
            &self.http_hostname,
            &self.http_url,
            &self.http_method,
            &self.http_status,
            &self.http_user_agent,
            &self.http_length,
            &self.upload_filename,
            &self.upload_content_type,
            &self.upload_detected,
            &self.upload_size,
            &self.evidence,
        ]
    }
}

/// Inserts one alert with a prepared [`INSERT`]; returns the new row id.
pub(crate) fn insert(
    stmt: &mut Statement<'_>,
    alert: &Alert,
    policy: &AddressPolicy,
) -> rusqlite::Result<i64> {
    let src = policy.apply(alert.src.ip());
    let columns = AlertColumns::of(alert, &src, policy.mode());
    stmt.insert(params_from_iter(columns.values()))
}

/// Inserts one imported alert with a prepared [`INSERT_IMPORTED`]; returns whether it
/// was new (`false`: the same line from the same host is already stored).
pub(crate) fn insert_imported(
    stmt: &mut Statement<'_>,
    alert: &Alert,
    origin: &ImportedOrigin<'_>,
) -> rusqlite::Result<bool> {
    let columns = AlertColumns::of(alert, origin.src, origin.src_mode);
    let origin_columns: [&dyn ToSql; 2] = [&origin.host, &origin.import_key];
    let n = stmt.execute(params_from_iter(
        columns.values().into_iter().chain(origin_columns),
    ))?;
    Ok(n == 1)
}

fn invalid(index: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, what.into())
}

/// Rebuilds a row selected with [`SELECT_COLUMNS`].
pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredAlert> {
    let src_ip: String = row.get(3)?;
    let src_mode: String = row.get(4)?;
    let src_mode = src_mode.parse::<AddressMode>().map_err(|e| invalid(4, e))?;
    let src_port: u16 = row.get(5)?;
    let src_addr = src_ip
        .parse::<IpAddr>()
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let dest_ip: String = row.get(6)?;
    let dest_ip = dest_ip
        .parse::<IpAddr>()
        .map_err(|_| invalid(6, format!("`{dest_ip}` is not an address")))?;
    let category: String = row.get(11)?;
    let category = Category::parse(&category)
        .ok_or_else(|| invalid(11, format!("unknown category `{category}`")))?;
    let length = |i| -> rusqlite::Result<Option<u64>> {
        Ok(row
            .get::<_, Option<i64>>(i)?
            .map(|v| u64::try_from(v).unwrap_or(0)))
    };
    let http = match row.get::<_, Option<String>>(14)? {
        Some(url) => Some(AlertHttp {
            hostname: row.get(13)?,
            url,
            http_method: row.get::<_, Option<String>>(15)?.unwrap_or_default(),
            status: row.get(16)?,
            http_user_agent: row.get(17)?,
            length: length(18)?.unwrap_or(0),
        }),
        None => None,
    };
    let upload = match row.get::<_, Option<String>>(21)? {
        Some(detected) => Some(AlertUpload {
            filename: row.get(19)?,
            content_type: row.get(20)?,
            detected,
            size: length(22)?.unwrap_or(0),
        }),
        None => None,
    };
    Ok(StoredAlert {
        id: row.get(0)?,
        alert: Alert {
            timestamp: Timestamp(row.get(1)?),
            flow_id: row.get::<_, i64>(2)? as u64,
            src: SocketAddr::new(src_addr, src_port),
            dest: SocketAddr::new(dest_ip, row.get(7)?),
            rule: AlertRule {
                signature_id: row.get(8)?,
                rule: row.get(9)?,
                signature: row.get(10)?,
                category,
                severity: row.get(12)?,
            },
            http,
            upload,
            evidence: row.get(23)?,
            crs: None,
        },
        src_ip,
        src_mode,
        host: row.get(24)?,
    })
}
