//! Extraction: a transaction's fields filled into reused storage, once per
//! transaction (see the parent module for what each field holds).

use super::decimal::{decimal, MAX_DECIMAL_DIGITS};
use super::lowercase::eq_ignore_case;
use super::names::type_mismatch;
use super::{
    extension, Field, FieldSet, FieldValues, KeepAll, PooledValues, ValueFilter, MAX_PARAMS,
};
use crate::detect::normalize::{self, decode, resolve_path, split_target};
use crate::detect::readings;
use crate::http::{HttpTransaction, RequestHead};

impl FieldValues {
    /// Extracts every field of a transaction; `headers` are the header names rules use.
    ///
    /// The values live in reused per-thread storage ([`PooledValues`]): after the first
    /// transactions of a thread, extraction allocates only for what grows.
    pub fn extract(txn: &HttpTransaction, headers: &[String]) -> PooledValues {
        FieldValues::extract_for(txn, headers, &FieldSet::ALL)
    }

    /// Extracts the fields in `read` (and the labels the policy adds later): a rule
    /// set reads a third of the fields, and a value no rule reads is not copied.
    pub fn extract_for(txn: &HttpTransaction, headers: &[String], read: &FieldSet) -> PooledValues {
        FieldValues::extract_filtered(txn, headers, read, &KeepAll)
    }

    /// [`FieldValues::extract_for`], leaving out the header names and values `filter`
    /// says no test can hit.
    pub fn extract_filtered(
        txn: &HttpTransaction,
        headers: &[String],
        read: &FieldSet,
        filter: &impl ValueFilter,
    ) -> PooledValues {
        let mut v = PooledValues::take(Field::fixed_slots(), headers.len());
        v.keep_only(read);
        v.src = Some(txn.client.ip());
        let mut digits = [0u8; MAX_DECIMAL_DIGITS];
        if let Some(status) = txn.status() {
            v.push(Field::Status, decimal(u64::from(status), &mut digits), None);
        }
        let Some(req) = txn.request.as_ref() else {
            return v;
        };
        v.fill_request(txn, req, headers, filter);
        v
    }

    /// The request's fields (see [`FieldValues::extract`]).
    fn fill_request(
        &mut self,
        txn: &HttpTransaction,
        req: &RequestHead,
        headers: &[String],
        filter: &impl ValueFilter,
    ) {
        let v = self;
        let mut digits = [0u8; MAX_DECIMAL_DIGITS];
        v.push(Field::Method, req.method.as_bytes(), None);
        // Any Content-Type reading that makes the body a form (see readings).
        let form = req.headers.iter().any(|h| {
            eq_ignore_case(h.name.as_bytes(), b"content-type")
                && starts_with_ignore_case(h.value.trim_start(), FORM_CONTENT_TYPE)
        });
        // Parameters decoded into this storage's spare pairs (given back at the end).
        let mut body_store = std::mem::take(&mut v.body_params);
        let body_len = if form && !txn.body_prefix.is_empty() {
            normalize::params_into(&txn.body_prefix, MAX_PARAMS, &mut body_store)
        } else {
            0
        };
        let body_params = body_store.get(..body_len).unwrap_or_default();
        let target = readings::target(req.uri.as_bytes());
        let (path, query) = split_target(target.origin);
        let mut query_store = std::mem::take(&mut v.query_params);
        let query_len = query.map_or(0, |q| {
            normalize::params_into(q, MAX_PARAMS, &mut query_store)
        });
        let query_params = query_store.get(..query_len).unwrap_or_default();
        v.read_methods(txn, query_params, body_params);
        v.effective_method.clear();
        v.effective_method
            .push_str(v.methods.first().map_or("", String::as_str));
        // Whether some reading is not the method as sent (one comparison each, for the
        // effective method's values and the `method_override` anomaly).
        let overridden = v
            .methods
            .iter()
            .any(|m| !eq_ignore_case(req.method.as_bytes(), m.as_bytes()));
        v.push_methods(
            Field::EffectiveMethod,
            Field::Method,
            req.method.as_bytes(),
            overridden,
        );
        v.push(Field::UriRaw, req.uri.as_bytes(), None);
        v.push(Field::PathRaw, path, None);
        // Most paths are their own decoding and already resolved: then no copy.
        let plain = normalize::decodes_to_itself(path, false);
        let decoded = if plain {
            normalize::Decoded::default()
        } else {
            decode(path, false)
        };
        let decoded_text: &[u8] = if plain { path } else { &decoded.text };
        let resolved_copy;
        let already = normalize::is_resolved(decoded_text);
        let (resolved, escaped): (&[u8], bool) = if already {
            (decoded_text, false)
        } else {
            resolved_copy = resolve_path(decoded_text);
            (&resolved_copy.0, resolved_copy.1)
        };
        v.push(Field::PathDecoded, decoded_text, None);
        if already {
            // The same bytes: the normalized path shares the decoded one's copy.
            v.push_again(Field::PathNormalized, Field::PathDecoded, resolved);
        } else {
            v.push(Field::PathNormalized, resolved, None);
        }
        if let Some(ext) = extension(resolved) {
            v.push(Field::PathExtension, ext, None);
        }
        v.path.clear();
        v.path.extend_from_slice(resolved);
        let mut anomalies: Vec<&str> = readings::ambiguities(req, &v.methods);
        let over_params = |b: &[u8]| normalize::params_over(b, MAX_PARAMS);
        if query.is_some_and(over_params) || (form && over_params(&txn.body_prefix)) {
            anomalies.push("params_over_cap");
        }
        if txn.flags.multipart_over_cap {
            anomalies.push("multipart_over_cap");
        }
        if let Some(authority) = target.authority {
            anomalies.push("absolute_uri");
            v.push(Field::Host, authority, None);
        }
        if escaped {
            anomalies.push("path_escapes_root");
        }
        let note = |d: &normalize::Decoded, anomalies: &mut Vec<&str>| {
            if d.rounds >= 2 {
                anomalies.push("double_encoding");
            }
            if d.had_nul {
                anomalies.push("nul_byte");
            }
            if d.had_overlong {
                anomalies.push("overlong_utf8");
            }
            if d.had_percent_u {
                anomalies.push("percent_u_encoding");
            }
        };
        note(&decoded, &mut anomalies);
        for (name, value) in query_params {
            note(name, &mut anomalies);
            note(value, &mut anomalies);
            v.push(Field::QueryNames, &name.text, None);
            v.push_value_forms(Field::QueryValues, &value.text);
        }
        for h in &req.headers {
            // Pushed values are lowercased: the pushed name is the lowercase name.
            // Names and values no test can hit are left out (most of a browser's).
            let value = h.value.as_bytes();
            if v.wanted(Field::HeaderNames) && filter.may_hit(Field::HeaderNames, h.name.as_bytes())
            {
                v.push(Field::HeaderNames, h.name.as_bytes(), None);
            }
            let kept = v.wanted(Field::HeaderValues) && filter.may_hit(Field::HeaderValues, value);
            if kept {
                v.push(Field::HeaderValues, value, None);
            }
            // A header's own field shares the header value's copy when it was kept.
            let again = |v: &mut FieldValues, f: Field| {
                if kept {
                    v.push_again(f, Field::HeaderValues, value);
                } else {
                    v.push(f, value, None);
                }
            };
            let name = h.name.as_str();
            if let Some(i) = headers
                .iter()
                .position(|n| eq_ignore_case(n.as_bytes(), name.as_bytes()))
            {
                if let Ok(i) = u16::try_from(i) {
                    again(v, Field::Header(i));
                }
            }
            // Told apart by length first: most names are none of these.
            let is = |known: &str| eq_ignore_case(name.as_bytes(), known.as_bytes());
            let field = match name.len() {
                10 if is("user-agent") => Some(Field::UserAgent),
                4 if is("host") => Some(Field::Host),
                12 if is("content-type") => Some(Field::RequestContentType),
                _ => None,
            };
            if let Some(f) = field {
                again(v, f);
            }
        }
        v.push(
            Field::RequestBodyLen,
            decimal(txn.request_body_len, &mut digits),
            None,
        );
        for (name, value) in body_params {
            v.push(Field::BodyNames, &name.text, None);
            v.push_value_forms(Field::BodyValues, &value.text);
        }
        if !txn.body_prefix.is_empty() && txn.uploads.is_empty() && v.wanted(Field::Body) {
            let body = decode(&txn.body_prefix, form);
            v.push_value_forms(Field::Body, &body.text);
        }
        for (i, part) in txn.uploads.iter().enumerate() {
            if part.filename.is_none() {
                continue;
            }
            if part.ambiguous_filename {
                v.push(Field::Anomaly, b"ambiguous_filename", Some(i));
            }
            let mut mismatch = false;
            for name in part.filenames() {
                let name_decoded = decode(name.as_bytes(), false);
                note(&name_decoded, &mut anomalies);
                if memchr::memmem::find(&name_decoded.text, b"../").is_some()
                    || name_decoded.text.starts_with(b"/")
                {
                    v.push(Field::Anomaly, b"upload_filename_traversal", Some(i));
                }
                let base = name_decoded
                    .text
                    .rsplit(|&b| b == b'/')
                    .next()
                    .unwrap_or_default();
                v.push(Field::UploadFilename, base, Some(i));
                if let Some(ext) = extension(base) {
                    v.push(Field::UploadExtension, ext, Some(i));
                }
                for ext in base.split(|&b| b == b'.').skip(1).filter(|e| !e.is_empty()) {
                    v.push(Field::UploadExtensions, ext, Some(i));
                }
                mismatch |= type_mismatch(base, part.content_type.as_deref(), part.detected);
            }
            if let Some(ct) = part.content_type.as_deref() {
                v.push(Field::UploadContentType, ct.as_bytes(), Some(i));
            }
            v.push(
                Field::UploadDetected,
                part.detected.as_str().as_bytes(),
                Some(i),
            );
            v.push(Field::UploadSize, decimal(part.size, &mut digits), Some(i));
            v.push(Field::UploadContent, &part.prefix, Some(i));
            if mismatch {
                v.push(Field::Anomaly, b"upload_type_mismatch", Some(i));
            }
        }
        if txn.flags.answered_before_body {
            anomalies.push("answered_before_body");
        }
        if txn.flags.request_overlap_conflict {
            anomalies.push("stream_overlap_conflict");
        }
        if overridden {
            anomalies.push("method_override");
        }
        anomalies.sort_unstable();
        anomalies.dedup();
        for a in anomalies {
            v.push_label(Field::Anomaly, a);
        }
        v.query_params = query_store;
        v.body_params = body_store;
    }
}

/// The Content-Type (prefix) that makes a request body a urlencoded form.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Whether `s` starts with `prefix`, ASCII case ignored.
fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}
