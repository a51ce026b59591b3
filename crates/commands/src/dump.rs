//! `uuid_dump`: a channel's data as FreeSWITCH's CHANNEL_DATA event, one `Name: value`
//! header a line (values URL-encoded; `plain`: bracketed as they are), or `json`.

use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_core::{Channel, ChannelState, Direction, Switch};

use crate::clock::local_time;
use crate::show::quote;
use crate::util::encode;
use crate::{system, Reply};

pub(crate) const DUMP_SYNTAX: &str = "<uuid> [format]";

pub(crate) fn dump(switch: &Switch, args: &str) -> Reply {
    let mut parts = args.split(' ').filter(|p| !p.is_empty());
    let Some(id) = parts.next() else {
        return Reply::usage(DUMP_SYNTAX);
    };
    let format = parts.next().unwrap_or("txt").to_ascii_lowercase();
    let Ok(channel) = switch.channel(id) else {
        return Reply::err("-ERR No such channel!\n");
    };
    let headers = headers(switch, &channel);
    Reply::ok(match format.as_str() {
        "json" => {
            let fields: Vec<String> = headers
                .iter()
                .map(|(name, value)| format!("{}:{}", quote(name), quote(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        "plain" => serialize(&headers, |v| format!("[{v}]")),
        _ => serialize(&headers, encode),
    })
}

/// `Name: value` lines and the blank line that ends an event; an empty value is
/// written `_undef_`, as `switch_event_serialize` does.
fn serialize(headers: &[(String, String)], write: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for (name, value) in headers {
        let value = write(value);
        let value = if value.is_empty() { "_undef_" } else { &value };
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out
}

/// FreeSWITCH's number for a `CS_*` state name.
fn state_number(state: &str) -> u8 {
    const ORDER: [&str; 13] = [
        "CS_NEW",
        "CS_INIT",
        "CS_ROUTING",
        "CS_SOFT_EXECUTE",
        "CS_EXECUTE",
        "CS_EXCHANGE_MEDIA",
        "CS_PARK",
        "CS_CONSUME_MEDIA",
        "CS_HIBERNATE",
        "CS_RESET",
        "CS_HANGUP",
        "CS_REPORTING",
        "CS_DESTROY",
    ];
    ORDER
        .iter()
        .position(|s| *s == state)
        .and_then(|n| u8::try_from(n).ok())
        .unwrap_or(0)
}

/// The event's headers: the event's own, the channel's, its caller profile's, then
/// each variable as `variable_<name>`.
fn headers(switch: &Switch, channel: &Channel) -> Vec<(String, String)> {
    let snapshot = switch.snapshot(channel);
    let status = channel.status();
    let now = SystemTime::now();
    let micros = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
            .to_string()
    };
    let direction = match channel.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    };
    let answer_state = if status.hangup.is_some() {
        "hangup"
    } else if status.state == ChannelState::Up {
        "answered"
    } else if status.early_media {
        "early"
    } else {
        "ringing"
    };
    let host = system::host();
    let state = snapshot.state.freeswitch();
    let mut headers: Vec<(&str, String)> = vec![
        ("Event-Name", "CHANNEL_DATA".into()),
        ("FreeSWITCH-Hostname", host.clone()),
        ("FreeSWITCH-Switchname", host),
        ("Event-Date-Local", local_time(now, "%Y-%m-%d %H:%M:%S")),
        ("Event-Date-GMT", httpdate(now)),
        ("Event-Date-Timestamp", micros(now)),
        ("Event-Calling-Function", "uuid_dump".into()),
        ("Channel-State", state.into()),
        (
            "Channel-Call-State",
            snapshot.state.freeswitch_callstate().into(),
        ),
        ("Channel-State-Number", state_number(state).to_string()),
        ("Channel-Name", snapshot.name.clone()),
        ("Unique-ID", snapshot.id.clone()),
        ("Call-Direction", direction.into()),
        ("Presence-Call-Direction", direction.into()),
        ("Channel-HIT-Dialplan", "true".into()),
        ("Channel-Call-UUID", snapshot.id.clone()),
        ("Answer-State", answer_state.into()),
    ];
    if let Some(cause) = status.hangup {
        headers.push(("Hangup-Cause", cause.name().to_owned()));
    }
    headers.extend([
        ("Caller-Direction", direction.into()),
        ("Caller-Logical-Direction", direction.into()),
        ("Caller-Dialplan", "XML".into()),
        ("Caller-Caller-ID-Name", snapshot.caller.name.clone()),
        ("Caller-Caller-ID-Number", snapshot.caller.number.clone()),
        ("Caller-Orig-Caller-ID-Name", snapshot.caller.name.clone()),
        (
            "Caller-Orig-Caller-ID-Number",
            snapshot.caller.number.clone(),
        ),
        ("Caller-Callee-ID-Name", snapshot.connected.name.clone()),
        ("Caller-Callee-ID-Number", snapshot.connected.number.clone()),
        ("Caller-Destination-Number", snapshot.exten.clone()),
        ("Caller-Unique-ID", snapshot.id.clone()),
        ("Caller-Context", snapshot.context.clone()),
        ("Caller-Channel-Name", snapshot.name.clone()),
        ("Caller-Profile-Index", "1".into()),
        ("Caller-Channel-Created-Time", micros(snapshot.created)),
    ]);
    let mut all: Vec<(String, String)> = headers
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    all.extend(
        snapshot
            .variables
            .iter()
            .map(|(name, value)| (format!("variable_{name}"), value.clone())),
    );
    all
}

/// `Thu, 29 Feb 2024 23:59:59 GMT`.
fn httpdate(at: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // The core's one calendar conversion, `YYYY-MM-DD hh:mm:ss` in UTC.
    let civil = switchboard_core::time::freeswitch(at);
    let field = |range: std::ops::Range<usize>| civil.get(range).unwrap_or("0").to_owned();
    let month: usize = field(5..7).parse().unwrap_or(1);
    let day = DAYS[usize::try_from(secs / 86_400 % 7).unwrap_or(0)];
    format!(
        "{day}, {} {} {} {} GMT",
        field(8..10),
        MONTHS[month.clamp(1, 12) - 1],
        field(0..4),
        field(11..19)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn gmt_dates_and_states() {
        let at = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(httpdate(at), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(state_number("CS_EXECUTE"), 4);
        assert_eq!(
            serialize(
                &[("A".into(), "x y".into()), ("B".into(), String::new())],
                encode
            ),
            "A: x%20y\nB: _undef_\n\n"
        );
    }
}
