//! `freeswitch.API()` (API commands from a script) and `stream` (what the `lua` command
//! answers with).

use std::sync::{Arc, Mutex};

use mlua::{UserData, UserDataMethods};

use crate::script::context;

/// The text a script writes with `stream:write`, shared with the command that ran it.
#[derive(Debug, Clone, Default)]
pub struct Stream(Arc<Mutex<String>>);

impl Stream {
    pub fn take(&self) -> String {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn write(&self, text: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(text);
    }
}

impl UserData for Stream {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("write", |_, this, text: mlua::String| {
            this.write(&text.to_string_lossy());
            Ok(())
        });
    }
}

/// `freeswitch.API()`: runs API commands as `fs_cli` would.
pub(crate) struct Api;

impl UserData for Api {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_async_method(
            "execute",
            |lua, _, (command, args): (String, Option<String>)| async move {
                let line = format!("{command} {}", args.unwrap_or_default());
                api(&lua, &line).await
            },
        );
        methods.add_async_method("executeString", |lua, _, line: String| async move {
            api(&lua, &line).await
        });
        // Microseconds since the epoch, as FreeSWITCH's `api:getTime()`.
        methods.add_method("getTime", |_, _, ()| {
            Ok(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64))
        });
    }
}

/// Runs one API command line and gives its text (`+OK …`, `-ERR …`).
async fn api(lua: &mlua::Lua, line: &str) -> mlua::Result<String> {
    let switch = context(lua)?.switch.clone();
    let reply = switchboard_commands::execute(&switch, line).await;
    context(lua)?.waited();
    Ok(reply.text)
}
