//! The `freeswitch` table: logging, API commands, outbound sessions, events, sleeping,
//! globals and bridging.

use std::time::Duration;

use mlua::{Lua, Table, UserDataRef};
use switchboard_commands::event::FsEvent;

use crate::api::Api;
use crate::event::{Event, EventConsumer};
use crate::script::context;
use crate::session::Session;

pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let fs = lua.create_table()?;
    fs.set(
        "consoleLog",
        lua.create_function(|_, (level, text): (String, mlua::String)| {
            log(&level, &text.to_string_lossy(), None);
            Ok(())
        })?,
    )?;
    fs.set("API", lua.create_function(|_, ()| Ok(Api))?)?;
    fs.set(
        "Session",
        lua.create_async_function(
            |lua, (dialstring, a_leg): (Option<String>, Option<UserDataRef<Session>>)| async move {
                let switch = context(&lua)?.switch.clone();
                let caller = a_leg.as_ref().and_then(|s| s.caller_id());
                drop(a_leg);
                // Without a dial string: an empty session for `session:originate`.
                let Some(dialstring) = dialstring else {
                    return Ok(Session::empty(switch));
                };
                let session = Session::originate(switch, &dialstring, caller, None).await;
                context(&lua)?.waited();
                Ok(session)
            },
        )?,
    )?;
    fs.set(
        "Event",
        lua.create_function(|_, (name, subclass): (String, Option<String>)| {
            // FreeSWITCH: `Event("custom", "my::subclass")`; `Event("message")`.
            Ok(Event(FsEvent::new(&name, subclass.as_deref())))
        })?,
    )?;
    fs.set(
        "EventConsumer",
        lua.create_function(
            |lua, (name, subclass, len): (Option<String>, Option<String>, Option<usize>)| {
                let switch = context(lua)?.switch.clone();
                Ok(EventConsumer::new(&switch, name, subclass, len))
            },
        )?,
    )?;
    fs.set(
        "msleep",
        lua.create_async_function(|lua, ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            context(&lua)?.waited();
            Ok(())
        })?,
    )?;
    fs.set(
        "getGlobalVariable",
        lua.create_function(|lua, name: String| Ok(context(lua)?.switch.global(&name)))?,
    )?;
    fs.set(
        "bridge",
        lua.create_async_function(
            |lua, (a, b): (UserDataRef<Session>, UserDataRef<Session>)| async move {
                let (a, b) = (a.clone(), b.clone());
                a.bridge_with(&b).await?;
                context(&lua)?.waited();
                Ok(())
            },
        )?,
    )?;
    Ok(fs)
}

/// `consoleLog(level, text)` into the switch's log, at FreeSWITCH's level names.
pub(crate) fn log(level: &str, text: &str, channel: Option<&str>) {
    let text = text.trim_end_matches('\n');
    let channel = channel.unwrap_or("");
    match level.to_ascii_lowercase().as_str() {
        "console" | "err" | "error" | "crit" | "alert" => {
            tracing::error!(target: "lua", channel, "{text}")
        }
        "warning" | "warn" => tracing::warn!(target: "lua", channel, "{text}"),
        "debug" => tracing::debug!(target: "lua", channel, "{text}"),
        _ => tracing::info!(target: "lua", channel, "{text}"),
    }
}
