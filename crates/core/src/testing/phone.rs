//! A SIP network in memory for a switch under test: it carries what the switch sends to
//! the test, and lets the test answer as a phone would. Messages are written as text, as
//! a phone sends them, and parsed by the same parser the real transports use.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_media::engine::{MemoryNet, MemorySocket};
use switchboard_sip::{Flow, Inbound, MemoryWire, Transport};
use tokio::sync::mpsc;

use crate::io::{Io, RtpIo, SipIo, StoreIo};

pub(crate) mod rtp;

/// The RTP port a phone answers with (on its SIP host's address).
const PHONE_RTP_PORT: u16 = 4000;

/// Where the switch says it listens.
pub(crate) const SWITCH: &str = "127.0.0.1:5060";

pub(crate) struct Network {
    inbound: mpsc::Sender<Inbound>,
    sent: mpsc::UnboundedReceiver<(Flow, sipx_sip::Message)>,
    /// Where the switch's and the phones' RTP goes.
    rtp: MemoryNet,
    /// Sent by the switch but not yet asked for.
    pending: VecDeque<(Flow, String)>,
}

/// The far end of one call the switch placed.
pub(crate) struct Call {
    pub(crate) flow: Flow,
    /// The INVITE as sent.
    invite: String,
    cseq: u32,
    /// The phone's RTP socket, which its answer advertises.
    pub(crate) rtp: MemorySocket,
    /// Where the switch's offer says to send RTP.
    pub(crate) switch_rtp: SocketAddr,
}

impl Network {
    /// The network, and the switch I/O on it (with an in-memory store).
    pub(crate) fn new() -> (Self, Io) {
        let (wire, sent) = MemoryWire::new(SWITCH.parse().expect("a socket address"));
        let (inbound, inbound_rx) = mpsc::channel(64);
        let rtp = MemoryNet::new();
        let io = Io {
            sip: SipIo::Wire {
                wire: Arc::new(wire),
                inbound: inbound_rx,
            },
            rtp: RtpIo::Memory(rtp.clone()),
            store: StoreIo::Memory,
        };
        let network = Self {
            inbound,
            sent,
            rtp,
            pending: VecDeque::new(),
        };
        (network, io)
    }

    /// The next message the switch sent that `wanted` accepts; the others stay queued.
    pub(crate) async fn expect(
        &mut self,
        what: &str,
        wanted: impl Fn(Flow, &str) -> bool,
    ) -> (Flow, String) {
        if let Some(at) = self.pending.iter().position(|(f, t)| wanted(*f, t)) {
            return self.pending.remove(at).expect("found at this index");
        }
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), self.sent.recv()).await;
            let Ok(Some((flow, message))) = next else {
                panic!("the switch never sent {what}; pending: {:?}", self.pending);
            };
            let text = String::from_utf8_lossy(&message.to_bytes()).into_owned();
            if wanted(flow, &text) {
                return (flow, text);
            }
            self.pending.push_back((flow, text));
        }
    }

    /// Delivers `text` to the switch as if it came from `flow`.
    pub(crate) async fn deliver(&self, flow: Flow, text: &str) {
        let message = sipx_sip::parse_datagram(
            bytes::Bytes::from(text.to_owned()),
            &sipx_sip::Limits::datagram(),
        )
        .unwrap_or_else(|e| panic!("test message does not parse ({e}):\n{text}"));
        self.inbound
            .send(Inbound::Message(Box::new(message), flow))
            .await
            .expect("the SIP stack runs");
    }

    /// Waits for the INVITE to `host`, answers it (100, 200 with SDP for PCMU at an
    /// RTP socket on the host's address) and waits for the ACK.
    pub(crate) async fn answer(&mut self, host: &str) -> Call {
        let remote: SocketAddr = host.parse().expect("a socket address");
        let (flow, invite) = self
            .expect("an INVITE", |f, t| {
                f.remote == remote && t.starts_with("INVITE ")
            })
            .await;
        assert_eq!(flow.transport, Transport::Udp);
        let rtp = self
            .rtp
            .bind(SocketAddr::new(remote.ip(), PHONE_RTP_PORT))
            .expect("a free phone RTP address");
        let switch_rtp = rtp::offered_address(&invite);
        let call = Call {
            flow,
            invite,
            cseq: 1,
            rtp,
            switch_rtp,
        };
        self.deliver(flow, &call.response(100, "Trying", "")).await;
        let ip = remote.ip();
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {PHONE_RTP_PORT} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
        );
        self.deliver(flow, &call.response(200, "OK", &sdp)).await;
        let call_id = call.header("Call-ID").to_owned();
        self.expect("the ACK", |f, t| {
            f == flow && t.starts_with("ACK ") && header(t, "Call-ID") == Some(&call_id)
        })
        .await;
        call
    }

    /// Sends `digits` as SIP INFO (`application/dtmf-relay`), each answered 200.
    pub(crate) async fn send_info_digits(&mut self, call: &mut Call, digits: &str) {
        for digit in digits.chars() {
            let info = call.info(digit);
            self.deliver(call.flow, &info).await;
            let cseq = format!("{} INFO", call.cseq);
            self.expect("the 200 to INFO", |f, t| {
                f == call.flow && t.starts_with("SIP/2.0 200") && header(t, "CSeq") == Some(&cseq)
            })
            .await;
        }
    }
}

impl Call {
    fn header(&self, name: &str) -> &str {
        header(&self.invite, name).unwrap_or_else(|| panic!("the INVITE has no {name}"))
    }

    /// A response to the INVITE: its Vias, From, Call-ID and CSeq, our To tag.
    fn response(&self, code: u16, reason: &str, sdp: &str) -> String {
        let vias: String = self
            .invite
            .lines()
            .filter(|l| l.starts_with("Via:"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        let body_type = if sdp.is_empty() {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".to_owned()
        };
        format!(
            "SIP/2.0 {code} {reason}\r\n{vias}From: {}\r\nTo: {};tag=phone\r\nCall-ID: {}\r\n\
             CSeq: {}\r\nContact: <sip:phone@{}>\r\n{body_type}Content-Length: {}\r\n\r\n{sdp}",
            self.header("From"),
            self.header("To"),
            self.header("Call-ID"),
            self.header("CSeq"),
            self.flow.remote,
            sdp.len()
        )
    }

    /// An in-dialog INFO carrying `digit`.
    fn info(&mut self, digit: char) -> String {
        self.cseq += 1;
        let body = format!("Signal={digit}\r\nDuration=160\r\n");
        let contact = self.header("Contact");
        let target = contact
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or(contact);
        format!(
            "INFO {target} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKinfo{}\r\n\
             Max-Forwards: 70\r\nFrom: {};tag=phone\r\nTo: {}\r\nCall-ID: {}\r\n\
             CSeq: {} INFO\r\nContact: <sip:phone@{}>\r\nContent-Type: application/dtmf-relay\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.flow.remote,
            self.cseq,
            self.header("To"),
            self.header("From"),
            self.header("Call-ID"),
            self.cseq,
            self.flow.remote,
            body.len()
        )
    }
}

/// The value of the first `name:` header line of a message's text.
pub(crate) fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
