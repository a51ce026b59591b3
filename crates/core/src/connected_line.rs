//! The connected line: who a channel is talking to, as its snapshot's `connected`
//! shows it (ARI `dial?caller=`, Dial's callee, a bridge peer).

use crate::channel::CallerId;
use crate::events::EventKind;
use crate::switch::{ControlError, Switch};

impl Switch {
    /// Sets channel `id`'s connected party and publishes `ChannelConnectedLine`
    /// (Asterisk publishes it when a channel's connected line changes).
    pub fn set_connected_line(&self, id: &str, connected: CallerId) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        crate::header_value::check_caller_id(&connected)?;
        {
            let mut data = channel.data();
            if data.connected == connected {
                return Ok(());
            }
            data.connected = connected;
        }
        self.events().publish(id, EventKind::ChannelConnectedLine);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_switch;

    #[tokio::test]
    async fn connected_line_is_set_with_one_event() {
        let switch = test_switch("connected-line").await;
        let channel = switch
            .create_channel("Local/100@default", CallerId::default(), None, None)
            .unwrap();
        let mut events = switch.events().subscribe();
        let bob = CallerId {
            name: "Bob".into(),
            number: "1001".into(),
        };
        switch.set_connected_line(&channel.id, bob.clone()).unwrap();
        // The same party again is no change, and no event.
        switch.set_connected_line(&channel.id, bob.clone()).unwrap();
        assert_eq!(channel.data().connected, bob);
        let event = events.try_recv().unwrap();
        assert_eq!(
            (event.source.as_str(), &event.kind),
            (channel.id.as_str(), &EventKind::ChannelConnectedLine)
        );
        assert!(events.try_recv().is_err());
        assert_eq!(
            switch.set_connected_line("nope", CallerId::default()),
            Err(ControlError::NotFound)
        );
    }
}
