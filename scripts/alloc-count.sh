#!/usr/bin/env bash
# Heap allocations per transaction during a replay, and where they are made.
#
# usage: scripts/alloc-count.sh PCAP [CONFIG]
#   TW_BIN=path   the tamperwatch binary (default target/release/tamperwatch)
#   TOP=N         allocation sites listed (default 12)
#
# Runs `tamperwatch replay --workers 1` under valgrind's DHAT and counts the heap blocks
# allocated while packets are replayed (stacks through `replay_sharded`), leaving out
# start-up (rules and CRS loading, regex compilation). The brief asks for no
# allocation per packet or per transaction in steady state: on a capture of many
# similar connections the count per transaction should be near zero, and the sites
# listed are what is left. A measuring tool, not a test: it asserts nothing.
# Example: the first 50,000 frames of the small benchmark capture, CRS on, gave 15.1
# blocks per transaction before the CRS path recycled its buffers and 2.4 after
# (docs/crs-speed.md, eighth pass).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
pcap=$1
config=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${TW_BIN:-$root/target/release/tamperwatch}
top=${TOP:-12}

for tool in valgrind python3; do
    if ! command -v "$tool" > /dev/null; then
        echo "alloc-count: $tool is not installed (apt-get install $tool)" >&2
        exit 1
    fi
done
if [[ ! -x $bin ]]; then
    echo "alloc-count: no binary at $bin (cargo build --release, or set TW_BIN)" >&2
    exit 1
fi
if [[ ! -r $pcap ]]; then
    echo "alloc-count: cannot read $pcap" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(replay --workers 1)
[[ -n $config ]] && args+=(--config "$config")
args+=("$pcap")

valgrind --tool=dhat --num-callers=40 --dhat-out-file="$work/dhat.json" \
    "$bin" "${args[@]}" > "$work/stdout" 2> "$work/stderr" || {
    echo "alloc-count: the replay failed:" >&2
    tail -5 "$work/stderr" >&2
    exit 1
}

python3 - "$work/dhat.json" "$work/stdout" "$top" <<'PY'
import json, re, sys

profile = json.load(open(sys.argv[1]))
summary = open(sys.argv[2], errors="replace").read()
top = int(sys.argv[3])
m = re.search(r"^\s*transactions\s+(\d+)", summary, re.M)
transactions = int(m.group(1)) if m else 0
frames = profile["ftbl"]
startup = ("Detector::load", "crs::load", "rules::load", "::compile")
blocks, sites = 0, []
for pp in profile["pps"]:
    stack = [frames[i] for i in pp["fs"]]
    text = " | ".join(stack)
    if "replay_sharded" not in text or any(s in text for s in startup):
        continue
    blocks += pp["tbk"]
    ours = [f.split(": ", 1)[-1] for f in stack if "tamperwatch::" in f][:2]
    sites.append((pp["tbk"], " <- ".join(x[:100] for x in ours) or stack[0][:100]))
print(f"transactions            {transactions}")
print(f"heap blocks in replay   {blocks}")
if transactions:
    print(f"blocks per transaction  {blocks / transactions:.2f}")
print(f"largest sites (blocks):")
for n, where in sorted(sites, reverse=True)[:top]:
    print(f"  {n:>9}  {where}")
PY
