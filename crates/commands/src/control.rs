//! Commands that act on a live call: hold, DTMF, bridging.

use switchboard_core::Switch;

use crate::Reply;

pub(crate) const HOLD_SYNTAX: &str = "[off|toggle] <uuid> [<display>]";
pub(crate) const SEND_DTMF_SYNTAX: &str = "<uuid> <dtmf_data>";
pub(crate) const BRIDGE_SYNTAX: &str = "<uuid> <other_uuid>";

/// How long each digit of `uuid_send_dtmf` lasts and the gap after it: FreeSWITCH's
/// default digit duration (2000 samples at 8 kHz) and a like pause.
const DIGIT_MS: u32 = 250;
const GAP_MS: u32 = 50;

fn words(args: &str) -> Vec<&str> {
    args.split(' ').filter(|p| !p.is_empty()).collect()
}

pub(crate) fn hold(switch: &Switch, args: &str) -> Reply {
    let parts = words(args);
    let Some(first) = parts.first() else {
        return Reply::usage(HOLD_SYNTAX);
    };
    let second = parts.get(1).copied().unwrap_or_default();
    let done = if first.eq_ignore_ascii_case("off") {
        switch.unhold(second)
    } else if first.eq_ignore_ascii_case("toggle") {
        match switch.channel(second) {
            Ok(channel) if channel.is_held() => switch.unhold(second),
            Ok(_) => switch.hold(second),
            Err(e) => Err(e),
        }
    } else {
        switch.hold(first)
    };
    match done {
        Ok(()) => Reply::ok("+OK Success\n"),
        Err(_) => Reply::err("-ERR Operation failed\n"),
    }
}

pub(crate) fn send_dtmf(switch: &Switch, args: &str) -> Reply {
    let parts = words(args);
    let [id, digits, ..] = parts[..] else {
        return Reply::usage(SEND_DTMF_SYNTAX);
    };
    if switch.channel(id).is_err() {
        return Reply::err("-ERR Cannot locate session!\n");
    }
    let valid = |d: char| d.is_ascii_digit() || "*#ABCDabcd".contains(d);
    if !digits.chars().all(valid) {
        return Reply::err("-ERR Operation failed\n");
    }
    // FreeSWITCH queues the digits and answers at once; they go out one by one.
    let (switch, id_owned, digits_owned) = (switch.clone(), id.to_owned(), digits.to_uppercase());
    tokio::spawn(async move {
        if let Err(e) = switch
            .send_dtmf(&id_owned, &digits_owned, DIGIT_MS, GAP_MS)
            .await
        {
            tracing::debug!(channel = %id_owned, "uuid_send_dtmf: {e}");
        }
    });
    Reply::ok(format!("+OK {id} sent DTMF {digits}.\n"))
}

pub(crate) const RECV_DTMF_SYNTAX: &str = "<uuid> <dtmf_data>";

/// Digits as if the caller pressed them: into the channel's digit buffer.
pub(crate) fn recv_dtmf(switch: &Switch, args: &str) -> Reply {
    let parts = words(args);
    let [id, digits, ..] = parts[..] else {
        return Reply::usage(RECV_DTMF_SYNTAX);
    };
    if switch.channel(id).is_err() {
        return Reply::err("-ERR Cannot locate session!\n");
    }
    match switch.receive_dtmf(id, &digits.to_uppercase()) {
        Ok(()) => Reply::ok(format!("+OK {id} received DTMF {digits}.\n")),
        Err(_) => Reply::usage(RECV_DTMF_SYNTAX),
    }
}

pub(crate) fn bridge(switch: &Switch, args: &str) -> Reply {
    let parts = words(args);
    let [id, other, ..] = parts[..] else {
        return Reply::usage(BRIDGE_SYNTAX);
    };
    // A third uuid is FreeSWITCH's fallback when the second cannot be bridged.
    let who = [Some(other), parts.get(2).copied()]
        .into_iter()
        .flatten()
        .find(|other| {
            switch.channel(id).is_ok()
                && switch.channel(other).is_ok()
                && switch.connect(id, other).is_ok()
        });
    match who {
        Some(who) => Reply::ok(format!("+OK {who}\n")),
        None => Reply::err("-ERR Invalid uuid\n"),
    }
}
