//! `inspect` output: one JSON line per HTTP transaction, named as Zeek's http.log
//! names its columns so the two can be compared field by field.

use std::io::Write;

use serde::Serialize;

use crate::http::uri::percent_decode;
use crate::http::HttpTransaction;
use crate::observe::TransactionObserver;

/// One transaction in Zeek's http.log vocabulary.
#[derive(Debug, Serialize)]
pub struct InspectRecord<'a> {
    pub ts: f64,
    pub flow_id: u64,
    pub src_ip: String,
    pub src_port: u16,
    pub dest_ip: String,
    pub dest_port: u16,
    pub trans_depth: u32,
    pub method: Option<&'a str>,
    pub host: Option<&'a str>,
    /// The request target percent-decoded once, as Zeek logs it.
    pub uri: Option<String>,
    /// The request target exactly as sent.
    pub uri_raw: Option<&'a str>,
    pub version: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_body_len: u64,
    pub response_body_len: u64,
    pub status_code: Option<u16>,
    pub status_msg: Option<&'a str>,
    pub info_code: Option<u16>,
    pub orig_filenames: Vec<&'a str>,
    pub orig_mime_types: Vec<&'a str>,
    pub orig_detected_types: Vec<&'static str>,
}

impl<'a> InspectRecord<'a> {
    /// The record for one transaction.
    pub fn from_transaction(t: &'a HttpTransaction) -> Self {
        let req = t.request.as_ref();
        let resp = t.response.as_ref();
        let headless = t.flags.headless_response;
        let files = t.uploads.iter().filter(|u| u.filename.is_some());
        InspectRecord {
            ts: t.ts.0 as f64 / 1e6,
            flow_id: t.flow_id,
            src_ip: t.client.ip().to_string(),
            src_port: t.client.port(),
            dest_ip: t.server.ip().to_string(),
            dest_port: t.server.port(),
            trans_depth: t.trans_depth,
            method: req.map(|r| r.method.as_str()),
            host: t.request_header("host"),
            uri: req
                .map(|r| String::from_utf8_lossy(&percent_decode(r.uri.as_bytes())).into_owned()),
            uri_raw: req.map(|r| r.uri.as_str()),
            // As in Zeek: the version of the reply; "0.9" for a reply without a status line.
            version: if headless {
                Some("0.9")
            } else {
                resp.map(|r| r.version.as_str())
            },
            user_agent: t.request_header("user-agent"),
            request_body_len: t.request_body_len,
            response_body_len: t.response_body_len,
            status_code: if headless {
                Some(0)
            } else {
                resp.map(|r| r.status)
            },
            status_msg: resp.map(|r| r.reason.as_str()),
            info_code: t.info_code,
            orig_filenames: files
                .clone()
                .filter_map(|u| u.filename.as_deref())
                .collect(),
            orig_mime_types: files
                .clone()
                .filter_map(|u| u.content_type.as_deref())
                .collect(),
            orig_detected_types: files.map(|u| u.detected.as_str()).collect(),
        }
    }
}

/// Writes each transaction as a JSON line.
pub struct InspectLog<W: Write> {
    out: W,
    /// The first write error; later writes are skipped (e.g. a closed pipe).
    pub error: Option<std::io::Error>,
}

impl<W: Write> InspectLog<W> {
    /// A log writing to `out`.
    pub fn new(out: W) -> Self {
        InspectLog { out, error: None }
    }

    /// Flushes and returns the first error, if any.
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

impl<W: Write> TransactionObserver for InspectLog<W> {
    fn on_transaction(&mut self, txn: &HttpTransaction) {
        if self.error.is_some() {
            return;
        }
        let record = InspectRecord::from_transaction(txn);
        let result = serde_json::to_writer(&mut self.out, &record)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}
