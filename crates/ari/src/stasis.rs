//! Stasis applications and their events: which application hears about which channel,
//! the translation of core events into ARI events, per-application sequence numbers
//! and replay, and the events WebSocket.
//!
//! One dispatcher task reads the core's event bus and never waits on a client: each
//! WebSocket has a bounded queue, and a socket whose queue is full is dropped (with a
//! log line) while its application's events keep going into the replay window, from
//! which a client reconnecting with `last_event=<n>` gets what it missed.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use switchboard_core::{time, Channel, ChannelSnapshot, Event, EventKind, MediaTarget};
use tokio::sync::{broadcast, mpsc, Notify};

use crate::decl::Operation;
use crate::error::AriError;
use crate::resources::endpoints::{self, TECHNOLOGY};
use crate::{json, Ari};

/// The field of every event that carries the application's sequence number (an
/// addition to Asterisk's events; clients ignore fields they do not know).
pub const SEQUENCE_FIELD: &str = "sequence";

struct Socket {
    id: u64,
    tx: mpsc::Sender<Utf8Bytes>,
    /// Wakes the socket's task to close it (too slow).
    closer: Arc<Notify>,
}

/// A Stasis application, from its first WebSocket (or first channel) on.
struct App {
    /// Whether a WebSocket ever connected for it.
    registered: bool,
    socket: Option<Socket>,
    subscribe_all: bool,
    seq: u64,
    replay: VecDeque<(u64, Utf8Bytes)>,
    /// Channels in the application (Stasis, or originated into it).
    channels: BTreeSet<String>,
    /// Explicit subscriptions: `channel:<id>`, `bridge:<id>`, `endpoint:<tech>/<res>`,
    /// `deviceState:<name>`.
    sources: BTreeSet<String>,
    /// Bridges that hold (or held, until they are destroyed) a channel of the
    /// application: it hears their events, as Asterisk subscribes an application to
    /// the bridges its channels join.
    bridges: BTreeSet<String>,
    allowed: Vec<Value>,
    disallowed: Vec<Value>,
}

impl App {
    fn new() -> Self {
        Self {
            registered: false,
            socket: None,
            subscribe_all: false,
            seq: 0,
            replay: VecDeque::new(),
            channels: BTreeSet::new(),
            sources: BTreeSet::new(),
            bridges: BTreeSet::new(),
            allowed: Vec::new(),
            disallowed: Vec::new(),
        }
    }

    fn hears_bridge(&self, id: &str) -> bool {
        self.subscribe_all
            || self.bridges.contains(id)
            || self.sources.contains(&format!("bridge:{id}"))
    }

    fn hears_channel(&self, id: &str) -> bool {
        self.subscribe_all
            || self.channels.contains(id)
            || self.sources.contains(&format!("channel:{id}"))
    }

    /// The application's `eventFilter`.
    fn passes(&self, event_type: &str) -> bool {
        let matches = |filters: &[Value]| {
            filters
                .iter()
                .any(|f| f.get("type").and_then(Value::as_str) == Some(event_type))
        };
        (self.allowed.is_empty() || matches(&self.allowed)) && !matches(&self.disallowed)
    }

    fn to_json(&self, name: &str) -> Value {
        let mut channel_ids: BTreeSet<&str> = self.channels.iter().map(String::as_str).collect();
        let mut bridge_ids: BTreeSet<&str> = self.bridges.iter().map(String::as_str).collect();
        let mut endpoint_ids = Vec::new();
        let mut device_names = Vec::new();
        for source in &self.sources {
            match source.split_once(':') {
                Some(("channel", id)) => {
                    channel_ids.insert(id);
                }
                Some(("bridge", id)) => {
                    bridge_ids.insert(id);
                }
                Some(("endpoint", id)) => endpoint_ids.push(id),
                Some(("deviceState", id)) => device_names.push(id),
                _ => {}
            }
        }
        json!({
            "name": name,
            "channel_ids": channel_ids,
            "bridge_ids": bridge_ids,
            "endpoint_ids": endpoint_ids,
            "device_names": device_names,
            "events_allowed": self.allowed,
            "events_disallowed": self.disallowed,
        })
    }
}

/// What the hub keeps: its applications only; what events are about comes with them
/// (the core's snapshots).
#[derive(Default)]
struct State {
    apps: BTreeMap<String, App>,
}

/// The applications and the event dispatcher.
pub struct Hub {
    state: Mutex<State>,
    replay_window: usize,
    socket_queue: usize,
    next_socket: AtomicU64,
}

/// Which events a reconnecting client already has.
#[derive(Debug, Clone, Default)]
pub struct LastEvent {
    all: Option<u64>,
    per_app: HashMap<String, u64>,
}

impl LastEvent {
    /// `N` (every application) or `app:N,other:M`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut last = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.rsplit_once(':') {
                Some((app, n)) => {
                    last.per_app.insert(app.to_owned(), n.trim().parse().ok()?);
                }
                None => last.all = Some(part.parse().ok()?),
            }
        }
        Some(last)
    }

    fn for_app(&self, app: &str) -> Option<u64> {
        self.per_app.get(app).copied().or(self.all)
    }
}

impl Hub {
    pub fn new(replay_window: usize, socket_queue: usize) -> Self {
        Self {
            state: Mutex::default(),
            replay_window: replay_window.max(1),
            socket_queue: socket_queue.max(1),
            next_socket: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts translating the core's events (call once, before calls arrive).
    pub fn start(&self, ari: Ari) {
        let mut rx = ari.switch().events().subscribe();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(event) => ari.hub().on_event(&ari, &event),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::error!(
                            missed,
                            "ARI fell behind the core's event bus; events lost"
                        );
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    // ---- what the REST resources ask ----

    /// Names of the applications that have (or had) a WebSocket.
    pub fn app_names(&self) -> Vec<String> {
        self.lock()
            .apps
            .iter()
            .filter(|(_, app)| app.registered)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The `Application` model of a registered application.
    pub fn app_json(&self, name: &str) -> Option<Value> {
        let state = self.lock();
        let app = state.apps.get(name).filter(|a| a.registered)?;
        Some(app.to_json(name))
    }

    /// Subscribes (or unsubscribes) an application to event sources.
    pub fn subscription(
        &self,
        ari: &Ari,
        name: &str,
        sources: &[String],
        subscribe: bool,
    ) -> Result<Value, AriError> {
        if sources.is_empty() {
            return Err(AriError::bad_request("Missing parameter eventSource"));
        }
        let sources: Vec<String> = sources.iter().map(|s| canonical_source(s)).collect();
        for source in &sources {
            let Some((scheme, id)) = source.split_once(':') else {
                return Err(AriError::bad_request(format!(
                    "Invalid event source URI scheme: {source}"
                )));
            };
            match scheme {
                "channel" => {
                    if subscribe && ari.switch().channel(id).is_err() {
                        return Err(AriError::unprocessable(format!(
                            "Event source {source} does not exist"
                        )));
                    }
                }
                "bridge" | "endpoint" | "deviceState" => {}
                _ => {
                    return Err(AriError::bad_request(format!(
                        "Invalid event source URI scheme: {source}"
                    )))
                }
            }
        }
        let mut state = self.lock();
        let app = state
            .apps
            .get_mut(name)
            .filter(|a| a.registered)
            .ok_or_else(|| AriError::not_found("Application not found"))?;
        if !subscribe {
            if let Some(missing) = sources.iter().find(|s| !app.sources.contains(*s)) {
                return Err(AriError::conflict(format!(
                    "Application not subscribed to event source {missing}"
                )));
            }
        }
        for source in &sources {
            if subscribe {
                app.sources.insert(source.clone());
            } else {
                app.sources.remove(source);
            }
        }
        Ok(app.to_json(name))
    }

    /// Replaces an application's event filter.
    pub fn set_filter(
        &self,
        name: &str,
        allowed: Vec<Value>,
        disallowed: Vec<Value>,
    ) -> Result<Value, AriError> {
        let mut state = self.lock();
        let app = state
            .apps
            .get_mut(name)
            .filter(|a| a.registered)
            .ok_or_else(|| AriError::not_found("Application not found"))?;
        app.allowed = allowed;
        app.disallowed = disallowed;
        Ok(app.to_json(name))
    }

    /// An originated channel belongs to `app` from its creation.
    pub fn add_channel(&self, app: &str, channel: &Channel) {
        self.lock()
            .apps
            .entry(app.to_owned())
            .or_insert_with(App::new)
            .channels
            .insert(channel.id.clone());
    }

    /// `POST /events/user/{eventName}`: a ChannelUserevent to one application.
    pub async fn user_event(
        &self,
        ari: &Ari,
        app: &str,
        event_name: &str,
        sources: &[String],
        variables: Value,
    ) -> Result<(), AriError> {
        let mut fields = Map::new();
        fields.insert("eventname".into(), event_name.into());
        fields.insert("userevent".into(), variables);
        for source in sources {
            let Some((scheme, id)) = source.split_once(':') else {
                return Err(AriError::bad_request("Invalid event source URI scheme"));
            };
            match scheme {
                "channel" => {
                    let channel = ari
                        .switch()
                        .channel(id)
                        .map_err(|_| AriError::unprocessable("Event source was not found"))?;
                    fields.insert("channel".into(), json::channel(ari, &channel));
                }
                "endpoint" => {
                    let (tech, resource) = id.split_once('/').unwrap_or((TECHNOLOGY, id));
                    let endpoint = endpoints::find(ari, tech, resource)
                        .await
                        .ok_or_else(|| AriError::unprocessable("Event source was not found"))?;
                    fields.insert("endpoint".into(), endpoint);
                }
                "bridge" | "deviceState" => {
                    return Err(AriError::unprocessable("Event source was not found"));
                }
                _ => return Err(AriError::bad_request("Invalid event source URI scheme")),
            }
        }
        let mut state = self.lock();
        if !state.apps.get(app).is_some_and(|a| a.registered) {
            return Err(AriError::not_found("Application not found"));
        }
        let mut slow = Vec::new();
        self.deliver(
            ari,
            &mut state,
            app,
            "ChannelUserevent",
            &fields,
            SystemTime::now(),
            &mut slow,
        );
        self.drop_slow(&mut state, &slow);
        Ok(())
    }

    /// A device's state changed: DeviceStateChanged to the applications subscribed to
    /// `deviceState:<name>` and to those subscribed to everything.
    pub fn device_state_changed(&self, ari: &Ari, name: &str, device_state: &str) {
        let source = format!("deviceState:{name}");
        let mut fields = Map::new();
        fields.insert(
            "device_state".into(),
            json::device_state(name, device_state),
        );
        let mut state = self.lock();
        let recipients: Vec<String> = state
            .apps
            .iter()
            .filter(|(_, app)| {
                app.registered && (app.subscribe_all || app.sources.contains(&source))
            })
            .map(|(name, _)| name.clone())
            .collect();
        let mut slow = Vec::new();
        for app in &recipients {
            self.deliver(
                ari,
                &mut state,
                app,
                "DeviceStateChanged",
                &fields,
                SystemTime::now(),
                &mut slow,
            );
        }
        self.drop_slow(&mut state, &slow);
    }

    // ---- the dispatcher ----

    fn on_event(&self, ari: &Ari, event: &Event) {
        let id = event.source.as_str();
        let objects = &event.objects;
        let mut state = self.lock();
        let channel = &objects.channel;
        let snapshot = |channel: &Option<ChannelSnapshot>| match channel {
            Some(c) => json::channel_model(c),
            None => json::gone_channel(id),
        };
        // The event's own fields, built only once something will hear it: most events
        // (calls no application watches) are then dropped without building any JSON.
        let build: BuildFields<'_>;
        // The applications that hear this event (None: every one that hears the channel).
        let mut only: Option<String> = None;
        let mut also_peer: Option<String> = None;
        let mut also_bridge: Option<String> = None;
        // A bridge's own event (its source is the bridge, not a channel).
        let mut bridge_event: Option<String> = None;
        let event_type = match &event.kind {
            EventKind::ChannelCreated => {
                build = Box::new(move |fields| {
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelCreated"
            }
            EventKind::ChannelStateChange { state: new_state } => {
                build = Box::new(move |fields| {
                    let mut value = snapshot(channel);
                    value["state"] = new_state.ari().into();
                    fields.insert("channel".into(), value);
                });
                "ChannelStateChange"
            }
            EventKind::ChannelDtmfReceived { digit, duration_ms } => {
                build = Box::new(move |fields| {
                    fields.insert("digit".into(), digit.to_string().into());
                    fields.insert("duration_ms".into(), (*duration_ms).into());
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelDtmfReceived"
            }
            EventKind::ChannelVarset { variable, value } => {
                build = Box::new(move |fields| {
                    fields.insert("variable".into(), variable.clone().into());
                    fields.insert("value".into(), value.clone().into());
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelVarset"
            }
            EventKind::ChannelDialplan { app, data } => {
                build = Box::new(move |fields| {
                    fields.insert("dialplan_app".into(), app.clone().into());
                    fields.insert("dialplan_app_data".into(), data.clone().into());
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelDialplan"
            }
            EventKind::ChannelHold => {
                build = Box::new(move |fields| {
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelHold"
            }
            EventKind::ChannelUnhold => {
                build = Box::new(move |fields| {
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelUnhold"
            }
            EventKind::ChannelConnectedLine => {
                build = Box::new(move |fields| {
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelConnectedLine"
            }
            EventKind::ChannelDialBegin { peer, dialstring } => {
                build = Box::new(move |fields| {
                    fields.insert("caller".into(), snapshot(channel));
                    fields.insert("peer".into(), peer_model(peer, &objects.peer));
                    fields.insert("dialstring".into(), dialstring.clone().into());
                    fields.insert("dialstatus".into(), "".into());
                });
                also_peer = Some(peer.clone());
                "Dial"
            }
            EventKind::ChannelDialEnd { peer, status } => {
                build = Box::new(move |fields| {
                    fields.insert("caller".into(), snapshot(channel));
                    fields.insert("peer".into(), peer_model(peer, &objects.peer));
                    fields.insert("dialstatus".into(), status.clone().into());
                });
                also_peer = Some(peer.clone());
                "Dial"
            }
            EventKind::ChannelHangupRequest { cause } => {
                build = Box::new(move |fields| {
                    fields.insert("cause".into(), cause.0.into());
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelHangupRequest"
            }
            EventKind::ChannelDestroyed { cause } => {
                build = Box::new(move |fields| {
                    fields.insert("cause".into(), cause.0.into());
                    fields.insert("cause_txt".into(), cause.text().into());
                    fields.insert("channel".into(), snapshot(channel));
                });
                "ChannelDestroyed"
            }
            EventKind::PlaybackStarted { .. } | EventKind::PlaybackFinished { .. } => {
                let Some(playback) = &objects.playback else {
                    return missing(event);
                };
                build = Box::new(move |fields| {
                    fields.insert("playback".into(), json::playback_model(playback));
                });
                if matches!(playback.target, MediaTarget::Bridge(_)) {
                    bridge_event = Some(id.to_owned());
                }
                if matches!(event.kind, EventKind::PlaybackStarted { .. }) {
                    "PlaybackStarted"
                } else {
                    "PlaybackFinished"
                }
            }
            EventKind::RecordingStarted { .. }
            | EventKind::RecordingFinished { .. }
            | EventKind::RecordingFailed { .. } => {
                let Some(recording) = &objects.recording else {
                    return missing(event);
                };
                build = Box::new(move |fields| {
                    fields.insert("recording".into(), json::recording_model(recording));
                });
                if matches!(recording.target, MediaTarget::Bridge(_)) {
                    bridge_event = Some(id.to_owned());
                }
                match event.kind {
                    EventKind::RecordingStarted { .. } => "RecordingStarted",
                    EventKind::RecordingFinished { .. } => "RecordingFinished",
                    _ => "RecordingFailed",
                }
            }
            EventKind::BridgeCreated | EventKind::BridgeDestroyed => {
                let Some(bridge) = &objects.bridge else {
                    return missing(event);
                };
                build = Box::new(move |fields| {
                    fields.insert("bridge".into(), json::bridge_model(bridge));
                });
                bridge_event = Some(id.to_owned());
                if matches!(event.kind, EventKind::BridgeCreated) {
                    "BridgeCreated"
                } else {
                    "BridgeDestroyed"
                }
            }
            EventKind::ChannelEnteredBridge { bridge }
            | EventKind::ChannelLeftBridge { bridge } => {
                if matches!(event.kind, EventKind::ChannelEnteredBridge { .. }) {
                    // The channel's applications follow it into the bridge.
                    for app in state.apps.values_mut() {
                        if app.channels.contains(id) {
                            app.bridges.insert(bridge.clone());
                        }
                    }
                }
                let Some(snapshot_of_bridge) = &objects.bridge else {
                    return missing(event);
                };
                build = Box::new(move |fields| {
                    fields.insert("bridge".into(), json::bridge_model(snapshot_of_bridge));
                    fields.insert("channel".into(), snapshot(channel));
                });
                also_bridge = Some(bridge.clone());
                if matches!(event.kind, EventKind::ChannelEnteredBridge { .. }) {
                    "ChannelEnteredBridge"
                } else {
                    "ChannelLeftBridge"
                }
            }
            EventKind::StasisStart { app, args } => {
                let entry = state.apps.entry(app.clone()).or_insert_with(App::new);
                entry.channels.insert(id.to_owned());
                build = Box::new(move |fields| {
                    fields.insert("args".into(), args.clone().into());
                    fields.insert("channel".into(), snapshot(channel));
                });
                only = Some(app.clone());
                "StasisStart"
            }
            EventKind::StasisEnd { app } => {
                build = Box::new(move |fields| {
                    fields.insert("channel".into(), snapshot(channel));
                });
                only = Some(app.clone());
                "StasisEnd"
            }
            // A FreeSWITCH-style event from a script: ARI has no model for it.
            EventKind::Custom { .. }
            | EventKind::CallSessionStarted { .. }
            | EventKind::CallSessionConnected { .. }
            | EventKind::CallSessionEnded { .. } => return,
        };
        let recipients: Vec<String> = match &only {
            Some(app) => vec![app.clone()],
            None => state
                .apps
                .iter()
                .filter(|(_, app)| {
                    if let Some(bridge) = &bridge_event {
                        return app.hears_bridge(bridge);
                    }
                    let hears_source = app.hears_channel(id);
                    let hears_peer = also_peer.as_deref().is_some_and(|p| app.hears_channel(p))
                        || also_bridge.as_deref().is_some_and(|b| app.hears_bridge(b));
                    match event.kind {
                        // Creation reaches only those subscribed to everything.
                        EventKind::ChannelCreated => app.subscribe_all,
                        _ => hears_source || hears_peer,
                    }
                })
                .filter(|(_, app)| app.passes(event_type))
                .map(|(name, _)| name.clone())
                .collect(),
        };
        let mut fields = Map::new();
        if !recipients.is_empty() {
            build(&mut fields);
        }
        let mut slow = Vec::new();
        for app in &recipients {
            self.deliver(
                ari,
                &mut state,
                app,
                event_type,
                &fields,
                event.timestamp,
                &mut slow,
            );
        }
        self.drop_slow(&mut state, &slow);
        match &event.kind {
            EventKind::StasisEnd { app } => {
                // A channel leaving to the dialplan leaves the application; one that is
                // hanging up stays until its ChannelDestroyed.
                let hanging_up = ari
                    .switch()
                    .channel(id)
                    .map_or(true, |c| c.status().hangup.is_some());
                if !hanging_up {
                    if let Some(entry) = state.apps.get_mut(app) {
                        entry.channels.remove(id);
                    }
                }
            }
            EventKind::ChannelLeftBridge { bridge } => {
                // An application stops hearing a bridge none of its channels is in
                // any more; while the bridge is being destroyed, it stays until its
                // BridgeDestroyed.
                if let Ok(live) = ari.switch().bridge(bridge) {
                    let members = live.channel_ids();
                    for app in state.apps.values_mut() {
                        if !members.iter().any(|m| app.channels.contains(m)) {
                            app.bridges.remove(bridge);
                        }
                    }
                }
            }
            EventKind::BridgeDestroyed => {
                for app in state.apps.values_mut() {
                    app.bridges.remove(id);
                }
            }
            EventKind::ChannelDestroyed { .. } => {
                let source = format!("channel:{id}");
                for app in state.apps.values_mut() {
                    app.channels.remove(id);
                    app.sources.remove(&source);
                }
            }
            _ => {}
        }
    }

    /// Numbers, records and sends one event to one application.
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &self,
        ari: &Ari,
        state: &mut State,
        name: &str,
        event_type: &str,
        fields: &Map<String, Value>,
        timestamp: SystemTime,
        slow: &mut Vec<u64>,
    ) {
        let window = self.replay_window;
        let Some(app) = state.apps.get_mut(name) else {
            return;
        };
        if !app.passes(event_type) {
            return;
        }
        app.seq += 1;
        let mut object = fields.clone();
        object.insert("type".into(), event_type.into());
        object.insert("timestamp".into(), time::asterisk(timestamp).into());
        object.insert("application".into(), name.into());
        object.insert("asterisk_id".into(), ari.entity_id().into());
        object.insert(SEQUENCE_FIELD.into(), app.seq.into());
        let text = Utf8Bytes::from(Value::Object(object).to_string());
        app.replay.push_back((app.seq, text.clone()));
        while app.replay.len() > window {
            app.replay.pop_front();
        }
        if let Some(socket) = &app.socket {
            match socket.tx.try_send(text) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => slow.push(socket.id),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Drops the sockets that could not keep up; their events stay in the replay window.
    fn drop_slow(&self, state: &mut State, slow: &[u64]) {
        if slow.is_empty() {
            return;
        }
        for (name, app) in &mut state.apps {
            let Some(socket) = &app.socket else { continue };
            if slow.contains(&socket.id) {
                tracing::warn!(
                    app = %name,
                    socket = socket.id,
                    queue = self.socket_queue,
                    "ARI WebSocket too slow (its event queue is full): dropped; \
                     it may reconnect with last_event={} to get what it missed",
                    app.seq.saturating_sub(1)
                );
                socket.closer.notify_one();
                app.socket = None;
            }
        }
    }

    // ---- WebSocket sessions ----

    /// Registers a socket for `apps` (taking each over from an older socket), queueing
    /// the replayed events first; returns the socket's id.
    fn connect(
        &self,
        ari: &Ari,
        apps: &[String],
        subscribe_all: bool,
        last_event: Option<&LastEvent>,
        tx: &mpsc::Sender<Utf8Bytes>,
        closer: &Arc<Notify>,
    ) -> u64 {
        let id = self.next_socket.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        for name in apps {
            let app = state.apps.entry(name.clone()).or_insert_with(App::new);
            app.registered = true;
            app.subscribe_all = subscribe_all;
            if let Some(old) = app.socket.take() {
                let replaced = json!({
                    "type": "ApplicationReplaced",
                    "application": name,
                    "timestamp": time::asterisk(SystemTime::now()),
                    "asterisk_id": ari.entity_id(),
                });
                let _ = old.tx.try_send(Utf8Bytes::from(replaced.to_string()));
                tracing::info!(app = %name, old = old.id, new = id, "ARI application taken over by a newer WebSocket");
            }
            if let Some(after) = last_event.and_then(|l| l.for_app(name)) {
                let oldest = app.replay.front().map_or(app.seq + 1, |(seq, _)| *seq);
                if after + 1 < oldest {
                    tracing::warn!(app = %name, last_event = after, oldest, "ARI replay window no longer holds every missed event");
                }
                for (_, text) in app.replay.iter().filter(|(seq, _)| *seq > after) {
                    let _ = tx.try_send(text.clone());
                }
            }
            app.socket = Some(Socket {
                id,
                tx: tx.clone(),
                closer: closer.clone(),
            });
            ari.switch().register_app(name);
        }
        tracing::info!(socket = id, ?apps, subscribe_all, "ARI WebSocket connected");
        id
    }

    fn disconnect(&self, ari: &Ari, id: u64) {
        let mut state = self.lock();
        for (name, app) in state.apps.iter_mut() {
            if app.socket.as_ref().is_some_and(|s| s.id == id) {
                app.socket = None;
                ari.switch().unregister_app(name);
            }
        }
        tracing::info!(socket = id, "ARI WebSocket closed");
    }
}

/// An event source as the application's `endpoint_ids` report it: an endpoint of the
/// `PJSIP` alias is named by its technology, `SIP` (as Asterisk lists the id of the
/// endpoint found, not the text given).
fn canonical_source(source: &str) -> String {
    match source.split_once(':') {
        Some(("endpoint", id)) => {
            // `<tech>` alone (every endpoint of it) or `<tech>/<resource>`.
            let tech = id.split('/').next().unwrap_or(id);
            if endpoints::is_sip(tech) {
                format!("endpoint:{TECHNOLOGY}{}", &id[tech.len()..])
            } else {
                source.to_owned()
            }
        }
        _ => source.to_owned(),
    }
}

/// A dialled peer's model; a peer gone before the event is described by its id.
fn peer_model(id: &str, peer: &Option<ChannelSnapshot>) -> Value {
    match peer {
        Some(p) => json::channel_model(p),
        None => json::gone_channel(id),
    }
}

/// Fills an event's own fields (see `Hub::on_event`), once something hears it.
type BuildFields<'a> = Box<dyn FnOnce(&mut Map<String, Value>) + 'a>;

/// An event whose object the core could not snapshot (gone before it was published,
/// which the core avoids): it cannot be described, so it is not delivered.
fn missing(event: &Event) {
    tracing::warn!(seq = event.seq, source = %event.source, kind = ?event.kind, "event without a snapshot of its object; not delivered");
}

/// `GET /ari/events`: the WebSocket of one or more applications.
pub(crate) async fn websocket(ari: Ari, _op: &'static Operation, req: Request) -> Response {
    let query = req.uri().query().unwrap_or_default().to_owned();
    let mut apps: Option<Vec<String>> = None;
    let mut subscribe_all = false;
    let mut last_event = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "app" => apps.get_or_insert_with(Vec::new).extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
            ),
            "subscribeAll" => subscribe_all = crate::params::parse_bool(&value).unwrap_or(false),
            "last_event" => match LastEvent::parse(&value) {
                Some(parsed) => last_event = Some(parsed),
                None => {
                    return AriError::bad_request(format!("Invalid last_event {value:?}"))
                        .into_response()
                }
            },
            _ => {}
        }
    }
    let Some(mut apps) = apps else {
        return AriError::bad_request("Missing param 'app'").into_response();
    };
    apps.dedup();
    let (upgrade, _parts) = match crate::server::upgrade(&ari, req).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    if apps.is_empty() {
        return upgrade.on_upgrade(missing_params);
    }
    // The applications are registered before the 101 goes out, so a client may use
    // them (user events, channels into Stasis) as soon as its handshake completes.
    let hub = ari.hub();
    let capacity = hub.socket_queue + hub.replay_window * apps.len();
    let (tx, rx) = mpsc::channel(capacity);
    let closer = Arc::new(Notify::new());
    let id = hub.connect(
        &ari,
        &apps,
        subscribe_all,
        last_event.as_ref(),
        &tx,
        &closer,
    );
    let on_failure = ari.clone();
    upgrade
        .on_failed_upgrade(move |_| on_failure.hub().disconnect(&on_failure, id))
        .on_upgrade(move |socket| session(ari, socket, id, rx, closer))
}

/// `app=` with no application: the socket gets MissingParams and is closed.
async fn missing_params(mut socket: WebSocket) {
    let missing = json!({"type": "MissingParams", "params": ["app"]});
    let _ = socket.send(Message::Text(missing.to_string().into())).await;
    let _ = socket.send(Message::Close(None)).await;
}

async fn session(
    ari: Ari,
    mut socket: WebSocket,
    id: u64,
    mut rx: mpsc::Receiver<Utf8Bytes>,
    closer: Arc<Notify>,
) {
    let hub = ari.hub();
    loop {
        tokio::select! {
            biased;
            () = closer.notified() => {
                let frame = CloseFrame { code: 1008, reason: "too slow: event queue full".into() };
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(1),
                    socket.send(Message::Close(Some(frame))),
                ).await;
                break;
            }
            Some(text) = rx.recv() => {
                // A client that stops reading must not pin this task: the closer wins.
                tokio::select! {
                    sent = socket.send(Message::Text(text)) => if sent.is_err() { break },
                    () = closer.notified() => break,
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    hub.disconnect(&ari, id);
}
