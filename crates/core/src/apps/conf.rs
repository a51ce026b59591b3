//! `ConfBridge(conference)`: the caller joins a named mixing bridge until it hangs up
//! or is sent elsewhere.

use std::sync::Arc;

use super::{Application, Next};
use crate::channel::Channel;
use crate::dialplan::split_args;
use crate::switch::Switch;

pub(super) fn applications() -> Vec<Application> {
    vec![Application::new(
        "ConfBridge",
        "ConfBridge(conference[,bridge_profile[,user_profile[,menu]]])",
        "Conference bridge application.",
        conf_bridge,
    )
    .alias("conference")]
}

async fn conf_bridge(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let first = split_args(&args).into_iter().next().unwrap_or_default();
    // FreeSWITCH's `conference name@profile+flags` names the same room.
    let room = first.split(['@', '+']).next().unwrap_or_default();
    let _ = switch.answer(&channel.id);
    if let Ok(bridge) = switch.named_bridge(&format!("confbridge-{room}")) {
        if switch.add_to_bridge(&bridge.id, &channel.id).is_ok() {
            let _leave = LeaveOnDrop {
                switch: &switch,
                channel: &channel,
                bridge: bridge.id.clone(),
            };
            let _digits = super::FlushDigitsOnDrop(&channel);
            channel.hung_up().await;
        }
    }
    Next::Continue
}

/// Takes an interrupted caller out of the conference (hangup does that itself).
struct LeaveOnDrop<'a> {
    switch: &'a Switch,
    channel: &'a Channel,
    bridge: String,
}

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        if self.channel.status().hangup.is_none() {
            let _ = self
                .switch
                .remove_from_bridge(&self.bridge, &self.channel.id);
        }
    }
}
