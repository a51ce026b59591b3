//! Taking a Local pair out of a call path (FreeSWITCH's `uuid_simplify`, Asterisk's
//! Local channel optimisation): A bridged to one half, the other half bridged to B,
//! becomes A bridged to B, and the pair hangs up.

use crate::cause::Cause;
use crate::switch::{ControlError, Switch};

impl Switch {
    /// The other channel in this channel's bridge (a two-party bridge).
    pub fn bridge_partner(&self, id: &str) -> Option<String> {
        let channel = self.channel(id).ok()?;
        let bridge = self.bridge(&channel.bridge_id()?).ok()?;
        bridge.channel_ids().into_iter().find(|other| other != id)
    }

    /// Shorts the Local pair between `id` and its far party. Returns whether there was
    /// one to take out (false: nothing to simplify, which is no error).
    pub fn simplify(&self, id: &str) -> Result<bool, ControlError> {
        let channel = self.channel(id)?;
        let Some((near, far, other)) = self.local_path(id) else {
            return Ok(false);
        };
        let (Some(near_bridge), Some(far_bridge)) =
            (channel.bridge_id(), self.channel(&other)?.bridge_id())
        else {
            return Ok(false);
        };
        self.remove_from_bridge(&near_bridge, id)?;
        self.remove_from_bridge(&far_bridge, &other)?;
        self.connect(id, &other)?;
        self.hangup(&near, Cause::NORMAL_CLEARING);
        self.hangup(&far, Cause::NORMAL_CLEARING);
        Ok(true)
    }

    /// (the Local half bridged to `id`, its other half, the channel bridged to that).
    fn local_path(&self, id: &str) -> Option<(String, String, String)> {
        let near = self.bridge_partner(id)?;
        let far = self.channel(&near).ok()?.data().local_peer.clone()?;
        let other = self.bridge_partner(&far)?;
        (other != id).then_some((near, far, other))
    }
}
