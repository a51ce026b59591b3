//! Bridges: sets of channels whose audio is joined.
//!
//! A two-party bridge stays on the media relay path (packets forwarded, no decoding)
//! until something needs the audio — a third party, a recording, an announcement — and
//! then moves to a mixing bridge in the media engine; it moves back when that ends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use switchboard_media::engine::{MediaEngine, MixBridge};

use crate::channel::Channel;
use crate::switch::{ControlError, Switch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeKind {
    Mixing,
    /// Parties hear music on hold or announcements, not each other.
    Holding,
}

impl BridgeKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "mixing" => Some(Self::Mixing),
            "holding" => Some(Self::Holding),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mixing => "mixing",
            Self::Holding => "holding",
        }
    }
}

/// A bridge to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBridge {
    pub kind: BridgeKind,
    pub name: String,
    /// Chosen by the caller (ARI's `bridgeId`), or a new UUID.
    pub id: Option<String>,
    /// Destroyed when its last channel leaves (Dial's, ConfBridge's).
    pub transient: bool,
    /// Asterisk's `creator`: `Stasis` for ARI's bridges.
    pub creator: String,
}

impl NewBridge {
    /// A mixing bridge that goes away with its last channel.
    pub fn transient(name: &str) -> Self {
        Self {
            kind: BridgeKind::Mixing,
            name: name.to_owned(),
            id: None,
            transient: true,
            creator: String::new(),
        }
    }
}

/// How a channel joins a bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddToBridge {
    /// What it says is muted towards the bridge until it leaves (ARI `mute`).
    pub mute: bool,
}

enum Media {
    Idle,
    Relay,
    Mix(MixBridge),
}

struct Inner {
    members: Vec<Arc<Channel>>,
    media: Media,
    /// Features that need decoded audio (recordings, announcements) while active.
    features: usize,
    /// Members muted towards the bridge while in it (unmuted when they leave).
    muted: HashSet<String>,
    /// The bridge's music-on-hold playback.
    moh: Option<String>,
}

pub struct Bridge {
    pub id: String,
    pub name: String,
    pub kind: BridgeKind,
    pub created: SystemTime,
    /// What made it, as Asterisk's `creator` (`Stasis` for ARI's bridges; empty for
    /// the dialplan's).
    pub creator: String,
    /// Made by Dial for its two parties: destroyed when they leave.
    pub(crate) transient: bool,
    engine: MediaEngine,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("channels", &self.channel_ids())
            .finish()
    }
}

impl Bridge {
    pub(crate) fn new(
        id: String,
        name: String,
        kind: BridgeKind,
        creator: String,
        transient: bool,
        engine: MediaEngine,
    ) -> Self {
        Self {
            id,
            name,
            kind,
            created: SystemTime::now(),
            creator,
            transient,
            engine,
            inner: Mutex::new(Inner {
                members: Vec::new(),
                media: Media::Idle,
                features: 0,
                muted: HashSet::new(),
                moh: None,
            }),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        crate::lock(&self.inner)
    }

    pub fn channel_ids(&self) -> Vec<String> {
        self.inner().members.iter().map(|c| c.id.clone()).collect()
    }

    pub fn contains(&self, channel_id: &str) -> bool {
        self.inner().members.iter().any(|c| c.id == channel_id)
    }

    /// ARI's `technology`: `simple_bridge` while relaying, `softmix` while mixing.
    pub fn technology(&self) -> &'static str {
        match self.inner().media {
            Media::Mix(_) => "softmix",
            Media::Idle | Media::Relay => "simple_bridge",
        }
    }

    /// Adds a member; `mute` mutes what it says towards the bridge until it leaves.
    pub(crate) fn add(&self, channel: Arc<Channel>, mute: bool) {
        let mut inner = self.inner();
        if mute {
            channel.leg.set_mute(Some(true), None);
            inner.muted.insert(channel.id.clone());
        }
        if inner.members.iter().any(|c| c.id == channel.id) {
            return;
        }
        inner.members.push(channel);
        self.reconcile(&mut inner);
    }

    /// True when the channel was a member.
    pub(crate) fn remove(&self, channel_id: &str) -> bool {
        let mut inner = self.inner();
        let Some(pos) = inner.members.iter().position(|c| c.id == channel_id) else {
            return false;
        };
        let channel = inner.members.remove(pos);
        if inner.muted.remove(&channel.id) {
            channel.leg.set_mute(Some(false), None);
        }
        match &inner.media {
            Media::Mix(mixer) => mixer.remove(&channel.leg),
            Media::Relay | Media::Idle => channel.leg.disconnect(),
        }
        self.reconcile(&mut inner);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.inner().members.is_empty()
    }

    /// The mixer, forcing the bridge onto it until the returned guard is dropped.
    pub(crate) fn need_audio(self: &Arc<Self>) -> (MixBridge, AudioGuard) {
        let mut inner = self.inner();
        inner.features += 1;
        self.reconcile(&mut inner);
        let mixer = match &inner.media {
            Media::Mix(mixer) => mixer.clone(),
            // reconcile always mixes while a feature is active
            Media::Idle | Media::Relay => self.engine.create_bridge(),
        };
        (
            mixer,
            AudioGuard {
                bridge: self.clone(),
            },
        )
    }

    /// Re-picks relay or mixing after a member's needs changed.
    pub(crate) fn refresh(&self) {
        let mut inner = self.inner();
        self.reconcile(&mut inner);
    }

    /// Ends the bridge's media; members go back to sending nowhere.
    pub(crate) fn close(&self) -> Vec<Arc<Channel>> {
        let mut inner = self.inner();
        let members = std::mem::take(&mut inner.members);
        for member in members.iter().filter(|m| inner.muted.contains(&m.id)) {
            member.leg.set_mute(Some(false), None);
        }
        inner.muted.clear();
        if let Media::Mix(mixer) = std::mem::replace(&mut inner.media, Media::Idle) {
            mixer.close();
        }
        for member in &members {
            member.leg.disconnect();
        }
        members
    }

    /// Replaces the bridge's music-on-hold playback id; returns the previous one.
    pub(crate) fn set_moh(&self, playback: Option<String>) -> Option<String> {
        std::mem::replace(&mut self.inner().moh, playback)
    }

    /// Parties of a holding bridge hear it (music, announcements) but not each other.
    fn join(&self, mixer: &MixBridge, member: &Channel) {
        match self.kind {
            BridgeKind::Mixing => mixer.add(&member.leg),
            BridgeKind::Holding => mixer.add_listener(&member.leg),
        }
    }

    /// Picks relay or mixing for the current members and features, and moves to it.
    fn reconcile(&self, inner: &mut Inner) {
        // Virtual legs (snoops, AudioSocket) have no packets to relay.
        let mix = inner.features > 0
            || inner.members.len() > 2
            || inner.members.iter().any(|m| m.data().audio_users > 0)
            || inner.members.iter().any(|m| m.leg.is_virtual())
            || (self.kind == BridgeKind::Holding && !inner.members.is_empty());
        match (&inner.media, mix) {
            (Media::Mix(mixer), true) => {
                for member in &inner.members {
                    self.join(mixer, member);
                }
            }
            (_, true) => {
                let mixer = self.engine.create_bridge();
                for member in &inner.members {
                    member.leg.disconnect();
                    self.join(&mixer, member);
                }
                tracing::debug!(bridge = %self.id, "bridge moves to mixing");
                inner.media = Media::Mix(mixer);
            }
            (current, false) => {
                if let Media::Mix(mixer) = current {
                    mixer.close();
                    tracing::debug!(bridge = %self.id, "bridge moves back to relaying");
                }
                inner.media = match inner.members.as_slice() {
                    [a, b] => {
                        a.leg.connect(&b.leg);
                        Media::Relay
                    }
                    _ => Media::Idle,
                };
            }
        }
    }
}

/// Keeps a bridge mixing while a feature uses its audio.
pub(crate) struct AudioGuard {
    bridge: Arc<Bridge>,
}

impl Drop for AudioGuard {
    fn drop(&mut self) {
        let mut inner = self.bridge.inner();
        inner.features = inner.features.saturating_sub(1);
        self.bridge.reconcile(&mut inner);
    }
}

impl Switch {
    /// Music on hold of `class` to every member of the bridge, replacing the bridge's
    /// previous music; it stops when the bridge is destroyed.
    pub fn start_bridge_moh(&self, bridge_id: &str, class: &str) -> Result<(), ControlError> {
        let bridge = self.bridge(bridge_id)?;
        if let Some(previous) = bridge.set_moh(None) {
            let _ = self.stop_playback(&previous);
        }
        let playback = self.music_on_hold_in_bridge(bridge_id, class)?;
        bridge.set_moh(Some(playback.id.clone()));
        Ok(())
    }

    /// Stops the bridge's music on hold; `WrongState` when none is playing.
    pub fn stop_bridge_moh(&self, bridge_id: &str) -> Result<(), ControlError> {
        let playing = self.bridge(bridge_id)?.set_moh(None);
        let playback = playing.ok_or(ControlError::WrongState(
            "bridge is not playing music on hold",
        ))?;
        self.stop_playback(&playback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_event_about_a_bridge_destroyed_meanwhile_still_describes_it() {
        let (switch, channel) = crate::testing::switch_with_channel("bridge-gone").await;
        let bridge = switch
            .create_bridge(NewBridge::transient("gone"))
            .expect("a bridge");
        switch.destroy_bridge(&bridge.id).expect("destroyed");
        let mut rx = switch.events().subscribe();
        // What a channel leaving just after the other leaver destroyed the bridge sends.
        switch.events().publish_about(
            &channel.id,
            crate::EventKind::ChannelLeftBridge {
                bridge: bridge.id.clone(),
            },
            &bridge,
        );
        let event = rx.recv().await.expect("the event");
        let snapshot = event.objects.bridge.as_ref().expect("a bridge snapshot");
        assert_eq!(snapshot.id, bridge.id);
        switch.shutdown().await;
    }

    #[tokio::test]
    async fn the_core_unmutes_a_member_when_it_leaves_and_owns_bridge_music() {
        let (switch, channel) = crate::testing::switch_with_channel("bridge-mute").await;
        let stasis = NewBridge {
            transient: false,
            creator: "Stasis".into(),
            ..NewBridge::transient("b")
        };
        let bridge = switch.create_bridge(stasis).unwrap();
        assert_eq!(bridge.creator, "Stasis");
        let muted = AddToBridge { mute: true };
        switch
            .add_to_bridge_with(&bridge.id, &channel.id, muted.clone())
            .unwrap();
        assert_eq!(channel.leg.mutes(), (true, false));
        switch.remove_from_bridge(&bridge.id, &channel.id).unwrap();
        assert_eq!(channel.leg.mutes(), (false, false), "unmuted on leaving");
        switch
            .add_to_bridge_with(&bridge.id, &channel.id, muted)
            .unwrap();
        switch.destroy_bridge(&bridge.id).unwrap();
        assert_eq!(
            channel.leg.mutes(),
            (false, false),
            "unmuted when destroyed"
        );

        let bridge = switch.create_bridge(NewBridge::transient("c")).unwrap();
        assert_eq!(
            switch.stop_bridge_moh(&bridge.id),
            Err(ControlError::WrongState(
                "bridge is not playing music on hold"
            ))
        );
        assert!(matches!(
            switch.start_bridge_moh(&bridge.id, "none"),
            Err(ControlError::Invalid(_))
        ));
        assert_eq!(
            switch.start_bridge_moh("missing", "default"),
            Err(ControlError::NotFound)
        );
    }
}
