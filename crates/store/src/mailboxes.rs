//! The mailboxes (message-waiting counts) set through ARI, kept across restarts as
//! Asterisk's `res_mwi_external` keeps them in its astdb.

use rusqlite::{params, OptionalExtension, Row};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    pub old_messages: i64,
    pub new_messages: i64,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Mailbox> {
    Ok(Mailbox {
        name: row.get(0)?,
        old_messages: row.get(1)?,
        new_messages: row.get(2)?,
    })
}

impl Store {
    /// Sets (creating) a mailbox's counts; returns once committed.
    pub fn put_mailbox_blocking(&self, mailbox: Mailbox) -> Result<(), StoreError> {
        self.write_blocking(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO mailboxes (name, old_messages, new_messages) \
                 VALUES (?1, ?2, ?3)",
                params![mailbox.name, mailbox.old_messages, mailbox.new_messages],
            )
            .map(|_| ())
        })
    }

    /// Forgets a mailbox (nothing happens if there is none); returns once committed.
    pub fn delete_mailbox_blocking(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write_blocking(move |conn| {
            conn.execute("DELETE FROM mailboxes WHERE name = ?1", params![name])
                .map(|_| ())
        })
    }

    /// Every stored mailbox, by name.
    pub fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT name, old_messages, new_messages FROM mailboxes ORDER BY name")?;
            let rows = stmt.query_map([], from_row)?;
            rows.collect()
        })
    }

    pub fn mailbox(&self, name: &str) -> Result<Option<Mailbox>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT name, old_messages, new_messages FROM mailboxes WHERE name = ?1",
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

    fn mailbox(name: &str, old_messages: i64, new_messages: i64) -> Mailbox {
        Mailbox {
            name: name.into(),
            old_messages,
            new_messages,
        }
    }

    #[test]
    fn mailboxes_round_trip_and_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("sb-mailbox-{}", std::process::id()));
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.mailboxes().unwrap(), vec![]);
        store
            .put_mailbox_blocking(mailbox("1001@default", 1, 2))
            .unwrap();
        store
            .put_mailbox_blocking(mailbox("1000@default", 0, 0))
            .unwrap();
        store
            .put_mailbox_blocking(mailbox("1001@default", 3, 4))
            .unwrap();
        assert_eq!(
            store.mailbox("1001@default").unwrap(),
            Some(mailbox("1001@default", 3, 4))
        );
        assert_eq!(store.mailbox("nope").unwrap(), None);
        drop(store);

        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.mailboxes().unwrap(),
            vec![mailbox("1000@default", 0, 0), mailbox("1001@default", 3, 4)]
        );
        store.delete_mailbox_blocking("1000@default").unwrap();
        store.delete_mailbox_blocking("1000@default").unwrap();
        assert_eq!(
            store.mailboxes().unwrap(),
            vec![mailbox("1001@default", 3, 4)]
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
