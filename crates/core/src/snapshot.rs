//! What a face may know of a channel at one moment: a plain value copied out of the core,
//! so no lock guard leaves it and a face needs no cache of its own.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::channel::{CallerId, Channel};
use crate::state::ChannelState;
use crate::switch::Switch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSnapshot {
    pub id: String,
    pub name: String,
    pub state: ChannelState,
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
