//! Time commands: strftime, strepoch (mod_dptools), msleep; and `log`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchboard_core::Switch;

use crate::{Reply, ReplyFuture};

/// The format of a bare `strftime`.
const DEFAULT_FORMAT: &str = "%Y-%m-%d %T";
/// FreeSWITCH writes the date into 80 bytes; longer results are cut to nothing there.
const MAX_DATE: usize = 256;

/// `[<epoch>|]<format>` in local time.
pub(crate) fn strftime(_: &Switch, args: &str) -> Reply {
    let (when, format) = match args.split_once('|') {
        Some((epoch, format)) => (atol(epoch), format),
        None => (now_secs(), args),
    };
    let format = if format.is_empty() {
        DEFAULT_FORMAT
    } else {
        format
    };
    Reply::ok(local::format(when, format))
}

/// The epoch second of a local date (`YYYY-MM-DD[ HH:MM[:SS]]`); now when empty, 0 when
/// unreadable (as `switch_str_time`).
pub(crate) fn strepoch(_: &Switch, args: &str) -> Reply {
    let args = args.trim();
    let secs = if args.is_empty() {
        now_secs()
    } else {
        parse_date(args).map_or(0, |fields| local::epoch(&fields))
    };
    Reply::ok(secs.to_string())
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// C's `atol`: the leading integer, 0 when there is none.
pub(crate) fn atol(text: &str) -> i64 {
    let text = text.trim_start();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}

/// `format` (strftime's) of `at` in local time.
pub(crate) fn local_time(at: SystemTime, format: &str) -> String {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    local::format(secs, format)
}

/// Year, month, day, hour, minute, second.
type DateFields = [i64; 6];

/// `YYYY-MM-DD`, then optionally ` HH:MM[:SS]` (or `T` between).
fn parse_date(text: &str) -> Option<DateFields> {
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (date, time.trim()),
        None => (text, ""),
    };
    let mut fields = [0i64; 6];
    let date: Vec<&str> = date.split('-').collect();
    let time: Vec<&str> = if time.is_empty() {
        Vec::new()
    } else {
        time.split(':').collect()
    };
    if date.len() != 3 || time.len() > 3 || time.len() == 1 {
        return None;
    }
    for (slot, part) in fields.iter_mut().zip(date.iter().chain(&time)) {
        *slot = part.parse().ok()?;
    }
    let [_, month, day, hour, minute, second] = fields;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second);
    valid.then_some(fields)
}

/// The C library's local time (its zone from `TZ` or `/etc/localtime`): no time-zone
/// database of our own.
mod local {
    use super::{DateFields, MAX_DATE};

    /// `strftime(3)` of epoch second `when` in local time.
    pub fn format(when: i64, format: &str) -> String {
        let Ok(format) = std::ffi::CString::new(format) else {
            return String::new();
        };
        // time_t is 64 bits on the targets we build for.
        let when: libc::time_t = when;
        // SAFETY: `tm` is plain data that localtime_r fills; strftime writes at most
        // `buf.len()` bytes into `buf` and returns how many it wrote.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&when, &mut tm).is_null() {
                return String::new();
            }
            let mut buf = [0u8; MAX_DATE];
            let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm);
            String::from_utf8_lossy(&buf[..n]).into_owned()
        }
    }

    /// `mktime(3)` of a local date.
    pub fn epoch(fields: &DateFields) -> i64 {
        let [year, month, day, hour, minute, second] =
            fields.map(|f| i32::try_from(f).unwrap_or(0));
        // SAFETY: `tm` is plain data, fully set here; mktime reads and normalises it.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            tm.tm_year = year - 1900;
            tm.tm_mon = month - 1;
            tm.tm_mday = day;
            tm.tm_hour = hour;
            tm.tm_min = minute;
            tm.tm_sec = second;
            tm.tm_isdst = -1;
            libc::mktime(&mut tm)
        }
    }
}

/// `msleep <ms>`: answers `+OK` once the time has passed.
pub(crate) fn msleep(_: Switch, args: String) -> ReplyFuture {
    Box::pin(async move {
        let ms = u64::try_from(atol(&args)).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Reply::ok("+OK")
    })
}

/// `log [<level>] <message>` into the switch's log (debug when the level is unknown).
pub(crate) fn log(_: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        return Reply::err("-ERR\n");
    }
    let (level, message) = match args.split_once(' ') {
        Some((level, message)) => (level.to_ascii_lowercase(), message),
        None => (String::new(), args),
    };
    match level.as_str() {
        "console" | "alert" | "crit" | "err" | "error" => {
            tracing::error!(target: "api", "{message}")
        }
        "warning" | "warn" => tracing::warn!(target: "api", "{message}"),
        "notice" | "info" => tracing::info!(target: "api", "{message}"),
        _ => tracing::debug!(target: "api", "{message}"),
    }
    Reply::ok("+OK\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2024-02-29 23:59:59"),
            Some([2024, 2, 29, 23, 59, 59])
        );
        assert_eq!(parse_date("2024-02-29"), Some([2024, 2, 29, 0, 0, 0]));
        assert_eq!(
            parse_date("2024-02-29 10:30"),
            Some([2024, 2, 29, 10, 30, 0])
        );
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(atol("+30"), 30);
        assert_eq!(atol("-5x"), -5);
        assert_eq!(atol("x"), 0);
    }

    #[test]
    fn local_round_trip() {
        let epoch = local::epoch(&[2024, 2, 29, 12, 0, 0]);
        assert_eq!(
            local::format(epoch, "%Y-%m-%d %H:%M:%S"),
            "2024-02-29 12:00:00"
        );
    }
}
