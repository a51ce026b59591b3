//! Per-channel features the faces toggle: mute, hold (with music on hold to the held
//! party), music on hold and silence generators.

use crate::events::EventKind;
use crate::switch::{ControlError, Switch};

/// Which way of a channel an operation applies to (ARI's `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuteDirection {
    /// What the channel says.
    In,
    /// What the channel hears.
    Out,
    Both,
}

impl MuteDirection {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "in" => Some(Self::In),
            "out" => Some(Self::Out),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    fn split(self, value: bool) -> (Option<bool>, Option<bool>) {
        match self {
            Self::In => (Some(value), None),
            Self::Out => (None, Some(value)),
            Self::Both => (Some(value), Some(value)),
        }
    }
}

impl Switch {
    pub fn mute(
        &self,
        id: &str,
        direction: MuteDirection,
        muted: bool,
    ) -> Result<(), ControlError> {
        let (incoming, outgoing) = direction.split(muted);
        self.channel(id)?.leg.set_mute(incoming, outgoing);
        Ok(())
    }

    /// Puts a channel on hold: the others stop hearing it and it hears music on hold
    /// (the `default` class, when one is configured).
    pub fn hold(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if std::mem::replace(&mut channel.data().held, true) {
            return Ok(());
        }
        channel.leg.set_mute(Some(true), None);
        if self.config().musiconhold.contains_key("default") {
            let _ = self.start_moh(id, "default");
        }
        self.events().publish(id, EventKind::ChannelHold);
        Ok(())
    }

    pub fn unhold(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if !std::mem::replace(&mut channel.data().held, false) {
            return Ok(());
        }
        channel.leg.set_mute(Some(false), None);
        let _ = self.stop_moh(id);
        self.events().publish(id, EventKind::ChannelUnhold);
        Ok(())
    }

    /// Starts music on hold of `class` to the channel, replacing any running one.
    pub fn start_moh(&self, id: &str, class: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        self.stop_moh(id)?;
        let playback = self.music_on_hold(id, class)?;
        channel.data().moh = Some(playback.id.clone());
        Ok(())
    }

    pub fn stop_moh(&self, id: &str) -> Result<(), ControlError> {
        let playing = self.channel(id)?.data().moh.take();
        if let Some(playback) = playing {
            let _ = self.stop_playback(&playback);
        }
        Ok(())
    }

    /// Plays silence to the channel until stopped (keeps NAT and media timers alive).
    pub fn start_silence(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        self.stop_silence(id)?;
        let playback = self.play_quietly(id, "silence:forever", 0)?;
        channel.data().silence = Some(playback.id.clone());
        Ok(())
    }

    pub fn stop_silence(&self, id: &str) -> Result<(), ControlError> {
        let playing = self.channel(id)?.data().silence.take();
        if let Some(playback) = playing {
            let _ = self.stop_playback(&playback);
        }
        Ok(())
    }
}
