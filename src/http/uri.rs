//! Request-target decoding shared by logging and detection.

/// Decodes `%XX` escapes once; malformed escapes stay as they are (as Zeek and most
/// servers do). The result is bytes: decoded input need not be UTF-8.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    percent_decode_into(input, &mut out);
    out
}

/// [`percent_decode`], appending to `out` (reused storage).
pub fn percent_decode_into(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_valid_escapes_and_keeps_malformed_ones() {
        assert_eq!(percent_decode(b"/a%20b%3d%22"), b"/a b=\"");
        assert_eq!(percent_decode(b"/100%"), b"/100%");
        assert_eq!(percent_decode(b"/x%zz%4"), b"/x%zz%4");
        assert_eq!(percent_decode(b"%2541"), b"%41");
    }
}
