//! What the media benchmarks share: their settings, the media threads' CPU time, and
//! legs each pointed at a "phone" socket of its own.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use switchboard_media::codec::Codec;
use switchboard_media::engine::{Leg, MediaEngine, Remote};

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of this process's threads named `name`, summed.
pub fn thread_cpu(name: &str) -> Option<f64> {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with(name) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        total += (utime + stime) / ticks;
    }
    Some(total)
}

/// `count` PCMU legs, each sending to a non-blocking phone socket of its own on `ip`.
pub fn phones_and_legs(engine: &MediaEngine, ip: IpAddr, count: usize) -> Vec<(UdpSocket, Leg)> {
    (0..count)
        .map(|i| {
            let phone = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("phone socket");
            phone.set_nonblocking(true).expect("nonblocking");
            let leg = engine.create_leg(&format!("leg{i}")).expect("leg");
            leg.set_remote(Remote {
                addr: phone.local_addr().expect("addr"),
                codec: Codec::Pcmu,
                payload_type: 0,
                dtmf_payload_type: Some(101),
                send: true,
            });
            (phone, leg)
        })
        .collect()
}
