//! The site policy: who may change what, and where uploads are sanctioned.
//!
//! Its verdicts become `policy` labels that rules test, so what is flagged stays in
//! the rule files while the policy says only what is allowed. A method that changes
//! content (PUT, DELETE, PATCH, WebDAV writes — or POST to a protected path) from a
//! source no `authorized` entry covers is `unauthorized_change`; an empty policy means
//! nobody may change content over HTTP.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;

use super::fields::{extension, Field, FieldValues};
use crate::config::PolicyConfig;
use crate::http::method::is_write_method;
use crate::http::HttpTransaction;

/// The compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    authorized: Vec<Grant>,
    uploads: Vec<Endpoint>,
    public: Vec<String>,
    /// Each public endpoint as a directory prefix (`/api/` for `/api` or `/api/`),
    /// made once rather than per request.
    public_dirs: Vec<String>,
    protected: Vec<String>,
}

#[derive(Debug, Clone)]
struct Grant {
    sources: Vec<IpNet>,
    methods: Vec<String>,
    paths: Vec<String>,
}

#[derive(Debug, Clone)]
struct Endpoint {
    path: String,
    extensions: Vec<String>,
    max_bytes: u64,
}

impl Policy {
    /// Compiles the policy section of the configuration.
    pub fn new(cfg: &PolicyConfig) -> Self {
        let authorized: Vec<Grant> = cfg
            .authorized
            .iter()
            .map(|a| Grant {
                sources: a.sources.clone(),
                methods: a.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
                paths: a.paths.clone(),
            })
            .collect();
        let protected = authorized
            .iter()
            .flat_map(|g| g.paths.iter().cloned())
            .collect();
        Policy {
            authorized,
            uploads: cfg
                .upload_endpoints
                .iter()
                .map(|e| Endpoint {
                    path: e.path.clone(),
                    extensions: e
                        .extensions
                        .iter()
                        .map(|x| x.to_ascii_lowercase())
                        .collect(),
                    max_bytes: e.max_bytes,
                })
                .collect(),
            public: cfg.public_endpoints.clone(),
            public_dirs: cfg
                .public_endpoints
                .iter()
                .map(|p| format!("{}/", p.trim_end_matches('/')))
                .collect(),
            protected,
        }
    }

    /// Adds this transaction's policy labels to its field values.
    pub fn judge(&self, txn: &HttpTransaction, values: &mut FieldValues) {
        if txn.request.is_none() {
            return;
        }
        let method = values.effective_method.as_str();
        // Only entries look at the path: an empty policy needs no text of it, and a
        // valid one (nearly every path) is borrowed as it is.
        let path: Cow<'_, str> = if self.reads_paths() {
            match std::str::from_utf8(&values.path) {
                Ok(p) => Cow::Borrowed(p),
                Err(_) => String::from_utf8_lossy(&values.path),
            }
        } else {
            Cow::Borrowed("")
        };
        let src = txn.client.ip();
        let has_files = txn.uploads.iter().any(|u| u.filename.is_some());
        let protected = self.protected.iter().any(|p| path.starts_with(p.as_str()));
        let public = self
            .public
            .iter()
            .zip(&self.public_dirs)
            .any(|(p, dir)| path == *p || path.starts_with(dir.as_str()));
        let endpoint = self.uploads.iter().find(|e| path == e.path);
        // Every method reading is judged (a framework may honour any override); the
        // policy grants only when it grants every reading.
        let readings: &[String] = if values.methods.is_empty() {
            std::slice::from_ref(&values.effective_method)
        } else {
            &values.methods
        };
        let write_method = readings.iter().any(|m| is_write_method(m));
        let authorized = readings.iter().all(|m| self.is_authorized(src, m, &path));
        let unauthorized = readings.iter().any(|m| {
            let post_change = m == "POST" && protected && !public && endpoint.is_none();
            (is_write_method(m) || post_change) && !self.is_authorized(src, m, &path)
        });
        let mut labels = Labels::default();
        if write_method {
            labels.push("write_method");
        }
        if protected {
            labels.push("protected_path");
        }
        if authorized {
            labels.push("authorized");
        }
        if unauthorized {
            labels.push("unauthorized_change");
        }
        let uploads_here = has_files || (method == "PUT" && txn.request_body_len > 0);
        match endpoint {
            Some(ep) if uploads_here || method == "POST" => {
                labels.push("upload_endpoint");
                if txn.request_body_len > ep.max_bytes {
                    labels.push("upload_too_large");
                }
                let bad_ext = txn.uploads.iter().flat_map(|u| u.filenames()).any(|name| {
                    let ext = extension(name.as_bytes())
                        .map(|e| e.to_ascii_lowercase())
                        .unwrap_or_default();
                    !ep.extensions
                        .iter()
                        .any(|allowed| allowed.as_bytes() == ext.as_slice())
                });
                if bad_ext {
                    labels.push("upload_bad_extension");
                }
            }
            Some(_) => {}
            None if uploads_here && !authorized => labels.push("upload_outside_endpoint"),
            None => {}
        }
        for l in labels.iter() {
            values.push_label(Field::Policy, l);
        }
    }

    /// Whether some entry compares paths (else no verdict depends on the path).
    fn reads_paths(&self) -> bool {
        !(self.authorized.is_empty()
            && self.protected.is_empty()
            && self.public.is_empty()
            && self.uploads.is_empty())
    }

    fn is_authorized(&self, src: IpAddr, method: &str, path: &str) -> bool {
        self.authorized.iter().any(|g| {
            g.sources.iter().any(|n| n.contains(&src))
                && g.methods.iter().any(|m| m == method)
                && g.paths.iter().any(|p| path.starts_with(p.as_str()))
        })
    }
}

/// Labels one transaction can get: write method, protected path, authorized,
/// unauthorized change, and three about its upload.
const MAX_LABELS: usize = 8;

/// One transaction's policy labels, in order, without an allocation.
#[derive(Debug, Default)]
struct Labels {
    list: [&'static str; MAX_LABELS],
    len: usize,
}

impl Labels {
    fn push(&mut self, label: &'static str) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = label;
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.list.iter().take(self.len).copied()
    }
}
