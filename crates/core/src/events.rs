//! The event bus: every state change in the switch is one typed event with a monotonic
//! sequence number, published once; ARI, Lua, CDRs and metrics subscribe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::bridge::Bridge;
use crate::cause::Cause;
use crate::snapshot::{BridgeSnapshot, ChannelSnapshot, PlaybackSnapshot, RecordingSnapshot};
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
    /// A Sessions API session (source: the session's id) placed its first call, had
    /// its two parties connected, and ended.
    CallSessionStarted {
        session: String,
    },
    CallSessionConnected {
        session: String,
    },
    CallSessionEnded {
        session: String,
    },
    /// An event a script made (FreeSWITCH's `event:fire()`, `session:sendEvent`): its
    /// name (`CUSTOM` with a subclass, or another FreeSWITCH event name), headers in
    /// order, and body. Source is the channel it concerns, or empty.
    Custom {
        name: String,
        subclass: Option<String>,
        headers: Vec<(String, String)>,
        body: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub seq: u64,
    pub timestamp: SystemTime,
    /// Id of the channel (or bridge, for bridge events) the event is about.
    pub source: String,
    pub kind: EventKind,
    /// The objects the event is about as they were when it was published, so a face
    /// can describe them after they are gone.
    pub objects: Objects,
}

/// Snapshots of what an event names: its source channel, a dialled peer, a bridge, a
/// playback or a live recording (`None` where the event names none, or it is gone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Objects {
    pub channel: Option<ChannelSnapshot>,
    /// The dialled channel of `ChannelDialBegin` / `ChannelDialEnd`.
    pub peer: Option<ChannelSnapshot>,
    pub bridge: Option<BridgeSnapshot>,
    pub playback: Option<PlaybackSnapshot>,
    pub recording: Option<RecordingSnapshot>,
}

/// Takes the snapshots for an event about to be published (installed by the switch).
type SnapshotFn = dyn Fn(&str, &EventKind) -> Objects + Send + Sync;

#[derive(Clone, Default)]
struct Snapshotter(Arc<OnceLock<Box<SnapshotFn>>>);

impl std::fmt::Debug for Snapshotter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Snapshotter(installed)"
        } else {
            "Snapshotter(none)"
        })
    }
}

const CAPACITY: usize = 4096;
/// Events one source's subscriber may fall behind by before it is told it lagged.
const SOURCE_CAPACITY: usize = 256;

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    seq: Arc<AtomicU64>,
    /// Per-source queues, keyed by source id: a publish finds its source's subscribers
    /// in one lookup instead of every subscriber filtering the whole switch.
    sources: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>>,
    snapshotter: Snapshotter,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self {
            tx,
            seq: Arc::new(AtomicU64::new(0)),
            sources: Arc::default(),
            snapshotter: Snapshotter::default(),
        }
    }
}

/// What a source's subscriber receives next.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelEvent {
    Event(Arc<Event>),
    /// The subscriber fell this many events behind and they were dropped; what follows
    /// is the oldest event still queued.
    Lagged(u64),
}

/// The events of one source (a channel) only, in order, bounded; ends after the
/// source's final event (`ChannelDestroyed`, `BridgeDestroyed`).
#[derive(Debug)]
pub struct ChannelEvents {
    rx: broadcast::Receiver<Arc<Event>>,
}

impl ChannelEvents {
    /// The next event, `Lagged` if some were dropped, `None` once the source is gone.
    pub async fn recv(&mut self) -> Option<ChannelEvent> {
        match self.rx.recv().await {
            Ok(event) => Some(ChannelEvent::Event(event)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(ChannelEvent::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Whether `kind` is the last event its source publishes.
fn is_final(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::ChannelDestroyed { .. } | EventKind::BridgeDestroyed
    )
}

impl EventBus {
    /// Installs what fills every event's [`Objects`] (once; later calls are ignored).
    pub(crate) fn set_snapshotter(
        &self,
        snapshot: impl Fn(&str, &EventKind) -> Objects + Send + Sync + 'static,
    ) {
        let _ = self.snapshotter.0.set(Box::new(snapshot));
    }

    /// Publishes an event with snapshots of its objects taken now; the caller holds no
    /// lock of those objects.
    pub fn publish(&self, source: &str, kind: EventKind) {
        let objects = self.objects(source, &kind);
        self.publish_objects(source, kind, objects);
    }

    /// [`EventBus::publish`] for an event about `bridge`, which the caller holds: its
    /// snapshot is taken from it when the switch no longer finds it (another channel's
    /// leaving has destroyed it meanwhile).
    pub(crate) fn publish_about(&self, source: &str, kind: EventKind, bridge: &Bridge) {
        let mut objects = self.objects(source, &kind);
        objects
            .bridge
            .get_or_insert_with(|| BridgeSnapshot::from(bridge));
        self.publish_objects(source, kind, objects);
    }

    fn objects(&self, source: &str, kind: &EventKind) -> Objects {
        self.snapshotter
            .0
            .get()
            .map(|snapshot| snapshot(source, kind))
            .unwrap_or_default()
    }

    fn publish_objects(&self, source: &str, kind: EventKind, objects: Objects) {
        let event = Event {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            timestamp: SystemTime::now(),
            source: source.to_owned(),
            kind,
            objects,
        };
        tracing::debug!(seq = event.seq, source, kind = ?event.kind, "event");
        let last = is_final(&event.kind);
        let event = Arc::new(event);
        {
            let mut sources = crate::lock(&self.sources);
            if let Some(tx) = sources.get(source) {
                // Gone once its subscribers are, or after the final event: dropping
                // the sender ends their streams once they have read it.
                if tx.send(event.clone()).is_err() || last {
                    sources.remove(source);
                }
            }
        }
        // No subscriber is fine: nobody is listening yet.
        let _ = self.tx.send(event);
    }

    /// The events of `source` from now on (see [`ChannelEvents`]). The caller makes
    /// sure the source still exists afterwards, or calls [`EventBus::forget`].
    pub(crate) fn subscribe_source(&self, source: &str) -> ChannelEvents {
        let mut sources = crate::lock(&self.sources);
        let rx = match sources.get(source) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(SOURCE_CAPACITY);
                sources.insert(source.to_owned(), tx);
                rx
            }
        };
        ChannelEvents { rx }
    }

    /// Drops the queue of a source that turned out to be gone already.
    pub(crate) fn forget(&self, source: &str) {
        crate::lock(&self.sources).remove(source);
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

    #[tokio::test]
    async fn a_source_subscriber_sees_only_its_source_until_the_final_event() {
        let bus = EventBus::default();
        let mut a = bus.subscribe_source("a");
        bus.publish("b", EventKind::ChannelCreated);
        bus.publish("a", EventKind::ChannelHold);
        bus.publish(
            "a",
            EventKind::ChannelDestroyed {
                cause: Cause::NORMAL_CLEARING,
            },
        );
        let kinds = [a.recv().await, a.recv().await].map(|e| match e {
            Some(ChannelEvent::Event(e)) => (e.source.clone(), e.kind.clone()),
            other => panic!("expected an event, got {other:?}"),
        });
        assert_eq!(kinds[0], ("a".into(), EventKind::ChannelHold));
        assert!(matches!(kinds[1].1, EventKind::ChannelDestroyed { .. }));
        assert_eq!(
            a.recv().await,
            None,
            "the stream ends after the final event"
        );
        assert!(crate::lock(&bus.sources).is_empty(), "the queue is dropped");
    }

    #[tokio::test]
    async fn a_slow_source_subscriber_is_told_it_lagged() {
        let bus = EventBus::default();
        let mut a = bus.subscribe_source("a");
        let extra = 5;
        for _ in 0..SOURCE_CAPACITY + extra {
            bus.publish("a", EventKind::ChannelHold);
        }
        assert_eq!(a.recv().await, Some(ChannelEvent::Lagged(extra as u64)));
        let Some(ChannelEvent::Event(next)) = a.recv().await else {
            panic!("events go on after the lag");
        };
        assert_eq!(next.seq, extra as u64 + 1, "the oldest event still queued");
    }

    #[test]
    fn queues_without_subscribers_are_dropped() {
        let bus = EventBus::default();
        drop(bus.subscribe_source("a"));
        bus.publish("a", EventKind::ChannelHold);
        assert!(crate::lock(&bus.sources).is_empty());
    }
}
