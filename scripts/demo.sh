#!/usr/bin/env bash
# The main job: build, then replay the bundled captures through the default rules and
# the canonical site policy, printing flagged events (JSON lines) and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
cargo build --release --quiet
mapfile -t captures < <(ls pcaps/http/*.pcap pcaps/tcp/*.pcap pcaps/benign/*.pcap pcaps/attacks/*.pcap pcaps/privacy/*.pcap)
exec target/release/tamperwatch replay --config pcaps/site.yaml --rules rules --events - "${captures[@]}"
