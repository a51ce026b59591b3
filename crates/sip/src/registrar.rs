//! Location service: which contacts each endpoint has registered, until when, and where
//! calls to each go (the Contact itself, or the REGISTER's flow for a phone behind NAT or
//! on a connection: the user agent decides when it registers).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::transport::Flow;

pub const DEFAULT_EXPIRES: u32 = 3600;
pub const MAX_EXPIRES: u32 = 7200;
pub const MAX_CONTACTS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub contact: String,
    /// Where requests to this contact are sent.
    pub target: Flow,
    pub expires_at: Instant,
}

impl Binding {
    pub fn remaining(&self, now: Instant) -> u32 {
        u32::try_from(self.expires_at.saturating_duration_since(now).as_secs()).unwrap_or(u32::MAX)
    }
}

/// One contact of a REGISTER request, with the expiry it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactUpdate {
    pub contact: String,
    pub expires: u32,
    pub target: Flow,
}

#[derive(Debug, Default)]
pub struct Registrar {
    bindings: HashMap<String, Vec<Binding>>,
}

impl Registrar {
    /// Applies a REGISTER: an expiry of 0 removes that contact, others add or refresh it.
    pub fn update(&mut self, aor: &str, updates: &[ContactUpdate], now: Instant) {
        let list = self.bindings.entry(aor.to_owned()).or_default();
        list.retain(|b| b.expires_at > now);
        for update in updates {
            list.retain(|b| b.contact != update.contact);
            if update.expires > 0 {
                let secs = update.expires.min(MAX_EXPIRES);
                list.push(Binding {
                    contact: update.contact.clone(),
                    target: update.target,
                    expires_at: now + Duration::from_secs(u64::from(secs)),
                });
            }
        }
        // Oldest first; keep the newest when a phone floods us with contacts.
        if list.len() > MAX_CONTACTS {
            let excess = list.len() - MAX_CONTACTS;
            list.drain(..excess);
        }
        if list.is_empty() {
            self.bindings.remove(aor);
        }
    }

    /// `Contact: *` with `Expires: 0`.
    pub fn remove_all(&mut self, aor: &str) {
        self.bindings.remove(aor);
    }

    /// Live contacts, newest first.
    pub fn lookup(&self, aor: &str, now: Instant) -> Vec<Binding> {
        let mut live: Vec<Binding> = self
            .bindings
            .get(aor)
            .map(|list| {
                list.iter()
                    .filter(|b| b.expires_at > now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        live.reverse();
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;

    fn flow(port: u16) -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: format!("127.0.0.1:{port}").parse().unwrap(),
        }
    }

    fn update(contact: &str, expires: u32, port: u16) -> ContactUpdate {
        ContactUpdate {
            contact: contact.to_owned(),
            expires,
            target: flow(port),
        }
    }

    #[test]
    fn several_contacts_expire_and_unregister() {
        let mut reg = Registrar::default();
        let t0 = Instant::now();
        reg.update("1000", &[update("sip:a@x", 60, 1)], t0);
        reg.update("1000", &[update("sip:b@y", 3600, 2)], t0);
        let found = reg.lookup("1000", t0);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].contact, "sip:b@y", "newest first");
        assert_eq!(found[0].remaining(t0), 3600);

        let later = t0 + Duration::from_secs(61);
        assert_eq!(reg.lookup("1000", later).len(), 1);

        reg.update("1000", &[update("sip:b@y", 0, 2)], later);
        assert!(reg.lookup("1000", later).is_empty());
    }

    #[test]
    fn refresh_replaces_and_caps_expiry_and_count() {
        let mut reg = Registrar::default();
        let t0 = Instant::now();
        reg.update("1", &[update("sip:a@x", 99_999, 1)], t0);
        reg.update("1", &[update("sip:a@x", 99_999, 3)], t0);
        let found = reg.lookup("1", t0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].target, flow(3));
        assert_eq!(found[0].remaining(t0), MAX_EXPIRES);
        let many: Vec<_> = (0..15)
            .map(|i| update(&format!("sip:{i}@x"), 60, 1))
            .collect();
        reg.update("1", &many, t0);
        assert_eq!(reg.lookup("1", t0).len(), MAX_CONTACTS);
        reg.remove_all("1");
        assert!(reg.lookup("1", t0).is_empty());
    }
}
