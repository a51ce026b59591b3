//! Shared machinery of the end-to-end tests.
//!
//! Every test starts its own `switchboard` ([`server::Server`]) on its own
//! ports with its own config, database and sounds in a temp dir. SIPp does
//! the signalling ([`sipp::Sipp`], scenarios in `tests/sipp/`); the audio is
//! sent and received by the test itself ([`media::RtpPeer`]) on a UDP socket
//! whose port the scenario puts in its SDP, and SIPp logs the server's media
//! address (`MEDIA <ip> <port> <pt>`) for the test to pick up.

pub mod ari;
pub mod audiosocket;
pub mod calls;
pub mod cdr;
pub mod digest;
pub mod https;
pub mod media;
pub mod ports;
pub mod recordings;
pub mod server;
pub mod sip;
pub mod sipp;

use std::time::{Duration, Instant};

/// An endpoint of the test config: its id and password.
#[derive(Clone, Copy, Debug)]
pub struct Party {
    pub id: &'static str,
    pub password: &'static str,
}

/// Endpoint 1000 (the caller in the call tests).
pub const ALICE: Party = Party {
    id: "1000",
    password: "1000pass",
};

/// Endpoint 1001 (the callee in the call tests).
pub const BOB: Party = Party {
    id: "1001",
    password: "1001pass",
};

/// Polls `f` every 50 ms until it returns `Some`, or gives up after `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A value that differs between calls and processes (no `rand` needed).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}
