//! The switch as a whole: status, version, uptime, hostname, switchname, global variables.

use std::time::Duration;

use switchboard_core::Switch;

use crate::Reply;

pub(crate) const UPTIME_SYNTAX: &str =
    "[us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The first lines of FreeSWITCH's `status`. The core keeps no session peaks, rates or
/// limits, so the peaks are today's count and the lines about them are left out.
pub(crate) fn status(switch: &Switch, _: &str) -> Reply {
    let sessions = switch.channels().len();
    Reply::ok(format!(
        "{}\nFreeSWITCH (Version {VERSION} switchboard) is ready\n\
         {sessions} session(s) - peak {sessions}, last 5min {sessions} \n",
        up_line(switch.uptime())
    ))
}

/// `UP 0 years, 0 days, 1 hour, …`, singular for one as FreeSWITCH writes it.
pub(crate) fn up_line(uptime: Duration) -> String {
    let secs = uptime.as_secs();
    let parts = [
        (secs / (365 * 86400), "year"),
        (secs % (365 * 86400) / 86400, "day"),
        (secs % 86400 / 3600, "hour"),
        (secs % 3600 / 60, "minute"),
        (secs % 60, "second"),
        (u64::from(uptime.subsec_millis()), "millisecond"),
        (u64::from(uptime.subsec_micros() % 1000), "microsecond"),
    ];
    let parts: Vec<_> = parts
        .iter()
        .map(|&(n, unit)| format!("{n} {unit}{}", if n == 1 { "" } else { "s" }))
        .collect();
    format!("UP {}", parts.join(", "))
}

pub(crate) fn version(_: &Switch, args: &str) -> Reply {
    if args.to_ascii_lowercase().contains("short") {
        return Reply::ok(format!("{VERSION}\n"));
    }
    Reply::ok(format!(
        "FreeSWITCH Version {VERSION} (switchboard {VERSION})\n"
    ))
}

pub(crate) fn uptime(switch: &Switch, args: &str) -> Reply {
    let micros_per: u128 = match args.to_ascii_lowercase().as_str() {
        "" | "s" | "seconds" => 1_000_000,
        "us" | "microseconds" => 1,
        "ms" | "milliseconds" => 1_000,
        "m" | "minutes" => 60_000_000,
        "h" | "hours" => 3_600_000_000,
        "d" | "days" => 86_400_000_000,
        _ => return Reply::usage(UPTIME_SYNTAX),
    };
    Reply::ok(format!("{}\n", switch.uptime().as_micros() / micros_per))
}

/// The system's host name (Linux), else `localhost`.
pub(crate) fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

pub(crate) fn hostname(_: &Switch, _: &str) -> Reply {
    Reply::ok(host())
}

/// FreeSWITCH's switch name defaults to the host name; we have no setting for it.
pub(crate) fn switchname(_: &Switch, _: &str) -> Reply {
    Reply::ok(host())
}

pub(crate) fn global_getvar(switch: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        let dump: String = switch
            .globals()
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        return Reply::ok(dump);
    }
    Reply::ok(switch.global(args).unwrap_or_default())
}

pub(crate) fn global_setvar(switch: &Switch, args: &str) -> Reply {
    let mut parts = args.splitn(3, '=');
    let name = parts.next().unwrap_or_default().trim();
    if name.is_empty() {
        return Reply::usage("<var>=<value> [=<value2>]");
    }
    let value = parts.next().unwrap_or_default();
    // `<var>=<value>=<value2>`: set to value only while it is value2 (still `+OK`).
    if let Some(expected) = parts.next().filter(|v| !v.is_empty()) {
        if switch.global(name).as_deref() != Some(expected) {
            return Reply::ok("+OK");
        }
    }
    set_global(switch, name, value)
}

fn set_global(switch: &Switch, name: &str, value: &str) -> Reply {
    match switch.set_global(name, value) {
        Ok(()) => Reply::ok("+OK"),
        Err(e) => Reply::err(format!("-ERR {e}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_line_units() {
        let d = Duration::from_micros(((86400 + 3600 + 61) * 1_000_000) + 1_001);
        assert_eq!(
            up_line(d),
            "UP 0 years, 1 day, 1 hour, 1 minute, 1 second, 1 millisecond, 1 microsecond"
        );
    }
}
