//! Call detail records: one row per call, committed before the call's resources go.

use std::path::Path;
use std::sync::mpsc;
use std::thread;

use rusqlite::{params, Connection};

use crate::StoreError;

/// One finished call. Times are RFC 3339 UTC strings; durations whole seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdr {
    pub uniqueid: String,
    pub channel: String,
    pub dstchannel: String,
    pub caller: String,
    pub caller_name: String,
    pub callee: String,
    pub context: String,
    pub start: String,
    pub answer: Option<String>,
    pub end: String,
    pub duration: i64,
    pub billsec: i64,
    /// Q.850 cause code.
    pub cause: i64,
    /// ANSWERED, NO ANSWER, BUSY, FAILED (Asterisk's dispositions).
    pub disposition: String,
}

/// Told once the row is committed (or why it was not).
type Ack = mpsc::Sender<Result<(), String>>;

enum Job {
    Insert(Box<Cdr>, Ack),
}

/// Handle to the CDR writer thread.
#[derive(Debug, Clone)]
pub struct CdrStore {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cdr (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uniqueid TEXT NOT NULL,
    channel TEXT NOT NULL,
    dstchannel TEXT NOT NULL,
    caller TEXT NOT NULL,
    caller_name TEXT NOT NULL,
    callee TEXT NOT NULL,
    context TEXT NOT NULL,
    start TEXT NOT NULL,
    answer TEXT,
    end TEXT NOT NULL,
    duration INTEGER NOT NULL,
    billsec INTEGER NOT NULL,
    cause INTEGER NOT NULL,
    disposition TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cdr_uniqueid ON cdr(uniqueid);
";

impl CdrStore {
    /// Opens (creating) the database at `path` and starts the writer thread.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        // WAL + FULL: a committed CDR survives a crash of the process or the machine.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let (jobs, rx) = mpsc::channel();
        thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || writer(conn, rx))
            .map_err(|source| StoreError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self { jobs })
    }

    /// Writes a record and returns once it is committed.
    pub fn insert_blocking(&self, cdr: Cdr) -> Result<(), StoreError> {
        let (ack, done) = mpsc::channel();
        self.jobs
            .send(Job::Insert(Box::new(cdr), ack))
            .map_err(|_| StoreError::Stopped)?;
        match done.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(StoreError::Write(message)),
            Err(_) => Err(StoreError::Stopped),
        }
    }
}

fn writer(conn: Connection, jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        match job {
            Job::Insert(cdr, ack) => {
                let result = insert(&conn, &cdr).map_err(|e| e.to_string());
                if let Err(e) = &result {
                    tracing::error!(uniqueid = %cdr.uniqueid, error = %e, "CDR write failed");
                }
                let _ = ack.send(result);
            }
        }
    }
}

fn insert(conn: &Connection, cdr: &Cdr) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO cdr (uniqueid, channel, dstchannel, caller, caller_name, callee, context, \
         start, answer, end, duration, billsec, cause, disposition) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            cdr.uniqueid,
            cdr.channel,
            cdr.dstchannel,
            cdr.caller,
            cdr.caller_name,
            cdr.callee,
            cdr.context,
            cdr.start,
            cdr.answer,
            cdr.end,
            cdr.duration,
            cdr.billsec,
            cdr.cause,
            cdr.disposition
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_rows_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("sb-cdr-{}", std::process::id()));
        let path = dir.join("test.db");
        let _ = std::fs::remove_file(&path);
        let store = CdrStore::open(&path).unwrap();
        let cdr = Cdr {
            uniqueid: "u1".into(),
            channel: "SIP/1000-00000001".into(),
            dstchannel: "SIP/1001-00000002".into(),
            caller: "1000".into(),
            caller_name: String::new(),
            callee: "1001".into(),
            context: "default".into(),
            start: "2026-01-01T00:00:00Z".into(),
            answer: Some("2026-01-01T00:00:02Z".into()),
            end: "2026-01-01T00:00:07Z".into(),
            duration: 7,
            billsec: 5,
            cause: 16,
            disposition: "ANSWERED".into(),
        };
        store.insert_blocking(cdr).unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let (billsec, cause): (i64, i64) = conn
            .query_row(
                "SELECT billsec, cause FROM cdr WHERE uniqueid='u1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((billsec, cause), (5, 16));
        let _ = std::fs::remove_dir_all(dir);
    }
}
