#!/usr/bin/env python3
"""Server and client for the fragmentation namespaces (scripts/netns-fragments.sh).

usage: fragnet.py serve ADDR PORT            answer every request 200 (IPv4 or IPv6)
       fragnet.py send  CASE ADDR PORT       send one request of CASE:
         frag-upload     IPv4, DF cleared: a PHP web shell uploaded in a multipart body
                         big enough that the router fragments its segments
         frag-benign     the same path and size, a PDF to the sanctioned endpoint
         dstopts-upload  IPv6 with a Destination Options header on every packet
                         (IPV6_DSTOPTS, sticky on the TCP socket): the same shell upload

Real kernel TCP both ways; nothing here builds a packet by hand.
"""
import socket
import sys

IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0
IPV6_DSTOPTS = 59
# An 8-byte Destination Options header: next header and length are filled by the kernel
# from the sticky option; one PadN option of 4 bytes pads it.
DSTOPTS = bytes([0, 0, 1, 4, 0, 0, 0, 0])


def multipart(filename, ctype, content):
    b = "fragnetboundary7MA4YWxk"
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode() + content + f"\r\n--{b}--\r\n".encode()
    return f"multipart/form-data; boundary={b}", body


def request(case, host):
    if case == "frag-benign":
        pdf = b"%PDF-1.7\n" + b"0123456789abcdef" * 300 + b"\n%%EOF\n"
        ctype, body = multipart("permit.pdf", "application/pdf", pdf)
        path = "/permits/upload"
    else:
        shell = b"<?php system($_GET['c']); ?>\n" + b"/* padding */\n" * 300
        ctype, body = multipart("shell.php", "image/jpeg", shell)
        path = "/images/upload"
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: fragnet/1\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def send(case, addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    if case.startswith("dstopts"):
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_DSTOPTS, DSTOPTS)
    s.settimeout(10)
    s.connect((addr, port))
    s.sendall(request(case, addr if family == socket.AF_INET else f"[{addr}]"))
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    print(reply.split(b"\r\n", 1)[0].decode(errors="replace"))


def serve(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind((addr, port))
    ls.listen(16)
    while True:
        conn, _ = ls.accept()
        conn.settimeout(10)
        try:
            # Read the head, then Content-Length bytes of body (or until the client
            # closes), then answer and close.
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value.strip())
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], sys.argv[3], int(sys.argv[4]))
