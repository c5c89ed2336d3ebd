//! Test certificates for the TLS variant, made with `openssl` in a temporary
//! directory: a throw-away CA, and one certificate each for the collector
//! (collector.example.gov) and a web host (web1.example.gov), both signed by it and
//! named as the shipped configs' `tls.permittedPeer` expect.

use std::path::Path;

use crate::lab::sh;

/// Days the test certificates are valid.
const VALID_DAYS: &str = "2";

/// Writes ca.pem, collector.pem, collector-key.pem, web1.pem, web1-key.pem into `dir`.
pub fn make_certificates(dir: &Path) {
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    let (ca_key, ca_pem) = (p("ca-key.pem"), p("ca.pem"));
    ca.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca_pem,
        "-days",
        VALID_DAYS,
        "-subj",
        "/CN=tamperwatch-test-ca",
    ]);
    sh("openssl", &ca);
    for name in ["collector", "web1"] {
        let (key, csr, pem, ext) = (
            p(&format!("{name}-key.pem")),
            p(&format!("{name}.csr")),
            p(&format!("{name}.pem")),
            p(&format!("{name}.ext")),
        );
        let subject = format!("/CN={name}.example.gov");
        let mut req = vec!["req"];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        sh("openssl", &req);
        std::fs::write(
            &ext,
            format!(
                "subjectAltName=DNS:{name}.example.gov\n\
                 extendedKeyUsage=serverAuth,clientAuth\n\
                 keyUsage=digitalSignature,keyEncipherment\n"
            ),
        )
        .expect("extensions file");
        sh(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                VALID_DAYS,
                "-extfile",
                &ext,
            ],
        );
    }
}
