//! What the stack sends through: the real [`Transports`] or, in tests, a [`MemoryWire`]
//! that hands every message to the test instead of a socket.

use std::net::SocketAddr;

use sipx_sip::Message;
use tokio::sync::mpsc;

use crate::transport::{Flow, Transport, Transports};

/// The sending half of the SIP transports; what arrives comes as a
/// `mpsc::Receiver<Inbound>` beside it.
pub trait Wire: Send + Sync + 'static {
    /// Sends `message` on `flow`; a failure is the transport's to log (SIP retransmits).
    fn send(&self, flow: Flow, message: &Message);
    /// The address this wire listens on for `transport` (Via, Contact and SDP use it).
    fn local(&self, transport: Transport) -> SocketAddr;
}

impl Wire for Transports {
    fn send(&self, flow: Flow, message: &Message) {
        Transports::send(self, flow, message);
    }

    fn local(&self, transport: Transport) -> SocketAddr {
        Transports::local(self, transport)
    }
}

/// A wire without sockets: what the stack sends is queued for the reader returned by
/// [`MemoryWire::new`]; what it receives is whatever the test puts on its inbound channel.
#[derive(Debug)]
pub struct MemoryWire {
    local: SocketAddr,
    sent: mpsc::UnboundedSender<(Flow, Message)>,
}

impl MemoryWire {
    /// A wire that claims to listen on `local` (for every transport).
    pub fn new(local: SocketAddr) -> (Self, mpsc::UnboundedReceiver<(Flow, Message)>) {
        let (sent, rx) = mpsc::unbounded_channel();
        (Self { local, sent }, rx)
    }
}

impl Wire for MemoryWire {
    fn send(&self, flow: Flow, message: &Message) {
        // A test that stopped reading has no use for the message.
        let _ = self.sent.send((flow, message.clone()));
    }

    fn local(&self, _transport: Transport) -> SocketAddr {
        self.local
    }
}
