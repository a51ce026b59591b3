//! Deferred commands: sched_api, sched_hangup, sched_transfer, sched_del (on the
//! core's scheduler) and bgapi (a command run on the runtime, answered at once).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchboard_core::scheduler::TaskFn;
use switchboard_core::{Cause, Switch, Transfer};

use crate::args::{separate, uuid_prefix};
use crate::clock::atol;
use crate::{execute_boxed, Reply};

pub(crate) const SCHED_SYNTAX: &str = "[+@]<time> <group_name> <command_string>[&]";
pub(crate) const SCHED_HANGUP_SYNTAX: &str = "[+]<time> <uuid> [<cause>]";
pub(crate) const SCHED_TRANSFER_SYNTAX: &str =
    "[+]<time> <uuid> <extension> [<dialplan>] [<context>]";

const NO_SUCH_CHANNEL: &str = "-ERR No such channel!\n";

/// An absolute epoch second as a time (before 1970: now).
fn epoch(secs: i64) -> SystemTime {
    u64::try_from(secs).map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s))
}

/// `+<secs>` from now, or an epoch second.
fn when(spec: &str) -> SystemTime {
    match spec.strip_prefix('+') {
        Some(secs) => {
            SystemTime::now() + Duration::from_secs(u64::try_from(atol(secs)).unwrap_or(0))
        }
        None => epoch(atol(spec)),
    }
}

pub(crate) fn sched_api(switch: &Switch, args: &str) -> Reply {
    let usage = || Reply::err(format!("-ERR Invalid syntax. USAGE: {SCHED_SYNTAX}\n"));
    let Some((time, rest)) = args.split_once(' ') else {
        return usage();
    };
    let Some((group, command)) = rest.split_once(' ') else {
        return usage();
    };
    // `@<secs>`: every so many seconds, the first time that far from now.
    let (at, every) = match time.strip_prefix('@') {
        Some(secs) => {
            let every = Duration::from_secs(u64::try_from(atol(secs)).unwrap_or(0));
            (SystemTime::now() + every, Some(every))
        }
        None => (when(time), None),
    };
    // A trailing `&` asks FreeSWITCH for a thread of its own; every task has one here.
    let command = command.strip_suffix('&').unwrap_or(command).to_owned();
    let task: TaskFn = Arc::new(move |switch: Switch| {
        let command = command.clone();
        Box::pin(async move {
            let reply = execute_boxed(switch, command.clone()).await;
            tracing::info!(%command, reply = %reply.text.trim_end(), "scheduled api command ran");
        })
    });
    match switch.schedule(at, group, every, task) {
        Ok(id) => Reply::ok(format!("+OK Added: {id}\n")),
        Err(e) => Reply::err(format!("-ERR {e}\n")),
    }
}

pub(crate) fn sched_hangup(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, ' ', 4);
    let Some(time) = parts.first() else {
        return Reply::usage(SCHED_HANGUP_SYNTAX);
    };
    let Some(id) = parts.get(1).filter(|id| switch.channel(id).is_ok()) else {
        return Reply::err(NO_SUCH_CHANNEL);
    };
    let cause = parts
        .get(2)
        .and_then(|c| Cause::parse(c))
        .unwrap_or(Cause::ALLOTTED_TIMEOUT);
    // FreeSWITCH reads the seconds after the first character, `+` or not; none is now.
    let secs = atol(time.get(1..).unwrap_or_default());
    if secs == 0 {
        switch.hangup(id, cause);
        return Reply::ok("+OK\n");
    }
    let target = id.clone();
    let task: TaskFn = Arc::new(move |switch: Switch| {
        switch.hangup(&target, cause);
        Box::pin(async {})
    });
    schedule_for(switch, when(time), id, task)
}

/// Schedules a task about channel `id` (its group, so `sched_del <uuid>` removes it).
fn schedule_for(switch: &Switch, at: SystemTime, id: &str, task: TaskFn) -> Reply {
    match switch.schedule(at, id, None, task) {
        Ok(_) => Reply::ok("+OK\n"),
        Err(e) => Reply::err(format!("-ERR {e}\n")),
    }
}

pub(crate) fn sched_transfer(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, ' ', 6);
    if !(3..=5).contains(&parts.len()) {
        return Reply::usage(SCHED_TRANSFER_SYNTAX);
    }
    let id = parts[1].clone();
    if switch.channel(&id).is_err() {
        return Reply::err(NO_SUCH_CHANNEL);
    }
    // `<extension> [<dialplan>] [<context>]`: our one dialplan is FreeSWITCH's XML.
    let to = Transfer {
        context: parts.get(4).cloned(),
        ..Transfer::to(parts[2].as_str())
    };
    let target = id.clone();
    let task: TaskFn = Arc::new(move |switch: Switch| {
        if let Err(e) = switch.transfer(&target, to.clone()) {
            tracing::debug!(channel = %target, "scheduled transfer: {e}");
        }
        Box::pin(async {})
    });
    schedule_for(switch, when(&parts[0]), &id, task)
}

/// `<task_id>|<group>`: deletes one task by id, or every task of a group.
pub(crate) fn sched_del(switch: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        return Reply::err("-ERR Invalid syntax\n");
    }
    let deleted = if args.bytes().all(|b| b.is_ascii_digit()) {
        args.parse::<u32>()
            .ok()
            .filter(|id| *id > 0)
            .map_or(0, |id| usize::from(switch.unschedule(id)))
    } else {
        switch.unschedule_group(args)
    };
    Reply::ok(format!("+OK Deleted: {deleted}\n"))
}

/// `[uuid:<job uuid> ]<command>[ <arg>]`: answers the job's uuid at once and runs the
/// command on the runtime; its reply is the body of a BACKGROUND_JOB event (Lua's
/// EventConsumer hears it, as an event socket will).
pub(crate) fn bgapi(switch: &Switch, args: &str) -> Reply {
    let (job, command) = uuid_prefix(args);
    if command.is_empty() {
        return Reply::err("-ERR Invalid syntax\n");
    }
    let job = job.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let (switch, command, job_id) = (switch.clone(), command.to_owned(), job.clone());
    tokio::spawn(async move {
        let reply = execute_boxed(switch.clone(), command.clone()).await;
        tracing::info!(job = %job_id, %command, reply = %reply.text.trim_end(), "background job done");
        let (name, arg) = command.split_once(' ').unwrap_or((&command, ""));
        let mut event = crate::event::FsEvent::new("BACKGROUND_JOB", None);
        event.add_header("Job-UUID", &job_id);
        event.add_header("Job-Command", name);
        event.add_header("Job-Command-Arg", arg.trim());
        event.add_body(&reply.text);
        event.stamp();
        switch.events().publish("", event.into_core());
    });
    Reply::ok(format!("+OK Job-UUID: {job}\n"))
}
