//! Persistence for switchboard: SQLite (embedded, WAL) by default.
//!
//! One writer thread owns the write connection, so callers on the async side never
//! block on each other's disk writes; a write is acknowledged only once its
//! transaction has committed. Reads use a connection of their own (WAL lets them run
//! beside the writer).

mod call_sessions;
mod cdr;
mod db_data;
mod device_states;
mod mailboxes;
mod recordings;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;

use rusqlite::Connection;

pub use call_sessions::SessionRecord;
pub use cdr::Cdr;
pub use mailboxes::Mailbox;
pub use recordings::StoredRecording;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("creating {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("write failed: {0}")]
    Write(String),
    #[error("the store writer has stopped")]
    Stopped,
}

/// Told once the write is committed (or why it was not).
type Ack = mpsc::Sender<Result<(), String>>;
type WriteFn = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

/// Handle to the database: writes go through the writer thread, reads are direct.
pub struct Store {
    jobs: mpsc::Sender<(WriteFn, Ack)>,
    reader: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

const SCHEMA: &str = concat!(
    include_str!("cdr.sql"),
    include_str!("recordings.sql"),
    include_str!("device_states.sql"),
    include_str!("mailboxes.sql"),
    include_str!("db_data.sql"),
    include_str!("call_sessions.sql"),
);

impl Store {
    /// Opens (creating) the database at `path` and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        // WAL + FULL: a committed row survives a crash of the process or the machine.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let reader = Connection::open(path)?;
        Self::start(conn, reader)
    }

    /// A fresh database in memory, gone with the store (for tests): a shared-cache
    /// in-memory database, so the writer and the reader see the same tables.
    pub fn in_memory() -> Result<Self, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uri = format!(
            "file:switchboard-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        let conn = Connection::open(&uri)?;
        let reader = Connection::open(&uri)?;
        // In a shared cache readers take table locks that would make the writer fail
        // with SQLITE_LOCKED; uncommitted reads take none (WAL gives files the same).
        reader.pragma_update(None, "read_uncommitted", true)?;
        Self::start(conn, reader)
    }

    /// Creates the schema and starts the writer thread on `conn`.
    fn start(conn: Connection, reader: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(SCHEMA)?;
        let (jobs, rx) = mpsc::channel::<(WriteFn, Ack)>();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                for (write, ack) in rx {
                    let result = write(&conn).map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "store write failed");
                    }
                    let _ = ack.send(result);
                }
            })
            .map_err(|source| StoreError::Io {
                path: "store-writer thread".into(),
                source,
            })?;
        Ok(Self {
            jobs,
            reader: Mutex::new(reader),
        })
    }

    /// Runs `write` on the writer thread and returns once it has committed.
    fn write_blocking(
        &self,
        write: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> Result<(), StoreError> {
        let (ack, done) = mpsc::channel();
        self.jobs
            .send((Box::new(write), ack))
            .map_err(|_| StoreError::Stopped)?;
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Write(message)),
            Err(_) => Err(StoreError::Stopped),
        }
    }

    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(read(&conn)?)
    }
}
