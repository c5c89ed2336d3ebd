//! The skip policy itself: a test whose tool is missing passes with a printed reason
//! locally and fails under `CI=true`. The test re-runs its own binary as a child with
//! each setting of `CI`.

mod support;

use std::process::Command;

/// Set in the child run, which only performs the check.
const CHILD_ENV: &str = "TAMPERWATCH_TEST_SUPPORT_CHILD";
const TEST_NAME: &str = "a_missing_tool_skips_locally_and_fails_under_ci";

#[test]
fn a_missing_tool_skips_locally_and_fails_under_ci() {
    if std::env::var_os(CHILD_ENV).is_some() {
        assert!(!support::require_tool("tamperwatch-no-such-tool"));
        return;
    }
    let run = |ci: &str| {
        Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env("CI", ci)
            .output()
            .expect("run the child")
    };
    let local = run("false");
    let local_err = String::from_utf8_lossy(&local.stderr);
    assert!(local.status.success(), "{local_err}");
    assert!(
        local_err.contains("skipped: tamperwatch-no-such-tool is not installed"),
        "{local_err}"
    );
    let ci = run("true");
    let ci_err = String::from_utf8_lossy(&ci.stderr);
    assert!(!ci.status.success(), "CI=true must fail: {ci_err}");
    assert!(
        ci_err.contains("CI=true and this test cannot run"),
        "{ci_err}"
    );
}
