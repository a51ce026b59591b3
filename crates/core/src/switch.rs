//! The switch: the channel registry and the one control API every face uses.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use switchboard_media::codec::Codec;
use switchboard_media::engine::{EngineConfig, Leg, MediaEngine, MediaEvent, Remote, Source};
use switchboard_sip::sdp::{Direction as SdpDirection, Format, Sdp};
use switchboard_sip::{
    CallEvent, IncomingCall, InviteError, Origin, OutgoingCall, SipStack, Target,
};
use switchboard_store::{Cdr, Store};
use tokio::sync::mpsc;

use crate::bridge::{AddToBridge, Bridge, NewBridge};
use crate::cause::Cause;
use crate::channel::{CallerId, Channel, ChannelData, Direction, Parts};
use crate::config::{Config, DtmfMode};
use crate::dialplan::Dialplan;
use crate::events::{EventBus, EventKind};
use crate::header_value;
use crate::playback::Playback;
use crate::recording::LiveRecording;
use crate::shared_state::SharedState;
use crate::sip_config::stack_config;
use crate::state::ChannelState;
use crate::{time, CoreError};

/// Why a control operation was refused (the faces map these to their error codes).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    #[error("channel not found")]
    NotFound,
    #[error("channel is not in a state that allows this: {0}")]
    WrongState(&'static str),
    #[error("{0}")]
    Invalid(String),
    /// Clashes with something that exists (ARI 409).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but cannot be done (ARI 422).
    #[error("{0}")]
    Unprocessable(String),
    /// The switch failed doing it (storage, I/O; ARI 500).
    #[error("{0}")]
    Failed(String),
}

/// Why an outbound channel was not made (originate, create).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginateError {
    /// The request itself is unusable (a face answers 400 with the reason).
    #[error(transparent)]
    Refused(#[from] ControlError),
    /// The call could not be placed, for this cause.
    #[error("{}", .0.text())]
    Failed(Cause),
    /// The trunk the call would go through is down (registration failed, pings
    /// unanswered): refused at once with GATEWAY_DOWN.
    #[error("trunk {trunk} is down: {reason}")]
    TrunkDown { trunk: String, reason: String },
}

impl From<Cause> for OriginateError {
    fn from(cause: Cause) -> Self {
        Self::Failed(cause)
    }
}

impl OriginateError {
    /// The cause a Dial reports (a refused request is a number it cannot use).
    pub fn cause(&self) -> Cause {
        match self {
            Self::Refused(_) => Cause::INVALID_NUMBER_FORMAT,
            Self::Failed(cause) => *cause,
            Self::TrunkDown { .. } => Cause::GATEWAY_DOWN,
        }
    }
}

struct Inner {
    /// When each music-on-hold class started playing (its shared position).
    moh_epochs: Mutex<HashMap<String, std::time::Instant>>,
    /// Stasis applications with a connected client (ARI registers them).
    apps: Mutex<std::collections::HashSet<String>>,
    /// Dialplan applications by name and alias.
    applications: crate::apps::Registry,
    recordings: Mutex<HashMap<String, Arc<LiveRecording>>>,
    bridges: Mutex<HashMap<String, Arc<Bridge>>>,
    /// Bridges being destroyed: out of `bridges`, kept for the snapshots of their
    /// last events until their BridgeDestroyed is out.
    closing_bridges: Mutex<HashMap<String, Arc<Bridge>>>,
    playbacks: Mutex<HashMap<String, Arc<Playback>>>,
    config: Config,
    /// Replaced whole by a configuration reload (`reloadxml`); a channel keeps the
    /// steps it has already looked up.
    dialplan: std::sync::RwLock<Arc<Dialplan>>,
    /// Re-reads the configuration (set by the binary, which knows its file).
    config_loader: Mutex<Option<crate::reload::ConfigLoader>>,
    /// Tasks to run later (FreeSWITCH's scheduler: sched_api, sched_hangup, …).
    scheduler: crate::scheduler::Scheduler,
    /// Told when something asked the process to stop (the `shutdown` command).
    exit: tokio::sync::watch::Sender<bool>,
    sip: SipStack,
    media: MediaEngine,
    events: EventBus,
    store: Arc<Store>,
    shared: SharedState,
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    counter: AtomicU64,
    /// For FreeSWITCH's `uptime` and `status`.
    started: std::time::Instant,
}

/// A cheap, cloneable handle on the running switch.
#[derive(Clone)]
pub struct Switch {
    inner: Arc<Inner>,
}

fn parse_listen(spec: &str) -> Result<(String, SocketAddr), CoreError> {
    let (proto, addr) = spec
        .split_once(':')
        .ok_or_else(|| CoreError::Config(format!("sip.listen: {spec:?} is not proto:ip:port")))?;
    let addr = addr
        .parse()
        .map_err(|_| CoreError::Config(format!("sip.listen: {spec:?} has no valid ip:port")))?;
    Ok((proto.to_ascii_lowercase(), addr))
}

impl Switch {
    /// Starts SIP, media and storage from a validated config.
    pub async fn start(config: Config) -> Result<Self, CoreError> {
        Self::start_with(config, crate::io::Io::default()).await
    }

    /// [`Switch::start`] with SIP and storage on `io` (a test's memory wire and store).
    pub async fn start_with(config: Config, io: crate::io::Io) -> Result<Self, CoreError> {
        let dialplan = Dialplan::from_config(&config.dialplan).map_err(CoreError::Config)?;
        let mut udp = None;
        let mut tcp = None;
        for spec in &config.sip.listen {
            match parse_listen(spec)? {
                (p, addr) if p == "udp" => udp = udp.or(Some(addr)),
                (p, addr) if p == "tcp" => tcp = tcp.or(Some(addr)),
                (p, _) => {
                    return Err(CoreError::Config(format!(
                        "sip.listen: transport {p:?} is not supported (udp, tcp)"
                    )))
                }
            }
        }
        let udp =
            udp.ok_or_else(|| CoreError::Config("sip.listen: a udp listener is required".into()))?;
        let mut trunks = Vec::new();
        for trunk in &config.trunk {
            let addr = trunk.host.parse().map_err(|_| {
                CoreError::Config(format!(
                    "trunk {:?}: host {:?} is not ip:port",
                    trunk.name, trunk.host
                ))
            })?;
            trunks.push((trunk.name.clone(), addr));
        }
        let stack_config = stack_config(&config, udp, tcp, trunks);
        let (sip, incoming) = match io.sip {
            crate::io::SipIo::Bind => SipStack::start(stack_config)
                .await
                .map_err(|e| CoreError::Io(format!("SIP listener {udp}: {e}")))?,
            crate::io::SipIo::Wire { wire, inbound } => {
                SipStack::start_on(stack_config, wire, inbound)
            }
        };
        let udp_media = matches!(io.rtp, crate::io::RtpIo::Udp);
        let media = MediaEngine::start(EngineConfig {
            ip: sip.local_ip(),
            ports: (config.rtp.ports[0], config.rtp.ports[1]),
            threads: 0,
            net: match io.rtp {
                crate::io::RtpIo::Udp => None,
                crate::io::RtpIo::Memory(net) => Some(net),
            },
        })
        .map_err(|e| CoreError::Io(e.to_string()))?;
        let store = match io.store {
            crate::io::StoreIo::DataDir => {
                Store::open(&config.general.data_dir.join("switchboard.db"))
            }
            crate::io::StoreIo::Memory => Store::in_memory(),
        }
        .map_err(|e| CoreError::Io(e.to_string()))?;
        let shared = SharedState::load(&store);
        let switch = Self {
            inner: Arc::new(Inner {
                config,
                dialplan: std::sync::RwLock::new(Arc::new(dialplan)),
                config_loader: Mutex::default(),
                scheduler: crate::scheduler::Scheduler::default(),
                exit: tokio::sync::watch::channel(false).0,
                sip,
                media,
                events: EventBus::default(),
                store: Arc::new(store),
                shared,
                channels: Mutex::default(),
                playbacks: Mutex::default(),
                bridges: Mutex::default(),
                closing_bridges: Mutex::default(),
                recordings: Mutex::default(),
                apps: Mutex::default(),
                applications: crate::apps::Registry::builtin(),
                moh_epochs: Mutex::default(),
                counter: AtomicU64::new(0),
                started: std::time::Instant::now(),
            }),
        };
        // Weak: the bus lives in the switch it snapshots.
        let weak = Arc::downgrade(&switch.inner);
        switch.inner.events.set_snapshotter(move |source, kind| {
            weak.upgrade()
                .map(|inner| Switch { inner }.objects(source, kind))
                .unwrap_or_default()
        });
        switch.recover_recordings();
        tokio::spawn(switch.clone().accept_calls(incoming));
        if udp_media && switch.inner.config.general.max_media_load > 0 {
            let weak = Arc::downgrade(&switch.inner);
            tokio::spawn(crate::admission::watch(
                move || weak.upgrade().map(|inner| inner.media.load()),
                switch.inner.sip.clone(),
                crate::admission::MediaAdmission::new(switch.inner.config.general.max_media_load),
            ));
        }
        Ok(switch)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The events of one channel only, from now until its `ChannelDestroyed`.
    pub fn channel_events(&self, id: &str) -> Result<crate::ChannelEvents, ControlError> {
        let events = self.inner.events.subscribe_source(id);
        // Checked after subscribing: a channel still registered has not published its
        // final event yet, so the stream will see it and end.
        if self.channel(id).is_err() {
            self.inner.events.forget(id);
            return Err(ControlError::NotFound);
        }
        Ok(events)
    }

    pub(crate) fn media(&self) -> &MediaEngine {
        &self.inner.media
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    pub(crate) fn sip(&self) -> &SipStack {
        &self.inner.sip
    }

    pub(crate) fn shared(&self) -> &SharedState {
        &self.inner.shared
    }

    pub(crate) fn app_registry(&self) -> &crate::apps::Registry {
        &self.inner.applications
    }

    pub(crate) fn dialplan(&self) -> Arc<Dialplan> {
        self.inner
            .dialplan
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_dialplan(&self, dialplan: Dialplan) {
        *self
            .inner
            .dialplan
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(dialplan);
    }

    pub(crate) fn config_loader(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<crate::reload::ConfigLoader>> {
        crate::lock(&self.inner.config_loader)
    }

    pub(crate) fn scheduler(&self) -> &crate::scheduler::Scheduler {
        &self.inner.scheduler
    }

    pub(crate) fn exit_sender(&self) -> &tokio::sync::watch::Sender<bool> {
        &self.inner.exit
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Channel>>> {
        crate::lock(&self.inner.channels)
    }

    pub(crate) fn playback_registry(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Playback>>> {
        crate::lock(&self.inner.playbacks)
    }

    pub(crate) fn live_recordings(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LiveRecording>>> {
        crate::lock(&self.inner.recordings)
    }

    /// How long the switch has been running.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    pub fn channels(&self) -> Vec<Arc<Channel>> {
        let mut list: Vec<_> = self.registry().values().cloned().collect();
        list.sort_by_key(|c| c.created);
        list
    }

    pub fn channel(&self, id: &str) -> Result<Arc<Channel>, ControlError> {
        self.registry()
            .get(id)
            .cloned()
            .ok_or(ControlError::NotFound)
    }

    /// The peer's own codec list (if it has one) and DTMF mode.
    fn peer_settings(&self, origin: Option<&Origin>) -> (Option<Vec<String>>, DtmfMode) {
        let config = &self.inner.config;
        match origin {
            Some(Origin::Endpoint(id)) => config
                .endpoint
                .iter()
                .find(|e| &e.id == id)
                .map(|e| (e.codecs.clone(), e.dtmf_mode)),
            Some(Origin::Trunk(name)) => config
                .trunk
                .iter()
                .find(|t| &t.name == name)
                .map(|t| (t.codecs.clone(), t.dtmf_mode)),
            None => None,
        }
        .unwrap_or_default()
    }

    /// A new media leg for a peer, with in-band DTMF detection when it is configured.
    fn leg_for(
        &self,
        id: &str,
        origin: Option<&Origin>,
    ) -> Result<Leg, switchboard_media::MediaError> {
        let leg = self.inner.media.create_leg(id)?;
        if self.peer_settings(origin).1 == DtmfMode::Inband {
            leg.force_inband_dtmf();
        }
        Ok(leg)
    }

    fn codecs_for(&self, origin: Option<&Origin>) -> Vec<String> {
        let config = &self.inner.config;
        let specific = self.peer_settings(origin).0;
        let mut codecs = specific.unwrap_or_else(|| config.rtp.codecs.clone());
        // Opus is offered only where libopus could be loaded.
        if !switchboard_media::codec::opus::available() {
            codecs.retain(|c| !c.eq_ignore_ascii_case("opus"));
        }
        // Digits pass through whenever the switch supports them at all.
        let dtmf = config
            .rtp
            .codecs
            .iter()
            .any(|c| c.eq_ignore_ascii_case("telephone-event"));
        if dtmf
            && !codecs
                .iter()
                .any(|c| c.eq_ignore_ascii_case("telephone-event"))
        {
            codecs.push("telephone-event".into());
        }
        codecs
    }

    fn next_name(&self, tech_resource: &str) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("SIP/{tech_resource}-{n:08x}")
    }

    /// Adds a channel to the registry and starts its driver; `sip_events` is `None` for
    /// channels without signalling.
    pub(crate) fn register(
        &self,
        channel: Arc<Channel>,
        sip_events: Option<mpsc::UnboundedReceiver<CallEvent>>,
    ) {
        self.registry().insert(channel.id.clone(), channel.clone());
        self.inner
            .events
            .publish(&channel.id, EventKind::ChannelCreated);
        tokio::spawn(self.clone().drive(channel.clone()));
        if let Some(events) = sip_events {
            tokio::spawn(self.clone().pump_sip(channel, events));
        }
    }

    // ---- inbound calls ----

    async fn accept_calls(self, mut incoming: mpsc::Receiver<IncomingCall>) {
        while let Some(call) = incoming.recv().await {
            self.on_incoming(call);
        }
    }

    fn on_incoming(&self, call: IncomingCall) {
        let config = &self.inner.config;
        let (context, resource) = match &call.info.origin {
            Origin::Endpoint(id) => (
                config
                    .endpoint
                    .iter()
                    .find(|e| &e.id == id)
                    .map_or_else(|| "default".to_owned(), |e| e.context.clone()),
                id.clone(),
            ),
            Origin::Trunk(name) => (
                config
                    .trunk
                    .iter()
                    .find(|t| &t.name == name)
                    .map_or_else(|| "default".to_owned(), |t| t.context.clone()),
                name.clone(),
            ),
        };
        let codecs = self.codecs_for(Some(&call.info.origin));
        let id = uuid::Uuid::new_v4().to_string();
        let name = self.next_name(&resource);
        let leg = match self.leg_for(&id, Some(&call.info.origin)) {
            Ok(leg) => leg,
            Err(e) => {
                tracing::error!(error = %e, "no media for an incoming call");
                call.handle.hangup(Cause::SWITCH_CONGESTION.sip_status());
                return;
            }
        };
        let session_id = session_id();
        let (local_sdp, awaiting_answer) = match call.info.offer.as_deref().map(Sdp::parse) {
            Some(Ok(offer)) => {
                let prefs: Vec<&str> = codecs.iter().map(String::as_str).collect();
                match offer.answer(&prefs, leg.local_addr(), session_id) {
                    Some(answer) => {
                        apply_remote(&leg, &offer, &answer);
                        (answer, false)
                    }
                    None => {
                        tracing::info!(call_id = %call.info.call_id, "no common codec; 488");
                        call.handle
                            .hangup(Cause::INCOMPATIBLE_DESTINATION.sip_status());
                        leg.close();
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                tracing::info!(call_id = %call.info.call_id, error = %e, "bad SDP offer; 488");
                call.handle
                    .hangup(Cause::INCOMPATIBLE_DESTINATION.sip_status());
                leg.close();
                return;
            }
            None => {
                let prefs: Vec<&str> = codecs.iter().map(String::as_str).collect();
                (Sdp::offer(&prefs, leg.local_addr(), session_id), true)
            }
        };
        let caller = CallerId {
            name: call.info.caller_name.unwrap_or_default(),
            number: call.info.caller,
        };
        let mut data = ChannelData::new(caller, context, call.info.callee);
        let source = call.info.source;
        let ip = source.ip().to_string();
        data.vars.extend([
            ("network_addr".to_owned(), ip.clone()),
            ("sip_network_ip".to_owned(), ip),
            ("sip_network_port".to_owned(), source.port().to_string()),
        ]);
        data.local_sdp = Some(local_sdp);
        data.awaiting_answer = awaiting_answer;
        let parts = Parts {
            id,
            name,
            direction: Direction::Inbound,
            sip: Some(call.handle),
            leg,
            codecs,
            origin: Some(call.info.origin.clone()),
        };
        let channel = Arc::new(Channel::new(parts, data, ChannelState::Ring));
        tracing::info!(channel = %channel.name, id = %channel.id, exten = %channel.data().exten, "incoming call");
        self.register(channel.clone(), Some(call.events));
        tokio::spawn(crate::apps::run_dialplan(self.clone(), channel));
    }

    // ---- outbound calls ----

    /// A channel for `dialstring` that does not call yet (ARI `create`): it waits,
    /// Down, for [`Switch::dial`].
    pub fn create_channel(
        &self,
        dialstring: &str,
        caller: CallerId,
        channel_id: Option<String>,
        other_id: Option<String>,
    ) -> Result<Arc<Channel>, OriginateError> {
        header_value::check_outbound(dialstring, &caller)?;
        if let Some((exten, context)) = parse_local(dialstring) {
            return Ok(self.local_pair(
                &exten,
                &context,
                caller,
                None,
                [channel_id, other_id],
                false,
            )?);
        }
        let (channel, target) = self.prepare_outbound(dialstring, caller, None, channel_id)?;
        channel.data().pending_dial = Some(target);
        Ok(channel)
    }

    /// Places the call of a created channel (ARI `dial`).
    pub async fn dial(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        // The caller id may have been set since the channel was created.
        header_value::check_caller_id(&channel.data().connected)?;
        let local = channel.data().pending_local.take();
        if let Some(far) = local {
            let far = self.channel(&far)?;
            tokio::spawn(crate::apps::run_dialplan(self.clone(), far));
            return Ok(());
        }
        let target = channel
            .data()
            .pending_dial
            .take()
            .ok_or(ControlError::WrongState("channel has already been dialled"))?;
        if let Err(cause) = self.place_call(&channel, target).await {
            self.hangup(&channel.id, cause);
            return Err(ControlError::Invalid(format!(
                "cannot dial: {}",
                cause.text()
            )));
        }
        Ok(())
    }

    /// The outbound channel, registered, with its media and SDP offer ready.
    pub(crate) fn prepare_outbound(
        &self,
        dialstring: &str,
        caller: CallerId,
        parent: Option<&Arc<Channel>>,
        channel_id: Option<String>,
    ) -> Result<(Arc<Channel>, Target), Cause> {
        if channel_id
            .as_ref()
            .is_some_and(|id| self.channel(id).is_ok())
        {
            return Err(Cause::FACILITY_REJECTED);
        }
        let target = parse_dialstring(dialstring, &self.inner.config)?;
        let origin = match &target {
            Target::Endpoint(id) => Some(Origin::Endpoint(id.clone())),
            Target::Trunk { name, .. } => Some(Origin::Trunk(name.clone())),
            Target::Uri(_) => None,
        };
        let resource = match &target {
            Target::Endpoint(id) => id.clone(),
            Target::Trunk { name, .. } => name.clone(),
            Target::Uri(uri) => uri.trim_start_matches("sip:").to_owned(),
        };
        let codecs = self.codecs_for(origin.as_ref());
        let id = channel_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let leg = self
            .leg_for(&id, origin.as_ref())
            .map_err(|_| Cause::SWITCH_CONGESTION)?;
        let prefs: Vec<&str> = codecs.iter().map(String::as_str).collect();
        let offer = Sdp::offer(&prefs, leg.local_addr(), session_id());
        let (context, exten) = parent
            .map(|p| {
                let d = p.data();
                (d.context.clone(), d.exten.clone())
            })
            .unwrap_or_default();
        let callee = CallerId {
            name: String::new(),
            number: resource.clone(),
        };
        let mut data = ChannelData::new(callee, context, exten);
        data.connected = caller;
        data.local_sdp = Some(offer);
        data.awaiting_answer = true;
        data.parent = parent.map(|p| p.id.clone());
        let parts = Parts {
            id,
            name: self.next_name(&resource),
            direction: Direction::Outbound,
            sip: None,
            leg,
            codecs,
            origin,
        };
        let channel = Arc::new(Channel::new(parts, data, ChannelState::Down));
        if let Some(parent) = parent {
            parent.data().children.push(channel.id.clone());
        }
        self.register(channel.clone(), None);
        Ok((channel, target))
    }

    /// Sends the INVITE for a prepared outbound channel.
    pub(crate) async fn place_call(
        &self,
        channel: &Arc<Channel>,
        target: Target,
    ) -> Result<(), Cause> {
        if let Target::Trunk { name, .. } = &target {
            if let Err(e) = self.check_trunk_up(name) {
                tracing::info!(channel = %channel.name, error = %e, "cannot dial");
                return Err(Cause::GATEWAY_DOWN);
            }
            self.trunk_caller_id(channel, name);
        }
        let call = {
            let data = channel.data();
            // A late offer keeps our prepared offer unsent: it is the base of the answer.
            let offer = (!data.invite.late_offer)
                .then(|| data.local_sdp.as_ref().map(Sdp::to_string))
                .flatten();
            let mut call = OutgoingCall::new(target, data.connected.number.clone(), offer);
            call.caller_name = Some(data.connected.name.clone()).filter(|n| !n.is_empty());
            call.headers.clone_from(&data.invite.headers);
            call
        };
        let invited = self.inner.sip.place(call).await;
        match invited {
            Ok((handle, events)) => {
                let _ = channel.sip.set(handle);
                tokio::spawn(self.clone().pump_sip(channel.clone(), events));
                Ok(())
            }
            Err(e) => {
                tracing::info!(channel = %channel.name, error = %e, "cannot dial");
                Err(match e {
                    InviteError::NotRegistered(_) => Cause::SUBSCRIBER_ABSENT,
                    InviteError::UnknownTrunk(_)
                    | InviteError::BadUri(_)
                    | InviteError::BadHeader
                    | InviteError::ReservedHeader(_) => Cause::NO_ROUTE_DESTINATION,
                    InviteError::Stopped => Cause::SWITCH_CONGESTION,
                })
            }
        }
    }

    /// A trunk's `caller_id_number` becomes the From user of a call through it, unless
    /// the request named its own caller number.
    fn trunk_caller_id(&self, channel: &Channel, trunk: &str) {
        let number = self
            .config()
            .trunk
            .iter()
            .find(|t| t.name == trunk)
            .and_then(|t| t.caller_id_number.clone());
        let mut data = channel.data();
        if let Some(number) = number.filter(|_| !data.invite.caller_set) {
            data.connected.number = number;
        }
    }

    /// Turns a call's SIP events into channel state until the dialog ends.
    async fn pump_sip(self, channel: Arc<Channel>, mut events: mpsc::UnboundedReceiver<CallEvent>) {
        while let Some(event) = events.recv().await {
            self.on_call_event(&channel, event);
        }
        // The dialog is gone; every path there sent an event first.
        self.hangup(&channel.id, Cause::NORMAL_CLEARING);
    }

    // ---- the per-channel driver: signalling and media events into state ----

    async fn drive(self, channel: Arc<Channel>) {
        let mut media = channel.leg.take_events();
        let mut status = channel.subscribe();
        loop {
            tokio::select! {
                Some(MediaEvent::Dtmf(digit)) = recv_or_pending(&mut media) => {
                    self.dtmf_received(&channel, digit.digit, digit.duration_ms);
                }
                changed = status.changed() => {
                    if changed.is_err() || status.borrow().hangup.is_some() {
                        break;
                    }
                }
            }
        }
    }

    fn on_call_event(&self, channel: &Arc<Channel>, event: CallEvent) {
        match event {
            CallEvent::Provisional { code, sdp } => {
                // An offer in an unreliable 1xx is not one we can answer (no PRACK).
                let late = channel.data().invite.late_offer;
                if let Some(sdp) = sdp.filter(|_| !late) {
                    if self.apply_answer(channel, &sdp) {
                        channel.set_early_media();
                    }
                }
                if code == 180 || code == 183 {
                    self.set_state(channel, ChannelState::Ringing);
                }
            }
            CallEvent::Answered { sdp } => {
                if channel.data().invite.late_offer {
                    if !self.answer_late_offer(channel, sdp.as_deref()) {
                        self.hangup(&channel.id, Cause::INCOMPATIBLE_DESTINATION);
                        return;
                    }
                } else if let Some(sdp) = sdp {
                    if !self.apply_answer(channel, &sdp) {
                        self.hangup(&channel.id, Cause::INCOMPATIBLE_DESTINATION);
                        return;
                    }
                }
                channel.data().answered_at = Some(SystemTime::now());
                self.set_state(channel, ChannelState::Up);
            }
            CallEvent::Failed { code } => self.hangup(&channel.id, Cause::from_sip_status(code)),
            CallEvent::Acked { sdp } => {
                if let Some(sdp) = sdp {
                    if channel.data().awaiting_answer && !self.apply_answer(channel, &sdp) {
                        self.hangup(&channel.id, Cause::INCOMPATIBLE_DESTINATION);
                    }
                }
            }
            CallEvent::Cancelled => self.hangup(&channel.id, Cause::ORIGINATOR_CANCEL),
            CallEvent::Bye => self.hangup(&channel.id, Cause::NORMAL_CLEARING),
            CallEvent::Lost => self.hangup(&channel.id, Cause::RECOVERY_ON_TIMER_EXPIRE),
            CallEvent::Reinvite { sdp } => self.on_reinvite(channel, sdp.as_deref()),
            CallEvent::Dtmf { digit, duration_ms } => {
                self.dtmf_received(channel, digit, duration_ms);
            }
        }
    }

    /// A digit from the channel's far end (RFC 4733, in band, SIP INFO, or the other half
    /// of a Local pair): into its digit buffer, and announced.
    fn dtmf_received(&self, channel: &Channel, digit: char, duration_ms: u32) {
        channel.digits.push(&channel.id, digit);
        self.inner.events.publish(
            &channel.id,
            EventKind::ChannelDtmfReceived { digit, duration_ms },
        );
    }

    /// Applies the peer's SDP answer to our offer; false when it names nothing we offered.
    fn apply_answer(&self, channel: &Channel, text: &str) -> bool {
        let Ok(answer) = Sdp::parse(text) else {
            return false;
        };
        let Some(format) = answer.audio_format() else {
            return false;
        };
        let Some(remote) = remote_for(&answer, format) else {
            return false;
        };
        channel.leg.set_remote(remote);
        channel.data().awaiting_answer = false;
        true
    }

    /// Answers the offer a late-offer call's 2xx carried, in the ACK; false (after a
    /// bare ACK) when there is none or nothing in it we can use.
    fn answer_late_offer(&self, channel: &Channel, offer: Option<&str>) -> bool {
        let Some(sip) = channel.sip.get() else {
            return false;
        };
        let prefs: Vec<&str> = channel.codecs.iter().map(String::as_str).collect();
        let answer = offer.and_then(|o| Sdp::parse(o).ok()).and_then(|offer| {
            let answer = offer.answer(&prefs, channel.leg.local_addr(), session_id())?;
            Some((offer, answer))
        });
        let Some((offer, answer)) = answer else {
            tracing::info!(channel = %channel.name, "late offer without a usable SDP offer");
            sip.ack(None);
            return false;
        };
        apply_remote(&channel.leg, &offer, &answer);
        {
            let mut data = channel.data();
            data.local_sdp = Some(answer.clone());
            data.awaiting_answer = false;
        }
        sip.ack(Some(answer.to_string()));
        true
    }

    fn on_reinvite(&self, channel: &Arc<Channel>, offer: Option<&str>) {
        let Some(offer) = offer else {
            // Late-offer re-INVITE: offer what we have, as a fresh sendrecv.
            let sdp = channel.data().local_sdp.clone().map(|mut s| {
                s.version += 1;
                s.direction = SdpDirection::SendRecv;
                s
            });
            match sdp {
                Some(sdp) => reinvite_answer(channel, Ok(sdp.to_string())),
                None => reinvite_answer(channel, Err(488)),
            }
            return;
        };
        let Ok(offer) = Sdp::parse(offer) else {
            reinvite_answer(channel, Err(488));
            return;
        };
        // Keep the current codec when it is still offered: no needless transcoding switch.
        let current = channel.leg.remote().map(|r| r.codec.name());
        let allowed: Vec<&str> = channel.codecs.iter().map(String::as_str).collect();
        let keep = current.filter(|c| offer.formats.iter().any(|f| f.is(c)));
        let prefs: Vec<&str> = match keep {
            Some(codec) => allowed
                .iter()
                .copied()
                .filter(|a| {
                    a.eq_ignore_ascii_case(codec) || a.eq_ignore_ascii_case("telephone-event")
                })
                .collect(),
            None => allowed,
        };
        let version = channel
            .data()
            .local_sdp
            .as_ref()
            .map_or(0, |s| s.version + 1);
        let Some(mut answer) = offer.answer(&prefs, channel.leg.local_addr(), session_id()) else {
            reinvite_answer(channel, Err(488));
            return;
        };
        if let Some(local) = &channel.data().local_sdp {
            answer.session_id = local.session_id;
        }
        answer.version = version;
        apply_remote(&channel.leg, &offer, &answer);
        let held = !offer.direction.receives();
        let was_held = {
            let mut data = channel.data();
            data.local_sdp = Some(answer.clone());
            std::mem::replace(&mut data.held, held)
        };
        reinvite_answer(channel, Ok(answer.to_string()));
        if held != was_held {
            let kind = if held {
                EventKind::ChannelHold
            } else {
                EventKind::ChannelUnhold
            };
            self.inner.events.publish(&channel.id, kind);
        }
    }

    pub(crate) fn set_state(&self, channel: &Channel, state: ChannelState) {
        if channel.set_state(state) {
            self.inner
                .events
                .publish(&channel.id, EventKind::ChannelStateChange { state });
        }
    }

    // ---- the control API ----

    /// Answers an inbound channel (200 OK with our SDP).
    pub fn answer(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if channel.direction != Direction::Inbound {
            return Err(ControlError::WrongState(
                "only inbound channels can be answered",
            ));
        }
        if channel.state() == ChannelState::Up {
            return Ok(());
        }
        // A Local channel has no SDP to send: answering is only its state.
        if let Some(sip) = channel.sip.get() {
            let sdp = channel.data().local_sdp.clone();
            let Some(sdp) = sdp else {
                return Err(ControlError::WrongState("no media negotiated"));
            };
            sip.answer(sdp.to_string());
        }
        channel.data().answered_at = Some(SystemTime::now());
        self.set_state(&channel, ChannelState::Up);
        Ok(())
    }

    /// 180 Ringing to an inbound channel.
    pub fn ring(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if channel.direction == Direction::Inbound && channel.state() != ChannelState::Up {
            if let Some(sip) = channel.sip.get() {
                sip.ring();
            }
        }
        Ok(())
    }

    /// 183 Session Progress with our SDP: early media from here on.
    pub fn progress(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        let data = channel.data();
        if channel.direction != Direction::Inbound || channel.state() == ChannelState::Up {
            return Ok(());
        }
        // A late-offer call has no answer to send in a provisional response.
        if let (Some(sdp), false) = (&data.local_sdp, data.awaiting_answer) {
            if let Some(sip) = channel.sip.get() {
                sip.progress(sdp.to_string());
            }
        }
        Ok(())
    }

    /// Requests a hangup; teardown (signalling, CDR, media) runs in the background.
    pub fn hangup(&self, id: &str, cause: Cause) {
        let Ok(channel) = self.channel(id) else {
            return;
        };
        if !channel.mark_hangup(cause) {
            return;
        }
        let switch = self.clone();
        tokio::spawn(async move { switch.teardown(channel, cause).await });
    }

    async fn teardown(&self, channel: Arc<Channel>, cause: Cause) {
        let events = &self.inner.events;
        events.publish(&channel.id, EventKind::ChannelHangupRequest { cause });
        tracing::info!(channel = %channel.name, %cause, "hangup");
        if let Some(sip) = channel.sip.get() {
            sip.hangup(cause.sip_status());
        }
        let children = std::mem::take(&mut channel.data().children);
        for child in children {
            // Unanswered legs of a Dial are cancelled; bridged ones hung up alike.
            self.hangup(&child, cause);
        }
        // One CDR per call: the caller's. Dialled legs and channels without SIP
        // (snoops, external media) are covered by it.
        if channel.data().parent.is_none() && channel.sip.get().is_some() {
            let cdr = self.cdr_for(&channel, cause);
            let store = self.inner.store.clone();
            let written = tokio::task::spawn_blocking(move || store.insert_cdr_blocking(cdr)).await;
            if let Ok(Err(e)) | Err(e) =
                written.map_err(|e| switchboard_store::StoreError::Write(e.to_string()))
            {
                tracing::error!(channel = %channel.id, error = %e, "CDR not written");
            }
        }
        let bridge = channel.data().bridge.clone();
        if let Some(bridge) = bridge {
            let _ = self.remove_from_bridge(&bridge, &channel.id);
        }
        channel.leg.close();
        let stasis = channel.data().stasis.take();
        if let Some((app, _)) = stasis {
            events.publish(&channel.id, EventKind::StasisEnd { app });
        }
        // Registered until its last event is out, so the event carries its snapshot.
        events.publish(&channel.id, EventKind::ChannelDestroyed { cause });
        self.registry().remove(&channel.id);
        // A subscriber that came after ChannelDestroyed: its stream ends now.
        events.forget(&channel.id);
    }

    fn cdr_for(&self, channel: &Channel, cause: Cause) -> Cdr {
        let end = SystemTime::now();
        let data = channel.data();
        let dstchannel = data.peer_name.clone().unwrap_or_default();
        let disposition = match (data.answered_at, cause) {
            (Some(_), _) => "ANSWERED",
            (None, Cause::USER_BUSY) => "BUSY",
            (None, Cause::NO_ANSWER | Cause::ORIGINATOR_CANCEL) => "NO ANSWER",
            (None, _) => "FAILED",
        };
        Cdr {
            uniqueid: channel.id.clone(),
            channel: channel.name.clone(),
            dstchannel,
            caller: data.caller.number.clone(),
            caller_name: data.caller.name.clone(),
            callee: data.exten.clone(),
            context: data.context.clone(),
            start: time::rfc3339(channel.created),
            answer: data.answered_at.map(time::rfc3339),
            end: time::rfc3339(end),
            duration: time::seconds_between(channel.created, end),
            billsec: data
                .answered_at
                .map_or(0, |a| time::seconds_between(a, end)),
            cause: i64::from(cause.0),
            disposition: disposition.into(),
        }
    }

    fn bridge_registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Bridge>>> {
        crate::lock(&self.inner.bridges)
    }

    pub fn bridges(&self) -> Vec<Arc<Bridge>> {
        let mut list: Vec<_> = self.bridge_registry().values().cloned().collect();
        list.sort_by_key(|b| b.created);
        list
    }

    pub fn bridge(&self, id: &str) -> Result<Arc<Bridge>, ControlError> {
        self.bridge_registry()
            .get(id)
            .cloned()
            .ok_or(ControlError::NotFound)
    }

    /// A bridge, or one being destroyed whose last events are not all out yet.
    pub(crate) fn bridge_until_destroyed(&self, id: &str) -> Option<Arc<Bridge>> {
        let live = self.bridge_registry().get(id).cloned();
        live.or_else(|| crate::lock(&self.inner.closing_bridges).get(id).cloned())
    }

    /// A new bridge; `transient` ones go away when their last channel leaves.
    pub fn create_bridge(&self, new: NewBridge) -> Result<Arc<Bridge>, ControlError> {
        let NewBridge {
            kind,
            name,
            id,
            transient,
            creator,
        } = new;
        let mut bridges = self.bridge_registry();
        if let Some(id) = id.as_ref().filter(|id| bridges.contains_key(*id)) {
            return Err(ControlError::Conflict(format!(
                "bridge {id} already exists"
            )));
        }
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let bridge = Arc::new(Bridge::new(
            id.clone(),
            name,
            kind,
            creator,
            transient,
            self.inner.media.clone(),
        ));
        bridges.insert(id.clone(), bridge.clone());
        drop(bridges);
        self.inner.events.publish(&id, EventKind::BridgeCreated);
        Ok(bridge)
    }

    /// The bridge called `name`, made (transient, mixing) if there is none yet.
    pub fn named_bridge(&self, name: &str) -> Result<Arc<Bridge>, ControlError> {
        let existing = self
            .bridge_registry()
            .values()
            .find(|b| b.name == name)
            .cloned();
        match existing {
            Some(bridge) => Ok(bridge),
            None => self.create_bridge(NewBridge::transient(name)),
        }
    }

    /// Moves a channel into a bridge (out of any other first).
    pub fn add_to_bridge(&self, bridge_id: &str, channel_id: &str) -> Result<(), ControlError> {
        self.add_to_bridge_with(bridge_id, channel_id, AddToBridge::default())
    }

    /// [`Switch::add_to_bridge`] with options (muted towards the bridge while in it).
    pub fn add_to_bridge_with(
        &self,
        bridge_id: &str,
        channel_id: &str,
        options: AddToBridge,
    ) -> Result<(), ControlError> {
        let bridge = self.bridge(bridge_id)?;
        let channel = self.channel(channel_id)?;
        let previous = channel.data().bridge.clone();
        if let Some(previous) = previous.filter(|p| p != bridge_id) {
            self.remove_from_bridge(&previous, channel_id)?;
        }
        bridge.add(channel.clone(), options.mute);
        let others: Vec<Arc<Channel>> = {
            let registry = self.registry();
            bridge
                .channel_ids()
                .iter()
                .filter(|m| *m != channel_id)
                .filter_map(|m| registry.get(m).cloned())
                .collect()
        };
        {
            let mut data = channel.data();
            data.bridge = Some(bridge.id.clone());
            // Alone in the bridge, it keeps the peer it had (the channel it dialled).
            if let Some(first) = others.first() {
                data.peer_name = Some(first.name.clone());
            }
        }
        // Two parties: each is the other's peer, as in Asterisk's CDR party B.
        if let [other] = others.as_slice() {
            other.data().peer_name = Some(channel.name.clone());
        }
        self.inner.events.publish(
            channel_id,
            EventKind::ChannelEnteredBridge {
                bridge: bridge.id.clone(),
            },
        );
        Ok(())
    }

    pub fn remove_from_bridge(
        &self,
        bridge_id: &str,
        channel_id: &str,
    ) -> Result<(), ControlError> {
        let bridge = self.bridge(bridge_id)?;
        if !bridge.remove(channel_id) {
            return Err(ControlError::WrongState("channel is not in this bridge"));
        }
        if let Ok(channel) = self.channel(channel_id) {
            channel.data().bridge = None;
            // A recording or snoop on it goes on outside the bridge.
            self.keep_audio_flowing(&channel);
        }
        // The bridge is passed along: a channel leaving at the same moment may have
        // emptied and destroyed it already, and this event still describes it.
        self.inner.events.publish_about(
            channel_id,
            EventKind::ChannelLeftBridge {
                bridge: bridge.id.clone(),
            },
            &bridge,
        );
        if bridge.transient && bridge.is_empty() {
            // NotFound: the other leaver destroyed it first.
            let _ = self.destroy_bridge(bridge_id);
        }
        Ok(())
    }

    /// Re-picks relay or mixing for the bridge a channel is in (its audio needs changed).
    pub(crate) fn refresh_bridge_of(&self, channel: &Channel) {
        let bridge = channel.data().bridge.clone();
        if let Some(bridge) = bridge.and_then(|b| self.bridge(&b).ok()) {
            bridge.refresh();
        }
    }

    /// Ends a bridge; its channels stay up, outside any bridge.
    pub fn destroy_bridge(&self, bridge_id: &str) -> Result<(), ControlError> {
        let bridge = self
            .bridge_registry()
            .remove(bridge_id)
            .ok_or(ControlError::NotFound)?;
        crate::lock(&self.inner.closing_bridges).insert(bridge_id.to_owned(), bridge.clone());
        if let Some(moh) = bridge.set_moh(None) {
            let _ = self.stop_playback(&moh);
        }
        for channel in bridge.close() {
            channel.data().bridge = None;
            self.inner.events.publish(
                &channel.id,
                EventKind::ChannelLeftBridge {
                    bridge: bridge.id.clone(),
                },
            );
        }
        self.inner
            .events
            .publish(bridge_id, EventKind::BridgeDestroyed);
        crate::lock(&self.inner.closing_bridges).remove(bridge_id);
        Ok(())
    }

    /// Connects two channels in a new transient bridge (what Dial does).
    pub fn connect(&self, a: &str, b: &str) -> Result<Arc<Bridge>, ControlError> {
        let bridge = self.create_bridge(NewBridge::transient(""))?;
        self.add_to_bridge(&bridge.id, a)?;
        self.add_to_bridge(&bridge.id, b)?;
        Ok(bridge)
    }

    pub(crate) fn moh_epochs(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, std::time::Instant>> {
        crate::lock(&self.inner.moh_epochs)
    }

    fn apps(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        crate::lock(&self.inner.apps)
    }

    /// A Stasis application is available (a client is connected for it).
    pub fn register_app(&self, app: &str) {
        self.apps().insert(app.to_owned());
    }

    pub fn unregister_app(&self, app: &str) {
        self.apps().remove(app);
    }

    pub fn has_app(&self, app: &str) -> bool {
        self.apps().contains(app)
    }

    /// Hands the channel to a Stasis application (ARI); it stays there until
    /// [`Switch::continue_in_dialplan`] or hangup.
    pub fn enter_stasis(&self, id: &str, app: &str, args: Vec<String>) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        channel.data().stasis = Some((app.to_owned(), args.clone()));
        self.inner.events.publish(
            id,
            EventKind::StasisStart {
                app: app.to_owned(),
                args,
            },
        );
        Ok(())
    }

    /// Sends a SIP channel elsewhere (ARI `redirect`): 302 before answer, REFER after.
    /// The dialstring is resolved as Dial resolves it.
    pub fn redirect(&self, id: &str, dialstring: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        header_value::check_header_value("endpoint", dialstring)?;
        let target =
            parse_dialstring(dialstring, &self.inner.config).map_err(|_| ControlError::NotFound)?;
        let Some(sip) = channel.sip.get() else {
            return Err(ControlError::WrongState(
                "channel has no SIP dialog to redirect",
            ));
        };
        sip.redirect(target);
        Ok(())
    }

    /// Moves a channel from its Stasis application to another (ARI `move`).
    pub fn move_to_app(&self, id: &str, app: &str, args: Vec<String>) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        let previous = {
            let mut data = channel.data();
            let Some((previous, _)) = data.stasis.take() else {
                return Err(ControlError::WrongState(
                    "channel is not in a Stasis application",
                ));
            };
            data.stasis = Some((app.to_owned(), args.clone()));
            previous
        };
        self.inner
            .events
            .publish(id, EventKind::StasisEnd { app: previous });
        self.inner.events.publish(
            id,
            EventKind::StasisStart {
                app: app.to_owned(),
                args,
            },
        );
        Ok(())
    }

    /// Leaves Stasis and resumes the dialplan, optionally somewhere else
    /// (ARI `continue`). `None` fields keep the current location; the dialplan goes on
    /// at the next priority when no location is given.
    pub fn continue_in_dialplan(
        &self,
        id: &str,
        context: Option<&str>,
        exten: Option<&str>,
        priority: Option<usize>,
    ) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        let app = {
            let mut data = channel.data();
            let Some((app, _)) = data.stasis.take() else {
                return Err(ControlError::WrongState(
                    "channel is not in a Stasis application",
                ));
            };
            let moved = context.is_some() || exten.is_some() || priority.is_some();
            if let Some(context) = context {
                data.context = context.to_owned();
            }
            if let Some(exten) = exten {
                data.exten = exten.to_owned();
            }
            // The dialplan advances past Stasis() by itself; a new location starts there.
            data.priority = match (moved, priority) {
                (_, Some(p)) => p.saturating_sub(1),
                (true, None) => 0,
                (false, None) => data.priority,
            };
            app
        };
        self.inner.events.publish(id, EventKind::StasisEnd { app });
        channel.resume.notify_one();
        Ok(())
    }

    /// Sends the channel's audio back to it.
    pub fn echo(&self, id: &str) -> Result<(), ControlError> {
        self.channel(id)?.leg.echo();
        Ok(())
    }

    pub fn set_var(&self, id: &str, name: &str, value: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if name.is_empty() {
            return Err(ControlError::Invalid("variable name is empty".into()));
        }
        header_value::check_variable(name, value)?;
        channel
            .data()
            .vars
            .insert(name.to_owned(), value.to_owned());
        self.inner.events.publish(
            id,
            EventKind::ChannelVarset {
                variable: name.to_owned(),
                value: value.to_owned(),
            },
        );
        Ok(())
    }

    /// Removes a channel variable (FreeSWITCH's `uuid_setvar` without a value); announced
    /// as a ChannelVarset with an empty value, as FreeSWITCH announces an unset.
    pub fn unset_var(&self, id: &str, name: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if channel.data().vars.remove(name).is_some() {
            self.inner.events.publish(
                id,
                EventKind::ChannelVarset {
                    variable: name.to_owned(),
                    value: String::new(),
                },
            );
        }
        Ok(())
    }

    /// The file for a sound name: `sounds_dir/<lang>/<name>.wav`, then
    /// `sounds_dir/<name>.wav`; a path is taken as it is.
    pub fn find_sound(&self, name: &str, language: &str) -> Option<PathBuf> {
        let name = name.strip_prefix("sound:").unwrap_or(name);
        // Without an extension any format we can play will do, best quality first.
        let candidates = |p: PathBuf| -> Vec<PathBuf> {
            if p.extension().is_some() {
                vec![p]
            } else {
                ["wav", "sln16", "sln", "ulaw", "alaw"]
                    .iter()
                    .map(|ext| p.with_extension(ext))
                    .collect()
            }
        };
        if name.starts_with('/') {
            return candidates(PathBuf::from(name))
                .into_iter()
                .find(|p| p.is_file());
        }
        self.inner
            .config
            .general
            .sounds_dirs
            .iter()
            .find_map(|dir| {
                [dir.join(language).join(name), dir.join(name)]
                    .into_iter()
                    .flat_map(candidates)
                    .find(|p| p.is_file())
            })
    }

    /// Sends RFC 4733 digits, each `duration_ms` long with `gap_ms` between.
    pub async fn send_dtmf(
        &self,
        id: &str,
        digits: &str,
        duration_ms: u32,
        gap_ms: u32,
    ) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        check_dtmf(digits)?;
        // A Local half sends its digits to the other half as digits, as Asterisk's Local
        // channels pass DTMF frames: virtual legs run no detector.
        let local_peer = channel.data().local_peer.clone();
        if let Some(peer) = local_peer {
            for digit in digits.chars() {
                let peer = self.channel(&peer)?;
                self.dtmf_received(&peer, digit, duration_ms);
                tokio::time::sleep(Duration::from_millis(u64::from(duration_ms + gap_ms))).await;
            }
            return Ok(());
        }
        let info = self.peer_settings(channel.origin.as_ref()).1 == DtmfMode::Info;
        let rfc4733 = channel
            .leg
            .remote()
            .is_some_and(|r| r.dtmf_payload_type.is_some());
        let rate = channel.leg.codec().map_or(8000, |c| c.sample_rate());
        for digit in digits.chars() {
            if info {
                if let Some(sip) = channel.sip.get() {
                    sip.send_info_dtmf(digit, duration_ms);
                }
                tokio::time::sleep(Duration::from_millis(u64::from(duration_ms + gap_ms))).await;
                continue;
            }
            let playing = if rfc4733 {
                channel.leg.send_dtmf(digit, duration_ms)
            } else {
                // The peer did not negotiate RFC 4733: the digit goes in the audio.
                let samples =
                    switchboard_media::dtmf::inband::generate(digit, duration_ms, rate, 8000)
                        .unwrap_or_default();
                channel
                    .leg
                    .play(Source::Pcm(Arc::new(switchboard_media::wav::Pcm {
                        samples,
                        sample_rate: rate,
                    })))
            };
            playing.finished().await;
            tokio::time::sleep(Duration::from_millis(u64::from(gap_ms))).await;
        }
        Ok(())
    }

    /// Digits as if the channel's far end had pressed them (FreeSWITCH's
    /// `uuid_recv_dtmf`): into its digit buffer, each announced as received.
    pub fn receive_dtmf(&self, id: &str, digits: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        check_dtmf(digits)?;
        for digit in digits.chars() {
            self.dtmf_received(&channel, digit, RECEIVED_DIGIT_MS);
        }
        Ok(())
    }

    /// Hangs up every channel and waits (bounded) until their CDRs are written.
    pub async fn shutdown(&self) {
        self.scheduler().clear();
        for channel in self.channels() {
            self.hangup(&channel.id, Cause::NORMAL_CLEARING);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.registry().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.sip().unregister_trunks();
        // Let the BYEs and un-REGISTERs leave before the process exits.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Refuses a string with anything but DTMF digits in it.
fn check_dtmf(digits: &str) -> Result<(), ControlError> {
    match digits
        .chars()
        .find(|d| switchboard_media::dtmf::rfc4733::digit_to_event(*d).is_none())
    {
        Some(bad) => Err(ControlError::Invalid(format!(
            "{bad:?} is not a DTMF digit"
        ))),
        None => Ok(()),
    }
}

/// The duration reported for a digit queued by [`Switch::receive_dtmf`]: FreeSWITCH's
/// default digit length (2000 samples at 8 kHz).
const RECEIVED_DIGIT_MS: u32 = 250;

/// The next message, or never when there is no receiver.
async fn recv_or_pending<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn reinvite_answer(channel: &Channel, sdp: Result<String, u16>) {
    if let Some(sip) = channel.sip.get() {
        sip.answer_reinvite(sdp);
    }
}

fn session_id() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
}

/// The media far end described by `sdp` for its format `format`.
fn remote_for(sdp: &Sdp, format: &Format) -> Option<Remote> {
    Some(Remote {
        addr: sdp.rtp_addr(),
        codec: Codec::from_rtpmap(&format.encoding, format.clock_rate)?,
        payload_type: format.payload_type,
        dtmf_payload_type: sdp.telephone_event().map(|f| f.payload_type),
        send: sdp.direction.receives(),
    })
}

/// Points a leg at the offerer, using the format our answer chose.
fn apply_remote(leg: &Leg, offer: &Sdp, answer: &Sdp) {
    let chosen = answer.audio_format().and_then(|f| {
        offer
            .formats
            .iter()
            .find(|o| o.payload_type == f.payload_type)
    });
    if let Some(remote) = chosen.and_then(|f| remote_for(offer, f)) {
        let dtmf = answer.telephone_event().map(|f| f.payload_type);
        leg.set_remote(Remote {
            dtmf_payload_type: dtmf,
            ..remote
        });
    }
}

/// `Local/<exten>@<context>` (context `default` when absent) → (exten, context).
pub fn parse_local(dialstring: &str) -> Option<(String, String)> {
    let (tech, rest) = dialstring.split_once('/')?;
    if !tech.eq_ignore_ascii_case("Local") || rest.is_empty() {
        return None;
    }
    let (exten, context) = rest.split_once('@').unwrap_or((rest, "default"));
    Some((exten.to_owned(), context.to_owned()))
}

/// `SIP/1001`, `SIP/carrier/5551234`, `SIP/sip:u@127.0.0.1:5070`, `PJSIP/…`.
pub fn parse_dialstring(dialstring: &str, config: &Config) -> Result<Target, Cause> {
    let (tech, rest) = dialstring
        .split_once('/')
        .ok_or(Cause::INVALID_NUMBER_FORMAT)?;
    if !tech.eq_ignore_ascii_case("SIP") && !tech.eq_ignore_ascii_case("PJSIP") {
        tracing::warn!(dialstring, "unsupported channel technology");
        return Err(Cause::NO_ROUTE_DESTINATION);
    }
    if rest.starts_with("sip:") {
        return Ok(Target::Uri(rest.to_owned()));
    }
    match rest.split_once('/') {
        Some((trunk, number)) => {
            if config.trunk.iter().any(|t| t.name == trunk) {
                Ok(Target::Trunk {
                    name: trunk.to_owned(),
                    number: number.to_owned(),
                })
            } else {
                Err(Cause::NO_ROUTE_DESTINATION)
            }
        }
        None if config.endpoint.iter().any(|e| e.id == rest) => {
            Ok(Target::Endpoint(rest.to_owned()))
        }
        None => Err(Cause::UNALLOCATED),
    }
}
