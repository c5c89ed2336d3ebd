#!/usr/bin/env python3
"""Send exact bytes over one TCP connection (loopback only) and read the reply.

usage: rawhttp.py [--src ADDR] [--dst ADDR] [--port N] [--gap SEC]
                  [--rcvbuf N] [--read-max N] [--rst] [--shut-wr]
                  [--slow-read SEC] DATA [DATA ...]

Each DATA is a Python-escaped string ("GET / HTTP/1.1\\r\\n...") turned into
latin-1 bytes.  With --gap 0 (default) all DATA are written in one send, i.e.
pipelined; otherwise they are sent --gap seconds apart on the same connection.
Reads until the server closes or is idle for --idle seconds.
--read-max N --rst: after N response bytes, close with SO_LINGER 0 (RST).
--shut-wr: half-close (FIN) right after sending, then keep reading.
--rcvbuf N: small receive buffer, so the server sends many small segments.
--slow-read SEC: sleep between recv calls (keeps the window small).
"""
import argparse
import codecs
import ipaddress
import socket
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default="127.0.0.1")
    ap.add_argument("--dst", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--gap", type=float, default=0.0)
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--read-max", type=int, default=0)
    ap.add_argument("--rst", action="store_true")
    ap.add_argument("--shut-wr", action="store_true")
    ap.add_argument("--slow-read", type=float, default=0.0)
    ap.add_argument("--recv-size", type=int, default=65536)
    ap.add_argument("data", nargs="+")
    a = ap.parse_args()

    dst = ipaddress.ip_address(a.dst)
    if not dst.is_loopback or not ipaddress.ip_address(a.src).is_loopback:
        sys.exit("rawhttp: loopback addresses only")
    fam = socket.AF_INET6 if dst.version == 6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if a.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.bind((a.src, 0))
    s.settimeout(10)
    s.connect((a.dst, a.port))
    msgs = [codecs.decode(d, "unicode_escape").encode("latin-1") for d in a.data]
    if a.gap <= 0:
        s.sendall(b"".join(msgs))
    else:
        for i, m in enumerate(msgs):
            if i:
                time.sleep(a.gap)
            s.sendall(m)
    if a.shut_wr:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(a.idle)
    got = 0
    status = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            b = s.recv(a.recv_size)
        except socket.timeout:
            break
        if not b:
            break
        if not status:
            status = b.split(b"\r\n", 1)[0]
        got += len(b)
        if a.read_max and got >= a.read_max:
            break
        if a.slow_read:
            time.sleep(a.slow_read)
    if a.rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("rawhttp %s -> %s:%d: %d bytes, first line %r" % (a.src, a.dst, a.port, got, status.decode("latin-1")))


if __name__ == "__main__":
    main()
