//! One stream connection's framing and timers, without I/O: bytes and the time go in,
//! messages to deliver, bytes to write and the reason to close come out.
//!
//! The framing is ours rather than `sipx_sip::StreamParser`'s because the parser consumes a
//! head before it knows the message is unusable (no Content-Length), and hides how large a
//! head has grown once its blank line arrived; we need both, to answer and to bound memory.
//! sipx still parses every head and every message, so the rules of what a message is stay
//! in one place.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sipx_sip::error::{LimitKind, ParseError};
use sipx_sip::{parse_datagram, parse_frame, HeaderName, Limits, Message};

use super::TransportLimits;
use crate::msg;

/// What the shell must do, in order.
#[derive(Debug)]
pub enum Action {
    /// A complete message for the stack.
    Deliver(Box<Message>),
    /// Bytes to write: a keep-alive pong or a stateless error response.
    Write(Bytes),
    /// Close the connection after writing what came before.
    Close(Close),
}

/// Why a connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Close {
    #[error("idle for {0:?}")]
    Idle(Duration),
    #[error("message not completed within {0:?} of its first byte")]
    MessageTimeout(Duration),
    #[error("message head over {0} bytes without its blank line")]
    HeadTooLarge(usize),
    #[error("message too large: {0}")]
    TooLarge(String),
    #[error("message without Content-Length")]
    NoContentLength,
    #[error("unparseable message: {0}")]
    Malformed(String),
}

const CRLF: &[u8] = b"\r\n";
const BLANK_LINE: &[u8] = b"\r\n\r\n";

#[derive(Debug)]
pub struct Connection {
    limits: TransportLimits,
    /// For a head alone: a zero body limit makes sipx report the declared Content-Length.
    head_limits: Limits,
    /// For a whole message.
    message_limits: Limits,
    buf: BytesMut,
    /// How far the search for the blank line has looked, so a head arriving a byte at a time
    /// is not rescanned.
    scanned: usize,
    /// The head of a message whose body is still arriving, and the body's length.
    body: Option<(Bytes, usize)>,
    /// CRLF pairs in a row between messages: two of them are an RFC 5626 ping.
    crlf_pairs: usize,
    last_read: Instant,
    /// When the first byte of the current partial message arrived.
    message_since: Option<Instant>,
    closed: bool,
}

impl Connection {
    pub fn new(limits: &TransportLimits, now: Instant) -> Self {
        let message_limits = limits.sipx();
        Self {
            limits: limits.clone(),
            head_limits: Limits {
                max_body_bytes: 0,
                ..message_limits
            },
            message_limits,
            buf: BytesMut::new(),
            scanned: 0,
            body: None,
            crlf_pairs: 0,
            last_read: now,
            message_since: None,
            closed: false,
        }
    }

    /// When [`Connection::timeout`] must next be called; `None` when no timer is finite.
    pub fn deadline(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let idle = self.last_read.checked_add(self.limits.tcp_idle_timeout);
        let message = self
            .message_since
            .and_then(|since| since.checked_add(self.limits.tcp_message_timeout));
        match (idle, message) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Checks the timers: `Some` when the connection must be closed.
    pub fn timeout(&mut self, now: Instant) -> Option<Close> {
        if self.closed {
            return None;
        }
        let expired =
            |since: Instant, limit: Duration| since.checked_add(limit).is_some_and(|at| at <= now);
        let close = if self
            .message_since
            .is_some_and(|since| expired(since, self.limits.tcp_message_timeout))
        {
            Close::MessageTimeout(self.limits.tcp_message_timeout)
        } else if expired(self.last_read, self.limits.tcp_idle_timeout) {
            Close::Idle(self.limits.tcp_idle_timeout)
        } else {
            return None;
        };
        self.closed = true;
        Some(close)
    }

    /// Takes bytes read from the peer.
    pub fn receive(&mut self, chunk: &[u8], now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        self.last_read = now;
        self.buf.extend_from_slice(chunk);
        while let Some(step) = self.step(now) {
            let done = matches!(step, Step::Close(..));
            match step {
                Step::Deliver(message) => out.push(Action::Deliver(message)),
                Step::Pong => out.push(Action::Write(Bytes::from_static(CRLF))),
                Step::Close(reply, why) => {
                    out.extend(reply.map(Action::Write));
                    out.push(Action::Close(why));
                }
            }
            if done {
                self.closed = true;
                break;
            }
        }
        out
    }

    /// One framing step on the buffer; `None` when it needs more bytes.
    fn step(&mut self, now: Instant) -> Option<Step> {
        if let Some((head, needed)) = self.body.take() {
            if self.buf.len() < needed {
                self.body = Some((head, needed));
                return None;
            }
            let body = self.buf.split_to(needed);
            let mut frame = BytesMut::with_capacity(head.len() + needed);
            frame.extend_from_slice(&head);
            frame.extend_from_slice(&body);
            self.message_since = None;
            return Some(match parse_frame(frame.freeze(), &self.message_limits) {
                Ok(message) => Step::Deliver(Box::new(message)),
                Err(e) => self.refuse(&head, &e),
            });
        }
        // RFC 3261 §7.5: CRLFs between messages are ignored; RFC 5626 §4.4.1 makes CRLFCRLF
        // a ping, answered with one CRLF.
        while self.buf.starts_with(CRLF) {
            let _ = self.buf.split_to(CRLF.len());
            self.crlf_pairs += 1;
            if self.crlf_pairs == 2 {
                self.crlf_pairs = 0;
                return Some(Step::Pong);
            }
        }
        // A lone CR may be the first half of a keep-alive.
        if self.buf.is_empty() || self.buf.as_ref() == b"\r" {
            return None;
        }
        self.crlf_pairs = 0;
        self.message_since.get_or_insert(now);
        let Some(end) = find(&self.buf, self.scanned, BLANK_LINE) else {
            // Back up so a blank line straddling two reads is still found.
            self.scanned = self.buf.len().saturating_sub(BLANK_LINE.len() - 1);
            if self.buf.len() > self.limits.max_header_bytes {
                return Some(Step::Close(
                    None,
                    Close::HeadTooLarge(self.limits.max_header_bytes),
                ));
            }
            return None;
        };
        self.scanned = 0;
        let head = self.buf.split_to(end + BLANK_LINE.len()).freeze();
        if end > self.limits.max_header_bytes {
            let why = format!("head over {} bytes", self.limits.max_header_bytes);
            return Some(too_large(&head, why));
        }
        Some(match parse_datagram(head.clone(), &self.head_limits) {
            Ok(message) if message.headers().get(&HeaderName::ContentLength).is_none() => {
                let why = "Content-Length is required on TCP";
                Step::Close(reply(&head, 400, why), Close::NoContentLength)
            }
            Ok(message) => {
                self.message_since = None;
                Step::Deliver(Box::new(message))
            }
            Err(ParseError::Limit {
                limit: LimitKind::BodyBytes,
                value,
            }) if value <= self.limits.max_body_bytes => {
                self.body = Some((head, value));
                return self.step(now);
            }
            Err(e) => self.refuse(&head, &e),
        })
    }

    /// Closes on a message sipx refused, answering 513 for a limit and 400 otherwise.
    fn refuse(&self, head: &[u8], error: &ParseError) -> Step {
        match error {
            ParseError::Limit { .. } => too_large(head, error.to_string()),
            _ => Step::Close(
                reply(head, 400, &error.to_string()),
                Close::Malformed(error.to_string()),
            ),
        }
    }
}

enum Step {
    Deliver(Box<Message>),
    Pong,
    /// The reply to write first, if one could be built.
    Close(Option<Bytes>, Close),
}

fn too_large(head: &[u8], why: String) -> Step {
    Step::Close(reply(head, 513, &why), Close::TooLarge(why))
}

fn reply(head: &[u8], code: u16, why: &str) -> Option<Bytes> {
    msg::stateless_response(head, code, why).map(|m| m.to_bytes())
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\n\
        To: <sip:a@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n";

    fn limits() -> TransportLimits {
        TransportLimits {
            tcp_idle_timeout: Duration::from_secs(30),
            tcp_message_timeout: Duration::from_secs(5),
            max_header_bytes: 1024,
            max_body_bytes: 100,
            ..TransportLimits::default()
        }
    }

    fn message(body: &str) -> String {
        format!("{OPTIONS}Content-Length: {}\r\n\r\n{body}", body.len())
    }

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    /// Delivered bodies, written bytes and the close reason, in a comparable shape.
    fn summary(actions: &[Action]) -> (Vec<String>, Vec<String>, Option<Close>) {
        let mut delivered = Vec::new();
        let mut written = Vec::new();
        let mut close = None;
        for action in actions {
            match action {
                Action::Deliver(m) => delivered.push(String::from_utf8_lossy(m.body()).into()),
                Action::Write(b) => written.push(String::from_utf8_lossy(b).into()),
                Action::Close(c) => close = Some(c.clone()),
            }
        }
        (delivered, written, close)
    }

    #[test]
    fn frames_pipelined_and_split_messages() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = format!("{}{}{}", message(""), message("hello"), message("world"));
        let (first, rest) = wire.split_at(wire.len() - 7);
        let (delivered, written, close) = summary(&conn.receive(first.as_bytes(), t0));
        assert_eq!(delivered, ["", "hello"]);
        assert!(written.is_empty() && close.is_none());
        let (delivered, _, close) = summary(&conn.receive(rest.as_bytes(), t0));
        assert_eq!(delivered, ["world"]);
        assert!(close.is_none());
    }

    #[test]
    fn one_byte_at_a_time() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let mut delivered = Vec::new();
        for b in message("body").bytes() {
            delivered.extend(summary(&conn.receive(&[b], t0)).0);
        }
        assert_eq!(delivered, ["body"]);
    }

    #[test]
    fn crlfcrlf_ping_gets_a_crlf_pong() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let (_, written, _) = summary(&conn.receive(b"\r\n\r\n\r\n\r\n", t0));
        assert_eq!(written, ["\r\n", "\r\n"]);
        // A ping split across reads, and a lone pong from the peer, which is not answered.
        assert!(summary(&conn.receive(b"\r", t0)).1.is_empty());
        assert!(summary(&conn.receive(b"\n\r", t0)).1.is_empty());
        assert_eq!(summary(&conn.receive(b"\n", t0)).1, ["\r\n"]);
        assert!(summary(&conn.receive(b"\r\n", t0)).1.is_empty());
        // Keep-alives before a message do not start its timer, and it still frames.
        let (delivered, written, _) = summary(&conn.receive(message("").as_bytes(), t0));
        assert_eq!((delivered.len(), written.len()), (1, 0));
        assert_eq!(conn.deadline(), Some(secs(t0, 30)));
    }

    #[test]
    fn idle_timer_counts_from_the_last_byte_keepalives_included() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        assert_eq!(conn.deadline(), Some(secs(t0, 30)));
        assert_eq!(conn.timeout(secs(t0, 29)), None);
        conn.receive(b"\r\n\r\n", secs(t0, 20));
        assert_eq!(conn.deadline(), Some(secs(t0, 50)));
        assert_eq!(conn.timeout(secs(t0, 49)), None);
        assert_eq!(
            conn.timeout(secs(t0, 50)),
            Some(Close::Idle(Duration::from_secs(30)))
        );
        assert_eq!(conn.deadline(), None);
        assert!(conn.receive(b"\r\n\r\n", secs(t0, 51)).is_empty());
    }

    #[test]
    fn slow_message_is_closed_at_the_message_timeout() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = message("");
        // A byte a second keeps the idle timer fresh but not the message timer.
        for (i, b) in wire.bytes().take(5).enumerate() {
            let now = secs(t0, 1 + i as u64);
            assert!(conn.receive(&[b], now).is_empty());
            assert_eq!(conn.timeout(now), None);
        }
        assert_eq!(conn.deadline(), Some(secs(t0, 6)));
        assert_eq!(
            conn.timeout(secs(t0, 6)),
            Some(Close::MessageTimeout(Duration::from_secs(5)))
        );
    }

    #[test]
    fn message_timer_restarts_per_message_and_covers_the_body() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = message("0123456789");
        let (head, body) = wire.split_at(wire.len() - 10);
        conn.receive(head.as_bytes(), secs(t0, 1));
        assert_eq!(conn.deadline(), Some(secs(t0, 6)));
        assert_eq!(
            summary(&conn.receive(body.as_bytes(), secs(t0, 4))).0.len(),
            1
        );
        assert_eq!(conn.deadline(), Some(secs(t0, 34)));
        conn.receive(head.as_bytes(), secs(t0, 10));
        assert_eq!(
            conn.timeout(secs(t0, 15)),
            Some(Close::MessageTimeout(Duration::from_secs(5)))
        );
    }

    #[test]
    fn growing_head_without_blank_line_is_closed() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let mut grow = String::from(OPTIONS);
        while grow.len() <= 1024 {
            grow.push_str("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let (delivered, written, close) = summary(&conn.receive(grow.as_bytes(), t0));
        assert!(delivered.is_empty() && written.is_empty());
        assert_eq!(close, Some(Close::HeadTooLarge(1024)));
    }

    #[test]
    fn complete_head_over_the_limit_gets_513() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let pad = "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(25);
        let wire = format!("{OPTIONS}{pad}Content-Length: 0\r\n\r\n");
        let (delivered, written, close) = summary(&conn.receive(wire.as_bytes(), t0));
        assert!(delivered.is_empty());
        assert!(written[0].starts_with("SIP/2.0 513 Message Too Large\r\n"));
        assert!(matches!(close, Some(Close::TooLarge(_))));
    }

    #[test]
    fn body_over_the_limit_gets_513() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = format!("{OPTIONS}Content-Length: 101\r\n\r\n");
        let (_, written, close) = summary(&conn.receive(wire.as_bytes(), t0));
        assert!(written[0].starts_with("SIP/2.0 513 "));
        assert!(matches!(close, Some(Close::TooLarge(_))));
    }

    #[test]
    fn too_many_headers_gets_513() {
        let t0 = Instant::now();
        let mut conn = Connection::new(
            &TransportLimits {
                max_header_bytes: 65536,
                ..limits()
            },
            t0,
        );
        let vias = "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKv\r\n".repeat(500);
        let wire = format!("{OPTIONS}{vias}Content-Length: 0\r\n\r\n");
        let (_, written, close) = summary(&conn.receive(wire.as_bytes(), t0));
        assert!(written[0].starts_with("SIP/2.0 513 "));
        assert!(matches!(close, Some(Close::TooLarge(_))));
    }

    #[test]
    fn missing_content_length_gets_400_and_close() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = format!("{OPTIONS}\r\n{}", message(""));
        let (delivered, written, close) = summary(&conn.receive(wire.as_bytes(), t0));
        assert!(delivered.is_empty());
        assert_eq!(written.len(), 1);
        assert!(written[0].starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(written[0].contains("Call-ID: c1\r\n"));
        assert_eq!(close, Some(Close::NoContentLength));
        assert!(conn.receive(message("").as_bytes(), t0).is_empty());
    }

    #[test]
    fn compact_content_length_frames() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = format!("{OPTIONS}l: 2\r\n\r\nhi");
        assert_eq!(summary(&conn.receive(wire.as_bytes(), t0)).0, ["hi"]);
    }

    #[test]
    fn malformed_head_gets_400_and_close() {
        let t0 = Instant::now();
        let mut conn = Connection::new(&limits(), t0);
        let wire = format!("{OPTIONS}Content-Length: -1\r\n\r\n");
        let (_, written, close) = summary(&conn.receive(wire.as_bytes(), t0));
        assert!(written[0].starts_with("SIP/2.0 400 "));
        assert!(matches!(close, Some(Close::Malformed(_))));
        // Garbage with no Via gets no answer, only the close.
        let mut conn = Connection::new(&limits(), t0);
        let (_, written, close) = summary(&conn.receive(b"hello\r\n\r\n", t0));
        assert!(written.is_empty());
        assert!(matches!(close, Some(Close::Malformed(_))));
    }
}
