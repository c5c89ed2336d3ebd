//! Tests of `operator.rs`.
use super::*;

struct Env;
impl Expand for Env {
    fn expand(&mut self, _m: &MacroText, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"GET POST");
    }
}

fn run(name: &str, arg: &str, input: &[u8]) -> bool {
    let op = Operator::compile(name, arg).expect("compiles");
    op.exec(input, &mut Env, &mut Vec::new(), None, None)
        .is_some()
}

#[test]
fn each_operator_matches_and_misses() {
    assert!(run("rx", "(?i)union\\s+select", b"1 UNION  select"));
    assert!(!run("rx", "^a$", b"a\n"));
    assert!(run("rx", "a.b", b"a\nb"));
    assert!(run("rx", "\\xff", &[0xff]));
    assert!(run("pm", "foo bar", b"xxBARxx"));
    assert!(!run("pm", "foo bar", b"baz"));
    assert!(run("pmfromfile", "nikto\nsqlmap", b"Mozilla sqlmap/1.0"));
    assert!(run("streq", "abc", b"abc") && !run("streq", "abc", b"abcd"));
    assert!(run("contains", "b", b"abc") && !run("contains", "z", b"abc"));
    assert!(run("beginswith", "ab", b"abc") && !run("beginswith", "bc", b"abc"));
    assert!(run("endswith", "bc", b"abc") && !run("endswith", "ab", b"abc"));
    assert!(run("within", "%{tx.allowed_methods}", b"POST"));
    assert!(!run("within", "%{tx.allowed_methods}", b"PUT"));
    assert!(run("eq", "0", b"") && run("eq", "5", b"5"));
    assert!(run("ge", "5", b"5") && !run("gt", "5", b"5"));
    assert!(run("lt", "2", b"1") && run("lt", "2", b"abc3") && !run("lt", "2", b"3"));
    assert!(run("le", "2", b"2"));
    assert!(run("validatebyterange", "32-126", b"a\x01b"));
    assert!(!run("validatebyterange", "32-126", b"abc"));
    assert!(run("validateurlencoding", "", b"%zz"));
    assert!(!run("validateurlencoding", "", b"%41"));
    assert!(run("validateutf8encoding", "", b"\xc3"));
    assert!(!run("validateutf8encoding", "", "é".as_bytes()));
    assert!(run("ipmatch", "127.0.0.1,::1,10.0.0.0/8", b"10.1.2.3"));
    assert!(!run("ipmatch", "127.0.0.1", b"192.0.2.1"));
    assert!(run("unconditionalmatch", "", b""));
    assert!(run("detectsqli", "", b"1' or '1'='1"));
    assert!(!run("detectsqli", "", b"hello world"));
    assert!(run("detectxss", "", b"<script>alert(1)</script>"));
    assert!(!run("detectxss", "", b"hello"));
    assert!(Operator::compile("bogus", "").is_err());
    assert!(Operator::compile("rx", "(").is_err());
}

#[test]
fn rx_captures_fill_tx_slots() {
    let op = Operator::compile("rx", "(a+)(b)?").expect("compiles");
    let mut caps = Vec::new();
    let ev = op.exec(b"xaa", &mut Env, &mut Vec::new(), Some(&mut caps), None);
    assert_eq!(ev, Some(Evidence::Range(1, 3)));
    assert_eq!(caps[0], b"aa");
    assert_eq!(caps[1], b"aa");
    assert!(caps[2].is_empty());
}

#[test]
fn macros_split_out() {
    let m = MacroText::parse("a %{tx.x} b");
    assert_eq!(m.parts.len(), 3);
    assert!(m.literal().is_none());
    assert_eq!(MacroText::parse("plain").literal(), Some(&b"plain"[..]));
    assert_eq!(atoi(b" 12abc"), 12);
    assert_eq!(atoi(b"-3"), -3);
}

#[test]
fn within_finds_a_value_anywhere_in_the_list() {
    let list = b"/proxy/ /lock-token/ /content-range/ /if/ /x-http-method-override/";
    for v in [
        &b"/proxy/"[..],
        b"/if/",
        b"/x-http-method-override/",
        b"lock",
        b"/",
        b"",
    ] {
        assert!(within(v, list), "{:?}", String::from_utf8_lossy(v));
    }
    for v in [
        &b"/host/"[..],
        b"/i/",
        b"/proxy-x/",
        b"/x-http-method-override/ /z",
    ] {
        assert!(!within(v, list), "{:?}", String::from_utf8_lossy(v));
    }
    let long = [b'a'; 2000];
    assert!(within(b"aaa", &long) && !within(b"ab", &long));
    assert!(run("within", "GET POST", b"POST") && !run("within", "GET POST", b"PUT"));
}

#[test]
fn whole_value_regex_matches_everything_with_its_capture() {
    let op = Operator::compile("rx", "^.*$").expect("compiles");
    for v in [&b""[..], b"host", b"a\nb", b"\xff"] {
        let mut caps = vec![b"stale".to_vec(), b"old".to_vec()];
        let r = op.exec(v, &mut Env, &mut Vec::new(), Some(&mut caps), None);
        assert!(matches!(r, Some(Evidence::Range(0, n)) if n == v.len()));
        assert_eq!(caps, vec![v.to_vec()]);
    }
}
