//! The configuration's unit tests: parsing, the one set of checks, derived filters.

use std::path::{Path, PathBuf};

use super::*;

const EXAMPLE: &str = r#"
site:
  addresses: [203.0.113.10/32, "2001:db8::10/128"]
  ports: [80, 8080]
policy:
  authorized:
    - sources: [10.20.0.0/16]
      methods: [POST, PUT, PATCH, DELETE]
      paths: [/admin/, /api/]
  upload_endpoints:
    - path: /permits/upload
      extensions: [pdf, jpg, jpeg, png]
      max_bytes: 10485760
  content_groups:
    /permits/: permits
retention:
  days: 30
"#;

#[test]
fn parses_the_architecture_example() {
    let c = Config::parse(EXAMPLE, Path::new("t.yaml")).expect("valid config");
    assert_eq!(c.site.ports, vec![80, 8080]);
    assert_eq!(c.policy.upload_endpoints[0].max_bytes, 10_485_760);
    let direct = "(ip and ip[6:2] & 0x3fff != 0 and (net 203.0.113.10/32)) \
         or (ip6 and (net 2001:db8::10/128)) \
         or (tcp and (port 80 or port 8080) and (net 203.0.113.10/32 or net 2001:db8::10/128))";
    assert_eq!(
        c.capture_filter(),
        format!("{direct} or (vlan and ({direct}))")
    );
}

#[test]
fn unknown_keys_are_refused_with_a_line() {
    let err = Config::parse(
        "site:\n  ports: [80]\n  colour: blue\n",
        Path::new("c.yaml"),
    )
    .expect_err("unknown key");
    let msg = err.to_string();
    assert!(msg.starts_with("c.yaml:3:"), "{msg}");
    assert!(msg.contains("colour"), "{msg}");
}

#[test]
fn bad_cidr_is_refused() {
    let err = Config::parse("site:\n  addresses: [10.0.0.0/99]\n", Path::new("c.yaml"))
        .expect_err("bad cidr");
    assert!(err.to_string().contains("c.yaml:2"), "{err}");
}

#[test]
fn labels_must_be_bounded_tokens() {
    let err = Config::parse(
        "policy:\n  content_groups:\n    /x/: \"Bad Label\"\n",
        Path::new("c.yaml"),
    )
    .expect_err("bad label");
    assert!(err.to_string().contains("[a-z0-9_]+"));
}

#[test]
fn capture_settings_are_checked() {
    for (yaml, needle) in [
        ("capture:\n  snaplen: 20\n", "capture.snaplen"),
        ("capture:\n  buffer_bytes: 1000\n", "capture.buffer_bytes"),
        (
            "capture:\n  read_timeout_ms: 0\n",
            "capture.read_timeout_ms",
        ),
        ("capture:\n  interface: \"\"\n", "capture.interface"),
        ("capture:\n  workers: 100000\n", "capture.workers"),
    ] {
        let err = Config::parse(yaml, Path::new("c.yaml")).expect_err(yaml);
        assert!(err.to_string().contains(needle), "{yaml}: {err}");
    }
    let c = Config::parse(
        "capture:\n  interface: lo\n  immediate: true\n  read_timeout_ms: 20\n",
        Path::new("c.yaml"),
    )
    .expect("valid capture settings");
    assert!(c.capture.immediate);
    assert_eq!(c.capture.read_timeout_ms, 20);
    assert_eq!(c.rules_dir(), PathBuf::from(DEFAULT_RULES_DIR));
}

#[test]
fn empty_file_is_the_default_policy() {
    let c = Config::parse("", Path::new("c.yaml")).expect("empty ok");
    assert!(c.policy.authorized.is_empty());
    assert_eq!(c.retention.days, 30);
}

#[test]
fn compiled_defaults_are_the_typed_defaults() {
    let compiled = compile::compile(raw::RawConfig::default()).expect("defaults compile");
    assert_eq!(format!("{compiled:?}"), format!("{:?}", Config::default()));
    assert_eq!(compiled.privacy.source_address, AddressMode::Keep);
    assert_eq!(
        compiled.privacy.address_key,
        PathBuf::from(DEFAULT_ADDRESS_KEY)
    );
    assert_eq!(
        compiled.store.path,
        PathBuf::from(crate::sink::store::DEFAULT_STORE_PATH)
    );
}

#[test]
fn address_modes_are_typed_and_the_deprecated_key_is_folded_in() {
    let c = Config::parse("privacy:\n  source_address: hash\n", Path::new("c.yaml")).expect("hash");
    assert_eq!(c.privacy.source_address, AddressMode::Hash);
    assert!(c.deprecations().is_empty());
    let c = Config::parse("store:\n  source_address: truncate\n", Path::new("c.yaml"))
        .expect("deprecated key");
    assert_eq!(c.privacy.source_address, AddressMode::Truncate);
    assert_eq!(c.deprecations().len(), 1);
    let c = Config::parse(
        "store:\n  source_address: hash\nprivacy:\n  source_address: hash\n",
        Path::new("c.yaml"),
    )
    .expect("agreeing keys");
    assert_eq!(c.privacy.source_address, AddressMode::Hash);
}

#[test]
fn content_groups_are_checked_by_the_one_rule_set() {
    let long = format!("/{}", "a".repeat(content_groups::MAX_GROUP_PREFIX_BYTES));
    let err = Config::parse(
        &format!("policy:\n  content_groups:\n    {long}: a\n"),
        Path::new("c.yaml"),
    )
    .expect_err("prefix over the cap");
    assert!(
        err.to_string()
            .starts_with("c.yaml: policy.content_groups: prefix"),
        "{err}"
    );
    let c = Config::parse(
        "policy:\n  content_groups:\n    /b/: b\n    /a/: a\n",
        Path::new("c.yaml"),
    )
    .expect("groups");
    assert_eq!(
        c.policy.content_groups.iter().collect::<Vec<_>>(),
        [("/a/", "a"), ("/b/", "b")]
    );
}
