//! The speed machinery must not change a verdict: the per-thread miss memo, the exact
//! literal gates and the state kept from phase 1 to phase 2 give, on a warm scratch that
//! has seen other requests, the same outcome as a cold scratch on the request alone.

use super::tests::{bundled, request};
use super::{CrsEngine, CrsScratch, CrsSettings};
use crate::http::HttpTransaction;

fn engine(pl: u8) -> CrsEngine {
    let mut s = CrsSettings::new(bundled());
    s.paranoia_level = pl;
    s.detection_paranoia_level = pl;
    CrsEngine::load(&s).expect("bundled CRS loads")
}

/// Requests that share names and values in different roles: the same header value
/// benign and next to an attack, the same cookie value under another name, an argument
/// value that is an attack under one name and excluded-looking under another, a file
/// name the XSS rules skip (941010's ctl) and one they read.
fn corpus() -> Vec<HttpTransaction> {
    let ua = (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    );
    vec![
        request(
            "GET",
            "/index.html",
            &[("Cookie", "sid=abc123; _ga=GA1.2.3")],
            b"",
        ),
        request(
            "GET",
            "/index.html",
            &[("Cookie", "sid=abc123; _ga=GA1.2.3")],
            b"",
        ),
        request("GET", "/search?q=council+agenda&page=2", &[ua], b""),
        request(
            "GET",
            "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--",
            &[ua],
            b"",
        ),
        request(
            "GET",
            "/search?page=1%27%20UNION%20SELECT%20password%20FROM%20users--",
            &[],
            b"",
        ),
        request(
            "GET",
            "/",
            &[("Cookie", "sid=<script>alert(1)</script>")],
            b"",
        ),
        request(
            "GET",
            "/",
            &[("Cookie", "__utma=<script>alert(1)</script>")],
            b"",
        ),
        request("GET", "/", &[("Referer", "<script>alert(1)</script>")], b""),
        request("GET", "/a<script>alert(1)</script>.html", &[], b""),
        request("GET", "/a/../../etc/passwd", &[], b""),
        request(
            "POST",
            "/contact",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"name=Ann&msg=1%27%20UNION%20SELECT%20password%20FROM%20users--",
        ),
        request(
            "POST",
            "/contact",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"name=Ann&msg=Please+drop+off+the+forms",
        ),
        request(
            "POST",
            "/api",
            &[("Content-Type", "application/json")],
            br#"{"q":"<script>alert(1)</script>","n":3}"#,
        ),
        request("GET", "/", &[("Accept", "")], b""),
        request(
            "GET",
            "/index.html",
            &[("Cookie", "sid=abc123; _ga=GA1.2.3")],
            b"",
        ),
    ]
}

/// Matched rule ids (in order) and the score.
fn verdict(e: &CrsEngine, t: &HttpTransaction, s: &mut CrsScratch) -> (Vec<u32>, u32) {
    let o = e.evaluate(t, s);
    (o.matched.iter().map(|m| m.id).collect(), o.score)
}

#[test]
fn a_warm_scratch_gives_the_verdicts_of_a_cold_one() {
    for pl in [1, 4] {
        let e = engine(pl);
        let reqs = corpus();
        let cold: Vec<_> = reqs
            .iter()
            .map(|t| verdict(&e, t, &mut CrsScratch::default()))
            .collect();
        assert!(
            cold.iter().filter(|(_, score)| *score >= 5).count() >= 8,
            "{cold:?}"
        );
        assert!(
            pl > 1 || (cold[0].1 < 5 && cold[2].1 < 5),
            "benign requests stay benign: {cold:?}"
        );
        let mut warm = CrsScratch::default();
        for round in 0..3 {
            let order: Vec<usize> = if round == 1 {
                (0..reqs.len()).rev().collect()
            } else {
                (0..reqs.len()).collect()
            };
            for i in order {
                assert_eq!(
                    verdict(&e, &reqs[i], &mut warm),
                    cold[i],
                    "PL{pl}, round {round}, request {i}"
                );
            }
        }
    }
}
