//! FreeSWITCH's API command interpreter (`mod_commands`): a command line such as
//! `uuid_kill <uuid> USER_BUSY` run against the switch, answered with the text
//! FreeSWITCH prints. The faces (fs_cli-style CLI, Lua `api:execute`) call [`execute`].

mod args;
mod clock;
mod control;
mod data;
pub mod dial;
pub mod dialstring;
mod directory;
mod dump;
pub mod event;
mod expr;
mod gateway;
mod media;
mod originate;
mod registry;
mod sched;
mod show;
mod system;
mod util;
mod uuid;

use switchboard_core::Switch;

pub use registry::{commands, register, Command, Handler, ReplyFuture};

/// What a command printed, and whether it succeeded (its text is not `-ERR`/`-USAGE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub ok: bool,
}

impl Reply {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ok: true,
        }
    }

    pub fn err(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ok: false,
        }
    }

    /// `-USAGE: <syntax>`, as every command prints for arguments it cannot use.
    pub(crate) fn usage(syntax: &str) -> Self {
        Self::err(format!("-USAGE: {syntax}\n"))
    }
}

/// Runs one API command line (`<command> [<arguments>]`), as FreeSWITCH's `api`.
pub async fn execute(switch: &Switch, line: &str) -> Reply {
    let line = line.trim();
    let (name, args) = match line.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (line, ""),
    };
    match registry::find(name) {
        Some(command) => command.handler.run(switch, args).await,
        // mod_event_socket's answer to an API command nobody registered.
        None => Reply::err(format!("-ERR {name} Command not found!\n")),
    }
}

/// [`execute`] as an owned, boxed future: what a command that runs other commands
/// (expand, bgapi, sched_api) awaits, since a future cannot contain itself.
pub(crate) fn execute_boxed(switch: Switch, line: String) -> ReplyFuture {
    Box::pin(async move { execute(&switch, &line).await })
}
