//! TLS ClientHello metadata, for anonymous statistics: the version offered and whether
//! a server name was sent. Nothing else is read, and nothing identifies the client.

/// TLS versions as counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
    Unknown,
}

impl TlsVersion {
    fn from_wire(v: u16) -> Self {
        match v {
            0x0300 => TlsVersion::Ssl3,
            0x0301 => TlsVersion::Tls10,
            0x0302 => TlsVersion::Tls11,
            0x0303 => TlsVersion::Tls12,
            0x0304 => TlsVersion::Tls13,
            _ => TlsVersion::Unknown,
        }
    }

    /// Label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "ssl3",
            TlsVersion::Tls10 => "tls1.0",
            TlsVersion::Tls11 => "tls1.1",
            TlsVersion::Tls12 => "tls1.2",
            TlsVersion::Tls13 => "tls1.3",
            TlsVersion::Unknown => "unknown",
        }
    }
}

/// What a ClientHello tells, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello {
    /// The highest version offered (supported_versions wins over the legacy field).
    pub version: TlsVersion,
    pub has_sni: bool,
}

/// Whether a stream's first bytes look like a TLS handshake record.
pub fn looks_like_tls(data: &[u8]) -> bool {
    data.len() >= 3 && data[0] == 0x16 && data[1] == 0x03 && data[2] <= 0x04
}

/// Parses a ClientHello from the start of a client stream (RFC 8446 §4.1.2); `None`
/// if it is not one or is cut short. Every length is checked before use.
pub fn parse_client_hello(data: &[u8]) -> Option<ClientHello> {
    let mut r = Reader(data);
    if r.u8()? != 0x16 {
        return None;
    }
    r.u16()?; // record version
    let record_len = usize::from(r.u16()?);
    let mut hs = Reader(r.take(record_len.min(r.0.len()))?);
    if hs.u8()? != 0x01 {
        return None;
    }
    hs.take(3)?; // handshake length
    let legacy_version = hs.u16()?;
    hs.take(32)?; // random
    let sid_len = usize::from(hs.u8()?);
    hs.take(sid_len)?;
    let suites_len = usize::from(hs.u16()?);
    hs.take(suites_len)?;
    let comp_len = usize::from(hs.u8()?);
    hs.take(comp_len)?;
    let mut version = TlsVersion::from_wire(legacy_version);
    let mut has_sni = false;
    let Some(ext_len) = hs.u16() else {
        return Some(ClientHello { version, has_sni });
    };
    let mut exts = Reader(hs.take(usize::from(ext_len).min(hs.0.len()))?);
    while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
        let Some(body) = exts.take(usize::from(len)) else {
            break;
        };
        match kind {
            0x0000 => has_sni = true,
            0x002b => {
                let mut v = Reader(body);
                let n = usize::from(v.u8().unwrap_or(0)) / 2;
                for _ in 0..n {
                    let Some(offered) = v.u16() else { break };
                    let offered = TlsVersion::from_wire(offered);
                    if offered == TlsVersion::Tls13 {
                        version = TlsVersion::Tls13;
                    }
                }
            }
            _ => {}
        }
    }
    Some(ClientHello { version, has_sni })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TLS 1.3 ClientHello with SNI "a.gov" and supported_versions [1.3, 1.2].
    fn hello(with_sni: bool) -> Vec<u8> {
        let mut exts = Vec::new();
        if with_sni {
            exts.extend_from_slice(&[0, 0, 0, 10, 0, 8, 0, 0, 5]);
            exts.extend_from_slice(b"a.gov");
        }
        exts.extend_from_slice(&[0, 0x2b, 0, 5, 4, 3, 4, 3, 3]);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0u8; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 1, 1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn reads_version_and_sni() {
        let h = parse_client_hello(&hello(true)).expect("hello");
        assert_eq!(
            h,
            ClientHello {
                version: TlsVersion::Tls13,
                has_sni: true
            }
        );
        let h = parse_client_hello(&hello(false)).expect("hello");
        assert!(!h.has_sni);
    }

    #[test]
    fn truncated_hellos_never_panic() {
        let full = hello(true);
        for cut in 0..full.len() {
            let _ = parse_client_hello(&full[..cut]);
        }
    }
}
