//! `switchboard cli`: the binary runs API commands on a running server through the
//! control socket in its data dir (`-x COMMAND` or the prompt), and its exit code
//! tells success (0), an error reply (1) and an unreachable server (2).

use std::io::Write as _;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::calls::{self, LiveLeg};
use crate::support::media::{RtpPeer, Segment};
use crate::support::server::{self, Server};
use crate::support::{poll, ALICE};

/// How long a channel may take to appear in (or leave) `show channels`.
const CHANNEL_WAIT: Duration = Duration::from_secs(5);

/// What one run of `switchboard cli` did.
pub(crate) struct CliRun {
    code: Option<i32>,
    pub(crate) stdout: String,
    stderr: String,
}

impl std::fmt::Display for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl From<Output> for CliRun {
    fn from(output: Output) -> Self {
        CliRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `switchboard --config <config> cli` with `args`, `stdin` as its input.
fn cli_with(config: &Path, args: &[&str], stdin: &str) -> CliRun {
    let mut child = Command::new(server::binary())
        .arg("--config")
        .arg(config)
        .arg("cli")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchboard cli");
    child
        .stdin
        .take()
        .expect("cli stdin")
        .write_all(stdin.as_bytes())
        .expect("write cli stdin");
    child
        .wait_with_output()
        .expect("run switchboard cli")
        .into()
}

/// `switchboard cli -x <command>` on `server`.
pub(crate) fn cli(server: &Server, command: &str) -> CliRun {
    cli_with(&server.config_path(), &["-x", command], "")
}

/// The rows of a `show channels` reply. As FreeSWITCH prints it: the header (only
/// when there are rows), the rows, a blank line and `N total.`.
fn channel_rows(run: &CliRun) -> Vec<String> {
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.is_empty()).collect();
    let Some((total, lines)) = lines.split_last() else {
        panic!("show channels printed nothing; {run}");
    };
    let rows = match lines.split_first() {
        Some((header, rows)) => {
            assert!(
                header.starts_with("uuid,direction,created,"),
                "show channels should start with its header; {run}"
            );
            rows
        }
        None => &[],
    };
    assert_eq!(
        *total,
        format!("{} total.", rows.len()),
        "show channels should end with its row count; {run}"
    );
    rows.iter().map(|l| l.to_string()).collect()
}

#[test]
fn cli_runs_commands_and_exits_with_their_status() {
    let mut server = Server::start("cli-commands");
    let socket = server.dir().join("data").join("switchboard.ctl");
    let meta = std::fs::metadata(&socket).expect("the control socket should exist");
    assert!(meta.file_type().is_socket(), "{}", socket.display());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "socket mode");

    let status = cli(&server, "status");
    assert_eq!(status.code, Some(0), "{status}");
    assert!(status.stdout.contains("UP "), "{status}");

    let kill = cli(&server, "uuid_kill nosuch");
    assert_eq!(kill.code, Some(1), "{kill}");
    assert!(kill.stdout.starts_with("-ERR"), "{kill}");

    let show = cli(&server, "show channels");
    assert_eq!(show.code, Some(0), "{show}");
    assert!(channel_rows(&show).is_empty(), "{show}");
    assert!(show.stdout.contains("0 total."), "{show}");

    // The prompt: one reply per line, until `quit`.
    let prompt = cli_with(
        &server.config_path(),
        &[],
        "status\n\nuuid_kill nosuch\nquit\nstatus\n",
    );
    assert_eq!(prompt.code, Some(0), "{prompt}");
    assert!(prompt.stdout.starts_with("switchboard> "), "{prompt}");
    assert_eq!(prompt.stdout.matches("UP ").count(), 1, "{prompt}");
    assert!(prompt.stdout.contains("-ERR"), "{prompt}");

    // A socket left by a killed server is replaced at the next start.
    server.kill();
    assert!(socket.exists(), "SIGKILL leaves the socket behind");
    let dead = cli(&server, "status");
    assert_eq!(dead.code, Some(2), "{dead}");
    server.restart();
    let status = cli(&server, "status");
    assert_eq!(status.code, Some(0), "after a restart: {status}");
}

#[test]
fn cli_reloadxml_applies_the_dialplan_and_shutdown_stops_the_server() {
    let mut server = Server::start("cli-reload");
    let dial = "originate loopback/1/reloaded &park()";
    let before = cli(&server, dial);
    assert_eq!(before.code, Some(1), "no context `reloaded` yet: {before}");
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(server.config_path())
        .expect("config");
    writeln!(
        config,
        "\n[dialplan.reloaded]\n\"1\" = [\"Answer()\", \"Wait(30)\"]"
    )
    .expect("write config");
    let reload = cli(&server, "reloadxml");
    assert_eq!(reload.stdout, "+OK [Success]\n", "{reload}");
    let after = cli(&server, dial);
    assert_eq!(after.code, Some(0), "{after}");
    assert!(after.stdout.starts_with("+OK "), "{after}");

    let shutdown = cli(&server, "shutdown");
    assert_eq!(shutdown.stdout, "+OK\n", "{shutdown}");
    let status = poll(Duration::from_secs(10), || server.exited())
        .expect("the server exits after `shutdown`");
    assert!(status.success(), "{status:?}");
}

#[test]
fn cli_pre_answer_and_ring_ready_signal_an_unanswered_call() {
    // 702 leaves the call unanswered for a while, then answers.
    let config = server::ServerConfig::default().extension(
        "default",
        "702",
        &["Wait(5)", "Answer()", "Wait(30)"],
    );
    let server = Server::start_with("cli-early", config);
    let rtp = RtpPeer::bind();
    // The caller's scenario fails unless a 183 with SDP comes before the 200.
    let caller = calls::start_caller(
        &server,
        "uac_early_media",
        "702",
        &rtp,
        "0 101",
        Duration::from_millis(500),
    );
    let uuid = poll(CHANNEL_WAIT, || {
        let rows = channel_rows(&cli(&server, "show channels"));
        rows.first()
            .map(|row| row.split(',').next().unwrap_or_default().to_owned())
    })
    .expect("the call should be listed by show channels");
    let ring = cli(&server, &format!("uuid_ring_ready {uuid}"));
    assert_eq!(ring.stdout, "+OK\n", "{ring}");
    let early = cli(&server, &format!("uuid_pre_answer {uuid}"));
    assert_eq!(early.stdout, "+OK\n", "{early}");
    let result = caller.wait();
    result.assert_success();
}

#[test]
fn cli_without_a_server_exits_2_naming_the_socket() {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-e2e-cli-none-{}-{:x}",
        std::process::id(),
        crate::support::random_u64() & 0xffff_ffff
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let data = dir.join("data");
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!("[general]\ndata_dir = {:?}\n", data.display().to_string()),
    )
    .expect("write config");
    let run = cli_with(&config, &["-x", "status"], "");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, Some(2), "{run}");
    let socket = data.join("switchboard.ctl");
    assert!(
        run.stderr.contains(&socket.display().to_string()),
        "the error should name {}; {run}",
        socket.display()
    );
}

#[test]
fn cli_lists_a_live_call_and_kills_it() {
    let server = Server::start("cli-call");
    let rtp = RtpPeer::bind();
    let talk = Duration::from_secs(20);
    // 101 answers and echoes; the caller waits for the server's BYE.
    let caller = calls::start_caller(&server, "uac_wait_bye", "101", &rtp, "0 101", talk);
    let leg = LiveLeg::start(caller, rtp, vec![Segment::Tone(600.0, talk)]);

    let rows = poll(CHANNEL_WAIT, || {
        let rows = channel_rows(&cli(&server, "show channels"));
        (!rows.is_empty()).then_some(rows)
    })
    .expect("the call should be listed by show channels");
    assert_eq!(rows.len(), 1, "one channel: {rows:?}");
    let row = &rows[0];
    assert!(row.contains(ALICE.id), "the caller's channel: {row}");
    let uuid = row.split(',').next().unwrap_or_default();

    let kill = cli(&server, &format!("uuid_kill {uuid}"));
    assert_eq!(kill.code, Some(0), "{kill}");
    assert!(kill.stdout.starts_with("+OK"), "{kill}");
    // The caller's scenario succeeds only on the server's BYE.
    leg.wait().sipp.assert_success();

    let gone = poll(CHANNEL_WAIT, || {
        channel_rows(&cli(&server, "show channels"))
            .is_empty()
            .then_some(())
    });
    assert!(
        gone.is_some(),
        "the killed channel should leave show channels"
    );
}
