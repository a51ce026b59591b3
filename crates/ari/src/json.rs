//! Core objects serialized as Asterisk serializes them (the seed's models, with
//! Asterisk 22's fields beside them).

use serde::Serialize;
use serde_json::{json, Value};
use switchboard_core::mailbox::Mailbox;
use switchboard_core::recording::{LiveRecording, StoredRecording};
use switchboard_core::{
    time, Bridge, BridgeSnapshot, Channel, ChannelSnapshot, Playback, PlaybackSnapshot,
    RecordingSnapshot,
};

use crate::Ari;

/// A channel snapshot: the `Channel` model.
pub fn channel(ari: &Ari, channel: &Channel) -> Value {
    channel_model(&ari.switch().snapshot(channel))
}

/// The `Channel` model of a core snapshot.
pub fn channel_model(c: &ChannelSnapshot) -> Value {
    serde_json::to_value(ChannelModel::from(c)).unwrap_or(Value::Null)
}

/// The `Channel` model, serialized straight from a snapshot: six times cheaper than
/// building a `Value` first, which is what a list of a thousand channels costs.
#[derive(Serialize)]
pub struct ChannelModel<'a> {
    id: &'a str,
    name: &'a str,
    state: &'static str,
    protocol_id: &'static str,
    caller: Party<'a>,
    connected: Party<'a>,
    accountcode: &'static str,
    dialplan: DialplanCep<'a>,
    creationtime: String,
    language: &'a str,
    caller_rdnis: &'static str,
}

#[derive(Serialize)]
struct Party<'a> {
    name: &'a str,
    number: &'a str,
}

#[derive(Serialize)]
struct DialplanCep<'a> {
    context: &'a str,
    exten: &'a str,
    priority: usize,
    app_name: &'a str,
    app_data: &'a str,
}

impl<'a> From<&'a ChannelSnapshot> for ChannelModel<'a> {
    fn from(c: &'a ChannelSnapshot) -> Self {
        Self {
            id: &c.id,
            name: &c.name,
            state: c.state.ari(),
            protocol_id: "",
            caller: Party {
                name: &c.caller.name,
                number: &c.caller.number,
            },
            connected: Party {
                name: &c.connected.name,
                number: &c.connected.number,
            },
            accountcode: "",
            dialplan: DialplanCep {
                context: &c.context,
                exten: &c.exten,
                priority: c.priority,
                app_name: &c.app,
                app_data: &c.app_data,
            },
            creationtime: time::asterisk(c.created),
            language: &c.language,
            caller_rdnis: "",
        }
    }
}

/// A channel that is already gone from the core, with what is still known of it.
pub fn gone_channel(id: &str) -> Value {
    json!({
        "id": id,
        "name": "",
        "state": "Down",
        "protocol_id": "",
        "caller": {"name": "", "number": ""},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {"context": "", "exten": "", "priority": 1, "app_name": "", "app_data": ""},
        "creationtime": time::asterisk(std::time::SystemTime::now()),
        "language": "en",
        "caller_rdnis": "",
    })
}

/// The `Playback` model.
pub fn playback(playback: &Playback) -> Value {
    playback_model(&PlaybackSnapshot::from(playback))
}

/// The `Playback` model of a core snapshot.
pub fn playback_model(p: &PlaybackSnapshot) -> Value {
    let mut value = json!({
        "id": p.id,
        "media_uri": p.media_uri,
        "target_uri": p.target.uri(),
        "language": p.language,
        "state": p.state.as_str(),
    });
    if let Some(next) = &p.next_media_uri {
        value["next_media_uri"] = next.clone().into();
    }
    value
}

/// The `Bridge` model: `bridge_class` `stasis` and `creator` `Stasis` for the bridges
/// made through ARI, as Asterisk reports its Stasis bridges; the dialplan's bridges are
/// `basic` (Dial) or `base` made by `ConfBridge`.
pub fn bridge(bridge: &Bridge) -> Value {
    bridge_model(&BridgeSnapshot::from(bridge))
}

/// The `Bridge` model of a core snapshot.
pub fn bridge_model(bridge: &BridgeSnapshot) -> Value {
    let (class, creator) = if bridge.creator == crate::STASIS_CREATOR {
        ("stasis", "Stasis")
    } else if bridge.name.starts_with("confbridge-") {
        ("base", "ConfBridge")
    } else {
        ("basic", "")
    };
    json!({
        "id": bridge.id,
        "technology": bridge.technology,
        "bridge_type": bridge.kind.as_str(),
        "bridge_class": class,
        "creator": creator,
        "name": bridge.name,
        "channels": bridge.channels,
        "creationtime": time::asterisk(bridge.created),
        "video_mode": "none",
    })
}

/// The `LiveRecording` model (the seed's `name`, `format`, `state` with Asterisk's
/// `target_uri`, durations and, once it failed, `cause`).
pub fn live_recording(recording: &LiveRecording) -> Value {
    recording_model(&RecordingSnapshot::from(recording))
}

/// The `LiveRecording` model of a core snapshot.
pub fn recording_model(r: &RecordingSnapshot) -> Value {
    let mut value = json!({
        "name": r.name,
        "format": r.format,
        "state": r.state.as_str(),
        "target_uri": r.target.uri(),
        "duration": r.duration,
        "talking_duration": r.talking,
        "silence_duration": r.silence,
    });
    if let Some(cause) = &r.cause {
        value["cause"] = cause.clone().into();
    }
    value
}

/// The `StoredRecording` model: the seed's `id`, `formats`, `time`,
/// `duration_seconds`, and Asterisk's `name`, `format`.
pub fn stored_recording(recording: &StoredRecording) -> Value {
    json!({
        "id": recording.name,
        "name": recording.name,
        "format": recording.format,
        "formats": [recording.format],
        "time": asterisk_time(&recording.created),
        "duration_seconds": (recording.duration_ms + 500) / 1000,
    })
}

/// `2026-11-25T13:33:14Z` (the store's RFC 3339) as `2026-11-25T13:33:14.000+0000`.
fn asterisk_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z') {
        Some(base) if base.len() == 19 => format!("{base}.000+0000"),
        _ => rfc3339.to_owned(),
    }
}

/// The `DeviceState` model.
pub fn device_state(name: &str, state: &str) -> Value {
    json!({"name": name, "state": state})
}

/// The `Mailbox` model.
pub fn mailbox(mailbox: &Mailbox) -> Value {
    json!({
        "name": mailbox.name,
        "old_messages": mailbox.old_messages,
        "new_messages": mailbox.new_messages,
    })
}
