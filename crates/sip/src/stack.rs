//! The SIP stack's async shell: it owns the transports, the clock and the channels to the
//! core, and feeds the sans-IO [`UserAgent`] (`ua.rs`), which holds every protocol decision.
//! The core talks to it through [`SipStack`] and [`CallHandle`], and hears back per call
//! through [`CallEvent`]s.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::digest::Algorithm;
use crate::guard::GuardConfig;
use crate::msg;
use crate::transport::{Inbound, Transport, TransportLimits, Transports};
use crate::ua::{LocalAddrs, NewCall, Output, UserAgent};
use crate::wire::Wire;

const INCOMING_QUEUE: usize = 1024;

#[derive(Debug, Clone)]
pub struct StackConfig {
    pub udp: SocketAddr,
    pub tcp: Option<SocketAddr>,
    pub realm: String,
    /// Endpoint id → its credentials and SIP settings.
    pub endpoints: HashMap<String, EndpointAuth>,
    /// Trunk name → peer address; requests from that address are trusted.
    pub trunks: Vec<(String, SocketAddr)>,
    /// Trunks we register with or ping (OPTIONS); the others are assumed up.
    pub trunk_accounts: Vec<TrunkAccount>,
    /// `Server`/`User-Agent` header text; empty sends none.
    pub user_agent: String,
    /// Digest algorithms challenged with, in order, unless an endpoint has its own.
    pub algorithms: Vec<Algorithm>,
    pub nonce_lifetime_secs: u64,
    pub guard: GuardConfig,
    pub limits: TransportLimits,
    /// Calls (dialogs, in and out) at once; an INVITE beyond gets 503 with
    /// Retry-After. 0: no limit.
    pub max_calls: usize,
}

/// An endpoint as the SIP stack sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointAuth {
    pub password: String,
    /// Overrides [`StackConfig::algorithms`].
    pub algorithms: Option<Vec<Algorithm>>,
    /// Send calls back over the flow the REGISTER came on (PJSIP's `force_rport`)…
    pub force_rport: bool,
    /// …or to the Contact rewritten to that source address (PJSIP's `rewrite_contact`).
    pub rewrite_contact: bool,
}

/// How the stack keeps a trunk alive: outbound registration with digest credentials
/// and OPTIONS pings.
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkAccount {
    pub name: String,
    /// The carrier's address (its registrar and the target of the pings).
    pub addr: SocketAddr,
    /// Send REGISTER and keep it refreshed.
    pub register: bool,
    pub username: String,
    pub password: String,
    /// Seconds asked for in REGISTER (the carrier may grant fewer).
    pub expires: u32,
    /// The user part of our AOR (From/To); `username` when `None`.
    pub from_user: Option<String>,
    /// The domain of our AOR and the REGISTER's Request-URI; the carrier's address when
    /// `None`.
    pub from_domain: Option<String>,
    /// Time between OPTIONS pings; zero sends none.
    pub qualify: Duration,
}

impl std::fmt::Debug for TrunkAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkAccount")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("register", &self.register)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("expires", &self.expires)
            .field("qualify", &self.qualify)
            .finish_non_exhaustive()
    }
}

/// What the stack knows of a trunk's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkState {
    /// `Some(true)` registered, `Some(false)` the last attempt failed, `None` when the
    /// trunk does not register or its first attempt has not finished.
    pub registered: Option<bool>,
    /// False once an OPTIONS ping went unanswered, until one is answered again.
    pub reachable: bool,
    /// Why the trunk is (or last was) down.
    pub last_error: Option<String>,
}

impl Default for TrunkState {
    fn default() -> Self {
        Self {
            registered: None,
            reachable: true,
            last_error: None,
        }
    }
}

impl TrunkState {
    /// Whether calls may go through the trunk.
    pub fn is_up(&self) -> bool {
        self.reachable && self.registered != Some(false)
    }
}

/// Who placed an incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Endpoint(String),
    Trunk(String),
}

/// A call the SIP stack accepted for the core.
#[derive(Debug)]
pub struct IncomingCall {
    pub handle: CallHandle,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    pub info: CallInfo,
}

/// What an incoming INVITE says about its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub origin: Origin,
    pub caller: String,
    pub caller_name: Option<String>,
    /// User part of the Request-URI: the dialled number.
    pub callee: String,
    pub call_id: String,
    /// SDP offer, or `None` for a late-offer INVITE (the answer then comes in the ACK).
    pub offer: Option<String>,
    /// Where the INVITE came from (FreeSWITCH's `network_addr`).
    pub source: std::net::SocketAddr,
}

/// What happens to a call, reported to its owner in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// Outgoing call: 1xx (other than 100), with early-media SDP when present.
    Provisional { code: u16, sdp: Option<String> },
    /// Outgoing call: 2xx. Acknowledged already, except for a late-offer call (INVITE
    /// without SDP) whose 2xx carried an offer: then `sdp` is the peer's offer and the ACK
    /// waits for our answer ([`CallHandle::ack`]).
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

/// An outgoing call as the core asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCall {
    pub target: Target,
    /// The From user; empty goes out as `anonymous`.
    pub caller: String,
    pub caller_name: Option<String>,
    /// Our SDP offer. `None` sends the INVITE without SDP (late offer): the peer's offer
    /// then comes in its 2xx ([`CallEvent::Answered`]) and our answer goes in the ACK
    /// ([`CallHandle::ack`]).
    pub offer: Option<String>,
    /// Extra headers put on the INVITE, in order (`Answer-Mode`, `P-Asserted-Identity`,
    /// …). A name that is not a token or a value with CR/LF/NUL refuses the call, as does
    /// a header the user agent writes itself (Via, From, To, Call-ID, CSeq, …).
    pub headers: Vec<(String, String)>,
}

impl OutgoingCall {
    /// A call to `target` with our offer, no display name and no extra headers.
    pub fn new(target: Target, caller: impl Into<String>, offer: Option<String>) -> Self {
        Self {
            target,
            caller: caller.into(),
            caller_name: None,
            offer,
            headers: Vec::new(),
        }
    }
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
    #[error("a header value holds a line break or NUL")]
    BadHeader,
    #[error("header {0} cannot be set on an INVITE")]
    ReservedHeader(String),
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
    Ack {
        call: u64,
        sdp: Option<String>,
    },
    Invite {
        call: Box<OutgoingCall>,
        reply:
            oneshot::Sender<Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), InviteError>>,
    },
    Contacts {
        aor: String,
        reply: oneshot::Sender<Vec<String>>,
    },
    UnregisterTrunks,
    Overloaded(bool),
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

    /// The ACK of a late-offer call's 2xx, carrying our answer to the offer in it. Without
    /// an answer (`None`: no common codec) the ACK goes out bare; hang up after it.
    pub fn ack(&self, sdp: Option<String>) {
        self.send(Command::Ack { call: self.id, sdp });
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

/// Each trunk's state, written by the stack task and read by the core at any time.
type TrunkStates = Arc<Mutex<HashMap<String, TrunkState>>>;

/// The handle the core keeps to the stack.
#[derive(Debug, Clone)]
pub struct SipStack {
    commands: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    trunks: TrunkStates,
}

impl SipStack {
    /// Binds the configured UDP (and TCP) sockets and starts the stack on them.
    pub async fn start(
        config: StackConfig,
    ) -> std::io::Result<(Self, mpsc::Receiver<IncomingCall>)> {
        let (transports, inbound) =
            Transports::bind(config.udp, config.tcp, config.limits.clone()).await?;
        Ok(Self::start_on(config, Arc::new(transports), inbound))
    }

    /// Starts the stack on any wire: `inbound` is what arrives, `wire` sends. The
    /// configured listen addresses are not bound; the wire says where it listens.
    pub fn start_on(
        config: StackConfig,
        wire: Arc<dyn Wire>,
        inbound: mpsc::Receiver<Inbound>,
    ) -> (Self, mpsc::Receiver<IncomingCall>) {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (incoming, incoming_rx) = mpsc::channel(INCOMING_QUEUE);
        let local = wire.local(Transport::Udp);
        let addrs = LocalAddrs {
            udp: local,
            tcp: config.tcp.map(|_| wire.local(Transport::Tcp)),
        };
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let ua = UserAgent::new(config, addrs, &secret, now(), msg::unix_now());
        let trunks: TrunkStates = Arc::new(Mutex::new(ua.trunk_states().collect()));
        let shell = Shell {
            ua,
            wire,
            incoming,
            commands: commands.clone(),
            events: HashMap::new(),
            trunks: trunks.clone(),
        };
        tokio::spawn(shell.run(inbound, command_rx));
        (
            Self {
                commands,
                local,
                trunks,
            },
            incoming_rx,
        )
    }

    /// A trunk's registration and reachability; `None` for an unknown trunk.
    pub fn trunk_state(&self, name: &str) -> Option<TrunkState> {
        lock(&self.trunks).get(name).cloned()
    }

    /// Every trunk's state, by name.
    pub fn trunk_states(&self) -> Vec<(String, TrunkState)> {
        let mut all: Vec<_> = lock(&self.trunks)
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The address SDP and Contact headers advertise.
    pub fn local_ip(&self) -> IpAddr {
        self.local.ip()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Places a call with an offer and no extra headers (see [`Self::place`]).
    pub async fn invite(
        &self,
        target: Target,
        caller: &str,
        caller_name: Option<&str>,
        offer: Option<String>,
    ) -> Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), InviteError> {
        let mut call = OutgoingCall::new(target, caller, offer);
        call.caller_name = caller_name.map(str::to_owned);
        self.place(call).await
    }

    /// Places a call: the handle and its events once the INVITE is on its way.
    pub async fn place(
        &self,
        call: OutgoingCall,
    ) -> Result<(CallHandle, mpsc::UnboundedReceiver<CallEvent>), InviteError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Invite {
                call: Box::new(call),
                reply,
            })
            .map_err(|_| InviteError::Stopped)?;
        rx.await.map_err(|_| InviteError::Stopped)?
    }

    /// Removes our registrations with the carriers (REGISTER with Expires: 0) and stops
    /// refreshing them, for a shutdown; the REGISTERs are on their way when this returns.
    pub fn unregister_trunks(&self) {
        // A stopped stack has nothing registered.
        let _ = self.commands.send(Command::UnregisterTrunks);
    }

    /// Refuses (`true`) or admits again new calls: the owner's view of whether the
    /// machine can take more (see [`UserAgent::set_overloaded`]).
    pub fn set_overloaded(&self, overloaded: bool) {
        // A stopped stack takes no calls anyway.
        let _ = self.commands.send(Command::Overloaded(overloaded));
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

/// The trunk table; a panic while it was held cannot leave it half-written (each write
/// is one insert), so a poisoned lock is still read.
fn lock(trunks: &TrunkStates) -> std::sync::MutexGuard<'_, HashMap<String, TrunkState>> {
    trunks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The clock the user agent is fed: tokio's, so a test with paused time drives the SIP
/// timers too.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The task around the user agent: wire, clock and channels.
struct Shell {
    ua: UserAgent,
    wire: Arc<dyn Wire>,
    incoming: mpsc::Sender<IncomingCall>,
    commands: mpsc::UnboundedSender<Command>,
    /// Each live call's event queue to the core.
    events: HashMap<u64, mpsc::UnboundedSender<CallEvent>>,
    trunks: TrunkStates,
}

impl Shell {
    async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let deadline = self
                .ua
                .next_deadline()
                .unwrap_or_else(|| now() + Duration::from_secs(3600));
            tokio::select! {
                item = inbound.recv() => match item {
                    Some(Inbound::Message(message, flow)) => {
                        self.ua.on_message(*message, flow, now());
                    }
                    Some(Inbound::Malformed(raw, flow)) => {
                        self.ua.on_malformed(&raw, flow, now());
                    }
                    None => return,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                () = tokio::time::sleep_until(deadline.into()) => self.ua.on_timeout(now()),
            }
            self.drain();
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.ua.poll_output() {
            match output {
                Output::Send(flow, message) => self.wire.send(flow, &message),
                Output::Event(id, event) => {
                    if let Some(events) = self.events.get(&id) {
                        // A call whose owner is gone has nobody to tell.
                        let _ = events.send(event);
                    }
                }
                Output::Closed(id) => {
                    self.events.remove(&id);
                }
                Output::Incoming(call) => self.offer_to_core(call),
                Output::Trunk(name, state) => {
                    lock(&self.trunks).insert(name, state);
                }
            }
        }
    }

    fn handle(
        &mut self,
        id: u64,
        call_id: &str,
    ) -> (CallHandle, mpsc::UnboundedReceiver<CallEvent>) {
        let (events, events_rx) = mpsc::unbounded_channel();
        self.events.insert(id, events);
        let handle = CallHandle {
            id,
            commands: self.commands.clone(),
            call_id: call_id.into(),
        };
        (handle, events_rx)
    }

    fn offer_to_core(&mut self, NewCall { id, info }: NewCall) {
        let (handle, events) = self.handle(id, &info.call_id);
        let incoming = IncomingCall {
            handle,
            events,
            info,
        };
        if self.incoming.try_send(incoming).is_err() {
            tracing::warn!("core not keeping up with new calls; answering 503");
            self.ua.hangup(id, 503, now());
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = now();
        match command {
            Command::Respond { call, code, sdp } => self.ua.respond(call, code, sdp, now),
            Command::Hangup { call, code } => self.ua.hangup(call, code, now),
            Command::ReinviteAnswer { call, sdp } => self.ua.answer_reinvite(call, sdp, now),
            Command::Info {
                call,
                digit,
                duration_ms,
            } => self.ua.send_info_dtmf(call, digit, duration_ms, now),
            Command::Redirect { call, target } => self.ua.redirect(call, &target, now),
            Command::Ack { call, sdp } => self.ua.ack(call, sdp, now),
            Command::Invite { call, reply } => {
                let result = self.ua.invite(&call, now).map(|id| {
                    let call_id = self.ua.call_id(id).unwrap_or_default().to_owned();
                    self.handle(id, &call_id)
                });
                let _ = reply.send(result);
            }
            Command::UnregisterTrunks => self.ua.unregister_trunks(now),
            Command::Overloaded(on) => self.ua.set_overloaded(on),
            Command::Contacts { aor, reply } => {
                let _ = reply.send(self.ua.contacts(&aor, now));
            }
        }
    }
}
