//! The thin I/O shell around the sans-IO stack: UDP sockets and TCP connections that turn
//! bytes into parsed messages for the stack task and send what it asks them to.
//!
//! Queues are bounded: when the stack cannot keep up, UDP datagrams are dropped (the peer
//! retransmits) rather than memory growing without limit. TCP connections are bounded in
//! number (in total and per source address), in time (idle, and per message against
//! slowloris) and in size ([`TransportLimits`]); the framing and timers of one connection
//! are the sans-IO [`connection::Connection`], the tasks here only move its bytes.

mod connection;
mod datagram;
mod table;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sipx_sip::{Limits, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use connection::{Action, Connection};
use datagram::Datagram;
use table::Table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn via_name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
}

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub transport: Transport,
    pub remote: SocketAddr,
}

/// What the transports hand to the stack.
#[derive(Debug)]
pub enum Inbound {
    Message(Box<Message>, Flow),
    /// Bytes that frame as SIP but do not parse: answered 400 when a response can be built.
    Malformed(Bytes, Flow),
}

/// How much a peer may hold of us: connections, time and message size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportLimits {
    /// Open TCP connections in all, ours and theirs.
    pub tcp_max_connections: usize,
    /// Open TCP connections with one IP address.
    pub tcp_max_connections_per_source: usize,
    /// A connection that sends nothing (not even a CRLF keep-alive) for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// A message must be complete this long after its first byte (slowloris).
    pub tcp_message_timeout: Duration,
    /// Start line and headers of one message, on any transport.
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            tcp_max_connections: 1024,
            tcp_max_connections_per_source: 32,
            tcp_idle_timeout: Duration::from_secs(300),
            tcp_message_timeout: Duration::from_secs(10),
            max_header_bytes: 65_536,
            max_body_bytes: 65_536,
        }
    }
}

impl TransportLimits {
    /// sipx's limits for one whole message; its per-header and header-count limits keep
    /// their datagram defaults (8 KiB, 256), which no real message comes near.
    fn sipx(&self) -> Limits {
        let defaults = Limits::datagram();
        Limits {
            max_message_bytes: self
                .max_header_bytes
                .saturating_add(4)
                .saturating_add(self.max_body_bytes),
            max_body_bytes: self.max_body_bytes,
            max_header_bytes: defaults.max_header_bytes.min(self.max_header_bytes),
            ..defaults
        }
    }
}

const INBOUND_QUEUE: usize = 4096;
const TCP_WRITE_QUEUE: usize = 256;
/// Per-connection read buffer: small, because hundreds of idle connections each hold one.
const TCP_READ_CHUNK: usize = 8192;
/// How long a connection closed for a protocol error still sends the stack's answers.
const LINGER: Duration = Duration::from_millis(500);
/// Pause after a failed accept (out of file descriptors): retrying at once only spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

type Writers = Table<mpsc::Sender<Bytes>>;

#[derive(Clone)]
pub struct Transports {
    udp: Arc<UdpSocket>,
    udp_local: SocketAddr,
    tcp_local: Option<SocketAddr>,
    tcp: Arc<Mutex<Writers>>,
    inbound: mpsc::Sender<Inbound>,
    limits: Arc<TransportLimits>,
}

impl Transports {
    /// Binds the UDP socket and (optionally) the TCP listener, and starts reading them.
    pub async fn bind(
        udp: SocketAddr,
        tcp: Option<SocketAddr>,
        limits: TransportLimits,
    ) -> std::io::Result<(Self, mpsc::Receiver<Inbound>)> {
        let (inbound, rx) = mpsc::channel(INBOUND_QUEUE);
        let socket = Arc::new(UdpSocket::bind(udp).await?);
        let udp_local = socket.local_addr()?;
        let listener = match tcp {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let tcp_local = listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let transports = Self {
            udp: socket,
            udp_local,
            tcp_local,
            tcp: Arc::new(Mutex::new(Table::new(
                limits.tcp_max_connections,
                limits.tcp_max_connections_per_source,
            ))),
            inbound,
            limits: Arc::new(limits),
        };
        tokio::spawn(transports.clone().read_udp());
        if let Some(listener) = listener {
            tokio::spawn(transports.clone().accept_tcp(listener));
        }
        Ok((transports, rx))
    }

    pub fn local(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::Udp => self.udp_local,
            Transport::Tcp => self.tcp_local.unwrap_or(self.udp_local),
        }
    }

    pub fn send(&self, flow: Flow, message: &Message) {
        let bytes = message.to_bytes();
        match flow.transport {
            Transport::Udp => self.send_udp(flow.remote, &bytes),
            Transport::Tcp => self.send_tcp(flow.remote, bytes),
        }
    }

    fn send_udp(&self, remote: SocketAddr, bytes: &[u8]) {
        if let Err(e) = self.udp.try_send_to(bytes, remote) {
            tracing::debug!(%remote, error = %e, "UDP send failed");
        }
    }

    /// The connection table; a poisoned lock still holds consistent counts.
    fn table(&self) -> MutexGuard<'_, Writers> {
        self.tcp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn send_tcp(&self, remote: SocketAddr, bytes: Bytes) {
        let existing = self.table().writer(remote);
        match existing {
            Some(tx) => {
                if tx.try_send(bytes).is_err() {
                    tracing::warn!(%remote, "TCP write queue full or closed; message dropped");
                }
            }
            None => {
                let this = self.clone();
                tokio::spawn(async move {
                    match TcpStream::connect(remote).await {
                        Ok(stream) => this.open_tcp(stream, remote, Some(bytes)),
                        Err(e) => tracing::warn!(%remote, error = %e, "TCP connect failed"),
                    }
                });
            }
        }
    }

    async fn read_udp(self) {
        let mut buf = vec![0u8; 65_536];
        let limits = self.limits.sipx();
        loop {
            let (len, remote) = match self.udp.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP port-unreachable surfaces here on Linux; it is not fatal.
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            };
            let Some(data) = buf.get(..len) else { continue };
            let flow = Flow {
                transport: Transport::Udp,
                remote,
            };
            let bytes = Bytes::copy_from_slice(data);
            let item = match datagram::classify(bytes, self.limits.max_header_bytes, &limits) {
                Datagram::Ignore => continue,
                Datagram::Message(message) => Inbound::Message(Box::new(message), flow),
                Datagram::Malformed(bytes, e) => {
                    tracing::debug!(%remote, error = %e, "unparseable SIP datagram");
                    Inbound::Malformed(bytes, flow)
                }
                Datagram::TooLarge { reply, why } => {
                    match reply {
                        Some(reply) => {
                            tracing::info!(%remote, %why, "oversized SIP datagram; answered 513");
                            self.send_udp(remote, &reply.to_bytes());
                        }
                        None => tracing::info!(%remote, %why, "oversized SIP datagram dropped"),
                    }
                    continue;
                }
            };
            if self.inbound.try_send(item).is_err() {
                tracing::warn!(%remote, "SIP stack overloaded; datagram dropped");
            }
        }
    }

    async fn accept_tcp(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => self.open_tcp(stream, remote, None),
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    /// Counts a connection in and starts its task, or closes it at once when over a limit.
    fn open_tcp(&self, stream: TcpStream, remote: SocketAddr, first: Option<Bytes>) {
        let (tx, rx) = mpsc::channel::<Bytes>(TCP_WRITE_QUEUE);
        if let Some(bytes) = first {
            let _ = tx.try_send(bytes);
        }
        let admitted = {
            let mut table = self.table();
            let admitted = table.admit(remote, tx);
            tracing::trace!(%remote, open = table.total(), ok = admitted.is_ok(), "TCP connection");
            admitted
        };
        match admitted {
            Ok(id) => {
                tokio::spawn(self.clone().run_tcp(stream, remote, rx, id));
            }
            Err(refused) => {
                if refused.report {
                    tracing::warn!(source = %remote.ip(), limit = %refused.why, "TCP connections refused");
                }
                drop(stream);
            }
        }
    }

    /// One connection: reads feed its [`Connection`], the write queue drains to the peer,
    /// and its timers close it.
    async fn run_tcp(
        self,
        mut stream: TcpStream,
        remote: SocketAddr,
        mut rx: mpsc::Receiver<Bytes>,
        id: u64,
    ) {
        let flow = Flow {
            transport: Transport::Tcp,
            remote,
        };
        let mut conn = Connection::new(&self.limits, Instant::now());
        let mut buf = vec![0u8; TCP_READ_CHUNK];
        // A peer that does not take our bytes holds them like a slow sender: same bound.
        let write_timeout = self.limits.tcp_message_timeout;
        'conn: loop {
            let deadline = conn.deadline();
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = stream.read(&mut buf) => {
                    let n = match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let Some(chunk) = buf.get(..n) else { break };
                    for action in conn.receive(chunk, Instant::now()) {
                        match action {
                            Action::Deliver(message) => {
                                let item = Inbound::Message(message, flow);
                                if self.inbound.send(item).await.is_err() {
                                    break 'conn;
                                }
                            }
                            Action::Write(bytes) => {
                                if !write(&mut stream, &bytes, write_timeout).await {
                                    break 'conn;
                                }
                            }
                            Action::Close(why) => {
                                tracing::info!(%remote, %why, "TCP connection closed");
                                linger(&mut stream, &mut rx, write_timeout).await;
                                break 'conn;
                            }
                        }
                    }
                }
                Some(bytes) = rx.recv() => {
                    if !write(&mut stream, &bytes, write_timeout).await {
                        break;
                    }
                }
                () = timer => {
                    if let Some(why) = conn.timeout(Instant::now()) {
                        tracing::debug!(%remote, %why, "TCP connection closed");
                        break;
                    }
                }
            }
        }
        self.table().release(remote, id);
    }
}

/// Lets the answers to messages delivered just before a close still go out: the stack
/// replies within milliseconds, and a peer that sent a good message and then garbage is owed
/// the answer to the good one.
async fn linger(stream: &mut TcpStream, rx: &mut mpsc::Receiver<Bytes>, write_timeout: Duration) {
    let until = tokio::time::sleep(LINGER);
    tokio::pin!(until);
    loop {
        tokio::select! {
            Some(bytes) = rx.recv() => {
                if !write(stream, &bytes, write_timeout).await {
                    return;
                }
            }
            () = &mut until => return,
        }
    }
}

/// Writes all of `bytes`, false when the peer is gone or too slow to take them.
async fn write(stream: &mut TcpStream, bytes: &[u8], timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}
