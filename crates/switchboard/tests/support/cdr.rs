//! Reads the server's SQLite database: call detail records (table `cdr`)
//! and the index of finished recordings (table `recordings`).

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::poll;

/// One row of table `cdr`. Every column is read, for the failure messages,
/// even those no test checks.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Cdr {
    pub uniqueid: Option<String>,
    pub channel: Option<String>,
    pub dstchannel: Option<String>,
    pub caller: Option<String>,
    pub callee: Option<String>,
    pub start: Option<String>,
    pub answer: Option<String>,
    pub end: Option<String>,
    pub duration: Option<i64>,
    pub billsec: Option<i64>,
    pub cause: Option<i64>,
    pub disposition: Option<String>,
}

/// All rows of table `cdr` (in insertion order), or the error (e.g. no
/// database or table yet).
pub fn read_all(db: &Path) -> rusqlite::Result<Vec<Cdr>> {
    let conn = open(db)?;
    let mut stmt = conn.prepare(
        "SELECT uniqueid, channel, dstchannel, caller, callee, start, answer, \"end\", duration, \
         billsec, cause, disposition FROM cdr ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |row| {
        let text = |i: usize| row.get::<_, Value>(i).map(as_text);
        let int = |i: usize| row.get::<_, Value>(i).map(as_int);
        Ok(Cdr {
            uniqueid: text(0)?,
            channel: text(1)?,
            dstchannel: text(2)?,
            caller: text(3)?,
            callee: text(4)?,
            start: text(5)?,
            answer: text(6)?,
            end: text(7)?,
            duration: int(8)?,
            billsec: int(9)?,
            cause: int(10)?,
            disposition: text(11)?,
        })
    })?;
    rows.collect()
}

/// Waits (up to 5 s: the row is written when the call ends) for the CDR of
/// the call to `callee`, checks that it is the only row (tests make one
/// call, and a call has one row whatever its legs) and returns it.
pub fn wait_for_only_cdr(db: &Path, callee: &str) -> Cdr {
    let row = wait_for_cdr(db, callee);
    let rows = read_all(db).expect("read the CDRs again");
    assert_eq!(rows.len(), 1, "expected one CDR for one call: {rows:#?}");
    row
}

/// Waits (up to 5 s) for a CDR with `callee` and returns it.
fn wait_for_cdr(db: &Path, callee: &str) -> Cdr {
    wait_for_row(db, &format!("CDR with callee {callee}"), read_all, |r| {
        r.callee.as_deref() == Some(callee)
    })
}

/// One row of table `recordings`: a finished recording.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct StoredRecording {
    pub name: Option<String>,
    pub format: Option<String>,
    pub path: Option<String>,
    pub duration_ms: Option<i64>,
    pub created: Option<String>,
}

/// All rows of table `recordings` (by name), or the error.
pub fn read_recordings(db: &Path) -> rusqlite::Result<Vec<StoredRecording>> {
    let conn = open(db)?;
    let mut stmt = conn
        .prepare("SELECT name, format, path, duration_ms, created FROM recordings ORDER BY name")?;
    let rows = stmt.query_map([], |row| {
        let text = |i: usize| row.get::<_, Value>(i).map(as_text);
        Ok(StoredRecording {
            name: text(0)?,
            format: text(1)?,
            path: text(2)?,
            duration_ms: row.get::<_, Value>(3).map(as_int)?,
            created: text(4)?,
        })
    })?;
    rows.collect()
}

/// Waits (up to 5 s: a recording is indexed once its file is complete) for
/// the recording `name` in table `recordings` and returns it.
pub fn wait_for_recording(db: &Path, name: &str) -> StoredRecording {
    wait_for_row(db, &format!("recording {name:?}"), read_recordings, |r| {
        r.name.as_deref() == Some(name)
    })
}

/// The database, read-only.
fn open(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

/// Polls `read` (up to 5 s) until it returns a row matching `wanted`
/// (described by `what` in the failure message).
fn wait_for_row<T: Debug>(
    db: &Path,
    what: &str,
    read: fn(&Path) -> rusqlite::Result<Vec<T>>,
    wanted: impl Fn(&T) -> bool,
) -> T {
    let timeout = Duration::from_secs(5);
    let mut last = String::new();
    let found = poll(timeout, || match read(db) {
        Ok(rows) => {
            last = format!("{rows:#?}");
            rows.into_iter().find(&wanted)
        }
        Err(e) => {
            last = e.to_string();
            None
        }
    });
    found.unwrap_or_else(|| {
        panic!(
            "no {what} in {} within {timeout:?}; last read: {last}",
            db.display()
        )
    })
}

/// Text columns are read leniently: a number is shown as text.
fn as_text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Text(s) => Some(s),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Integer columns are read leniently: numeric text and reals are accepted.
fn as_int(v: Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(i),
        Value::Real(f) => Some(f.round() as i64),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Null | Value::Blob(_) => None,
    }
}
