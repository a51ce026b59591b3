//! Where a switch does its I/O. [`Switch::start`](crate::Switch::start) binds the
//! configured SIP sockets and opens the database in the data directory;
//! [`Switch::start_with`](crate::Switch::start_with) can take a SIP wire without sockets
//! and an in-memory store instead, and RTP on a network in memory, so a test runs a
//! whole switch on simulated time.

use std::sync::Arc;

use switchboard_media::engine::MemoryNet;
use switchboard_sip::{Inbound, Wire};
use tokio::sync::mpsc;

/// The switch's I/O: SIP, RTP and storage.
#[derive(Default)]
pub struct Io {
    pub sip: SipIo,
    pub rtp: RtpIo,
    pub store: StoreIo,
}

/// Where media legs send and receive RTP.
#[derive(Debug, Default, Clone)]
pub enum RtpIo {
    /// UDP ports from `rtp.ports` on the SIP address, on the media engine's own threads.
    #[default]
    Udp,
    /// Addresses from the same range on this network, with the media engine on the
    /// caller's runtime (so paused test time drives the media clock).
    Memory(MemoryNet),
}

/// Where SIP messages come from and go to.
#[derive(Default)]
pub enum SipIo {
    /// The UDP (and TCP) listeners of `sip.listen`.
    #[default]
    Bind,
    /// `wire` sends what the stack sends; `inbound` is what it receives.
    Wire {
        wire: Arc<dyn Wire>,
        inbound: mpsc::Receiver<Inbound>,
    },
}

/// Where CDRs, recordings, device states and mailboxes are kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum StoreIo {
    /// `switchboard.db` in `general.data_dir`.
    #[default]
    DataDir,
    /// A database in memory, gone with the switch.
    Memory,
}
