//! DTMF signalling.

pub mod rfc4733;
