#!/usr/bin/env python3
"""Pipelined-heads flood for scripts/pcapgen/flood-bench.sh (issue 10).

usage: pipeline-flood.py sink ADDR PORT
           accept connections, read and discard everything, never answer
       pipeline-flood.py send ADDR PORT CONNECTIONS REQUESTS HEADERS
           open CONNECTIONS connections, and on each send REQUESTS pipelined GET
           requests of HEADERS header lines each, then close

Real kernel TCP both ways; nothing here builds a packet by hand.
"""
import resource
import selectors
import socket
import sys


def sink(addr, port):
    # A descriptor per connection held: as many as the hard limit allows (the soft
    # limit is often 1,024; tests/live_pool.rs holds 3,000).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(4096)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is srv:
                conn, _ = srv.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
            else:
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()


def request(conn, i, headers):
    # Short header lines (`7e:1`), so the flood is many heads, not many bytes
    # (about 42 MB on the wire for the default sizes, as in issue 10).
    lines = [f"GET /n/{i} HTTP/1.1", "Host: x"]
    lines += [f"{h:x}:1" for h in range(headers - 1)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send(addr, port, connections, requests, headers):
    socks = []
    for c in range(connections):
        s = socket.create_connection((addr, port), timeout=10)
        s.sendall(b"".join(request(c, i, headers) for i in range(requests)))
        socks.append(s)
    for s in socks:
        s.close()


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), *map(int, sys.argv[4:7]))
