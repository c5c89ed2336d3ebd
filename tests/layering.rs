//! The library's top-level modules form layers, each using only the ones below it, so
//! there is no import cycle between them (issue 12). The order follows the pipeline, as
//! the tour in `src/lib.rs` does: the packet clock and the settings, then capture,
//! decode, reassembly, flow, HTTP and TLS, the observer interface they report through,
//! detection, the sinks, the pipeline that wires them, and the two ways to run it.
//!
//! The check reads every non-test source file of a module and collects the
//! `crate::MODULE` paths it names (in `use` lines, braced groups and inline paths;
//! comments skipped). Test code (`tests.rs`, `*_tests.rs`, `tests/` directories, inline
//! `#[cfg(test)] mod tests { .. }`) may reach anywhere and is not read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first: a module may use only modules before it in this list.
const LAYERS: &[&str] = &[
    "time",
    "config",
    "decode",
    "capture",
    "reassembly",
    "flow",
    "http",
    "tls",
    "observe",
    "detect",
    "sink",
    "pipeline",
    "replay",
    "daemon",
];

/// Known upward uses, each named in full, so a new one fails this test. Besides these,
/// the configuration may name the `DEFAULT_*` constants of the stages that own them
/// (issue 12 item 1: defaults from the owning constants): constants, not code.
const ALLOWED_UPWARD: &[(&str, &str)] = &[("config", "detect::crs::CrsExclusion")];

/// Whether `module` may name `path` although it lies in a layer above.
fn allowed_upward(module: &str, path: &str) -> bool {
    let is_default_constant = path
        .rsplit("::")
        .next()
        .is_some_and(|last| last.starts_with("DEFAULT_"));
    (module == "config" && is_default_constant)
        || ALLOWED_UPWARD
            .iter()
            .any(|(from, to)| *from == module && path.starts_with(to))
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The non-test `.rs` files of a top-level module.
fn module_files(module: &str) -> Vec<PathBuf> {
    let dir = src().join(module);
    let mut files = Vec::new();
    if dir.is_dir() {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("read src dir") {
                let path = entry.expect("dir entry").path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                if path.is_dir() {
                    if name != "tests" {
                        stack.push(path);
                    }
                } else if name.ends_with(".rs")
                    && name != "tests.rs"
                    && !name.ends_with("_tests.rs")
                {
                    files.push(path);
                }
            }
        }
    } else {
        files.push(src().join(format!("{module}.rs")));
    }
    files.sort();
    files
}

/// The code of a file without comments and without an inline test module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source file");
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|l| l.trim_start()).unwrap_or_default();
            if next.starts_with("mod ") && next.ends_with('{') {
                break; // the inline test module runs to the end of the file
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line.split(" // ").next().unwrap_or_default());
        code.push('\n');
    }
    code
}

/// Every `crate::...` path named in `code`, without the `crate::` (braced groups are
/// expanded one level: `crate::{a::b, c}` gives `a::b` and `c`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !preceded_by_ident {
            if let Some(group) = after.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                paths.extend(
                    group[..end]
                        .split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty()),
                );
            } else {
                let end = after
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(after.len());
                let prefix = &after[..end];
                match after[end..].strip_prefix('{') {
                    // `crate::a::b::{C, D}` names `a::b::C` and `a::b::D`.
                    Some(group) if prefix.ends_with("::") => {
                        let close = group.find('}').unwrap_or(group.len());
                        paths.extend(
                            group[..close]
                                .split(',')
                                .map(str::trim)
                                .filter(|p| !p.is_empty())
                                .map(|p| format!("{prefix}{p}")),
                        );
                    }
                    _ => paths.push(prefix.trim_end_matches(':').to_owned()),
                }
            }
        }
        rest = after;
    }
    paths
}

#[test]
fn every_top_level_module_is_listed() {
    let listed: BTreeSet<&str> = LAYERS.iter().copied().collect();
    for entry in std::fs::read_dir(src()).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        // The binary (main.rs, cli/) uses the library from outside.
        if ["lib", "main", "cli"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            listed.contains(name.as_str()),
            "src/{name} is not in LAYERS: place it in the order"
        );
    }
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let mut violations = Vec::new();
    for (level, module) in LAYERS.iter().enumerate() {
        for file in module_files(module) {
            for path in crate_paths(&code_of(&file)) {
                let target = path.split("::").next().unwrap_or_default();
                if target == *module || target == "self" || target.is_empty() {
                    continue;
                }
                let Some(target_level) = LAYERS.iter().position(|m| *m == target) else {
                    violations.push(format!("{}: unknown module crate::{path}", file.display()));
                    continue;
                };
                if target_level > level && !allowed_upward(module, &path) {
                    violations.push(format!(
                        "{}: `{module}` uses crate::{path}, a layer above it",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "upward imports (import cycles):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_path_scanner_sees_groups_and_inline_paths() {
    let code = "use crate::{decode::PacketView, http};\nfn f(x: crate::flow::FlowKey) {}\n\
                use crate::sink::store::{A, B};\n";
    assert_eq!(
        crate_paths(code),
        [
            "decode::PacketView",
            "http",
            "flow::FlowKey",
            "sink::store::A",
            "sink::store::B"
        ]
    );
}
