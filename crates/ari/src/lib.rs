//! ARI, the Asterisk REST Interface, over the switchboard core: REST resources under
//! `/ari`, the events WebSocket at `/ari/events`, and the Swagger 1.1 declarations at
//! `/ari/api-docs/`, wire-compatible with Asterisk 22 so that ARI clients (npm
//! `ari-client`, Python `asyncari`) work unchanged.
//!
//! Every operation is declared once ([`decl`]) in its resource module
//! ([`resources`]); the router, the parameter validation and the api-docs are generated
//! from those declarations.

pub mod decl;
pub mod error;
mod json;
pub mod models;
pub mod params;
pub mod reply;
pub mod resources;
mod server;
pub mod stasis;
mod stasis_app;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use switchboard_core::Switch;

pub use error::AriError;
pub use server::router;

/// How many events per application are kept for clients reconnecting with
/// `last_event`.
pub const DEFAULT_REPLAY_WINDOW: usize = 1000;
/// How many events may wait for one WebSocket before it is considered too slow and
/// dropped.
pub const DEFAULT_SOCKET_QUEUE: usize = 1024;

/// The ARI face's settings (built by the binary from the core config's `[ari]`).
#[derive(Debug, Clone)]
pub struct AriConfig {
    pub listen: SocketAddr,
    /// (user, password) pairs for HTTP Basic and `api_key=user:password`.
    pub users: Vec<(String, String)>,
    /// Origins allowed for CORS (`*` allows any).
    pub cors_origins: Vec<String>,
    pub replay_window: usize,
    pub socket_queue: usize,
}

impl AriConfig {
    pub fn new(listen: SocketAddr, users: Vec<(String, String)>) -> Self {
        Self {
            listen,
            users,
            cors_origins: Vec::new(),
            replay_window: DEFAULT_REPLAY_WINDOW,
            socket_queue: DEFAULT_SOCKET_QUEUE,
        }
    }

    /// From the core config's `[ari]` section (`listen`, `users`, `cors_origins`).
    pub fn from_core(ari: &switchboard_core::config::Ari) -> Result<Self, String> {
        let listen = ari
            .listen
            .parse()
            .map_err(|_| format!("ari.listen: {:?} is not IP:PORT", ari.listen))?;
        let users = ari
            .users
            .iter()
            .map(|u| (u.name.clone(), u.password.clone()))
            .collect();
        Ok(Self {
            cors_origins: ari.cors_origins.clone(),
            ..Self::new(listen, users)
        })
    }
}

/// The ARI face: a cheap, cloneable handle shared by every request and socket.
#[derive(Clone)]
pub struct Ari {
    inner: Arc<Inner>,
}

struct Inner {
    switch: Switch,
    config: AriConfig,
    hub: stasis::Hub,
    started: SystemTime,
    entity_id: String,
}

/// The core's `creator` of the bridges made through ARI, as Asterisk names them.
pub(crate) const STASIS_CREATOR: &str = "Stasis";

impl Ari {
    pub fn new(switch: Switch, config: AriConfig) -> Self {
        let entity_id = entity_id(&switch.config().general.name);
        let hub = stasis::Hub::new(config.replay_window, config.socket_queue);
        // The dialplan's Stasis() is ARI's: registered here, so the core never depends on ARI.
        if let Err(e) = switch.register_application(stasis_app::application()) {
            tracing::error!(error = %e, "Stasis application not registered");
        }
        Self {
            inner: Arc::new(Inner {
                switch,
                config,
                hub,
                started: SystemTime::now(),
                entity_id,
            }),
        }
    }

    pub fn switch(&self) -> &Switch {
        &self.inner.switch
    }

    pub fn config(&self) -> &AriConfig {
        &self.inner.config
    }

    pub fn hub(&self) -> &stasis::Hub {
        &self.inner.hub
    }

    pub fn started(&self) -> SystemTime {
        self.inner.started
    }

    /// Asterisk's `entity_id` / `asterisk_id`: a MAC-like id of this system.
    pub fn entity_id(&self) -> &str {
        &self.inner.entity_id
    }

    /// Whether bridge `id` was made through ARI (is "in Stasis").
    pub fn is_stasis_bridge(&self, id: &str) -> bool {
        self.switch()
            .bridge(id)
            .is_ok_and(|b| b.creator == STASIS_CREATOR)
    }
}

/// A stable MAC-like id from the system name and the host name.
fn entity_id(name: &str) -> String {
    use std::hash::{Hash, Hasher};
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (name, host.trim()).hash(&mut hasher);
    let bytes = hasher.finish().to_be_bytes();
    // Locally administered, unicast.
    let first = (bytes[0] | 0x02) & 0xfe;
    format!(
        "{first:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]
    )
}

/// Binds `config.listen` and serves ARI in the background; the event translation
/// starts with it. Returns once the listener is bound.
pub async fn serve(switch: Switch, config: AriConfig) -> std::io::Result<Ari> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    if config.users.is_empty() {
        tracing::warn!("ARI has no users configured: every request will be refused (401)");
    }
    let ari = Ari::new(switch, config);
    ari.hub().start(ari.clone());
    let app = router(ari.clone());
    let addr = listener.local_addr()?;
    // Events are small frames that must go out at once: without TCP_NODELAY, Nagle's
    // algorithm holds one back until the client acknowledges the previous (delayed
    // ACKs make that tens of milliseconds).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an ARI connection");
        }
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "ARI server stopped");
        }
    });
    tracing::info!(%addr, "ARI listening");
    Ok(ari)
}
