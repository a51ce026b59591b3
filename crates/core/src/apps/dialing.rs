//! `Dial` in the registry (its behaviour is in `crate::dial`), with what an
//! interrupted Dial must undo.

use std::sync::Arc;

use super::{Application, Next};
use crate::cause::Cause;
use crate::channel::Channel;
use crate::dialplan::split_args;
use crate::state::ChannelState;
use crate::switch::Switch;

pub(super) fn applications() -> Vec<Application> {
    vec![Application::new(
        "Dial",
        "Dial(Technology/Resource[&Technology2/Resource2[&...]][,timeout])",
        "Attempt to connect to another device or endpoint and bridge the call.",
        dial,
    )
    .alias("bridge")]
}

async fn dial(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let _digits = super::FlushDigitsOnDrop(&channel);
    let mut guard = Interrupted {
        switch: &switch,
        caller: &channel,
        armed: true,
    };
    let next = crate::dial::dial(&switch, &channel, &split_args(&args)).await;
    guard.armed = false;
    next
}

/// A Dial dropped before it returned (Transfer, Break): the legs it rang or connected
/// are hung up and the caller leaves their bridge, as Asterisk's Dial ends when the
/// caller is redirected. A hangup of the caller needs none of this: its teardown
/// hangs up the dialled legs with its own cause.
struct Interrupted<'a> {
    switch: &'a Switch,
    caller: &'a Channel,
    armed: bool,
}

impl Drop for Interrupted<'_> {
    fn drop(&mut self) {
        if !self.armed || self.caller.status().hangup.is_some() {
            return;
        }
        let (children, bridge) = {
            let data = self.caller.data();
            (data.children.clone(), data.bridge.clone())
        };
        for child in children {
            // A leg still ringing ends its Dial with CANCEL, as Asterisk reports it.
            if let Ok(leg) = self.switch.channel(&child) {
                if leg.state() != ChannelState::Up {
                    crate::dial::dial_end(self.switch, self.caller, &leg, "CANCEL");
                }
            }
            self.switch.hangup(&child, Cause::NORMAL_CLEARING);
        }
        if let Some(bridge) = bridge {
            let _ = self.switch.remove_from_bridge(&bridge, &self.caller.id);
        }
    }
}
