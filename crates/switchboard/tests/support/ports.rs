//! Free ports for the server, SIPp and the RTP range.
//!
//! Ports are found by binding and releasing them, so another process may
//! take one in between; with a handful of tests on loopback that is rare.

use std::net::{TcpListener, UdpSocket};

/// A port free for both UDP and TCP on 127.0.0.1 (the server's SIP port).
pub fn free_udp_tcp_port() -> u16 {
    for _ in 0..50 {
        let port = free_udp_port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// A port free for TCP on 127.0.0.1, chosen by the kernel (the ARI port).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind an ephemeral TCP port")
        .port()
}

/// A port free for UDP on 127.0.0.1, chosen by the kernel.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind an ephemeral UDP port")
        .port()
}

/// Size of the server's RTP port range.
pub const RTP_RANGE_LEN: u16 = 100;

/// An RTP port range `(first, last)` for the server, starting at a random
/// even port in 20000..32000. It stays below Linux's ephemeral range
/// (32768..60999), where the ports of SIPp and of the tests' own RTP sockets
/// come from, so the server never competes with them. A few ports of the
/// range are checked to be free.
pub fn rtp_range() -> (u16, u16) {
    const LOW: u64 = 20_000;
    const HIGH: u64 = 32_000;
    for attempt in 0..50u64 {
        let span = (HIGH - LOW - u64::from(RTP_RANGE_LEN)) / 2;
        let base = (LOW + (super::random_u64().wrapping_add(attempt) % span) * 2) as u16;
        let last = base + RTP_RANGE_LEN;
        let all_free = (base..=last)
            .step_by(10)
            .all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return (base, last);
        }
    }
    panic!("no free RTP port range");
}
