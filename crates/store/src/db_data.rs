//! FreeSWITCH's `db` API data (mod_db's `db_data` table): values by realm and key,
//! kept across restarts.

use rusqlite::{params, OptionalExtension};

use crate::{Store, StoreError};

impl Store {
    /// Sets (replacing) a value; returns once committed.
    pub fn put_db_value_blocking(
        &self,
        realm: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let (realm, key, value) = (realm.to_owned(), key.to_owned(), value.to_owned());
        self.write_blocking(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO db_data (realm, data_key, data) VALUES (?1, ?2, ?3)",
                params![realm, key, value],
            )
            .map(|_| ())
        })
    }

    /// Removes a value (nothing happens if there is none); returns once committed.
    pub fn delete_db_value_blocking(&self, realm: &str, key: &str) -> Result<(), StoreError> {
        let (realm, key) = (realm.to_owned(), key.to_owned());
        self.write_blocking(move |conn| {
            conn.execute(
                "DELETE FROM db_data WHERE realm = ?1 AND data_key = ?2",
                params![realm, key],
            )
            .map(|_| ())
        })
    }

    pub fn db_value(&self, realm: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT data FROM db_data WHERE realm = ?1 AND data_key = ?2",
                params![realm, key],
                |row| row.get(0),
            )
            .optional()
        })
    }

    /// Every realm holding a value, by name.
    pub fn db_realms(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT DISTINCT realm FROM db_data ORDER BY realm")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect()
        })
    }

    /// The keys of a realm, by name.
    pub fn db_keys(&self, realm: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT data_key FROM db_data WHERE realm = ?1 ORDER BY data_key")?;
            let rows = stmt.query_map(params![realm], |row| row.get(0))?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("sb-dbdata-{}", std::process::id()));
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        store.put_db_value_blocking("r", "b", "1").unwrap();
        store.put_db_value_blocking("r", "a", "2").unwrap();
        store.put_db_value_blocking("r", "a", "3").unwrap();
        store.put_db_value_blocking("s", "a", "4").unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.db_value("r", "a").unwrap().as_deref(), Some("3"));
        assert_eq!(store.db_keys("r").unwrap(), ["a", "b"]);
        assert_eq!(store.db_realms().unwrap(), ["r", "s"]);
        store.delete_db_value_blocking("r", "a").unwrap();
        store.delete_db_value_blocking("r", "a").unwrap();
        assert_eq!(store.db_value("r", "a").unwrap(), None);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
