#!/usr/bin/env python3
"""make-crs-ftw-pcap.py - send CRS's go-ftw regression tests over loopback, capture them.

usage: sudo python3 scripts/make-crs-ftw-pcap.py [TESTS_DIR] [OUT_DIR]
   default TESTS_DIR: pcaps/third_party/crs-ftw/tests (the copy kept in the repo)
   default OUT_DIR:   pcaps/third_party/crs-ftw

Reads every request-phase test (REQUEST-9xx files of rules below 950) and builds each
stage's request byte for byte as go-ftw v2 does (ftwhttp/request.go, test/defaults.go,
test/types.go): defaults GET / HTTP/1.1; headers sorted by name unless
`ordered_headers`; with autocomplete_headers (default true, or `not stop_magic`):
Content-Type: application/x-www-form-urlencoded when data has none, form data without
`%` and `+` URL-encoded pair by pair, `Connection: close`, `Content-Length` when there is
data or the method matches go's `^POST|PUT|PATCH|DELETE$`; multipart data gets CRLF line
ends; `encoded_request` is sent as its raw bytes. Data templates: only sprig's
`{{ "x" | repeat N }}` is used by these tests and is expanded here.

Each stage is one TCP connection from 127.0.3.2:<port> (ports from 20000 up, one per
stage, recorded in the sidecar) to a Python socket server on 127.0.3.1:80 that reads
until the client half-closes (so every request byte is on the wire, whatever the
request says about its length) and answers `200`. tcpdump captures on lo.

Writes OUT_DIR/crs-ftw.pcap and OUT_DIR/crs-ftw.json (the sidecar: per stage the rule,
test, stage index, client port and what go-ftw expects). Loopback only; every process
started here is stopped by PID.
"""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "pcaps/third_party/crs-ftw/tests"
OUT = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "pcaps/third_party/crs-ftw"
SERVER = ("127.0.3.1", 80)
CLIENT_ADDR = "127.0.3.2"
FIRST_PORT = 20000
IO_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 1 << 20
REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"

# What `log.match_regex` / `no_match_regex` in the request-phase tests mean, as ids.
NO_IDS_REGEX = r'\[id "\d+"\]'
REGEX_AS_IDS = {
    'Multipart parsing error: Multipart: Invalid part header \\(contains invalid character\\)|\\[id "922130"\\].*\\[msg "Multipart header contains characters outside of valid range"\\]': [922130],
    "Inbound Anomaly Score Exceeded \\(Total Score: ": [949110],
}


def canon(name):
    """Go's textproto.CanonicalMIMEHeaderKey, close enough for comparisons."""
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def expand_template(data):
    def rep(m):
        return m.group(1) * int(m.group(2))
    out = re.sub(r'\{\{\s*"([^"]*)"\s*\|\s*repeat\s+(\d+)\s*\}\}', rep, data)
    if "{{" in out:
        raise ValueError("unsupported template in data")
    return out


def form_encode(data):
    """go-ftw encodeDataParameters for data that QueryUnescape leaves unchanged."""
    parts = []
    remaining = data
    while remaining:
        amp = remaining.find(b"&")
        if amp < 0:
            token, remaining = remaining, b""
        else:
            token, remaining = remaining[:amp], remaining[amp + 1:]
        eq = token.find(b"=")
        if eq < 0:
            parts.append(urllib.parse.quote_plus(token, safe="") + "&")
            continue
        parts.append(urllib.parse.quote_plus(token[:eq], safe="") + "=" +
                     urllib.parse.quote_plus(token[eq + 1:], safe="") + "&")
    return "".join(parts)[:-1].encode()


def truthy(v):
    return str(v).strip().lower() in ("true", "yes", "on", "1")


def build_request(inp):
    if inp.get("encoded_request"):
        return base64.b64decode(inp["encoded_request"])
    method = inp.get("method", "GET")
    uri = inp.get("uri", "/")
    version = inp.get("version", "HTTP/1.1")
    if "autocomplete_headers" in inp:
        auto = truthy(inp["autocomplete_headers"])
    elif "stop_magic" in inp:
        auto = not truthy(inp["stop_magic"])
    else:
        auto = True
    if inp.get("ordered_headers"):
        headers = [(h["name"], h["value"]) for h in inp["ordered_headers"]]
    else:
        hmap = inp.get("headers") or {}
        headers = sorted(hmap.items(), key=lambda kv: kv[0].encode())
    names = lambda: {canon(n) for n, _ in headers}
    data = None
    if inp.get("data") is not None:
        data = expand_template(inp["data"]).encode()
    elif inp.get("encoded_data") is not None:
        data = base64.b64decode(inp["encoded_data"])
    if data and auto:
        if "Content-Type" not in names():
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        if any(canon(n) == "Content-Type" and v.lower() == "application/x-www-form-urlencoded"
               for n, v in headers):
            if b"%" not in data and b"+" not in data:
                data = form_encode(data)
    if data and any(canon(n) == "Content-Type" and "multipart/form-data;" in v.lower()
                    for n, v in headers):
        data = data.replace(b"\n", b"\r\n")
    if auto:
        if "Connection" not in names():
            headers.append(("Connection", "close"))
        if "Content-Length" not in names():
            if data or re.search(r"^POST|PUT|PATCH|DELETE$", method):
                headers.append(("Content-Length", str(len(data or b""))))
    out = ("%s %s %s\r\n" % (method, uri, version)).encode()
    for n, v in headers:
        out += ("%s: %s\r\n" % (n, v)).encode()
    out += b"\r\n"
    if data:
        out += data
    return out


def ids(v):
    if v is None:
        return []
    if isinstance(v, list):
        return [int(x) for x in v]
    return [int(x) for x in re.findall(r"\d+", str(v))]


def expectation(out):
    """(kind, expect_ids, no_expect_ids, no_ids) for one stage's output."""
    log = out.get("log") or {}
    exp = ids(log.get("expect_ids"))
    noexp = ids(log.get("no_expect_ids"))
    no_ids = False
    unmapped = []
    for key, target in (("match_regex", exp), ("no_match_regex", noexp)):
        rx = log.get(key)
        if rx is None:
            continue
        if key == "no_match_regex" and rx.strip() == NO_IDS_REGEX:
            no_ids = True
        elif rx.strip() in REGEX_AS_IDS or rx in REGEX_AS_IDS:
            target.extend(REGEX_AS_IDS.get(rx) or REGEX_AS_IDS[rx.strip()])
        elif not (exp or noexp):
            unmapped.append(key)
    if exp or noexp or no_ids:
        return "ids", exp, noexp, no_ids
    if unmapped:
        return "log_regex_only", [], [], False
    if "status" in out or "expect_error" in out or "response_contains" in out:
        return "status_only", [], [], False
    return "no_expectation", [], [], False


def serve(listener, stop):
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def handle(conn):
    conn.settimeout(IO_TIMEOUT_S)
    got = 0
    try:
        while got < MAX_REQUEST_BYTES:
            b = conn.recv(65536)
            if not b:
                break
            got += len(b)
        conn.sendall(REPLY)
    except OSError:
        pass
    finally:
        conn.close()


def send(port, raw):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(IO_TIMEOUT_S)
    try:
        s.bind((CLIENT_ADDR, port))
        s.connect(SERVER)
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    finally:
        s.close()


def main():
    if os.geteuid() != 0:
        sys.exit("make-crs-ftw-pcap: must run as root (tcpdump, port 80)")
    stages = []
    skipped = {}
    for f in sorted(TESTS.glob("REQUEST-9*/*.y*ml")):
        doc = yaml.load(f.read_text(), Loader=yaml.BaseLoader)
        if not isinstance(doc, dict):
            skipped[f.name] = "no tests (commented out)"
            continue
        # the file name, not rule_id: 933200.yaml says 9331200 upstream
        rule = int(re.match(r"\d+", f.stem).group(0))
        if rule >= 950000:
            skipped[f.name] = "not below 950 (response phase or 999 exceptions)"
            continue
        for ti, t in enumerate(doc.get("tests") or [], 1):
            tid = int(t.get("test_id") or ti)
            for si, st in enumerate(t.get("stages") or []):
                inp = st.get("input") or {}
                kind, exp, noexp, no_ids = expectation(st.get("output") or {})
                raw = build_request(inp)
                stages.append({
                    "rule_id": rule, "test_id": tid, "stage": si,
                    "family": rule // 1000,
                    "file": str(f.relative_to(TESTS)),
                    "kind": kind, "expect_ids": exp, "no_expect_ids": noexp,
                    "no_ids": no_ids, "bytes": len(raw), "raw": raw,
                })
    OUT.mkdir(parents=True, exist_ok=True)
    pcap = OUT / "crs-ftw.pcap"
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    subprocess.run(["ip", "addr", "add", "127.0.3.1/32", "dev", "lo"], stderr=subprocess.DEVNULL)
    listener.bind(SERVER)
    listener.listen(64)
    stop = threading.Event()
    server = threading.Thread(target=serve, args=(listener, stop), daemon=True)
    server.start()
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "65536", "-U", "-w", str(pcap),
                             "host 127.0.3.1 and tcp port 80"], stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)
        for i, st in enumerate(stages):
            st["client_port"] = FIRST_PORT + i
            send(st["client_port"], st.pop("raw"))
            if i % 200 == 199:
                time.sleep(0.2)  # let tcpdump keep up
        time.sleep(1.5)
    finally:
        dump.send_signal(signal.SIGINT)
        _, err = dump.communicate(timeout=10)
        stop.set()
        server.join(timeout=5)
        listener.close()
    sys.stderr.write(err.decode(errors="replace"))
    if not re.search(rb"(?m)^0 packets dropped by kernel", err):
        sys.exit("make-crs-ftw-pcap: tcpdump dropped packets; run again")
    side = {
        "source": "CRS v4.28.0 tests/regression/tests (go-ftw), see SOURCE.md",
        "server": "%s:%d" % SERVER, "client_addr": CLIENT_ADDR,
        "skipped_files": skipped,
        "stages": stages,
    }
    (OUT / "crs-ftw.json").write_text(json.dumps(side, separators=(",", ":")).replace('{"rule_id"', '\n{"rule_id"') + "\n")
    kinds = {}
    for st in stages:
        kinds[st["kind"]] = kinds.get(st["kind"], 0) + 1
    print("stages: %d %s; pcap %d bytes" % (len(stages), kinds, pcap.stat().st_size))


if __name__ == "__main__":
    main()
