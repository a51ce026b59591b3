//! `db` (mod_db: values kept in the store) and `hash` (mod_hash: in memory), both
//! `<op>/<realm>/<key>[/<value>]`.

use switchboard_core::kv::HashDelete;
use switchboard_core::Switch;

use crate::args::separate;
use crate::{Reply, ReplyFuture};

pub(crate) const DB_SYNTAX: &str = "[insert|delete|select|exists|count|list]/<realm>/<key>/<value>";
pub(crate) const HASH_SYNTAX: &str = "[insert|delete|select]/<realm>/<key>/<value>";
/// What mod_hash prints in its usage error.
const HASH_USAGE: &str = "insert|insert_ifempty|select|delete|delete_ifmatch/realm/key[/value]";

/// mod_db's answer to anything it cannot use.
fn db_err() -> Reply {
    Reply::err("!err!")
}

pub(crate) fn db(switch: Switch, args: String) -> ReplyFuture {
    Box::pin(async move {
        let parts = separate(&args, '/', 4);
        let Some(op) = parts.first().map(|op| op.to_ascii_lowercase()) else {
            return db_err();
        };
        let realm = parts.get(1).map(String::as_str);
        let key = parts.get(2).map(String::as_str);
        let stored = |done: Result<(), switchboard_core::ControlError>| match done {
            Ok(()) => Reply::ok("+OK"),
            Err(e) => Reply::err(format!("-ERR {e}\n")),
        };
        match (op.as_str(), realm, key, parts.get(3)) {
            ("insert", Some(realm), Some(key), Some(value)) => {
                stored(switch.db_insert(realm, key, value).await)
            }
            // FreeSWITCH deletes the key `(null)` when none is given: nothing, here.
            ("delete", Some(_), None, _) => Reply::ok("+OK"),
            ("delete", Some(realm), Some(key), _) => stored(switch.db_delete(realm, key).await),
            ("select", Some(realm), Some(key), _) => match switch.db_select(realm, key) {
                Ok(value) => Reply::ok(value.unwrap_or_default()),
                Err(e) => Reply::err(format!("-ERR {e}\n")),
            },
            ("exists", Some(realm), Some(key), _) => match switch.db_select(realm, key) {
                Ok(value) => Reply::ok(if value.is_some_and(|v| !v.is_empty()) {
                    "true"
                } else {
                    "false"
                }),
                Err(e) => Reply::err(format!("-ERR {e}\n")),
            },
            ("count" | "list", realm, None, _) => {
                let names = match realm {
                    Some(realm) => switch.db_keys(realm),
                    None => switch.db_realms(),
                };
                match names {
                    Ok(names) if op == "count" => Reply::ok(names.len().to_string()),
                    Ok(names) => Reply::ok(names.join(",")),
                    Err(e) => Reply::err(format!("-ERR {e}\n")),
                }
            }
            _ => db_err(),
        }
    })
}

pub(crate) fn hash(switch: &Switch, args: &str) -> Reply {
    let usage = || Reply::err(format!("-ERR Usage: hash {HASH_USAGE}\n"));
    let parts = separate(args, '/', 4);
    let [op, realm, key, rest @ ..] = &parts[..] else {
        return usage();
    };
    let value = rest.first().map(String::as_str);
    match (op.to_ascii_lowercase().as_str(), value) {
        (op @ ("insert" | "insert_ifempty"), Some(value)) => {
            match switch.hash_insert(realm, key, value, op == "insert_ifempty") {
                Ok(true) => Reply::ok("+OK\n"),
                Ok(false) => Reply::err("-ERR key already exists\n"),
                Err(e) => Reply::err(format!("-ERR {e}\n")),
            }
        }
        ("delete", _) => hash_delete(switch.hash_delete(realm, key, None)),
        ("delete_ifmatch", Some(value)) => hash_delete(switch.hash_delete(realm, key, Some(value))),
        ("select", _) => Reply::ok(switch.hash_select(realm, key).unwrap_or_default()),
        _ => usage(),
    }
}

fn hash_delete(done: HashDelete) -> Reply {
    match done {
        HashDelete::Deleted => Reply::ok("+OK\n"),
        HashDelete::NotFound => Reply::err("-ERR Not found\n"),
        HashDelete::Mismatch => Reply::err("-ERR Doesn't match\n"),
    }
}
