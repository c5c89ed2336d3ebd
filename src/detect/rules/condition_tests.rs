//! The load-time regex check against the build the rule engine used to do: the same
//! patterns accepted and refused.

use super::{check_regex, parse_regex, RULE_REGEX_SIZE_LIMIT};

/// What the regex crate says of `pattern` with the rule engine's settings.
fn regex_crate_accepts(pattern: &str) -> bool {
    regex::bytes::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(RULE_REGEX_SIZE_LIMIT)
        .build()
        .is_ok()
}

#[test]
fn the_check_accepts_and_refuses_what_the_regex_crate_does() {
    let patterns = [
        r"/cgi/[a-z]+\.sh$",
        r"(?i)union\s+select",
        r"\.\./",
        r"(?-u:\xff)\x00",
        r"[\x80-\xff]{4}",
        r"\w+@\w+",
        r"^(GET|POST)\s",
        r"a{2,1000}",
        // Refused by both: syntax errors, Unicode classes without Unicode, look-around,
        // back-references, a program over the size limit.
        r"(unclosed",
        r"[z-a]",
        r"\p{Greek}",
        r"(?=x)",
        r"(a)\1",
        r"[a-z0-9]{2,60000}x",
        r"(?:a{1000}){1000}",
    ];
    for pattern in patterns {
        assert_eq!(
            check_regex(pattern).is_ok(),
            regex_crate_accepts(pattern),
            "{pattern}: {:?}",
            check_regex(pattern)
        );
    }
    for pattern in patterns {
        // The check from the kept parse: the same verdicts and messages.
        assert_eq!(
            parse_regex(pattern).map(drop),
            check_regex(pattern),
            "{pattern}"
        );
    }
    let oversized = check_regex(r"[a-z0-9]{2,60000}x").expect_err("too big");
    assert!(oversized.contains("size limit"), "{oversized}");
}
