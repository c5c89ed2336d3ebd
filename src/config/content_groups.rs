//! `policy.content_groups`: path prefix → metrics label, checked once here by the one
//! rule set every command applies (`rules check`, `run`, `replay`). The metrics and
//! statistics sinks build their classifier from a [`ContentGroupMap`] and cannot see an
//! unchecked one, so a label can never come from traffic and the set stays bounded.

/// Most prefixes a configuration may name.
pub const MAX_CONTENT_GROUPS: usize = 64;
/// Longest label a group may have.
pub const MAX_GROUP_LABEL_BYTES: usize = 64;
/// Longest prefix a group may have.
pub const MAX_GROUP_PREFIX_BYTES: usize = 256;

/// Checked content groups, in configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentGroupMap {
    entries: Vec<(String, String)>,
}

impl ContentGroupMap {
    /// Checks prefix → label pairs: at most [`MAX_CONTENT_GROUPS`], each prefix an
    /// absolute path of at most [`MAX_GROUP_PREFIX_BYTES`] named once, each label
    /// `[a-z0-9_]` of 1 to [`MAX_GROUP_LABEL_BYTES`] bytes. The error is the reason,
    /// prefixed with the configuration key.
    pub fn new<I, P, L>(entries: I) -> Result<ContentGroupMap, String>
    where
        I: IntoIterator<Item = (P, L)>,
        P: Into<String>,
        L: Into<String>,
    {
        const KEY: &str = "policy.content_groups";
        let mut map = ContentGroupMap::default();
        for (prefix, label) in entries {
            let (prefix, label) = (prefix.into(), label.into());
            if map.entries.len() == MAX_CONTENT_GROUPS {
                return Err(format!(
                    "{KEY}: at most {MAX_CONTENT_GROUPS} groups (metrics labels must stay bounded)"
                ));
            }
            if !prefix.starts_with('/') {
                return Err(format!("{KEY}: {prefix:?} must start with '/'"));
            }
            if prefix.len() > MAX_GROUP_PREFIX_BYTES {
                return Err(format!(
                    "{KEY}: prefix {prefix:?} is longer than {MAX_GROUP_PREFIX_BYTES} bytes"
                ));
            }
            if !is_valid_label(&label) {
                return Err(format!(
                    "{KEY}: label {label:?} must match [a-z0-9_]+ (at most {MAX_GROUP_LABEL_BYTES} bytes)"
                ));
            }
            if map.entries.iter().any(|(p, _)| *p == prefix) {
                return Err(format!("{KEY}: prefix {prefix:?} is named twice"));
            }
            map.entries.push((prefix, label));
        }
        Ok(map)
    }

    /// The (prefix, label) pairs, in configured order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(p, l)| (p.as_str(), l.as_str()))
    }

    /// How many groups are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no group is configured (everything counts as `other`).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `[a-z0-9_]{1,64}`: safe as a label value and unmistakably not a path.
fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_GROUP_LABEL_BYTES
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_labels() {
        for label in [
            "",
            "Permits",
            "per-mits",
            "a b",
            "ü",
            "/x/",
            &"a".repeat(MAX_GROUP_LABEL_BYTES + 1),
        ] {
            let err = ContentGroupMap::new([("/x/", label)]).expect_err(label);
            assert!(err.contains("must match [a-z0-9_]+"), "{label}: {err}");
        }
        assert!(ContentGroupMap::new([("/x/", "a_1")]).is_ok());
        assert!(ContentGroupMap::new([("/x/", "a".repeat(MAX_GROUP_LABEL_BYTES))]).is_ok());
    }

    #[test]
    fn rejects_bad_long_and_duplicate_prefixes() {
        let err = ContentGroupMap::new([("permits/", "permits")]).expect_err("relative");
        assert!(err.contains("must start with '/'"), "{err}");
        let long = format!("/{}", "a".repeat(MAX_GROUP_PREFIX_BYTES));
        let err = ContentGroupMap::new([(long.as_str(), "a")]).expect_err("long");
        assert!(err.contains("longer than"), "{err}");
        let err = ContentGroupMap::new([("/a/", "a"), ("/a/", "b")]).expect_err("duplicate");
        assert!(err.contains("named twice"), "{err}");
    }

    #[test]
    fn caps_the_number_of_groups() {
        let entries = |n: usize| (0..n).map(|i| (format!("/g{i}/"), format!("g{i}")));
        let full = ContentGroupMap::new(entries(MAX_CONTENT_GROUPS)).expect("at the cap");
        assert_eq!(full.len(), MAX_CONTENT_GROUPS);
        let err = ContentGroupMap::new(entries(MAX_CONTENT_GROUPS + 1)).expect_err("too many");
        assert!(err.contains("at most 64 groups"), "{err}");
    }
}
