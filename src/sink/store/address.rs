//! How a flagged client's address is kept: as seen, truncated to its network, or as a
//! keyed hash.
//!
//! [`AddressMode`] is the setting (config `store.address`); [`AddressPolicy`] is the
//! compiled form that holds the key. The hash is HMAC-SHA256 under a secret 32-byte key
//! kept in a 0600 file beside the store ([`AddressKey::path_beside`]): the same client
//! gets the same token for as long as the key lives, so repeat offenders can be followed
//! across days, while the token cannot be reversed without the key (a plain hash of an
//! IPv4 address is reversed by trying all 2^32). The destination is the site itself and
//! is kept as is.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// IPv4 sources are cut to this prefix in [`AddressMode::Truncate`].
pub const TRUNCATE_V4_PREFIX: u8 = 24;
/// IPv6 sources are cut to this prefix in [`AddressMode::Truncate`].
pub const TRUNCATE_V6_PREFIX: u8 = 48;
/// Bytes of secret in an address key.
pub const ADDRESS_KEY_BYTES: usize = 32;
/// Bytes of HMAC output kept in a token (rendered as twice as many hex digits).
pub const TOKEN_BYTES: usize = 16;

/// The setting lives with the configuration, which parses it once.
pub use crate::config::AddressMode;

/// Why the address key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum AddressKeyError {
    #[error("address key {}: {cause}", .path.display())]
    Io { path: PathBuf, cause: io::Error },
    #[error("address key {}: not {ADDRESS_KEY_BYTES} bytes of hex", .path.display())]
    Malformed { path: PathBuf },
    #[error("address key {} is readable by others (mode {mode:04o}); chmod 600 it", .path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("address key {}: no randomness from the OS: {reason}", .path.display())]
    Random { path: PathBuf, reason: String },
}

/// The secret behind [`AddressMode::Hash`].
#[derive(Clone)]
pub struct AddressKey([u8; ADDRESS_KEY_BYTES]);

impl fmt::Debug for AddressKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AddressKey(..)")
    }
}

impl AddressKey {
    /// A key from raw bytes (tests, or a key managed elsewhere).
    pub fn from_bytes(bytes: [u8; ADDRESS_KEY_BYTES]) -> Self {
        AddressKey(bytes)
    }

    /// Where the key of the store at `db` lives: `flagged.db` → `flagged.db.key`.
    pub fn path_beside(db: &Path) -> PathBuf {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".key");
        db.with_file_name(name)
    }

    /// Reads the key at `path`, or makes a new random one there (mode 0600) if there is
    /// none. A key file others can read is refused rather than used.
    pub fn load_or_create(path: &Path) -> Result<Self, AddressKeyError> {
        let io_err = |cause| AddressKeyError::Io {
            path: path.to_owned(),
            cause,
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                let mode = fs::metadata(path).map_err(io_err)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(AddressKeyError::Exposed {
                        path: path.to_owned(),
                        mode,
                    });
                }
                parse_hex_key(text.trim()).ok_or_else(|| AddressKeyError::Malformed {
                    path: path.to_owned(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut bytes = [0u8; ADDRESS_KEY_BYTES];
                getrandom::fill(&mut bytes).map_err(|e| AddressKeyError::Random {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                let mut file = match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                {
                    Ok(file) => file,
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return AddressKey::load_or_create(path)
                    }
                    Err(e) => return Err(io_err(e)),
                };
                let mut text = hex(&bytes);
                text.push('\n');
                file.write_all(text.as_bytes()).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                Ok(AddressKey(bytes))
            }
            Err(e) => Err(io_err(e)),
        }
    }
}

fn parse_hex_key(text: &str) -> Option<AddressKey> {
    if text.len() != ADDRESS_KEY_BYTES * 2 || !text.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; ADDRESS_KEY_BYTES];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(AddressKey(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A source address as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAddress {
    /// What is written: the address, the network address, or the hex token.
    pub text: String,
    /// The kept address as 16 bytes (IPv4 mapped into IPv6) for CIDR range queries;
    /// `None` for a token.
    pub range_key: Option<[u8; 16]>,
}

/// [`AddressMode`] compiled: the mode plus its key.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    key: Option<AddressKey>,
    mode: AddressMode,
}

impl AddressPolicy {
    /// Keeps addresses as seen.
    pub fn keep() -> Self {
        AddressPolicy::default()
    }

    /// Keeps the /24 (IPv4) or /48 (IPv6) network only.
    pub fn truncate() -> Self {
        AddressPolicy {
            key: None,
            mode: AddressMode::Truncate,
        }
    }

    /// Keeps a keyed hash.
    pub fn hash(key: AddressKey) -> Self {
        AddressPolicy {
            key: Some(key),
            mode: AddressMode::Hash,
        }
    }

    /// The policy for `mode` for the store at `db`; `Hash` reads or makes the key at
    /// [`AddressKey::path_beside`]`(db)`.
    pub fn for_store(mode: AddressMode, db: &Path) -> Result<Self, AddressKeyError> {
        Ok(match mode {
            AddressMode::Keep => AddressPolicy::keep(),
            AddressMode::Truncate => AddressPolicy::truncate(),
            AddressMode::Hash => {
                AddressPolicy::hash(AddressKey::load_or_create(&AddressKey::path_beside(db))?)
            }
        })
    }

    /// The mode in force.
    pub fn mode(&self) -> AddressMode {
        self.mode
    }

    /// The address as it is kept.
    pub fn apply(&self, ip: IpAddr) -> KeptAddress {
        let ip = ip.to_canonical();
        match (self.mode, &self.key) {
            (AddressMode::Hash, Some(key)) => KeptAddress {
                text: token(key, ip),
                range_key: None,
            },
            (AddressMode::Truncate, _) => {
                let net = truncate(ip);
                KeptAddress {
                    text: net.to_string(),
                    range_key: Some(range_key(net)),
                }
            }
            _ => KeptAddress {
                text: ip.to_string(),
                range_key: Some(range_key(ip)),
            },
        }
    }

    /// The text form only, e.g. for the event log's `src_ip`.
    pub fn render(&self, ip: IpAddr) -> String {
        self.apply(ip).text
    }
}

/// The network address of `ip` at the truncation prefix.
pub fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX << (32 - u32::from(TRUNCATE_V4_PREFIX));
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - u32::from(TRUNCATE_V6_PREFIX));
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// 16 bytes that sort like addresses: IPv4 as IPv4-mapped IPv6.
pub fn range_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn token(key: &AddressKey, ip: IpAddr) -> String {
    // The family byte keeps 1.2.3.4 and ::102:304 apart.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&key.0) {
        Ok(mac) => mac,
        // HMAC takes a key of any length; this arm cannot be reached.
        Err(_) => return String::from("unhashable"),
    };
    match ip {
        IpAddr::V4(v4) => {
            mac.update(&[4]);
            mac.update(&v4.octets());
        }
        IpAddr::V6(v6) => {
            mac.update(&[6]);
            mac.update(&v6.octets());
        }
    }
    let digest = mac.finalize().into_bytes();
    hex(&digest[..TOKEN_BYTES])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn keeps_addresses_by_default() {
        let kept = AddressPolicy::default().apply(ip("198.51.100.7"));
        assert_eq!(kept.text, "198.51.100.7");
        let mapped: Ipv6Addr = "::ffff:198.51.100.7".parse().expect("mapped");
        assert_eq!(kept.range_key, Some(mapped.octets()));
    }

    #[test]
    fn truncates_ipv4_to_24_and_ipv6_to_48() {
        let p = AddressPolicy::truncate();
        assert_eq!(p.render(ip("198.51.100.7")), "198.51.100.0");
        assert_eq!(p.render(ip("2001:db8:1234:5678::1")), "2001:db8:1234::");
        assert_eq!(p.render(ip("::ffff:198.51.100.7")), "198.51.100.0");
    }

    #[test]
    fn hashes_to_a_stable_keyed_token() {
        let a = AddressPolicy::hash(AddressKey::from_bytes([1; 32]));
        let b = AddressPolicy::hash(AddressKey::from_bytes([2; 32]));
        let t = a.apply(ip("198.51.100.7"));
        assert_eq!(t.text.len(), TOKEN_BYTES * 2);
        assert!(t.text.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(t.range_key, None);
        assert_eq!(t.text, a.render(ip("198.51.100.7")));
        assert_ne!(t.text, a.render(ip("198.51.100.8")));
        assert_ne!(t.text, b.render(ip("198.51.100.7")), "the key matters");
        assert!(!t.text.contains("198"));
    }

    #[test]
    fn creates_a_private_key_file_and_reads_it_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("flagged.db");
        let key_path = AddressKey::path_beside(&db);
        assert_eq!(key_path, dir.path().join("flagged.db.key"));
        let first = AddressPolicy::for_store(AddressMode::Hash, &db).expect("create");
        let mode = fs::metadata(&key_path).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = AddressPolicy::for_store(AddressMode::Hash, &db).expect("load");
        assert_eq!(
            first.render(ip("203.0.113.9")),
            second.render(ip("203.0.113.9"))
        );
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        fs::write(&path, "00".repeat(32)).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = AddressKey::load_or_create(&path).expect_err("exposed");
        assert!(err.to_string().contains("readable by others"), "{err}");
    }

    #[test]
    fn refuses_a_malformed_key_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        fs::write(&path, "not hex").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let err = AddressKey::load_or_create(&path).expect_err("malformed");
        assert!(err.to_string().contains("not 32 bytes of hex"), "{err}");
    }

    #[test]
    fn parses_mode_names() {
        assert_eq!("hash".parse::<AddressMode>(), Ok(AddressMode::Hash));
        assert!("scramble".parse::<AddressMode>().is_err());
    }
}
