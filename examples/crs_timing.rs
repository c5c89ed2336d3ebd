//! CRS engine timing: load time and µs per transaction for typical requests.
//!
//! `cargo run --release --example crs_timing [CRS_DIR] [PL]`. A measuring tool, not a
//! test: it asserts nothing and prints figures for benches/README.md.

use std::time::Instant;

use tamperwatch::detect::crs::{CrsEngine, CrsScratch, CrsSettings};
use tamperwatch::http::{Header, HttpTransaction, RequestHead};
use tamperwatch::time::Timestamp;

/// Builds the i-th request of a case whose values change every time.
type MakeTxn = fn(u32) -> HttpTransaction;

fn txn(method: &str, uri: &str, extra: &[(&str, &str)], body: &[u8]) -> HttpTransaction {
    let mut headers: Vec<Header> = [
        ("Host", "www.example.org"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("Accept-Language", "en-US,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
    ]
    .iter()
    .chain(extra)
    .map(|(n, v)| Header {
        name: n.to_string(),
        value: v.to_string(),
    })
    .collect();
    if !body.is_empty() {
        headers.push(Header {
            name: "Content-Length".into(),
            value: body.len().to_string(),
        });
    }
    HttpTransaction {
        request: Some(RequestHead {
            method: method.into(),
            uri: uri.into(),
            version: "HTTP/1.1".into(),
            headers,
            headers_dropped: 0,
        }),
        request_body_len: body.len() as u64,
        body_prefix: body.to_vec(),
        ..HttpTransaction::new(
            1,
            "192.0.2.10:40000".parse().expect("addr"),
            "192.0.2.1:80".parse().expect("addr"),
            Timestamp::from_secs_micros(1_700_000_000, 0),
            1,
        )
    }
}

/// CPU time this thread has run, in ns (Linux schedstat), so that figures taken on a
/// busy machine count only the time the engine actually ran.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "rules/crs".into());
    let pl: u8 = args.next().and_then(|p| p.parse().ok()).unwrap_or(1);
    // Optional: only the cases whose name contains this, and iterations per case.
    let only = args.next().unwrap_or_default();
    let n: u32 = args.next().and_then(|p| p.parse().ok()).unwrap_or(5000);
    let mut s = CrsSettings::new(&dir);
    s.paranoia_level = pl;
    s.detection_paranoia_level = pl;
    let t0 = Instant::now();
    let c0 = cpu_ns();
    let engine = match CrsEngine::load(&s) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let load_cpu = c0.zip(cpu_ns()).map(|(a, b)| (b - a) as f64 / 1e6);
    println!(
        "load: {} rules in {:.1} ms wall, {:.1} ms CPU (PL{pl})",
        engine.rule_count(),
        t0.elapsed().as_secs_f64() * 1e3,
        load_cpu.unwrap_or(f64::NAN)
    );
    let (links, gated, lits) = engine.gate_counts();
    println!("links: {links} with an operator, {gated} gated by {lits} literals");
    let (never, always) = engine.folded_counts();
    println!("rules folded at load: {never} never match, {always} always match");
    let cases = [
        ("static GET", txn("GET", "/assets/site.css", &[("Cookie", "_ga=GA1.2.3; sid=abc123")], b"")),
        ("GET with query", txn("GET", "/search?q=city+council+meeting&page=2&sort=date", &[("Referer", "https://www.example.org/")], b"")),
        ("form POST", txn("POST", "/contact", &[("Content-Type", "application/x-www-form-urlencoded")], b"name=Ann+O%27Neil&email=ann%40example.org&msg=Please+drop+off+the+forms+at+Union+Street.")),
        ("JSON POST", txn("POST", "/api/v1/items", &[("Content-Type", "application/json")], br#"{"item":{"name":"bench","tags":["a","b"],"count":3}}"#)),
        ("SQLi GET", txn("GET", "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--", &[], b"")),
    ];
    let mut scratch = CrsScratch::default();
    for (name, t) in cases
        .iter()
        .filter(|(name, _)| name.contains(only.as_str()))
    {
        for _ in 0..200 {
            engine.evaluate(t, &mut scratch);
        }
        let t0 = Instant::now();
        let c0 = cpu_ns();
        let mut score = 0;
        for _ in 0..n {
            score = engine.evaluate(t, &mut scratch).score;
        }
        let us = t0.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let cpu_us = c0
            .zip(cpu_ns())
            .map_or(f64::NAN, |(a, b)| (b - a) as f64 / 1e3 / f64::from(n));
        println!("{name:16} {cpu_us:8.2} µs CPU/txn ({us:8.2} wall)  score {score}");
    }
    // Values the memo has not seen: a fresh session cookie on every request (as a
    // quarter of the benchmark's requests carry), and a different path every time.
    let fresh: [(&str, MakeTxn); 2] = [
        ("new cookie GET", |i| {
            txn(
                "GET",
                "/assets/site.css",
                &[(
                    "Cookie",
                    &format!(
                        "session={:016x}",
                        u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ),
                )],
                b"",
            )
        }),
        ("new path GET", |i| {
            txn("GET", &format!("/old/page-{i}.html"), &[], b"")
        }),
    ];
    for (name, make) in fresh
        .iter()
        .filter(|(name, _)| name.contains(only.as_str()))
    {
        let reqs: Vec<HttpTransaction> = (0..n + 200).map(make).collect();
        for t in &reqs[..200] {
            engine.evaluate(t, &mut scratch);
        }
        let t0 = Instant::now();
        let c0 = cpu_ns();
        let mut score = 0;
        for t in &reqs[200..] {
            score = engine.evaluate(t, &mut scratch).score;
        }
        let us = t0.elapsed().as_secs_f64() * 1e6 / f64::from(n);
        let cpu_us = c0
            .zip(cpu_ns())
            .map_or(f64::NAN, |(a, b)| (b - a) as f64 / 1e3 / f64::from(n));
        println!("{name:16} {cpu_us:8.2} µs CPU/txn ({us:8.2} wall)  score {score}");
    }
}
