//! SIP for switchboard: transports, transactions (on `sipx-sip`), registrar, digest
//! authentication, SDP offer/answer and the dialogs of a back-to-back user agent.
//!
//! The rest of switchboard sees only this crate's types: the SIP stack crate underneath
//! can be replaced without touching the core.

pub mod digest;
pub mod guard;
mod msg;
pub mod registrar;
pub mod sdp;
mod stack;
mod timers;
pub mod transport;
mod ua;
pub mod validate;
pub mod wire;

pub use msg::is_reserved_header;
pub use stack::{
    CallEvent, CallHandle, CallInfo, EndpointAuth, IncomingCall, InviteError, Origin, OutgoingCall,
    SipStack, StackConfig, Target, TrunkAccount, TrunkState,
};
pub use transport::{Flow, Inbound, Transport, TransportLimits};
pub use wire::{MemoryWire, Wire};
