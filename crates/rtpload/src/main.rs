//! rtpload: a single-threaded, batched RTP load tool for switchboard's benchmarks.
//!
//! ```text
//! rtpload echo --bind IP:PORT [--bind ...] [--bind-range IP:LO-HI] [--secs S]
//! rtpload gen  --bind IP:PORT [--to IP:PORT ...] [--targets FILE] [--follow FILE]
//!              [--target-secs S] [--secs S] [--rx-only] [--no-stamp] [--tone HZ] [--pt N]
//!              [--mark N]
//! ```
//! `echo` sends every datagram back to its source (a phone's echo) and counts the
//! RTP payload types it saw (`pts=9:n,...`: what the far side sent). `gen` sends
//! one 20 ms PCMU tone packet every 20 ms to each target from one socket and
//! counts what comes back, by source address. `--follow` reads targets appended
//! to a file while running ("MEDIA <ip> <port>" lines of a SIPp log, or
//! `ip:port` lines); `--target-secs` stops sending to a target that long after
//! it appeared; `--rx-only` sends nothing and measures what arrives (playback).
//! Each payload's first 16 bytes carry a stamp (magic, run id, send time) so
//! packets that come back unchanged give the round trip (`rtt_*`); a path that
//! decodes (echo through a mixer, transcoding) drops it (`rtt_n=0`);
//! `--no-stamp` sends the pure tone. `--mark N` makes every N-th packet of a stream
//! silent (and unstamped) and measures the round trip in the audio (`mark_rtt_*`):
//! from sending that packet to the first quiet PCMU packet back from the target's
//! address, which survives decoding.
//! Both print one line of `key=value` figures at the end, including the tool's
//! own CPU time from getrusage. `--secs 0` runs until SIGINT/SIGTERM, which also
//! end a timed run early; `gen` then still receives for 0.5 s what is in flight.

mod mark;
mod net;
mod rtp;
mod stats;
mod targets;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddrV4, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mark::{MarkState, Marker};
use net::{RecvBatch, SendBatch};
use stats::{ms, percent, RecvStats, Source};
use targets::{parse_addr, parse_target_line, LineSplitter, Wheel};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Sources tracked by address at most; packets of further sources are counted only.
const MAX_SOURCES: usize = 100_000;
/// Receive what is still in flight for this long after the last send.
const DRAIN: Duration = Duration::from_millis(500);
/// Socket buffers asked for (the kernel caps them at rmem_max/wmem_max).
const SOCKET_BUFFER: libc::c_int = 4 << 20;

#[derive(Debug, Default)]
struct Options {
    mode: String,
    binds: Vec<SocketAddrV4>,
    to: Vec<SocketAddrV4>,
    targets_file: Option<String>,
    follow: Option<String>,
    target_secs: Option<f64>,
    secs: f64,
    rx_only: bool,
    /// Stamp the send time into each payload (round-trip latency of what comes back).
    stamp: bool,
    tone_hz: u32,
    payload_type: u8,
    /// Every N-th packet silent, for the round trip measured in the audio.
    mark_every: Option<u64>,
}

const USAGE: &str = "usage: rtpload echo --bind IP:PORT [--bind ...] [--bind-range IP:LO-HI] [--secs S]\n       rtpload gen --bind IP:PORT [--to IP:PORT ...] [--targets FILE] [--follow FILE] [--target-secs S] [--secs S] [--rx-only] [--no-stamp] [--tone HZ] [--pt N] [--mark N]";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        secs: 10.0,
        stamp: true,
        tone_hz: 400,
        ..Options::default()
    };
    let mut it = args.iter();
    o.mode = it.next().ok_or("missing mode")?.clone();
    if o.mode != "echo" && o.mode != "gen" {
        return Err(format!("unknown mode {:?}", o.mode));
    }
    while let Some(flag) = it.next() {
        if flag == "--rx-only" {
            o.rx_only = true;
            continue;
        }
        if flag == "--no-stamp" {
            o.stamp = false;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value:?} for {flag}");
        match flag.as_str() {
            "--bind" => o.binds.push(parse_addr(value).ok_or_else(bad)?),
            "--bind-range" => {
                let (ip, range) = value.split_once(':').ok_or_else(bad)?;
                let (lo, hi) = range.split_once('-').ok_or_else(bad)?;
                let lo: u16 = lo.parse().map_err(|_| bad())?;
                let hi: u16 = hi.parse().map_err(|_| bad())?;
                if lo > hi || hi - lo >= 1024 {
                    return Err(bad());
                }
                for port in lo..=hi {
                    o.binds
                        .push(parse_addr(&format!("{ip}:{port}")).ok_or_else(bad)?);
                }
            }
            "--to" => o.to.push(parse_addr(value).ok_or_else(bad)?),
            "--targets" => o.targets_file = Some(value.clone()),
            "--follow" => o.follow = Some(value.clone()),
            "--target-secs" => o.target_secs = Some(value.parse().map_err(|_| bad())?),
            "--secs" => o.secs = value.parse().map_err(|_| bad())?,
            "--tone" => o.tone_hz = value.parse().map_err(|_| bad())?,
            "--pt" => o.payload_type = value.parse().map_err(|_| bad())?,
            "--mark" => {
                let n: u64 = value.parse().map_err(|_| bad())?;
                if n < 2 {
                    return Err(bad());
                }
                o.mark_every = Some(n);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.binds.is_empty() {
        return Err("--bind is required".into());
    }
    if !(o.secs >= 0.0 && o.secs.is_finite()) {
        return Err("--secs must be >= 0".into());
    }
    Ok(o)
}

fn bind(addr: SocketAddrV4) -> Result<UdpSocket, String> {
    let sock = UdpSocket::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    sock.set_nonblocking(true)
        .map_err(|e| format!("nonblocking {addr}: {e}"))?;
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: a valid fd and a pointer to a c_int of the size given.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&sock),
                libc::SOL_SOCKET,
                opt,
                (&SOCKET_BUFFER as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    Ok(sock)
}

fn cpu_line(wall: Duration) -> String {
    let (user, sys) = net::cpu_times();
    format!(
        "cpu_user_s={user:.3} cpu_sys_s={sys:.3} cpu_pct={:.1} maxrss_kib={}",
        percent(((user + sys) * 1e6) as u64, wall.as_micros() as u64),
        net::max_rss_kib()
    )
}

fn echo(o: &Options) -> Result<(), String> {
    let socks = o
        .binds
        .iter()
        .map(|&a| bind(a))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let end = (o.secs > 0.0).then(|| start + Duration::from_secs_f64(o.secs));
    let (mut recv, mut sent, mut dropped, mut send_drops) = (0u64, 0u64, 0u64, 0u64);
    let mut sources = HashSet::new();
    let mut payload_types = [0u64; 128];
    let mut rb = RecvBatch::default();
    let mut sb = SendBatch::default();
    let mut ready = Vec::new();
    while !STOP.load(Ordering::Relaxed) && end.is_none_or(|e| Instant::now() < e) {
        net::wait_readable(&socks, Duration::from_millis(100), &mut ready)
            .map_err(|e| format!("ppoll: {e}"))?;
        for (sock, _) in socks.iter().zip(&ready).filter(|(_, &r)| r) {
            loop {
                let n = rb.recv(sock).map_err(|e| format!("recvmmsg: {e}"))?;
                for i in 0..n {
                    let Some(d) = rb.get(i) else { break };
                    recv += 1;
                    let Some(from) = d.from.filter(|_| !d.truncated) else {
                        dropped += 1;
                        continue;
                    };
                    if sources.len() < MAX_SOURCES {
                        sources.insert(from);
                    }
                    if let Ok((header, _)) = rtp::Header::parse(d.data) {
                        payload_types[usize::from(header.payload_type)] += 1;
                    }
                    sb.push(from, |buf| {
                        buf[..d.data.len()].copy_from_slice(d.data);
                        d.data.len()
                    });
                }
                let s = sb.flush(sock);
                sent += s.sent;
                send_drops += s.would_block + s.errors;
                if n < net::BATCH {
                    break;
                }
            }
        }
    }
    let wall = start.elapsed();
    let pts: Vec<String> = payload_types
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(pt, n)| format!("{pt}:{n}"))
        .collect();
    println!(
        "rtpload echo ports={} secs={:.1} recv={recv} sent={sent} sources={} dropped={dropped} send_drops={send_drops} pps_in={:.0} pts={} {}",
        socks.len(),
        wall.as_secs_f64(),
        sources.len(),
        recv as f64 / wall.as_secs_f64().max(1e-9),
        if pts.is_empty() {
            "-".to_string()
        } else {
            pts.join(",")
        },
        cpu_line(wall)
    );
    Ok(())
}

struct Target {
    addr: SocketAddrV4,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    packets: u64,
    until_us: Option<u64>,
    mark: MarkState,
}

/// Reads lines appended to a file since the last call.
struct Follower {
    path: String,
    file: Option<File>,
    offset: u64,
    lines: LineSplitter,
}

impl Follower {
    fn poll(&mut self, mut on_line: impl FnMut(&str)) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(f) = self.file.as_mut() else { return };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        // at most 1 MiB per poll
        if let Ok(n) = f.by_ref().take(1 << 20).read_to_end(&mut buf) {
            self.offset += n as u64;
            self.lines.feed(&buf, &mut on_line);
        }
    }
}

fn gen(o: &Options) -> Result<(), String> {
    let sock = bind(o.binds[0])?;
    let tone = rtp::tone_second(o.tone_hz, 8000);
    let marker = o.mark_every.and_then(|n| Marker::new(n, &tone));
    let start = Instant::now();
    let now_us = || start.elapsed().as_micros() as u64;
    // --secs 0: until SIGINT/SIGTERM
    let send_end_us = if o.secs > 0.0 {
        (o.secs * 1e6) as u64
    } else {
        u64::MAX
    };
    let target_us = o.target_secs.map(|s| (s * 1e6) as u64);

    let mut targets: Vec<Target> = Vec::new();
    // each address's latest target: an address seen again after its target expired
    // (the server reusing a port for a later call) gets a new target
    let mut known: HashMap<SocketAddrV4, usize> = HashMap::new();
    let mut wheel = Wheel::default();
    // Adds a target; true when its address had an (expired) target before.
    let add = |addr: SocketAddrV4,
               now: u64,
               targets: &mut Vec<Target>,
               known: &mut HashMap<SocketAddrV4, usize>,
               wheel: &mut Wheel|
     -> bool {
        if o.rx_only {
            return false;
        }
        let live = |t: &Target| t.until_us.is_none_or(|u| now < u);
        if known.get(&addr).is_some_and(|&i| live(&targets[i])) {
            return false;
        }
        let i = targets.len();
        let again = known.insert(addr, i).is_some();
        targets.push(Target {
            addr,
            ssrc: 0x5a5a_0000 ^ i as u32,
            seq: (i as u16).wrapping_mul(7919),
            timestamp: (i as u32).wrapping_mul(104_729),
            packets: 0,
            until_us: target_us.map(|d| now + d),
            mark: MarkState::default(),
        });
        wheel.add(i);
        again
    };
    for &a in &o.to {
        let _ = add(a, 0, &mut targets, &mut known, &mut wheel);
    }
    if let Some(path) = &o.targets_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
        for a in text.lines().filter_map(parse_target_line) {
            let _ = add(a, 0, &mut targets, &mut known, &mut wheel);
        }
    }
    let mut follower = o.follow.as_ref().map(|p| Follower {
        path: p.clone(),
        file: None,
        offset: 0,
        lines: LineSplitter::default(),
    });

    let mut sources: HashMap<SocketAddrV4, Source> = HashMap::new();
    let mut stats = RecvStats::default();
    // 0.1 ms buckets up to 1 s
    let mut round_trip = stats::Histogram::new(100, 10_000);
    let mut mark_trip = stats::Histogram::new(100, 10_000);
    let run = std::process::id();
    let (mut untracked, mut not_rtp, mut sent, mut send_drops) = (0u64, 0u64, 0u64, 0u64);
    let (mut late_ticks, mut skipped_ticks) = (0u64, 0u64);
    let mut rb = RecvBatch::default();
    let mut sb = SendBatch::default();
    let mut ready = Vec::new();
    let mut tick: u64 = 0;
    let mut next_follow_us = 0;
    let mut send_end_at = None;

    loop {
        let now = now_us();
        let sending = !STOP.load(Ordering::Relaxed) && now < send_end_us;
        if !sending && send_end_at.is_none() {
            send_end_at = Some(now);
        }
        if let Some(end) = send_end_at {
            if now >= end + DRAIN.as_micros() as u64 {
                break;
            }
        }
        if sending {
            if let Some(f) = follower.as_mut().filter(|_| now >= next_follow_us) {
                let mut new = Vec::new();
                f.poll(|line| new.extend(parse_target_line(line)));
                for a in new {
                    if add(a, now, &mut targets, &mut known, &mut wheel) {
                        if let Some(src) = sources.get_mut(&a) {
                            src.restart();
                        }
                    }
                }
                next_follow_us = now + 20_000;
            }
            let mut expired = false;
            while tick * 1000 <= now {
                let lag = now - tick * 1000;
                if lag > 200_000 {
                    // far behind: skip rather than burst
                    skipped_ticks += lag / 1000 - 1;
                    tick = now / 1000;
                }
                if lag > 2_000 && !wheel.due(tick).is_empty() {
                    late_ticks += 1;
                }
                for &i in wheel.due(tick) {
                    let t = &mut targets[i];
                    if t.until_us.is_some_and(|u| now >= u) {
                        expired = true;
                        continue;
                    }
                    if sb.is_full() {
                        let s = sb.flush(&sock);
                        sent += s.sent;
                        send_drops += s.would_block + s.errors;
                    }
                    let header = rtp::Header {
                        marker: t.packets == 0,
                        payload_type: o.payload_type,
                        seq: t.seq,
                        timestamp: t.timestamp,
                        ssrc: t.ssrc,
                    };
                    let is_mark = marker.is_some_and(|m| m.is_mark(t.packets));
                    let payload = if is_mark {
                        t.mark.on_send(now);
                        &mark::SILENCE[..]
                    } else {
                        rtp::tone_frame(&tone, t.packets)
                    };
                    sb.push(t.addr, |buf| {
                        if header.write(buf).is_none() {
                            return 0;
                        }
                        buf[rtp::HEADER_LEN..rtp::PACKET_LEN].copy_from_slice(payload);
                        // a stamp would make the marker's silence loud
                        if o.stamp && !is_mark {
                            let _ = rtp::write_stamp(&mut buf[rtp::HEADER_LEN..], run, now);
                        }
                        rtp::PACKET_LEN
                    });
                    t.packets += 1;
                    t.seq = t.seq.wrapping_add(1);
                    t.timestamp = t.timestamp.wrapping_add(rtp::SAMPLES_PER_PACKET as u32);
                }
                tick += 1;
            }
            let s = sb.flush(&sock);
            sent += s.sent;
            send_drops += s.would_block + s.errors;
            if expired {
                wheel.retain(|i| targets[i].until_us.is_none_or(|u| now < u));
            }
        }
        loop {
            let n = rb.recv(&sock).map_err(|e| format!("recvmmsg: {e}"))?;
            let at = now_us();
            for i in 0..n {
                let Some(d) = rb.get(i) else { break };
                let (Some(from), false) = (d.from, d.truncated) else {
                    not_rtp += 1;
                    continue;
                };
                let Ok((header, payload)) = rtp::Header::parse(d.data) else {
                    not_rtp += 1;
                    continue;
                };
                if let Some(sent_us) = rtp::read_stamp(&d.data[payload.clone()], run) {
                    round_trip.record(at.saturating_sub(sent_us));
                }
                // only PCMU can be judged quiet or loud
                if let (Some(m), Some(&i), 0) = (marker, known.get(&from), header.payload_type) {
                    let quiet = m.is_quiet(&d.data[payload]);
                    if let Some(trip) = targets[i].mark.on_receive(quiet, at, m.window_us()) {
                        mark_trip.record(trip);
                    }
                }
                if !sources.contains_key(&from) && sources.len() >= MAX_SOURCES {
                    untracked += 1;
                    continue;
                }
                let src = sources.entry(from).or_default();
                stats.on_packet(src, &header, at);
            }
            if n < net::BATCH {
                break;
            }
        }
        let now = now_us();
        // sleep until the next tick with something to send, or the next look at the followed file
        let mut wake_at = now + 10_000;
        if sending {
            if let Some(t) = wheel.next_busy(tick) {
                wake_at = wake_at.min(t * 1000);
            }
            if follower.is_some() {
                wake_at = wake_at.min(next_follow_us);
            }
        }
        let wake = wake_at.saturating_sub(now);
        net::wait_readable(
            std::slice::from_ref(&sock),
            Duration::from_micros(wake.min(10_000)),
            &mut ready,
        )
        .map_err(|e| format!("ppoll: {e}"))?;
    }

    let wall = start.elapsed();
    let send_secs = send_end_at.unwrap_or(now_us()) as f64 / 1e6;
    let recv = stats.packets;
    let due: u64 = sources.values().map(Source::due_20ms).sum();
    let expected: u64 = sources.values().map(Source::expected).sum();
    let strangers = sources.keys().filter(|a| !known.contains_key(a)).count();
    let loss = if o.rx_only {
        percent(due.saturating_sub(recv), due)
    } else {
        percent(sent.saturating_sub(recv), sent)
    };
    println!(
        "rtpload gen targets={} sources={} strangers={strangers} secs={send_secs:.1} sent={sent} recv={recv} loss_pct={loss:.3} due={due} seq_expected={expected} pps_out={:.0} pps_in={:.0} ia_p50_ms={} ia_p99_ms={} jitter_p50_ms={} jitter_p99_ms={} rtt_n={} rtt_p50_ms={} rtt_p99_ms={} mark_rtt_n={} mark_rtt_p50_ms={} mark_rtt_p99_ms={} late_ticks={late_ticks} skipped_ticks={skipped_ticks} send_drops={send_drops} not_rtp={not_rtp} untracked={untracked} {}",
        targets.len(),
        sources.len(),
        sent as f64 / send_secs.max(1e-9),
        recv as f64 / send_secs.max(1e-9),
        ms(stats.interarrival.quantile(0.5)),
        ms(stats.interarrival.quantile(0.99)),
        ms(stats.transit_diff.quantile(0.5)),
        ms(stats.transit_diff.quantile(0.99)),
        round_trip.count(),
        ms(round_trip.quantile(0.5)),
        ms(round_trip.quantile(0.99)),
        mark_trip.count(),
        ms(mark_trip.quantile(0.5)),
        ms(mark_trip.quantile(0.99)),
        cpu_line(wall)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rtpload: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    install_signals();
    let r = if o.mode == "echo" { echo(&o) } else { gen(&o) };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtpload: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_gen_and_echo() {
        let o = parse_args(&args(
            "gen --bind 127.0.0.1:4000 --to 127.0.0.1:5000 --secs 5 --rx-only --target-secs 1.5",
        ))
        .unwrap();
        assert_eq!(o.binds.len(), 1);
        assert_eq!(o.to.len(), 1);
        assert!(o.rx_only);
        assert_eq!(o.target_secs, Some(1.5));
        assert_eq!(o.mark_every, None);
        let o = parse_args(&args("gen --bind 127.0.0.1:4000 --mark 50")).unwrap();
        assert_eq!(o.mark_every, Some(50));
        let o = parse_args(&args("echo --bind-range 127.0.0.1:4000-4003")).unwrap();
        assert_eq!(o.binds.len(), 4);
        assert_eq!(o.secs, 10.0);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse_args(&args("")).is_err());
        assert!(parse_args(&args("fly --bind 127.0.0.1:1")).is_err());
        assert!(parse_args(&args("gen")).is_err());
        assert!(parse_args(&args("gen --bind")).is_err());
        assert!(parse_args(&args("gen --bind nowhere")).is_err());
        assert!(parse_args(&args("echo --bind-range 127.0.0.1:5-4")).is_err());
        assert!(parse_args(&args("gen --bind 127.0.0.1:1 --secs -1")).is_err());
        assert!(parse_args(&args("gen --bind 127.0.0.1:1 --frobnicate 1")).is_err());
        assert!(parse_args(&args("gen --bind 127.0.0.1:1 --mark 1")).is_err());
    }
}
