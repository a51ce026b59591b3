//! The switch: channels, the control API every face uses, the event bus, the dialplan
//! and its applications, causes and CDRs.

mod admission;
mod apps;
pub mod bridge;
pub mod call_session;
pub mod cause;
pub mod channel;
pub mod config;
mod connected_line;
mod device_state;
mod dial;
pub mod dialplan;
pub mod digits;
pub mod events;
pub mod features;
mod globals;
pub mod header_value;
pub mod io;
pub mod kv;
pub mod mailbox;
#[cfg(test)]
mod memory_tests;
pub mod originate;
pub mod playback;
pub mod recording;
mod reload;
pub mod say;
pub mod scheduler;
mod shared_state;
mod simplify;
mod sip_config;
pub mod snapshot;
pub mod snoop;
pub mod state;
mod switch;
#[cfg(test)]
mod testing;
pub mod time;
pub mod trunks;

pub use apps::{AppFuture, AppHandler, Application, Next, Transfer};
pub use bridge::{AddToBridge, Bridge, BridgeKind, NewBridge};
pub use call_session::{
    CallSession, CallSessionOutcome, CallSessionProgress, NewCallSession, SessionParty,
};
pub use cause::Cause;
pub use channel::{CallerId, Channel, Direction, Status};
pub use config::Config;
pub use digits::{CollectDigits, CollectStatus, Collected, PlayAndCollect};
pub use events::{ChannelEvent, ChannelEvents, Event, EventBus, EventKind, Objects};
pub use io::{Io, RtpIo, SipIo, StoreIo};
pub use originate::{Originate, Then};
pub use playback::{
    Play, Playback, PlaybackControl, PlaybackState, PlaybackTarget, DEFAULT_SKIP_MS,
};
pub use snapshot::{BridgeSnapshot, ChannelSnapshot, PlaybackSnapshot, RecordingSnapshot};
pub use state::ChannelState;
pub use switch::{parse_dialstring, ControlError, OriginateError, Switch};
pub use trunks::TrunkStatus;

/// A channel or a bridge: what a playback plays into or a recording records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaTarget {
    Channel(String),
    Bridge(String),
}

impl MediaTarget {
    pub fn id(&self) -> &str {
        match self {
            Self::Channel(id) | Self::Bridge(id) => id,
        }
    }

    /// ARI's `target_uri`: `channel:<id>` or `bridge:<id>`.
    pub fn uri(&self) -> String {
        match self {
            Self::Channel(id) => format!("channel:{id}"),
            Self::Bridge(id) => format!("bridge:{id}"),
        }
    }
}

/// Locks a mutex, carrying on past poisoning: a panic elsewhere must not take the
/// switch's registries down with it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
}
