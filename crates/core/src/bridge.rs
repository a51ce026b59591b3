//! Bridges: sets of channels whose audio is joined.
//!
//! A two-party bridge stays on the media relay path (packets forwarded, no decoding)
//! until something needs the audio — a third party, a recording, an announcement — and
//! then moves to a mixing bridge in the media engine; it moves back when that ends.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use switchboard_media::engine::{MediaEngine, MixBridge};

use crate::channel::Channel;

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
}

pub struct Bridge {
    pub id: String,
    pub name: String,
    pub kind: BridgeKind,
    pub created: SystemTime,
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
        transient: bool,
        engine: MediaEngine,
    ) -> Self {
        Self {
            id,
            name,
            kind,
            created: SystemTime::now(),
            transient,
            engine,
            inner: Mutex::new(Inner {
                members: Vec::new(),
                media: Media::Idle,
                features: 0,
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

    pub(crate) fn add(&self, channel: Arc<Channel>) {
        let mut inner = self.inner();
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
        if let Media::Mix(mixer) = std::mem::replace(&mut inner.media, Media::Idle) {
            mixer.close();
        }
        for member in &members {
            member.leg.disconnect();
        }
        members
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
