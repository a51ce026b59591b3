//! Parking a channel in a Stasis application (the `Stasis()` application that ARI
//! registers waits here) until the application lets go or the channel is sent
//! elsewhere.

use crate::channel::Channel;
use crate::events::EventKind;
use crate::switch::{ControlError, Switch};

impl Switch {
    /// Hands the channel to Stasis application `app` ([`Switch::enter_stasis`]) and
    /// waits until [`Switch::continue_in_dialplan`] releases it. Interrupted (a
    /// `Transfer` or `Break` drops this future), the channel leaves Stasis with a
    /// StasisEnd.
    pub async fn park_in_stasis(
        &self,
        id: &str,
        app: &str,
        args: Vec<String>,
    ) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        // Listening before entering, so a continue right after StasisStart is not lost.
        let resumed = channel.resume.notified();
        self.enter_stasis(id, app, args)?;
        let _leave = LeaveStasis {
            switch: self,
            channel: &channel,
        };
        resumed.await;
        Ok(())
    }
}

/// Leaves Stasis when the wait ends without a continue (which has already left it).
struct LeaveStasis<'a> {
    switch: &'a Switch,
    channel: &'a Channel,
}

impl Drop for LeaveStasis<'_> {
    fn drop(&mut self) {
        // The digits typed in Stasis went to the application (ChannelDtmfReceived), as
        // in Asterisk, which buffers none: the dialplan after it does not read them again.
        self.channel.digits.flush();
        // A hung-up channel's StasisEnd comes from its teardown, after the hangup events.
        if self.channel.status().hangup.is_some() {
            return;
        }
        let stasis = self.channel.data().stasis.take();
        if let Some((app, _)) = stasis {
            self.switch
                .events()
                .publish(&self.channel.id, EventKind::StasisEnd { app });
        }
    }
}
