//! The SIP user agent as a sans-IO state machine: the registrar, digest authentication,
//! the brute-force guard and the dialogs of a back-to-back user agent, over `sipx_sip`'s
//! transaction layer.
//!
//! Messages and time go in ([`UserAgent::on_message`], [`UserAgent::on_timeout`] and the
//! call commands), messages to send and call events come out ([`UserAgent::poll_output`]).
//! It owns no socket and reads no clock, so races (CANCEL against 200, re-INVITE glare,
//! lost ACKs, ban expiry) are unit-tested without sleeps; `stack.rs` is the async shell.
//!
//! This module routes requests and keeps the transactions, timers and the guard;
//! `registration.rs`, `auth.rs` and `dialog.rs` hold what each kind of request does.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sipx_sip::transaction::{Dispatch, Output as TxOutput, TuEvent};
use sipx_sip::{
    HeaderName, Message, Method, Reliability, Request, Response, Timer, Timers, TransactionKey,
    TransactionLayer,
};

use crate::digest::Authenticator;
use crate::guard::{Admission, BanAction, Guard};
use crate::msg::{self, header};
use crate::registrar::Registrar;
use crate::stack::{CallEvent, CallInfo, StackConfig};
use crate::timers::TimerQueue;
use crate::transport::{Flow, Transport};
use crate::validate::{self, ALLOW};

mod auth;
mod dialog;
mod registration;
mod trunk;

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
    /// A trunk's registration or reachability changed.
    Trunk(String, crate::stack::TrunkState),
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
    /// A late-offer call's 2xx waits for the core's answer to go in the ACK; bounded, so
    /// a core that never answers does not leave the peer resending its 2xx.
    LateAck(CallId),
    /// Time to (re-)REGISTER trunk number n.
    TrunkRegister(usize),
    /// Time to ping trunk number n with OPTIONS.
    TrunkQualify(usize),
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
    /// Outgoing INVITE sent without SDP: the 2xx holds the offer, the ACK our answer.
    late_offer: bool,
    /// A late-offer 2xx received, its ACK waiting for the core's answer.
    ack_pending: bool,
    /// Outgoing call through a trunk: the trunk, whose credentials answer a challenge
    /// to the INVITE.
    trunk: Option<String>,
    /// Challenges to this call's INVITE answered so far (one is enough; a second
    /// means the credentials are refused).
    auth_rounds: u8,
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
    /// Registration and keep-alive of the trunks that have them.
    trunks: Vec<trunk::TrunkLink>,
    /// Our REGISTER and OPTIONS transactions → (trunk, which).
    trunk_txs: HashMap<TransactionKey, (usize, trunk::TrunkRequest)>,
    /// Trunks without registration or pings: always up.
    plain_trunks: Vec<String>,
    /// The owner says the machine is saturated (media falling behind): new calls are
    /// refused with 503 until it says otherwise.
    overloaded: bool,
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
        let trunks: Vec<_> = config
            .trunk_accounts
            .iter()
            .map(|a| trunk::TrunkLink::new(a.clone()))
            .collect();
        let plain_trunks = config
            .trunks
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| !trunks.iter().any(|t| &t.account.name == name))
            .collect();
        let mut ua = Self {
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
            trunks,
            trunk_txs: HashMap::new(),
            plain_trunks,
            overloaded: false,
        };
        ua.start_trunks(now);
        ua
    }

    /// While `true`, every new INVITE is answered 503 with Retry-After; calls already
    /// up are not touched.
    pub fn set_overloaded(&mut self, overloaded: bool) {
        self.overloaded = overloaded;
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
        self.trunk_txs.remove(key);
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
        if let Some((trunk, request)) = self.trunk_txs.get(key).copied() {
            match event {
                TuEvent::Response(response) => {
                    self.on_trunk_response(key, trunk, request, &response, now);
                }
                TuEvent::Timeout | TuEvent::TransportError => {
                    self.trunk_txs.remove(key);
                    self.on_trunk_timeout(trunk, request, now);
                }
                _ => {}
            }
            return;
        }
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
            TimerId::TrunkRegister(trunk) => self.register_attempt(trunk, now),
            TimerId::TrunkQualify(trunk) => self.send_options(trunk, now),
            TimerId::LateAck(call_id) => {
                if self.calls.get(&call_id).is_some_and(|c| c.ack_pending) {
                    tracing::info!(
                        call_id,
                        "no answer for the late offer in time; ending the call"
                    );
                    self.ack(call_id, None, now);
                    self.emit(call_id, CallEvent::Lost);
                    self.send_bye(call_id, now);
                }
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
            self.timers.clear(&TimerId::LateAck(id));
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
    let raw = top.value();
    // unfolded and UTF-8: the header rebuilt unchanged would be byte for byte the same
    let verbatim = matches!(raw, Cow::Borrowed(_)) && std::str::from_utf8(&raw).is_ok();
    let value = String::from_utf8_lossy(&raw).into_owned();
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
    } else if verbatim {
        // nothing to add: keep the request as it is rather than copy every header
        return;
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

/// RFC 4475's messages, for the tests (the file lives with the crate's torture test).
#[cfg(test)]
#[path = "../../tests/torture/vectors.rs"]
mod torture_vectors;

#[cfg(test)]
mod tests;
