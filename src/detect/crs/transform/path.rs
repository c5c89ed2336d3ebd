//! `normalizePath` and `normalizePathWin`: ModSecurity's in-place path normaliser.

/// Normalises the path held in `buf` in place: collapses `//`, removes `./` segments and
/// resolves `../` against the previous segment without climbing above the root (a
/// relative path keeps leading `../` it cannot resolve), and keeps a trailing `/` only
/// if the input had one. With `win`, every backslash is first turned into `/` (as
/// Coraza does; ModSecurity converts them while it walks and, in a run of three or more
/// separators, can leave one backslash behind, which would hide a `..\\\` traversal).
/// Each byte is copied at most once and each back-reference rewinds over bytes
/// already written, so the work is linear in the length.
pub(super) fn normalize_path(buf: &mut Vec<u8>, win: bool) {
    if buf.is_empty() {
        return;
    }
    if win {
        for b in buf.iter_mut().filter(|b| **b == b'\\') {
            *b = b'/';
        }
    }
    let is_sep = |b: u8| b == b'/';
    let end = buf.len() - 1;
    let relative = !is_sep(buf[0]);
    let trailing = is_sep(buf[end]);
    let mut hit_root = false;
    let mut done = false;
    let mut src = 0usize;
    let mut dst = 0usize;
    while !done && src <= end && dst <= end {
        let mut normalise = true;
        if src == end {
            done = true;
        } else if buf[src + 1] != b'/' {
            normalise = false;
        }
        if normalise && !(src != end && buf[src] == b'/') {
            if buf[src] == b'.' {
                if dst > 0 && buf[dst - 1] == b'.' {
                    // A back-reference ("..").
                    if relative && (hit_root || dst <= 2) {
                        hit_root = true;
                    } else {
                        // Remove the back-reference and the previous segment.
                        let mut d = dst as isize - 3;
                        while d > 0 && buf[d as usize] != b'/' {
                            d -= 1;
                        }
                        if d <= 0 {
                            hit_root = true;
                            d = 0;
                            if !relative && src == end {
                                d += 1;
                            }
                        }
                        dst = d as usize;
                        if done {
                            continue;
                        }
                        src += 1;
                    }
                } else if dst == 0 {
                    // A relative self-reference at the start.
                    if done {
                        continue;
                    }
                    src += 1;
                } else if buf[dst - 1] == b'/' {
                    // A self-reference ("/./").
                    if done {
                        continue;
                    }
                    dst -= 1;
                    src += 1;
                }
            } else if dst > 0 {
                // A regular path segment.
                hit_root = false;
            }
        }
        // Copy the byte, collapsing runs of slashes onto the last one.
        if buf[src] == b'/' {
            while src < end && is_sep(buf[src + 1]) {
                src += 1;
            }
            if relative && dst == 0 {
                src += 1;
                continue;
            }
        }
        buf[dst] = buf[src];
        dst += 1;
        src += 1;
    }
    if !trailing && dst > 0 && buf[dst - 1] == b'/' {
        dst -= 1;
    }
    buf.truncate(dst);
}
