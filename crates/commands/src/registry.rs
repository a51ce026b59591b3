//! The commands this crate has: name, syntax and description (what `show api` and
//! `help` list, as FreeSWITCH registers them) and the function that runs each.

use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;

use switchboard_core::Switch;

use crate::{
    clock, control, data, directory, dump, expr, gateway, media, originate, sched, show, system,
    util, uuid, Reply,
};

/// A command's reply, once it comes.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// How a command runs: at once, or (for one that waits on calls, as `originate`) as a
/// future on the runtime.
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    Now(fn(&Switch, &str) -> Reply),
    Later(fn(Switch, String) -> ReplyFuture),
}

impl Handler {
    pub(crate) async fn run(self, switch: &Switch, args: &str) -> Reply {
        match self {
            Self::Now(handler) => handler(switch, args),
            Self::Later(handler) => handler(switch.clone(), args.to_owned()).await,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Command {
    pub name: &'static str,
    pub syntax: &'static str,
    pub description: &'static str,
    /// The FreeSWITCH module that has it (`show api`'s `ikey`).
    pub module: &'static str,
    pub handler: Handler,
}

const fn command(
    name: &'static str,
    description: &'static str,
    syntax: &'static str,
    handler: fn(&Switch, &str) -> Reply,
) -> Command {
    Command {
        name,
        syntax,
        description,
        module: "mod_commands",
        handler: Handler::Now(handler),
    }
}

const fn later(
    name: &'static str,
    description: &'static str,
    syntax: &'static str,
    handler: fn(Switch, String) -> ReplyFuture,
) -> Command {
    Command {
        name,
        syntax,
        description,
        module: "mod_commands",
        handler: Handler::Later(handler),
    }
}

/// Sorted by name, as `show api` lists them.
const COMMANDS: &[Command] = &[
    command(
        "bgapi",
        "Execute an api command in a thread",
        "<command>[ <arg>]",
        sched::bgapi,
    ),
    command(
        "cond",
        "Evaluate a conditional",
        "<expr> ? <true val> : <false val>",
        expr::cond,
    ),
    command(
        "create_uuid",
        "Create a uuid",
        "<uuid> <other_uuid>",
        util::create_uuid,
    ),
    later("db", "db get/set", data::DB_SYNTAX, data::db),
    command("echo", "Echo", "<data>", util::echo),
    command("escape", "Escape a string", "<data>", expr::escape),
    command(
        "eval",
        "eval (noop)",
        "[uuid:<uuid> ]<expression>",
        expr::eval,
    ),
    later(
        "expand",
        "Execute an api with variable expansion",
        "[uuid:<uuid> ]<cmd> <args>",
        expr::expand,
    ),
    command(
        "global_getvar",
        "Get global var",
        "<var>",
        system::global_getvar,
    ),
    command(
        "global_setvar",
        "Set global var",
        "<var>=<value> [=<value2>]",
        system::global_setvar,
    ),
    command("hash", "hash get/set", data::HASH_SYNTAX, data::hash),
    command("help", "Show help for all the api commands", "", show::help),
    command(
        "hostname",
        "Return the system hostname",
        "",
        system::hostname,
    ),
    command(
        "hupall",
        "hupall",
        "<cause> [<var> <value>] [<var2> <value2>]",
        uuid::hupall,
    ),
    later(
        "list_users",
        "List Users configured in Directory",
        directory::LIST_USERS_SYNTAX,
        directory::list_users,
    ),
    command("log", "Log", "<level> <message>", clock::log),
    command("md5", "Return md5 hash", "<data>", util::md5),
    later(
        "msleep",
        "Sleep N milliseconds",
        "<milliseconds>",
        clock::msleep,
    ),
    Command {
        name: "originate",
        description: "Originate a call",
        syntax: originate::SYNTAX,
        module: "mod_commands",
        handler: Handler::Later(|switch, args| Box::pin(originate::originate(switch, args))),
    },
    command(
        "regex",
        "Evaluate a regex",
        "<data>|<pattern>[|<subst string>][n|b]",
        expr::regex,
    ),
    command("reloadxml", "Reload XML", "", directory::reloadxml),
    command(
        "replace",
        "Replace a string",
        "<data>|<string1>|<string2>",
        expr::replace,
    ),
    command(
        "sched_api",
        "Schedule an api command",
        sched::SCHED_SYNTAX,
        sched::sched_api,
    ),
    command(
        "sched_del",
        "Delete a scheduled task",
        "<task_id>|<group_id>",
        sched::sched_del,
    ),
    command(
        "sched_hangup",
        "Schedule a running call to hangup",
        sched::SCHED_HANGUP_SYNTAX,
        sched::sched_hangup,
    ),
    command(
        "sched_transfer",
        "Schedule a transfer for a running call",
        sched::SCHED_TRANSFER_SYNTAX,
        sched::sched_transfer,
    ),
    later("show", "Show various reports", show::SYNTAX, show::show),
    command("shutdown", "Shutdown", "", directory::shutdown),
    Command {
        module: "mod_sofia",
        ..command(
            "sofia",
            "Sofia Controls",
            gateway::SOFIA_SYNTAX,
            gateway::sofia,
        )
    },
    command("status", "Show current status", "", system::status),
    command(
        "strepoch",
        "Convert a date string into epoch time",
        "<string>",
        clock::strepoch,
    ),
    command("strftime", "strftime", "<format_string>", clock::strftime),
    command(
        "switchname",
        "Return the switch name",
        "",
        system::switchname,
    ),
    command(
        "uptime",
        "Show uptime",
        system::UPTIME_SYNTAX,
        system::uptime,
    ),
    command(
        "url_decode",
        "Url decode a string",
        "<string>",
        util::url_decode,
    ),
    command(
        "url_encode",
        "Url encode a string",
        "<string>",
        util::url_encode,
    ),
    command(
        "user_exists",
        "Find a user",
        "<key> <user> <domain>",
        directory::user_exists,
    ),
    command("uuid_answer", "answer", "<uuid>", uuid::answer),
    command(
        "uuid_break",
        "Break out of media sent to channel",
        "<uuid> [all]",
        uuid::break_,
    ),
    command(
        "uuid_bridge",
        "Bridge call legs",
        // Registered without a syntax in FreeSWITCH; its usage message has one.
        "",
        control::bridge,
    ),
    command(
        "uuid_broadcast",
        "Execute dialplan application",
        media::BROADCAST_SYNTAX,
        media::broadcast,
    ),
    command(
        "uuid_displace",
        "Displace audio",
        media::DISPLACE_SYNTAX,
        media::displace,
    ),
    command(
        "uuid_dump",
        "Dump session vars",
        dump::DUMP_SYNTAX,
        dump::dump,
    ),
    command(
        "uuid_exists",
        "Check if a uuid exists",
        "<uuid>",
        uuid::exists,
    ),
    command(
        "uuid_flush_dtmf",
        "Flush dtmf on a given uuid",
        "<uuid>",
        uuid::flush_dtmf,
    ),
    command(
        "uuid_getvar",
        "Get a variable from a channel",
        uuid::GETVAR_SYNTAX,
        uuid::getvar,
    ),
    command(
        "uuid_hold",
        "Place call on hold",
        control::HOLD_SYNTAX,
        control::hold,
    ),
    command("uuid_kill", "Kill channel", uuid::KILL_SYNTAX, uuid::kill),
    command("uuid_park", "Park channel", "<uuid>", uuid::park),
    command("uuid_pre_answer", "pre_answer", "<uuid>", uuid::pre_answer),
    command(
        "uuid_record",
        "Record session audio",
        media::RECORD_SYNTAX,
        media::record,
    ),
    command(
        "uuid_recv_dtmf",
        "Receive dtmf digits",
        control::RECV_DTMF_SYNTAX,
        control::recv_dtmf,
    ),
    command(
        "uuid_ring_ready",
        "Sending ringing to a channel",
        uuid::RING_READY_SYNTAX,
        uuid::ring_ready,
    ),
    command(
        "uuid_send_dtmf",
        "Send dtmf digits",
        control::SEND_DTMF_SYNTAX,
        control::send_dtmf,
    ),
    command(
        "uuid_setvar",
        "Set a variable",
        uuid::SETVAR_SYNTAX,
        uuid::setvar,
    ),
    command(
        "uuid_setvar_multi",
        "Set multiple variables",
        uuid::SETVAR_MULTI_SYNTAX,
        uuid::setvar_multi,
    ),
    command(
        "uuid_simplify",
        "Try to cut out of a call path / attended xfer",
        uuid::SIMPLIFY_SYNTAX,
        uuid::simplify,
    ),
    command(
        "uuid_transfer",
        "Transfer a session",
        uuid::TRANSFER_SYNTAX,
        uuid::transfer,
    ),
    command("version", "Version", "[short]", system::version),
];

/// Commands other crates add (the Lua face's `lua` and `luarun`), as FreeSWITCH
/// modules add theirs at load: for the process, since a handler gets its switch.
static ADDED: RwLock<Vec<Command>> = RwLock::new(Vec::new());

/// Adds a command from another crate, replacing one of the same name.
pub fn register(command: Command) {
    let mut added = ADDED.write().unwrap_or_else(|e| e.into_inner());
    added.retain(|c| !c.name.eq_ignore_ascii_case(command.name));
    added.push(command);
}

/// Every command, sorted by name.
pub fn commands() -> Vec<Command> {
    let added = ADDED.read().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<Command> = COMMANDS
        .iter()
        .filter(|c| !added.iter().any(|a| a.name.eq_ignore_ascii_case(c.name)))
        .chain(added.iter())
        .copied()
        .collect();
    all.sort_unstable_by_key(|c| c.name);
    all
}

/// A command by name (case-insensitive, as FreeSWITCH's API lookup).
pub(crate) fn find(name: &str) -> Option<Command> {
    let added = ADDED.read().unwrap_or_else(|e| e.into_inner());
    added
        .iter()
        .chain(COMMANDS)
        .find(|c| c.name.eq_ignore_ascii_case(name))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_unique() {
        let names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(find("UUID_KILL").is_some());
        assert!(find("uuid_bogus").is_none());
    }
}
