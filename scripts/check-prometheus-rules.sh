#!/bin/sh
# Checks the Prometheus and Grafana files under deploy/:
#   1. promtool check rules   deploy/prometheus/tamperwatch-alerts.yml
#   2. promtool test rules    deploy/prometheus/tamperwatch-alerts.test.yml
#   3. promtool check config  deploy/prometheus/prometheus-example.yml and the central
#      prometheus-fleet.yml (many hosts, `host` labels)
#   4. every dashboard query parses (Grafana variables filled in, checked as rules)
#   5. every tamperwatch_* metric the files use is defined in src/sink/metrics/names.rs
#   6. every dashboard query is filtered by the Host variable
# Steps that need promtool (Debian package `prometheus`) or jq are skipped, with a
# message, where those are missing.
set -eu

cd "$(dirname "$0")/.."
prom=deploy/prometheus
dashboard=deploy/grafana/tamperwatch-dashboard.json
names=src/sink/metrics/names.rs
status=0

# 5 first: it needs nothing but grep and sed.
used=$(grep -ho 'tamperwatch_[a-z0-9_]*' "$prom"/*.yml "$dashboard" |
    sed -E 's/_(bucket|sum|count)$//' | sort -u)
for metric in $used; do
    if ! grep -q "\"$metric\"" "$names"; then
        echo "check-prometheus-rules: $metric is used under deploy/ but not defined in $names" >&2
        status=1
    fi
done
[ "$status" -eq 0 ] && echo "check-prometheus-rules: metric names match $names"

# 6: the Host variable exists and every query uses it (a panel without it would mix
# hosts silently).
if ! grep -q '"name": "host"' "$dashboard"; then
    echo "check-prometheus-rules: $dashboard has no host variable" >&2
    status=1
fi
unfiltered=$(grep -o '"expr": "[^"\\]*\(\\.[^"\\]*\)*"' "$dashboard" | grep -vc 'host=~\\"\$host\\"' || true)
if [ "$unfiltered" -ne 0 ]; then
    echo "check-prometheus-rules: $unfiltered dashboard queries ignore the host variable" >&2
    status=1
fi

if ! command -v promtool >/dev/null 2>&1; then
    echo "check-prometheus-rules: skipped promtool checks: promtool not installed (apt-get install prometheus)"
    exit "$status"
fi

promtool check rules "$prom/tamperwatch-alerts.yml" || status=1
(cd "$prom" && promtool test rules tamperwatch-alerts.test.yml) || status=1
promtool check config "$prom/prometheus-example.yml" || status=1
promtool check config "$prom/prometheus-fleet.yml" || status=1

if ! command -v jq >/dev/null 2>&1; then
    echo "check-prometheus-rules: skipped dashboard query check: jq not installed"
    exit "$status"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    echo "groups:"
    echo "  - name: dashboard"
    echo "    rules:"
    jq -r '.. | objects | select(has("expr")) | .expr' "$dashboard" |
        sed -e 's/\$__rate_interval/5m/g' -e 's/\$__range/1d/g' -e 's/\$__interval/1m/g' \
            -e 's/\$instance/.*/g' -e 's/\$host/.*/g' |
        awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "      - record: dashboard:query:%d\n        expr: \"%s\"\n", NR, $0 }'
} >"$tmp/dashboard-rules.yml"
if promtool check rules "$tmp/dashboard-rules.yml" >"$tmp/out" 2>&1; then
    echo "check-prometheus-rules: $(jq '[.. | objects | select(has("expr"))] | length' "$dashboard") dashboard queries parse"
else
    cat "$tmp/out" >&2
    echo "check-prometheus-rules: a dashboard query does not parse" >&2
    status=1
fi
exit "$status"
