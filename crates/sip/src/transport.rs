//! The thin I/O shell around the sans-IO stack: UDP sockets and TCP connections that turn
//! bytes into parsed messages for the stack task and send what it asks them to.
//!
//! Queues are bounded: when the stack cannot keep up, UDP datagrams are dropped (the peer
//! retransmits) rather than memory growing without limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sipx_sip::{parse_datagram, Limits, Message, StreamParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

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

const INBOUND_QUEUE: usize = 4096;
const TCP_WRITE_QUEUE: usize = 256;

#[derive(Clone)]
pub struct Transports {
    udp: Arc<UdpSocket>,
    udp_local: SocketAddr,
    tcp_local: Option<SocketAddr>,
    tcp: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>,
    inbound: mpsc::Sender<Inbound>,
}

impl Transports {
    /// Binds the UDP socket and (optionally) the TCP listener, and starts reading them.
    pub async fn bind(
        udp: SocketAddr,
        tcp: Option<SocketAddr>,
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
            tcp: Arc::default(),
            inbound,
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
            Transport::Udp => {
                if let Err(e) = self.udp.try_send_to(&bytes, flow.remote) {
                    tracing::debug!(remote = %flow.remote, error = %e, "UDP send failed");
                }
            }
            Transport::Tcp => self.send_tcp(flow.remote, bytes),
        }
    }

    fn send_tcp(&self, remote: SocketAddr, bytes: Bytes) {
        let existing = self
            .tcp
            .lock()
            .ok()
            .and_then(|map| map.get(&remote).cloned());
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
                        Ok(stream) => this.run_tcp(stream, remote, Some(bytes)).await,
                        Err(e) => tracing::warn!(%remote, error = %e, "TCP connect failed"),
                    }
                });
            }
        }
    }

    async fn read_udp(self) {
        let mut buf = vec![0u8; 65_536];
        let limits = Limits::datagram();
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
            // Keep-alives (RFC 5626 CRLF) and stray noise shorter than a start line.
            if data.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let flow = Flow {
                transport: Transport::Udp,
                remote,
            };
            let bytes = Bytes::copy_from_slice(data);
            let item = match parse_datagram(bytes.clone(), &limits) {
                Ok(message) => Inbound::Message(Box::new(message), flow),
                Err(e) => {
                    tracing::debug!(%remote, error = %e, "unparseable SIP datagram");
                    Inbound::Malformed(bytes, flow)
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
                Ok((stream, remote)) => {
                    tokio::spawn(self.clone().run_tcp(stream, remote, None));
                }
                Err(e) => tracing::warn!(error = %e, "TCP accept failed"),
            }
        }
    }

    /// One connection: a reader feeding the stream parser, a writer draining the queue.
    async fn run_tcp(self, stream: TcpStream, remote: SocketAddr, first: Option<Bytes>) {
        let (tx, mut rx) = mpsc::channel::<Bytes>(TCP_WRITE_QUEUE);
        if let Some(bytes) = first {
            let _ = tx.try_send(bytes);
        }
        if let Ok(mut map) = self.tcp.lock() {
            map.insert(remote, tx);
        }
        let (mut reader, mut writer) = stream.into_split();
        let write = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let flow = Flow {
            transport: Transport::Tcp,
            remote,
        };
        let mut parser = StreamParser::new(Limits::stream());
        let mut buf = vec![0u8; 16_384];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let Some(chunk) = buf.get(..n) else { break };
            match parser.push(chunk) {
                Ok(messages) => {
                    for message in messages {
                        if self
                            .inbound
                            .send(Inbound::Message(Box::new(message), flow))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                Err(e) => {
                    // A stream that lost its framing cannot be resynchronised: close it.
                    tracing::debug!(%remote, error = %e, "unparseable SIP on TCP; closing");
                    break;
                }
            }
        }
        if let Ok(mut map) = self.tcp.lock() {
            map.remove(&remote);
        }
        write.abort();
    }
}
