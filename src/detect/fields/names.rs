//! What a file or path name says: its extension, and whether an upload's name and
//! declared type agree with what its content is.

/// The extension of the last path segment, without the dot.
pub fn extension(path: &[u8]) -> Option<&[u8]> {
    let last = path.rsplit(|&b| b == b'/').next()?;
    let dot = last.iter().rposition(|&b| b == b'.')?;
    let ext = &last[dot + 1..];
    (!ext.is_empty()).then_some(ext)
}

/// Whether a file's sniffed type disagrees with its name or declared type.
pub(super) fn type_mismatch(
    name: &[u8],
    declared: Option<&str>,
    detected: crate::http::FileKind,
) -> bool {
    use crate::http::FileKind;
    if detected == FileKind::Unknown {
        return false;
    }
    let ext = extension(name)
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let family: &[&[u8]] = match detected {
        FileKind::Jpeg => &[b"jpg", b"jpeg", b"jpe", b"jfif"],
        FileKind::Png => &[b"png"],
        FileKind::Gif => &[b"gif"],
        FileKind::Pdf => &[b"pdf"],
        FileKind::Zip => &[
            b"zip", b"docx", b"xlsx", b"pptx", b"odt", b"ods", b"jar", b"war", b"apk",
        ],
        FileKind::Php => &[
            b"php", b"phtml", b"php3", b"php4", b"php5", b"php7", b"phar", b"inc",
        ],
        FileKind::Jsp => &[b"jsp", b"jspx"],
        FileKind::Asp => &[b"asp", b"aspx", b"ashx", b"asmx"],
        FileKind::Shell => &[b"sh", b"bash", b"pl", b"py", b"cgi", b"rb"],
        FileKind::Elf => &[b"", b"elf", b"so", b"bin", b"o"],
        FileKind::Pe => &[b"exe", b"dll", b"sys", b"scr", b"com"],
        FileKind::Unknown => return false,
    };
    let name_disagrees = !family.contains(&ext.as_slice());
    let declared_disagrees = declared.is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        match detected {
            FileKind::Jpeg => !d.contains("jpeg") && !d.contains("jpg"),
            FileKind::Png => !d.contains("png"),
            FileKind::Gif => !d.contains("gif"),
            FileKind::Pdf => !d.contains("pdf"),
            k if k.is_executable() => d.starts_with("image/") || d.contains("pdf"),
            _ => false,
        }
    });
    name_disagrees || declared_disagrees
}
