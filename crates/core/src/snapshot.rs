//! What a face may know of a channel at one moment: a plain value copied out of the core,
//! so no lock guard leaves it and a face needs no cache of its own.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::bridge::{Bridge, BridgeKind};
use crate::channel::{CallerId, Channel};
use crate::events::{EventKind, Objects};
use crate::playback::{Playback, PlaybackState};
use crate::recording::{LiveRecording, RecordingState};
use crate::state::ChannelState;
use crate::switch::Switch;
use crate::MediaTarget;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSnapshot {
    pub id: String,
    pub name: String,
    pub state: ChannelState,
    /// FreeSWITCH's view of the same state (`CS_*`), see [`Channel::freeswitch_state`].
    pub freeswitch_state: &'static str,
    pub created: SystemTime,
    pub caller: CallerId,
    pub connected: CallerId,
    pub context: String,
    pub exten: String,
    pub priority: usize,
    /// The application at the dialplan position and its expanded arguments (`Stasis` and
    /// the application's name and arguments while in one), as Asterisk reports them.
    pub app: String,
    pub app_data: String,
    pub language: String,
    /// The Stasis application controlling the channel, with its arguments.
    pub stasis: Option<(String, Vec<String>)>,
    pub bridge: Option<String>,
    pub variables: BTreeMap<String, String>,
    /// The SIP Call-ID; empty for channels without SIP.
    pub protocol_id: String,
}

/// A bridge at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSnapshot {
    pub id: String,
    pub name: String,
    pub kind: BridgeKind,
    /// Asterisk's `creator` (`Stasis` for ARI's bridges).
    pub creator: String,
    /// `simple_bridge` while relaying, `softmix` while mixing.
    pub technology: &'static str,
    pub channels: Vec<String>,
    pub created: SystemTime,
}

/// A playback at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackSnapshot {
    pub id: String,
    pub target: MediaTarget,
    /// The URI playing now, and the one after it.
    pub media_uri: String,
    pub next_media_uri: Option<String>,
    pub language: String,
    pub state: PlaybackState,
    pub skip_ms: i64,
}

/// A live recording at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSnapshot {
    pub name: String,
    pub format: String,
    pub target: MediaTarget,
    pub state: RecordingState,
    /// Whole seconds recorded, of talking and of silence.
    pub duration: u64,
    pub talking: u64,
    pub silence: u64,
    /// Why it failed.
    pub cause: Option<String>,
}

/// The part of a channel's data a snapshot copies.
struct Fields {
    caller: CallerId,
    connected: CallerId,
    context: String,
    exten: String,
    priority: usize,
    language: String,
    stasis: Option<(String, Vec<String>)>,
    bridge: Option<String>,
    vars: BTreeMap<String, String>,
}

impl Switch {
    /// The channel as it is now.
    pub fn snapshot(&self, channel: &Channel) -> ChannelSnapshot {
        // Copied out field by field, so the lock is released before `expand` takes it.
        let d = {
            let data = channel.data();
            Fields {
                caller: data.caller.clone(),
                connected: data.connected.clone(),
                context: data.context.clone(),
                exten: data.exten.clone(),
                priority: data.priority,
                language: data.language.clone(),
                stasis: data.stasis.clone(),
                bridge: data.bridge.clone(),
                vars: data.vars.clone(),
            }
        };
        let (app, app_data) = match &d.stasis {
            Some((app, args)) => {
                let data: Vec<&str> = std::iter::once(app.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect();
                ("Stasis".to_owned(), data.join(","))
            }
            None => self
                .dialplan_step(&d.context, &d.exten, d.priority)
                .map(|step| (step.app, self.expand(channel, &step.args)))
                .unwrap_or_default(),
        };
        ChannelSnapshot {
            id: channel.id.clone(),
            name: channel.name.clone(),
            state: channel.state(),
            freeswitch_state: channel.freeswitch_state(),
            created: channel.created,
            caller: d.caller,
            connected: d.connected,
            context: d.context,
            exten: d.exten,
            priority: d.priority,
            app,
            app_data,
            language: d.language,
            stasis: d.stasis,
            bridge: d.bridge,
            variables: d.vars,
            protocol_id: channel.protocol_id().to_owned(),
        }
    }
}

/// The bridge as it is now.
impl From<&Bridge> for BridgeSnapshot {
    fn from(bridge: &Bridge) -> Self {
        Self {
            id: bridge.id.clone(),
            name: bridge.name.clone(),
            kind: bridge.kind,
            creator: bridge.creator.clone(),
            technology: bridge.technology(),
            channels: bridge.channel_ids(),
            created: bridge.created,
        }
    }
}

/// The playback as it is now.
impl From<&Playback> for PlaybackSnapshot {
    fn from(playback: &Playback) -> Self {
        Self {
            id: playback.id.clone(),
            target: playback.target.clone(),
            media_uri: playback.media_uri(),
            next_media_uri: playback.next_media_uri(),
            language: playback.language.clone(),
            state: playback.state(),
            skip_ms: playback.skip_ms,
        }
    }
}

/// The recording as it is now.
impl From<&LiveRecording> for RecordingSnapshot {
    fn from(recording: &LiveRecording) -> Self {
        let (duration, talking, silence) = recording.durations();
        Self {
            name: recording.name.clone(),
            format: recording.format.clone(),
            target: recording.target.clone(),
            state: recording.state(),
            duration,
            talking,
            silence,
            cause: recording.cause(),
        }
    }
}

impl Switch {
    /// Whether a recording of channel `id` itself (not of its bridge) is in progress.
    pub fn channel_recording(&self, id: &str) -> bool {
        let target = MediaTarget::Channel(id.to_owned());
        self.live_recordings().values().any(|r| {
            r.target == target
                && matches!(
                    r.state(),
                    RecordingState::Queued | RecordingState::Recording | RecordingState::Paused
                )
        })
    }

    /// The snapshots an event about `source` carries (see [`Objects`]).
    pub(crate) fn objects(&self, source: &str, kind: &EventKind) -> Objects {
        let channel = |id: &str| self.channel(id).ok().map(|c| self.snapshot(&c));
        let peer = match kind {
            EventKind::ChannelDialBegin { peer, .. } | EventKind::ChannelDialEnd { peer, .. } => {
                channel(peer)
            }
            _ => None,
        };
        let bridge = match kind {
            EventKind::BridgeCreated | EventKind::BridgeDestroyed => Some(source),
            EventKind::ChannelEnteredBridge { bridge }
            | EventKind::ChannelLeftBridge { bridge } => Some(bridge.as_str()),
            _ => None,
        };
        let playback = match kind {
            EventKind::PlaybackStarted { playback } | EventKind::PlaybackFinished { playback } => {
                self.playback(playback).ok()
            }
            _ => None,
        };
        let recording = match kind {
            EventKind::RecordingStarted { recording }
            | EventKind::RecordingFinished { recording }
            | EventKind::RecordingFailed { recording } => self.live_recording(recording).ok(),
            _ => None,
        };
        Objects {
            channel: channel(source),
            peer,
            bridge: bridge
                .and_then(|id| self.bridge_until_destroyed(id))
                .map(|b| BridgeSnapshot::from(&*b)),
            playback: playback.map(|p| PlaybackSnapshot::from(&*p)),
            recording: recording.map(|r| RecordingSnapshot::from(&*r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::playback::Play;
    use crate::testing::test_switch;
    use crate::{Cause, Event};

    /// The next event matching `wanted`, within a few seconds.
    async fn next(
        events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>,
        wanted: impl Fn(&EventKind) -> bool,
    ) -> std::sync::Arc<Event> {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let event = events.recv().await.expect("the bus is open");
                if wanted(&event.kind) {
                    return event;
                }
            }
        })
        .await
        .expect("the event comes")
    }

    #[tokio::test]
    async fn final_events_carry_snapshots_of_objects_already_gone() {
        let switch = test_switch("snapshots").await;
        let channel = switch
            .create_channel("Local/100@default", CallerId::default(), None, None)
            .unwrap();
        let mut events = switch.events().subscribe();

        let playback = switch
            .play(Play::new(
                MediaTarget::Channel(channel.id.clone()),
                vec!["silence:10000".into()],
            ))
            .unwrap();
        let started = next(&mut events, |k| {
            matches!(k, EventKind::PlaybackStarted { .. })
        })
        .await;
        let snapshot = started.objects.playback.as_ref().expect("a snapshot");
        assert_eq!(snapshot.state, PlaybackState::Playing);
        assert_eq!(
            started.objects.channel.as_ref().map(|c| c.id.as_str()),
            Some(channel.id.as_str()),
            "a channel's playback event carries the channel too"
        );
        switch.stop_playback(&playback.id).unwrap();
        let finished = next(&mut events, |k| {
            matches!(k, EventKind::PlaybackFinished { .. })
        })
        .await;
        let snapshot = finished.objects.playback.clone().expect("a snapshot");
        assert_eq!(
            (snapshot.id.as_str(), snapshot.state, &snapshot.target),
            (
                playback.id.as_str(),
                PlaybackState::Complete,
                &MediaTarget::Channel(channel.id.clone())
            )
        );
        assert_eq!(snapshot.media_uri, "silence:10000");

        switch.hangup(&channel.id, Cause::NORMAL_CLEARING);
        let destroyed = next(&mut events, |k| {
            matches!(k, EventKind::ChannelDestroyed { .. })
        })
        .await;
        let snapshot = destroyed.objects.channel.clone().expect("a snapshot");
        assert_eq!(
            (snapshot.id.as_str(), snapshot.name.as_str()),
            (channel.id.as_str(), channel.name.as_str())
        );
        // Removed right after its last event.
        tokio::time::timeout(Duration::from_secs(5), async {
            while switch.channels().iter().any(|c| c.id == channel.id)
                || switch.playback(&playback.id).is_ok()
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the channel and the playback are gone from the core");
    }
}
