//! Content groups: the configured path prefixes a request's path is counted under.
//!
//! The site's configuration maps path prefixes to labels (`/permits/: permits`); a
//! request is counted under the label of the longest prefix its path starts with, or
//! `other`. The path itself never becomes a label, so the set of values is bounded by
//! the configuration, which checks it once (`config::content_groups`): at most
//! `MAX_CONTENT_GROUPS` prefixes, each label `[a-z0-9_]{1,64}`.

use super::names::OTHER;
use crate::config::ContentGroupMap;

/// Validated path prefixes and their labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentGroups {
    /// (prefix, index into `labels`), longest prefix first.
    prefixes: Vec<(String, usize)>,
    /// Distinct labels, in first-configured order; `other` is index `labels.len()`.
    labels: Vec<String>,
}

impl ContentGroups {
    /// The classifier of a checked configuration's `content_groups` (prefix → label);
    /// the checks themselves are the configuration's, made once when it is compiled.
    pub fn new(map: &ContentGroupMap) -> ContentGroups {
        let mut groups = ContentGroups::default();
        for (prefix, label) in map.iter() {
            let index = match groups.labels.iter().position(|l| l == label) {
                Some(i) => i,
                None if label == OTHER => usize::MAX,
                None => {
                    groups.labels.push(label.to_owned());
                    groups.labels.len() - 1
                }
            };
            groups.prefixes.push((prefix.to_owned(), index));
        }
        let other = groups.labels.len();
        for (_, index) in &mut groups.prefixes {
            if *index == usize::MAX {
                *index = other;
            }
        }
        // Longest first, so the first match is the longest; ties cannot match the same
        // path twice (equal lengths and both prefixes of one path means equal strings).
        groups
            .prefixes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        groups
    }

    /// Every label value, `other` last; [`ContentGroups::classify`] indexes this.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(OTHER))
    }

    /// How many label values there are, `other` included.
    pub fn len(&self) -> usize {
        self.labels.len() + 1
    }

    /// Never empty: `other` is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The index (into [`ContentGroups::labels`]) of a request target's group.
    pub fn classify(&self, target: &str) -> usize {
        let other = self.labels.len();
        let Some(path) = path_of(target) else {
            return other;
        };
        self.prefixes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(other, |(_, index)| *index)
    }

    /// The label of a request target's group.
    pub fn label_of(&self, target: &str) -> &str {
        let index = self.classify(target);
        self.labels.get(index).map_or(OTHER, String::as_str)
    }
}

/// The path of a request target (RFC 9112 §3.2): origin-form as is, absolute-form after
/// its authority; query and fragment cut. `None` for authority-form (CONNECT) and `*`.
fn path_of(target: &str) -> Option<&str> {
    let path = if target.starts_with('/') {
        target
    } else if let Some(scheme_end) = target.find("://") {
        let after = &target[scheme_end + 3..];
        after.find('/').map_or("/", |slash| &after[slash..])
    } else {
        return None;
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    Some(&path[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classifier of pairs the configuration accepts.
    fn checked<const N: usize>(pairs: [(&str, &str); N]) -> ContentGroups {
        ContentGroups::new(&ContentGroupMap::new(pairs).expect("valid groups"))
    }

    fn groups() -> ContentGroups {
        checked([
            ("/permits/", "permits"),
            ("/permits/upload", "permit_uploads"),
            ("/news/", "news"),
            ("/press/", "news"),
            ("/", "home_and_rest"),
        ])
    }

    #[test]
    fn longest_prefix_wins() {
        let g = groups();
        assert_eq!(g.label_of("/permits/upload?id=3"), "permit_uploads");
        assert_eq!(g.label_of("/permits/uploads/x"), "permit_uploads");
        assert_eq!(g.label_of("/permits/form.pdf"), "permits");
        assert_eq!(g.label_of("/news/2026/item"), "news");
        assert_eq!(g.label_of("/press/release"), "news");
        assert_eq!(g.label_of("/about"), "home_and_rest");
    }

    #[test]
    fn unmatched_and_pathless_targets_are_other() {
        let g = checked([("/permits/", "permits")]);
        assert_eq!(g.label_of("/secret/a?email=x"), "other");
        assert_eq!(g.label_of("/permits"), "other");
        assert_eq!(g.label_of("*"), "other");
        assert_eq!(g.label_of("www.example.gov:443"), "other");
        assert_eq!(g.label_of(""), "other");
    }

    #[test]
    fn query_and_fragment_are_not_part_of_the_path() {
        let g = checked([("/a?b", "weird"), ("/a", "a")]);
        assert_eq!(g.label_of("/a?b=1"), "a");
        let g = checked([("/permits/", "permits")]);
        assert_eq!(g.label_of("/x?next=/permits/"), "other");
        assert_eq!(g.label_of("/x#/permits/"), "other");
    }

    #[test]
    fn absolute_form_targets_use_their_path() {
        let g = groups();
        assert_eq!(g.label_of("http://www.example.gov/permits/a"), "permits");
        assert_eq!(g.label_of("http://www.example.gov"), "home_and_rest");
    }

    #[test]
    fn labels_are_distinct_with_other_last() {
        let g = groups();
        let labels: Vec<_> = g.labels().collect();
        assert_eq!(
            labels,
            [
                "permits",
                "permit_uploads",
                "news",
                "home_and_rest",
                "other"
            ]
        );
        assert_eq!(g.len(), 5);
        let empty = ContentGroups::new(&ContentGroupMap::default());
        assert_eq!(empty.labels().collect::<Vec<_>>(), ["other"]);
        assert_eq!(empty.classify("/x"), 0);
    }

    #[test]
    fn a_group_may_be_labelled_other() {
        let g = checked([("/legacy/", "other"), ("/a/", "a")]);
        assert_eq!(g.labels().collect::<Vec<_>>(), ["a", "other"]);
        assert_eq!(g.label_of("/legacy/x"), "other");
    }
}
