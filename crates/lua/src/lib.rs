//! FreeSWITCH-compatible Lua scripting (mod_lua) on the core's typed API: the `session`
//! object, `freeswitch.*`, the `Lua` dialplan application (alias `lua`) and the `lua` /
//! `luarun` API commands.
//!
//! Every script has a Lua state of its own and runs as a coroutine on the async
//! runtime: a call that looks blocking (`session:streamFile`, `freeswitch.msleep`, …)
//! is an async function that yields the coroutine, so a waiting script holds no thread.

mod api;
mod event;
mod freeswitch;
mod input;
mod script;
mod session;
mod wav;

use std::sync::Arc;

use switchboard_commands::{Command, Handler, Reply};
use switchboard_core::{Application, Channel, ControlError, Next, Switch};

pub use script::{run, running, Script};

/// Registers the `Lua` application and the `lua` / `luarun` commands, and starts the
/// configured startup scripts.
pub fn install(switch: &Switch) -> Result<(), ControlError> {
    switch.register_application(
        Application::new(
            "Lua",
            "Lua(script.lua[,args])",
            "Run a Lua script on the channel.",
            lua_app,
        )
        .alias("lua"),
    )?;
    switchboard_commands::register(Command {
        name: "lua",
        description: "run a script as an api function",
        syntax: "<script>",
        module: "mod_lua",
        handler: Handler::Later(|switch, args| Box::pin(lua_command(switch, args))),
    });
    switchboard_commands::register(Command {
        name: "luarun",
        description: "run a script",
        syntax: "<script>",
        module: "mod_lua",
        handler: Handler::Now(luarun_command),
    });
    for line in &switch.config().lua.startup_scripts {
        if let Some(script) = Script::parse(line) {
            tokio::spawn(run(switch.clone(), script, None, None));
        }
    }
    Ok(())
}

/// The dialplan application: runs the script with `session` bound to the channel;
/// when it ends the call hangs up, unless the script said `setAutoHangup(false)`.
///
/// The script is a task of its own: a hangup does not stop it (as in FreeSWITCH it
/// runs on, its hangup hook fires, `session:ready()` is false), while an interrupt
/// that takes the channel elsewhere (`uuid_transfer`, `uuid_break`) does.
async fn lua_app(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let Some(script) = Script::parse(&args) else {
        tracing::warn!(channel = %channel.name, "Lua: no script given");
        return Next::Continue;
    };
    let task = tokio::spawn(run(switch, script, Some(channel.clone()), None));
    let _guard = StopUnlessHungUp {
        task: task.abort_handle(),
        channel: channel.clone(),
    };
    match task.await {
        Ok(outcome) => outcome.next,
        Err(e) => {
            tracing::error!(channel = %channel.name, "Lua script task: {e}");
            Next::Continue
        }
    }
}

/// Stops the script when the dialplan lets go of it for any reason but a hangup.
struct StopUnlessHungUp {
    task: tokio::task::AbortHandle,
    channel: Arc<Channel>,
}

impl Drop for StopUnlessHungUp {
    fn drop(&mut self) {
        if self.channel.status().hangup.is_none() {
            self.task.abort();
        }
    }
}

/// `lua <script> [args]`: runs the script to its end and answers with what it wrote to
/// `stream`.
async fn lua_command(switch: Switch, args: String) -> Reply {
    let Some(script) = Script::parse(&args) else {
        return Reply::err("-ERR no script name specified!\n");
    };
    let stream = api::Stream::default();
    let outcome = run(switch, script, None, Some(stream.clone())).await;
    let text = stream.take();
    match outcome.error {
        None => Reply::ok(text),
        Some(e) => Reply::err(format!("{text}-ERR {e}\n")),
    }
}

/// `luarun <script> [args]`: starts the script in the background.
fn luarun_command(switch: &Switch, args: &str) -> Reply {
    let Some(script) = Script::parse(args) else {
        return Reply::err("-ERR no script name specified!\n");
    };
    if let Err(e) = script.path(switch) {
        return Reply::err(format!("-ERR {e}\n"));
    }
    tokio::spawn(run(switch.clone(), script, None, None));
    Reply::ok("+OK\n")
}
