//! The device states set through ARI (`Stasis:<name>` devices), kept across restarts
//! as Asterisk keeps them in its astdb.

use rusqlite::{params, OptionalExtension};

use crate::{Store, StoreError};

impl Store {
    /// Sets (creating) a device's state; returns once committed.
    pub fn put_device_state_blocking(&self, name: &str, state: &str) -> Result<(), StoreError> {
        let (name, state) = (name.to_owned(), state.to_owned());
        self.write_blocking(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO device_states (name, state) VALUES (?1, ?2)",
                params![name, state],
            )
            .map(|_| ())
        })
    }

    /// Forgets a device's state (nothing happens if it has none); returns once
    /// committed.
    pub fn delete_device_state_blocking(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write_blocking(move |conn| {
            conn.execute("DELETE FROM device_states WHERE name = ?1", params![name])
                .map(|_| ())
        })
    }

    /// Every stored device state as (name, state), by name.
    pub fn device_states(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT name, state FROM device_states ORDER BY name")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
    }

    pub fn device_state(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT state FROM device_states WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_states_round_trip_and_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("sb-devstate-{}", std::process::id()));
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.device_states().unwrap(), vec![]);
        store
            .put_device_state_blocking("Stasis:b", "INUSE")
            .unwrap();
        store.put_device_state_blocking("Stasis:a", "BUSY").unwrap();
        store
            .put_device_state_blocking("Stasis:b", "RINGING")
            .unwrap();
        assert_eq!(
            store.device_state("Stasis:b").unwrap().as_deref(),
            Some("RINGING")
        );
        assert_eq!(store.device_state("Stasis:c").unwrap(), None);
        drop(store);

        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.device_states().unwrap(),
            vec![
                ("Stasis:a".to_owned(), "BUSY".to_owned()),
                ("Stasis:b".to_owned(), "RINGING".to_owned()),
            ]
        );
        store.delete_device_state_blocking("Stasis:a").unwrap();
        // Deleting what is not there is not an error.
        store.delete_device_state_blocking("Stasis:a").unwrap();
        assert_eq!(
            store.device_states().unwrap(),
            vec![("Stasis:b".to_owned(), "RINGING".to_owned())]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn in_memory_stores_read_their_writes_and_share_nothing() {
        let store = Store::in_memory().unwrap();
        let other = Store::in_memory().unwrap();
        store.put_device_state_blocking("Stasis:a", "BUSY").unwrap();
        assert_eq!(
            store.device_state("Stasis:a").unwrap().as_deref(),
            Some("BUSY")
        );
        assert_eq!(other.device_states().unwrap(), vec![]);
    }
}
