//! Mailboxes: message-waiting counts that applications set (ARI `/mailboxes`, Asterisk's
//! `res_mwi_external`), kept in memory and in the store.

use std::sync::Arc;

use crate::shared_state::store_failed;
use crate::switch::{ControlError, Switch};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: String,
    pub old_messages: i64,
    pub new_messages: i64,
}

impl From<switchboard_store::Mailbox> for Mailbox {
    fn from(m: switchboard_store::Mailbox) -> Self {
        Self {
            name: m.name,
            old_messages: m.old_messages,
            new_messages: m.new_messages,
        }
    }
}

impl Switch {
    /// Every mailbox, by name.
    pub async fn mailboxes(&self) -> Vec<Mailbox> {
        let mailboxes = self.shared().mailboxes.lock().await;
        mailboxes.values().cloned().collect()
    }

    pub async fn mailbox(&self, name: &str) -> Option<Mailbox> {
        self.shared().mailboxes.lock().await.get(name).cloned()
    }

    /// Creates or replaces a mailbox's counts (stored first: a failed write changes
    /// nothing).
    pub async fn set_mailbox(&self, mailbox: Mailbox) -> Result<(), ControlError> {
        let mut mailboxes = self.shared().mailboxes.lock().await;
        let store = Arc::clone(self.store());
        let stored = switchboard_store::Mailbox {
            name: mailbox.name.clone(),
            old_messages: mailbox.old_messages,
            new_messages: mailbox.new_messages,
        };
        tokio::task::spawn_blocking(move || store.put_mailbox_blocking(stored))
            .await
            .map_err(|e| store_failed("a mailbox", e))?
            .map_err(|e| store_failed("a mailbox", e))?;
        mailboxes.insert(mailbox.name.clone(), mailbox);
        Ok(())
    }

    /// Deletes a mailbox; `NotFound` if there is none of that name.
    pub async fn delete_mailbox(&self, name: &str) -> Result<(), ControlError> {
        let mut mailboxes = self.shared().mailboxes.lock().await;
        if !mailboxes.contains_key(name) {
            return Err(ControlError::NotFound);
        }
        let store = Arc::clone(self.store());
        let key = name.to_owned();
        tokio::task::spawn_blocking(move || store.delete_mailbox_blocking(&key))
            .await
            .map_err(|e| store_failed("a mailbox", e))?
            .map_err(|e| store_failed("a mailbox", e))?;
        mailboxes.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::{data_dir, start_in};

    #[tokio::test]
    async fn mailboxes_are_kept_across_a_restart() {
        let dir = data_dir("mailboxes");
        let switch = start_in(dir.clone(), BTreeMap::new()).await;
        let mailbox = |name: &str, old, new| Mailbox {
            name: name.into(),
            old_messages: old,
            new_messages: new,
        };
        switch.set_mailbox(mailbox("1000", 1, 2)).await.unwrap();
        switch.set_mailbox(mailbox("2000", 0, 0)).await.unwrap();
        switch.set_mailbox(mailbox("1000", 3, 4)).await.unwrap();
        switch.delete_mailbox("2000").await.unwrap();
        assert_eq!(
            switch.delete_mailbox("2000").await,
            Err(ControlError::NotFound)
        );
        assert_eq!(switch.mailboxes().await, [mailbox("1000", 3, 4)]);
        switch.shutdown().await;
        drop(switch);

        let again = start_in(dir, BTreeMap::new()).await;
        assert_eq!(again.mailbox("1000").await, Some(mailbox("1000", 3, 4)));
        assert_eq!(again.mailbox("2000").await, None);
    }
}
