//! The event bus: every state change in the switch is one typed event with a monotonic
//! sequence number, published once; ARI, Lua, CDRs and metrics subscribe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::cause::Cause;
use crate::state::ChannelState;

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    ChannelCreated,
    /// The dialplan is about to run an application.
    ChannelDialplan {
        app: String,
        data: String,
    },
    ChannelStateChange {
        state: ChannelState,
    },
    ChannelDtmfReceived {
        digit: char,
        duration_ms: u32,
    },
    ChannelVarset {
        variable: String,
        value: String,
    },
    ChannelHold,
    ChannelUnhold,
    /// The channel's connected party (`connected` in its snapshot) changed.
    ChannelConnectedLine,
    /// `peer` starts being dialled by `caller`.
    ChannelDialBegin {
        peer: String,
        dialstring: String,
    },
    ChannelDialEnd {
        peer: String,
        status: String,
    },
    ChannelHangupRequest {
        cause: Cause,
    },
    ChannelDestroyed {
        cause: Cause,
    },
    BridgeCreated,
    BridgeDestroyed,
    /// Source is the channel.
    ChannelEnteredBridge {
        bridge: String,
    },
    ChannelLeftBridge {
        bridge: String,
    },
    PlaybackStarted {
        playback: String,
    },
    PlaybackFinished {
        playback: String,
    },
    /// Source is the recorded channel or bridge.
    RecordingStarted {
        recording: String,
    },
    RecordingFinished {
        recording: String,
    },
    RecordingFailed {
        recording: String,
    },
    /// The channel entered a Stasis application (ARI takes control).
    StasisStart {
        app: String,
        args: Vec<String>,
    },
    StasisEnd {
        app: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: u64,
    pub timestamp: SystemTime,
    /// Id of the channel (or bridge, for bridge events) the event is about.
    pub source: String,
    pub kind: EventKind,
}

const CAPACITY: usize = 4096;

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    seq: Arc<AtomicU64>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self {
            tx,
            seq: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl EventBus {
    pub fn publish(&self, source: &str, kind: EventKind) {
        let event = Event {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            timestamp: SystemTime::now(),
            source: source.to_owned(),
            kind,
        };
        tracing::debug!(seq = event.seq, source, kind = ?event.kind, "event");
        // No subscriber is fine: nobody is listening yet.
        let _ = self.tx.send(Arc::new(event));
    }

    /// A subscriber that lags more than the bus capacity misses events (and is told so
    /// by `broadcast::error::RecvError::Lagged`), so a slow face never stalls calls.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_are_monotonic() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        bus.publish("a", EventKind::ChannelCreated);
        bus.publish("a", EventKind::ChannelHold);
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(second.kind, EventKind::ChannelHold);
    }
}
