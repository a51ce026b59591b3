//! Timestamps as the faces print them, without a calendar dependency: RFC 3339 for CDRs
//! and Asterisk's `2024-01-01T12:00:00.000+0000` for ARI.

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day, hour, minute, second, millisecond) in UTC.
type Civil = (i64, u32, u32, u32, u32, u32, u32);

/// The [`Civil`] fields of `time`.
pub(crate) fn civil(time: SystemTime) -> Civil {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let part = |v: i64| u32::try_from(v).unwrap_or(0);
    (
        year,
        part(month),
        part(day),
        part(rem / 3600),
        part(rem % 3600 / 60),
        part(rem % 60),
        since.subsec_millis(),
    )
}

/// `2026-11-25T13:33:14Z`
pub fn rfc3339(time: SystemTime) -> String {
    let mut out = date_time(civil(time), 'T');
    out.push('Z');
    out
}

/// `2026-11-25T13:33:14.123+0000`, as Asterisk writes ARI timestamps.
pub fn asterisk(time: SystemTime) -> String {
    let civil = civil(time);
    let mut out = date_time(civil, 'T');
    out.push('.');
    push_padded(&mut out, u64::from(civil.6), 3);
    out.push_str("+0000");
    out
}

/// `2026-11-25 13:33:14` (UTC), as FreeSWITCH's `show channels` prints `created`.
pub fn freeswitch(time: SystemTime) -> String {
    date_time(civil(time), ' ')
}

/// `YYYY-MM-DD<sep>hh:mm:ss`, written digit by digit: several a call (CDRs, events), and
/// `format!` with padded fields costs several times as much.
fn date_time((y, mo, d, h, mi, s, _): Civil, sep: char) -> String {
    let mut out = String::with_capacity(32);
    // civil() counts from 1970 at the earliest
    push_padded(&mut out, u64::try_from(y).unwrap_or(0), 4);
    for (before, field) in [('-', mo), ('-', d), (sep, h), (':', mi), (':', s)] {
        out.push(before);
        push_padded(&mut out, u64::from(field), 2);
    }
    out
}

/// `v` in decimal with at least `width` digits, as `{v:0width$}` writes it.
fn push_padded(out: &mut String, mut v: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(std::iter::repeat_n('0', width.saturating_sub(n)));
    out.extend(digits[..n].iter().rev().map(|&b| char::from(b)));
}

/// Whole seconds from `from` to `to`, rounded to nearest, never negative.
pub fn seconds_between(from: SystemTime, to: SystemTime) -> i64 {
    let millis = to.duration_since(from).map(|d| d.as_millis()).unwrap_or(0);
    i64::try_from((millis + 500) / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(asterisk(t), "2023-11-14T22:13:20.123+0000");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(freeswitch(t), "2023-11-14 22:13:20");
        assert_eq!(asterisk(UNIX_EPOCH), "1970-01-01T00:00:00.000+0000");
        // a five-digit year is written whole, as format! did
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            "10000-01-01T00:00:00Z"
        );
        assert_eq!(seconds_between(t, t + Duration::from_millis(4_600)), 5);
        assert_eq!(seconds_between(t + Duration::from_secs(1), t), 0);
    }
}
