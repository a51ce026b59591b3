//! DTMF signalling.

pub mod inband;
pub mod rfc4733;
