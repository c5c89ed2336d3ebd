#!/usr/bin/env python3
"""Asks the Linux kernel which copy of overlapping TCP segments a server reads.

usage: tcp-oracle.py serve ADDR            (in the server's namespace)
           accepts connections on ADDR:9998 and prints, per connection, one JSON line
           {"port": client port, "data": hex of everything read until the client's FIN},
           until 4 s pass without a new connection
       tcp-oracle.py send SRC DST          (in the client's namespace, as root; its
                                            kernel's RSTs must be dropped, see below)
           runs each case as its own connection and prints one JSON line per case:
           {"case", "port", "segments": [[offset, hex], ...]} (offsets from the first
           data byte, in the order sent)

Used by tests/tcp_parity.rs, which feeds the same segments to tamperwatch's stream
reassembler and expects the bytes the server read. The client side is hand-built
(labelled so): no tool sends overlapping segments with different bytes on purpose. It
speaks TCP itself through raw sockets, so the client namespace's kernel, which has no
socket for these connections, would answer the server with RSTs: the caller drops
them (nftables, output hook).
"""
import json
import random
import select
import socket
import struct
import sys
import time

from inet_checksum import checksum

PORT = 9998


def packet(src, dst, sport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, PORT, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      65535, 0, 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.randrange(65536), 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def cases():
    """(name, [(offset, bytes)]): segments in the order sent, offsets from the first
    data byte. Ten-byte blocks: lower-case letters are the first copy, X and Y later
    ones, so the bytes the server read tell which copy won."""
    a, b, c, d = b"aaaaaaaaaa", b"bbbbbbbbbb", b"cccccccccc", b"dddddddddd"
    return [
        # Two adjacent segments held out of order, then one starting inside the first
        # and reaching past the second: does the kernel keep the first two as one run?
        ("inside-adjacent-pair", [(10, b), (20, c), (15, b"X" * 20), (0, a)]),
        # A later segment that starts lower than a held one, reaching into it.
        ("starts-lower", [(20, c), (15, b"X" * 10), (0, a + b[:5])]),
        # A later segment that starts inside a held one and reaches past it.
        ("starts-inside", [(10, b), (15, b"X" * 10), (0, a)]),
        # The same start, longer: it replaces the held one.
        ("same-start-longer", [(10, b), (10, b"X" * 15), (0, a)]),
        # The same start, shorter: dropped.
        ("same-start-shorter", [(10, b + c), (10, b"X" * 5), (0, a)]),
        # Covering two held ones from before the first.
        ("covers-two", [(15, b[:5] + c[:5]), (25, c[5:] + d[:5]), (12, b"X" * 20), (0, a + b[:2])]),
        # In order first, then a retransmission with other bytes: too late.
        ("in-order-first", [(0, a), (5, b"X" * 10), (10, b)]),
        # A held run, then the hole filled by a segment that reaches into the run.
        ("fill-reaches-in", [(10, b), (0, b"Y" * 15)]),
        # Three adjacent held segments, then one from inside the second past the third.
        ("inside-adjacent-three", [(10, b), (20, c), (30, d), (25, b"X" * 20), (0, a)]),
    ]


def send(src, dst):
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    inp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    for i, (name, segments) in enumerate(cases()):
        sport = 41000 + i
        isn = random.randrange(1 << 32)
        out.sendto(packet(src, dst, sport, isn, 0, SYN), (dst, 0))
        deadline = time.time() + 3
        server_isn = None
        while server_isn is None and time.time() < deadline:
            if not select.select([inp], [], [], 0.2)[0]:
                continue
            data = inp.recv(65535)
            ihl = (data[0] & 0xF) * 4
            sp, dp, seq, _ack, _off, flags = struct.unpack("!HHIIBB", data[ihl:ihl + 14])
            if sp == PORT and dp == sport and flags & (SYN | ACK) == SYN | ACK:
                server_isn = seq
        if server_isn is None:
            sys.exit(f"case {name}: no SYN-ACK")
        ack = server_isn + 1
        out.sendto(packet(src, dst, sport, isn + 1, ack, ACK), (dst, 0))
        time.sleep(0.02)
        end = 0
        for offset, data in segments:
            out.sendto(packet(src, dst, sport, isn + 1 + offset, ack, ACK | PSH, data), (dst, 0))
            end = max(end, offset + len(data))
            time.sleep(0.02)
        out.sendto(packet(src, dst, sport, isn + 1 + end, ack, ACK | FIN), (dst, 0))
        time.sleep(0.05)
        print(json.dumps({"case": name, "port": sport,
                          "segments": [[off, data.hex()] for off, data in segments]}), flush=True)


def serve(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, PORT))
    s.listen(16)
    s.settimeout(4)
    print("ready", flush=True)
    try:
        while True:
            conn, peer = s.accept()
            conn.settimeout(2)
            got = b""
            try:
                while chunk := conn.recv(65535):
                    got += chunk
            except socket.timeout:
                pass
            conn.close()
            print(json.dumps({"port": peer[1], "data": got.hex()}), flush=True)
    except socket.timeout:
        pass


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3])
    else:
        serve(sys.argv[2])
