//! Playback benchmark: N legs all playing one long WAV file (an announcement, music),
//! each to its own phone socket. Reports the memory each playback adds to the process
//! (the file is decoded once and shared), the media threads' CPU per playback, and the
//! packets that arrived against those due.
//!
//! `cargo bench -p switchboard-media --bench playback` (env: PLAYBACKS, PLAYBACK_SECONDS,
//! PLAYBACK_FILE_SECONDS).

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use switchboard_media::engine::{EngineConfig, MediaEngine, Source};
use switchboard_media::rtp;

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
    let count = common::env_or("PLAYBACKS", 1000) as usize;
    let seconds = common::env_or("PLAYBACK_SECONDS", 10);
    let file_seconds = common::env_or("PLAYBACK_FILE_SECONDS", 258);
    let file = write_file(file_seconds);
    let ip = IpAddr::from([127, 0, 0, 1]);
    let engine = MediaEngine::start(EngineConfig {
        ip,
        ports: (30_000, 40_000),
        threads: 0,
        net: None,
    })
    .expect("media engine");
    let (phones, legs): (Vec<_>, Vec<_>) = common::phones_and_legs(&engine, ip, count)
        .into_iter()
        .unzip();
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = rss_kib();
    let playbacks: Vec<_> = legs
        .iter()
        .map(|leg| leg.play(Source::File(file.clone())))
        .collect();
    // Every playback has its file by now (decoded once, then shared).
    std::thread::sleep(Duration::from_secs(2));
    let rss_playing = rss_kib();
    let cpu_start = common::thread_cpu("media").unwrap_or(0.0);
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
    let cpu = common::thread_cpu("media").unwrap_or(0.0) - cpu_start;
    let due = (elapsed * 50.0) as u64 * count as u64;
    println!(
        "{count} playbacks of one {} s file, {seconds} s",
        file_seconds
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
