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
/// name the XSS rules skip (941010's ctl) and one they read, fresh cookie values, and
/// restricted headers (TX variables named per header, read through a TX regex).
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
        // 941100 skips `_ga` cookies (REQUEST-999's exclusion), not `_ga` arguments:
        // the miss recorded for the cookie must not stand for the same name and value
        // as an argument (memo slots are per source).
        request(
            "GET",
            "/",
            &[("Cookie", "_ga=<script>alert(1)</script>")],
            b"",
        ),
        request("GET", "/?_ga=%3Cscript%3Ealert(1)%3C/script%3E", &[], b""),
        request("GET", "/", &[("Referer", "<script>alert(1)</script>")], b""),
        request("GET", "/a<script>alert(1)</script>.html", &[], b""),
        request("GET", "/a/../../etc/passwd", &[], b""),
        // A restricted extension met twice (920440's capture and its chain replayed from
        // the memo of matches), and the same basename in another request line.
        request("GET", "/db/backup.sql", &[ua], b""),
        request("GET", "/db/backup.sql", &[], b""),
        request("GET", "/db/backup.sql?x=1", &[], b""),
        // An XSS argument after 941010 removed REQUEST_FILENAME from the XSS rules (the
        // per-phase skip set counts the removed source as missed for them).
        request("GET", "/page?q=%3Cbody%20onload%3Dalert(1)%3E", &[], b""),
        request("HEAD", "/index.html", &[("Content-Length", "5")], b""),
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
        // A fresh cookie value next to values seen before, benign and not.
        request(
            "GET",
            "/",
            &[
                ("Cookie", "session=9f8e7d6c5b4a3921"),
                ("Referer", "<script>alert(1)</script>"),
            ],
            b"",
        ),
        request(
            "GET",
            "/index.html",
            &[("Cookie", "session=1' or '1'='1")],
            b"",
        ),
        request(
            "GET",
            "/index.html",
            &[("Cookie", "session=0a1b2c3d4e5f6071")],
            b"",
        ),
        // Restricted headers: 920450 reads TX names made per header (TX regex selector).
        request(
            "GET",
            "/",
            &[("Proxy", "http://x"), ("Lock-Token", "a")],
            b"",
        ),
        request("GET", "/", &[("Content-Range", "bytes 0-1/2")], b""),
        // The same body bytes hidden from REQUEST_BODY (multipart) and exposed (no
        // processor): a miss while hidden must not stand for the exposed body.
        request(
            "POST",
            "/upload",
            &[("Content-Type", "multipart/form-data; boundary=zz")],
            BODY,
        ),
        request("POST", "/notes", &[("Content-Type", "text/plain")], BODY),
    ]
}

/// A body with attacks that only REQUEST_BODY shows when no processor parses it.
const BODY: &[u8] = b"<script>alert(1)</script> 1' UNION SELECT password FROM users--";

/// Matched rule ids (in order) and the score.
fn verdict(e: &CrsEngine, t: &HttpTransaction, s: &mut CrsScratch) -> (Vec<u32>, u32) {
    let o = e.evaluate(t, s);
    (o.matched.iter().map(|m| m.id).collect(), o.score)
}

#[test]
fn folded_rules_give_the_verdicts_of_the_full_walk() {
    for pl in [1, 2, 4] {
        let folded = engine(pl);
        let (never, always) = folded.program.folded_counts();
        // Each rule file skips what is above the paranoia level with such a guard.
        assert!(
            always + never >= 20,
            "PL{pl}: {never} never, {always} always"
        );
        if pl == 1 {
            assert!(always >= 20, "PL1: the guards of PL2-4 always jump");
        }
        let mut full = engine(pl);
        full.program.unfold();
        assert_eq!(full.program.folded_counts(), (0, 0));
        let (mut a, mut b) = (CrsScratch::default(), CrsScratch::default());
        for (i, t) in corpus().iter().enumerate() {
            assert_eq!(
                verdict(&folded, t, &mut a),
                verdict(&full, t, &mut b),
                "PL{pl}, request {i}"
            );
        }
    }
}

#[test]
fn a_warm_scratch_gives_the_verdicts_of_a_cold_one() {
    for pl in [1, 4] {
        let e = engine(pl);
        let reqs = corpus();
        let cold_full: Vec<_> = reqs
            .iter()
            .map(|t| e.evaluate(t, &mut CrsScratch::default()))
            .collect();
        let cold: Vec<_> = cold_full
            .iter()
            .map(|o| {
                (
                    o.matched.iter().map(|m| m.id).collect::<Vec<u32>>(),
                    o.score,
                )
            })
            .collect();
        assert!(
            cold.iter().filter(|(_, score)| *score >= 5).count() >= 8,
            "{cold:?}"
        );
        assert!(
            pl > 1 || (cold[0].1 < 5 && cold[2].1 < 5),
            "benign requests stay benign: {cold:?}"
        );
        let n = reqs.len();
        assert!(cold[n - 4].0.contains(&920_450), "{:?}", cold[n - 4]);
        assert!(
            cold[n - 1].1 > cold[n - 2].1,
            "{:?} {:?}",
            cold[n - 1],
            cold[n - 2]
        );
        // The warm scratch also takes each outcome back, as the detector does, so the
        // next request reuses its match list and evidence buffers: whole outcomes,
        // evidence included, must still be a cold scratch's.
        let mut warm = CrsScratch::default();
        for round in 0..3 {
            let order: Vec<usize> = if round == 1 {
                (0..reqs.len()).rev().collect()
            } else {
                (0..reqs.len()).collect()
            };
            for i in order {
                let o = e.evaluate(&reqs[i], &mut warm);
                assert_eq!(o, cold_full[i], "PL{pl}, round {round}, request {i}");
                warm.recycle(o);
            }
        }
        // What the next transaction starts from: the last list, emptied, its room kept.
        let spare = warm.take_matched();
        assert!(
            spare.is_empty() && spare.capacity() > 0,
            "{}",
            spare.capacity()
        );
    }
}

/// Everything a verdict reports per match: id, score and evidence, and the total.
type Full = (Vec<(u32, u32, Vec<u8>)>, u32);

fn full(e: &CrsEngine, t: &HttpTransaction, s: &mut CrsScratch) -> Full {
    let o = e.evaluate(t, s);
    let m = o
        .matched
        .iter()
        .map(|m| (m.id, m.score, m.evidence.clone()))
        .collect();
    (m, o.score)
}

/// A scratch that takes none of the per-rule skip and cross-transaction removal
/// shortcuts.
fn reference() -> CrsScratch {
    let mut s = CrsScratch::default();
    s.reference = true;
    s
}

#[test]
fn rule_skips_and_kept_removals_decide_as_the_plain_evaluation() {
    for pl in [1, 2] {
        let e = engine(pl);
        let reqs = corpus();
        let (mut fast, mut plain) = (CrsScratch::default(), reference());
        // Twice through, so the second round meets removal states and memo sets the
        // first round left.
        for round in 0..2 {
            for (i, t) in reqs.iter().enumerate() {
                assert_eq!(
                    full(&e, t, &mut fast),
                    full(&e, t, &mut plain),
                    "PL{pl}, round {round}, request {i}"
                );
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Any order of the corpus, with repeats: the shortcuts never change an outcome.
    #[test]
    fn shortcuts_agree_with_the_plain_evaluation_in_any_order(
        order in proptest::collection::vec(0usize..64, 1..40)
    ) {
        static ENGINE: std::sync::OnceLock<CrsEngine> = std::sync::OnceLock::new();
        let e = ENGINE.get_or_init(|| engine(1));
        let reqs = corpus();
        let (mut fast, mut plain) = (CrsScratch::default(), reference());
        for k in order {
            let t = &reqs[k % reqs.len()];
            proptest::prop_assert_eq!(full(e, t, &mut fast), full(e, t, &mut plain));
        }
    }
}

#[test]
fn restricted_header_rules_replayed_per_name_list_decide_as_the_plain_evaluation() {
    for (pl, want) in [(1, &[920_450][..]), (2, &[920_450, 920_451][..])] {
        let e = engine(pl);
        let keyed = e.program.name_keyed_rules();
        assert_eq!(keyed, want, "PL{pl}");
        // The same names in other letter case, order and with repeats, with and
        // without a restricted header (PL1: basic list; PL2: extended list too).
        let lists: [&[(&str, &str)]; 6] = [
            &[("Accept", "*/*"), ("Proxy", "http://x")],
            &[("Accept", "*/*"), ("proxy", "http://x")],
            &[("Proxy", "http://x"), ("Accept", "*/*")],
            &[("Accept", "*/*"), ("Accept", "text/html")],
            &[("Accept", "*/*"), ("Content-Range", "bytes 0-1/2")],
            &[("Accept", "*/*"), ("Accept-Charset", "utf-8")],
        ];
        let reqs: Vec<_> = lists.iter().map(|h| request("GET", "/", h, b"")).collect();
        let (mut fast, mut plain) = (CrsScratch::default(), reference());
        let mut flagged = 0;
        for round in 0..3 {
            for (i, t) in reqs.iter().enumerate() {
                let f = full(&e, t, &mut fast);
                flagged += usize::from(f.0.iter().any(|m| keyed.contains(&m.0)));
                assert_eq!(f, full(&e, t, &mut plain), "PL{pl}, round {round}, {i}");
            }
        }
        assert!(
            flagged >= 9,
            "PL{pl}: restricted headers flagged {flagged} times"
        );
    }
}
