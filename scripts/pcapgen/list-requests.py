#!/usr/bin/env python3
"""List the HTTP requests of a pcap with their response status (needs tshark).

usage: list-requests.py [--summary] PCAP...

One line per request: client address, method, URI, status ("-" = no response
seen).  Responses are paired with requests in order within each TCP stream,
skipping 1xx interim responses.  --summary collapses identical lines.
"""
import collections
import json
import subprocess
import sys

FIELDS = ["tcp.stream", "ip.src", "ipv6.src", "http.request.method", "http.request.uri",
          "http.response.code"]


def rows(pcap):
    cmd = ["tshark", "-r", pcap, "-Y", "http", "-T", "json"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    for pkt in json.loads(out or b"[]"):
        yield pkt["_source"]["layers"]


def transactions(pcap):
    reqs = collections.defaultdict(list)
    resps = collections.defaultdict(list)
    order = []
    for L in rows(pcap):
        stream = L["tcp.stream"][0]
        src = (L.get("ip.src") or L.get("ipv6.src"))[0]
        for m, u in zip(L.get("http.request.method", []), L.get("http.request.uri", [])):
            reqs[stream].append([src, m, u])
            order.append((stream, len(reqs[stream]) - 1))
        for code in L.get("http.response.code", []):
            if not code.startswith("1"):
                resps[stream].append(code)
    for stream, i in order:
        src, m, u = reqs[stream][i]
        code = resps[stream][i] if i < len(resps[stream]) else "-"
        yield "%s %s %s -> %s" % (src, m, u, code)


def main():
    args = sys.argv[1:]
    summary = "--summary" in args
    for pcap in [a for a in args if a != "--summary"]:
        print("## " + pcap)
        lines = list(transactions(pcap))
        if summary:
            for line, n in collections.Counter(lines).items():
                print(("%4dx " % n if n > 1 else "      ") + line)
        else:
            print("\n".join(lines))


if __name__ == "__main__":
    main()
