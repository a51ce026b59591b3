//! A channel: one call leg as the switch sees it — signalling handle, media leg, state,
//! caller id, dialplan position and variables. Its id is the ARI channel id, the
//! FreeSWITCH uuid and the CDR key.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use switchboard_media::engine::Leg;
use switchboard_sip::sdp::Sdp;
use switchboard_sip::{CallHandle, Origin, Target};
use tokio::sync::watch;

use crate::cause::Cause;
use crate::state::ChannelState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    pub name: String,
    pub number: String,
}

/// What waiters watch: the state, early media, and the hangup once it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub state: ChannelState,
    /// The far end sent 183 with SDP and its audio flows before answer.
    pub early_media: bool,
    pub hangup: Option<Cause>,
}

#[derive(Debug, Clone)]
pub struct ChannelData {
    pub caller: CallerId,
    pub connected: CallerId,
    pub context: String,
    pub exten: String,
    pub priority: usize,
    pub language: String,
    pub vars: BTreeMap<String, String>,
    pub answered_at: Option<SystemTime>,
    /// Our side of the offer/answer: the answer we give, or our offer (late offer,
    /// outbound calls).
    pub local_sdp: Option<Sdp>,
    /// Whether `local_sdp` is an offer awaiting the peer's answer.
    pub awaiting_answer: bool,
    /// Name of the channel this one dialled or was last connected to: the CDR's
    /// `dstchannel`. A name, not an id, because that channel may be gone by then.
    pub peer_name: Option<String>,
    /// The bridge the channel is in.
    pub bridge: Option<String>,
    /// The channel that dialled this one (it owns this channel's CDR).
    pub parent: Option<String>,
    /// Channels this one dialled: they go when it goes.
    pub children: Vec<String>,
    /// Cause to hang up with when the dialplan runs out (set by Dial).
    pub pending_cause: Option<Cause>,
    pub held: bool,
    /// Features using this channel's decoded audio (recordings, snoops): any bridge it
    /// is in mixes while this is above zero.
    pub audio_users: usize,
    /// The channel's own mixer while it has audio users outside any bridge.
    pub private_mixer: Option<switchboard_media::engine::MixBridge>,
    /// The background playback of Playtones(), for StopPlaytones().
    pub playtones: Option<String>,
    /// The recording MixMonitor() started, for StopMixMonitor().
    pub mixmonitor: Option<String>,
    /// Running music-on-hold and silence playbacks (ARI moh/silence start).
    pub moh: Option<String>,
    pub silence: Option<String>,
    /// Running ChanSpy, or a snoop ChanSpy made: ChanSpy does not spy on it.
    pub spying: bool,
    /// The Stasis application controlling the channel, with its arguments.
    pub stasis: Option<(String, Vec<String>)>,
    /// Where a created (ARI `create`) channel will call when it is dialled.
    pub pending_dial: Option<Target>,
    /// For a created Local channel: the `;2` half whose dialplan starts at dial.
    pub pending_local: Option<String>,
    /// The other half of a Local pair: digits sent to this half reach it.
    pub local_peer: Option<String>,
    /// How an outbound channel's INVITE is shaped (extra headers, late offer).
    pub invite: crate::originate::InviteShape,
}

impl ChannelData {
    /// A channel at `context`/`exten`, priority 1, with nothing else set yet.
    pub(crate) fn new(caller: CallerId, context: String, exten: String) -> Self {
        Self {
            caller,
            connected: CallerId::default(),
            context,
            exten,
            priority: 1,
            language: "en".into(),
            vars: Default::default(),
            answered_at: None,
            local_sdp: None,
            awaiting_answer: false,
            peer_name: None,
            bridge: None,
            parent: None,
            children: Vec::new(),
            pending_cause: None,
            held: false,
            audio_users: 0,
            private_mixer: None,
            playtones: None,
            mixmonitor: None,
            moh: None,
            silence: None,
            spying: false,
            stasis: None,
            pending_dial: None,
            pending_local: None,
            local_peer: None,
            invite: Default::default(),
        }
    }
}

/// What a new channel is made of besides its data.
pub(crate) struct Parts {
    pub id: String,
    pub name: String,
    pub direction: Direction,
    pub sip: Option<CallHandle>,
    pub leg: Leg,
    pub codecs: Vec<String>,
    pub origin: Option<Origin>,
}

#[derive(Debug)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub direction: Direction,
    pub created: SystemTime,
    /// The SIP dialog: set once the call is placed (at creation for inbound and
    /// originated calls, at `dial` for created ones); never for snoops and external media.
    pub(crate) sip: OnceLock<CallHandle>,
    pub(crate) leg: Leg,
    /// Codec preference for this channel's peer, as SDP encoding names.
    pub(crate) codecs: Vec<String>,
    /// The configured endpoint or trunk on the far side, if any.
    pub origin: Option<Origin>,
    data: Mutex<ChannelData>,
    status: watch::Sender<Status>,
    /// Wakes a channel parked in Stasis when its application lets it continue.
    pub(crate) resume: tokio::sync::Notify,
    /// Transfer/Break requests for the channel's dialplan task.
    pub(crate) interrupts: crate::apps::Interrupts,
    /// Received digits waiting to be collected or flushed.
    pub(crate) digits: crate::digits::DigitQueue,
}

impl Channel {
    pub(crate) fn new(parts: Parts, data: ChannelData, state: ChannelState) -> Self {
        let Parts {
            id,
            name,
            direction,
            sip,
            leg,
            codecs,
            origin,
        } = parts;
        let cell = OnceLock::new();
        if let Some(handle) = sip {
            let _ = cell.set(handle);
        }
        let sip = cell;
        let (status, _) = watch::channel(Status {
            state,
            early_media: false,
            hangup: None,
        });
        Self {
            id,
            name,
            direction,
            created: SystemTime::now(),
            sip,
            leg,
            codecs,
            origin,
            data: Mutex::new(data),
            status,
            resume: tokio::sync::Notify::new(),
            interrupts: crate::apps::Interrupts::default(),
            digits: crate::digits::DigitQueue::default(),
        }
    }

    /// Whether the channel is on hold (FreeSWITCH's `uuid_hold toggle` asks).
    pub fn is_held(&self) -> bool {
        self.data().held
    }

    pub(crate) fn data(&self) -> MutexGuard<'_, ChannelData> {
        crate::lock(&self.data)
    }

    /// Whether a Stasis application controls the channel.
    pub fn in_stasis(&self) -> bool {
        self.data().stasis.is_some()
    }

    /// The bridge the channel is in.
    pub fn bridge_id(&self) -> Option<String> {
        self.data().bridge.clone()
    }

    pub fn caller(&self) -> CallerId {
        self.data().caller.clone()
    }

    pub fn context(&self) -> String {
        self.data().context.clone()
    }

    /// The channel's own variables (not the built-ins [`Channel::var`] also answers).
    pub fn variables(&self) -> BTreeMap<String, String> {
        self.data().vars.clone()
    }

    pub fn status(&self) -> Status {
        *self.status.borrow()
    }

    pub fn state(&self) -> ChannelState {
        self.status().state
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// Changes the state; true when it changed.
    pub(crate) fn set_state(&self, state: ChannelState) -> bool {
        self.status.send_if_modified(|s| {
            let changed = s.state != state && s.hangup.is_none();
            if changed {
                s.state = state;
            }
            changed
        })
    }

    pub(crate) fn set_early_media(&self) {
        self.status.send_if_modified(|s| {
            let changed = !s.early_media;
            s.early_media = true;
            changed
        });
    }

    /// Marks the hangup; true only for the first caller (who then tears down).
    pub(crate) fn mark_hangup(&self, cause: Cause) -> bool {
        self.status.send_if_modified(|s| {
            let first = s.hangup.is_none();
            if first {
                s.hangup = Some(cause);
            }
            first
        })
    }

    /// Resolves once the channel is hung up, with the cause.
    pub async fn hung_up(&self) -> Cause {
        let mut rx = self.subscribe();
        loop {
            if let Some(cause) = rx.borrow_and_update().hangup {
                return cause;
            }
            if rx.changed().await.is_err() {
                return Cause::NORMAL_CLEARING;
            }
        }
    }

    /// The SIP Call-ID (ARI's `protocol_id`); empty for channels without SIP.
    pub fn protocol_id(&self) -> &str {
        self.sip.get().map_or("", CallHandle::call_id)
    }

    pub fn media_stats(&self) -> switchboard_media::stats::RtpStat {
        let mut stats = self.leg.stats();
        stats.channel_uniqueid.clone_from(&self.id);
        stats
    }

    /// A variable: channel variables first, then the built-ins Asterisk provides.
    pub fn var(&self, name: &str) -> Option<String> {
        let data = self.data();
        if let Some(value) = data.vars.get(name) {
            return Some(value.clone());
        }
        Some(match name {
            "EXTEN" => data.exten.clone(),
            "CONTEXT" => data.context.clone(),
            "PRIORITY" => data.priority.to_string(),
            "CALLERID(num)" | "CALLERIDNUM" => data.caller.number.clone(),
            "CALLERID(name)" | "CALLERIDNAME" => data.caller.name.clone(),
            "CHANNEL" => self.name.clone(),
            "UNIQUEID" => self.id.clone(),
            "LANGUAGE" | "CHANNEL(language)" => data.language.clone(),
            "HANGUPCAUSE" => data
                .pending_cause
                .map(|c| c.0.to_string())
                .unwrap_or_default(),
            "EPOCH" => SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs().to_string())
                .unwrap_or_default(),
            // FreeSWITCH's names for the same facts (switch_channel.c).
            "uuid" => self.id.clone(),
            "caller_id_name" => data.caller.name.clone(),
            "caller_id_number" | "ani" => data.caller.number.clone(),
            "destination_number" => data.exten.clone(),
            "context" => data.context.clone(),
            "chan_name" | "channel_name" => self.name.clone(),
            "direction" => match self.direction {
                Direction::Inbound => "inbound".into(),
                Direction::Outbound => "outbound".into(),
            },
            "source" => if self.sip.get().is_some() {
                "mod_sofia"
            } else {
                "mod_loopback"
            }
            .into(),
            "language" | "default_language" => data.language.clone(),
            "hold_music" => "moh:default".into(),
            "state" => {
                drop(data);
                self.freeswitch_state().into()
            }
            "answer_state" => {
                let status = self.status();
                match (status.hangup, status.state) {
                    (Some(_), _) => "hangup",
                    (None, ChannelState::Up) => "answered",
                    (None, _) if status.early_media => "early",
                    (None, _) => "ringing",
                }
                .into()
            }
            "hangup_cause" => self.status().hangup?.name().into(),
            _ => return None,
        })
    }

    /// FreeSWITCH's channel state (`CS_*`, what `session:getState()` and `show
    /// channels` report) from the one state model: hanging up, bridged, dialled and not
    /// yet answered, parked, or executing (an application runs, answered or not).
    pub fn freeswitch_state(&self) -> &'static str {
        let status = self.status();
        if status.hangup.is_some() {
            return "CS_HANGUP";
        }
        if self.data().bridge.is_some() {
            return "CS_EXCHANGE_MEDIA";
        }
        match status.state {
            ChannelState::Down => "CS_NEW",
            ChannelState::Ringing => "CS_CONSUME_MEDIA",
            ChannelState::Busy => "CS_HANGUP",
            ChannelState::Up | ChannelState::Ring if !self.interrupts.running() => "CS_PARK",
            ChannelState::Up | ChannelState::Ring => "CS_EXECUTE",
        }
    }
}
