//! switchboard-media: sans-IO media building blocks for the softswitch.
//!
//! Nothing in this crate touches sockets, clocks or threads: codecs,
//! resampling, tone generation/detection, RTP/RTCP framing, RFC 4733 DTMF
//! and receive statistics all operate on buffers handed in by the caller,
//! which keeps them deterministic and unit-testable. The one exception is
//! [`engine`], the thin I/O shell that runs them on sockets and a media clock.

pub mod codec;
pub mod dtmf;
pub mod engine;
pub mod error;
pub mod goertzel;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod stats;
pub mod tone;
pub mod wav;

pub use error::MediaError;
pub use rtp::RtpError;
