#!/usr/bin/env bash
# crs-report.sh - the two CRS tables for a closing note: go-ftw pass rate per rule
# family (tests/crs_ftw.rs) and false alarms per 1,000 benign requests per paranoia
# level (tests/crs_benign.rs), read from the tests' CRS-FTW / CRS-BENIGN lines.
#
# usage: scripts/crs-report.sh            (runs both tests, release profile)
#        scripts/crs-report.sh LOGFILE... (reads saved `cargo test -- --nocapture` output)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if (($#)); then
    out=$(cat "$@")
else
    out=$(cargo test --release --test crs_ftw --test crs_benign -- --nocapture 2>&1 || true)
fi
echo "CRS v4.28.0 go-ftw request-phase tests (PL4, CI settings)"
echo
echo "| family | passed | tests | pass rate |"
echo "|---|---:|---:|---:|"
grep -o 'CRS-FTW .*' <<<"$out" | sed -E 's/CRS-FTW family=([^ ]+) passed=([0-9]+) tests=([0-9]+) rate=([0-9.]+)/| \1 | \2 | \3 | \4% |/' || echo "| (no crs_ftw output) | | | |"
echo
echo "False alarms on the benign city corpus (inbound threshold 5)"
echo
echo "| paranoia level | requests | false alarms | per 1,000 |"
echo "|---:|---:|---:|---:|"
grep -o 'CRS-BENIGN .*' <<<"$out" | sed -E 's/CRS-BENIGN pl=([0-9]) requests=([0-9]+) alarms=([0-9]+) per_1000=([0-9.]+)/| \1 | \2 | \3 | \4 |/' || echo "| (no crs_benign output) | | | |"
