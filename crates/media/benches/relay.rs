//! Relay-path benchmark: N bridged same-codec calls through the media engine on
//! loopback, 50 packets/s each way per leg, measuring the media threads' CPU time per
//! relayed packet (read from /proc, so the generator's own cost is not counted).
//!
//! `cargo bench -p switchboard-media --bench relay` (env: RELAY_CALLS, RELAY_SECONDS,
//! RELAY_THREADS).

mod common;

use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchboard_media::engine::{EngineConfig, MediaEngine};
use switchboard_media::rtp::{self, RtpHeader};

/// Counts the RTP packets waiting on `phone` (RTCP reports may land there too).
fn drain(phone: &UdpSocket, buf: &mut [u8]) -> u64 {
    let mut count = 0;
    while let Ok((len, _)) = phone.recv_from(buf) {
        if buf.get(..len).is_some_and(|p| !rtp::is_rtcp(p)) {
            count += 1;
        }
    }
    count
}

fn main() {
    let calls = common::env_or("RELAY_CALLS", 300) as usize;
    let seconds = common::env_or("RELAY_SECONDS", 10);
    let ip = IpAddr::from([127, 0, 0, 1]);
    let engine = MediaEngine::start(EngineConfig {
        ip,
        ports: (30_000, 40_000),
        threads: common::env_or("RELAY_THREADS", 0) as usize,
        net: None,
    })
    .expect("media engine");

    // One phone socket per leg, each pointed at its leg; legs bridged in pairs.
    let (phones, legs): (Vec<_>, Vec<_>) = common::phones_and_legs(&engine, ip, calls * 2)
        .into_iter()
        .map(|(phone, leg)| ((phone, leg.local_addr()), leg))
        .unzip();
    for pair in legs.chunks(2) {
        if let [a, b] = pair {
            a.connect(b);
        }
    }

    let payload = [0xffu8; 160];
    let mut packet = Vec::with_capacity(172);
    let mut buf = [0u8; 2048];
    let start_cpu = common::thread_cpu("media").unwrap_or(0.0);
    let start_counters = engine.counters();
    let started = Instant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut tick = 0u32;
    while started.elapsed() < Duration::from_secs(seconds) {
        let frame_at = started + Duration::from_millis(20) * tick;
        if let Some(wait) = frame_at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        for (i, (phone, leg_addr)) in phones.iter().enumerate() {
            let header = RtpHeader {
                marker: tick == 0,
                payload_type: 0,
                sequence: tick as u16,
                timestamp: tick * 160,
                ssrc: i as u32 + 1,
            };
            rtp::write(&header, &payload, &mut packet);
            if phone.send_to(&packet, leg_addr).is_ok() {
                sent += 1;
            }
            received += drain(phone, &mut buf);
        }
        tick += 1;
    }
    std::thread::sleep(Duration::from_millis(200));
    for (phone, _) in &phones {
        received += drain(phone, &mut buf);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = common::thread_cpu("media").unwrap_or(0.0) - start_cpu;
    let relayed = engine.counters().relayed - start_counters.relayed;
    println!("calls: {calls} ({} legs), {seconds} s", calls * 2);
    println!("packets sent: {sent}, relayed: {relayed}, received back: {received}");
    println!(
        "loss: {:.3}%",
        100.0 * (sent.saturating_sub(received)) as f64 / sent.max(1) as f64
    );
    println!(
        "media threads' CPU: {:.2} s over {elapsed:.1} s ({:.1}% of one core)",
        cpu,
        100.0 * cpu / elapsed
    );
    println!(
        "CPU per relayed packet (receive + rewrite + send): {:.2} µs",
        cpu * 1e6 / relayed.max(1) as f64
    );
    for leg in &legs {
        leg.close();
    }
}
