//! Device states that applications set (ARI's `Stasis:<name>` devices, Asterisk's
//! `res_stasis_device_state`), kept in memory and in the store; and the registered
//! contacts from which an endpoint's own state is derived.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::shared_state::store_failed;
use crate::switch::{ControlError, Switch};

impl Switch {
    /// Every device state set, by device name.
    pub async fn device_states(&self) -> BTreeMap<String, String> {
        self.shared().device_states.lock().await.clone()
    }

    pub async fn device_state(&self, name: &str) -> Option<String> {
        self.shared().device_states.lock().await.get(name).cloned()
    }

    /// Sets a device's state (stored first: a failed write changes nothing). Returns
    /// whether the state changed, as a device state cache reports only changes.
    pub async fn set_device_state(&self, name: &str, state: &str) -> Result<bool, ControlError> {
        let mut states = self.shared().device_states.lock().await;
        let store = Arc::clone(self.store());
        let (key, value) = (name.to_owned(), state.to_owned());
        tokio::task::spawn_blocking(move || store.put_device_state_blocking(&key, &value))
            .await
            .map_err(|e| store_failed("a device state", e))?
            .map_err(|e| store_failed("a device state", e))?;
        let old = states.insert(name.to_owned(), state.to_owned());
        Ok(old.as_deref() != Some(state))
    }

    /// Forgets a device's state; `NotFound` if it has none.
    pub async fn delete_device_state(&self, name: &str) -> Result<(), ControlError> {
        let mut states = self.shared().device_states.lock().await;
        if !states.contains_key(name) {
            return Err(ControlError::NotFound);
        }
        let store = Arc::clone(self.store());
        let key = name.to_owned();
        tokio::task::spawn_blocking(move || store.delete_device_state_blocking(&key))
            .await
            .map_err(|e| store_failed("a device state", e))?
            .map_err(|e| store_failed("a device state", e))?;
        states.remove(name);
        Ok(())
    }

    /// The contacts endpoint `aor` has registered (empty: it is offline).
    pub async fn endpoint_contacts(&self, aor: &str) -> Vec<String> {
        self.sip().contacts(aor).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::testing::{data_dir, start_in};

    #[tokio::test]
    async fn device_states_report_changes_and_survive_a_restart() {
        let dir = data_dir("device-states");
        let switch = start_in(dir.clone(), BTreeMap::new()).await;
        assert_eq!(switch.set_device_state("Stasis:a", "INUSE").await, Ok(true));
        // The same state again is no change.
        assert_eq!(
            switch.set_device_state("Stasis:a", "INUSE").await,
            Ok(false)
        );
        assert_eq!(switch.set_device_state("Stasis:a", "BUSY").await, Ok(true));
        assert_eq!(
            switch.set_device_state("Stasis:b", "RINGING").await,
            Ok(true)
        );
        switch.delete_device_state("Stasis:b").await.unwrap();
        assert_eq!(
            switch.delete_device_state("Stasis:b").await,
            Err(ControlError::NotFound)
        );
        assert!(switch.endpoint_contacts("1000").await.is_empty());
        switch.shutdown().await;
        drop(switch);

        let again = start_in(dir, BTreeMap::new()).await;
        assert_eq!(
            again.device_states().await.into_iter().collect::<Vec<_>>(),
            [("Stasis:a".to_owned(), "BUSY".to_owned())]
        );
        assert_eq!(again.device_state("Stasis:b").await, None);
    }
}
