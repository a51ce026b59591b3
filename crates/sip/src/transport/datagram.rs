//! What one UDP datagram is, decided without I/O.
//!
//! Every size limit (head, body, header count, one header's size, folding) is answered the
//! same way: 513 Message Too Large (RFC 3261 §21.5.14) when Via is there to answer to,
//! otherwise the datagram is dropped and logged. Other parse failures stay 400s, built by the
//! stack.

use bytes::Bytes;
use sipx_sip::error::ParseError;
use sipx_sip::{parse_datagram, Limits, Message};

use crate::msg;

#[derive(Debug)]
pub enum Datagram {
    /// Keep-alives (RFC 5626 CRLF) and noise shorter than a start line.
    Ignore,
    Message(Message),
    /// Frames as SIP but does not parse: the stack answers 400 when it can.
    Malformed(Bytes, ParseError),
    /// Over a limit: answer `reply` (a 513) when there is one, else drop.
    TooLarge {
        reply: Option<Message>,
        why: String,
    },
}

pub fn classify(bytes: Bytes, max_header_bytes: usize, limits: &Limits) -> Datagram {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Datagram::Ignore;
    }
    let head = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    if head > max_header_bytes {
        return too_large(&bytes, format!("head over {max_header_bytes} bytes"));
    }
    match parse_datagram(bytes.clone(), limits) {
        Ok(message) => Datagram::Message(message),
        Err(e @ ParseError::Limit { .. }) => too_large(&bytes, e.to_string()),
        Err(e) => Datagram::Malformed(bytes, e),
    }
}

fn too_large(raw: &[u8], why: String) -> Datagram {
    Datagram::TooLarge {
        reply: msg::stateless_response(raw, 513, &why),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportLimits;

    const HEAD: &str = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\n\
        To: <sip:a@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n";

    fn run(text: &str) -> Datagram {
        let limits = TransportLimits {
            max_header_bytes: 2048,
            max_body_bytes: 100,
            ..TransportLimits::default()
        };
        classify(Bytes::from(text.to_owned()), 2048, &limits.sipx())
    }

    fn reply_code(d: &Datagram) -> Option<u16> {
        match d {
            Datagram::TooLarge {
                reply: Some(Message::Response(r)),
                ..
            } => Some(r.status.code()),
            _ => None,
        }
    }

    #[test]
    fn a_request_parses_and_keepalives_are_ignored() {
        assert!(matches!(run(&format!("{HEAD}\r\n")), Datagram::Message(_)));
        assert!(matches!(run("\r\n\r\n"), Datagram::Ignore));
        assert!(matches!(
            run("OPTIONS nonsense\r\n\r\n"),
            Datagram::Malformed(..)
        ));
    }

    #[test]
    fn every_limit_is_a_513() {
        let long_head = format!("{HEAD}{}\r\n", "X-Pad: 0123456789\r\n".repeat(200));
        assert_eq!(reply_code(&run(&long_head)), Some(513));
        let vias = "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKv\r\n".repeat(500);
        let via_flood = format!("{HEAD}{vias}\r\n");
        // Over the head limit here; with a larger head limit, over the header count.
        assert_eq!(reply_code(&run(&via_flood)), Some(513));
        let limits = TransportLimits::default();
        let d = classify(Bytes::from(via_flood), 65536, &limits.sipx());
        assert_eq!(reply_code(&d), Some(513));
        let big_body = format!("{HEAD}Content-Length: 101\r\n\r\n{}", "x".repeat(101));
        assert_eq!(reply_code(&run(&big_body)), Some(513));
    }

    #[test]
    fn too_large_without_via_is_dropped() {
        let text = format!("OPTIONS sip:a@b SIP/2.0\r\n{}\r\n", "X: y\r\n".repeat(500));
        assert!(matches!(run(&text), Datagram::TooLarge { reply: None, .. }));
    }
}
