//! FreeSWITCH's view of an event: a named list of headers and a body, as Lua's
//! `freeswitch.Event` and an event socket see it, with its three serialisations
//! (`switch_event_serialize`, `_serialize_json`, `_xmlize`). The core's typed events are
//! translated here once, for every FreeSWITCH-speaking face.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_core::snapshot::ChannelSnapshot;
use switchboard_core::{Event, EventKind};

use crate::util::encode;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsEvent {
    /// In order; a name may repeat (FreeSWITCH's `addHeader` appends).
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl FsEvent {
    /// A new event named `name`; `CUSTOM` carries its `subclass`.
    pub fn new(name: &str, subclass: Option<&str>) -> Self {
        let mut event = Self::default();
        event.add_header("Event-Name", &name.to_ascii_uppercase());
        if let Some(subclass) = subclass.filter(|s| !s.is_empty()) {
            event.add_header("Event-Subclass", subclass);
        }
        event
    }

    pub fn name(&self) -> &str {
        self.header("Event-Name").unwrap_or("")
    }

    pub fn add_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The first header of that name, ignoring case as FreeSWITCH does.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn del_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn add_body(&mut self, text: &str) {
        let body = self.body.get_or_insert_with(String::new);
        body.push_str(text);
    }

    /// `Name: url-encoded value` lines, then the body after its `Content-Length`.
    pub fn plain(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.headers {
            let value = encode(value);
            let value = if value.is_empty() { "_undef_" } else { &value };
            out.push_str(&format!("{name}: {value}\n"));
        }
        match self.body.as_deref().filter(|b| !b.is_empty()) {
            Some(body) => out.push_str(&format!("Content-Length: {}\n\n{body}", body.len())),
            None => out.push('\n'),
        }
        out
    }

    /// One JSON object: the headers as strings, the body as `_body`.
    pub fn json(&self) -> String {
        let mut map = serde_json::Map::new();
        for (name, value) in &self.headers {
            map.entry(name.clone())
                .or_insert_with(|| value.clone().into());
        }
        if let Some(body) = &self.body {
            map.insert("_body".into(), body.clone().into());
        }
        serde_json::Value::Object(map).to_string()
    }

    /// `<event><headers><Name>value</Name>…</headers><body>…</body></event>`.
    pub fn xml(&self) -> String {
        let mut out = String::from("<event>\n  <headers>\n");
        for (name, value) in &self.headers {
            out.push_str(&format!("    <{name}>{}</{name}>\n", encode(value)));
        }
        out.push_str("  </headers>\n");
        if let Some(body) = &self.body {
            out.push_str(&format!("  <body>{}</body>\n", xml_escape(body)));
        }
        out.push_str("</event>\n");
        out
    }

    /// The serialisation Lua's `event:serialize(format)` asks for: `json`, `xml`, else
    /// plain.
    pub fn serialize(&self, format: &str) -> String {
        match format.to_ascii_lowercase().as_str() {
            "json" => self.json(),
            "xml" => self.xml(),
            _ => self.plain(),
        }
    }

    /// The core event this one stands for when fired: `CUSTOM` keeps its subclass.
    pub fn into_core(self) -> EventKind {
        let name = self.name().to_owned();
        let subclass = self.header("Event-Subclass").map(str::to_owned);
        EventKind::Custom {
            name,
            subclass,
            headers: self.headers,
            body: self.body,
        }
    }

    /// FreeSWITCH's event for a core event, with the common headers and the channel's
    /// (`Unique-ID`, `Channel-State`, `Caller-…`, `variable_…`); `None` for events
    /// FreeSWITCH has no name for.
    pub fn from_core(event: &Event) -> Option<Self> {
        if let EventKind::Custom { headers, body, .. } = &event.kind {
            return Some(Self {
                headers: headers.clone(),
                body: body.clone(),
            });
        }
        let (name, subclass, extra) = describe(&event.kind)?;
        let mut fs = Self::new(name, subclass);
        fs.add_common(event.timestamp, Some(event.seq));
        if let Some(channel) = &event.objects.channel {
            fs.add_channel(channel);
        }
        fs.headers.extend(extra);
        Some(fs)
    }

    /// The FreeSWITCH name and subclass a core event goes by, without building it: what
    /// a subscriber checks before paying for the headers.
    pub fn name_of(kind: &EventKind) -> Option<(&str, Option<&str>)> {
        match kind {
            EventKind::Custom { name, subclass, .. } => Some((name, subclass.as_deref())),
            other => describe(other).map(|(name, subclass, _)| (name, subclass)),
        }
    }

    /// The headers every event has: who made it, when, its place in the sequence.
    fn add_common(&mut self, when: SystemTime, seq: Option<u64>) {
        static CORE_UUID: OnceLock<String> = OnceLock::new();
        let core = CORE_UUID.get_or_init(|| uuid::Uuid::new_v4().to_string());
        let micros = when.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        let host = crate::system::host();
        self.add_header("Core-UUID", core);
        self.add_header("FreeSWITCH-Hostname", &host);
        self.add_header("FreeSWITCH-Switchname", &host);
        self.add_header("Event-Date-GMT", &switchboard_core::time::freeswitch(when));
        self.add_header("Event-Date-Timestamp", &micros.to_string());
        if let Some(seq) = seq {
            self.add_header("Event-Sequence", &seq.to_string());
        }
    }

    /// Stamps an event made by hand (Lua's `freeswitch.Event`) as it is fired.
    pub fn stamp(&mut self) {
        self.add_common(SystemTime::now(), None);
    }

    /// The channel's headers, as `switch_channel_event_set_data` adds them.
    pub fn add_channel(&mut self, c: &ChannelSnapshot) {
        let answer_state = match c.state {
            switchboard_core::ChannelState::Up => "answered",
            switchboard_core::ChannelState::Ringing => "early",
            _ => "ringing",
        };
        for (name, value) in [
            ("Unique-ID", c.id.as_str()),
            ("Channel-Name", c.name.as_str()),
            ("Channel-State", c.freeswitch_state),
            ("Channel-Call-State", c.state.freeswitch_callstate()),
            ("Answer-State", answer_state),
            ("Caller-Caller-ID-Name", c.caller.name.as_str()),
            ("Caller-Caller-ID-Number", c.caller.number.as_str()),
            ("Caller-Destination-Number", c.exten.as_str()),
            ("Caller-Context", c.context.as_str()),
            ("Caller-Unique-ID", c.id.as_str()),
            ("Caller-Channel-Name", c.name.as_str()),
        ] {
            self.add_header(name, value);
        }
        for (name, value) in &c.variables {
            self.add_header(&format!("variable_{name}"), value);
        }
    }
}

/// A core event's FreeSWITCH name, subclass and own headers; `None` for events
/// FreeSWITCH has no name for, and for script-made ones (they carry their own).
fn describe(kind: &EventKind) -> Option<Described> {
    Some(match kind {
        EventKind::ChannelCreated => ("CHANNEL_CREATE", None, vec![]),
        EventKind::ChannelDialplan { app, data } => (
            "CHANNEL_EXECUTE",
            None,
            vec![pair("Application", app), pair("Application-Data", data)],
        ),
        EventKind::ChannelStateChange { state } => match state {
            switchboard_core::ChannelState::Up => ("CHANNEL_ANSWER", None, vec![]),
            switchboard_core::ChannelState::Ringing => ("CHANNEL_PROGRESS", None, vec![]),
            _ => ("CHANNEL_STATE", None, vec![]),
        },
        EventKind::ChannelDtmfReceived { digit, duration_ms } => (
            "DTMF",
            None,
            vec![
                pair("DTMF-Digit", &digit.to_string()),
                // FreeSWITCH counts in 8 kHz samples.
                pair("DTMF-Duration", &(duration_ms * 8).to_string()),
                pair("DTMF-Source", "RTP"),
            ],
        ),
        EventKind::ChannelHold => ("CHANNEL_HOLD", None, vec![]),
        EventKind::ChannelUnhold => ("CHANNEL_UNHOLD", None, vec![]),
        EventKind::ChannelHangupRequest { cause } => (
            "CHANNEL_HANGUP",
            None,
            vec![pair("Hangup-Cause", cause.name())],
        ),
        EventKind::ChannelDestroyed { cause } => (
            "CHANNEL_HANGUP_COMPLETE",
            None,
            vec![pair("Hangup-Cause", cause.name())],
        ),
        EventKind::ChannelEnteredBridge { bridge } => (
            "CHANNEL_BRIDGE",
            None,
            vec![pair("Bridge-Unique-ID", bridge)],
        ),
        EventKind::ChannelLeftBridge { bridge } => (
            "CHANNEL_UNBRIDGE",
            None,
            vec![pair("Bridge-Unique-ID", bridge)],
        ),
        EventKind::PlaybackStarted { playback } => (
            "PLAYBACK_START",
            None,
            vec![pair("Playback-UUID", playback)],
        ),
        EventKind::PlaybackFinished { playback } => {
            ("PLAYBACK_STOP", None, vec![pair("Playback-UUID", playback)])
        }
        EventKind::RecordingStarted { recording } => (
            "RECORD_START",
            None,
            vec![pair("Record-File-Path", recording)],
        ),
        EventKind::RecordingFinished { recording } | EventKind::RecordingFailed { recording } => (
            "RECORD_STOP",
            None,
            vec![pair("Record-File-Path", recording)],
        ),
        // Sessions API sessions, as a module's CUSTOM events.
        EventKind::CallSessionStarted { session } => session_event(session, "started"),
        EventKind::CallSessionConnected { session } => session_event(session, "connected"),
        EventKind::CallSessionEnded { session } => session_event(session, "ended"),
        EventKind::ChannelVarset { .. }
        | EventKind::ChannelConnectedLine
        | EventKind::ChannelDialBegin { .. }
        | EventKind::ChannelDialEnd { .. }
        | EventKind::BridgeCreated
        | EventKind::BridgeDestroyed
        | EventKind::StasisStart { .. }
        | EventKind::StasisEnd { .. }
        | EventKind::Custom { .. } => return None,
    })
}

/// The subclass of a Sessions API session's events.
pub const SESSION_SUBCLASS: &str = "switchboard::session";

/// A core event as FreeSWITCH names it: name, subclass, its own headers.
type Described = (&'static str, Option<&'static str>, Vec<(String, String)>);

fn session_event(session: &str, action: &str) -> Described {
    (
        "CUSTOM",
        Some(SESSION_SUBCLASS),
        vec![pair("Session-ID", session), pair("Session-Action", action)],
    )
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Whether an event named `event` (with `event_subclass`) is one a subscription to
/// `name` (`ALL`, `CUSTOM <subclass>`, or an event name) receives.
pub fn subscribed(
    event: &str,
    event_subclass: Option<&str>,
    name: &str,
    subclass: Option<&str>,
) -> bool {
    if name.eq_ignore_ascii_case("ALL") {
        return true;
    }
    if !event.eq_ignore_ascii_case(name) {
        return false;
    }
    match subclass.filter(|s| !s.is_empty()) {
        Some(wanted) => event_subclass.is_some_and(|s| s.eq_ignore_ascii_case(wanted)),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisations() {
        let mut event = FsEvent::new("custom", Some("my::event"));
        event.add_header("Greeting", "hello world");
        event.add_header("Empty", "");
        assert_eq!(event.header("greeting"), Some("hello world"));
        assert_eq!(
            event.plain(),
            "Event-Name: CUSTOM\nEvent-Subclass: my%3A%3Aevent\nGreeting: hello%20world\nEmpty: _undef_\n\n"
        );
        event.add_body("line <1>");
        assert!(event.plain().ends_with("Content-Length: 8\n\nline <1>"));
        let json: serde_json::Value = serde_json::from_str(&event.json()).expect("json");
        assert_eq!(json["Greeting"], "hello world");
        assert_eq!(json["_body"], "line <1>");
        let xml = event.xml();
        assert!(xml.contains("<Greeting>hello%20world</Greeting>"), "{xml}");
        assert!(xml.contains("<body>line &lt;1&gt;</body>"), "{xml}");
        let (name, subclass) = (event.name(), event.header("Event-Subclass"));
        assert!(subscribed(name, subclass, "CUSTOM", Some("my::event")));
        assert!(subscribed(name, subclass, "all", None));
        assert!(!subscribed(name, subclass, "CUSTOM", Some("other")));
        assert!(!subscribed(name, subclass, "DTMF", None));
        let core = event.clone().into_core();
        assert_eq!(FsEvent::name_of(&core), Some(("CUSTOM", Some("my::event"))));
        assert_eq!(
            FsEvent::name_of(&EventKind::ChannelHold),
            Some(("CHANNEL_HOLD", None))
        );
        assert_eq!(FsEvent::name_of(&EventKind::BridgeCreated), None);
        event.del_header("greeting");
        assert_eq!(event.header("Greeting"), None);
    }
}
