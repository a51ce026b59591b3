//! switchboard-media: sans-IO media building blocks for the softswitch.
//!
//! Nothing in this crate touches sockets, clocks or threads: codecs,
//! resampling, tone generation/detection, call progress tone plans, RTP/RTCP
//! framing, RFC 4733 and in-band DTMF, receive statistics, jitter buffering
//! and conference mixing all operate on buffers (and times) handed in by the
//! caller, which keeps them deterministic and unit-testable; the file
//! modules only read and write the files they are given. The one exception
//! is [`engine`], the thin I/O shell that runs them on sockets and a media
//! clock.

pub mod codec;
pub mod dtmf;
pub mod engine;
pub mod error;
pub mod goertzel;
pub mod jitter_buffer;
pub mod mixer;
mod part_file;
pub mod raw;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod rtp_session;
pub mod stats;
pub mod tone;
pub mod tone_plan;
pub mod wav;
pub mod wav_writer;

pub use error::MediaError;
pub use rtp::RtpError;
