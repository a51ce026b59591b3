//! Trunks seen from our side, as a client: outbound registration with digest
//! authentication (RFC 3261 §10.2 and §22.2; RFC 7616/8760 for SHA-256 and `qop=auth`)
//! and OPTIONS pings (Asterisk's qualify, FreeSWITCH's gateway ping). Together they say
//! whether a trunk is up: down when its registration failed or a ping went unanswered.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sipx_sip::auth::{respond, strongest, Challenge, Credentials};
use sipx_sip::{HeaderName, Method, Request, RequestBuilder, Response, TransactionKey, Uri};

use super::{Output, TimerId, UserAgent};
use crate::msg;
use crate::stack::{TrunkAccount, TrunkState};
use crate::transport::{Flow, Transport};

/// Refreshes go out at this share of the granted time: well before expiry, leaving room
/// for a challenge round trip and retransmissions (common UA practice).
const REFRESH_PERCENT: u64 = 90;
/// First retry after a failed registration, doubled per failure up to the cap, so a
/// carrier that is down is not hammered and one that is back is found soon.
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Challenges answered in one registration attempt before giving up (a stale nonce, a
/// 423 and a fresh challenge may each cost one round).
const MAX_ROUNDS: u8 = 3;
/// Most seconds a 423's Min-Expires may make us ask for.
const MAX_EXPIRES: u32 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TrunkRequest {
    Register,
    Options,
}

/// One trunk's client state.
pub(super) struct TrunkLink {
    pub account: TrunkAccount,
    /// One Call-ID and From tag for all our REGISTERs to this registrar (RFC 3261 §10.2).
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// The last challenge, answered on every REGISTER until the registrar sends another.
    challenge: Option<Challenge>,
    nonce_count: u32,
    /// Whether the last REGISTER carried credentials for a challenge of this attempt:
    /// another plain challenge then means the password is wrong.
    fresh_credentials: bool,
    rounds: u8,
    failures: u32,
    /// What we ask for; a 423 may raise it.
    expires: u32,
    options_pending: bool,
    /// Shutting down: the binding is being removed (Expires: 0), nothing is re-armed.
    leaving: bool,
    state: TrunkState,
}

impl TrunkLink {
    pub fn new(account: TrunkAccount) -> Self {
        Self {
            call_id: format!("{}@switchboard", uuid::Uuid::new_v4().simple()),
            from_tag: msg::new_tag(),
            cseq: 0,
            challenge: None,
            nonce_count: 0,
            fresh_credentials: false,
            rounds: 0,
            failures: 0,
            expires: account.expires.max(1),
            options_pending: false,
            leaving: false,
            state: TrunkState::default(),
            account,
        }
    }

    fn flow(&self) -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: self.account.addr,
        }
    }

    fn domain(&self) -> String {
        self.account
            .from_domain
            .clone()
            .unwrap_or_else(|| self.account.addr.to_string())
    }

    fn user(&self) -> &str {
        self.account
            .from_user
            .as_deref()
            .unwrap_or(&self.account.username)
    }
}

impl UserAgent {
    /// Arms the first registration and ping of every trunk that has them.
    pub(super) fn start_trunks(&mut self, now: Instant) {
        for (i, link) in self.trunks.iter().enumerate() {
            if link.account.register {
                self.timers.set(TimerId::TrunkRegister(i), now);
            }
            if !link.account.qualify.is_zero() {
                self.timers.set(TimerId::TrunkQualify(i), now);
            }
        }
    }

    /// Removes our registrations (REGISTER with Expires: 0, answering the last
    /// challenge again) and stops refreshes and pings: the switch is shutting down.
    pub fn unregister_trunks(&mut self, now: Instant) {
        for i in 0..self.trunks.len() {
            self.timers.clear(&TimerId::TrunkRegister(i));
            self.timers.clear(&TimerId::TrunkQualify(i));
            let Some(link) = self.trunks.get_mut(i) else {
                continue;
            };
            link.leaving = true;
            if link.state.registered == Some(true) {
                link.rounds = 0;
                link.fresh_credentials = false;
                self.send_register(i, now);
            }
        }
    }

    /// Every trunk's state, by name.
    pub fn trunk_states(&self) -> impl Iterator<Item = (String, TrunkState)> + '_ {
        self.trunks
            .iter()
            .map(|t| (t.account.name.clone(), t.state.clone()))
            .chain(
                self.plain_trunks
                    .iter()
                    .map(|n| (n.clone(), TrunkState::default())),
            )
    }

    /// Changes a trunk's state and tells the shell when it changed.
    fn update_trunk(&mut self, i: usize, change: impl FnOnce(&mut TrunkState)) {
        let Some(link) = self.trunks.get_mut(i) else {
            return;
        };
        let before = link.state.clone();
        change(&mut link.state);
        if link.state != before {
            let name = link.account.name.clone();
            let state = link.state.clone();
            if state.is_up() != before.is_up() {
                tracing::warn!(trunk = %name, up = state.is_up(), error = ?state.last_error, "trunk state changed");
            }
            self.out.push_back(Output::Trunk(name, state));
        }
    }

    /// A new registration attempt (first, refresh or retry).
    pub(super) fn register_attempt(&mut self, i: usize, now: Instant) {
        if let Some(link) = self.trunks.get_mut(i) {
            link.rounds = 0;
            link.fresh_credentials = false;
        }
        self.send_register(i, now);
    }

    fn send_register(&mut self, i: usize, now: Instant) {
        let local = self.local.of(Transport::Udp);
        let via = self.via(Transport::Udp);
        let user_agent = self.config.user_agent.clone();
        let Some(link) = self.trunks.get_mut(i) else {
            return;
        };
        link.cseq += 1;
        let domain = link.domain();
        let user = msg::uri_user(link.user());
        let uri = format!("sip:{domain}");
        let aor = format!("<sip:{user}@{domain}>");
        let mut headers = vec![
            (HeaderName::Via, via),
            (HeaderName::From, format!("{aor};tag={}", link.from_tag)),
            (HeaderName::To, aor),
            (HeaderName::CallId, link.call_id.clone()),
            (HeaderName::Contact, format!("<sip:{user}@{local}>")),
            (
                HeaderName::Expires,
                if link.leaving { 0 } else { link.expires }.to_string(),
            ),
        ];
        if !user_agent.is_empty() {
            headers.push((HeaderName::UserAgent, user_agent));
        }
        if let Some(challenge) = &link.challenge {
            link.nonce_count += 1;
            let credentials =
                Credentials::new(link.account.username.clone(), link.account.password.clone());
            let cnonce = uuid::Uuid::new_v4().simple().to_string();
            let answer = respond(
                challenge,
                &credentials,
                "REGISTER",
                &uri,
                link.nonce_count,
                &cnonce,
            );
            headers.push((challenge.response_header(), answer));
        }
        let (cseq, flow, name) = (link.cseq, link.flow(), link.account.name.clone());
        match build(Method::Register, &uri, cseq, headers) {
            Some(request) => {
                if let Some(key) = self.send_request(flow, request, now) {
                    self.trunk_txs.insert(key, (i, TrunkRequest::Register));
                }
            }
            None => {
                tracing::warn!(trunk = %name, "REGISTER could not be built");
                self.register_failed(i, "REGISTER could not be built".into(), now);
            }
        }
    }

    /// Pings the trunk; the next ping is armed first, so a ping that cannot be sent does
    /// not stop them.
    pub(super) fn send_options(&mut self, i: usize, now: Instant) {
        let via = self.via(Transport::Udp);
        let local = self.local.of(Transport::Udp);
        let user_agent = self.config.user_agent.clone();
        let Some(link) = self.trunks.get_mut(i) else {
            return;
        };
        self.timers
            .set(TimerId::TrunkQualify(i), now + link.account.qualify);
        if link.options_pending {
            return; // the last one still runs; its timeout marks the trunk down
        }
        link.options_pending = true;
        let domain = link.domain();
        let uri = format!("sip:{domain}");
        let user = msg::uri_user(link.user());
        let user = if user.is_empty() {
            "switchboard".to_owned()
        } else {
            user
        };
        let mut headers = vec![
            (HeaderName::Via, via),
            (
                HeaderName::From,
                format!("<sip:{user}@{domain}>;tag={}", msg::new_tag()),
            ),
            (HeaderName::To, format!("<{uri}>")),
            (
                HeaderName::CallId,
                format!("{}@switchboard", uuid::Uuid::new_v4().simple()),
            ),
            (HeaderName::Contact, format!("<sip:{user}@{local}>")),
            (HeaderName::Accept, "application/sdp".to_owned()),
        ];
        if !user_agent.is_empty() {
            headers.push((HeaderName::UserAgent, user_agent));
        }
        let flow = link.flow();
        let sent = build(Method::Options, &uri, 1, headers)
            .and_then(|request| self.send_request(flow, request, now));
        match sent {
            Some(key) => {
                self.trunk_txs.insert(key, (i, TrunkRequest::Options));
            }
            None => {
                if let Some(link) = self.trunks.get_mut(i) {
                    link.options_pending = false;
                }
            }
        }
    }

    pub(super) fn on_trunk_response(
        &mut self,
        key: &TransactionKey,
        i: usize,
        request: TrunkRequest,
        response: &Response,
        now: Instant,
    ) {
        let code = response.status.code();
        if code < 200 {
            return;
        }
        self.trunk_txs.remove(key);
        match request {
            TrunkRequest::Options => {
                if let Some(link) = self.trunks.get_mut(i) {
                    link.options_pending = false;
                }
                // Any answer, even 404 or 501, shows the carrier is there.
                self.update_trunk(i, |s| {
                    s.reachable = true;
                    if s.registered != Some(false) {
                        s.last_error = None;
                    }
                });
            }
            TrunkRequest::Register => self.on_register_response(i, response, now),
        }
    }

    fn on_register_response(&mut self, i: usize, response: &Response, now: Instant) {
        let code = response.status.code();
        let Some(link) = self.trunks.get_mut(i) else {
            return;
        };
        if link.leaving && !matches!(code, 401 | 407) {
            // Removed (or not: we are going either way).
            self.update_trunk(i, |s| s.registered = None);
            return;
        }
        match code {
            200..=299 => {
                let ours = format!("sip:{}@{}", msg::uri_user(link.user()), self.local.udp);
                let granted = granted_expires(response, &ours, link.expires);
                link.failures = 0;
                link.fresh_credentials = false;
                let refresh = Duration::from_secs(u64::from(granted) * REFRESH_PERCENT / 100)
                    .max(Duration::from_secs(1));
                tracing::info!(trunk = %link.account.name, granted, "trunk registered");
                self.timers.set(TimerId::TrunkRegister(i), now + refresh);
                self.update_trunk(i, |s| {
                    s.registered = Some(true);
                    s.reachable = true;
                    s.last_error = None;
                });
            }
            401 | 407 => {
                link.rounds += 1;
                let challenges = challenges(response, code == 407);
                let Some(challenge) = strongest(challenges) else {
                    let why =
                        format!("REGISTER challenged ({code}) with no digest challenge we support");
                    self.register_failed(i, why, now);
                    return;
                };
                if (link.fresh_credentials && !challenge.stale) || link.rounds > MAX_ROUNDS {
                    let why = format!(
                        "REGISTER credentials refused ({code}) for user {}",
                        link.account.username
                    );
                    self.register_failed(i, why, now);
                    return;
                }
                link.challenge = Some(challenge);
                link.nonce_count = 0;
                link.fresh_credentials = true;
                self.send_register(i, now);
            }
            423 => {
                link.rounds += 1;
                let min = msg::header(&response.headers, &HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > link.expires && *m <= MAX_EXPIRES);
                match min {
                    Some(min) if link.rounds <= MAX_ROUNDS => {
                        link.expires = min;
                        self.send_register(i, now);
                    }
                    _ => self.register_failed(i, "REGISTER interval refused (423)".into(), now),
                }
            }
            _ => {
                let why = format!("REGISTER answered {code} {}", msg::reason_phrase(code));
                self.register_failed(i, why, now);
            }
        }
    }

    pub(super) fn on_trunk_timeout(&mut self, i: usize, request: TrunkRequest, now: Instant) {
        match request {
            TrunkRequest::Register => {
                if self.trunks.get(i).is_some_and(|t| !t.leaving) {
                    self.register_failed(i, "REGISTER timed out".into(), now);
                }
            }
            TrunkRequest::Options => {
                if let Some(link) = self.trunks.get_mut(i) {
                    link.options_pending = false;
                }
                self.update_trunk(i, |s| {
                    s.reachable = false;
                    s.last_error = Some("OPTIONS ping timed out".into());
                });
            }
        }
    }

    /// The registration failed: the trunk is down until a retry, after a backoff that
    /// doubles with each failure in a row, succeeds.
    fn register_failed(&mut self, i: usize, why: String, now: Instant) {
        let Some(link) = self.trunks.get_mut(i) else {
            return;
        };
        link.failures = link.failures.saturating_add(1);
        // A challenge that failed is not answered again: the retry starts afresh.
        link.challenge = None;
        link.fresh_credentials = false;
        let exponent = link.failures.saturating_sub(1).min(16);
        let retry = RETRY_FIRST.saturating_mul(1 << exponent).min(RETRY_MAX);
        tracing::info!(trunk = %link.account.name, error = %why, ?retry, "trunk registration failed");
        if !link.leaving {
            self.timers.set(TimerId::TrunkRegister(i), now + retry);
        }
        self.update_trunk(i, |s| {
            s.registered = Some(false);
            s.last_error = Some(why);
        });
    }
}

impl UserAgent {
    /// Answers a carrier's challenge to our INVITE through its trunk: the same request
    /// with credentials, the next CSeq and a new branch (RFC 3261 §22.2). False when the
    /// call has no trunk credentials, its one answer was already refused, or no
    /// challenge can be answered: the call then fails with the response.
    pub(super) fn reinvite_with_credentials(
        &mut self,
        id: super::CallId,
        response: &Response,
        now: Instant,
    ) -> bool {
        let via = self.via(Transport::Udp);
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        let account = call
            .trunk
            .as_ref()
            .and_then(|name| self.trunks.iter().find(|t| &t.account.name == name))
            .map(|t| t.account.clone())
            .filter(|a| !a.username.is_empty());
        let (Some(account), 0) = (account, call.auth_rounds) else {
            return false;
        };
        let proxy = response.status.code() == 407;
        let Some(challenge) = strongest(challenges(response, proxy)) else {
            return false;
        };
        let uri = call.invite.uri.to_string();
        let cseq = msg::cseq_number(&call.invite.headers).unwrap_or(1) + 1;
        let credentials = Credentials::new(account.username, account.password);
        let cnonce = uuid::Uuid::new_v4().simple().to_string();
        let answer = respond(&challenge, &credentials, "INVITE", &uri, 1, &cnonce);
        let mut request = call.invite.clone();
        let replaced = [
            (HeaderName::Via, via),
            (HeaderName::CSeq, format!("{cseq} INVITE")),
            (challenge.response_header(), answer),
        ];
        for (name, value) in replaced {
            request.headers.remove_all(&name);
            let top = matches!(name, HeaderName::Via);
            match sipx_sip::Header::build(name, value) {
                Ok(header) if top => request.headers.push_front(header),
                Ok(header) => request.headers.push(header),
                Err(_) => return false,
            }
        }
        let Some(key) = TransactionKey::from_sent_request(&request) else {
            return false;
        };
        let flow = call.flow;
        let old_key = call.invite_key.clone();
        if let Some(call) = self.calls.get_mut(&id) {
            call.auth_rounds += 1;
            call.local_cseq = cseq;
            call.invite = request.clone();
            call.invite_key = key;
        }
        self.invites.remove(&old_key);
        if let Some(key) = self.send_request(flow, request, now) {
            self.invites.insert(key, id);
        }
        true
    }
}

/// Every digest challenge of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate).
fn challenges(response: &Response, proxy: bool) -> Vec<Challenge> {
    let name = if proxy {
        HeaderName::ProxyAuthenticate
    } else {
        HeaderName::WwwAuthenticate
    };
    response
        .headers
        .get_all(&name)
        .filter_map(|h| Challenge::parse(&h.value(), proxy))
        .collect()
}

/// The registration time the registrar granted: our Contact's `expires` (the
/// registrar lists every binding of the AOR, others' too), else the Expires header, else
/// what we asked for (RFC 3261 §10.2.4).
fn granted_expires(response: &Response, ours: &str, asked: u32) -> u32 {
    let from_contact = response
        .headers
        .get_all(&HeaderName::Contact)
        .filter_map(|h| sipx_sip::headers::Address::parse_list(&h.value(), "Contact").ok())
        .flatten()
        .find(|a| a.uri.to_string().eq_ignore_ascii_case(ours))
        .and_then(|a| {
            a.param("expires")
                .and_then(|e| std::str::from_utf8(e).ok()?.trim().parse::<u32>().ok())
        });
    let from_header =
        || msg::header(&response.headers, &HeaderName::Expires).and_then(|v| v.trim().parse().ok());
    from_contact
        .or_else(from_header)
        .filter(|e| *e > 0)
        .unwrap_or(asked)
}

fn build(
    method: Method,
    uri: &str,
    cseq: u32,
    headers: Vec<(HeaderName, String)>,
) -> Option<Request> {
    let uri = Uri::parse(Bytes::from(uri.to_owned())).ok()?;
    let mut builder = RequestBuilder::new(method.clone(), uri);
    for (name, value) in headers {
        builder = builder.header(name, value).ok()?;
    }
    Some(builder.max_forwards(70).cseq(cseq, &method).ok()?.build())
}
