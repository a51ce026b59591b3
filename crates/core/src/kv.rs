//! Key-value data that API commands keep: FreeSWITCH's `db` (mod_db: by realm and
//! key, in the store, so it survives a restart) and `hash` (mod_hash: in memory, per
//! switch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::shared_state::store_failed;
use crate::switch::{ControlError, Switch};

/// Entries the in-memory hash holds at most; inserts beyond are refused.
pub const MAX_HASH_ENTRIES: usize = 100_000;

/// The in-memory hash, by (realm, key).
#[derive(Debug, Default)]
pub(crate) struct Hash(Mutex<HashMap<(String, String), String>>);

/// What a hash delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashDelete {
    Deleted,
    NotFound,
    /// `delete_ifmatch` found another value.
    Mismatch,
}

fn read_failed(e: impl std::fmt::Display) -> ControlError {
    tracing::error!(error = %e, "reading db data failed");
    ControlError::Failed("reading db data failed".into())
}

impl Switch {
    /// Sets a `db` value; returns once stored.
    pub async fn db_insert(&self, realm: &str, key: &str, value: &str) -> Result<(), ControlError> {
        let store = Arc::clone(self.store());
        let (realm, key, value) = (realm.to_owned(), key.to_owned(), value.to_owned());
        tokio::task::spawn_blocking(move || store.put_db_value_blocking(&realm, &key, &value))
            .await
            .map_err(|e| store_failed("db data", e))?
            .map_err(|e| store_failed("db data", e))
    }

    /// Removes a `db` value (none is not an error).
    pub async fn db_delete(&self, realm: &str, key: &str) -> Result<(), ControlError> {
        let store = Arc::clone(self.store());
        let (realm, key) = (realm.to_owned(), key.to_owned());
        tokio::task::spawn_blocking(move || store.delete_db_value_blocking(&realm, &key))
            .await
            .map_err(|e| store_failed("db data", e))?
            .map_err(|e| store_failed("db data", e))
    }

    pub fn db_select(&self, realm: &str, key: &str) -> Result<Option<String>, ControlError> {
        self.store().db_value(realm, key).map_err(read_failed)
    }

    /// The realms holding `db` values.
    pub fn db_realms(&self) -> Result<Vec<String>, ControlError> {
        self.store().db_realms().map_err(read_failed)
    }

    /// The keys of a `db` realm.
    pub fn db_keys(&self, realm: &str) -> Result<Vec<String>, ControlError> {
        self.store().db_keys(realm).map_err(read_failed)
    }

    /// Sets a hash value; with `if_empty`, only when the key has none (false: it had).
    pub fn hash_insert(
        &self,
        realm: &str,
        key: &str,
        value: &str,
        if_empty: bool,
    ) -> Result<bool, ControlError> {
        let mut hash = crate::lock(&self.shared().hash.0);
        let slot = (realm.to_owned(), key.to_owned());
        if if_empty && hash.contains_key(&slot) {
            return Ok(false);
        }
        if hash.len() >= MAX_HASH_ENTRIES && !hash.contains_key(&slot) {
            return Err(ControlError::Unprocessable(format!(
                "the hash holds {MAX_HASH_ENTRIES} entries already"
            )));
        }
        hash.insert(slot, value.to_owned());
        Ok(true)
    }

    pub fn hash_select(&self, realm: &str, key: &str) -> Option<String> {
        crate::lock(&self.shared().hash.0)
            .get(&(realm.to_owned(), key.to_owned()))
            .cloned()
    }

    /// Removes a hash value; with `if_value`, only when it is that value.
    pub fn hash_delete(&self, realm: &str, key: &str, if_value: Option<&str>) -> HashDelete {
        let mut hash = crate::lock(&self.shared().hash.0);
        let slot = (realm.to_owned(), key.to_owned());
        match (hash.get(&slot), if_value) {
            (None, _) => HashDelete::NotFound,
            (Some(have), Some(want)) if have != want => HashDelete::Mismatch,
            _ => {
                hash.remove(&slot);
                HashDelete::Deleted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_switch;

    #[tokio::test]
    async fn hash_and_db_values() {
        let switch = test_switch("kv").await;
        assert_eq!(switch.hash_insert("r", "k", "v", false), Ok(true));
        assert_eq!(switch.hash_insert("r", "k", "w", true), Ok(false));
        assert_eq!(switch.hash_select("r", "k").as_deref(), Some("v"));
        assert_eq!(
            switch.hash_delete("r", "k", Some("w")),
            HashDelete::Mismatch
        );
        assert_eq!(switch.hash_delete("r", "k", None), HashDelete::Deleted);
        assert_eq!(switch.hash_delete("r", "k", None), HashDelete::NotFound);

        switch.db_insert("r", "k", "v").await.unwrap();
        assert_eq!(switch.db_select("r", "k").unwrap().as_deref(), Some("v"));
        assert_eq!(switch.db_keys("r").unwrap(), ["k"]);
        switch.db_delete("r", "k").await.unwrap();
        assert_eq!(switch.db_select("r", "k").unwrap(), None);
    }
}
