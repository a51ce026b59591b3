//! The SIP user agent as a sans-IO state machine: the registrar, digest authentication,
//! the brute-force guard and the dialogs of a back-to-back user agent, over `sipx_sip`'s
//! transaction layer.
//!
//! Messages and time go in ([`UserAgent::on_message`], [`UserAgent::on_timeout`] and the
//! call commands), messages to send and call events come out ([`UserAgent::poll_output`]).
//! It owns no socket and reads no clock, so races (CANCEL against 200, re-INVITE glare,
//! lost ACKs, ban expiry) are unit-tested without sleeps; `stack.rs` is the async shell.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipx_sip::transaction::{Dispatch, Output as TxOutput, TuEvent};
use sipx_sip::{
    HeaderName, Message, Method, Reliability, Request, RequestBuilder, Response, Timer, Timers,
    TransactionKey, TransactionLayer, Uri,
};

use crate::digest::{Algorithm, Authenticator, DigestResponse, Verdict};
use crate::guard::{self, Admission, BanAction, Guard};
use crate::msg::{self, header};
use crate::registrar::{ContactUpdate, Registrar, DEFAULT_EXPIRES};
use crate::stack::{CallEvent, CallInfo, InviteError, Origin, StackConfig, Target};
use crate::timers::TimerQueue;
use crate::transport::{Flow, Transport};
use crate::validate;

use crate::validate::ALLOW;

/// A call's number inside the user agent.
pub(crate) type CallId = u64;

/// A new incoming call for the core (the shell attaches the handle and event queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewCall {
    pub id: CallId,
    pub info: CallInfo,
}

/// What the user agent asks its shell to do.
#[derive(Debug)]
pub(crate) enum Output {
    Send(Flow, Message),
    Incoming(NewCall),
    Event(CallId, CallEvent),
    /// The call's dialog is gone: no more events for it.
    Closed(CallId),
}

/// The addresses our Via and Contact headers advertise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalAddrs {
    pub udp: SocketAddr,
    pub tcp: Option<SocketAddr>,
}

impl LocalAddrs {
    fn of(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::Udp => self.udp,
            Transport::Tcp => self.tcp.unwrap_or(self.udp),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TimerId {
    Transaction(TransactionKey, Timer),
    /// Our 2xx to an INVITE, resent until the ACK comes (RFC 3261 §13.3.1.4).
    Retransmit2xx(CallId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Early,
    /// 2xx sent, waiting for the ACK.
    Answering {
        interval: Duration,
        give_up: Instant,
    },
    Confirmed,
    /// Outgoing call hung up before answer: CANCEL sent or due.
    Cancelling,
}

#[derive(Debug)]
struct Call {
    outgoing: bool,
    invite: Request,
    invite_key: TransactionKey,
    flow: Flow,
    call_id: String,
    local_tag: String,
    /// Our From (outgoing) or To (incoming) header value, tag included.
    local_header: String,
    /// The peer's header value, tag included once known.
    remote_header: String,
    remote_target: String,
    local_cseq: u32,
    phase: Phase,
    provisional_seen: bool,
    last_2xx: Option<Message>,
    ack: Option<Message>,
    reinvite: Option<(TransactionKey, Request)>,
}

/// Maps the monotonic clock the shell passes in onto wall-clock seconds (digest nonces
/// carry their issue time), without reading either clock here.
#[derive(Debug, Clone, Copy)]
struct Epoch {
    at: Instant,
    unix_secs: u64,
}

impl Epoch {
    fn unix(&self, now: Instant) -> u64 {
        self.unix_secs + now.saturating_duration_since(self.at).as_secs()
    }
}

pub(crate) struct UserAgent {
    config: StackConfig,
    local: LocalAddrs,
    epoch: Epoch,
    auth: Authenticator,
    guard: Guard,
    layer: TransactionLayer,
    timers: TimerQueue<TimerId>,
    /// Where each transaction's messages go.
    flows: HashMap<TransactionKey, Flow>,
    registrar: Registrar,
    calls: HashMap<CallId, Call>,
    /// (Call-ID, our tag) → call.
    dialogs: HashMap<(String, String), CallId>,
    /// INVITE transaction → call, for CANCEL and responses.
    invites: HashMap<TransactionKey, CallId>,
    next_call: CallId,
    out: VecDeque<Output>,
}

/// What the guard lets a request do.
enum Gate {
    Pass,
    Drop,
    /// A banned source, answered 403 (`ban_action = "forbidden"`).
    Forbid,
}

fn reliability(flow: Flow) -> Reliability {
    match flow.transport {
        Transport::Udp => Reliability::Unreliable,
        Transport::Tcp => Reliability::Reliable,
    }
}

impl UserAgent {
    /// `secret` seals nonces; `now`/`unix_secs` anchor the clock the shell will pass in.
    pub fn new(
        config: StackConfig,
        local: LocalAddrs,
        secret: &str,
        now: Instant,
        unix_secs: u64,
    ) -> Self {
        let mut guard = Guard::new(config.guard.clone());
        for (_, addr) in &config.trunks {
            guard.exempt(addr.ip());
        }
        Self {
            auth: Authenticator::new(config.realm.clone(), secret, config.nonce_lifetime_secs),
            guard,
            config,
            local,
            epoch: Epoch { at: now, unix_secs },
            layer: TransactionLayer::new(Timers::default()),
            timers: TimerQueue::default(),
            flows: HashMap::new(),
            registrar: Registrar::default(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            invites: HashMap::new(),
            next_call: 1,
            out: VecDeque::new(),
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    pub fn on_timeout(&mut self, now: Instant) {
        for id in self.timers.pop_due(now) {
            self.on_timer(id, now);
        }
    }

    // ---- plumbing between the transaction layer and the transports ----

    fn send(&mut self, flow: Flow, message: Message) {
        self.out.push_back(Output::Send(flow, message));
    }

    fn run_outputs(&mut self, key: &TransactionKey, outputs: Vec<TxOutput>, now: Instant) {
        for output in outputs {
            match output {
                TxOutput::Send(message) => {
                    if let Some(flow) = self.flows.get(key) {
                        self.out.push_back(Output::Send(*flow, *message));
                    }
                }
                TxOutput::SetTimer { timer, after } => self
                    .timers
                    .set(TimerId::Transaction(key.clone(), timer), now + after),
                TxOutput::ClearTimer(timer) => {
                    self.timers.clear(&TimerId::Transaction(key.clone(), timer));
                }
                TxOutput::ToTu(event) => self.on_tu(key, *event, now),
                TxOutput::Terminated(_) => self.forget_transaction(key),
                _ => {}
            }
        }
    }

    /// Answers a server transaction. A response that could not be built (a request whose
    /// headers cannot be echoed) ends the transaction unanswered: otherwise it would wait
    /// for an answer for ever.
    fn reply(&mut self, key: &TransactionKey, response: Option<Response>, now: Instant) {
        match response {
            Some(response) => {
                let response = with_server(&self.config.user_agent, response);
                let outputs = self.layer.send_response(key, response);
                self.run_outputs(key, outputs, now);
            }
            None => {
                tracing::debug!(?key, "no response could be built; transaction abandoned");
                self.layer.abandon(key);
                // An incoming call whose INVITE cannot be answered is lost with it.
                if let Some(id) = self.invites.get(key).copied() {
                    self.emit(id, CallEvent::Lost);
                    self.forget(id);
                }
                self.forget_transaction(key);
            }
        }
    }

    fn forget_transaction(&mut self, key: &TransactionKey) {
        self.flows.remove(key);
        self.invites.remove(key);
        for timer in Timer::ALL {
            self.timers.clear(&TimerId::Transaction(key.clone(), timer));
        }
    }

    fn send_request(
        &mut self,
        flow: Flow,
        request: Request,
        now: Instant,
    ) -> Option<TransactionKey> {
        let (key, outputs) = self.layer.send_request(request, reliability(flow))?;
        self.flows.insert(key.clone(), flow);
        self.run_outputs(&key, outputs, now);
        Some(key)
    }

    /// A message from the transports: parsed, or bytes that framed as SIP but did not parse.
    pub fn on_message(&mut self, message: Message, flow: Flow, now: Instant) {
        match message {
            Message::Request(request) => self.on_request(request, flow, now),
            Message::Response(response) => self.on_response(response, now),
        }
    }

    /// Bytes that framed as SIP but did not parse: a stateless 400 when one can be built.
    pub fn on_malformed(&mut self, raw: &[u8], flow: Flow, now: Instant) {
        match self.gate(flow, now) {
            Gate::Pass => self.send_stateless(raw, flow, 400, "malformed message"),
            Gate::Forbid => self.send_stateless(raw, flow, 403, "banned"),
            Gate::Drop => {}
        }
    }

    /// The guard's word on a request from `flow` (it counts the request).
    fn gate(&mut self, flow: Flow, now: Instant) -> Gate {
        match self.guard.admit(flow.remote.ip(), now) {
            Admission::Allow => Gate::Pass,
            Admission::RateLimited | Admission::Banned(BanAction::Drop) => Gate::Drop,
            Admission::Banned(BanAction::Forbidden) => Gate::Forbid,
        }
    }

    fn send_stateless(&mut self, raw: &[u8], flow: Flow, code: u16, why: &str) {
        if let Some(response) = msg::stateless_response(raw, code, why) {
            self.send(flow, response);
        }
    }

    fn on_request(&mut self, mut request: Request, flow: Flow, now: Instant) {
        match self.gate(flow, now) {
            Gate::Pass => {}
            Gate::Drop => return,
            Gate::Forbid => {
                self.answer_stateless(&request, flow, 403, "banned");
                return;
            }
        }
        if let Err(rejection) = validate::check_request(&request) {
            if request.method != Method::Ack {
                tracing::debug!(remote = %flow.remote, code = rejection.code, reason = %rejection.reason, "request refused");
                let response = msg::response(
                    &request,
                    rejection.code,
                    Some(&msg::new_tag()),
                    &rejection.extra,
                    None,
                );
                match response {
                    Some(response) => {
                        let response = with_server(&self.config.user_agent, response);
                        self.send(flow, Message::Response(response));
                    }
                    None => {
                        self.answer_stateless(&request, flow, rejection.code, &rejection.reason)
                    }
                }
            }
            return;
        }
        stamp_received(&mut request, flow);
        match self
            .layer
            .receive(Message::Request(request), reliability(flow))
        {
            Dispatch::Created { key, outputs } => {
                self.flows.insert(key.clone(), flow);
                self.run_outputs(&key, outputs, now);
            }
            Dispatch::Matched { key, outputs } => self.run_outputs(&key, outputs, now),
            Dispatch::Unmatched(message) => {
                if let Message::Request(request) = *message {
                    if request.method == Method::Ack {
                        self.on_ack(&request);
                    } else {
                        self.answer_stateless(&request, flow, 400, "no usable Via branch");
                    }
                }
            }
        }
    }

    fn answer_stateless(&mut self, request: &Request, flow: Flow, code: u16, why: &str) {
        if request.method == Method::Ack {
            return;
        }
        let mut raw = Vec::new();
        request.write_to(&mut raw);
        self.send_stateless(&raw, flow, code, why);
    }

    fn on_response(&mut self, response: Response, now: Instant) {
        match self
            .layer
            .receive(Message::Response(response), Reliability::Unreliable)
        {
            Dispatch::Matched { key, outputs } | Dispatch::Created { key, outputs } => {
                self.run_outputs(&key, outputs, now);
            }
            Dispatch::Unmatched(message) => {
                // A retransmitted 2xx after its transaction ended: the ACK was lost.
                if let Message::Response(response) = *message {
                    self.reack(&response);
                }
            }
        }
    }

    fn reack(&mut self, response: &Response) {
        if !response.status.is_success() {
            return;
        }
        let call_id = header(&response.headers, &HeaderName::CallId).unwrap_or_default();
        let from_tag = msg::tag(&response.headers, &HeaderName::From).unwrap_or_default();
        let resend = self
            .dialogs
            .get(&(call_id, from_tag))
            .and_then(|id| self.calls.get(id))
            .and_then(|call| Some((call.flow, call.ack.clone()?)));
        if let Some((flow, ack)) = resend {
            self.send(flow, ack);
        }
    }

    fn on_tu(&mut self, key: &TransactionKey, event: TuEvent, now: Instant) {
        match event {
            TuEvent::Request(request) => self.on_new_request(key, *request, now),
            TuEvent::Response(response) => self.on_tx_response(key, *response, now),
            TuEvent::Timeout | TuEvent::TransportError => {
                if let Some(id) = self.invites.get(key).copied() {
                    if self.calls.get(&id).is_some_and(|c| c.outgoing) {
                        self.emit(id, CallEvent::Failed { code: 408 });
                        self.forget(id);
                    }
                }
            }
            TuEvent::Ack(ack) => self.on_ack(&ack),
            _ => {}
        }
    }

    // ---- requests ----

    fn on_new_request(&mut self, key: &TransactionKey, request: Request, now: Instant) {
        let Some(flow) = self.flows.get(key).copied() else {
            return;
        };
        let in_dialog = msg::tag(&request.headers, &HeaderName::To).is_some();
        match request.method {
            Method::Register => self.on_register(key, &request, flow, now),
            Method::Options => {
                let extra = [
                    (HeaderName::Allow, ALLOW.to_owned()),
                    (HeaderName::Accept, "application/sdp".to_owned()),
                ];
                let response = msg::response(&request, 200, Some(&msg::new_tag()), &extra, None);
                self.reply(key, response, now);
            }
            Method::Invite if !in_dialog => self.on_invite(key, request, flow, now),
            Method::Cancel => self.on_cancel(key, &request, now),
            Method::Invite | Method::Bye | Method::Info => match self.dialog_of(&request) {
                Some(id) => self.on_in_dialog(key, id, request, now),
                None => {
                    let response = msg::response(&request, 481, None, &[], None);
                    self.reply(key, response, now);
                }
            },
            _ => {
                let extra = [(HeaderName::Allow, ALLOW.to_owned())];
                let response = msg::response(&request, 501, None, &extra, None);
                self.reply(key, response, now);
            }
        }
    }

    fn dialog_of(&self, request: &Request) -> Option<CallId> {
        let to_tag = msg::tag(&request.headers, &HeaderName::To)?;
        self.dialogs.get(&(msg::call_id(request), to_tag)).copied()
    }

    fn on_register(&mut self, key: &TransactionKey, request: &Request, flow: Flow, now: Instant) {
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
    fn contact_flow(&self, user: &str, contact: &Uri, flow: Flow) -> Flow {
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

    /// Digest-checks a request; answers the challenge or the refusal itself and returns
    /// the authenticated user only when the request may proceed.
    fn authenticate(
        &mut self,
        key: &TransactionKey,
        request: &Request,
        flow: Flow,
        header_name: HeaderName,
        now: Instant,
    ) -> Option<String> {
        let unix = self.epoch.unix(now);
        let answer = header(&request.headers, &header_name)
            .as_deref()
            .and_then(DigestResponse::parse);
        let method = request.method.to_string();
        let Some(answer) = answer else {
            self.challenge(key, request, flow, &header_name, None, false, now);
            return None;
        };
        let endpoint = self.config.endpoints.get(&answer.username).cloned();
        let verdict = match &endpoint {
            Some(endpoint) if answer.realm == self.auth.realm() => {
                let algorithms = self.algorithms_of(Some(&answer.username)).to_vec();
                self.auth.verify(
                    &answer,
                    &method,
                    &endpoint.password,
                    flow.remote.ip(),
                    unix,
                    &algorithms,
                )
            }
            _ => Verdict::Forged,
        };
        match verdict {
            Verdict::Ok => Some(answer.username),
            Verdict::Stale => {
                let user = answer.username.clone();
                self.challenge(key, request, flow, &header_name, Some(&user), true, now);
                None
            }
            Verdict::Forged => {
                let reason = if endpoint.is_none() {
                    "unknown user"
                } else {
                    "wrong password"
                };
                guard::log_auth_failure(flow.remote, &answer.username, &method, reason);
                self.guard.auth_failed(flow.remote.ip(), now);
                let response = msg::response(request, 403, Some(&msg::new_tag()), &[], None);
                self.reply(key, response, now);
                None
            }
        }
    }

    fn algorithms_of(&self, user: Option<&str>) -> &[Algorithm] {
        user.and_then(|u| self.config.endpoints.get(u))
            .and_then(|e| e.algorithms.as_deref())
            .unwrap_or(&self.config.algorithms)
    }

    #[allow(clippy::too_many_arguments)]
    fn challenge(
        &mut self,
        key: &TransactionKey,
        request: &Request,
        flow: Flow,
        header_name: &HeaderName,
        user: Option<&str>,
        stale: bool,
        now: Instant,
    ) {
        let (code, name) = if matches!(header_name, HeaderName::ProxyAuthorization) {
            (407, HeaderName::ProxyAuthenticate)
        } else {
            (401, HeaderName::WwwAuthenticate)
        };
        // Before the user is known, offer what the From user's endpoint accepts.
        let from_user = msg::party(&request.headers, &HeaderName::From).0;
        let algorithms = self
            .algorithms_of(Some(user.unwrap_or(&from_user)))
            .to_vec();
        let unix = self.epoch.unix(now);
        let extra: Vec<_> = self
            .auth
            .challenges(unix, flow.remote.ip(), &algorithms, stale)
            .into_iter()
            .map(|c| (name.clone(), c))
            .collect();
        let response = msg::response(request, code, Some(&msg::new_tag()), &extra, None);
        self.reply(key, response, now);
    }

    fn on_invite(&mut self, key: &TransactionKey, request: Request, flow: Flow, now: Instant) {
        let trunk = self
            .config
            .trunks
            .iter()
            .find(|(_, addr)| *addr == flow.remote)
            .map(|(name, _)| name.clone());
        let origin = match trunk {
            Some(name) => Origin::Trunk(name),
            None => {
                match self.authenticate(key, &request, flow, HeaderName::ProxyAuthorization, now) {
                    Some(user) => Origin::Endpoint(user),
                    None => return,
                }
            }
        };
        let id = self.next_call;
        self.next_call += 1;
        let local_tag = msg::new_tag();
        let call_id = msg::call_id(&request);
        let (caller, caller_name) = msg::party(&request.headers, &HeaderName::From);
        let callee = request
            .uri
            .user()
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_default();
        let offer = (!request.body().is_empty())
            .then(|| String::from_utf8_lossy(request.body()).into_owned());
        let to = header(&request.headers, &HeaderName::To).unwrap_or_default();
        let call = Call {
            outgoing: false,
            invite_key: key.clone(),
            flow,
            call_id: call_id.clone(),
            local_header: format!("{to};tag={local_tag}"),
            remote_header: header(&request.headers, &HeaderName::From).unwrap_or_default(),
            remote_target: msg::contact_uri(&request.headers)
                .unwrap_or_else(|| request.uri.to_string()),
            local_tag: local_tag.clone(),
            local_cseq: 1,
            phase: Phase::Early,
            provisional_seen: false,
            last_2xx: None,
            ack: None,
            reinvite: None,
            invite: request.clone(),
        };
        let response = msg::response(&request, 100, None, &[], None);
        self.reply(key, response, now);
        self.calls.insert(id, call);
        self.dialogs.insert((call_id.clone(), local_tag), id);
        self.invites.insert(key.clone(), id);
        let info = CallInfo {
            origin,
            caller,
            caller_name,
            callee,
            call_id,
            offer,
        };
        self.out.push_back(Output::Incoming(NewCall { id, info }));
    }

    fn on_cancel(&mut self, key: &TransactionKey, request: &Request, now: Instant) {
        let invite = TransactionKey::for_cancelled_invite(request)
            .and_then(|k| self.invites.get(&k).copied().map(|id| (k, id)));
        let Some((invite_key, id)) = invite else {
            let response = msg::response(request, 481, None, &[], None);
            self.reply(key, response, now);
            return;
        };
        let response = msg::response(request, 200, None, &[], None);
        self.reply(key, response, now);
        // CANCEL racing our 200: the 200 wins, the call goes on (RFC 3261 §9.2).
        let early = self
            .calls
            .get(&id)
            .filter(|c| !c.outgoing && c.phase == Phase::Early)
            .map(|c| (c.invite.clone(), c.local_tag.clone()));
        if let Some((invite, tag)) = early {
            let response = msg::response(&invite, 487, Some(&tag), &[], None);
            self.reply(&invite_key, response, now);
            self.emit(id, CallEvent::Cancelled);
            self.forget(id);
        }
    }

    fn on_in_dialog(&mut self, key: &TransactionKey, id: CallId, request: Request, now: Instant) {
        match request.method {
            Method::Bye => {
                let response = msg::response(&request, 200, None, &[], None);
                self.reply(key, response, now);
                self.emit(id, CallEvent::Bye);
                self.forget(id);
            }
            Method::Info => {
                let dtmf = dtmf_relay(&String::from_utf8_lossy(request.body()));
                let response = msg::response(&request, 200, None, &[], None);
                self.reply(key, response, now);
                if let Some((digit, duration_ms)) = dtmf {
                    self.emit(id, CallEvent::Dtmf { digit, duration_ms });
                }
            }
            _ => {
                // re-INVITE; one at a time (glare is answered 491, RFC 3261 §14.2)
                let pending = self.calls.get(&id).is_some_and(|c| c.reinvite.is_some());
                if pending {
                    let response = msg::response(&request, 491, None, &[], None);
                    self.reply(key, response, now);
                    return;
                }
                let sdp = (!request.body().is_empty())
                    .then(|| String::from_utf8_lossy(request.body()).into_owned());
                if let Some(call) = self.calls.get_mut(&id) {
                    if let Some(target) = msg::contact_uri(&request.headers) {
                        call.remote_target = target;
                    }
                    call.reinvite = Some((key.clone(), request));
                }
                self.emit(id, CallEvent::Reinvite { sdp });
            }
        }
    }

    fn on_ack(&mut self, ack: &Request) {
        let Some(id) = self.dialog_of(ack) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if matches!(call.phase, Phase::Answering { .. }) {
            call.phase = Phase::Confirmed;
            call.last_2xx = None;
            self.timers.clear(&TimerId::Retransmit2xx(id));
            let sdp =
                (!ack.body().is_empty()).then(|| String::from_utf8_lossy(ack.body()).into_owned());
            self.emit(id, CallEvent::Acked { sdp });
        }
    }

    // ---- responses to our requests ----

    fn on_tx_response(&mut self, key: &TransactionKey, response: Response, now: Instant) {
        let Some(id) = self.invites.get(key).copied() else {
            return; // BYE, CANCEL, re-INVITE answers: nothing to do
        };
        let code = response.status.code();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if code < 200 {
            if code == 100 {
                return;
            }
            call.provisional_seen = true;
            if call.phase == Phase::Cancelling {
                self.send_cancel(id, now);
                return;
            }
            self.emit(
                id,
                CallEvent::Provisional {
                    code,
                    sdp: body_of(&response),
                },
            );
            return;
        }
        if code >= 300 {
            if call.phase != Phase::Cancelling {
                self.emit(id, CallEvent::Failed { code });
            }
            self.forget(id);
            return;
        }
        if call.ack.is_some() {
            self.reack(&response);
            return;
        }
        if msg::tag(&response.headers, &HeaderName::To).is_some() {
            call.remote_header = header(&response.headers, &HeaderName::To).unwrap_or_default();
        }
        if let Some(target) = msg::contact_uri(&response.headers) {
            call.remote_target = target;
        }
        let cseq = msg::cseq_number(&call.invite.headers).unwrap_or(1);
        let ack = self.in_dialog_request(id, Method::Ack, cseq, &[], None);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let ack = ack.map(Message::Request);
        call.ack.clone_from(&ack);
        let flow = call.flow;
        let cancelling = call.phase == Phase::Cancelling;
        if let Some(ack) = ack {
            self.send(flow, ack);
        }
        if cancelling {
            // Answered while we were cancelling: ACK it, then end it (RFC 3261 §9.1).
            self.send_bye(id, now);
            return;
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Confirmed;
        }
        self.emit(
            id,
            CallEvent::Answered {
                sdp: body_of(&response),
            },
        );
    }

    // ---- commands from the core ----

    /// A provisional or final response to an incoming call's INVITE.
    pub fn respond(&mut self, id: CallId, code: u16, sdp: Option<String>, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.outgoing || call.phase != Phase::Early {
            return;
        }
        let mut extra = vec![self.contact_header(call.flow.transport)];
        if code >= 200 {
            extra.push((HeaderName::Allow, ALLOW.to_owned()));
        }
        let response = msg::response(
            &call.invite,
            code,
            Some(&call.local_tag),
            &extra,
            sdp.as_deref(),
        );
        let key = call.invite_key.clone();
        let unreliable = reliability(call.flow) == Reliability::Unreliable;
        if (200..300).contains(&code) {
            let t1 = Timers::default().t1;
            if let Some(call) = self.calls.get_mut(&id) {
                call.phase = Phase::Answering {
                    interval: t1,
                    give_up: now + t1 * 64,
                };
                call.last_2xx = response
                    .clone()
                    .map(|r| Message::Response(with_server(&self.config.user_agent, r)));
            }
            if unreliable {
                self.timers.set(TimerId::Retransmit2xx(id), now + t1);
            }
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.provisional_seen |= code < 200;
        }
        self.reply(&key, response, now);
        if code >= 300 {
            self.forget(id);
        }
    }

    /// Ends the call the way its state allows.
    pub fn hangup(&mut self, id: CallId, code: u16, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match (call.outgoing, call.phase) {
            (false, Phase::Early) => self.respond(id, code.max(300), None, now),
            (true, Phase::Early) => {
                call.phase = Phase::Cancelling;
                // A CANCEL may only follow a provisional response (RFC 3261 §9.1).
                if call.provisional_seen {
                    self.send_cancel(id, now);
                }
            }
            (_, Phase::Cancelling) => {}
            (_, Phase::Answering { .. } | Phase::Confirmed) => self.send_bye(id, now),
        }
    }

    pub fn answer_reinvite(&mut self, id: CallId, sdp: Result<String, u16>, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some((key, request)) = call.reinvite.take() else {
            return;
        };
        let transport = call.flow.transport;
        let response = match &sdp {
            Ok(sdp) => {
                let contact = self.contact_header(transport);
                msg::response(&request, 200, None, &[contact], Some(sdp))
            }
            Err(code) => msg::response(&request, *code, None, &[], None),
        };
        self.reply(&key, response, now);
    }

    pub fn send_info_dtmf(&mut self, id: CallId, digit: char, duration_ms: u32, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
        let request = self.in_dialog_request(
            id,
            Method::Info,
            cseq,
            &[],
            Some(("application/dtmf-relay", &body)),
        );
        if let Some(request) = request {
            self.send_request(flow, request, now);
        }
    }

    /// 302 before answer, REFER after.
    pub fn redirect(&mut self, id: CallId, target: &Target, now: Instant) {
        let uri = match self.resolve(target, now) {
            Ok((uri, _, _)) => uri,
            Err(e) => {
                tracing::info!(error = %e, "redirect target cannot be resolved");
                return;
            }
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.outgoing && call.phase == Phase::Early {
            let extra = [(HeaderName::Contact, format!("<{uri}>"))];
            let response = msg::response(&call.invite, 302, Some(&call.local_tag), &extra, None);
            let key = call.invite_key.clone();
            self.reply(&key, response, now);
            self.forget(id);
            return;
        }
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        let refer_to = [(HeaderName::ReferTo, format!("<{uri}>"))];
        if let Some(request) = self.in_dialog_request(id, Method::Refer, cseq, &refer_to, None) {
            self.send_request(flow, request, now);
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

    /// Starts an outgoing call.
    pub fn invite(
        &mut self,
        target: &Target,
        caller: &str,
        caller_name: Option<&str>,
        offer: Option<String>,
        now: Instant,
    ) -> Result<CallId, InviteError> {
        let (request_uri, flow, to_uri) = self.resolve(target, now)?;
        let local = self.local.of(flow.transport);
        let local_tag = msg::new_tag();
        let call_id = format!("{}@switchboard", uuid::Uuid::new_v4().simple());
        let display = caller_name
            .map(|n| format!("{} ", msg::quoted(n)))
            .unwrap_or_default();
        // A From URI needs a user part: calls without a caller id go out as anonymous.
        let caller = if caller.is_empty() {
            "anonymous".to_owned()
        } else {
            msg::uri_user(caller)
        };
        let from = format!("{display}<sip:{caller}@{}>;tag={local_tag}", local.ip());
        let to = format!("<{to_uri}>");
        let uri = parse_uri(&request_uri)?;
        let mut builder = RequestBuilder::new(Method::Invite, uri);
        let (_, contact) = self.contact_header(flow.transport);
        let mut headers = vec![
            (HeaderName::Via, self.via(flow.transport)),
            (HeaderName::From, from.clone()),
            (HeaderName::To, to.clone()),
            (HeaderName::CallId, call_id.clone()),
            (HeaderName::Contact, contact),
            (HeaderName::Allow, ALLOW.to_owned()),
        ];
        if !self.config.user_agent.is_empty() {
            headers.push((HeaderName::UserAgent, self.config.user_agent.clone()));
        }
        for (name, value) in headers {
            builder = builder
                .header(name, value)
                .map_err(|_| InviteError::BadHeader)?;
        }
        builder = builder
            .max_forwards(70)
            .cseq(1, &Method::Invite)
            .map_err(|_| InviteError::BadHeader)?;
        if let Some(offer) = offer.filter(|o| !o.is_empty()) {
            builder = builder
                .header(HeaderName::ContentType, "application/sdp")
                .map_err(|_| InviteError::BadHeader)?
                .body(Bytes::from(offer));
        }
        let request = builder.build();
        let key = TransactionKey::from_sent_request(&request)
            .ok_or_else(|| InviteError::BadUri(request_uri.clone()))?;
        let id = self.next_call;
        self.next_call += 1;
        self.calls.insert(
            id,
            Call {
                outgoing: true,
                invite: request.clone(),
                invite_key: key.clone(),
                flow,
                call_id: call_id.clone(),
                local_tag: local_tag.clone(),
                local_header: from,
                remote_header: to,
                remote_target: request_uri,
                local_cseq: 1,
                phase: Phase::Early,
                provisional_seen: false,
                last_2xx: None,
                ack: None,
                reinvite: None,
            },
        );
        self.dialogs.insert((call_id, local_tag), id);
        self.invites.insert(key, id);
        self.send_request(flow, request, now);
        Ok(id)
    }

    /// The SIP Call-ID of a call.
    pub fn call_id(&self, id: CallId) -> Option<&str> {
        self.calls.get(&id).map(|c| c.call_id.as_str())
    }

    fn send_cancel(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let invite = &call.invite;
        let mut builder = RequestBuilder::new(Method::Cancel, invite.uri.clone());
        // CANCEL copies the INVITE's Via, From, To and Call-ID (RFC 3261 §9.1).
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(value) = invite.headers.value(&name) {
                match builder.header(name, value.into_owned()) {
                    Ok(b) => builder = b,
                    Err(_) => return,
                }
            }
        }
        let cseq = msg::cseq_number(&invite.headers).unwrap_or(1);
        let Ok(builder) = builder.max_forwards(70).cseq(cseq, &Method::Cancel) else {
            return;
        };
        let flow = call.flow;
        self.send_request(flow, builder.build(), now);
    }

    fn send_bye(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        if let Some(request) = self.in_dialog_request(id, Method::Bye, cseq, &[], None) {
            self.send_request(flow, request, now);
        }
        self.forget(id);
    }

    fn via(&self, transport: Transport) -> String {
        format!(
            "SIP/2.0/{} {};branch={};rport",
            transport.via_name(),
            self.local.of(transport),
            msg::new_branch()
        )
    }

    /// An in-dialog request (ACK, BYE, INFO, REFER) from the dialog's state.
    fn in_dialog_request(
        &self,
        id: CallId,
        method: Method,
        cseq: u32,
        extra: &[(HeaderName, String)],
        body: Option<(&str, &str)>,
    ) -> Option<Request> {
        let call = self.calls.get(&id)?;
        let uri = parse_uri(&call.remote_target).ok()?;
        let mut headers = vec![
            (HeaderName::Via, self.via(call.flow.transport)),
            (HeaderName::From, call.local_header.clone()),
            (HeaderName::To, call.remote_header.clone()),
            (HeaderName::CallId, call.call_id.clone()),
        ];
        if !self.config.user_agent.is_empty() {
            headers.push((HeaderName::UserAgent, self.config.user_agent.clone()));
        }
        headers.extend(extra.iter().cloned());
        let mut builder = RequestBuilder::new(method.clone(), uri);
        for (name, value) in headers {
            builder = builder.header(name, value).ok()?;
        }
        builder = builder.max_forwards(70).cseq(cseq, &method).ok()?;
        if let Some((kind, body)) = body {
            builder = builder
                .header(HeaderName::ContentType, kind.to_owned())
                .ok()?
                .body(Bytes::from(body.to_owned()));
        }
        Some(builder.build())
    }

    fn resolve(
        &self,
        target: &Target,
        now: Instant,
    ) -> Result<(String, Flow, String), InviteError> {
        match target {
            Target::Endpoint(aor) => {
                let binding = self
                    .registrar
                    .lookup(aor, now)
                    .into_iter()
                    .next()
                    .ok_or_else(|| InviteError::NotRegistered(aor.clone()))?;
                let host = binding.target.remote;
                Ok((binding.contact, binding.target, format!("sip:{aor}@{host}")))
            }
            Target::Trunk { name, number } => {
                let (_, addr) = self
                    .config
                    .trunks
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| InviteError::UnknownTrunk(name.clone()))?;
                let uri = format!("sip:{}@{addr}", msg::uri_user(number));
                let flow = Flow {
                    transport: Transport::Udp,
                    remote: *addr,
                };
                Ok((uri.clone(), flow, uri))
            }
            Target::Uri(uri) => {
                let parsed = parse_uri(uri)?;
                let host = parsed
                    .host()
                    .map(|h| String::from_utf8_lossy(&h.to_bytes()).into_owned())
                    .ok_or_else(|| InviteError::BadUri(uri.clone()))?;
                let ip: IpAddr = match host.trim_matches(['[', ']']) {
                    "localhost" => IpAddr::from([127, 0, 0, 1]),
                    other => other
                        .parse()
                        .map_err(|_| InviteError::BadUri(uri.clone()))?,
                };
                let tcp = uri.to_ascii_lowercase().contains("transport=tcp");
                let flow = Flow {
                    transport: if tcp { Transport::Tcp } else { Transport::Udp },
                    remote: SocketAddr::new(ip, parsed.port().unwrap_or(5060)),
                };
                Ok((uri.clone(), flow, uri.clone()))
            }
        }
    }

    fn contact_header(&self, transport: Transport) -> (HeaderName, String) {
        let local = self.local.of(transport);
        let param = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        (
            HeaderName::Contact,
            format!("<sip:switchboard@{local}{param}>"),
        )
    }

    // ---- timers and bookkeeping ----

    fn on_timer(&mut self, id: TimerId, now: Instant) {
        match id {
            TimerId::Transaction(key, timer) => {
                let outputs = self.layer.on_timer(&key, timer);
                self.run_outputs(&key, outputs, now);
            }
            TimerId::Retransmit2xx(call_id) => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                let Phase::Answering { interval, give_up } = call.phase else {
                    return;
                };
                if now >= give_up {
                    // No ACK in 64*T1: the dialog is dead (RFC 3261 §13.3.1.4).
                    self.emit(call_id, CallEvent::Lost);
                    self.send_bye(call_id, now);
                    return;
                }
                let next = (interval * 2).min(Timers::default().t2);
                call.phase = Phase::Answering {
                    interval: next,
                    give_up,
                };
                let resend = call.last_2xx.clone().map(|r| (call.flow, r));
                if let Some((flow, response)) = resend {
                    self.send(flow, response);
                }
                self.timers.set(TimerId::Retransmit2xx(call_id), now + next);
            }
        }
    }

    fn emit(&mut self, id: CallId, event: CallEvent) {
        if self.calls.contains_key(&id) {
            self.out.push_back(Output::Event(id, event));
        }
    }

    /// Drops a call's dialog state; its transactions finish on their own timers.
    fn forget(&mut self, id: CallId) {
        if let Some(call) = self.calls.remove(&id) {
            self.dialogs.remove(&(call.call_id, call.local_tag));
            self.timers.clear(&TimerId::Retransmit2xx(id));
            if !call.outgoing {
                self.invites.remove(&call.invite_key);
            }
            self.out.push_back(Output::Closed(id));
        }
    }
}

/// Our `Server` header on a response, unless configured empty.
fn with_server(user_agent: &str, response: Response) -> Response {
    let mut response = response;
    if !user_agent.is_empty() {
        if let Ok(server) = sipx_sip::Header::build(HeaderName::Server, user_agent.to_owned()) {
            response.headers.push(server);
        }
    }
    response
}

fn parse_uri(uri: &str) -> Result<Uri, InviteError> {
    Uri::parse(Bytes::from(uri.to_owned())).map_err(|_| InviteError::BadUri(uri.to_owned()))
}

fn body_of(response: &Response) -> Option<String> {
    (!response.body().is_empty()).then(|| String::from_utf8_lossy(response.body()).into_owned())
}

/// Adds `received` and fills `rport` on the top Via (RFC 3261 §18.2.1, RFC 3581).
fn stamp_received(request: &mut Request, flow: Flow) {
    let Some(index) = request
        .headers
        .iter()
        .position(|h| matches!(h.name(), HeaderName::Via))
    else {
        return;
    };
    let Some(top) = request.headers.iter().nth(index) else {
        return;
    };
    let value = String::from_utf8_lossy(&top.value()).into_owned();
    let (first, rest) = match value.split_once(',') {
        Some((first, rest)) => (first.to_owned(), format!(",{rest}")),
        None => (value.clone(), String::new()),
    };
    let mut params: Vec<String> = first.split(';').map(str::to_owned).collect();
    let has_rport = params
        .iter_mut()
        .skip(1)
        .find(|p| p.trim().eq_ignore_ascii_case("rport") || p.trim().starts_with("rport="));
    let rport = match has_rport {
        Some(p) => {
            *p = format!("rport={}", flow.remote.port());
            true
        }
        None => false,
    };
    // `received` when the sent-by host is not where the request came from, and always
    // alongside a filled-in `rport` (RFC 3581 §4).
    let source = flow.remote.ip().to_string();
    let sent_by_matches = first
        .split_whitespace()
        .nth(1)
        .is_some_and(|sent_by| sent_by.starts_with(&source));
    if rport || !sent_by_matches {
        params.push(format!("received={source}"));
    }
    let rebuilt = format!("{}{rest}", params.join(";"));
    if let Ok(header) = sipx_sip::Header::build(HeaderName::Via, rebuilt) {
        let mut headers = sipx_sip::Headers::new();
        for (i, h) in request.headers.iter().enumerate() {
            headers.push(if i == index {
                header.clone()
            } else {
                h.clone()
            });
        }
        request.headers = headers;
    }
}

/// `Signal=5\r\nDuration=160` (application/dtmf-relay).
fn dtmf_relay(body: &str) -> Option<(char, u32)> {
    let mut digit = None;
    let mut duration = 250;
    for line in body.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "signal" => digit = value.trim().chars().next(),
            "duration" => duration = value.trim().parse().unwrap_or(duration),
            _ => {}
        }
    }
    digit
        .map(|d| d.to_ascii_uppercase())
        .filter(|d| d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D'))
        .map(|d| (d, duration))
}

/// RFC 4475's messages, for the tests below (the file lives with the crate's torture test).
#[cfg(test)]
#[path = "../tests/torture/vectors.rs"]
mod torture_vectors;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::GuardConfig;
    use crate::stack::EndpointAuth;
    use sipx_sip::auth::{respond, Challenge, Credentials};

    const SECRET: &str = "test-secret";

    fn config() -> StackConfig {
        let endpoint = EndpointAuth {
            password: "pw1000".into(),
            ..EndpointAuth::default()
        };
        StackConfig {
            udp: "127.0.0.1:5060".parse().unwrap(),
            tcp: None,
            realm: "switchboard".into(),
            endpoints: [("1000".to_owned(), endpoint)].into_iter().collect(),
            trunks: vec![("carrier".into(), "127.0.0.9:5080".parse().unwrap())],
            user_agent: "switchboard-test".into(),
            algorithms: vec![Algorithm::Md5],
            nonce_lifetime_secs: 300,
            guard: GuardConfig::default(),
            limits: crate::transport::TransportLimits::default(),
        }
    }

    struct Harness {
        ua: UserAgent,
        now: Instant,
    }

    fn udp(addr: &str) -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: addr.parse().unwrap(),
        }
    }

    impl Harness {
        fn new(config: StackConfig) -> Self {
            let now = Instant::now();
            let local = LocalAddrs {
                udp: config.udp,
                tcp: None,
            };
            Self {
                ua: UserAgent::new(config, local, SECRET, now, 1_800_000_000),
                now,
            }
        }

        fn advance(&mut self, by: Duration) {
            self.now += by;
            self.ua.on_timeout(self.now);
        }

        fn recv(&mut self, text: &str, flow: Flow) {
            let message = msg::build(text.to_owned()).expect("test message parses");
            self.ua.on_message(message, flow, self.now);
        }

        fn outputs(&mut self) -> Vec<Output> {
            std::iter::from_fn(|| self.ua.poll_output()).collect()
        }

        /// Status codes sent, in order.
        fn sent_codes(outputs: &[Output]) -> Vec<u16> {
            outputs
                .iter()
                .filter_map(|o| match o {
                    Output::Send(_, Message::Response(r)) => Some(r.status.code()),
                    _ => None,
                })
                .collect()
        }
    }

    fn sent_responses(outputs: &[Output]) -> Vec<&Response> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(_, Message::Response(r)) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn invite(call_id: &str, branch: &str, auth: Option<&str>) -> String {
        let auth = auth
            .map(|a| format!("Proxy-Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "INVITE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=a1\r\nTo: <sip:101@127.0.0.1>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:1000@127.0.0.1:5070>\r\n{auth}\
             Content-Length: 0\r\n\r\n"
        )
    }

    fn answer(response: &Response, password: &str, nc: u32) -> String {
        let value = response
            .headers
            .value(&HeaderName::ProxyAuthenticate)
            .or_else(|| response.headers.value(&HeaderName::WwwAuthenticate))
            .expect("a challenge");
        let challenge = Challenge::parse(&value, true).expect("challenge parses");
        respond(
            &challenge,
            &Credentials::new("1000", password),
            "INVITE",
            "sip:101@127.0.0.1",
            nc,
            "c0ffee",
        )
    }

    fn incoming(outputs: &[Output]) -> Option<&NewCall> {
        outputs.iter().find_map(|o| match o {
            Output::Incoming(call) => Some(call),
            _ => None,
        })
    }

    /// Challenges, answers, and returns the accepted call and the credentials used.
    fn authenticated_call(h: &mut Harness, flow: Flow) -> (CallId, String) {
        h.recv(&invite("c1", "1", None), flow);
        let out = h.outputs();
        let challenge = sent_responses(&out)[0].clone();
        assert_eq!(challenge.status.code(), 407);
        let auth = answer(&challenge, "pw1000", 1);
        h.recv(&invite("c1", "2", Some(&auth)), flow);
        let out = h.outputs();
        let call = incoming(&out)
            .expect("the answered challenge is accepted")
            .id;
        (call, auth)
    }

    #[test]
    fn every_challenge_has_its_own_nonce_and_a_server_header() {
        let mut h = Harness::new(config());
        h.recv(&invite("c1", "1", None), udp("127.0.0.1:5070"));
        h.recv(&invite("c2", "2", None), udp("127.0.0.1:5070"));
        let out = h.outputs();
        let nonces: Vec<_> = sent_responses(&out)
            .iter()
            .map(|r| r.headers.value(&HeaderName::ProxyAuthenticate).unwrap())
            .collect();
        assert_eq!(nonces.len(), 2);
        assert_ne!(nonces[0], nonces[1]);
        let server = sent_responses(&out)[0].headers.value(&HeaderName::Server);
        assert_eq!(server.as_deref(), Some(&b"switchboard-test"[..]));
    }

    #[test]
    fn an_empty_user_agent_sends_no_server_header() {
        let mut config = config();
        config.user_agent = String::new();
        let mut h = Harness::new(config);
        h.recv(&invite("c1", "1", None), udp("127.0.0.1:5070"));
        let out = h.outputs();
        assert!(sent_responses(&out)[0]
            .headers
            .value(&HeaderName::Server)
            .is_none());
        h.ua.invite(
            &Target::Uri("sip:2000@127.0.0.1:5090".into()),
            "1000",
            None,
            None,
            h.now,
        )
        .unwrap();
        let invite = h.outputs().into_iter().find_map(|o| match o {
            Output::Send(_, Message::Request(r)) => Some(r),
            _ => None,
        });
        assert!(invite
            .unwrap()
            .headers
            .value(&HeaderName::UserAgent)
            .is_none());
    }

    #[test]
    fn a_header_value_with_a_line_break_is_never_sent() {
        let mut h = Harness::new(config());
        let target = Target::Uri("sip:2000@127.0.0.1:5090".into());
        let refused =
            h.ua.invite(&target, "1000", Some("Eve\r\nX-Evil: 1"), None, h.now);
        // The display name loses its control characters; the call goes out intact.
        assert!(refused.is_ok());
        let sent: Vec<_> = h
            .outputs()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send(_, m) => Some(m.to_bytes()),
                _ => None,
            })
            .collect();
        let text = String::from_utf8_lossy(&sent[0]);
        assert!(text.contains("From: \"EveX-Evil: 1\" <sip:1000@"), "{text}");
        assert!(!text.contains("\r\nX-Evil"), "{text}");
    }

    #[test]
    fn replayed_invite_credentials_are_challenged_again() {
        let mut h = Harness::new(config());
        let (_, auth) = authenticated_call(&mut h, udp("127.0.0.1:5070"));
        // The same header, a new call, from another port: no new call, a fresh challenge.
        h.recv(&invite("c9", "9", Some(&auth)), udp("127.0.0.1:6666"));
        let out = h.outputs();
        assert!(incoming(&out).is_none(), "replayed credentials made a call");
        assert_eq!(Harness::sent_codes(&out), vec![407]);
        let challenge = sent_responses(&out)[0]
            .headers
            .value(&HeaderName::ProxyAuthenticate)
            .unwrap();
        assert!(String::from_utf8_lossy(&challenge).contains("stale=true"));
    }

    #[test]
    fn cancel_before_answer_gets_487_and_after_answer_loses_the_race() {
        let mut h = Harness::new(config());
        let flow = udp("127.0.0.1:5070");
        let (call, auth) = authenticated_call(&mut h, flow);
        let cancel = invite("c1", "2", Some(&auth))
            .replacen("INVITE sip", "CANCEL sip", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
        h.recv(&cancel, flow);
        let out = h.outputs();
        assert_eq!(Harness::sent_codes(&out), vec![200, 487]);
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Event(id, CallEvent::Cancelled) if *id == call)));

        // Second call: answered first, then the CANCEL arrives: 200 to the CANCEL only.
        let mut h = Harness::new(config());
        let (call, _) = authenticated_call(&mut h, flow);
        h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
        assert_eq!(Harness::sent_codes(&h.outputs()), vec![200]);
        h.recv(&cancel, flow);
        let out = h.outputs();
        assert_eq!(Harness::sent_codes(&out), vec![200]);
        assert!(!out
            .iter()
            .any(|o| matches!(o, Output::Event(_, CallEvent::Cancelled))));
    }

    fn ack_for(response: &Response) -> String {
        let to = header(&response.headers, &HeaderName::To).unwrap();
        format!(
            "ACK sip:switchboard@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=a1\r\nTo: {to}\r\nCall-ID: c1\r\n\
             CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        )
    }

    #[test]
    fn a_2xx_is_resent_with_backoff_until_the_ack() {
        let mut h = Harness::new(config());
        let flow = udp("127.0.0.1:5070");
        let (call, _) = authenticated_call(&mut h, flow);
        h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
        let ok = sent_responses(&h.outputs())[0].clone();
        // T1 = 500 ms, doubling to T2 = 4 s: resent at 0.5, 1.5 and 3.5 s. (The
        // unacknowledged 407 of the challenge is resent too; it is not counted.)
        let mut resent = Vec::new();
        for _ in 0..40 {
            h.advance(Duration::from_millis(100));
            resent.extend(
                Harness::sent_codes(&h.outputs())
                    .into_iter()
                    .filter(|c| *c == 200),
            );
        }
        assert_eq!(resent, vec![200, 200, 200], "resent at 0.5, 1.5 and 3.5 s");
        h.recv(&ack_for(&ok), flow);
        let out = h.outputs();
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Event(id, CallEvent::Acked { .. }) if *id == call)));
        h.advance(Duration::from_secs(10));
        let later = Harness::sent_codes(&h.outputs());
        assert!(!later.contains(&200), "no resend after the ACK: {later:?}");
    }

    #[test]
    fn a_2xx_never_acknowledged_ends_the_call() {
        let mut h = Harness::new(config());
        let (call, _) = authenticated_call(&mut h, udp("127.0.0.1:5070"));
        h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
        h.outputs();
        let mut out = Vec::new();
        // Given up after 64*T1 = 32 s, at the first resend due after it (35.5 s).
        for _ in 0..80 {
            h.advance(Duration::from_millis(500));
            out.extend(h.outputs());
        }
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Event(id, CallEvent::Lost) if *id == call)));
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Send(_, Message::Request(r)) if r.method == Method::Bye)));
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Closed(id) if *id == call)));
    }

    #[test]
    fn a_second_reinvite_while_one_is_pending_gets_491() {
        let mut h = Harness::new(config());
        let flow = udp("127.0.0.1:5070");
        let (call, _) = authenticated_call(&mut h, flow);
        h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
        let ok = sent_responses(&h.outputs())[0].clone();
        h.recv(&ack_for(&ok), flow);
        h.outputs();
        let to = header(&ok.headers, &HeaderName::To).unwrap();
        let reinvite = |cseq: u32| {
            format!(
                "INVITE sip:switchboard@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKre{cseq}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=a1\r\nTo: {to}\r\nCall-ID: c1\r\n\
                 CSeq: {cseq} INVITE\r\nContent-Length: 0\r\n\r\n"
            )
        };
        h.recv(&reinvite(2), flow);
        let out = h.outputs();
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Event(id, CallEvent::Reinvite { .. }) if *id == call)));
        h.recv(&reinvite(3), flow);
        assert_eq!(Harness::sent_codes(&h.outputs()), vec![491]);
        h.ua.answer_reinvite(call, Ok("v=0\r\n".into()), h.now);
        assert_eq!(Harness::sent_codes(&h.outputs()), vec![200]);
    }

    #[test]
    fn wrong_passwords_ban_the_source_until_the_ban_expires() {
        let mut config = config();
        config.guard.max_auth_failures = 3;
        config.guard.ban_time = Duration::from_secs(60);
        let mut h = Harness::new(config);
        let attacker = udp("127.0.0.2:5070");
        for i in 0..3 {
            h.recv(&invite(&format!("x{i}"), &format!("a{i}"), None), attacker);
            let challenge = sent_responses(&h.outputs())[0].clone();
            let wrong = answer(&challenge, "guess", 1);
            h.recv(
                &invite(&format!("x{i}"), &format!("b{i}"), Some(&wrong)),
                attacker,
            );
            assert_eq!(Harness::sent_codes(&h.outputs()), vec![403]);
        }
        h.recv(&invite("x9", "c9", None), attacker);
        assert!(h.outputs().is_empty(), "a banned source is dropped");
        // Another address is untouched.
        let (_, _) = authenticated_call(&mut h, udp("127.0.0.1:5070"));
        h.advance(Duration::from_secs(61));
        h.outputs();
        h.recv(&invite("x10", "c10", None), attacker);
        assert_eq!(
            Harness::sent_codes(&h.outputs()),
            vec![407],
            "the ban expired"
        );
    }

    #[test]
    fn calls_go_to_the_registered_contact_unless_behind_nat() {
        let mut h = Harness::new(config());
        let register = |contact: &str, auth: Option<&str>, branch: &str| {
            let auth = auth
                .map(|a| format!("Authorization: {a}\r\n"))
                .unwrap_or_default();
            format!(
                "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=r1\r\nTo: <sip:1000@127.0.0.1>\r\n\
                 Call-ID: reg1\r\nCSeq: 1 REGISTER\r\nContact: <{contact}>\r\n{auth}Content-Length: 0\r\n\r\n"
            )
        };
        let flow = udp("127.0.0.1:5070");
        let registered = |h: &mut Harness, contact: &str, tag: &str| {
            h.recv(&register(contact, None, &format!("{tag}a")), flow);
            let challenge = sent_responses(&h.outputs())[0].clone();
            let value = challenge
                .headers
                .value(&HeaderName::WwwAuthenticate)
                .unwrap();
            let challenge = Challenge::parse(&value, false).unwrap();
            let auth = respond(
                &challenge,
                &Credentials::new("1000", "pw1000"),
                "REGISTER",
                "sip:127.0.0.1",
                1,
                "c1",
            );
            h.recv(&register(contact, Some(&auth), &format!("{tag}b")), flow);
            assert_eq!(Harness::sent_codes(&h.outputs()), vec![200]);
            h.ua.invite(&Target::Endpoint("1000".into()), "2000", None, None, h.now)
                .unwrap();
            h.outputs()
                .into_iter()
                .find_map(|o| match o {
                    Output::Send(flow, Message::Request(r)) if r.method == Method::Invite => {
                        Some(flow.remote)
                    }
                    _ => None,
                })
                .unwrap()
        };
        // Same host, other port: the Contact's port.
        let to = registered(&mut h, "sip:1000@127.0.0.1:5090", "x");
        assert_eq!(to, "127.0.0.1:5090".parse().unwrap());
        // A private address in the Contact: NAT, so the REGISTER's flow.
        let to = registered(&mut h, "sip:1000@192.168.1.10:5090", "y");
        assert_eq!(to, "127.0.0.1:5070".parse().unwrap());
    }

    use super::torture_vectors as vectors;

    /// Feeds raw bytes to the user agent as the transports would: parsed, or as malformed.
    fn feed(h: &mut Harness, raw: &[u8], flow: Flow) {
        let bytes = Bytes::copy_from_slice(raw);
        match sipx_sip::parse_datagram(bytes, &sipx_sip::Limits::datagram()) {
            Ok(message) => h.ua.on_message(message, flow, h.now),
            Err(_) => h.ua.on_malformed(raw, flow, h.now),
        }
    }

    /// Nothing of a request is left once every timer has run out (Timer H/J: 64*T1).
    fn assert_nothing_left(h: &mut Harness, what: &str) {
        for _ in 0..40 {
            h.advance(Duration::from_secs(1));
        }
        h.outputs();
        assert_eq!(h.ua.layer.len(), (0, 0), "transactions left after {what}");
        assert!(h.ua.calls.is_empty(), "dialogs left after {what}");
        assert!(h.ua.flows.is_empty() && h.ua.invites.is_empty(), "{what}");
        assert!(h.ua.next_deadline().is_none(), "timers left after {what}");
    }

    #[test]
    fn rfc4475_messages_get_their_answers_and_leave_nothing_behind() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torture");
        let mut h = Harness::new(config());
        for (i, vector) in vectors::all(&root).iter().enumerate() {
            let port = 20_000 + u16::try_from(i).unwrap();
            let mut flows = vec![udp(&format!("127.0.0.1:{port}"))];
            if vector.valid {
                flows.push(Flow {
                    transport: Transport::Tcp,
                    remote: format!("127.0.0.1:{}", port + 1000).parse().unwrap(),
                });
            }
            for flow in flows {
                let tag = format!("{:?}", flow.transport);
                feed(&mut h, &vector.with_own_branches(&tag), flow);
                let answer = h.outputs().into_iter().find_map(|o| match o {
                    Output::Send(to, Message::Response(r))
                        if to == flow && r.status.code() >= 200 =>
                    {
                        Some(r.status.code())
                    }
                    _ => None,
                });
                assert!(
                    vector.expect.allows(answer),
                    "{} over {tag}: expected {:?}, got {answer:?}",
                    vector.name,
                    vector.expect
                );
            }
        }
        assert_nothing_left(&mut h, "the RFC 4475 messages");
    }

    /// Mutated requests of every kind through the whole user agent: no panic, and nothing
    /// left once the timers have run (a call would need a valid digest answer, which a
    /// mutation cannot forge).
    #[test]
    fn fuzzed_requests_leave_nothing_behind() {
        use switchboard_fuzz::{corpus_inputs, fuzz};
        let mut corpus: Vec<Vec<u8>> = [invite("c1", "1", None), ack_like(), cancel_like()]
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torture");
        corpus.extend(vectors::all(&root).into_iter().map(|v| v.bytes));
        const TOKENS: &[&[u8]] = &[
            b"\r\n",
            b";tag=",
            b"z9hG4bK",
            b"INVITE",
            b"ACK",
            b"CANCEL",
            b"BYE",
            b"REGISTER",
            b"Proxy-Authorization: Digest username=\"1000\", nonce=\"0\", response=\"0\"\r\n",
            b"Contact: *\r\n",
            b"Expires: 0\r\n",
            b"Require: x\r\n",
            b"Max-Forwards: 0\r\n",
        ];
        fuzz("user_agent", corpus_inputs(corpus, TOKENS), |input| {
            let mut h = Harness::new(config());
            let flow = udp("127.0.0.3:5070");
            feed(&mut h, input.bytes(), flow);
            // The same bytes again (a retransmission), then over a connection.
            feed(&mut h, input.bytes(), flow);
            let tcp = Flow {
                transport: Transport::Tcp,
                ..flow
            };
            feed(&mut h, input.bytes(), tcp);
            assert_nothing_left(&mut h, "a fuzzed request");
            Ok(())
        });
    }

    fn ack_like() -> String {
        invite("c1", "1", None)
            .replacen("INVITE sip", "ACK sip", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
            .replace("To: <sip:101@127.0.0.1>", "To: <sip:101@127.0.0.1>;tag=x")
    }

    fn cancel_like() -> String {
        invite("c1", "1", None)
            .replacen("INVITE sip", "CANCEL sip", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
    }

    #[test]
    fn parses_dtmf_relay_bodies() {
        assert_eq!(dtmf_relay("Signal=5\r\nDuration=160\r\n"), Some(('5', 160)));
        assert_eq!(dtmf_relay("signal= #\nduration=x"), Some(('#', 250)));
        assert_eq!(dtmf_relay("Signal=Z"), None);
        assert_eq!(dtmf_relay(""), None);
    }

    #[test]
    fn stamps_received_and_rport() {
        let text =
            "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport\r\n\
            Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\
            Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let Some(Message::Request(mut req)) = msg::build(text.to_owned()) else {
            panic!("test message should parse");
        };
        stamp_received(&mut req, udp("192.0.2.7:4444"));
        let vias: Vec<_> = req
            .headers
            .get_all(&HeaderName::Via)
            .map(|h| String::from_utf8_lossy(&h.value()).into_owned())
            .collect();
        assert_eq!(
            vias[0],
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport=4444;received=192.0.2.7"
        );
        assert_eq!(vias[1], "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb");
    }
}
