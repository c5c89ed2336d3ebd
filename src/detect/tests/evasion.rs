//! Requests a real server accepts, written to slip past a monitor that parses them
//! differently (issue 9): each is flagged as the attack it is, and each benign control
//! that uses the same syntax stays quiet.

use super::*;

fn multipart(path: &str, content_type: &str, body: &str) -> Vec<u8> {
    with_body("POST", path, content_type, body, "")
}

fn part(disposition: &str, content: &str) -> String {
    format!("--XB\r\nContent-Disposition: form-data; name=\"file\"; {disposition}\r\n\r\n{content}\r\n--XB--\r\n")
}

const PHP: &str = "<?php system($_GET['c']); ?>";
const PDF: &str = "%PDF-1.4 permit";

fn flags(src: &str, req: &[u8], rule: &str) -> bool {
    fired(&detector(), &txn(src, req, 200, 0))
        .iter()
        .any(|r| r == rule)
}

#[test]
fn a_php_upload_after_many_padding_headers_is_flagged() {
    let pad: String = (0..126).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect();
    let body = part("filename=\"shell.php\"", PHP);
    let req = with_body(
        "POST",
        "/uploads/x",
        "multipart/form-data; boundary=XB",
        &body,
        &pad,
    );
    let hit = fired(&detector(), &txn(ATTACKER, &req, 200, 0));
    assert!(
        hit.iter().any(|r| r == "upload.script-extension"),
        "{hit:?}"
    );
    assert!(
        hit.iter().any(|r| r == "upload.outside-endpoint"),
        "{hit:?}"
    );
}

#[test]
fn absolute_form_targets_are_judged_by_their_path() {
    let attack = with_body(
        "POST",
        "http://www.example.gov/admin/pages/1",
        "application/x-www-form-urlencoded",
        "title=x",
        "",
    );
    assert!(flags(
        ATTACKER,
        &attack,
        "modification.unauthorized-admin-post"
    ));
    let sanctioned = multipart(
        "http://www.example.gov/permits/upload",
        "multipart/form-data; boundary=XB",
        &part("filename=\"permit.pdf\"", PDF),
    );
    assert!(fired(&detector(), &txn(ATTACKER, &sanctioned, 200, 0)).is_empty());
}

#[test]
fn a_method_field_in_the_body_is_the_effective_method() {
    let attack = with_body(
        "POST",
        "/api/news/3",
        "application/x-www-form-urlencoded",
        "_method=DELETE",
        "",
    );
    let hit = fired(&detector(), &txn(ATTACKER, &attack, 200, 0));
    assert!(
        hit.iter()
            .any(|r| r == "modification.unauthorized-write-method"),
        "{hit:?}"
    );
    assert!(hit.iter().any(|r| r == "modification.method-override"));
}

#[test]
fn an_authorized_override_under_a_granted_path_is_not_flagged() {
    for extra in [
        "X-HTTP-Method-Override: PUT\r\n",
        "X-HTTP-Method: DELETE\r\n",
        "X-Method-Override: PATCH\r\n",
    ] {
        // A form body: CRS (on by default) would rightly score a content type outside
        // its allowed list, which is not what this test is about.
        let req = with_body(
            "POST",
            "/admin/pages/1",
            "application/x-www-form-urlencoded",
            "x=1",
            extra,
        );
        assert!(
            fired(&detector(), &txn(ADMIN, &req, 200, 0)).is_empty(),
            "{extra}"
        );
    }
    let body_override = with_body(
        "POST",
        "/api/news/5",
        "application/x-www-form-urlencoded",
        "_method=PUT&title=x",
        "",
    );
    assert!(fired(&detector(), &txn(ADMIN, &body_override, 200, 0)).is_empty());
    // The same override outside the grant is still flagged.
    let outside = with_body(
        "POST",
        "/index.html",
        "text/plain",
        "x",
        "X-HTTP-Method-Override: PUT\r\n",
    );
    assert!(flags(ADMIN, &outside, "modification.method-override"));
}

#[test]
fn rfc5987_filename_star_is_judged() {
    let req = multipart(
        "/permits/upload",
        "multipart/form-data; boundary=XB",
        &part("filename*=UTF-8''shell.php", "hello"),
    );
    assert!(flags(ATTACKER, &req, "upload.script-extension"));
}

#[test]
fn bare_lf_multipart_is_read() {
    let body = part("filename=\"cat.jpg\"", PHP).replace("\r\n", "\n");
    let req = multipart("/permits/upload", "multipart/form-data; boundary=XB", &body);
    assert!(flags(ATTACKER, &req, "upload.executable-content"));
}

#[test]
fn percent_u_and_sql_comments_do_not_hide_injection() {
    assert!(flags(
        ATTACKER,
        &get("/news?id=1%u0027%20OR%201=1--"),
        "injection.sql-tautology"
    ));
    assert!(flags(
        ATTACKER,
        &get("/news?id=-1/**/UNION/**/SELECT/**/username,password/**/FROM/**/users"),
        "injection.sql-union"
    ));
    assert!(flags(
        ATTACKER,
        &get("/news?id=-1%20/*!50000UNION*/%20/*!50000SELECT*/%201,2%20FROM%20users"),
        "injection.sql-union"
    ));
    assert!(fired(
        &detector(),
        &txn(ATTACKER, &get("/files?glob=docs/*.pdf"), 200, 0)
    )
    .is_empty());
}

#[test]
fn a_decoy_boundary_is_flagged_and_the_real_parts_judged() {
    let req = multipart(
        "/permits/upload",
        "multipart/form-data; xboundary=decoy; boundary=XB",
        &part("filename=\"shell.php\"", PHP),
    );
    let hit = fired(&detector(), &txn(ATTACKER, &req, 200, 0));
    assert!(
        hit.iter().any(|r| r == "upload.script-extension"),
        "{hit:?}"
    );
    assert!(
        hit.iter().any(|r| r == "protocol.parser-ambiguity"),
        "{hit:?}"
    );
}

#[test]
fn quoted_filenames_are_read_as_php_reads_them() {
    let attack = multipart(
        "/permits/upload",
        "multipart/form-data; boundary=XB",
        &part("filename=\"shell;.php\"", "hello"),
    );
    assert!(flags(ATTACKER, &attack, "upload.script-extension"));
    for benign in [
        "filename='permit.pdf'",
        "filename=\"Plans; 2026.pdf\"",
        "filename='Plans; 2026.pdf'",
    ] {
        let req = multipart(
            "/permits/upload",
            "multipart/form-data; boundary=XB",
            &part(benign, PDF),
        );
        assert!(
            fired(&detector(), &txn(ATTACKER, &req, 200, 0)).is_empty(),
            "{benign}"
        );
    }
}

#[test]
fn two_filenames_flag_the_ambiguity_and_the_dangerous_reading() {
    let req = multipart(
        "/permits/upload",
        "multipart/form-data; boundary=XB",
        &part("filename=\"permit.pdf\"; filename=\"shell.php\"", PDF),
    );
    let hit = fired(&detector(), &txn(ATTACKER, &req, 200, 0));
    assert!(
        hit.iter().any(|r| r == "protocol.parser-ambiguity"),
        "{hit:?}"
    );
    assert!(
        hit.iter().any(|r| r == "upload.script-extension"),
        "{hit:?}"
    );
    assert!(
        hit.iter().any(|r| r == "upload.extension-not-allowed"),
        "{hit:?}"
    );
}

#[test]
fn php_after_the_old_256_byte_window_is_sniffed() {
    let content = format!("GIF89a{}{PHP}", " ".repeat(1000));
    let req = multipart(
        "/permits/upload",
        "multipart/form-data; boundary=XB",
        &part("filename=\"avatar.gif\"", &content),
    );
    assert!(flags(ATTACKER, &req, "upload.executable-content"));
}

#[test]
fn a_second_content_type_is_a_reading_judged_too() {
    let body = part("filename=\"shell.php\"", PHP);
    let req = with_body(
        "POST",
        "/permits/upload",
        "text/plain",
        &body,
        "Content-Type: multipart/form-data; boundary=XB\r\n",
    );
    let hit = fired(&detector(), &txn(ATTACKER, &req, 200, 0));
    assert!(
        hit.iter().any(|r| r == "protocol.parser-ambiguity"),
        "{hit:?}"
    );
    assert!(
        hit.iter().any(|r| r == "upload.script-extension"),
        "{hit:?}"
    );
}

#[test]
fn parameters_and_parts_past_the_caps_are_an_anomaly() {
    let many: String = (0..300).map(|i| format!("p{i}=v&")).collect();
    assert!(flags(
        ATTACKER,
        &get(&format!("/news?{many}")),
        "protocol.over-parser-cap"
    ));
    let parts: String = (0..70)
        .map(|i| format!("--XB\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n"))
        .collect();
    let req = multipart(
        "/contact",
        "multipart/form-data; boundary=XB",
        &format!("{parts}--XB--\r\n"),
    );
    assert!(flags(ATTACKER, &req, "protocol.over-parser-cap"));
    let few = multipart(
        "/contact",
        "multipart/form-data; boundary=XB",
        "--XB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XB--\r\n",
    );
    assert!(!flags(ATTACKER, &few, "protocol.over-parser-cap"));
}

/// Every transaction a request's bytes make (none when they are not HTTP).
fn transactions(request: &[u8]) -> Vec<HttpTransaction> {
    let ctx = FlowContext {
        flow_id: 1,
        client: format!("{ATTACKER}:40000").parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: crate::http::session::MAX_RESPONSE_PREFIX_BYTES,
    };
    let mut s = crate::http::HttpSession::default();
    let mut out = Vec::new();
    let now = Timestamp::from_secs_micros(0, 0);
    let half = request.len() / 2;
    for piece in [&request[..half], &request[half..]] {
        s.on_chunk(Direction::ToServer, Chunk::Data(piece), now, &ctx, &mut out);
    }
    s.finish(now, &ctx, &mut out);
    out
}

/// Mutated copies of the evasion requests (bytes flipped, cut, duplicated; fixed seed)
/// go through the HTTP layer and detection without a panic.
#[test]
fn mutated_evasion_requests_never_panic() {
    let d = detector();
    let seeds: Vec<Vec<u8>> = vec![
        multipart(
            "/permits/upload",
            "multipart/form-data; xboundary=decoy; boundary=XB",
            &part("filename*=UTF-8''shell.php; filename='a;b.pdf'", PHP),
        ),
        multipart(
            "http://h/permits/upload",
            "multipart/form-data; boundary=XB",
            &part("filename=\"x\\\";.php\"", PHP).replace("\r\n", "\n"),
        ),
        with_body(
            "POST",
            "/api/news/1?_method=PUT",
            "application/x-www-form-urlencoded",
            "_method=DELETE&id=1%u0027/*!50000UNION*/SELECT",
            "X-HTTP-Method-Override: PATCH\r\nContent-Length: 99\r\n",
        ),
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    for seed in &seeds {
        for _ in 0..300 {
            let mut m = seed.clone();
            for _ in 0..1 + next(6) {
                let i = next(m.len());
                match next(4) {
                    0 => {
                        let bytes = b"\r\n;\"'=*/%u\\";
                        m[i] = bytes[next(bytes.len())];
                    }
                    1 => m.truncate(i.max(1)),
                    2 => {
                        let piece = m[i..(i + next(20)).min(m.len())].to_vec();
                        m.splice(i..i, piece);
                    }
                    _ => m[i] ^= 0x20,
                }
            }
            for t in transactions(&m) {
                let _ = fired(&d, &t);
            }
        }
    }
}
