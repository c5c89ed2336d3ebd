#!/usr/bin/env python3
"""make-city-corpus.py - a benign city-website corpus, made with real clients, captured.

usage: sudo python3 scripts/make-city-corpus.py [OUT_DIR]     (default: pcaps/benign)

Starts nginx on 127.0.4.1:8080 (answers 200 to everything, bodies up to 10 MiB read
and discarded) and tcpdump on lo, then plays what a city website gets from ordinary
visitors, from 127.0.4.10 (python `requests` sessions with browser headers and cookie
jars, `http.client`), 127.0.4.11 (curl: permit-form uploads of PDFs and JPEGs, plain
downloads) and 127.0.4.12 (wget page fetches):
searches and contact messages with apostrophes, `&`, SQL-ish English ("select board",
"drop off", "union street", "order by date", "delete my account", "1=1 tickets"),
pasted code in the feedback form, French/Spanish/German/Chinese/Arabic/Vietnamese text,
WordPress/Drupal/Google Analytics/Matomo/consent cookies, JSON API calls, logins with
special-character passwords, browser UAs (Chrome, Firefox, Safari, Edge, mobile) with
Accept-Language, Referer and sec-ch-ua. Personal data is made up (canary-like fake
names, emails, phone numbers). Deterministic choices (seeded). Writes
OUT_DIR/city-corpus.pcap and OUT_DIR/city-corpus.json (request count per kind).
Loopback only; nginx and tcpdump are stopped by PID.
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

REPO = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "pcaps/precision"
HOST, PORT = "127.0.4.1", 8080
BASE = "http://%s:%d" % (HOST, PORT)
BROWSER_ADDR, CURL_ADDR, WGET_ADDR = "127.0.4.10", "127.0.4.11", "127.0.4.12"
rnd = random.Random(20261128)

NGINX_CONF = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_max_body_size 10m;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  server {{
    listen {host}:{port};
    server_name www.springfield.example;
    location /api/ {{ default_type application/json; return 200 '{{"ok":true}}\\n'; }}
    location / {{ default_type text/html; return 200 '<!doctype html><title>City of Springfield</title><p>ok</p>\\n'; }}
  }}
}}
"""

UAS = {
    "chrome": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
               '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"', '"Windows"', "?0"),
    "edge": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
             '"Microsoft Edge";v="131", "Chromium";v="131", "Not_A Brand";v="24"', '"Windows"', "?0"),
    "android": ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
                '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"', '"Android"', "?1"),
    "firefox": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", None, None, None),
    "firefox-linux": ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", None, None, None),
    "safari": ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", None, None, None),
    "iphone": ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", None, None, None),
}
LANGS = ["en-US,en;q=0.9", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "es-ES,es;q=0.9,en;q=0.8",
         "de-DE,de;q=0.9,en;q=0.8", "zh-CN,zh;q=0.9,en;q=0.8", "ar-EG,ar;q=0.9,en-US;q=0.8",
         "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", "en-GB,en;q=0.9"]

FIRST = ["Maria", "James", "Nguyễn", "Fatima", "Jürgen", "Sinéad", "Li", "O'Brien", "José", "Aïcha", "D'Angelo", "Zoë"]
LAST = ["O'Connor", "García", "Müller", "Trần", "Al-Sayed", "Smith-Jones", "Wang", "Dubois", "McDonald", "Kowalski", "van der Berg", "Ó Súilleabháin"]

SEARCHES = [
    "select board meeting minutes", "drop off hazardous waste", "union street parking", "order by date",
    "delete my account", "1=1 tickets", "trash pickup & recycling schedule", "O'Brien park pavilion",
    "where is the DMV?", "property tax (2024) payment", "dog license renewal", "snow emergency -- routes",
    "building permit fees", "council agenda 12/03", "noise complaint after 10pm", "library hours; holiday",
    "select * from events", "union station bus 42", "insert coin parking meter broken", "update my address",
    "drop table tennis league", "C++ coding class for kids", "50% off pool pass", "\"yard sale\" permit",
    "bulk item pick-up <sofa>", "pothole on Main St. & 5th Ave", "fire hydrant #1234", "who's my council member",
    "horaires de la mairie", "permis de construire", "ramassage des ordures", "déchetterie à côté",
    "horario del ayuntamiento", "licencia de obras", "recogida de basura", "cita previa padrón",
    "Öffnungszeiten Bürgeramt", "Baugenehmigung beantragen", "Sperrmüll anmelden", "Straßenreinigung",
    "市政府开放时间", "垃圾回收时间表", "停车许可证申请", "图书馆借书卡",
    "ساعات عمل البلدية", "تصريح بناء", "جمع القمامة", "مواقف السيارات",
    "giờ làm việc tòa thị chính", "giấy phép xây dựng", "thu gom rác", "đăng ký tạm trú",
    "rock 'n' roll festival", "mom & pop shops downtown", "K-12 school zones", "e-mail newsletter",
    "sign-up for 5k run", "water bill > $200?", "path to /downloads/forms", "jobs @ city hall",
]

MESSAGES = [
    "Hi, I'd like to know when the select board meets next. Thanks!",
    "Where can I drop off old paint & batteries? The website says \"call first\" but nobody answers.",
    "The streetlight on Union Street (near #45) has been out since Monday; it's really dark.",
    "Can you list the events order by date? The calendar shows them randomly.",
    "Please delete my account from the newsletter; I've moved to Portland.",
    "My son's 1=1 tickets for the science fair never arrived -- order #88231.",
    "I can't pay my water bill online: it says \"error 500\" when I click 'Submit'.",
    "Bonjour, je voudrais savoir si la piscine est ouverte le dimanche. Merci d'avance !",
    "Hola, ¿cuándo pasa el camión de la basura por la calle Mayor? Gracias.",
    "Guten Tag, ich möchte einen Termin für meinen Personalausweis. Mit freundlichen Grüßen",
    "您好，请问周末可以办理停车许可证吗？谢谢！",
    "مرحبا، أود معرفة مواعيد جمع القمامة في حي الزيتون. شكرا لكم",
    "Xin chào, tôi muốn hỏi về giấy phép kinh doanh cho quán phở của tôi. Cảm ơn!",
    "The form said: Name <required>. I typed my name but it still won't submit?!",
    "Re: fence permit -- the line between 12 & 14 Elm St. is 6' from the curb, is that OK?",
    "Thank you for fixing the potholes on Oak Ave; great job, team :-)",
    "Is the 50% discount for seniors (65+) or (62+)? The flyer & the site disagree.",
    "Our HOA wants to drop the old rules and select new ones; who approves that?",
    "I'd like to report a water leak at 1 Union Square; it's been running for 2 days.",
    "Can I bring my dog to the farmer's market? What's the policy?",
]

CODE_SNIPPETS = [
    "Your calendar widget throws in the console:\nTypeError: Cannot read properties of undefined (reading 'length')\n    at renderEvents (calendar.min.js:1:2345)\n",
    "When I export the CSV I get:\n\"Name\",\"Date\",\"Location\"\n\"Yard sale\",\"2024-05-04\",\"12 Elm St.\"\nbut the dates are wrong.",
    "I'm a developer; the events API returns {\"events\": [], \"page\": 1} for every page. Example: GET /api/v1/events?page=2",
    "Suggestion for your accessibility: use <button type=\"submit\"> instead of a div with onclick.",
    "The search breaks with quotes. I searched for \"yard sale\" and got: SQL syntax error near 'yard sale' -- maybe escape input?",
    "Python snippet I used to read your open data:\nimport requests\nr = requests.get('https://data.springfield.example/api/permits.json')\nprint(r.json()['permits'][0])\n",
    "Your RSS feed has an error at line 12: <pubDate>Mon, 32 Jan 2024</pubDate>",
    "For the bus tracker, the JS uses setInterval(update, 1000); which drains phone batteries.",
    "In Excel, =SUM(B2:B10) of your budget sheet gives 1.2M but the PDF says 1.3M.",
    "Steps to reproduce: 1) open /permits 2) choose 'Fence' 3) click Next => blank page (Chrome 131).",
]

PASSWORDS = ["Tr0ub4dor&3", "p@ss'w0rd!", "correct horse battery staple", "S3cure#Pass%2024", "Ünïcødé-Paßwort1",
             "my\"quoted\"pw", "a<b>c&d=e", "1=1or'x'", "P@$$w0rd;--", "letmein!!", "¡Hola123!", "密码Passw0rd"]


def fake_person():
    f, l = rnd.choice(FIRST), rnd.choice(LAST)
    user = re.sub(r"[^a-z]", "", (f + "." + l).lower().encode("ascii", "ignore").decode()) or "resident"
    return {"name": "%s %s" % (f, l), "email": "%s%d@example.org" % (user, rnd.randint(1, 99)),
            "phone": "+1 (555) %03d-%04d" % (rnd.randint(100, 999), rnd.randint(0, 9999))}


def cookie_jar(kind):
    h = "%032x" % rnd.getrandbits(128)
    ts = 1700000000 + rnd.randint(0, 30000000)
    ga = "GA1.1.%d.%d" % (rnd.randint(10**8, 10**9), ts)
    jars = {
        "none": {},
        "ga": {"_ga": ga, "_gid": "GA1.2.%d.%d" % (rnd.randint(10**8, 10**9), ts),
               "_ga_8XK3Y2Q1ZL": "GS1.1.%d.3.1.%d.0.0.0" % (ts, ts + 600)},
        "matomo": {"_pk_id.1.1fff": "%016x.%d." % (rnd.getrandbits(64), ts), "_pk_ses.1.1fff": "1", "_ga": ga},
        "wordpress": {"wordpress_test_cookie": "WP%20Cookie%20check",
                      "wordpress_logged_in_" + h: f"maria%7C{ts}%7C{rnd.getrandbits(160):040x}%7C{rnd.getrandbits(256):064x}",
                      "wp-settings-1": "libraryContent%3Dbrowse%26editor%3Dtinymce", "wp-settings-time-1": str(ts), "_ga": ga},
        "drupal": {"SESS" + h: "%043x" % rnd.getrandbits(172), "Drupal.visitor.name": "Maria", "has_js": "1",
                   "cookie-agreed": "2", "cookie-agreed-categories": "%5B%22necessary%22%2C%22analytics%22%5D"},
        "consent": {"CookieConsent": f"{{stamp:%27{rnd.getrandbits(96):x}%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1%2Cutc:{ts}%2Cregion:%27us-06%27}}",
                    "cookielawinfo-checkbox-necessary": "yes", "cookielawinfo-checkbox-analytics": "no", "_ga": ga},
    }
    return jars[kind]


class BoundAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (BROWSER_ADDR, 0)
        super().init_poolmanager(*args, **kwargs)


def browser_session():
    s = requests.Session()
    s.mount("http://", BoundAdapter())
    s.trust_env = False
    name = rnd.choice(list(UAS))
    ua, chua, plat, mobile = UAS[name]
    h = {"User-Agent": ua, "Accept-Language": rnd.choice(LANGS), "Accept-Encoding": "gzip, deflate, br, zstd",
         "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
         "Upgrade-Insecure-Requests": "1", "Host": "www.springfield.example"}
    if chua:
        h.update({"sec-ch-ua": chua, "sec-ch-ua-mobile": mobile, "sec-ch-ua-platform": plat,
                  "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"})
    else:
        h["DNT"] = "1"
    s.headers.clear()
    s.headers.update(h)
    for k, v in cookie_jar(rnd.choice(["none", "ga", "matomo", "wordpress", "drupal", "consent"])).items():
        s.cookies.set(k, v, domain="www.springfield.example")
    return s


COUNT = {}


def note(kind, n=1):
    COUNT[kind] = COUNT.get(kind, 0) + n


def referer(path="/"):
    return "http://www.springfield.example" + path


def run_browsers():
    pages = ["/", "/news/", "/news/2024/road-works-union-street", "/departments/public-works", "/events/",
             "/events/?category=family&month=2024-06", "/contact/", "/permits/", "/council/select-board/",
             "/wp-content/themes/city/style.css?ver=6.4.2", "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
             "/sites/default/files/css/css_abc123.css", "/favicon.ico", "/feed/", "/sitemap.xml"]
    for _ in range(60):
        s = browser_session()
        for p in rnd.sample(pages, 4):
            s.get(BASE + p, headers={"Referer": referer()})
            note("page")
        for _ in range(3):
            q = rnd.choice(SEARCHES)
            if rnd.random() < 0.5:
                s.get(BASE + "/search", params={"q": q, "page": rnd.randint(1, 3)}, headers={"Referer": referer("/")})
            else:
                s.get(BASE + "/", params={"s": q}, headers={"Referer": referer("/news/")})
            note("search")
        p = fake_person()
        msg = rnd.choice(MESSAGES)
        s.post(BASE + "/contact/", data={"name": p["name"], "email": p["email"], "phone": p["phone"],
                                         "subject": rnd.choice(["Question", "Complaint", "Compliment", "Other / Autre"]),
                                         "message": msg, "consent": "on", "_wpnonce": "%010x" % rnd.getrandbits(40)},
               headers={"Referer": referer("/contact/"), "Origin": "http://www.springfield.example"})
        note("contact_form")
        s.post(BASE + "/feedback", data={"page": "/events/", "rating": str(rnd.randint(1, 5)),
                                         "comment": rnd.choice(CODE_SNIPPETS), "email": p["email"]},
               headers={"Referer": referer("/events/")})
        note("feedback_code")
        s.post(BASE + "/wp-login.php", data={"log": p["email"], "pwd": rnd.choice(PASSWORDS), "rememberme": "forever",
                                             "wp-submit": "Log In", "redirect_to": "http://www.springfield.example/wp-admin/",
                                             "testcookie": "1"}, headers={"Referer": referer("/wp-login.php")})
        note("login")
        api = {"Accept": "application/json", "Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest",
               "Referer": referer("/report-a-problem/")}
        s.post(BASE + "/api/v1/service-requests", data=json.dumps({
            "category": rnd.choice(["pothole", "streetlight", "graffiti", "missed_pickup", "noise"]),
            "description": rnd.choice(MESSAGES), "location": {"lat": 39.78 + rnd.random() / 100, "lng": -89.65 - rnd.random() / 100,
                                                              "address": "%d Union Street" % rnd.randint(1, 300)},
            "contact": {"name": p["name"], "email": p["email"], "phone": p["phone"]}, "anonymous": False,
            "tags": ["web", "2024"]}, ensure_ascii=rnd.random() < 0.5).encode(), headers=api)
        note("json_api")
        s.get(BASE + "/api/v1/events", params={"from": "2024-06-01", "to": "2024-06-30", "sort": "date", "order": "asc",
                                                "q": rnd.choice(SEARCHES)}, headers={"Accept": "application/json"})
        note("json_api")
        s.post(BASE + "/wp-admin/admin-ajax.php", data={"action": "city_newsletter_signup", "email": p["email"],
                                                        "lists[]": ["alerts", "events"], "nonce": "%010x" % rnd.getrandbits(40)},
               headers={"X-Requested-With": "XMLHttpRequest", "Referer": referer("/")})
        note("ajax")
        s.close()


def run_http_client():
    # Plain http.client: a mobile app and a kiosk calling the JSON API, one connection each.
    for i in range(100):
        c = http.client.HTTPConnection(HOST, PORT, source_address=(BROWSER_ADDR, 0), timeout=5)
        p = fake_person()
        body = json.dumps({"username": p["email"], "password": rnd.choice(PASSWORDS), "remember": True})
        c.request("POST", "/api/v1/login", body=body, headers={
            "Host": "www.springfield.example", "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "SpringfieldCityApp/3.4.1 (iPhone; iOS 18.1; Scale/3.00)", "Accept": "application/json",
            "Accept-Language": rnd.choice(LANGS)})
        c.getresponse().read()
        note("json_login")
        c.request("GET", "/api/v1/trash-schedule?address=%s&zip=62701" % requests.utils.quote("%d O'Connor Rd" % rnd.randint(1, 999)),
                  headers={"Host": "www.springfield.example", "User-Agent": "SpringfieldCityApp/3.4.1 (iPhone; iOS 18.1; Scale/3.00)",
                           "Accept": "application/json", "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI%d0In0.%s" % (i, "x" * 43)})
        c.getresponse().read()
        note("json_api")
        c.close()


PDF_NAMES = ["site plan (final).pdf", "Lageplan_Müller.pdf", "permit-application_2024.pdf", "plan.PDF"]
JPG_NAMES = ["IMG_2041.JPG", "photo.jpg", "fence & gate.jpeg", "clôture-avant.jpg"]


def make_files(work):
    """A JPEG photo and a one-page PDF scan made with ImageMagick and img2pdf."""
    jpg = work / "fence-photo.jpg"
    subprocess.run(["convert", "-size", "320x240", "plasma:fractal", "-quality", "80", str(jpg)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scan = work / "scan.jpg"
    subprocess.run(["convert", "-size", "400x300", "xc:white", "-fill", "black", "-draw", "rectangle 20,20 380,280",
                    "-quality", "70", str(scan)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pdf = work / "site-plan.pdf"
    subprocess.run(["img2pdf", "-o", str(pdf), str(scan)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return pdf, jpg


def run_curl(work):
    pdf, jpg = make_files(work)
    for i in range(40):
        p = fake_person()
        f = pdf if i % 2 == 0 else jpg
        ctype = "application/pdf" if f == pdf else "image/jpeg"
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "--noproxy", "*", "--interface", CURL_ADDR,
                        "-A", UAS["firefox"][0], "-H", "Host: www.springfield.example", "-H", "Referer: " + referer("/permits/apply"),
                        "-F", "applicant=%s" % p["name"], "-F", "email=%s" % p["email"], "-F", "phone=%s" % p["phone"],
                        "-F", "permit_type=%s" % rnd.choice(["fence", "deck", "shed", "driveway & curb cut"]),
                        "-F", "description=Replace 6' fence between 12 & 14 Elm St.; owner's consent attached.",
                        "-F", "attachment=@%s;type=%s;filename=%s" % (f, ctype, rnd.choice(PDF_NAMES if f == pdf else JPG_NAMES)),
                        BASE + "/permits/upload"], check=True)
        note("upload")
    for path in ["/documents/budget-2024.pdf", "/documents/agenda 03-12.pdf", "/img/logo.png", "/robots.txt"]:
        for _ in range(5):
            subprocess.run(["curl", "-sS", "-o", "/dev/null", "--noproxy", "*", "--interface", CURL_ADDR, "-g",
                            "-H", "Host: www.springfield.example", BASE + requests.utils.quote(path)], check=True)
            note("curl_get")


def run_wget(work):
    for path in ["/", "/news/", "/events/", "/permits/", "/contact/"]:
        for _ in range(4):
            subprocess.run(["wget", "-q", "-O", "/dev/null", "--no-proxy", "--bind-address", WGET_ADDR,
                            "--header", "Host: www.springfield.example", BASE + path], check=True)
            note("wget_get")


def main():
    if os.geteuid() != 0:
        sys.exit("make-city-corpus: must run as root (tcpdump)")
    for a in ("127.0.4.1", BROWSER_ADDR, CURL_ADDR, WGET_ADDR):
        subprocess.run(["ip", "addr", "add", a + "/32", "dev", "lo"], stderr=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="tamperwatch-city."))
    OUT.mkdir(parents=True, exist_ok=True)
    pcap = OUT / "city-corpus.pcap"
    (work / "nginx.conf").write_text(NGINX_CONF.format(work=work, host=HOST, port=PORT))
    nginx = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-g", "daemon off;"])
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "65536", "-U", "-w", str(pcap),
                             "host %s and tcp port %d" % (HOST, PORT)], stderr=subprocess.PIPE)
    err = b""
    try:
        time.sleep(1.5)
        run_browsers()
        run_http_client()
        run_curl(work)
        run_wget(work)
        time.sleep(1.5)
    finally:
        dump.send_signal(signal.SIGINT)
        _, err = dump.communicate(timeout=10)
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    sys.stderr.write(err.decode(errors="replace"))
    if not re.search(rb"(?m)^0 packets dropped by kernel", err):
        sys.exit("make-city-corpus: tcpdump dropped packets; run again")
    total = sum(COUNT.values())
    (OUT / "city-corpus.json").write_text(json.dumps({"requests": total, "by_kind": COUNT}, indent=1, sort_keys=True) + "\n")
    print("requests: %d %s; pcap %d bytes" % (total, COUNT, pcap.stat().st_size))


if __name__ == "__main__":
    main()
