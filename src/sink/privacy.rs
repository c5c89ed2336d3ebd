//! One address policy for every sink, built from `privacy:` in the configuration, and
//! files created private whoever starts the program.
//!
//! The events file, the flagged store and the logs all keep a client address the same
//! way (`privacy.source_address: keep|truncate|hash`). In hash mode the key lives at
//! `privacy.address_key`, outside the data directory, so a copy of the data directory
//! cannot be reversed by hashing small address ranges. The key is replaced when it is
//! older than `privacy.key_rotation_days` (checked when the program starts): tokens made
//! under the old key no longer match new ones, so `flagged --src TOKEN` finds only the
//! records of the key period that made TOKEN.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::{Config, DEFAULT_ADDRESS_KEY};
use crate::sink::store::address::{AddressKey, AddressKeyError, AddressMode, AddressPolicy};

/// Mode of every file tamperwatch creates (events, store, stats, keys, reports).
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Seconds in a day, for the key rotation schedule.
const SECONDS_PER_DAY: u64 = 86_400;

/// Why the address policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("privacy.source_address: {0}")]
    Mode(String),
    #[error("privacy.address_key {} is inside the data directory {}; keep it elsewhere (e.g. {DEFAULT_ADDRESS_KEY})", .key.display(), .data.display())]
    KeyBesideData { key: PathBuf, data: PathBuf },
    #[error(transparent)]
    Key(#[from] AddressKeyError),
    #[error("address key {}: rotation: {cause}", .path.display())]
    Rotate { path: PathBuf, cause: io::Error },
}

/// The address policy the configuration asks for. `data_files` are the files the
/// policy's output goes to (store, events); the key must not sit in their directories.
pub fn address_policy(
    config: &Config,
    data_files: &[&Path],
) -> Result<AddressPolicy, PrivacyError> {
    match config.privacy.source_address {
        AddressMode::Keep => Ok(AddressPolicy::keep()),
        AddressMode::Truncate => Ok(AddressPolicy::truncate()),
        AddressMode::Hash => {
            let key = &config.privacy.address_key;
            refuse_key_beside_data(key, data_files)?;
            rotate_if_stale(key, config.privacy.key_rotation_days, SystemTime::now())?;
            Ok(AddressPolicy::hash(AddressKey::load_or_create(key)?))
        }
    }
}

/// Refuses a key whose directory is the directory of a data file.
fn refuse_key_beside_data(key: &Path, data_files: &[&Path]) -> Result<(), PrivacyError> {
    let key_dir = absolute_dir(key);
    for data in data_files {
        let data_dir = absolute_dir(data);
        if key_dir.starts_with(&data_dir) {
            return Err(PrivacyError::KeyBesideData {
                key: key.to_owned(),
                data: data_dir,
            });
        }
    }
    Ok(())
}

/// The directory of `path`, made absolute against the working directory when it can be.
fn absolute_dir(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned())
}

/// Removes the key at `path` if it is older than `days` (0: never), so a new one is
/// made in its place.
pub fn rotate_if_stale(path: &Path, days: u32, now: SystemTime) -> Result<bool, PrivacyError> {
    if days == 0 {
        return Ok(false);
    }
    let modified = match fs::metadata(path).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(cause) => {
            return Err(PrivacyError::Rotate {
                path: path.to_owned(),
                cause,
            })
        }
    };
    let max_age = Duration::from_secs(u64::from(days) * SECONDS_PER_DAY);
    let age = now.duration_since(modified).unwrap_or_default();
    if age < max_age {
        return Ok(false);
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(cause) => Err(PrivacyError::Rotate {
            path: path.to_owned(),
            cause,
        }),
    }
}

/// Opens `path` for appending, created 0600, and tightens an existing file to 0600,
/// whatever the umask of whoever started the program.
pub fn append_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    Ok(file)
}

/// Creates (or truncates) `path` for writing, mode 0600 whatever the umask.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn config(yaml: &str) -> Config {
        Config::parse(yaml, Path::new("t.yaml")).expect("config")
    }

    #[test]
    fn hash_key_beside_the_data_is_refused_and_elsewhere_is_0600() {
        let data = tempfile::tempdir().expect("dir");
        let keys = tempfile::tempdir().expect("dir");
        let db = data.path().join("flagged.db");
        let inside = data.path().join("address.key");
        let c = config(&format!(
            "privacy: {{ source_address: hash, address_key: {} }}",
            inside.display()
        ));
        assert!(matches!(
            address_policy(&c, &[&db]),
            Err(PrivacyError::KeyBesideData { .. })
        ));
        let outside = keys.path().join("address.key");
        let c = config(&format!(
            "privacy: {{ source_address: hash, address_key: {} }}",
            outside.display()
        ));
        let policy = address_policy(&c, &[&db]).expect("policy");
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_ne!(policy.apply(ip).text, "192.0.2.7");
        let mode = fs::metadata(&outside).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn deprecated_store_key_still_sets_the_mode() {
        let c = config("store: { source_address: truncate }");
        assert_eq!(c.privacy.source_address, AddressMode::Truncate);
        assert_eq!(c.deprecations().len(), 1);
        let p = address_policy(&c, &[]).expect("policy");
        assert_eq!(p.apply("192.0.2.7".parse().expect("ip")).text, "192.0.2.0");
        let bad = Config::parse(
            "store: { source_address: keep }\nprivacy: { source_address: hash }",
            Path::new("t.yaml"),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn a_stale_key_is_rotated_and_a_fresh_one_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("k");
        let first = AddressKey::load_or_create(&path).expect("key");
        let ip: IpAddr = "198.51.100.1".parse().expect("ip");
        let before = AddressPolicy::hash(first).apply(ip).text;
        assert!(!rotate_if_stale(&path, 30, SystemTime::now()).expect("fresh"));
        let later = SystemTime::now() + Duration::from_secs(31 * SECONDS_PER_DAY);
        assert!(rotate_if_stale(&path, 30, later).expect("stale"));
        let second = AddressKey::load_or_create(&path).expect("new key");
        assert_ne!(AddressPolicy::hash(second).apply(ip).text, before);
    }

    #[test]
    fn private_files_are_0600_despite_an_existing_wide_mode() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("events.jsonl");
        fs::write(&path, b"").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        append_private(&path).expect("open");
        assert_eq!(
            fs::metadata(&path).expect("m").permissions().mode() & 0o777,
            0o600
        );
        let p2 = dir.path().join("new.html");
        create_private(&p2).expect("create");
        assert_eq!(
            fs::metadata(&p2).expect("m").permissions().mode() & 0o777,
            0o600
        );
    }
}
