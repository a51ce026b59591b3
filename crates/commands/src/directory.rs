//! The user directory (the configured endpoints): user_exists, list_users; and the
//! commands on the configuration and the process: reloadxml, shutdown.

use switchboard_core::config::Endpoint;
use switchboard_core::Switch;

use crate::args::separate;
use crate::{Reply, ReplyFuture};

pub(crate) const LIST_USERS_SYNTAX: &str =
    "[group <group>] [domain <domain>] [user <user>] [context <context>]";

/// Our one directory domain: the SIP realm.
fn domain(switch: &Switch) -> &str {
    &switch.config().sip.realm
}

/// The endpoint a directory lookup by `key` finds (`id` is the only key endpoints
/// have; FreeSWITCH's `number-alias` and the like find nothing).
fn find_user<'a>(
    switch: &'a Switch,
    key: &str,
    user: &str,
    in_domain: &str,
) -> Option<&'a Endpoint> {
    if !key.eq_ignore_ascii_case("id") || !in_domain.eq_ignore_ascii_case(domain(switch)) {
        return None;
    }
    switch.config().endpoint.iter().find(|e| e.id == user)
}

/// `<key> <user> <domain>`: `true` or `false`.
pub(crate) fn user_exists(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, ' ', 3);
    let found = match &parts[..] {
        [key, user, in_domain] => find_user(switch, key, user, in_domain).is_some(),
        _ => false,
    };
    Reply::ok(if found { "true" } else { "false" })
}

/// Every endpoint as `userid|context|domain|group|contact|callgroup|…`, filtered by the
/// `user`, `domain` and `context` given (endpoints are in no group: a group filter
/// finds none).
pub(crate) fn list_users(switch: Switch, args: String) -> ReplyFuture {
    Box::pin(async move {
        let parts = separate(&args, ' ', 9);
        if parts.len() >= 9 {
            return Reply::usage(LIST_USERS_SYNTAX);
        }
        let filter = |name: &str| {
            parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case(name))
                .and_then(|at| parts.get(at + 1))
                .map(String::as_str)
        };
        let (user, context, in_domain, group) = (
            filter("user"),
            filter("context"),
            filter("domain"),
            filter("group"),
        );
        let realm = domain(&switch).to_owned();
        let mut out = String::from(
            "userid|context|domain|group|contact|callgroup|effective_caller_id_name|effective_caller_id_number\n",
        );
        let wanted = switch.config().endpoint.iter().filter(|e| {
            user.is_none_or(|u| u.eq_ignore_ascii_case(&e.id))
                && context.is_none_or(|c| c.eq_ignore_ascii_case(&e.context))
                && in_domain.is_none_or(|d| d.eq_ignore_ascii_case(&realm))
                && group.is_none()
        });
        for endpoint in wanted {
            // sofia_contact's answer: the registered contact, or why there is none.
            let contact = match switch.endpoint_contacts(&endpoint.id).await.first() {
                Some(contact) => format!("sofia/internal/{contact}"),
                None => "error/user_not_registered".to_owned(),
            };
            out.push_str(&format!(
                "{}|{}|{realm}||{contact}|||\n",
                endpoint.id, endpoint.context
            ));
        }
        out.push_str("\n+OK\n");
        Reply::ok(out)
    })
}

/// Re-reads the configuration file and applies its dialplan; FreeSWITCH prints what
/// went wrong in the brackets (and `+OK` all the same).
pub(crate) fn reloadxml(switch: &Switch, _: &str) -> Reply {
    match switch.reload_config() {
        Ok(()) => Reply::ok("+OK [Success]\n"),
        Err(e) => Reply::ok(format!("+OK [{e}]\n")),
    }
}

/// Answers, then hangs every call up and asks the process to exit.
pub(crate) fn shutdown(switch: &Switch, _: &str) -> Reply {
    let switch = switch.clone();
    tokio::spawn(async move {
        switch.shutdown().await;
        switch.request_exit();
    });
    Reply::ok("+OK\n")
}
