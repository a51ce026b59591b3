//! The index of finished recordings (ARI's stored recordings): what exists on disk,
//! in which format, and how long it is.

use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecording {
    /// Name without extension, relative to the recordings folder.
    pub name: String,
    /// File extension: `wav`, `ulaw`, `alaw`, `sln`, `sln16`.
    pub format: String,
    pub path: String,
    pub duration_ms: i64,
    /// RFC 3339 UTC.
    pub created: String,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredRecording> {
    Ok(StoredRecording {
        name: row.get(0)?,
        format: row.get(1)?,
        path: row.get(2)?,
        duration_ms: row.get(3)?,
        created: row.get(4)?,
    })
}

const COLUMNS: &str = "name, format, path, duration_ms, created";

impl Store {
    /// Adds or replaces a recording's entry; returns once committed.
    pub fn put_recording_blocking(&self, recording: StoredRecording) -> Result<(), StoreError> {
        self.write_blocking(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO recordings (name, format, path, duration_ms, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    recording.name,
                    recording.format,
                    recording.path,
                    recording.duration_ms,
                    recording.created
                ],
            )
            .map(|_| ())
        })
    }

    pub fn delete_recording_blocking(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write_blocking(move |conn| {
            conn.execute("DELETE FROM recordings WHERE name = ?1", params![name])
                .map(|_| ())
        })
    }

    pub fn recordings(&self) -> Result<Vec<StoredRecording>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {COLUMNS} FROM recordings ORDER BY name"))?;
            let rows = stmt.query_map([], from_row)?;
            rows.collect()
        })
    }

    pub fn recording(&self, name: &str) -> Result<Option<StoredRecording>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM recordings WHERE name = ?1"),
                params![name],
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
    fn index_round_trip() {
        let dir = std::env::temp_dir().join(format!("sb-rec-{}", std::process::id()));
        let store = Store::open(&dir.join("t.db")).unwrap();
        let rec = StoredRecording {
            name: "calls/one".into(),
            format: "wav".into(),
            path: "/x/calls/one.wav".into(),
            duration_ms: 2500,
            created: "2026-01-01T00:00:00Z".into(),
        };
        store.put_recording_blocking(rec.clone()).unwrap();
        assert_eq!(store.recording("calls/one").unwrap(), Some(rec.clone()));
        assert_eq!(store.recordings().unwrap(), vec![rec]);
        store.delete_recording_blocking("calls/one").unwrap();
        assert_eq!(store.recording("calls/one").unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
