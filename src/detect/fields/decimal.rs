//! Numbers written as the text rules compare, without allocating.

/// Decimal digits of the largest `u64`.
pub(super) const MAX_DECIMAL_DIGITS: usize = 20;

/// `n` in decimal, written into `buf` (no allocation).
pub(super) fn decimal(mut n: u64, buf: &mut [u8; MAX_DECIMAL_DIGITS]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}
