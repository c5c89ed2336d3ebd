#!/usr/bin/env python3
"""Tiny-segments flood for scripts/pcapgen/flood-bench.sh (issue 10).

usage: tiny-flood.py ADDR PORT CONNECTIONS SECONDS

Opens CONNECTIONS connections, sends on each the head of an upload that announces a
1 MB body, then feeds every body one byte per send (TCP_NODELAY, so the kernel sends
each byte as its own segment), round-robin over the connections, for SECONDS seconds.
No request is ever finished. The calling script has the router drop some of the
client's segments, so the ones after each loss reach the server out of order, and the
monitor has to hold them until the retransmission fills the hole. Real kernel TCP both ways; no packet is built here.
"""
import socket
import sys
import time


def main():
    addr, port, conns, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    socks = []
    for i in range(conns):
        s = socket.create_connection((addr, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(
            b"POST /upload.php HTTP/1.1\r\nHost: site.test\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
        )
        socks.append(s)
    stop = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < stop:
        for s in socks:
            s.send(b"A")
            sent += 1
        time.sleep(0.001)
    print(f"tiny-flood: {conns} connections, {sent} one-byte segments", file=sys.stderr)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
