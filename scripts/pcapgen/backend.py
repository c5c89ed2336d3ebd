#!/usr/bin/env python3
"""Tiny dynamic backend for the tamperwatch test website (stdlib only).

nginx (port 8080, captured) proxies the dynamic paths here (127.0.0.1:8081,
not captured).  Behaviour, which the expected results of the replay tests
depend on:

  GET  /login                      200  login form (HTML)
  POST /login                      200  if form field password=correct-horse
                                        (sets a session cookie), else 401
  POST /contact                    200  contact form / JSON feedback
  POST /permits/upload             200  (multipart; reports the part sizes)
  GET  /api/chunked                200  Transfer-Encoding: chunked, 4 chunks
  GET  /api/slow                   200  chunked, one chunk every 0.5 s for 5 s
  GET  /api/search                 200  small JSON, echoes nothing
  GET  /api/news, /api/news/<n>    200  JSON
  GET  /admin/, /admin/pages/<n>   200  HTML ("admin console")
  POST|PUT|PATCH /admin/..., /api/...  200
  DELETE /admin/..., /api/...      204
  anything else reaching here      404

Method override headers and ?_method= are ignored (the request is handled by
its real method), as many frameworks would not.
"""
import http.client
import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PASSWORD = "correct-horse"
# nginx has no header count limit; python's default of 100 would answer 431 to the
# padded uploads of pcaps/evasion/header-padding*.pcap, which nginx accepts.
http.client._MAXHEADERS = 1000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "permits-backend/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # keep stderr quiet but useful
        sys.stderr.write("backend: %s %s\n" % (self.address_string(), fmt % args))

    # -- helpers -----------------------------------------------------------
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, payload=b"", ctype="text/plain; charset=utf-8", extra=()):
        if isinstance(payload, str):
            payload = payload.encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(payload)

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj, sort_keys=True) + "\n", "application/json")

    def chunked(self, chunks, delay):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for c in chunks:
            c = c.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- routing -----------------------------------------------------------
    def route(self):
        path = urlsplit(self.path).path
        m = self.command
        protected = path.startswith("/admin/") or path.startswith("/api/")
        if m in ("POST", "PUT", "PATCH", "DELETE"):
            body = self.body()
        else:
            body = b""

        if path == "/login":
            if m == "GET":
                return self.send(200, LOGIN_FORM, "text/html; charset=utf-8")
            if m == "POST":
                form = parse_qs(body.decode("latin-1"))
                if form.get("password", [""])[0] == PASSWORD:
                    return self.send(200, "welcome\n", extra=[
                        ("Set-Cookie", "session=s3ss10n-0001; Path=/; HttpOnly")])
                return self.send(401, "invalid credentials\n")
            return self.send(405, "method not allowed\n", extra=[("Allow", "GET, POST")])
        if path == "/contact" and m == "POST":
            return self.send(200, "thank you, %d bytes received\n" % len(body))
        if path == "/permits/upload" and m == "POST":
            sizes = [len(p) for p in re.split(rb"\r\n--[^\r\n]*\r\n", body)]
            return self.send_json(200, {"received": len(body), "parts": len(sizes)})
        if protected:
            if m == "DELETE":
                return self.send(204)
            if m in ("POST", "PUT", "PATCH"):
                return self.send_json(200, {"ok": True, "method": m, "path": path})
            if m in ("GET", "HEAD"):
                if path == "/api/chunked":
                    return self.chunked(["first chunk\n", "second chunk\n",
                                         "third chunk\n", "last chunk\n"], 0.05)
                if path == "/api/slow":
                    return self.chunked(["tick %02d\n" % i for i in range(10)], 0.5)
                if path == "/api/search":
                    return self.send_json(200, {"results": [
                        {"id": 1, "title": "Building permits"},
                        {"id": 2, "title": "Parking permits"}]})
                if path == "/api/news" or re.fullmatch(r"/api/news/\d+", path):
                    return self.send_json(200, {"news": [
                        {"id": 1, "title": "Library opens Sunday"}]})
                if path == "/admin/" or re.fullmatch(r"/admin/pages/\d+", path):
                    return self.send(200, "<html><body><h1>Admin console</h1></body></html>\n",
                                     "text/html; charset=utf-8")
        return self.send(404, "not found\n")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = route


LOGIN_FORM = """<!doctype html>
<html><head><title>Sign in</title><link rel="stylesheet" href="/css/site.css"></head>
<body><form method="post" action="/login">
<input name="user"> <input name="password" type="password"> <button>Sign in</button>
</form></body></html>
"""

if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
