//! Hand-written edge cases, several per transformation: ModSecurity's quirks, truncated
//! and invalid escapes, full-width and overlong forms, comments, paths and base64.

use super::tests::{show, t};

/// Asserts each (input, expected) pair for one transformation.
fn check(name: &str, cases: &[(&[u8], &[u8])]) {
    for &(input, expected) in cases {
        assert_eq!(
            show(&t(name, input)),
            show(expected),
            "{name}({})",
            show(input)
        );
    }
}

#[test]
fn url_decode_keeps_invalid_and_truncated_escapes() {
    check(
        "urlDecode",
        &[
            (b"a%20b+c", b"a b c"),
            (b"%41%4a%4A", b"AJJ"),
            (b"%", b"%"),
            (b"%4", b"%4"),
            (b"100%", b"100%"),
            (b"%zz%41", b"%zzA"),
            (b"%%41", b"%A"),
            (b"%u0041", b"%u0041"),
            (b"%00x", b"\x00x"),
            (b"%2527", b"%27"),
        ],
    );
}

#[test]
fn url_decode_uni_handles_iis_unicode_and_full_width() {
    check(
        "urlDecodeUni",
        &[
            (b"%u0041%U0042", b"AB"),
            (b"%uff1cscript%uff1e", b"<script>"),
            (b"%uFF01%uff5e", b"!~"),
            // 0xff5f is past the full-width ASCII block: low byte only.
            (b"%uff5f", b"\x5f"),
            (b"%uff00", b"\x00"),
            // Other code points outside the best-fit table keep only the low byte.
            (b"%u2027%u1234", b"\x27\x34"),
            (b"%u004", b"%u004"),
            (b"%u00zz", b"%u00zz"),
            (b"%u", b"%u"),
            (b"%u%41", b"%uA"),
            (b"a+b%20c", b"a b c"),
            (b"%0g%20", b"%0g "),
        ],
    );
}

#[test]
fn url_decode_uni_applies_the_20127_best_fit_map() {
    check(
        "urlDecodeUni",
        &[
            (b"%u2018%u2019%u201c%u02bc", b"''\"'"),
            (b"caf%u00e9 %u00C0", b"cafe A"),
            (b"%u3002%uff61%uff0e", b"..."),
            (b"%u2039script%u203a", b"<script>"),
            (b"word%u2014dash", b"word-dash"),
            (b"%u00a0%u0127", b" h"),
            // Not in the table: low byte.
            (b"%u0532", b"\x32"),
        ],
    );
    // The table is sorted, so the binary search finds every entry.
    let table = super::unicode_map::BEST_FIT_20127;
    assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
    for &(cp, b) in table {
        assert_eq!(super::unicode_map::best_fit(cp), Some(b));
        assert!(b.is_ascii());
    }
}

#[test]
fn url_encode_escapes_all_but_alphanumerics_and_star() {
    check(
        "urlEncode",
        &[
            (b"a b", b"a+b"),
            (b"Az09*", b"Az09*"),
            (b"-._~", b"%2d%2e%5f%7e"),
            (b"\x00\xff", b"%00%ff"),
            (b"", b""),
        ],
    );
}

#[test]
fn html_entity_decode_numeric_named_and_broken_entities() {
    check(
        "htmlEntityDecode",
        &[
            (b"&lt;script&gt;", b"<script>"),
            (b"&LT;&Gt;&QUOT;&AMP;", b"<>\"&"),
            (b"&nbsp;", b"\xa0"),
            (b"&#60;&#x3c;&#X3C", b"<<<"),
            (b"&#0000000060;", b"<"),
            // One byte, not UTF-8: the code point is truncated.
            (b"&#x263a;", b"\x3a"),
            (b"&#256;", b"\x00"),
            (b"&#x", b"&#x"),
            (b"&#", b"&#"),
            (b"&", b"&"),
            (b"&#;", b"&#;"),
            (b"&foo;&lt", b"&foo;<"),
            // The named entity is a prefix of the alphanumeric run, which is consumed.
            (b"&ltfoo;x", b"<x"),
            (b"&amp;lt;", b"&lt;"),
            (b"a & b", b"a & b"),
        ],
    );
}

#[test]
fn js_decode_escapes() {
    check(
        "jsDecode",
        &[
            (b"\\u0041\\x42\\103", b"ABC"),
            (b"\\uff1c", b"<"),
            (b"\\n\\t\\r\\a\\b\\f\\v", b"\n\t\r\x07\x08\x0c\x0b"),
            (b"\\'\\\"\\\\\\/", b"'\"\\/"),
            // Three octal digits only when the value fits a byte.
            (b"\\477", b"\x277"),
            (b"\\377", b"\xff"),
            (b"\\08", b"\x008"),
            (b"\\u12", b"u12"),
            (b"\\xZ1", b"xZ1"),
            (b"abc\\", b"abc\\"),
        ],
    );
}

#[test]
fn css_decode_escapes() {
    check(
        "cssDecode",
        &[
            (b"\\3c script\\3e", b"<script>"),
            (b"\\00003c", b"<"),
            (b"\\ff1c", b"<"),
            (b"\\0ff1c", b"<"),
            (b"\\1ff1c", b"\x1c"),
            (b"\\6a avascript", b"javascript"),
            (b"a\\\nb", b"ab"),
            (b"\\\"", b"\""),
            (b"\\g", b"g"),
            (b"end\\", b"end"),
            (b"\\1234567", b"\x567"),
        ],
    );
}

#[test]
fn escape_seq_decode_ansi_c() {
    check(
        "escapeSeqDecode",
        &[
            (b"\\x41\\X42", b"AB"),
            (b"\\n\\?\\'", b"\n?'"),
            (b"\\101\\0", b"A\x00"),
            // Octal values above a byte are truncated, not shortened.
            (b"\\777", b"\xff"),
            (b"\\xag", b"xag"),
            (b"\\q", b"q"),
            (b"\\", b"\\"),
            (b"a\\", b"a\\"),
        ],
    );
}

#[test]
fn utf8_to_unicode_forms_and_quirks() {
    check(
        "utf8toUnicode",
        &[
            (b"abc", b"abc"),
            ("é".as_bytes(), b"%u00e9"),
            ("東".as_bytes(), b"%u6771"),
            ("🎉".as_bytes(), b"%u1f389"),
            // A truncated sequence's lead byte is dropped.
            (b"a\xc3", b"a"),
            (b"\xe6\x9d", b"\x9d"),
            // Stray continuation and invalid lead bytes pass as is.
            (b"\x80\xff", b"\x80\xff"),
            // Overlong and surrogate forms get their lead byte appended.
            (b"\xc0\xaf", b"%u002f\xc0"),
            (b"\xed\xa0\x80", b"%ud800\xed"),
            // A NUL is dropped unless it is the last byte.
            (b"a\x00b\x00", b"ab\x00"),
        ],
    );
}

#[test]
fn cmd_line_normalises_shell_evasions() {
    check(
        "cmdLine",
        &[
            (b"C^AT /ETC/PASSWD", b"cat/etc/passwd"),
            (b"w\"h\"o'a'm\\i", b"whoami"),
            (b"echo;id,ls", b"echo id ls"),
            (b"ping  \t\r\n -c 1", b"ping -c 1"),
            (b"cmd (x)", b"cmd(x)"),
            (b" /bin", b"/bin"),
            (b"a , ; b", b"a b"),
            (b"\xc3\x89", b"\xc3\x89"),
        ],
    );
}

#[test]
fn whitespace_transformations() {
    check(
        "compressWhitespace",
        &[
            (b"a \t\n\x0b\x0c\rb", b"a b"),
            (b"  a  ", b" a "),
            (b"a\xa0b", b"a\xa0b"),
            (b"", b""),
        ],
    );
    check(
        "removeWhitespace",
        &[
            (b" a\tb\nc ", b"abc"),
            (b"a\xa0b", b"ab"),
            (b"a\xc2\xa0b", b"ab"),
            (b"a\x00b", b"a\x00b"),
        ],
    );
    check(
        "trim",
        &[(b" \t a b \r\n", b"a b"), (b"   ", b""), (b"a", b"a")],
    );
    check("trimLeft", &[(b" \t a b ", b"a b "), (b"\x0b\x0ca", b"a")]);
    check("trimRight", &[(b" a b \n", b" a b"), (b"a\xa0", b"a\xa0")]);
}

#[test]
fn null_and_case_transformations() {
    check(
        "removeNulls",
        &[(b"\x00a\x00\x00b\x00", b"ab"), (b"ab", b"ab")],
    );
    check("replaceNulls", &[(b"\x00a\x00b", b" a b")]);
    check("lowercase", &[(b"SeLeCT\xc3\x89", b"select\xc3\x89")]);
    check("uppercase", &[(b"union\xc3\xa9", b"UNION\xc3\xa9")]);
}

#[test]
fn comment_transformations() {
    check(
        "replaceComments",
        &[
            (b"UNION/**/SELECT", b"UNION SELECT"),
            (b"a/* x */b/*c*/d", b"a b d"),
            (b"a/*unterminated", b"a "),
            (b"a*/b", b"a*/b"),
            (b"/", b"/"),
        ],
    );
    check(
        "removeComments",
        &[
            (b"a/*x*/bc", b"abc"),
            (b"a<!--x-->bc", b"abc"),
            (b"select 1 -- comment", b"select 1 "),
            (b"select 1 # comment", b"select 1 "),
            (b"a/*x", b"a "),
        ],
    );
    check(
        "removeCommentsChar",
        &[
            (b"UNION/**/SELECT", b"UNIONSELECT"),
            (b"a/*b*/c", b"abc"),
            (b"<!--x-->", b"x"),
            (b"1--2#3", b"123"),
            (b"a-b", b"a-b"),
        ],
    );
}

#[test]
fn normalize_path_resolves_segments() {
    check(
        "normalizePath",
        &[
            (b"/a/b/../c", b"/a/c"),
            (b"/a/./b//c", b"/a/b/c"),
            (b"/../../etc/passwd", b"/etc/passwd"),
            (b"../../etc/passwd", b"../../etc/passwd"),
            (b"a/../../b", b"../b"),
            (b"/a/b/", b"/a/b/"),
            (b"/a/b/..", b"/a"),
            (b"./a", b"a"),
            (b"", b""),
            (b"a\\..\\b", b"a\\..\\b"),
        ],
    );
    check(
        "normalizePathWin",
        &[
            (b"c:\\windows\\..\\boot.ini", b"c:/boot.ini"),
            (b"\\a\\.\\b", b"/a/b"),
            (b"..\\..\\x", b"../../x"),
            // A run of three separators leaves no backslash behind.
            (b"a\\\\\\b", b"a/b"),
            (b"/x\\\\\\..\\\\\\..\\\\\\boot.ini", b"/boot.ini"),
        ],
    );
}

#[test]
fn base64_transformations() {
    check(
        "base64Decode",
        &[
            (b"PHNjcmlwdD4=", b"<script>"),
            (b"YWJj\r\nZGVm", b"abcdef"),
            // Stops at the first byte outside the alphabet, keeping what it decoded.
            (b"YWJj!ZGVm", b"abc"),
            (b"YWJj ZGVm", b"abc"),
            (b"YWI", b"ab"),
            (b"YQ", b"a"),
            (b"Y", b""),
            (b"", b""),
        ],
    );
    check(
        "base64DecodeExt",
        &[
            (b"YWJj!ZGVm", b"abcdef"),
            (b"Y.W.J.j", b"abc"),
            (b"YWI=", b"ab"),
            (b"Y=", b""),
            (b"YWJjZ=x", b""),
        ],
    );
}

#[test]
fn hex_and_digest_transformations() {
    check(
        "hexDecode",
        &[
            (b"414243", b"ABC"),
            (b"4a4B", b"JK"),
            (b"414", b"A"),
            (b"0z", b"#"),
            (b"", b""),
        ],
    );
    check("hexEncode", &[(b"AB\x00\xff", b"414200ff"), (b"", b"")]);
    check(
        "length",
        &[(b"", b"0"), (b"abcdefghij", b"10"), (&[0u8; 1234], b"1234")],
    );
    // RFC 1321 and FIPS 180 test vectors, raw digests.
    check(
        "md5",
        &[(
            b"abc",
            b"\x90\x01\x50\x98\x3c\xd2\x4f\xb0\xd6\x96\x3f\x7d\x28\xe1\x7f\x72",
        )],
    );
    check(
        "sha1",
        &[(
            b"abc",
            b"\xa9\x99\x3e\x36\x47\x06\x81\x6a\xba\x3e\x25\x71\x78\x50\xc2\x6c\x9c\xd0\xd8\x9d",
        )],
    );
}
