//! What the switch keeps beside its calls: global variables, and the device states and
//! mailboxes that applications set (kept in the store too, so they survive a restart,
//! as Asterisk keeps them in its astdb).

use std::collections::BTreeMap;
use std::sync::Mutex;

use switchboard_store::Store;

use crate::mailbox::Mailbox;

#[derive(Debug, Default)]
pub(crate) struct SharedState {
    pub globals: Mutex<BTreeMap<String, String>>,
    /// Async locks, held across the store write so that memory and store keep the
    /// order of the requests.
    pub device_states: tokio::sync::Mutex<BTreeMap<String, String>>,
    pub mailboxes: tokio::sync::Mutex<BTreeMap<String, Mailbox>>,
    /// The `hash` API's values (memory only, as mod_hash).
    pub hash: crate::kv::Hash,
    /// Sessions API sessions in progress.
    pub call_sessions: crate::call_session::CallSessions,
}

impl SharedState {
    /// The device states and mailboxes kept in `store` (at start; a store that cannot
    /// be read leaves them empty, logged).
    pub fn load(store: &Store) -> Self {
        let device_states = store.device_states().unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading the stored device states failed");
            Vec::new()
        });
        let mailboxes = store.mailboxes().unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading the stored mailboxes failed");
            Vec::new()
        });
        if !device_states.is_empty() || !mailboxes.is_empty() {
            tracing::info!(
                device_states = device_states.len(),
                mailboxes = mailboxes.len(),
                "device states and mailboxes restored"
            );
        }
        Self {
            globals: Mutex::default(),
            device_states: tokio::sync::Mutex::new(device_states.into_iter().collect()),
            mailboxes: tokio::sync::Mutex::new(
                mailboxes
                    .into_iter()
                    .map(|m| (m.name.clone(), Mailbox::from(m)))
                    .collect(),
            ),
            hash: crate::kv::Hash::default(),
            call_sessions: Default::default(),
        }
    }
}

/// A store write failed: logged, and the request fails without changing anything.
pub(crate) fn store_failed(what: &str, e: impl std::fmt::Display) -> crate::ControlError {
    tracing::error!(error = %e, "storing {what} failed");
    crate::ControlError::Failed(format!("storing {what} failed"))
}
