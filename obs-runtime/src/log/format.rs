//! JSON string escaping and RFC 3339 timestamps, without a formatting library.

use std::cell::Cell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `s` as a quoted JSON string.
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    escape_into(out, s);
    out.push('"');
}

/// Appends `s` escaped for the inside of a JSON string.
pub fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    // Almost every string needs no escaping: find the next byte that does with
    // the cheapest test, and copy everything before it in one go.
    while let Some(offset) = bytes[start..].iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        let i = start + offset;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Appends the low `digits` (at most 32) hex digits of `value`, lowercase and
/// zero-padded: what `{:032x}` writes, without going through `fmt`.
pub fn write_hex(out: &mut String, value: u128, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'0'; 32];
    let digits = digits.min(32);
    for (i, digit) in text[..digits].iter_mut().enumerate() {
        *digit = HEX[((value >> ((digits - 1 - i) * 4)) & 0xf) as usize];
    }
    out.push_str(std::str::from_utf8(&text[..digits]).unwrap_or_default());
}

/// Appends the current UTC time as `2026-11-22T10:04:05.123456Z`.
pub fn write_timestamp(out: &mut String) {
    // Calendar arithmetic and `fmt` padding cost more than the rest of a log
    // line: each thread keeps the `2026-11-22T10:04:05` of the current second.
    thread_local! {
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs();
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        let mut text = String::with_capacity(27);
        write_rfc3339(&mut text, secs, 0);
        // `2026-11-22T10:04:05.000000Z`; a year past 9999 does not fit the cache.
        match text.as_bytes().get(..19).filter(|_| text.len() == 27).and_then(|p| <[u8; 19]>::try_from(p).ok()) {
            Some(p) => {
                prefix = p;
                SECOND.set((secs, prefix));
            }
            None => return write_rfc3339(out, secs, now.subsec_micros()),
        }
    }
    out.push_str(std::str::from_utf8(&prefix).unwrap_or_default());
    out.push('.');
    let mut micros = now.subsec_micros();
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    out.push('Z');
}

pub(crate) fn write_rfc3339(out: &mut String, secs: u64, micros: u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut out = String::new();
        write_rfc3339(&mut out, 0, 0);
        assert_eq!(out, "1970-01-01T00:00:00.000000Z");
        out.clear();
        // 2024-02-29T23:59:59.5Z, a leap day.
        write_rfc3339(&mut out, 1_709_251_199, 500_000);
        assert_eq!(out, "2024-02-29T23:59:59.500000Z");
    }

    #[test]
    fn timestamps_have_a_fixed_shape() {
        let mut out = String::new();
        write_timestamp(&mut out);
        write_timestamp(&mut out);
        assert_eq!(out.len(), 54, "{out}");
        for stamp in [&out[..27], &out[27..]] {
            let b = stamp.as_bytes();
            assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
            assert_eq!((b[4], b[7], b[10], b[13], b[16], b[19]), (b'-', b'-', b'T', b':', b':', b'.'), "{stamp}");
        }
    }

    #[test]
    fn hex_is_zero_padded() {
        let mut out = String::new();
        write_hex(&mut out, 0xabc, 16);
        assert_eq!(out, "0000000000000abc");
        out.clear();
        write_hex(&mut out, u128::MAX - 1, 32);
        assert_eq!(out, format!("{:032x}", u128::MAX - 1));
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }
}
