//! Commands on one channel by its uuid, and `hupall`.

use switchboard_core::{Cause, Switch, Transfer};

use crate::Reply;

pub(crate) const KILL_SYNTAX: &str = "<uuid> [cause]";
pub(crate) const GETVAR_SYNTAX: &str = "<uuid> <var>";
pub(crate) const SETVAR_SYNTAX: &str = "<uuid> <var> [value]";
pub(crate) const SETVAR_MULTI_SYNTAX: &str = "<uuid> <var>=<value>;<var>=<value>...";
pub(crate) const TRANSFER_SYNTAX: &str =
    "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]";

const NO_SUCH_CHANNEL: &str = "-ERR No such channel!\n";

fn exists_id(switch: &Switch, id: &str) -> bool {
    !id.is_empty() && switch.channel(id).is_ok()
}

/// Splits on single spaces into at most `max` parts, the last taking the rest, as
/// `switch_separate_string` does.
fn separate(args: &str, max: usize) -> Vec<&str> {
    args.splitn(max, ' ').filter(|p| !p.is_empty()).collect()
}

pub(crate) fn kill(switch: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        return Reply::usage(KILL_SYNTAX);
    }
    let (id, cause) = args.split_once(' ').unwrap_or((args, ""));
    if !exists_id(switch, id) {
        return Reply::err(NO_SUCH_CHANNEL);
    }
    let cause = Cause::parse(cause).unwrap_or(Cause::NORMAL_CLEARING);
    switch.hangup(id, cause);
    Reply::ok("+OK\n")
}

pub(crate) fn answer(switch: &Switch, args: &str) -> Reply {
    ok_or_error(switch.answer(args))
}

/// `+OK`, or FreeSWITCH's bare `-ERROR` of uuid_answer and friends.
fn ok_or_error<E>(done: Result<(), E>) -> Reply {
    match done {
        Ok(()) => Reply::ok("+OK\n"),
        Err(_) => Reply::err("-ERROR\n"),
    }
}

pub(crate) fn pre_answer(switch: &Switch, args: &str) -> Reply {
    ok_or_error(switch.progress(args))
}

pub(crate) const RING_READY_SYNTAX: &str = "<uuid> [queued]";

/// `<uuid> [queued]`: ringing (queued or not: we signal both as ringing).
pub(crate) fn ring_ready(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, 2);
    match parts[..] {
        [id] => ok_or_error(switch.ring(id)),
        [id, queued] if queued.eq_ignore_ascii_case("queued") => ok_or_error(switch.ring(id)),
        _ => Reply::usage(RING_READY_SYNTAX),
    }
}

pub(crate) const SIMPLIFY_SYNTAX: &str = "<uuid>";

/// Takes a Local pair out of the channel's call path; a channel with none to take out
/// answers `+OK Success` too, as FreeSWITCH's endpoints that ignore the request.
pub(crate) fn simplify(switch: &Switch, args: &str) -> Reply {
    let Some(id) = separate(args, 2).first().copied() else {
        return Reply::usage(SIMPLIFY_SYNTAX);
    };
    match switch.simplify(id) {
        Ok(_) => Reply::ok("+OK Success\n"),
        Err(_) => Reply::err("-ERR Operation failed\n"),
    }
}

pub(crate) fn exists(switch: &Switch, args: &str) -> Reply {
    Reply::ok(if exists_id(switch, args) {
        "true"
    } else {
        "false"
    })
}

pub(crate) fn getvar(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, 2);
    let [id, name] = parts[..] else {
        return Reply::usage(GETVAR_SYNTAX);
    };
    let Ok(channel) = switch.channel(id) else {
        return Reply::err(NO_SUCH_CHANNEL);
    };
    // A channel variable, else the global of that name, as FreeSWITCH's lookup.
    Reply::ok(
        switch
            .var(&channel, name)
            .unwrap_or_else(|| "_undef_".into()),
    )
}

pub(crate) fn setvar(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, 3);
    let (id, name, value) = match parts[..] {
        [id, name] => (id, name, None),
        [id, name, value] => (id, name, Some(value)),
        _ => return Reply::usage(SETVAR_SYNTAX),
    };
    if !exists_id(switch, id) {
        return Reply::err(NO_SUCH_CHANNEL);
    }
    match value {
        Some(value) => set(switch, id, name, value),
        // Without a value FreeSWITCH unsets the variable.
        None => match switch.unset_var(id, name) {
            Ok(()) => Reply::ok("+OK\n"),
            Err(e) => Reply::err(format!("-ERR {e}\n")),
        },
    }
}

fn set(switch: &Switch, id: &str, name: &str, value: &str) -> Reply {
    match switch.set_var(id, name, value) {
        Ok(()) => Reply::ok("+OK\n"),
        Err(e) => Reply::err(format!("-ERR {e}\n")),
    }
}

pub(crate) fn setvar_multi(switch: &Switch, args: &str) -> Reply {
    let Some((id, vars)) = args.split_once(' ') else {
        return Reply::usage(SETVAR_MULTI_SYNTAX);
    };
    if !exists_id(switch, id) {
        return Reply::err(NO_SUCH_CHANNEL);
    }
    for pair in vars.split(';') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name.is_empty() {
            return Reply::err("-ERR No variable specified\n");
        }
        let reply = set(switch, id, name, value);
        if !reply.ok {
            return reply;
        }
    }
    Reply::ok("+OK\n")
}

/// The parsed arguments of `uuid_transfer`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TransferArgs<'a> {
    pub id: &'a str,
    /// `-bleg` or `-both` (without the dash), if given.
    pub leg: Option<&'a str>,
    pub exten: &'a str,
    pub context: Option<&'a str>,
}

pub(crate) fn parse_transfer(args: &str) -> Option<TransferArgs<'_>> {
    let parts = separate(args, 5);
    if !(2..=5).contains(&parts.len()) {
        return None;
    }
    let (leg, rest) = match parts[1].strip_prefix('-') {
        Some(leg) => (Some(leg), &parts[2..]),
        None => (None, &parts[1..]),
    };
    // `<dest-exten> [<dialplan>] [<context>]`: our one dialplan is FreeSWITCH's XML.
    let exten = rest.first().copied()?;
    Some(TransferArgs {
        id: parts[0],
        leg,
        exten,
        context: rest.get(2).copied(),
    })
}

pub(crate) fn transfer(switch: &Switch, args: &str) -> Reply {
    let Some(request) = parse_transfer(args) else {
        return Reply::usage(TRANSFER_SYNTAX);
    };
    if !exists_id(switch, request.id) {
        return Reply::err(NO_SUCH_CHANNEL);
    }
    let to = Transfer {
        context: request.context.map(str::to_owned),
        ..Transfer::to(request.exten)
    };
    let partner = switch.bridge_partner(request.id);
    let target = match (request.leg.map(str::to_ascii_lowercase).as_deref(), partner) {
        (Some("bleg"), Some(other)) => other,
        (Some("both"), Some(other)) => {
            // FreeSWITCH ignores the other leg's result.
            let _ = switch.transfer(&other, to.clone());
            request.id.to_owned()
        }
        _ => request.id.to_owned(),
    };
    match switch.transfer(&target, to) {
        Ok(()) => Reply::ok("+OK\n"),
        Err(_) => Reply::err("-ERR\n"),
    }
}

pub(crate) fn break_(switch: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        return Reply::usage("<uuid> [all]");
    }
    let id = args.split(' ').next().unwrap_or_default();
    if !exists_id(switch, id) {
        return Reply::err(NO_SUCH_CHANNEL);
    }
    // FreeSWITCH sets the break flag whatever runs, so a channel running nothing
    // breakable still answers +OK.
    let _ = switch.break_(id);
    Reply::ok("+OK\n")
}

pub(crate) fn park(switch: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        return Reply::usage("<uuid>");
    }
    match switch.park(args) {
        Ok(()) => Reply::ok("+OK\n"),
        Err(_) => Reply::err(NO_SUCH_CHANNEL),
    }
}

pub(crate) fn flush_dtmf(switch: &Switch, args: &str) -> Reply {
    match switch.flush_digits(args) {
        Ok(()) if !args.is_empty() => Reply::ok("+OK\n"),
        _ => Reply::err("-ERR No such session\n"),
    }
}

pub(crate) fn hupall(switch: &Switch, args: &str) -> Reply {
    let parts: Vec<&str> = args.split(' ').filter(|p| !p.is_empty()).take(11).collect();
    let cause = parts
        .first()
        .and_then(|c| Cause::parse(c))
        .filter(|c| c.0 != 0)
        .unwrap_or(Cause::MANAGER_REQUEST);
    let pairs: Vec<(&str, &str)> = parts
        .get(1..)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|pair| (pair[0], pair[1]))
        .collect();
    for channel in switch.channels() {
        let matches = pairs
            .iter()
            .all(|(name, value)| channel.var(name).as_deref() == Some(*value));
        if matches {
            switch.hangup(&channel.id, cause);
        }
    }
    let name = cause.name();
    Reply::ok(match pairs.as_slice() {
        [] => format!("+OK hangup all channels with cause {name}\n"),
        [(var, value)] => {
            format!("+OK hangup all channels matching [{var}]=[{value}] with cause: {name}\n")
        }
        [(var, value), ..] => {
            format!("+OK hangup all channels matching [{var}]=[{value}]... with cause: {name}\n")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_arguments() {
        assert_eq!(
            parse_transfer("u 100"),
            Some(TransferArgs {
                id: "u",
                leg: None,
                exten: "100",
                context: None
            })
        );
        assert_eq!(
            parse_transfer("u -bleg 100 XML other"),
            Some(TransferArgs {
                id: "u",
                leg: Some("bleg"),
                exten: "100",
                context: Some("other")
            })
        );
        assert_eq!(parse_transfer("u"), None);
        assert_eq!(parse_transfer("u -both"), None);
    }
}
