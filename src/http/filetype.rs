//! What a file really is, from its first bytes (magic numbers and script markers).
//!
//! Uploads lie about their type in the filename and the declared Content-Type; the
//! first bytes do not. Only [`SNIFF_BYTES`] are looked at.

use serde::Serialize;

/// Bytes of a file's start kept to sniff its type: script markers anywhere in them
/// count, so padding a web shell past a short window does not hide it.
pub const SNIFF_BYTES: usize = 4096;
/// Two- and three-byte script markers (`<%`, `<?=`) count anywhere in this many first
/// bytes; past them only when their context makes chance unlikely.
const WEAK_MARKER_BYTES: usize = 256;

/// A file type recognised from content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Php,
    Jsp,
    Asp,
    Shell,
    Elf,
    Pe,
    Jpeg,
    Png,
    Gif,
    Pdf,
    Zip,
    #[default]
    Unknown,
}

impl FileKind {
    /// The lowercase name used in events and rules.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Php => "php",
            FileKind::Jsp => "jsp",
            FileKind::Asp => "asp",
            FileKind::Shell => "shell",
            FileKind::Elf => "elf",
            FileKind::Pe => "pe",
            FileKind::Jpeg => "jpeg",
            FileKind::Png => "png",
            FileKind::Gif => "gif",
            FileKind::Pdf => "pdf",
            FileKind::Zip => "zip",
            FileKind::Unknown => "unknown",
        }
    }

    /// Whether this kind runs on a server (script or executable).
    pub fn is_executable(self) -> bool {
        matches!(
            self,
            FileKind::Php
                | FileKind::Jsp
                | FileKind::Asp
                | FileKind::Shell
                | FileKind::Elf
                | FileKind::Pe
        )
    }
}

/// Sniffs a file's kind from its first bytes. Script markers anywhere in the sniffed
/// prefix win over image magic, since a polyglot image with PHP inside is a web shell.
pub fn sniff(prefix: &[u8]) -> FileKind {
    let head = &prefix[..prefix.len().min(SNIFF_BYTES)];
    let find = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    let lower = head.to_ascii_lowercase();
    let find_ci = |needle: &[u8]| memchr::memmem::find(&lower, needle).is_some();
    // Short markers are weak: in 4 KiB of compressed image data two or three bytes
    // occur by chance, so they need a following space or `$`, or the first
    // [`WEAK_MARKER_BYTES`].
    let early = &head[..head.len().min(WEAK_MARKER_BYTES)];
    let find_early = |needle: &[u8]| memchr::memmem::find(early, needle).is_some();
    let short_echo = memchr::memmem::find_iter(head, b"<?=").any(|at| {
        head.get(at + 3)
            .is_some_and(|&b| b.is_ascii_whitespace() || b == b'$')
    });
    if find_ci(b"<?php") || short_echo || find_early(b"<?=") {
        return FileKind::Php;
    }
    if find(b"<%@") || find_ci(b"<jsp:") {
        return if find_ci(b"language=\"c#\"") || find_ci(b"language=\"vb") {
            FileKind::Asp
        } else {
            FileKind::Jsp
        };
    }
    if find_ci(b"<script runat=\"server\"") || find_early(b"<%") {
        return FileKind::Asp;
    }
    if head.starts_with(b"#!") {
        return FileKind::Shell;
    }
    if head.starts_with(b"\x7fELF") {
        return FileKind::Elf;
    }
    if head.starts_with(b"MZ") {
        return FileKind::Pe;
    }
    if head.starts_with(b"\xFF\xD8\xFF") {
        return FileKind::Jpeg;
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return FileKind::Png;
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return FileKind::Gif;
    }
    if head.starts_with(b"%PDF-") {
        return FileKind::Pdf;
    }
    if head.starts_with(b"PK\x03\x04") {
        return FileKind::Zip;
    }
    FileKind::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_magic_numbers() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), FileKind::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), FileKind::Png);
        assert_eq!(sniff(b"%PDF-1.4\n"), FileKind::Pdf);
        assert_eq!(sniff(b"\x7fELF\x02\x01"), FileKind::Elf);
        assert_eq!(sniff(b"MZ\x90\0"), FileKind::Pe);
        assert_eq!(sniff(b"PK\x03\x04"), FileKind::Zip);
        assert_eq!(sniff(b"#!/bin/sh\nid"), FileKind::Shell);
    }

    #[test]
    fn php_inside_an_image_is_php() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0<?php system($_GET['c']); ?>"),
            FileKind::Php
        );
        assert_eq!(sniff(b"GIF89a<?PHP eval($x);"), FileKind::Php);
    }

    #[test]
    fn recognises_server_pages() {
        assert_eq!(sniff(b"<%@ page import=\"java.io.*\" %>"), FileKind::Jsp);
        assert_eq!(sniff(b"<%@ Page Language=\"C#\" %>"), FileKind::Asp);
    }

    #[test]
    fn script_markers_anywhere_in_the_first_4_kib_count() {
        let mut f = b"GIF89a".to_vec();
        f.resize(4000, b' ');
        f.extend_from_slice(b"<?php eval($_POST[1]);");
        assert_eq!(sniff(&f), FileKind::Php);
        let mut far = b"GIF89a".to_vec();
        far.resize(SNIFF_BYTES, b' ');
        far.extend_from_slice(b"<?php eval($_POST[1]);");
        assert_eq!(sniff(&far), FileKind::Gif);
    }

    #[test]
    fn plain_text_is_unknown() {
        assert_eq!(
            sniff(b"hello, this is a permit application"),
            FileKind::Unknown
        );
    }
}
