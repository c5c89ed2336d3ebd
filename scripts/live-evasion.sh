#!/usr/bin/env bash
# live-evasion.sh - the evasion corpus live: tamperwatch captures lo while
# make-pcaps.sh (ONLY=evasion) sends every case of pcaps/evasion/ to nginx, then
# the live events are compared with a replay of the captures just made.
#
# usage: sudo bash scripts/live-evasion.sh        (needs a built target/debug/tamperwatch)
#
# Live and replayed events must be the same (rule, source, URL) multiset, and no
# benign source (127.0.0.11, 127.0.0.2) may be flagged. The lost segment of
# resync-lost-segment*.pcap is deleted from the capture only, so live sees the
# whole stream: the same attacks are flagged with and without the loss.
# Traffic stays on loopback; every process started here is stopped by PID.

set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TW=${TW:-$REPO/target/debug/tamperwatch}
[[ -x $TW ]] || { echo "live-evasion: build first (cargo build)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "live-evasion: must run as root (live capture)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/tamperwatch-live-evasion.XXXXXX)
TW_PID=
cleanup() {
    local rc=$?
    if [[ -n $TW_PID ]]; then kill -TERM "$TW_PID" 2>/dev/null || true; wait "$TW_PID" 2>/dev/null || true; fi
    [[ ${KEEP_WORK:-0} == 1 ]] && echo "live-evasion: kept $WORK" || rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

METRICS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
    grep -v '^#' "$REPO/pcaps/site.yaml"
    printf 'rules: %s\nevents:\n  path: %s\nstore:\n  path: %s\n' "$REPO/rules" "$WORK/events.jsonl" "$WORK/flagged.db"
    printf 'capture:\n  interface: lo\n  workers: 2\nmetrics:\n  listen: 127.0.0.1:%s\n' "$METRICS_PORT"
} >"$WORK/tw.yaml"

"$TW" run --config "$WORK/tw.yaml" >"$WORK/daemon.out" 2>"$WORK/daemon.log" &
TW_PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/readyz" && break
    sleep 0.2
done
curl -sf -o /dev/null "http://127.0.0.1:$METRICS_PORT/readyz" || { cat "$WORK/daemon.log" >&2; exit 1; }

ONLY=evasion bash "$REPO/scripts/make-pcaps.sh" "$WORK/pcaps" >"$WORK/make-pcaps.log" 2>&1
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^tamperwatch_http_(resyncs|resync_scanned|capped)' || true
kill -TERM "$TW_PID"; wait "$TW_PID" || true; TW_PID=

key() { python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print("%s\t%s\t%s" % (e["alert"]["rule"], e["src_ip"], e.get("http", {}).get("url", "")))' | sort; }
key <"$WORK/events.jsonl" >"$WORK/live.tsv"
for f in "$WORK"/pcaps/evasion/*.pcap; do
    "$TW" replay --config "$REPO/pcaps/site.yaml" --rules "$REPO/rules" --events - "$f" 2>/dev/null
done | key >"$WORK/replay.tsv"

echo "live events: $(wc -l <"$WORK/live.tsv"), replayed: $(wc -l <"$WORK/replay.tsv")"
cut -f1 "$WORK/live.tsv" | uniq -c
if grep -Eq $'\t127\\.0\\.0\\.(11|2)\t' "$WORK/live.tsv"; then
    echo "live-evasion: a benign source was flagged live" >&2; exit 1
fi
if ! diff "$WORK/replay.tsv" "$WORK/live.tsv"; then
    echo "live-evasion: live and replayed events differ" >&2; exit 1
fi
echo "live-evasion: live and replay agree"
