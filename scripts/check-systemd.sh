#!/bin/sh
# Checks the hardening of systemd/tamperwatch.service: fails if systemd's exposure
# score is above MAX_EXPOSURE (default 2.0). Skips, successfully, where
# systemd-analyze is missing or too old for --offline (systemd < 252).
#
#   scripts/check-systemd.sh [UNIT]
set -eu

cd "$(dirname "$0")/.."
unit=${1:-systemd/tamperwatch.service}
max=${MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-systemd: skipped: systemd-analyze not installed (apt-get install systemd)"
    exit 0
fi

if ! out=$(systemd-analyze security --offline=true "$unit" 2>&1); then
    case $out in
    *"unrecognized option"*|*"Unknown option"*)
        echo "check-systemd: skipped: this systemd-analyze has no --offline (needs systemd 252+)"
        exit 0
        ;;
    esac
    # A score above the threshold systemd-analyze itself uses also exits non-zero;
    # the figure below decides.
fi

exposure=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
    printf '%s\n' "$out" >&2
    echo "check-systemd: could not read the exposure level of $unit" >&2
    exit 1
fi

if awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e > m) }'; then
    printf '%s\n' "$out" | grep '✗' >&2 || true
    echo "check-systemd: $unit exposure $exposure is above $max" >&2
    exit 1
fi
echo "check-systemd: $unit exposure $exposure (limit $max): ok"
