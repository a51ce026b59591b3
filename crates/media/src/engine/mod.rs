//! The media engine: the I/O shell around the sans-IO pieces of this crate.
//!
//! It runs on its own threads, so a busy control plane (API clients, SIP bursts) never
//! delays a packet; the core only posts commands to [`Leg`]s and reads their events.
//! Each leg owns one RTP port (and the next one for RTCP) from the configured range: the
//! port-per-leg side of the design choice, which keeps NAT latching and per-leg
//! statistics trivial and matches what phones and SBCs expect. Received packets are
//! handled on RTP shard threads, each an epoll loop over its legs' sockets
//! (`shard.rs`), which also pace the playbacks into UDP legs; mixing bridges, RFC 4733
//! digits and the in-memory network of the tests run as tasks on a runtime of the
//! engine's own.
//!
//! Two legs with the same codec relay packets without decoding (only the header is
//! rewritten, so each outgoing stream stays continuous); different codecs are transcoded
//! through linear PCM.

mod bridge;
mod epoll;
mod leg;
mod load;
mod net;
mod playback;
mod ports;
mod shard;
mod sound_cache;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use bridge::MixBridge;
pub use leg::{Leg, MediaEvent, Remote, TapDirection};
pub use net::{MemoryNet, MemorySocket};
pub use playback::{Control, Playback, PlaybackEnd, Source};

use crate::MediaError;
use ports::PortPool;
use shard::Shards;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The address RTP sockets bind to and SDP advertises.
    pub ip: IpAddr,
    /// Inclusive port range; legs take an even port and the next odd one.
    pub ports: (u16, u16),
    /// RTP shard threads, and worker threads for playbacks and bridges; 0 = one per core.
    pub threads: usize,
    /// Legs send and receive on this network in memory instead of binding UDP ports,
    /// and the engine runs on the caller's tokio runtime (`threads` is unused), so a
    /// test on paused time drives the media clock too.
    pub net: Option<MemoryNet>,
}

/// Packet counters that prove which path audio took.
#[derive(Debug, Default)]
pub struct Counters {
    pub relayed: AtomicU64,
    pub transcoded: AtomicU64,
    pub generated: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub relayed: u64,
    pub transcoded: u64,
    pub generated: u64,
}

struct EngineInner {
    ip: IpAddr,
    ports: PortPool,
    net: Option<MemoryNet>,
    /// The UDP legs' shards (none on a memory network).
    shards: Option<Shards>,
    runtime: tokio::runtime::Handle,
    counters: Counters,
}

#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("ip", &self.inner.ip)
            .finish()
    }
}

impl MediaEngine {
    /// Starts the media threads (or, with a memory network, uses the current runtime:
    /// call it from within one).
    pub fn start(config: EngineConfig) -> Result<Self, MediaError> {
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        };
        let (runtime, shards) = match config.net {
            Some(_) => (
                tokio::runtime::Handle::try_current()
                    .map_err(|e| MediaError::Engine(e.to_string()))?,
                None,
            ),
            None => (Self::own_runtime(threads)?, Some(Shards::start(threads)?)),
        };
        Ok(Self {
            inner: Arc::new(EngineInner {
                ip: config.ip,
                ports: PortPool::new(config.ports.0, config.ports.1),
                net: config.net,
                shards,
                runtime,
                counters: Counters::default(),
            }),
        })
    }

    /// A multi-threaded runtime on threads of its own.
    fn own_runtime(threads: usize) -> Result<tokio::runtime::Handle, MediaError> {
        let (tx, rx) = std::sync::mpsc::channel();
        // The runtime lives on a thread of its own (dropping a runtime from async code
        // panics); its workers, all named `media`, do the packet work.
        std::thread::Builder::new()
            .name("media-owner".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("media")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(std::future::pending::<()>());
            })?;
        Ok(rx
            .recv()
            .map_err(|_| MediaError::Engine("media thread did not start".into()))??)
    }

    pub fn ip(&self) -> IpAddr {
        self.inner.ip
    }

    /// A new leg with its own RTP/RTCP port pair.
    pub fn create_leg(&self, name: &str) -> Result<Leg, MediaError> {
        Leg::open(self.inner.clone(), name)
    }

    /// A new, empty mixing bridge.
    pub fn create_bridge(&self) -> MixBridge {
        MixBridge::open(self.inner.clone())
    }

    /// A leg without RTP (see [`Leg::feed`]).
    pub fn create_virtual_leg(&self, name: &str) -> Leg {
        Leg::open_virtual(self.inner.clone(), name)
    }

    /// The busiest RTP shard thread's share of time spent handling packets over the
    /// last second, 0.0–1.0 (always 0 on an in-memory network). Near 1 the relay falls
    /// behind: new calls should be refused.
    pub fn load(&self) -> f32 {
        self.inner.shards.as_ref().map_or(0.0, Shards::load)
    }

    pub fn counters(&self) -> CounterSnapshot {
        let c = &self.inner.counters;
        CounterSnapshot {
            relayed: c.relayed.load(Ordering::Relaxed),
            transcoded: c.transcoded.load(Ordering::Relaxed),
            generated: c.generated.load(Ordering::Relaxed),
        }
    }
}
