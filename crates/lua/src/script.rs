//! Running one script: its own Lua state, its globals (`freeswitch`, `session`,
//! `argv`, `stream`), a budget of instructions between waits, and the end of the call
//! when it is done.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, VmState};
use switchboard_core::{Cause, Channel, Next, Switch};

use crate::api::Stream;
use crate::session::Session;

/// A script to run and its arguments (`argv[1]`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub name: String,
    pub args: Vec<String>,
}

impl Script {
    /// `script.lua arg1 arg2` (FreeSWITCH) or `script.lua,arg1,arg2` (dialplan style).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        let name = parts.next()?;
        Some(Self {
            name,
            args: parts.collect(),
        })
    }

    /// The file: as given when absolute, else in the scripts folder.
    pub fn path(&self, switch: &Switch) -> Result<PathBuf, String> {
        let given = PathBuf::from(&self.name);
        let path = if given.is_absolute() {
            given
        } else {
            switch.config().general.scripts_dir.join(given)
        };
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!("cannot open {}", path.display()))
        }
    }
}

/// Scripts running in this process (all switches).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many scripts are running now.
pub fn running() -> usize {
    RUNNING.load(Ordering::Relaxed)
}

/// Counts a script as running while it lives.
struct Running;

impl Running {
    fn start() -> Self {
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a script ended.
#[derive(Debug)]
pub struct Outcome {
    /// What the script's channel does next (the dialplan's next step for the `Lua`
    /// application).
    pub next: Next,
    /// Why the script failed, with file and line where Lua gave them.
    pub error: Option<String>,
}

/// What every part of a running script reaches through its Lua state.
pub(crate) struct Context {
    pub switch: Switch,
    /// Instructions run since the script last waited.
    ran: AtomicU64,
    limit: u64,
}

impl Context {
    /// Called where a script waits (it gave its thread back): its budget starts anew.
    pub fn waited(&self) {
        self.ran.store(0, Ordering::Relaxed);
    }
}

/// The context of the script running in `lua`.
pub(crate) fn context(lua: &Lua) -> mlua::Result<mlua::AppDataRef<'_, Arc<Context>>> {
    lua.app_data_ref::<Arc<Context>>()
        .ok_or_else(|| mlua::Error::runtime("switchboard context missing"))
}

/// The instructions between two checks of the budget.
const HOOK_EVERY: u32 = 100_000;

/// Runs `script` to its end: with `session` bound to `channel` when given, with
/// `stream` when given. A failure is logged with file and line and ends this script
/// only.
pub async fn run(
    switch: Switch,
    script: Script,
    channel: Option<Arc<Channel>>,
    stream: Option<Stream>,
) -> Outcome {
    let _running = Running::start();
    let label = script.name.clone();
    let channel_name = channel.as_ref().map(|c| c.name.clone()).unwrap_or_default();
    let session = channel.map(|c| Session::attached(switch.clone(), c));
    let result = execute(&switch, &script, session.clone(), stream).await;
    let mut outcome = Outcome {
        next: Next::Continue,
        error: None,
    };
    if let Err(e) = result {
        if crate::session::is_end(&e) {
            tracing::debug!(script = %label, channel = %channel_name, "script ended: {e}");
        } else {
            let text = describe(&e);
            tracing::error!(script = %label, channel = %channel_name, "Lua script failed: {text}");
            outcome.error = Some(text);
        }
    }
    if let Some(session) = session {
        outcome.next = session.finish();
    }
    outcome
}

async fn execute(
    switch: &Switch,
    script: &Script,
    session: Option<Session>,
    stream: Option<Stream>,
) -> mlua::Result<()> {
    let path = script.path(switch).map_err(mlua::Error::runtime)?;
    // Scripts are small; read at start like FreeSWITCH does, before the first yield.
    let code = std::fs::read(&path)
        .map_err(|e| mlua::Error::runtime(format!("{}: {e}", path.display())))?;
    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default())?;
    let shared = Arc::new(Context {
        switch: switch.clone(),
        ran: AtomicU64::new(0),
        limit: switch.config().lua.max_instructions,
    });
    lua.set_app_data(shared);
    let globals = lua.globals();
    globals.set("freeswitch", crate::freeswitch::table(&lua)?)?;
    let argv = lua.create_table()?;
    argv.raw_set(0, script.name.as_str())?;
    for (i, arg) in script.args.iter().enumerate() {
        argv.raw_set(i + 1, arg.as_str())?;
    }
    globals.set("argv", argv)?;
    if let Some(stream) = stream {
        globals.set("stream", stream)?;
    }
    if let Some(session) = session {
        globals.set("session", session)?;
    }
    let chunk = lua
        .load(code)
        .set_name(format!("@{}", path.display()))
        .into_function()?;
    // The budget watches the script's own coroutine (mlua hooks one thread per state);
    // callbacks it calls run briefly in coroutines of their own.
    let thread = lua.create_thread(chunk)?;
    thread.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        |lua, _| {
            let context = context(lua)?;
            let ran = context
                .ran
                .fetch_add(u64::from(HOOK_EVERY), Ordering::Relaxed);
            if ran >= context.limit {
                return Err(mlua::Error::runtime(format!(
                    "script ran {ran} instructions without waiting: stopped"
                )));
            }
            Ok(VmState::Continue)
        },
    );
    thread.into_async::<()>(()).await
}

/// An error as one readable line: Lua's `file:line: message`, without the traceback.
fn describe(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => describe(cause),
        mlua::Error::RuntimeError(text) | mlua::Error::SyntaxError { message: text, .. } => {
            text.lines().next().unwrap_or_default().to_owned()
        }
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The cause a script's hangup names (FreeSWITCH cause names or numbers).
pub(crate) fn cause_named(name: Option<&str>) -> Cause {
    name.and_then(Cause::parse)
        .unwrap_or(Cause::NORMAL_CLEARING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines() {
        assert_eq!(
            Script::parse("ivr.lua,1, two"),
            Some(Script {
                name: "ivr.lua".into(),
                args: vec!["1".into(), "two".into()]
            })
        );
        assert_eq!(
            Script::parse("  run.lua a b").map(|s| s.args),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(Script::parse("  "), None);
    }
}
