//! Call detail records: one row per call, committed before the call's resources go.

use rusqlite::{params, Connection};

use crate::{Store, StoreError};

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

impl Store {
    /// Writes a record and returns once it is committed.
    pub fn insert_cdr_blocking(&self, cdr: Cdr) -> Result<(), StoreError> {
        self.write_blocking(move |conn| insert(conn, &cdr))
    }
}

fn insert(conn: &Connection, cdr: &Cdr) -> rusqlite::Result<()> {
    // cached: one statement compiled once, not once a call
    conn.prepare_cached(
        "INSERT INTO cdr (uniqueid, channel, dstchannel, caller, caller_name, callee, context, \
         start, answer, end, duration, billsec, cause, disposition) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
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
    ])?;
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
        let store = Store::open(&path).unwrap();
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
        store.insert_cdr_blocking(cdr).unwrap();
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
