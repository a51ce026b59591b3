//! REGISTER (RFC 3261 §10): bindings, and where calls to each contact go.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use sipx_sip::{HeaderName, Request, TransactionKey, Uri};

use super::UserAgent;
use crate::msg;
use crate::registrar::{ContactUpdate, DEFAULT_EXPIRES};
use crate::transport::{Flow, Transport};

impl UserAgent {
    pub(super) fn on_register(
        &mut self,
        key: &TransactionKey,
        request: &Request,
        flow: Flow,
        now: Instant,
    ) {
        let (aor, _) = msg::party(&request.headers, &HeaderName::To);
        let Some(user) = self.authenticate(key, request, flow, HeaderName::Authorization, now)
        else {
            return;
        };
        if user != aor {
            tracing::info!(remote = %flow.remote, %user, %aor, "REGISTER for another user's address refused");
            let response = msg::response(request, 403, None, &[], None);
            self.reply(key, response, now);
            return;
        }
        let default_expires = request
            .headers
            .typed::<sipx_sip::headers::Expires>()
            .and_then(Result::ok)
            .map_or(DEFAULT_EXPIRES, |e| e.0);
        let mut updates = Vec::new();
        for value in request.headers.get_all(&HeaderName::Contact) {
            let raw = value.value();
            if raw.trim_ascii() == b"*" {
                if default_expires == 0 {
                    self.registrar.remove_all(&aor);
                } else {
                    let response = msg::response(request, 400, None, &[], None);
                    self.reply(key, response, now);
                    return;
                }
                continue;
            }
            let Ok(addresses) = sipx_sip::headers::Address::parse_list(&raw, "Contact") else {
                let response = msg::response(request, 400, None, &[], None);
                self.reply(key, response, now);
                return;
            };
            for address in addresses {
                let expires = address
                    .param("expires")
                    .and_then(|e| std::str::from_utf8(e).ok()?.trim().parse().ok())
                    .unwrap_or(default_expires);
                let contact = address.uri.to_string();
                let target = self.contact_flow(&user, &address.uri, flow);
                updates.push(ContactUpdate {
                    contact,
                    expires,
                    target,
                });
            }
        }
        self.registrar.update(&aor, &updates, now);
        let extra: Vec<_> = self
            .registrar
            .lookup(&aor, now)
            .iter()
            .map(|b| {
                (
                    HeaderName::Contact,
                    format!("<{}>;expires={}", b.contact, b.remaining(now)),
                )
            })
            .collect();
        tracing::info!(%aor, remote = %flow.remote, contacts = extra.len(), "registration updated");
        let response = msg::response(request, 200, Some(&msg::new_tag()), &extra, None);
        self.reply(key, response, now);
    }

    /// Where calls to a registered contact go, as Asterisk PJSIP and FreeSWITCH decide it:
    /// the Contact URI itself, unless the phone is reached over a connection (TCP), sits
    /// behind NAT (its Contact host is not where the REGISTER came from), or its endpoint
    /// asks for the flow (`force_rport`, `rewrite_contact`).
    pub(super) fn contact_flow(&self, user: &str, contact: &Uri, flow: Flow) -> Flow {
        let endpoint = self.config.endpoints.get(user);
        let forced = endpoint.is_some_and(|e| e.force_rport || e.rewrite_contact);
        if forced || flow.transport == Transport::Tcp {
            return flow;
        }
        let Some(host) = contact.host().and_then(|h| {
            String::from_utf8_lossy(&h.to_bytes())
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .ok()
        }) else {
            return flow;
        };
        if host != flow.remote.ip() {
            return flow;
        }
        let tcp = contact
            .to_string()
            .to_ascii_lowercase()
            .contains("transport=tcp");
        Flow {
            transport: if tcp { Transport::Tcp } else { Transport::Udp },
            remote: SocketAddr::new(host, contact.port().unwrap_or(5060)),
        }
    }

    /// The registered contacts of an endpoint.
    pub fn contacts(&self, aor: &str, now: Instant) -> Vec<String> {
        self.registrar
            .lookup(aor, now)
            .into_iter()
            .map(|b| b.contact)
            .collect()
    }
}
