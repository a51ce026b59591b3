//! The test's side of the audio: an RTP endpoint that sends a scripted
//! stream in real time and records what arrives, plus analysis helpers.

use std::collections::HashSet;
use std::fmt;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard_media::codec::{Codec, Decoder, Encoder};
use switchboard_media::dtmf::rfc4733;
use switchboard_media::goertzel;
use switchboard_media::rtp::{self, RtpHeader};
use switchboard_media::tone::ToneGenerator;
use switchboard_media::wav::Pcm;

/// Payload type of telephone-event in every SDP of the tests.
pub const DTMF_PT: u8 = 101;
/// Packetization time of everything the tests send.
pub const PTIME_MS: u32 = 20;
/// [`PTIME_MS`] as a duration.
pub const PTIME: Duration = Duration::from_millis(PTIME_MS as u64);
/// Clock rate of telephone-event.
const DTMF_CLOCK_RATE: u32 = 8000;
/// Peak amplitude of the test tones (about -12 dBFS).
pub const AMPLITUDE: i16 = 8000;
/// Peak amplitude of the noise of [`Segment::NoisyTone`] (about -48 dBFS).
const NOISE_AMPLITUDE: i32 = 128;
/// The frequencies a received frame is classified into: every tone the tests
/// send or play is one of them.
pub const CANDIDATES: [f32; 6] = [400.0, 600.0, 800.0, 1000.0, 1400.0, 2000.0];

/// A part of what an [`RtpPeer`] sends, one packet every 20 ms.
#[derive(Debug, Clone, Copy)]
pub enum Segment {
    /// A sine at this frequency.
    Tone(f32, Duration),
    /// A sine with a little white noise added: no two packets carry the
    /// same payload, so what arrives can be matched byte for byte against
    /// what was sent (a relay keeps payloads, a re-encoding does not),
    /// while the tone still dominates every frame.
    NoisyTone(f32, Duration),
    /// Encoded silence.
    Silence(Duration),
    /// An RFC 4733 digit lasting this long (followed by its end packets).
    Digit(char, Duration),
    /// A DTMF digit as dual-tone audio (in band), lasting this long.
    InbandDigit(char, Duration),
}

/// The test's RTP socket (127.0.0.1, kernel-chosen port). Its port goes into
/// the scenario's SDP before the call; once the server's media address is
/// known, [`RtpPeer::start`] begins sending and receiving.
pub struct RtpPeer {
    socket: UdpSocket,
}

impl RtpPeer {
    pub fn bind() -> RtpPeer {
        RtpPeer {
            socket: UdpSocket::bind("127.0.0.1:0").expect("bind RTP socket"),
        }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("RTP local address").port()
    }

    /// Starts sending `script` to `remote` encoded with `codec`, in real
    /// time, and recording every packet that arrives, until
    /// [`MediaSession::finish`].
    pub fn start(self, remote: SocketAddr, codec: Codec, script: Vec<Segment>) -> MediaSession {
        let stop = Arc::new(AtomicBool::new(false));
        let send_socket = self.socket.try_clone().expect("clone RTP socket");
        let sender = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut sender = Sender::new(send_socket, remote, codec, stop);
                sender.run(&script);
                sender.sent
            })
        };
        let receiver = {
            let stop = stop.clone();
            std::thread::spawn(move || receive(self.socket, &stop))
        };
        MediaSession {
            stop,
            sender,
            receiver,
        }
    }
}

/// The threads of a started [`RtpPeer`].
pub struct MediaSession {
    stop: Arc<AtomicBool>,
    sender: JoinHandle<Sent>,
    receiver: JoinHandle<Received>,
}

impl MediaSession {
    /// Stops sending (wherever the script is) and receiving, and returns
    /// what was received and what was sent.
    pub fn finish(self) -> (Received, Sent) {
        self.stop.store(true, Ordering::Relaxed);
        let sent = self.sender.join().expect("RTP sender thread panicked");
        let received = self.receiver.join().expect("RTP receiver thread panicked");
        (received, sent)
    }
}

/// A packet an [`RtpPeer`] sent.
#[derive(Debug, Clone)]
pub struct SentPacket {
    pub payload_type: u8,
    pub payload: Vec<u8>,
}

/// Everything an [`RtpPeer`] sent, in order.
#[derive(Debug, Default)]
pub struct Sent {
    pub packets: Vec<SentPacket>,
}

impl Sent {
    /// The distinct payloads of the audio packets (all but telephone-event).
    pub fn audio_payloads(&self) -> HashSet<&[u8]> {
        self.packets
            .iter()
            .filter(|p| p.payload_type != DTMF_PT)
            .map(|p| p.payload.as_slice())
            .collect()
    }
}

/// Sends RTP packets on a 20 ms clock.
struct Sender {
    socket: UdpSocket,
    remote: SocketAddr,
    codec: Codec,
    stop: Arc<AtomicBool>,
    start: Instant,
    ticks: u32,
    ssrc: u32,
    sequence: u16,
    /// Timestamp of the next packet; advances 20 ms per packet, whatever
    /// the packet carries.
    timestamp: u32,
    packet: Vec<u8>,
    /// State of the noise generator (xorshift64, never 0).
    noise: u64,
    sent: Sent,
}

impl Sender {
    fn new(socket: UdpSocket, remote: SocketAddr, codec: Codec, stop: Arc<AtomicBool>) -> Sender {
        let random = super::random_u64();
        Sender {
            socket,
            remote,
            codec,
            stop,
            start: Instant::now(),
            ticks: 0,
            ssrc: random as u32,
            sequence: (random >> 32) as u16,
            timestamp: (random >> 16) as u32,
            packet: Vec::new(),
            noise: random | 1,
            sent: Sent::default(),
        }
    }

    fn run(&mut self, script: &[Segment]) {
        let mut encoder = Encoder::new(self.codec);
        let mut pcm = vec![0i16; self.codec.samples_per_frame(PTIME_MS)];
        let mut payload = Vec::new();
        for segment in script {
            match *segment {
                Segment::Tone(freq, duration) | Segment::NoisyTone(freq, duration) => {
                    let noisy = matches!(segment, Segment::NoisyTone(..));
                    let mut tone = ToneGenerator::new(&[freq], AMPLITUDE, self.codec.sample_rate());
                    for _ in 0..frames(duration) {
                        tone.fill(&mut pcm);
                        if noisy {
                            self.add_noise(&mut pcm);
                        }
                        payload.clear();
                        encoder.encode(&pcm, &mut payload);
                        if !self.send(self.codec.payload_type(), None, &payload) {
                            return;
                        }
                    }
                }
                Segment::Silence(duration) => {
                    pcm.fill(0);
                    for _ in 0..frames(duration) {
                        payload.clear();
                        encoder.encode(&pcm, &mut payload);
                        if !self.send(self.codec.payload_type(), None, &payload) {
                            return;
                        }
                    }
                }
                Segment::InbandDigit(digit, duration) => {
                    let millis = u32::try_from(duration.as_millis()).expect("digit duration");
                    let rate = self.codec.sample_rate();
                    let samples =
                        switchboard_media::dtmf::inband::generate(digit, millis, rate, AMPLITUDE)
                            .unwrap_or_else(|| panic!("{digit:?} is not a DTMF digit"));
                    for chunk in samples.chunks(pcm.len()) {
                        pcm.fill(0);
                        pcm[..chunk.len()].copy_from_slice(chunk);
                        payload.clear();
                        encoder.encode(&pcm, &mut payload);
                        if !self.send(self.codec.payload_type(), None, &payload) {
                            return;
                        }
                    }
                }
                Segment::Digit(digit, duration) => {
                    let millis = u32::try_from(duration.as_millis()).expect("digit duration");
                    let packets = rfc4733::digit_packets(digit, millis, DTMF_CLOCK_RATE)
                        .unwrap_or_else(|| panic!("{digit:?} is not a DTMF digit"));
                    let event_timestamp = self.timestamp;
                    for p in packets {
                        let event = Some((p.marker, event_timestamp));
                        if !self.send(DTMF_PT, event, &p.payload) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Adds uniform noise of at most [`NOISE_AMPLITUDE`] to every sample.
    fn add_noise(&mut self, pcm: &mut [i16]) {
        for sample in pcm {
            self.noise ^= self.noise << 13;
            self.noise ^= self.noise >> 7;
            self.noise ^= self.noise << 17;
            let span = (2 * NOISE_AMPLITUDE + 1) as u64;
            let noise = (self.noise % span) as i32 - NOISE_AMPLITUDE;
            *sample = (i32::from(*sample) + noise).clamp(-32768, 32767) as i16;
        }
    }

    /// Waits for the next 20 ms tick and sends one packet; `event` gives
    /// the marker and timestamp of a telephone-event packet. False once
    /// the session is stopped.
    fn send(&mut self, payload_type: u8, event: Option<(bool, u32)>, payload: &[u8]) -> bool {
        let due = self.start + Duration::from_millis(u64::from(self.ticks * PTIME_MS));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        let (marker, timestamp) = event.unwrap_or((self.ticks == 0, self.timestamp));
        let header = RtpHeader {
            marker,
            payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        self.packet.clear();
        rtp::write(&header, payload, &mut self.packet);
        // The server's port may already be closed at the end of a call.
        let _ = self.socket.send_to(&self.packet, self.remote);
        self.sent.packets.push(SentPacket {
            payload_type,
            payload: payload.to_vec(),
        });
        self.ticks += 1;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self
            .timestamp
            .wrapping_add(self.codec.timestamp_increment(PTIME_MS));
        true
    }
}

/// Number of 20 ms packets in `duration`.
fn frames(duration: Duration) -> u128 {
    duration.as_millis() / u128::from(PTIME_MS)
}

fn receive(socket: UdpSocket, stop: &AtomicBool) -> Received {
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("set RTP read timeout");
    let mut received = Received::default();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                let at = Instant::now();
                match rtp::parse(&buf[..n]) {
                    Ok(packet) => received.packets.push(Arrival {
                        at,
                        header: packet.header,
                        payload: packet.payload.to_vec(),
                    }),
                    Err(_) => received.not_rtp += 1,
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // e.g. ECONNREFUSED from an ICMP error for an earlier send.
            Err(_) => {}
        }
    }
    received
}

/// A received RTP packet.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub header: RtpHeader,
    pub payload: Vec<u8>,
}

/// A decoded audio packet.
pub struct Frame {
    pub at: Instant,
    pub sample_rate: u32,
    pub pcm: Vec<i16>,
}

/// Everything an [`RtpPeer`] received.
#[derive(Default)]
pub struct Received {
    pub packets: Vec<Arrival>,
    /// Datagrams that did not parse as RTP.
    pub not_rtp: usize,
}

impl Received {
    /// The audio packets (all but telephone-event).
    pub fn audio(&self) -> impl Iterator<Item = &Arrival> {
        self.packets
            .iter()
            .filter(|p| p.header.payload_type != DTMF_PT)
    }

    /// What arrived within `range` (e.g. `..answered`, `held..resumed`),
    /// to analyse the phases of a call separately.
    pub fn slice(&self, range: impl RangeBounds<Instant>) -> Received {
        Received {
            packets: self
                .packets
                .iter()
                .filter(|p| range.contains(&p.at))
                .cloned()
                .collect(),
            not_rtp: 0,
        }
    }

    /// Number of audio packets.
    pub fn audio_count(&self) -> usize {
        self.audio().count()
    }

    /// Time between the first and the last audio packet.
    pub fn audio_span(&self) -> Duration {
        let mut audio = self.audio();
        match (audio.next(), audio.last()) {
            (Some(first), Some(last)) => last.at - first.at,
            _ => Duration::ZERO,
        }
    }

    /// Payload types of the audio packets, without repetitions.
    pub fn audio_payload_types(&self) -> Vec<u8> {
        let mut types: Vec<u8> = self.audio().map(|p| p.header.payload_type).collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// The audio packets decoded (packets of unknown payload types skipped).
    pub fn frames(&self) -> Vec<Frame> {
        let mut decoders: Vec<(u8, Decoder)> = Vec::new();
        let mut frames = Vec::new();
        for p in self.audio() {
            let pt = p.header.payload_type;
            let Some(codec) = Codec::from_payload_type(pt) else {
                continue;
            };
            let decoder = match decoders.iter().position(|(t, _)| *t == pt) {
                Some(i) => &mut decoders[i].1,
                None => {
                    decoders.push((pt, Decoder::new(codec)));
                    &mut decoders.last_mut().expect("just pushed").1
                }
            };
            let mut pcm = Vec::new();
            decoder.decode(&p.payload, &mut pcm);
            frames.push(Frame {
                at: p.at,
                sample_rate: codec.sample_rate(),
                pcm,
            });
        }
        frames
    }

    /// The RFC 4733 digits received, in order.
    pub fn digits(&self) -> String {
        let mut receiver = rfc4733::Receiver::new(DTMF_CLOCK_RATE);
        self.packets
            .iter()
            .filter(|p| p.header.payload_type == DTMF_PT)
            .filter_map(|p| receiver.on_packet(p.header.timestamp, &p.payload))
            .map(|d| d.digit)
            .collect()
    }

    /// Classifies every audio packet received more than `skip` after the
    /// first one by its dominant frequency among [`CANDIDATES`].
    pub fn tone_report(&self, skip: Duration) -> ToneReport {
        let mut report = ToneReport {
            packets: self.audio_count(),
            ..ToneReport::default()
        };
        let Some(first) = self.audio().next().map(|p| p.at) else {
            return report;
        };
        for frame in self.frames().iter().filter(|f| f.at >= first + skip) {
            report.classify(&frame.pcm, frame.sample_rate);
        }
        report
    }

    /// When the first audio packet whose frame `freq` dominates (among
    /// [`CANDIDATES`]) arrived.
    pub fn first_frame_of(&self, freq: f32) -> Option<Instant> {
        self.frames()
            .iter()
            .find(|f| {
                goertzel::dominant_frequency(&f.pcm, f.sample_rate, &CANDIDATES) == Some(freq)
            })
            .map(|f| f.at)
    }

    /// How many of the audio packets received more than `skip` after the
    /// first one carry a payload byte-identical to one of those `sent`
    /// sent: what a relay delivers, which a decoding path would not.
    pub fn identical_payloads(&self, sent: &Sent, skip: Duration) -> IdenticalPayloads {
        let sent = sent.audio_payloads();
        let Some(first) = self.audio().next().map(|p| p.at) else {
            return IdenticalPayloads::default();
        };
        let compared: Vec<&Arrival> = self.audio().filter(|p| p.at >= first + skip).collect();
        IdenticalPayloads {
            compared: compared.len(),
            identical: compared
                .iter()
                .filter(|p| sent.contains(p.payload.as_slice()))
                .count(),
            distinct_sent: sent.len(),
        }
    }
}

/// See [`Received::identical_payloads`].
#[derive(Debug, Default, Clone, Copy)]
pub struct IdenticalPayloads {
    /// Audio packets received (after the skipped start).
    pub compared: usize,
    /// Those whose payload is byte-identical to one sent.
    pub identical: usize,
    /// Distinct audio payloads sent.
    pub distinct_sent: usize,
}

impl IdenticalPayloads {
    /// Share of the compared packets that were identical.
    pub fn fraction(&self) -> f64 {
        if self.compared == 0 {
            0.0
        } else {
            self.identical as f64 / self.compared as f64
        }
    }
}

impl fmt::Display for IdenticalPayloads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} received payloads ({:.0}%) identical to one of the {} distinct payloads sent",
            self.identical,
            self.compared,
            self.fraction() * 100.0,
            self.distinct_sent
        )
    }
}

/// `pcm` (e.g. a recording) cut into [`PTIME`] frames, from `skip` on (a
/// last partial frame is left out).
pub fn pcm_frames(pcm: &Pcm, skip: Duration) -> impl Iterator<Item = &[i16]> {
    let len = (pcm.sample_rate * PTIME_MS / 1000).max(1) as usize;
    let skipped = (skip.as_millis() / PTIME.as_millis()) as usize;
    pcm.samples.chunks_exact(len).skip(skipped)
}

/// Mean Goertzel power of `freq` over `frames`, each with its sample rate
/// (0 without frames).
pub fn mean_power<'a>(frames: impl IntoIterator<Item = (&'a [i16], u32)>, freq: f32) -> f64 {
    let (total, count) = frames
        .into_iter()
        .fold((0.0, 0usize), |(total, count), (pcm, rate)| {
            (total + goertzel::power(pcm, freq, rate), count + 1)
        });
    total / count.max(1) as f64
}

/// Which frequency dominated the received frames.
#[derive(Debug, Default)]
pub struct ToneReport {
    /// All audio packets received (all frames, of a recording).
    pub packets: usize,
    /// Decoded frames analysed (after the skipped start).
    pub frames: usize,
    /// Analysed frames too quiet to classify.
    pub silent: usize,
    /// (frequency, frames where it dominated).
    pub counts: Vec<(f32, usize)>,
}

impl ToneReport {
    /// Classifies the 20 ms frames of `pcm` (e.g. a recording) after the
    /// first `skip` of it.
    pub fn of_pcm(pcm: &Pcm, skip: Duration) -> ToneReport {
        let mut report = ToneReport {
            packets: pcm_frames(pcm, Duration::ZERO).count(),
            ..ToneReport::default()
        };
        for frame in pcm_frames(pcm, skip) {
            report.classify(frame, pcm.sample_rate);
        }
        report
    }

    /// Counts one analysed frame under its dominant frequency among
    /// [`CANDIDATES`], or as silent.
    fn classify(&mut self, pcm: &[i16], sample_rate: u32) {
        self.frames += 1;
        match goertzel::dominant_frequency(pcm, sample_rate, &CANDIDATES) {
            Some(f) => match self.counts.iter_mut().find(|(c, _)| *c == f) {
                Some((_, n)) => *n += 1,
                None => self.counts.push((f, 1)),
            },
            None => self.silent += 1,
        }
    }

    /// Number of analysed frames where `freq` dominated.
    pub fn count(&self, freq: f32) -> usize {
        self.counts
            .iter()
            .find(|(f, _)| *f == freq)
            .map_or(0, |(_, n)| *n)
    }

    /// Share of the analysed frames where `freq` dominated.
    pub fn fraction(&self, freq: f32) -> f64 {
        if self.frames == 0 {
            0.0
        } else {
            self.count(freq) as f64 / self.frames as f64
        }
    }
}

impl fmt::Display for ToneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} packets, {} frames analysed, {} silent, dominant:",
            self.packets, self.frames, self.silent
        )?;
        for (freq, n) in &self.counts {
            write!(f, " {freq} Hz x{n}")?;
        }
        Ok(())
    }
}

/// Start of a received stream left out of the tone analysis (jitter,
/// bridging set-up).
pub const SETTLE: Duration = Duration::from_millis(200);

/// Asserts that `expected` dominates at least 80% of the frames `who`
/// received after [`SETTLE`] (and at least `min_frames` frames were
/// analysed), and that `own` (what `who` itself sent, if anything) is never
/// what it mostly hears.
pub fn assert_hears(
    received: &Received,
    who: &str,
    expected: f32,
    own: Option<f32>,
    min_frames: usize,
) {
    let report = received.tone_report(SETTLE);
    eprintln!("{who}: {report}");
    assert!(
        report.frames >= min_frames,
        "{who}: expected at least {min_frames} frames of {expected} Hz; {report}"
    );
    assert!(
        report.fraction(expected) >= 0.8,
        "{who}: {expected} Hz dominates only {:.0}% of the frames; {report}",
        report.fraction(expected) * 100.0
    );
    if let Some(own) = own {
        assert!(
            report.fraction(own) < 0.5,
            "{who} mostly hears its own {own} Hz; {report}"
        );
    }
}

/// Asserts that `who` heard no tone in `received`: no audio at all, or frames
/// too quiet to classify (at most 2 frames with a tone, for the edges).
pub fn assert_no_tone(received: &Received, who: &str) {
    let report = received.tone_report(Duration::ZERO);
    eprintln!("{who}: {report}");
    let toned = report.frames - report.silent;
    assert!(
        toned <= 2,
        "{who} should hear no tone, yet {toned} frames carry one; {report}"
    );
}
