//! The history of Sessions API sessions (click-to-call): one row per session once it
//! has ended, with who answered, why it ended and how long the parties talked.

use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub caller: String,
    pub caller_display_name: String,
    pub callee: String,
    /// Empty when the session used no trunk.
    pub trunk: String,
    pub user_data: String,
    /// RFC 3339 UTC, as every time here.
    pub started_at: String,
    pub caller_answered_at: Option<String>,
    pub connected_at: Option<String>,
    pub ended_at: String,
    /// `connected`, `callee_failed`, `caller_failed` or `cancelled`.
    pub outcome: String,
    /// The hangup cause that ended it (FreeSWITCH's name).
    pub cause: String,
    /// Seconds between the callee's answer and the end.
    pub talking_time: i64,
}

const COLUMNS: &str = "id, caller, caller_display_name, callee, trunk, user_data, started_at, \
     caller_answered_at, connected_at, ended_at, outcome, cause, talking_time";

fn from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.get(0)?,
        caller: row.get(1)?,
        caller_display_name: row.get(2)?,
        callee: row.get(3)?,
        trunk: row.get(4)?,
        user_data: row.get(5)?,
        started_at: row.get(6)?,
        caller_answered_at: row.get(7)?,
        connected_at: row.get(8)?,
        ended_at: row.get(9)?,
        outcome: row.get(10)?,
        cause: row.get(11)?,
        talking_time: row.get(12)?,
    })
}

impl Store {
    /// Records an ended session; returns once committed.
    pub fn put_session_blocking(&self, record: SessionRecord) -> Result<(), StoreError> {
        self.write_blocking(move |conn| {
            conn.execute(
                &format!(
                    "INSERT OR REPLACE INTO call_sessions ({COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    record.id,
                    record.caller,
                    record.caller_display_name,
                    record.callee,
                    record.trunk,
                    record.user_data,
                    record.started_at,
                    record.caller_answered_at,
                    record.connected_at,
                    record.ended_at,
                    record.outcome,
                    record.cause,
                    record.talking_time,
                ],
            )
            .map(|_| ())
        })
    }

    pub fn session_record(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM call_sessions WHERE id = ?1"),
                params![id],
                from_row,
            )
            .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_kept_and_read_back() {
        let store = Store::in_memory().expect("store");
        let record = SessionRecord {
            id: "s1".into(),
            caller: "1000".into(),
            caller_display_name: "Alice".into(),
            callee: "1001".into(),
            trunk: String::new(),
            user_data: "ticket-7".into(),
            started_at: "2026-12-05T10:00:00Z".into(),
            caller_answered_at: Some("2026-12-05T10:00:02Z".into()),
            connected_at: None,
            ended_at: "2026-12-05T10:00:09Z".into(),
            outcome: "callee_failed".into(),
            cause: "USER_BUSY".into(),
            talking_time: 0,
        };
        store.put_session_blocking(record.clone()).expect("put");
        assert_eq!(store.session_record("s1").expect("read"), Some(record));
        assert_eq!(store.session_record("nope").expect("read"), None);
    }
}
