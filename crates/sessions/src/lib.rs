//! The Sessions API (port 8887): PortSIP PBX's third-party call control over the
//! switchboard core. A session is the core's (`Switch::start_call_session`); this crate
//! is HTTPS, bearer tokens, request checking and JSON. Depends on the core alone.

mod auth;
mod error;
mod openapi;
mod plan;
mod request;
mod routes;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use switchboard_core::Switch;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use error::ApiError;
pub use tls::TlsError;

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;
/// Time a client has to finish the TLS handshake or a request's head.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no [sessions_api] section")]
    NotConfigured,
    #[error("listen address {0:?}: {1}")]
    Address(String, std::net::AddrParseError),
    #[error("{0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Starts serving `[sessions_api]`; returns the address it listens on.
pub async fn serve(switch: Switch) -> Result<SocketAddr, ServeError> {
    let config = switch
        .config()
        .sessions_api
        .clone()
        .ok_or(ServeError::NotConfigured)?;
    let addr: SocketAddr = config
        .listen
        .parse()
        .map_err(|e| ServeError::Address(config.listen.clone(), e))?;
    let tls = if config.tls {
        let data_dir = &switch.config().general.data_dir;
        Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
            config.cert.as_deref(),
            config.key.as_deref(),
            data_dir,
        )?))
    } else {
        None
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(addr, e))?;
    let trunks: Vec<String> = switch
        .config()
        .trunk
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let openapi = openapi::document(&plan::instance_id(switch.config()), &trunks);
    let api = Arc::new(routes::Api {
        switch,
        tokens: auth::Tokens::new(config.tokens, config.users),
        openapi,
    });
    let router = routes::router(api);
    tokio::spawn(accept(listener, tls, router));
    tracing::info!(listen = %bound, tls = config.tls, "Sessions API listening");
    Ok(bound)
}

async fn accept(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("Sessions API accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Replies are small: sent at once, not held back by Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .layer(axum::Extension(routes::Remote(remote)));
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => connection(stream, service).await,
                        Ok(Err(e)) => tracing::debug!(%remote, "Sessions API TLS handshake: {e}"),
                        Err(_) => tracing::debug!(%remote, "Sessions API TLS handshake timed out"),
                    }
                }
                None => connection(stream, service).await,
            }
        });
    }
}

async fn connection<S>(stream: S, service: axum::Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_TIMEOUT)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .await;
    if let Err(e) = served {
        tracing::debug!("Sessions API connection: {e}");
    }
}
