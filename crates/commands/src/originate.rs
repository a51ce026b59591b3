//! `originate <call url> <exten>|&<application_name>(<app_args>) [<dialplan>]
//! [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]`: places a call, waits for its
//! answer and sends it to an extension or an application, as FreeSWITCH's.

use std::time::Duration;

use switchboard_core::{CallerId, Cause, Next, Switch, Transfer};

use crate::{dial, Reply};

pub(crate) const SYNTAX: &str = "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]";

/// FreeSWITCH's default ring time for `originate`.
const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// What the answered channel does.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Exten { exten: &'a str, context: &'a str },
    App { name: &'a str, args: &'a str },
}

#[derive(Debug, PartialEq, Eq)]
struct Args<'a> {
    url: &'a str,
    target: Target<'a>,
    cid_name: Option<&'a str>,
    cid_num: Option<&'a str>,
    timeout: u64,
}

fn parse(args: &str) -> Option<Args<'_>> {
    // `undef` stands for an argument left out, so later ones can be given.
    let parts: Vec<Option<&str>> = args
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(|p| (!p.eq_ignore_ascii_case("undef")).then_some(p))
        .collect();
    if !(2..=7).contains(&parts.len()) {
        return None;
    }
    let arg = |i: usize| parts.get(i).copied().flatten();
    let exten = arg(1)?;
    let target = match exten.strip_prefix('&').filter(|app| !app.is_empty()) {
        Some(app) => {
            let (name, args) = match app.split_once('(') {
                Some((name, rest)) => (name, rest.split(')').next().unwrap_or(rest)),
                None => (app, ""),
            };
            Target::App { name, args }
        }
        // `<dialplan>` (argument 2) is always FreeSWITCH's XML here: we have one dialplan.
        None => Target::Exten {
            exten,
            context: arg(3).unwrap_or("default"),
        },
    };
    Some(Args {
        url: arg(0)?,
        target,
        cid_name: arg(4),
        cid_num: arg(5),
        // atoi: what is not a number is 0, and 0 rings for ever.
        timeout: arg(6).map_or(DEFAULT_TIMEOUT_SECS, |t| t.parse().unwrap_or(0)),
    })
}

pub(crate) async fn originate(switch: Switch, args: String) -> Reply {
    let Some(args) = parse(&args) else {
        return Reply::usage(SYNTAX);
    };
    let caller_id = CallerId {
        name: args.cid_name.unwrap_or_default().to_owned(),
        number: args.cid_num.unwrap_or_default().to_owned(),
    };
    let timeout = (args.timeout > 0).then(|| Duration::from_secs(args.timeout));
    let channel = match dial::call(&switch, args.url, caller_id, timeout).await {
        Ok(channel) => channel,
        Err(cause) => return Reply::err(format!("-ERR {}\n", cause.name())),
    };
    let id = channel.id.clone();
    match args.target {
        Target::Exten { exten, context } => {
            let to = Transfer {
                context: Some(context.to_owned()),
                ..Transfer::to(exten)
            };
            if let Err(e) = switch.transfer(&id, to) {
                tracing::info!(channel = %id, "originate to {exten}@{context}: {e}");
                switch.hangup(&id, Cause::NORMAL_CLEARING);
                return Reply::err(format!("-ERR {}\n", Cause::NORMAL_CLEARING.name()));
            }
        }
        Target::App { name, .. } if name.eq_ignore_ascii_case("park") => {}
        Target::App { name, args } => {
            tokio::spawn(run_app(
                switch,
                id.clone(),
                name.to_owned(),
                args.to_owned(),
            ));
        }
    }
    Reply::ok(format!("+OK {id}\n"))
}

async fn run_app(switch: Switch, id: String, name: String, args: String) {
    let next = switch.execute_application(&id, &name, &args).await;
    match next {
        Ok(Next::Goto {
            context,
            exten,
            priority,
        }) => {
            let to = Transfer {
                context: Some(context),
                priority: Some(priority),
                ..Transfer::to(exten)
            };
            if let Err(e) = switch.transfer(&id, to) {
                tracing::debug!(channel = %id, "originate &{name}: {e}");
                switch.hangup(&id, Cause::NORMAL_CLEARING);
            }
        }
        Ok(Next::Hangup(cause)) => switch.hangup(&id, cause),
        Ok(Next::Continue) => switch.hangup(&id, Cause::NORMAL_CLEARING),
        Err(e) => {
            tracing::info!(channel = %id, "originate &{name}: {e}");
            switch.hangup(&id, Cause::NORMAL_CLEARING);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        let parsed = parse("loopback/1/t &park()").expect("parses");
        assert_eq!(
            parsed.target,
            Target::App {
                name: "park",
                args: ""
            }
        );
        assert_eq!(parsed.timeout, 60);
        let parsed = parse("user/1000 &playback(tone.wav)").expect("parses");
        assert_eq!(
            parsed.target,
            Target::App {
                name: "playback",
                args: "tone.wav"
            }
        );
        let parsed = parse("user/1000 2 XML t Alice 1234 5").expect("parses");
        assert_eq!(
            parsed,
            Args {
                url: "user/1000",
                target: Target::Exten {
                    exten: "2",
                    context: "t"
                },
                cid_name: Some("Alice"),
                cid_num: Some("1234"),
                timeout: 5,
            }
        );
        let parsed = parse("user/1000 2 undef undef undef 99").expect("parses");
        assert_eq!(
            parsed.target,
            Target::Exten {
                exten: "2",
                context: "default"
            }
        );
        assert_eq!(parsed.cid_num, Some("99"));
        assert_eq!(parse("user/1000"), None);
        assert_eq!(parse("a b c d e f g h"), None);
    }
}
