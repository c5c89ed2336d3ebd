#!/usr/bin/env python3
"""Recall and false positives of the default rules on the bundled real captures.

For each attack capture, every request from an attacker address (127.0.0.66, .77) is
an attempt; recall is the share of attempts with at least one flagged event. Benign
captures report their events (false positives). Matching is by (flow_id, timestamp),
which `inspect` and the events share. Usage: scripts/detection-report.py [BINARY]
"""
import glob, json, subprocess, sys, os

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/tamperwatch")
attackers = {"127.0.0.66", "127.0.0.77"}

def lines(args):
    out = subprocess.run([binary] + args, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]

def events(pcap):
    return lines(["replay", "--config", f"{root}/pcaps/site.yaml", "--rules", f"{root}/rules", "--events", "-", pcap])

total_attempts = total_hit = 0
print(f"{'capture':<34} {'attempts':>8} {'flagged':>8} {'recall':>7}  categories")
for pcap in sorted(glob.glob(f"{root}/pcaps/attacks/*.pcap")):
    txns = [t for t in lines(["inspect", pcap]) if t["src_ip"] in attackers and t["method"]]
    evs = events(pcap)
    keys = {(e["flow_id"], e["timestamp"]) for e in evs}
    from datetime import datetime, timezone
    def eve_ts(t):
        secs = int(t["ts"]); micros = round((t["ts"] - secs) * 1e6)
        return datetime.fromtimestamp(secs, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}+0000"
    hit = sum(1 for t in txns if (t["flow_id"], eve_ts(t)) in keys)
    cats = sorted({e["alert"]["category"] for e in evs})
    name = os.path.basename(pcap)
    if txns:
        total_attempts += len(txns); total_hit += hit
        print(f"{name:<34} {len(txns):>8} {hit:>8} {100*hit/len(txns):>6.1f}%  {','.join(cats)}")
    else:
        print(f"{name:<34} {'(tcp)':>8} {len(evs):>8} {'':>7}  {','.join(cats)}")
print(f"{'all attack requests':<34} {total_attempts:>8} {total_hit:>8} {100*total_hit/max(total_attempts,1):>6.1f}%")
fp = 0; benign = 0
for pcap in sorted(glob.glob(f"{root}/pcaps/benign/*.pcap") + glob.glob(f"{root}/pcaps/http/*.pcap")):
    benign += len(lines(["inspect", pcap]))
    fp += len(events(pcap))
print(f"benign requests {benign}, events on them (false positives) {fp}")
