//! The control socket: a Unix socket in the data dir on which `switchboard cli` runs
//! API commands (FreeSWITCH's `fs_cli` face on [`switchboard_commands::execute`]).
//!
//! Protocol: the client sends one command line; the server answers a status line
//! ([`STATUS_OK`] or [`STATUS_ERR`]), then the command's text, and closes.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::Switch;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// The socket's file name in the data dir.
const SOCKET_NAME: &str = "switchboard.ctl";
/// Status line of a reply whose command succeeded.
pub const STATUS_OK: &str = "ok";
/// Status line of a reply whose command failed (`-ERR`, `-USAGE`).
pub const STATUS_ERR: &str = "err";
/// Longest command line accepted (newline included).
const MAX_LINE: u64 = 4096;
/// How long a client may take to send its line.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are answered with an error at once.
const MAX_CONNECTIONS: usize = 8;

/// The control socket of the server whose data dir is `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// The listening socket; removes its file when dropped (at shutdown).
pub struct Control {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Control {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the control socket (mode 0600) at `path` and serves it.
pub fn serve(switch: Switch, path: PathBuf) -> io::Result<Control> {
    remove_stale(&path)?;
    let listener = UnixListener::bind(&path)?;
    // Only the server's user may run commands. Until this chmod the socket has the
    // umask's mode; connecting needs write permission, which a 022 umask withholds.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let task = tokio::spawn(accept_loop(switch, listener));
    Ok(Control { path, task })
}

/// Removes a socket left by a server that died; refuses one a running server owns.
fn remove_stale(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another switchboard is running on this data dir",
        ));
    }
    std::fs::remove_file(path)
}

async fn accept_loop(switch: Switch, listener: UnixListener) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("control socket: accept: {e}");
                // E.g. out of file descriptors: don't spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let _ = reply(&mut stream, false, "-ERR too many control connections\n").await;
            });
            continue;
        };
        let switch = switch.clone();
        tokio::spawn(async move {
            serve_one(&switch, stream).await;
            drop(permit);
        });
    }
}

async fn serve_one(switch: &Switch, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    let mut line = String::new();
    let (ok, text) = match tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line)).await {
        Err(_) => (false, "-ERR timed out reading the command\n".to_owned()),
        Ok(Err(e)) => (false, format!("-ERR cannot read the command: {e}\n")),
        Ok(Ok(_)) if !line.ends_with('\n') && line.len() as u64 >= MAX_LINE => (
            false,
            format!("-ERR command longer than {MAX_LINE} bytes\n"),
        ),
        Ok(Ok(_)) => {
            tracing::info!(command = %line.trim(), "control socket command");
            let reply = switchboard_commands::execute(switch, &line).await;
            (reply.ok, reply.text)
        }
    };
    let _ = reply(&mut write, ok, &text).await;
}

async fn reply(stream: &mut (impl AsyncWriteExt + Unpin), ok: bool, text: &str) -> io::Result<()> {
    let status = if ok { STATUS_OK } else { STATUS_ERR };
    stream
        .write_all(format!("{status}\n{text}").as_bytes())
        .await?;
    stream.shutdown().await
}
