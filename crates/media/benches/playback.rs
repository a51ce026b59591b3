//! Playback benchmark: N legs all playing one long WAV file (an announcement, music),
//! each to its own phone socket. Reports the memory each playback adds to the process
//! (the file is decoded once and shared), the media threads' CPU per playback, and the
//! packets that arrived against those due.
//!
//! `cargo bench -p switchboard-media --bench playback` (env: PLAYBACKS, PLAYBACK_SECONDS,
//! PLAYBACK_FILE_SECONDS).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchboard_media::codec::Codec;
use switchboard_media::engine::{EngineConfig, MediaEngine, Remote, Source};
use switchboard_media::rtp;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmRSS` of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) of this process's `media` threads.
fn media_cpu() -> f64 {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir = task.path();
        if std::fs::read_to_string(dir.join("comm"))
            .unwrap_or_default()
            .trim()
            != "media"
        {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        let Some((_, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        total += (tick(11) + tick(12)) / 100.0;
    }
    total
}

/// A mono 16-bit 8 kHz WAV of a tone, `seconds` long.
fn write_file(seconds: u64) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("switchboard-bench-playback-{seconds}.wav"));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create wav");
    for i in 0..seconds * 8000 {
        let t = i as f32 / 8000.0;
        w.write_sample(((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
            .expect("write");
    }
    w.finalize().expect("finalize");
    path
}

fn main() {
    let count = env_or("PLAYBACKS", 1000) as usize;
    let seconds = env_or("PLAYBACK_SECONDS", 10);
    let file = write_file(env_or("PLAYBACK_FILE_SECONDS", 258));
    let ip = IpAddr::from([127, 0, 0, 1]);
    let engine = MediaEngine::start(EngineConfig {
        ip,
        ports: (30_000, 40_000),
        threads: 0,
        net: None,
    })
    .expect("media engine");
    let mut phones = Vec::new();
    let mut legs = Vec::new();
    for i in 0..count {
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
        phones.push(phone);
        legs.push(leg);
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = rss_kib();
    let playbacks: Vec<_> = legs
        .iter()
        .map(|leg| leg.play(Source::File(file.clone())))
        .collect();
    // Every playback has its file by now (decoded once, then shared).
    std::thread::sleep(Duration::from_secs(2));
    let rss_playing = rss_kib();
    let cpu_start = media_cpu();
    let started = Instant::now();
    let mut buf = [0u8; 2048];
    let mut received = 0u64;
    for phone in &phones {
        while phone.recv_from(&mut buf).is_ok() {}
    }
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(20));
        for phone in &phones {
            while let Ok((len, _)) = phone.recv_from(&mut buf) {
                if buf.get(..len).is_some_and(|p| !rtp::is_rtcp(p)) {
                    received += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = media_cpu() - cpu_start;
    let due = (elapsed * 50.0) as u64 * count as u64;
    println!(
        "{count} playbacks of one {} s file, {seconds} s",
        env_or("PLAYBACK_FILE_SECONDS", 258)
    );
    println!(
        "RSS: {rss_before} KiB before, {rss_playing} KiB playing: {:.1} KiB per playback (file shared)",
        (rss_playing.saturating_sub(rss_before)) as f64 / count as f64
    );
    println!(
        "media threads' CPU: {:.1}% of one core, {:.3}% per playback",
        100.0 * cpu / elapsed,
        100.0 * cpu / elapsed / count as f64
    );
    println!(
        "packets received {received} of about {due} due ({:.2}% short)",
        100.0 * due.saturating_sub(received) as f64 / due.max(1) as f64
    );
    for playback in &playbacks {
        playback.stop();
    }
    for leg in &legs {
        leg.close();
    }
}
