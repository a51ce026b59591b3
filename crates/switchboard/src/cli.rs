//! `switchboard cli`: runs API commands on a running server through its control
//! socket, one command (`-x`) or a prompt. On a terminal the prompt has fs_cli's line
//! editing (history, tab completion of the server's command names); from a pipe it
//! reads plain lines.

use std::io::{self, BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::control::{STATUS_ERR, STATUS_OK};
use crate::line_editor::{self, Editor};

/// How long a command may take to be answered.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest reply read (a `show channels` of thousands of calls fits).
const MAX_REPLY: u64 = 64 * 1024 * 1024;
const PROMPT: &str = "switchboard> ";

/// Exit code of an error reply.
const EXIT_ERR_REPLY: u8 = 1;
/// Exit code when the server cannot be reached.
const EXIT_NO_SERVER: u8 = 2;

/// A command's reply: whether it succeeded, and its text.
struct Reply {
    ok: bool,
    text: String,
}

/// Runs `command`, or the prompt without one, against the server at `socket`.
pub fn run(socket: &Path, command: Option<&str>) -> ExitCode {
    match command {
        Some(command) => match execute(socket, command) {
            Ok(reply) => {
                print_reply(&reply.text);
                if reply.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_ERR_REPLY)
                }
            }
            Err(e) => fail(socket, &e),
        },
        None => prompt(socket),
    }
}

fn prompt(socket: &Path) -> ExitCode {
    if io::IsTerminal::is_terminal(&io::stdin()) {
        return edited_prompt(socket);
    }
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print!("{PROMPT}");
        let _ = io::stdout().flush();
        let Some(Ok(line)) = lines.next() else {
            // EOF (or unreadable stdin) leaves, on a fresh line.
            println!();
            return ExitCode::SUCCESS;
        };
        let line = line.trim();
        match line {
            "" => continue,
            "exit" | "quit" | "bye" => return ExitCode::SUCCESS,
            _ => match execute(socket, line) {
                Ok(reply) => print_reply(&reply.text),
                Err(e) => return fail(socket, &e),
            },
        }
    }
}

/// The prompt on a terminal: lines read with the line editor, its history kept in
/// `~/.switchboard_history` between sessions.
fn edited_prompt(socket: &Path) -> ExitCode {
    let names = match command_names(socket) {
        Ok(names) => names,
        Err(e) => return fail(socket, &e),
    };
    let mut editor = Editor::new(names);
    let history = history_file();
    if let Some(text) = history
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        text.lines().for_each(|line| editor.remember(line));
    }
    let code = loop {
        let line = match line_editor::read_line(&mut editor, PROMPT) {
            Ok(Some(line)) => line,
            Ok(None) => break ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchboard: terminal: {e}");
                break ExitCode::FAILURE;
            }
        };
        match line.trim() {
            "" => continue,
            "exit" | "quit" | "bye" => break ExitCode::SUCCESS,
            line => match execute(socket, line) {
                Ok(reply) => print_reply(&reply.text),
                Err(e) => break fail(socket, &e),
            },
        }
    };
    if let Some(path) = history {
        let _ = std::fs::write(path, editor.history().join("\n") + "\n");
    }
    code
}

fn history_file() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".switchboard_history"))
}

/// The server's command names, for completion: the first column of `show api`.
fn command_names(socket: &Path) -> io::Result<Vec<String>> {
    let reply = execute(socket, "show api")?;
    Ok(api_names(&reply.text))
}

/// The names in a `show api` report (header, rows, blank line, total; no header
/// when there are no rows).
fn api_names(report: &str) -> Vec<String> {
    if !report.starts_with("name,") {
        return Vec::new();
    }
    report
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split(',').next())
        .map(str::to_owned)
        .collect()
}

fn print_reply(text: &str) {
    print!("{text}");
    if !text.is_empty() && !text.ends_with('\n') {
        println!();
    }
}

fn fail(socket: &Path, e: &io::Error) -> ExitCode {
    eprintln!(
        "switchboard: cannot reach the server on {}: {e} (is it running with this config?)",
        socket.display()
    );
    ExitCode::from(EXIT_NO_SERVER)
}

/// Sends one command line and reads the whole reply.
fn execute(socket: &Path, command: &str) -> io::Result<Reply> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    // One line: a newline inside would be cut by the server anyway.
    let line = command.replace(['\r', '\n'], " ");
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut raw = String::new();
    stream.take(MAX_REPLY).read_to_string(&mut raw)?;
    let (status, text) = raw.split_once('\n').unwrap_or((raw.as_str(), ""));
    let ok = match status {
        STATUS_OK => true,
        STATUS_ERR => false,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a control socket reply: {other:?}"),
            ))
        }
    };
    Ok(Reply {
        ok,
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_show_api() {
        let report = "name,description,syntax,ikey\nbgapi,Execute,<command>[ <arg>],mod_commands\n\
                      cond,Evaluate,<expr> ? a : b,mod_commands\n\n2 total.\n";
        assert_eq!(api_names(report), ["bgapi", "cond"]);
        assert!(api_names("\n0 total.\n").is_empty());
    }
}
