//! The switch: channels, the control API every face uses, the event bus, the dialplan
//! and its applications, causes and CDRs.

mod apps;
pub mod bridge;
pub mod cause;
pub mod channel;
pub mod config;
mod dial;
pub mod dialplan;
pub mod events;
pub mod features;
pub mod playback;
pub mod recording;
pub mod say;
pub mod snoop;
pub mod state;
mod switch;
pub mod time;

pub use bridge::{Bridge, BridgeKind};
pub use cause::Cause;
pub use channel::{CallerId, Channel, Direction, Status};
pub use config::Config;
pub use events::{Event, EventBus, EventKind};
pub use playback::{Playback, PlaybackState, PlaybackTarget};
pub use state::ChannelState;
pub use switch::{parse_dialstring, ControlError, Switch};
/// Playback control operations (pause, unpause, restart, seek).
pub use switchboard_media::engine::Control as PlaybackControl;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
}
