//! The SIP stack task: transactions (from `sipx_sip`), the registrar, digest challenges and
//! the dialogs of a back-to-back user agent. One task owns all of it, so no state is shared;
//! the core talks to it through [`SipStack`] and [`CallHandle`], and hears back per call
//! through [`CallEvent`]s.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sipx_sip::transaction::{Output, TuEvent};
use sipx_sip::{
    HeaderName, Message, Method, Reliability, Request, Response, Timer, Timers, TransactionKey,
    TransactionLayer,
};
use tokio::sync::{mpsc, oneshot};

use crate::digest::{Authenticator, DigestResponse, Verdict};
use crate::msg::{self, header};
use crate::registrar::{ContactUpdate, Registrar, DEFAULT_EXPIRES};
use crate::timers::TimerQueue;
use crate::transport::{Flow, Inbound, Transport, Transports};

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER";
const INCOMING_QUEUE: usize = 1024;

#[derive(Debug, Clone)]
pub struct StackConfig {
    pub udp: SocketAddr,
    pub tcp: Option<SocketAddr>,
    pub realm: String,
    /// Endpoint id → password.
    pub endpoints: HashMap<String, String>,
    /// Trunk name → peer address; requests from that address are trusted.
    pub trunks: Vec<(String, SocketAddr)>,
    pub user_agent: String,
}

/// Who placed an incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Endpoint(String),
    Trunk(String),
}

#[derive(Debug)]
pub struct IncomingCall {
    pub handle: CallHandle,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    pub origin: Origin,
    pub caller: String,
    pub caller_name: Option<String>,
    /// User part of the Request-URI: the dialled number.
    pub callee: String,
    pub call_id: String,
    /// SDP offer, or `None` for a late-offer INVITE (the answer then comes in the ACK).
    pub offer: Option<String>,
}

/// What happens to a call, reported to its owner in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// Outgoing call: 1xx (other than 100), with early-media SDP when present.
    Provisional { code: u16, sdp: Option<String> },
    /// Outgoing call: 2xx (already acknowledged).
    Answered { sdp: Option<String> },
    /// Outgoing call: final failure response (or 408 for no answer at all).
    Failed { code: u16 },
    /// Incoming call: the ACK for our 2xx, with the SDP answer of a late-offer call.
    Acked { sdp: Option<String> },
    /// Incoming call: CANCEL before answer; 487 has been sent.
    Cancelled,
    /// The peer sent BYE; 200 has been sent.
    Bye,
    /// A re-INVITE: answer it with [`CallHandle::answer_reinvite`].
    Reinvite { sdp: Option<String> },
    /// A digit from SIP INFO (`application/dtmf-relay`).
    Dtmf { digit: char, duration_ms: u32 },
    /// The peer stopped answering (our 2xx never acknowledged, transport failure).
    Lost,
}

/// Where an outgoing call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A registered endpoint, at its newest contact.
    Endpoint(String),
    Trunk {
        name: String,
        number: String,
    },
    /// `sip:user@ip:port[;transport=tcp]`.
    Uri(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InviteError {
    #[error("endpoint {0} is not registered")]
    NotRegistered(String),
    #[error("unknown trunk {0}")]
    UnknownTrunk(String),
    #[error("cannot route to {0}")]
    BadUri(String),
    #[error("the SIP stack has stopped")]
    Stopped,
}

#[derive(Debug)]
enum Command {
    Respond {
        call: u64,
        code: u16,
        sdp: Option<String>,
    },
    Hangup {
        call: u64,
        code: u16,
    },
    ReinviteAnswer {
        call: u64,
        sdp: Result<String, u16>,
    },
    Info {
        call: u64,
        digit: char,
        duration_ms: u32,
    },
    Redirect {
        call: u64,
        target: Target,
    },
    Invite {
        target: Target,
        caller: String,
        caller_name: Option<String>,
        offer: Option<String>,
        reply:
            oneshot::Sender<Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), InviteError>>,
    },
    Contacts {
        aor: String,
        reply: oneshot::Sender<Vec<String>>,
    },
}

/// Controls one call (dialog) in the stack.
#[derive(Debug, Clone)]
pub struct CallHandle {
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
    call_id: std::sync::Arc<str>,
}

impl CallHandle {
    /// The dialog's SIP Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    fn send(&self, command: Command) {
        // The stack outlives every call; a send after shutdown has nobody to tell.
        let _ = self.commands.send(command);
    }

    /// 180 Ringing.
    pub fn ring(&self) {
        self.send(Command::Respond {
            call: self.id,
            code: 180,
            sdp: None,
        });
    }

    /// 183 Session Progress with early media.
    pub fn progress(&self, sdp: String) {
        self.send(Command::Respond {
            call: self.id,
            code: 183,
            sdp: Some(sdp),
        });
    }

    /// 200 OK with our SDP (the answer, or the offer of a late-offer call).
    pub fn answer(&self, sdp: String) {
        self.send(Command::Respond {
            call: self.id,
            code: 200,
            sdp: Some(sdp),
        });
    }

    /// Ends the call the way its state allows: a final `code` response before answer
    /// (incoming), CANCEL before answer (outgoing), BYE after.
    pub fn hangup(&self, code: u16) {
        self.send(Command::Hangup {
            call: self.id,
            code,
        });
    }

    pub fn answer_reinvite(&self, sdp: Result<String, u16>) {
        self.send(Command::ReinviteAnswer { call: self.id, sdp });
    }

    /// Sends the caller elsewhere: 302 Moved Temporarily before answer, REFER after.
    pub fn redirect(&self, target: Target) {
        self.send(Command::Redirect {
            call: self.id,
            target,
        });
    }

    /// Sends a digit as SIP INFO (`application/dtmf-relay`), for peers that want it so.
    pub fn send_info_dtmf(&self, digit: char, duration_ms: u32) {
        self.send(Command::Info {
            call: self.id,
            digit,
            duration_ms,
        });
    }
}

/// The handle the core keeps to the stack.
#[derive(Debug, Clone)]
pub struct SipStack {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
}

impl SipStack {
    pub async fn start(
        config: StackConfig,
    ) -> std::io::Result<(Self, mpsc::Receiver<IncomingCall>)> {
        let (transports, inbound) = Transports::bind(
            config.udp,
            config.tcp,
            crate::transport::TransportLimits::default(),
        )
        .await?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (incoming, incoming_rx) = mpsc::channel(INCOMING_QUEUE);
        let local = transports.local(Transport::Udp);
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let task = Task {
            auth: Authenticator::new(config.realm.clone(), secret),
            config,
            transports,
            layer: TransactionLayer::new(Timers::default()),
            timers: TimerQueue::default(),
            flows: HashMap::new(),
            registrar: Registrar::default(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            invites: HashMap::new(),
            next_call: 1,
            incoming,
            commands: commands.clone(),
        };
        tokio::spawn(task.run(inbound, command_rx));
        Ok((Self { commands, local }, incoming_rx))
    }

    /// The address SDP and Contact headers advertise.
    pub fn local_ip(&self) -> IpAddr {
        self.local.ip()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub async fn invite(
        &self,
        target: Target,
        caller: &str,
        caller_name: Option<&str>,
        offer: Option<String>,
    ) -> Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), InviteError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Invite {
                target,
                caller: caller.to_owned(),
                caller_name: caller_name.map(str::to_owned),
                offer,
                reply,
            })
            .map_err(|_| InviteError::Stopped)?;
        rx.await.map_err(|_| InviteError::Stopped)?
    }

    /// The registered contacts of an endpoint.
    pub async fn contacts(&self, aor: &str) -> Vec<String> {
        let (reply, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Contacts {
                aor: aor.to_owned(),
                reply,
            })
            .is_err()
        {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TimerId {
    Transaction(TransactionKey, Timer),
    /// Our 2xx to an INVITE, resent until the ACK comes (RFC 3261 §13.3.1.4).
    Retransmit2xx(u64),
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
    events: mpsc::UnboundedSender<CallEvent>,
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

struct Task {
    config: StackConfig,
    auth: Authenticator,
    transports: Transports,
    layer: TransactionLayer,
    timers: TimerQueue<TimerId>,
    /// Where each transaction's messages go.
    flows: HashMap<TransactionKey, Flow>,
    registrar: Registrar,
    calls: HashMap<u64, Call>,
    /// (Call-ID, our tag) → call.
    dialogs: HashMap<(String, String), u64>,
    /// INVITE transaction → call, for CANCEL and responses.
    invites: HashMap<TransactionKey, u64>,
    next_call: u64,
    incoming: mpsc::Sender<IncomingCall>,
    commands: mpsc::UnboundedSender<Command>,
}

fn reliability(flow: Flow) -> Reliability {
    match flow.transport {
        Transport::Udp => Reliability::Unreliable,
        Transport::Tcp => Reliability::Reliable,
    }
}

impl Task {
    async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let deadline = self
                .timers
                .next_deadline()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                item = inbound.recv() => match item {
                    Some(item) => self.on_inbound(item),
                    None => return,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                () = tokio::time::sleep_until(deadline.into()) => {
                    for id in self.timers.pop_due(Instant::now()) {
                        self.on_timer(id);
                    }
                }
            }
        }
    }

    // ---- plumbing between the transaction layer and the transports ----

    fn run_outputs(&mut self, key: &TransactionKey, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send(message) => {
                    if let Some(flow) = self.flows.get(key) {
                        self.transports.send(*flow, &message);
                    }
                }
                Output::SetTimer { timer, after } => self.timers.set(
                    TimerId::Transaction(key.clone(), timer),
                    Instant::now() + after,
                ),
                Output::ClearTimer(timer) => {
                    self.timers.clear(&TimerId::Transaction(key.clone(), timer));
                }
                Output::ToTu(event) => self.on_tu(key, *event),
                Output::Terminated(_) => {
                    self.flows.remove(key);
                    self.invites.remove(key);
                    for timer in Timer::ALL {
                        self.timers.clear(&TimerId::Transaction(key.clone(), timer));
                    }
                }
                _ => {}
            }
        }
    }

    fn reply(&mut self, key: &TransactionKey, response: Option<Response>) {
        if let Some(response) = response {
            let outputs = self.layer.send_response(key, response);
            self.run_outputs(key, outputs);
        }
    }

    fn send_request(&mut self, flow: Flow, text: String) -> Option<(TransactionKey, Request)> {
        let Some(Message::Request(request)) = msg::build(text) else {
            return None;
        };
        let (key, outputs) = self
            .layer
            .send_request(request.clone(), reliability(flow))?;
        self.flows.insert(key.clone(), flow);
        self.run_outputs(&key, outputs);
        Some((key, request))
    }

    fn on_inbound(&mut self, item: Inbound) {
        match item {
            Inbound::Malformed(raw, flow) => self.send_bad_request(&raw, flow, "malformed message"),
            Inbound::Message(message, flow) => match *message {
                Message::Request(request) => self.on_request(request, flow),
                Message::Response(response) => self.on_response(response),
            },
        }
    }

    fn on_request(&mut self, mut request: Request, flow: Flow) {
        let missing = [
            (HeaderName::Via, "Via"),
            (HeaderName::From, "From"),
            (HeaderName::To, "To"),
            (HeaderName::CallId, "Call-ID"),
            (HeaderName::CSeq, "CSeq"),
        ]
        .into_iter()
        .find(|(name, _)| request.headers.get(name).is_none());
        let cseq_ok = msg::cseq_number(&request.headers).is_some();
        if let Some((_, label)) = missing.or((!cseq_ok).then_some((HeaderName::CSeq, "CSeq"))) {
            self.answer_stateless(&request, flow, &format!("missing or bad {label}"));
            return;
        }
        stamp_received(&mut request, flow);
        match self
            .layer
            .receive(Message::Request(request), reliability(flow))
        {
            sipx_sip::transaction::Dispatch::Created { key, outputs } => {
                self.flows.insert(key.clone(), flow);
                self.run_outputs(&key, outputs);
            }
            sipx_sip::transaction::Dispatch::Matched { key, outputs } => {
                self.run_outputs(&key, outputs);
            }
            sipx_sip::transaction::Dispatch::Unmatched(message) => {
                if let Message::Request(request) = *message {
                    if request.method == Method::Ack {
                        self.on_ack(&request);
                    } else {
                        self.answer_stateless(&request, flow, "no usable Via branch");
                    }
                }
            }
        }
    }

    fn answer_stateless(&self, request: &Request, flow: Flow, why: &str) {
        if request.method == Method::Ack {
            return;
        }
        let mut raw = Vec::new();
        request.write_to(&mut raw);
        self.send_bad_request(&raw, flow, why);
    }

    /// A stateless 400 for what could not go through a transaction (if one can be built).
    fn send_bad_request(&self, raw: &[u8], flow: Flow, why: &str) {
        if let Some(response) = msg::stateless_response(raw, 400, why) {
            self.transports.send(flow, &response);
        }
    }

    fn on_response(&mut self, response: Response) {
        match self
            .layer
            .receive(Message::Response(response), Reliability::Unreliable)
        {
            sipx_sip::transaction::Dispatch::Matched { key, outputs }
            | sipx_sip::transaction::Dispatch::Created { key, outputs } => {
                self.run_outputs(&key, outputs);
            }
            sipx_sip::transaction::Dispatch::Unmatched(message) => {
                // A retransmitted 2xx after its transaction ended: the ACK was lost.
                if let Message::Response(response) = *message {
                    self.reack(&response);
                }
            }
        }
    }

    fn reack(&self, response: &Response) {
        if !response.status.is_success() {
            return;
        }
        let call_id = header(&response.headers, &HeaderName::CallId).unwrap_or_default();
        let from_tag = msg::tag(&response.headers, &HeaderName::From).unwrap_or_default();
        if let Some(call) = self
            .dialogs
            .get(&(call_id, from_tag))
            .and_then(|id| self.calls.get(id))
        {
            if let Some(ack) = &call.ack {
                self.transports.send(call.flow, ack);
            }
        }
    }

    fn on_tu(&mut self, key: &TransactionKey, event: TuEvent) {
        match event {
            TuEvent::Request(request) => self.on_new_request(key, *request),
            TuEvent::Response(response) => self.on_tx_response(key, *response),
            TuEvent::Timeout | TuEvent::TransportError => {
                if let Some(id) = self.invites.get(key).copied() {
                    let outgoing = self.calls.get(&id).is_some_and(|c| c.outgoing);
                    if outgoing {
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

    fn on_new_request(&mut self, key: &TransactionKey, request: Request) {
        let flow = self.flows.get(key).copied();
        let in_dialog = msg::tag(&request.headers, &HeaderName::To).is_some();
        match request.method {
            Method::Register => self.on_register(key, &request, flow),
            Method::Options => {
                let extra = [
                    (HeaderName::Allow, ALLOW.to_owned()),
                    (HeaderName::Accept, "application/sdp".to_owned()),
                ];
                self.reply(
                    key,
                    msg::response(&request, 200, Some(&msg::new_tag()), &extra, None),
                );
            }
            Method::Invite if !in_dialog => {
                if let Some(flow) = flow {
                    self.on_invite(key, request, flow);
                }
            }
            Method::Cancel => self.on_cancel(key, &request),
            Method::Invite | Method::Bye | Method::Info => match self.dialog_of(&request) {
                Some(id) => self.on_in_dialog(key, id, request),
                None => self.reply(key, msg::response(&request, 481, None, &[], None)),
            },
            _ => {
                let extra = [(HeaderName::Allow, ALLOW.to_owned())];
                self.reply(key, msg::response(&request, 501, None, &extra, None));
            }
        }
    }

    fn dialog_of(&self, request: &Request) -> Option<u64> {
        let to_tag = msg::tag(&request.headers, &HeaderName::To)?;
        self.dialogs.get(&(msg::call_id(request), to_tag)).copied()
    }

    fn on_register(&mut self, key: &TransactionKey, request: &Request, flow: Option<Flow>) {
        let (aor, _) = msg::party(&request.headers, &HeaderName::To);
        let Some(user) = self.authenticate(key, request, HeaderName::Authorization) else {
            return;
        };
        if user != aor {
            self.reply(key, msg::response(request, 403, None, &[], None));
            return;
        }
        let Some(flow) = flow else { return };
        let now = Instant::now();
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
                    self.reply(key, msg::response(request, 400, None, &[], None));
                    return;
                }
                continue;
            }
            let Ok(addresses) = sipx_sip::headers::Address::parse_list(&raw, "Contact") else {
                self.reply(key, msg::response(request, 400, None, &[], None));
                return;
            };
            for address in addresses {
                let expires = address
                    .param("expires")
                    .and_then(|e| std::str::from_utf8(e).ok()?.trim().parse().ok())
                    .unwrap_or(default_expires);
                updates.push(ContactUpdate {
                    contact: address.uri.to_string(),
                    expires,
                });
            }
        }
        self.registrar.update(&aor, &updates, flow, now);
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
        tracing::info!(%aor, contacts = extra.len(), "registration updated");
        self.reply(
            key,
            msg::response(request, 200, Some(&msg::new_tag()), &extra, None),
        );
    }

    /// Digest-checks a request; answers the challenge or the refusal itself and returns
    /// the authenticated user only when the request may proceed.
    fn authenticate(
        &mut self,
        key: &TransactionKey,
        request: &Request,
        header_name: HeaderName,
    ) -> Option<String> {
        let proxy = matches!(header_name, HeaderName::ProxyAuthorization);
        let now = msg::unix_now();
        let answer = header(&request.headers, &header_name)
            .as_deref()
            .and_then(DigestResponse::parse)
            .filter(|a| a.realm == self.auth.realm());
        let challenge = |task: &mut Self, stale: bool| {
            let (code, name) = if proxy {
                (407, HeaderName::ProxyAuthenticate)
            } else {
                (401, HeaderName::WwwAuthenticate)
            };
            let extra: Vec<_> = task
                .auth
                .challenges(now, stale)
                .into_iter()
                .map(|c| (name.clone(), c))
                .collect();
            task.reply(
                key,
                msg::response(request, code, Some(&msg::new_tag()), &extra, None),
            );
        };
        let Some(answer) = answer else {
            challenge(self, false);
            return None;
        };
        let verdict = match self.config.endpoints.get(&answer.username) {
            Some(password) => self
                .auth
                .verify(&answer, &request.method.to_string(), password, now),
            None => Verdict::Forged,
        };
        match verdict {
            Verdict::Ok => Some(answer.username),
            Verdict::Stale => {
                challenge(self, true);
                None
            }
            Verdict::Forged => {
                tracing::info!(user = %answer.username, method = %request.method, "authentication failed");
                self.reply(
                    key,
                    msg::response(request, 403, Some(&msg::new_tag()), &[], None),
                );
                None
            }
        }
    }

    fn on_invite(&mut self, key: &TransactionKey, request: Request, flow: Flow) {
        let trunk = self
            .config
            .trunks
            .iter()
            .find(|(_, addr)| *addr == flow.remote)
            .map(|(name, _)| name.clone());
        let origin = match trunk {
            Some(name) => Origin::Trunk(name),
            None => match self.authenticate(key, &request, HeaderName::ProxyAuthorization) {
                Some(user) => Origin::Endpoint(user),
                None => return,
            },
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
        let (events, events_rx) = mpsc::unbounded_channel();
        let to = header(&request.headers, &HeaderName::To).unwrap_or_default();
        let call = Call {
            events,
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
        let incoming = IncomingCall {
            handle: CallHandle {
                id,
                commands: self.commands.clone(),
                call_id: call_id.as_str().into(),
            },
            events: events_rx,
            origin,
            caller,
            caller_name,
            callee,
            call_id: call_id.clone(),
            offer,
        };
        if self.incoming.try_send(incoming).is_err() {
            tracing::warn!("core not keeping up with new calls; answering 503");
            self.reply(key, msg::response(&request, 503, None, &[], None));
            return;
        }
        self.reply(key, msg::response(&request, 100, None, &[], None));
        self.calls.insert(id, call);
        self.dialogs.insert((call_id, local_tag), id);
        self.invites.insert(key.clone(), id);
    }

    fn on_cancel(&mut self, key: &TransactionKey, request: &Request) {
        let invite = TransactionKey::for_cancelled_invite(request)
            .and_then(|k| self.invites.get(&k).copied().map(|id| (k, id)));
        let Some((invite_key, id)) = invite else {
            self.reply(key, msg::response(request, 481, None, &[], None));
            return;
        };
        self.reply(key, msg::response(request, 200, None, &[], None));
        let early = self
            .calls
            .get(&id)
            .is_some_and(|c| !c.outgoing && c.phase == Phase::Early);
        // CANCEL racing our 200: the 200 wins, the call goes on (RFC 3261 §9.2).
        if early {
            let (invite, tag) = match self.calls.get(&id) {
                Some(call) => (call.invite.clone(), call.local_tag.clone()),
                None => return,
            };
            self.reply(
                &invite_key,
                msg::response(&invite, 487, Some(&tag), &[], None),
            );
            self.emit(id, CallEvent::Cancelled);
            self.forget(id);
        }
    }

    fn on_in_dialog(&mut self, key: &TransactionKey, id: u64, request: Request) {
        match request.method {
            Method::Bye => {
                self.reply(key, msg::response(&request, 200, None, &[], None));
                self.emit(id, CallEvent::Bye);
                self.forget(id);
            }
            Method::Info => {
                let dtmf = dtmf_relay(&String::from_utf8_lossy(request.body()));
                self.reply(key, msg::response(&request, 200, None, &[], None));
                if let Some((digit, duration_ms)) = dtmf {
                    self.emit(id, CallEvent::Dtmf { digit, duration_ms });
                }
            }
            _ => {
                // re-INVITE
                let pending = self.calls.get(&id).is_some_and(|c| c.reinvite.is_some());
                if pending {
                    self.reply(key, msg::response(&request, 491, None, &[], None));
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

    fn on_tx_response(&mut self, key: &TransactionKey, response: Response) {
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
                self.send_cancel(id);
                return;
            }
            let sdp = body_of(&response);
            self.emit(id, CallEvent::Provisional { code, sdp });
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
        let ack = self.in_dialog_text(id, "ACK", Some(cseq), None);
        let ack = ack.and_then(msg::build);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(ack) = &ack {
            self.transports.send(call.flow, ack);
        }
        call.ack = ack;
        if call.phase == Phase::Cancelling {
            // Answered while we were cancelling: ACK it, then end it (RFC 3261 §9.1).
            self.send_bye(id);
            return;
        }
        call.phase = Phase::Confirmed;
        self.emit(
            id,
            CallEvent::Answered {
                sdp: body_of(&response),
            },
        );
    }

    // ---- commands from the core ----

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Respond { call, code, sdp } => self.respond(call, code, sdp),
            Command::Hangup { call, code } => self.hangup(call, code),
            Command::ReinviteAnswer { call, sdp } => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                let Some((key, request)) = c.reinvite.take() else {
                    return;
                };
                let transport = c.flow.transport;
                let contact = self.contact_header(transport);
                let response = match &sdp {
                    Ok(sdp) => msg::response(&request, 200, None, &[contact], Some(sdp)),
                    Err(code) => msg::response(&request, *code, None, &[], None),
                };
                self.reply(&key, response);
            }
            Command::Invite {
                target,
                caller,
                caller_name,
                offer,
                reply,
            } => {
                let result = self.invite(target, &caller, caller_name.as_deref(), offer);
                let _ = reply.send(result);
            }
            Command::Info {
                call,
                digit,
                duration_ms,
            } => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                c.local_cseq += 1;
                let (cseq, flow) = (c.local_cseq, c.flow);
                let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
                if let Some(text) = self.in_dialog_text(
                    call,
                    "INFO",
                    Some(cseq),
                    Some(("application/dtmf-relay", &body)),
                ) {
                    self.send_request(flow, text);
                }
            }
            Command::Redirect { call, target } => self.redirect(call, &target),
            Command::Contacts { aor, reply } => {
                let contacts = self
                    .registrar
                    .lookup(&aor, Instant::now())
                    .into_iter()
                    .map(|b| b.contact)
                    .collect();
                let _ = reply.send(contacts);
            }
        }
    }

    fn redirect(&mut self, id: u64, target: &Target) {
        let uri = match self.resolve(target) {
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
            self.reply(&key, response);
            self.forget(id);
            return;
        }
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        let refer_to = format!("Refer-To: <{uri}>\r\n");
        if let Some(text) = self.in_dialog_text(id, "REFER", Some(cseq), None) {
            // The Refer-To header goes with the other headers, before the blank line.
            let text = text.replacen("Content-Length:", &format!("{refer_to}Content-Length:"), 1);
            self.send_request(flow, text);
        }
    }

    fn contact_header(&self, transport: Transport) -> (HeaderName, String) {
        let local = self.transports.local(transport);
        let param = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        (
            HeaderName::Contact,
            format!("<sip:switchboard@{local}{param}>"),
        )
    }

    fn respond(&mut self, id: u64, code: u16, sdp: Option<String>) {
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
        if (200..300).contains(&code) {
            let t1 = Timers::default().t1;
            if let Some(call) = self.calls.get_mut(&id) {
                call.phase = Phase::Answering {
                    interval: t1,
                    give_up: Instant::now() + t1 * 64,
                };
                call.last_2xx = response.clone().map(Message::Response);
            }
            let unreliable = self
                .calls
                .get(&id)
                .is_some_and(|c| reliability(c.flow) == Reliability::Unreliable);
            if unreliable {
                self.timers
                    .set(TimerId::Retransmit2xx(id), Instant::now() + t1);
            }
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.provisional_seen |= code < 200;
        }
        self.reply(&key, response);
        if code >= 300 {
            self.forget(id);
        }
    }

    fn hangup(&mut self, id: u64, code: u16) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match (call.outgoing, call.phase) {
            (false, Phase::Early) => self.respond(id, code.max(300), None),
            (true, Phase::Early) => {
                call.phase = Phase::Cancelling;
                // A CANCEL may only follow a provisional response (RFC 3261 §9.1).
                if call.provisional_seen {
                    self.send_cancel(id);
                }
            }
            (_, Phase::Cancelling) => {}
            (_, Phase::Answering { .. } | Phase::Confirmed) => self.send_bye(id),
        }
    }

    fn send_cancel(&mut self, id: u64) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let invite = &call.invite;
        let mut text = format!("CANCEL {} SIP/2.0\r\n", invite.uri);
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(value) = header(&invite.headers, &name) {
                text.push_str(&format!(
                    "{}: {value}\r\n",
                    String::from_utf8_lossy(name.canonical())
                ));
            }
        }
        let cseq = msg::cseq_number(&invite.headers).unwrap_or(1);
        text.push_str(&format!(
            "CSeq: {cseq} CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ));
        let flow = call.flow;
        self.send_request(flow, text);
    }

    fn send_bye(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.local_cseq += 1;
        let cseq = call.local_cseq;
        let flow = call.flow;
        if let Some(text) = self.in_dialog_text(id, "BYE", Some(cseq), None) {
            self.send_request(flow, text);
        }
        self.forget(id);
    }

    /// An in-dialog request (ACK, BYE) from the dialog's state.
    fn in_dialog_text(
        &self,
        id: u64,
        method: &str,
        cseq: Option<u32>,
        body: Option<(&str, &str)>,
    ) -> Option<String> {
        let call = self.calls.get(&id)?;
        let local = self.transports.local(call.flow.transport);
        let (from, to) = (&call.local_header, &call.remote_header);
        let (content_type, body) = match body {
            Some((kind, body)) => (format!("Content-Type: {kind}\r\n"), body),
            None => (String::new(), ""),
        };
        Some(format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
             User-Agent: {ua}\r\n{content_type}Content-Length: {len}\r\n\r\n{body}",
            target = call.remote_target,
            transport = call.flow.transport.via_name(),
            branch = msg::new_branch(),
            call_id = call.call_id,
            cseq = cseq.unwrap_or(call.local_cseq),
            ua = self.config.user_agent,
            len = body.len(),
        ))
    }

    fn resolve(&self, target: &Target) -> Result<(String, Flow, String), InviteError> {
        match target {
            Target::Endpoint(aor) => {
                let binding = self
                    .registrar
                    .lookup(aor, Instant::now())
                    .into_iter()
                    .next()
                    .ok_or_else(|| InviteError::NotRegistered(aor.clone()))?;
                let host = binding.flow.remote;
                Ok((binding.contact, binding.flow, format!("sip:{aor}@{host}")))
            }
            Target::Trunk { name, number } => {
                let (_, addr) = self
                    .config
                    .trunks
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| InviteError::UnknownTrunk(name.clone()))?;
                let uri = format!("sip:{number}@{addr}");
                let flow = Flow {
                    transport: Transport::Udp,
                    remote: *addr,
                };
                Ok((uri.clone(), flow, uri))
            }
            Target::Uri(uri) => {
                let parsed = sipx_sip::Uri::parse(bytes::Bytes::from(uri.clone()))
                    .map_err(|_| InviteError::BadUri(uri.clone()))?;
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

    fn invite(
        &mut self,
        target: Target,
        caller: &str,
        caller_name: Option<&str>,
        offer: Option<String>,
    ) -> Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), InviteError> {
        let (request_uri, flow, to_uri) = self.resolve(&target)?;
        let local = self.transports.local(flow.transport);
        let local_tag = msg::new_tag();
        let call_id = format!("{}@switchboard", uuid::Uuid::new_v4().simple());
        let display = caller_name
            .map(|n| format!("\"{}\" ", n.replace('"', "")))
            .unwrap_or_default();
        // A From URI needs a user part: calls without a caller id go out as anonymous.
        let caller = if caller.is_empty() {
            "anonymous"
        } else {
            caller
        };
        let from = format!("{display}<sip:{caller}@{}>;tag={local_tag}", local.ip());
        let to = format!("<{to_uri}>");
        let body = offer.unwrap_or_default();
        let content_type = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let (_, contact) = self.contact_header(flow.transport);
        let text = format!(
            "INVITE {request_uri} SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
             Contact: {contact}\r\nAllow: {ALLOW}\r\nUser-Agent: {ua}\r\n{content_type}Content-Length: {len}\r\n\r\n{body}",
            transport = flow.transport.via_name(),
            branch = msg::new_branch(),
            ua = self.config.user_agent,
            len = body.len(),
        );
        let id = self.next_call;
        self.next_call += 1;
        let (events, events_rx) = mpsc::unbounded_channel();
        let Some(Message::Request(request)) = msg::build(text) else {
            return Err(InviteError::BadUri(request_uri));
        };
        let Some(key) = TransactionKey::from_sent_request(&request) else {
            return Err(InviteError::BadUri(request_uri));
        };
        self.calls.insert(
            id,
            Call {
                events,
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
        self.dialogs.insert((call_id.clone(), local_tag), id);
        self.invites.insert(key.clone(), id);
        if let Some((key, outputs)) = self.layer.send_request(request, reliability(flow)) {
            self.flows.insert(key.clone(), flow);
            self.run_outputs(&key, outputs);
        }
        Ok((
            CallHandle {
                id,
                commands: self.commands.clone(),
                call_id: call_id.as_str().into(),
            },
            events_rx,
        ))
    }

    // ---- timers and bookkeeping ----

    fn on_timer(&mut self, id: TimerId) {
        match id {
            TimerId::Transaction(key, timer) => {
                let outputs = self.layer.on_timer(&key, timer);
                self.run_outputs(&key, outputs);
            }
            TimerId::Retransmit2xx(call_id) => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                let Phase::Answering { interval, give_up } = call.phase else {
                    return;
                };
                if Instant::now() >= give_up {
                    // No ACK in 64*T1: the dialog is dead (RFC 3261 §13.3.1.4).
                    self.emit(call_id, CallEvent::Lost);
                    self.send_bye(call_id);
                    return;
                }
                if let Some(response) = &call.last_2xx {
                    self.transports.send(call.flow, response);
                }
                let next = (interval * 2).min(Timers::default().t2);
                call.phase = Phase::Answering {
                    interval: next,
                    give_up,
                };
                self.timers
                    .set(TimerId::Retransmit2xx(call_id), Instant::now() + next);
            }
        }
    }

    fn emit(&self, id: u64, event: CallEvent) {
        if let Some(call) = self.calls.get(&id) {
            let _ = call.events.send(event);
        }
    }

    /// Drops a call's dialog state; its transactions finish on their own timers.
    fn forget(&mut self, id: u64) {
        if let Some(call) = self.calls.remove(&id) {
            self.dialogs.remove(&(call.call_id, call.local_tag));
            self.timers.clear(&TimerId::Retransmit2xx(id));
            if !call.outgoing {
                self.invites.remove(&call.invite_key);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let flow = Flow {
            transport: Transport::Udp,
            remote: "192.0.2.7:4444".parse().unwrap(),
        };
        stamp_received(&mut req, flow);
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
