//! What an integration test does when it cannot run here (a tool is missing, a mount
//! is refused): it prints why and skips, unless the environment says `CI=true`, where a
//! skipped test would hide a broken runner, so it fails instead. Every such skip in
//! the test suite goes through [`require_tool`] or [`require`].
// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::path::Path;

/// Whether this run is CI (`CI=true` or `CI=1`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Whether the test may go on: `true` if `ok`; otherwise prints `reason` and returns
/// `false` (skip), or panics with it under CI.
pub fn require(ok: bool, reason: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!in_ci(), "CI=true and this test cannot run: {reason}");
    eprintln!("skipped: {reason}");
    false
}

/// Whether `tool` is an executable on PATH (or an existing absolute path); a missing
/// tool skips the test, or fails it under CI.
pub fn require_tool(tool: &str) -> bool {
    require(
        tool_path(tool).is_some(),
        &format!("{tool} is not installed"),
    )
}

/// Where `tool` is: itself if it is a path, else the first PATH entry that has it.
pub fn tool_path(tool: &str) -> Option<std::path::PathBuf> {
    let as_path = Path::new(tool);
    if as_path.is_absolute() {
        return as_path.is_file().then(|| as_path.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}
