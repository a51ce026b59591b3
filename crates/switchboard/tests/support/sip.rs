//! Hand-made SIP requests over plain sockets, for what SIPp cannot do:
//! readiness probes, malformed input, SHA-256 digest authentication.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// A SIP response: status code and the whole text.
#[derive(Debug, Clone)]
pub struct SipResponse {
    pub status: u16,
    pub raw: String,
}

impl SipResponse {
    /// Parses `SIP/2.0 <code> ...`; `None` for anything else (e.g. a request).
    pub fn parse(bytes: &[u8]) -> Option<SipResponse> {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let status = raw.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
        Some(SipResponse { status, raw })
    }

    /// The values of every `name` header, in order (one per header line).
    pub fn headers(&self, name: &str) -> Vec<&str> {
        header_values(&self.raw, name)
    }
}

/// The values of the `name` headers (or of its compact form) in the header
/// part of `message`.
fn header_values<'a>(message: &'a str, name: &str) -> Vec<&'a str> {
    let compact = COMPACT_FORMS
        .iter()
        .find(|(full, _)| full.eq_ignore_ascii_case(name))
        .map(|(_, short)| *short);
    message
        .split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| {
            let (n, v) = line.split_once(':')?;
            let n = n.trim();
            (n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c)))
                .then_some(v.trim())
        })
        .collect()
}

/// RFC 3261 §7.3.3 compact header names the tests may meet.
const COMPACT_FORMS: [(&str, &str); 6] = [
    ("Call-ID", "i"),
    ("Contact", "m"),
    ("Content-Length", "l"),
    ("Content-Type", "c"),
    ("From", "f"),
    ("To", "t"),
];

/// Asserts that `response` arrived with status `expected`, and returns it.
pub fn assert_status(response: Option<SipResponse>, expected: u16, what: &str) -> SipResponse {
    match response {
        Some(r) if r.status == expected => r,
        Some(r) => panic!("{what}: expected {expected}, got:\n{}", r.raw),
        None => panic!("{what}: expected {expected}, got no response"),
    }
}

/// A string unique to this process and call, for Call-IDs, tags and branches.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", super::random_u64())
}

/// An OPTIONS request to the server at `target` from `local` over
/// `transport` ("UDP"/"TCP").
pub fn options_request(target: SocketAddr, local: SocketAddr, transport: &str) -> String {
    let id = unique_id("options");
    format!(
        "OPTIONS sip:{target} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag={id}\r\n\
         To: <sip:{target}>\r\n\
         Call-ID: {id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A REGISTER of `user` from `local` to the server at `target` over UDP,
/// contact `sip:<user>@<local>` for an hour. Requests of one registration
/// share `call_id` (also used as From tag) and increase `cseq`.
pub fn register_request(
    target: SocketAddr,
    local: SocketAddr,
    user: &str,
    call_id: &str,
    cseq: u32,
    authorization: Option<&str>,
) -> String {
    let branch = unique_id("register");
    let authorization = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER {} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{target}>;tag={call_id}\r\n\
         To: <sip:{user}@{target}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{local}>\r\n\
         Expires: 3600\r\n\
         {authorization}\
         Content-Length: 0\r\n\r\n",
        registrar_uri(target)
    )
}

/// The Request-URI of a REGISTER to `target` (also the digest uri).
pub fn registrar_uri(target: SocketAddr) -> String {
    format!("sip:{target}")
}

/// A UDP socket of the test's own that talks SIP to the server.
pub struct UdpClient {
    socket: UdpSocket,
    server: SocketAddr,
}

impl UdpClient {
    pub fn new(server: SocketAddr) -> UdpClient {
        UdpClient::from_ip(server, "127.0.0.1")
    }

    /// A client on `ip` (another loopback address plays another host).
    pub fn from_ip(server: SocketAddr, ip: &str) -> UdpClient {
        let socket = UdpSocket::bind((ip, 0)).expect("bind UDP");
        UdpClient { socket, server }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("UDP local address")
    }

    /// Sends raw bytes to the server.
    pub fn send(&self, bytes: &[u8]) {
        self.socket
            .send_to(bytes, self.server)
            .expect("send UDP datagram");
    }

    /// Sends `request` and returns the first final SIP response that comes
    /// back within `timeout`.
    pub fn exchange(&self, request: &str, timeout: Duration) -> Option<SipResponse> {
        self.send(request.as_bytes());
        self.recv_final(timeout)
    }

    /// The next final SIP response received within `timeout`.
    pub fn recv_final(&self, timeout: Duration) -> Option<SipResponse> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            let (n, _) = self.socket.recv_from(&mut buf).ok()?;
            if let Some(response) = SipResponse::parse(&buf[..n]) {
                if response.status >= 200 {
                    return Some(response);
                }
            }
        }
    }

    /// OPTIONS to the server; its final answer, if any.
    pub fn options(&self, timeout: Duration) -> Option<SipResponse> {
        let request = options_request(self.server, self.local_addr(), "UDP");
        self.exchange(&request, timeout)
    }
}

/// A TCP connection of the test's own that talks SIP to the server.
pub struct TcpClient {
    stream: TcpStream,
    server: SocketAddr,
    data: Vec<u8>,
}

impl TcpClient {
    pub fn connect(server: SocketAddr) -> TcpClient {
        let stream = TcpStream::connect_timeout(&server, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {server} over TCP: {e}"));
        TcpClient {
            stream,
            server,
            data: Vec::new(),
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("TCP local address")
    }

    /// Writes raw bytes to the connection.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .expect("write to the server over TCP");
    }

    /// Sends `request` and returns the first final SIP response read from
    /// the connection within `timeout`.
    pub fn exchange(&mut self, request: &str, timeout: Duration) -> Option<SipResponse> {
        self.send(request.as_bytes());
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            while let Some(len) = complete_message_len(&self.data) {
                let message: Vec<u8> = self.data.drain(..len).collect();
                if let Some(response) = SipResponse::parse(&message) {
                    if response.status >= 200 {
                        return Some(response);
                    }
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok()?;
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.data.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// OPTIONS to the server; its final answer, if any.
    pub fn options(&mut self, timeout: Duration) -> Option<SipResponse> {
        let request = options_request(self.server, self.local_addr(), "TCP");
        self.exchange(&request, timeout)
    }
}

/// Length of the first complete message (headers + Content-Length body) in
/// a stream buffer, if it is all there.
fn complete_message_len(data: &[u8]) -> Option<usize> {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&data[..end]);
    let body_len = header_values(&head, "Content-Length")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (data.len() >= end + body_len).then_some(end + body_len)
}
