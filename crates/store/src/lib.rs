//! Persistence for switchboard: SQLite (embedded, WAL) by default.
//!
//! One writer thread owns the connection, so callers on the async side never block on
//! disk; a write is acknowledged only once its transaction has committed.

mod cdr;

pub use cdr::{Cdr, CdrStore};

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
