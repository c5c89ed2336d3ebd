//! The one table of HTTP methods the monitor knows by name.
//!
//! The request-line parser (which versionless lines are HTTP/0.9 requests, which partial
//! lines may begin a request when resynchronising), the metrics (which methods get a
//! label of their own) and the policy (which methods change content) all read this
//! table, so they cannot disagree. The entries are RFC 9110 §9 (plus PATCH, RFC 5789),
//! WebDAV (RFC 4918) and WebDAV SEARCH (RFC 5323). Names are case-sensitive (RFC 9110
//! §9.1): `get` is not `GET`.
//!
//! Before this table there were three lists, and where they disagreed this is how it
//! was settled:
//! - SEARCH was known to the parser (a versionless `SEARCH /x` line was HTTP/0.9, and
//!   resync waited for a split `SEARCH` line) but counted as `other` by the metrics. It
//!   is a registered method (RFC 5323), so it stays known and now has its own `method`
//!   label (18 label values instead of 17).
//! - The policy's write methods (PUT, DELETE, PATCH, PROPPATCH, MKCOL, COPY, MOVE, LOCK,
//!   UNLOCK) were a list of their own; they are now the table's `writes` flag, which is
//!   exactly the unsafe methods (RFC 9110 §9.2.1, RFC 4918) less POST and CONNECT, the
//!   same set. SEARCH and PROPFIND are safe, so not writes.
//! - The metrics and parser matched case-sensitively; body framing compared HEAD and
//!   CONNECT in any case. Framing keeps its any-case reading
//!   ([`Method::parse_ignore_case`]) so no stream is framed differently; everything that
//!   classifies a request is case-sensitive.

/// What the table says about one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method as sent on the wire.
    pub name: &'static str,
    /// Safe: read-only by definition (RFC 9110 §9.2.1, RFC 4918 §9.1, RFC 5323 §2).
    pub safe: bool,
    /// Changes stored content or its metadata by definition: every unsafe method except
    /// POST (whose effect is whatever the resource says; the policy judges it by path)
    /// and CONNECT (opens a tunnel, changes nothing on the server).
    pub writes: bool,
}

/// A method the table knows; the discriminant is the index into [`Method::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Connect,
    Trace,
    Propfind,
    Proppatch,
    Mkcol,
    Copy,
    Move,
    Lock,
    Unlock,
    Search,
}

const fn info(name: &'static str, safe: bool, writes: bool) -> MethodInfo {
    MethodInfo { name, safe, writes }
}

/// The table, in [`Method`] order (the metrics label order).
const TABLE: [MethodInfo; 17] = [
    info("GET", true, false),
    info("HEAD", true, false),
    info("POST", false, false),
    info("PUT", false, true),
    info("DELETE", false, true),
    info("PATCH", false, true),
    info("OPTIONS", true, false),
    info("CONNECT", false, false),
    info("TRACE", true, false),
    info("PROPFIND", true, false),
    info("PROPPATCH", false, true),
    info("MKCOL", false, true),
    info("COPY", false, true),
    info("MOVE", false, true),
    info("LOCK", false, true),
    info("UNLOCK", false, true),
    info("SEARCH", true, false),
];

/// The metrics label of a method the table does not know.
pub const OTHER_LABEL: &str = "other";

/// Metric label values: every method's name in table order, then [`OTHER_LABEL`].
pub const LABELS: [&str; TABLE.len() + 1] = {
    let mut out = [OTHER_LABEL; TABLE.len() + 1];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].name;
        i += 1;
    }
    out
};

impl Method {
    /// Every method, in table order.
    pub const ALL: [Method; 17] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
        Method::Connect,
        Method::Trace,
        Method::Propfind,
        Method::Proppatch,
        Method::Mkcol,
        Method::Copy,
        Method::Move,
        Method::Lock,
        Method::Unlock,
        Method::Search,
    ];

    /// The method named `name`, case-sensitively (RFC 9110 §9.1).
    pub fn parse(name: &str) -> Option<Method> {
        Self::parse_bytes(name.as_bytes())
    }

    /// As [`Method::parse`], for bytes off the wire.
    pub fn parse_bytes(name: &[u8]) -> Option<Method> {
        Method::ALL
            .iter()
            .copied()
            .find(|m| m.name().as_bytes() == name)
    }

    /// The method named `name` in any case. Only for framing decisions taken the
    /// lenient way (a `head` request's answer read as bodiless); everything that
    /// classifies a request uses [`Method::parse`].
    pub fn parse_ignore_case(name: &str) -> Option<Method> {
        Method::ALL
            .iter()
            .copied()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The table's entry for this method.
    pub fn info(self) -> &'static MethodInfo {
        &TABLE[self as usize]
    }

    /// The method as sent on the wire.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether the method changes content by definition (see [`MethodInfo::writes`]).
    pub fn writes(self) -> bool {
        self.info().writes
    }

    /// Whether the method is safe (see [`MethodInfo::safe`]).
    pub fn is_safe(self) -> bool {
        self.info().safe
    }

    /// Index into [`LABELS`] of the method named `name`; unknown names get the index of
    /// [`OTHER_LABEL`].
    pub fn label_index(name: &str) -> usize {
        Method::parse(name).map_or(LABELS.len() - 1, |m| m as usize)
    }
}

/// Whether `name` is a method that changes content by definition (case-sensitive).
pub fn is_write_method(name: &str) -> bool {
    Method::parse(name).is_some_and(Method::writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_order_is_table_order() {
        for (i, m) in Method::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i, "{m:?}");
            assert_eq!(LABELS[i], m.name());
            assert_eq!(Method::parse(m.name()), Some(*m));
        }
        assert_eq!(LABELS[LABELS.len() - 1], OTHER_LABEL);
    }

    #[test]
    fn names_are_distinct_tokens() {
        for (i, a) in TABLE.iter().enumerate() {
            assert!(a.name.bytes().all(crate::http::parse::is_token_char));
            assert!(a.name.bytes().all(|b| !b.is_ascii_lowercase()));
            for b in &TABLE[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn write_methods_are_unsafe() {
        for m in Method::ALL {
            assert!(!(m.writes() && m.is_safe()), "{m:?}");
        }
        // RFC 9110 §9.2.1: exactly these four of its own methods are safe.
        let safe_9110: Vec<&str> = [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Connect,
            Method::Options,
            Method::Trace,
        ]
        .iter()
        .filter(|m| m.is_safe())
        .map(|m| m.name())
        .collect();
        assert_eq!(safe_9110, ["GET", "HEAD", "OPTIONS", "TRACE"]);
    }

    #[test]
    fn case_sensitive_lookup() {
        assert_eq!(Method::parse("GET"), Some(Method::Get));
        assert_eq!(Method::parse("get"), None);
        assert_eq!(Method::parse_ignore_case("get"), Some(Method::Get));
        assert_eq!(Method::parse("BREW"), None);
        assert_eq!(Method::label_index("BREW"), LABELS.len() - 1);
        assert!(is_write_method("PUT"));
        assert!(!is_write_method("put"));
        assert!(!is_write_method("POST"));
    }

    fn txn(method: &str) -> crate::http::HttpTransaction {
        crate::http::HttpTransaction::with_request(method, "/x", &[])
    }

    /// Every user of method names answers as the table does, for every entry and for
    /// names the table does not hold: the table is the single source.
    #[test]
    fn every_user_agrees_with_the_table() {
        use crate::detect::fields::{Field, FieldValues};
        use crate::detect::policy::Policy;
        use crate::http::parse::{could_begin_request_line, parse_request_head};
        use crate::sink::metrics::{method_index, METHODS};

        let policy = Policy::default();
        let policy_says_write = |name: &str| {
            let t = txn(name);
            let mut values = FieldValues::extract(&t, &[]);
            policy.judge(&t, &mut values);
            values
                .get(Field::Policy)
                .iter()
                .any(|v| v.bytes == b"write_method")
        };
        let names = TABLE
            .iter()
            .map(|e| (e.name, Some(e)))
            .chain(["get", "BREW", "VERSION-CONTROL", "POSTX"].map(|n| (n, None)));
        for (name, entry) in names {
            // The request-line parser: a versionless line is HTTP/0.9 only for a known
            // method. Resync is not the table's: it carries a partial line of any
            // uppercase method, as it finds whole lines of any (servers take them).
            let versionless = parse_request_head(format!("{name} /x\r\n\r\n").as_bytes());
            assert_eq!(versionless.is_ok(), entry.is_some(), "0.9 line of {name}");
            assert_eq!(
                could_begin_request_line(format!("{name} /").as_bytes()),
                name.starts_with(|c: char| c.is_ascii_uppercase()),
                "resync of {name}"
            );
            // The metrics: a label of its own exactly for table entries.
            let label = METHODS[method_index(name)];
            assert_eq!(
                label,
                entry.map_or(OTHER_LABEL, |e| e.name),
                "metrics of {name}"
            );
            // The policy: `write_method` exactly for the table's write methods.
            assert_eq!(
                policy_says_write(name),
                entry.is_some_and(|e| e.writes),
                "policy of {name}"
            );
        }
    }
}
