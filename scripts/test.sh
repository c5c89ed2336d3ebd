#!/usr/bin/env bash
# Every check CI runs: formatting, lints, and every test (unit, integration, replay
# golden files, Zeek conformance, bad input). Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
# The conformance figure, printed on its own (the test above already asserted it).
cargo test --quiet --test conformance -- --nocapture 2>/dev/null | grep -E '^conformance:' || true
