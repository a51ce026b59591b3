//! One RTP session: a socket pair, the negotiated codec, where its audio goes (nowhere,
//! back to itself, or to a peer leg) and its statistics.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::bridge::BridgeShared;
use super::net::LegSocket;
use super::playback::{self, Playback, Source};
use super::EngineInner;
use crate::codec::{Codec, Decoder, Encoder};
use crate::dtmf::{inband, rfc4733};
use crate::jitter_buffer::{FrameKind, JitterBuffer};
use crate::resample::Resampler;
use crate::rtcp::{self, RtcpPacket, SenderInfo};
use crate::rtp::{self, OutStream, RtpHeader};
use crate::stats::{RtpStat, RxStats, Summary};
use crate::MediaError;

const RTCP_INTERVAL: Duration = Duration::from_secs(5);
pub(super) const PTIME_MS: u32 = 20;

/// What a leg reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// An RFC 4733 digit, reported once when it ends.
    Dtmf(rfc4733::Digit),
}

/// The negotiated far end of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub addr: SocketAddr,
    pub codec: Codec,
    /// The payload type the peer uses for `codec` (may differ from the static one).
    pub payload_type: u8,
    pub dtmf_payload_type: Option<u8>,
    /// False while the peer has put us on hold (`sendonly`/`inactive` from it).
    pub send: bool,
}

enum Route {
    Nowhere,
    Echo,
    Peer(Weak<Shared>),
    /// A member of a mixing bridge: audio is decoded into the jitter buffer.
    Mixer(Weak<BridgeShared>),
}

/// Which way of a leg a tap listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapDirection {
    /// What the far end sends us.
    In,
    /// What we send the far end (generated or mixed audio).
    Out,
}

/// Decoding state for audio leaving this leg towards a peer with another codec.
struct Transcode {
    decoder: Decoder,
    resampler: Resampler,
    to: Codec,
}

pub(super) struct State {
    pub(super) remote: Option<Remote>,
    /// Symmetric RTP: the first packet after a remote is set tells where the peer really
    /// is (NAT); later packets from elsewhere are ignored.
    latched: bool,
    route: Route,
    out: OutStream,
    encoder: Option<Encoder>,
    transcode: Option<Transcode>,
    /// A playback owns the outgoing stream: relayed audio into this leg is dropped.
    playing: bool,
    /// Mixing-bridge membership: incoming audio decoded and de-jittered here.
    jitter: Option<JitterBuffer>,
    mix_decoder: Option<Decoder>,
    taps_in: Vec<mpsc::Sender<Vec<i16>>>,
    taps_out: Vec<mpsc::Sender<Vec<i16>>>,
    /// In-band DTMF detection on the decoded incoming audio.
    inband: Option<(Decoder, inband::Detector)>,
    inband_forced: bool,
    /// Audio added to everything this leg sends (a snoop's whisper).
    whisper: Option<mpsc::Receiver<Vec<i16>>>,
    /// Sequence and timestamp given to frames fed into a virtual leg.
    fed: (u16, u32),
    /// Muted directions: what the far end says is dropped (`in`); nothing is sent (`out`).
    mute_in: bool,
    mute_out: bool,
    rx: RxStats,
    dtmf: rfc4733::Receiver,
    remote_jitter: Summary,
    remote_loss: Summary,
    local_jitter: Summary,
    local_loss: Summary,
    rtt: Summary,
    remote_reported_lost: u32,
    remote_reported_jitter: f64,
}

impl State {
    pub(super) fn out_next_local(&mut self, payload_type: u8, ts_increment: u32) -> RtpHeader {
        let header = self.out.next_local(payload_type, ts_increment);
        self.out
            .count_sent(4, header.timestamp, std::time::Instant::now());
        header
    }
}

pub(super) struct Shared {
    pub(super) name: String,
    pub(super) engine: Arc<EngineInner>,
    /// RTP and RTCP sockets; `None` for a virtual leg (snoop, AudioSocket), whose
    /// audio comes in through [`Leg::feed`] and goes out through its `Out` taps.
    sockets: Option<(LegSocket, LegSocket)>,
    port: u16,
    state: Mutex<State>,
    events: mpsc::UnboundedSender<MediaEvent>,
    /// tokio's clock, so a test on paused time sees consistent arrival times.
    started: tokio::time::Instant,
}

impl Shared {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug elsewhere; keep the media flowing.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Callers pass `None` while the outgoing direction is muted.
    fn send_to_remote(&self, remote: Option<Remote>, packet: &[u8]) {
        if let Some(remote) = remote.filter(|r| r.send) {
            if let Some((socket, _)) = &self.sockets {
                let _ = socket.try_send_to(packet, remote.addr);
            }
        }
    }

    /// Sends one locally generated frame of PCM at the leg codec's rate.
    pub(super) fn send_pcm(&self, pcm: &[i16]) {
        let mut state = self.state();
        let whispered = state.whisper.as_mut().and_then(|w| w.try_recv().ok());
        let mixed;
        let pcm = match whispered {
            Some(whisper) => {
                mixed = pcm
                    .iter()
                    .zip(whisper.iter().chain(std::iter::repeat(&0)))
                    .map(|(a, b)| a.saturating_add(*b))
                    .collect::<Vec<i16>>();
                &mixed[..]
            }
            None => pcm,
        };
        if self.sockets.is_none() {
            send_to_taps(&mut state.taps_out, pcm);
            return;
        }
        let Some(remote) = state.remote else { return };
        let mut payload = Vec::with_capacity(pcm.len());
        state
            .encoder
            .get_or_insert_with(|| Encoder::new(remote.codec))
            .encode(pcm, &mut payload);
        let header = state.out.next_local(
            remote.payload_type,
            remote.codec.timestamp_increment(PTIME_MS),
        );
        state
            .out
            .count_sent(payload.len(), header.timestamp, std::time::Instant::now());
        send_to_taps(&mut state.taps_out, pcm);
        let muted = state.mute_out;
        drop(state);
        let mut packet = Vec::with_capacity(12 + payload.len());
        rtp::write(&header, &payload, &mut packet);
        self.send_to_remote(Some(remote).filter(|_| !muted), &packet);
        self.engine
            .counters
            .generated
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Joins a mixing bridge: a fresh jitter buffer and decoder for the leg's codec.
    pub(super) fn enter_mixer(&self, bridge: Weak<BridgeShared>) {
        let mut state = self.state();
        let codec = state.remote.map_or(Codec::Pcmu, |r| r.codec);
        state.route = Route::Mixer(bridge);
        state.jitter = Some(JitterBuffer::new(
            codec.rtp_clock_rate(),
            codec.timestamp_increment(PTIME_MS),
            codec.samples_per_frame(PTIME_MS),
        ));
        state.mix_decoder = Some(Decoder::new(codec));
        state.transcode = None;
    }

    /// Whether the leg's audio currently goes to `bridge`.
    pub(super) fn in_mixer(&self, bridge: &BridgeShared) -> bool {
        matches!(&self.state().route, Route::Mixer(b) if std::ptr::eq(b.as_ptr(), bridge))
    }

    /// Leaves `bridge` (if the leg is still in it).
    pub(super) fn leave_mixer(&self, bridge: &Arc<BridgeShared>) {
        let mut state = self.state();
        let ours = matches!(&state.route, Route::Mixer(b) if std::ptr::eq(b.as_ptr(), Arc::as_ptr(bridge)));
        if ours {
            state.route = Route::Nowhere;
            state.jitter = None;
            state.mix_decoder = None;
        }
    }

    /// The next de-jittered frame of what the far end said; `None` while it is silent.
    pub(super) fn pop_jitter(&self) -> Option<Vec<i16>> {
        let now = self.now_ms();
        let mut state = self.state();
        let frame = state.jitter.as_mut()?.pop(now);
        // Taps get every tick, silence included, so a recording keeps real time.
        send_to_taps(&mut state.taps_in, &frame.samples);
        (frame.kind != FrameKind::Silence).then_some(frame.samples)
    }

    /// A mixer frame for this leg, unless a playback owns the stream.
    pub(super) fn send_mixed(&self, pcm: &[i16]) {
        if !self.state().playing {
            self.send_pcm(pcm);
        }
    }

    /// Sends a packet already built on this leg's outgoing stream.
    /// Muting stops voice, not digits (as in Asterisk), so this ignores `mute_out`.
    pub(super) fn send_raw(&self, packet: &[u8]) {
        let remote = self.state().remote;
        self.send_to_remote(remote, packet);
    }

    pub(super) fn set_playing(&self, playing: bool) {
        self.state().playing = playing;
    }

    pub(super) fn codec(&self) -> Option<Codec> {
        self.state().remote.map(|r| r.codec)
    }
}

/// A handle on one RTP session. Cloning shares the session; [`Leg::close`] ends it.
#[derive(Clone)]
pub struct Leg {
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
    events: Arc<Mutex<Option<mpsc::UnboundedReceiver<MediaEvent>>>>,
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("name", &self.shared.name)
            .field("port", &self.shared.port)
            .finish()
    }
}

impl Leg {
    pub(super) fn open(engine: Arc<EngineInner>, name: &str) -> Result<Self, MediaError> {
        let (sockets, port) = match &engine.net {
            None => {
                let (rtp_std, rtcp_std) = engine.ports.bind_pair(engine.ip)?;
                let port = rtp_std.local_addr()?.port();
                let _guard = engine.runtime.enter();
                let sockets = (
                    LegSocket::Udp(UdpSocket::from_std(rtp_std)?),
                    LegSocket::Udp(UdpSocket::from_std(rtcp_std)?),
                );
                (sockets, port)
            }
            Some(net) => {
                let (rtp, rtcp) = engine.ports.take_pair(|port| {
                    let rtp = net.bind(SocketAddr::new(engine.ip, port)).ok()?;
                    let rtcp = net.bind(SocketAddr::new(engine.ip, port + 1)).ok()?;
                    Some((rtp, rtcp))
                })?;
                let port = rtp.local_addr().port();
                ((LegSocket::Memory(rtp), LegSocket::Memory(rtcp)), port)
            }
        };
        let leg = Self::build(engine.clone(), name, Some(sockets), port);
        let task = engine.runtime.spawn(run(leg.shared.clone())).abort_handle();
        if let Ok(mut slot) = leg.task.lock() {
            *slot = Some(task);
        }
        Ok(leg)
    }

    /// A leg without RTP: audio in through [`Leg::feed`], out through its `Out` taps
    /// (8 kHz linear). Snoop channels and AudioSocket connections are made of these.
    pub(super) fn open_virtual(engine: Arc<EngineInner>, name: &str) -> Self {
        let leg = Self::build(engine, name, None, 0);
        leg.shared.state().remote = Some(Remote {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            codec: Codec::Pcmu,
            payload_type: 0,
            dtmf_payload_type: None,
            send: true,
        });
        leg
    }

    fn build(
        engine: Arc<EngineInner>,
        name: &str,
        sockets: Option<(LegSocket, LegSocket)>,
        port: u16,
    ) -> Self {
        let (events, events_rx) = mpsc::unbounded_channel();
        let seed = random_u32(port);
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            engine: engine.clone(),
            sockets,
            port,
            events,
            started: tokio::time::Instant::now(),
            state: Mutex::new(State {
                remote: None,
                latched: false,
                route: Route::Nowhere,
                out: OutStream::new(seed, (seed >> 16) as u16 & 0x7fff, seed.rotate_left(7)),
                encoder: None,
                transcode: None,
                playing: false,
                jitter: None,
                mix_decoder: None,
                taps_in: Vec::new(),
                taps_out: Vec::new(),
                inband: None,
                inband_forced: false,
                whisper: None,
                fed: (0, 0),
                mute_in: false,
                mute_out: false,
                rx: RxStats::new(8000),
                dtmf: rfc4733::Receiver::new(8000),
                remote_jitter: Summary::new(),
                remote_loss: Summary::new(),
                local_jitter: Summary::new(),
                local_loss: Summary::new(),
                rtt: Summary::new(),
                remote_reported_lost: 0,
                remote_reported_jitter: 0.0,
            }),
        });
        Self {
            shared,
            task: Arc::new(Mutex::new(None)),
            events: Arc::new(Mutex::new(Some(events_rx))),
        }
    }

    pub fn is_virtual(&self) -> bool {
        self.shared.sockets.is_none()
    }

    /// Audio into a virtual leg (20 ms frames at 8 kHz), as if its far end had said it.
    pub fn feed(&self, pcm: Vec<i16>) {
        let now = self.shared.now_ms();
        let mut state = self.shared.state();
        let (seq, ts) = state.fed;
        state.fed = (seq.wrapping_add(1), ts.wrapping_add(160));
        if let Some(jitter) = state.jitter.as_mut() {
            jitter.push(seq, ts, now, pcm);
            return;
        }
        // Outside a mixer only Echo applies to fed audio (a Local channel running Echo()).
        let echo = matches!(state.route, Route::Echo) && !state.playing;
        drop(state);
        if echo {
            self.shared.send_pcm(&pcm);
        }
    }

    /// Mixes `frames` into everything this leg sends (snoop whisper).
    pub fn whisper(&self, frames: mpsc::Receiver<Vec<i16>>) {
        self.shared.state().whisper = Some(frames);
    }

    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::new(self.shared.engine.ip, self.shared.port)
    }

    /// The event stream; the first caller gets it.
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<MediaEvent>> {
        self.events.lock().ok()?.take()
    }

    /// Sets (or changes, on re-INVITE) where and how to send.
    pub fn set_remote(&self, remote: Remote) {
        let mut state = self.shared.state();
        let moved = state.remote.map(|r| r.addr) != Some(remote.addr);
        if state.remote.map(|r| r.codec) != Some(remote.codec) {
            state.encoder = Some(Encoder::new(remote.codec));
        }
        state.latched &= !moved;
        state.remote = Some(remote);
        // Digits travel in the audio when the peer does not speak RFC 4733 (Asterisk's
        // `dtmf_mode=auto`), or when the endpoint is configured for in-band.
        let inband = state.inband_forced || remote.dtmf_payload_type.is_none();
        state.inband = inband.then(|| inband_detection(remote.codec));
        let peer = match &state.route {
            Route::Peer(peer) => peer.upgrade(),
            _ => None,
        };
        drop(state);
        self.refresh_transcoding();
        // The peer decodes towards our codec: a codec change (re-INVITE) concerns it too.
        if let Some(peer) = peer {
            refresh_transcoding(&peer);
        }
    }

    pub fn remote(&self) -> Option<Remote> {
        self.shared.state().remote
    }

    /// Sends what arrives straight back (the Echo application).
    pub fn echo(&self) {
        self.shared.state().route = Route::Echo;
    }

    /// Connects two legs both ways: relay when the codecs match, transcode otherwise.
    pub fn connect(&self, other: &Leg) {
        self.shared.state().route = Route::Peer(Arc::downgrade(&other.shared));
        other.shared.state().route = Route::Peer(Arc::downgrade(&self.shared));
        self.refresh_transcoding();
        other.refresh_transcoding();
    }

    /// Listens to one direction of the leg as 20 ms PCM frames at the codec's rate.
    /// Incoming audio is only decoded while the leg is in a mixing bridge: the relay
    /// path never decodes, so the owner moves the leg into one before tapping `In`.
    pub fn tap(&self, direction: TapDirection) -> mpsc::Receiver<Vec<i16>> {
        let (tx, rx) = mpsc::channel(50);
        let mut state = self.shared.state();
        match direction {
            TapDirection::In => state.taps_in.push(tx),
            TapDirection::Out => state.taps_out.push(tx),
        }
        rx
    }

    pub fn codec(&self) -> Option<Codec> {
        self.shared.codec()
    }

    /// Mutes or unmutes each direction (`None` leaves it as it is).
    pub fn set_mute(&self, incoming: Option<bool>, outgoing: Option<bool>) {
        let mut state = self.shared.state();
        if let Some(m) = incoming {
            state.mute_in = m;
        }
        if let Some(m) = outgoing {
            state.mute_out = m;
        }
    }

    /// Whether (incoming, outgoing) are muted.
    pub fn mutes(&self) -> (bool, bool) {
        let state = self.shared.state();
        (state.mute_in, state.mute_out)
    }

    /// Always detect in-band DTMF, even when RFC 4733 was negotiated.
    pub fn force_inband_dtmf(&self) {
        let mut state = self.shared.state();
        state.inband_forced = true;
        if state.inband.is_none() {
            state.inband = state.remote.map(|r| inband_detection(r.codec));
        }
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops sending this leg's audio anywhere (the peer keeps its own route until it
    /// is disconnected too).
    pub fn disconnect(&self) {
        self.shared.state().route = Route::Nowhere;
    }

    /// Plays `source` into this leg, paced by the media clock.
    pub fn play(&self, source: Source) -> Playback {
        self.play_from(source, 0)
    }

    /// Plays `source` starting `offset_ms` into it.
    pub fn play_from(&self, source: Source, offset_ms: i64) -> Playback {
        playback::start(self.shared.clone(), source, offset_ms)
    }

    /// Sends an RFC 4733 digit (blocking the outgoing stream for its duration).
    pub fn send_dtmf(&self, digit: char, duration_ms: u32) -> Playback {
        playback::start(self.shared.clone(), Source::Dtmf { digit, duration_ms }, 0)
    }

    pub fn stats(&self) -> RtpStat {
        let state = self.shared.state();
        let summary = |s: &Summary| (s.max, s.min, s.mean, s.stdev);
        let (remote_maxjitter, remote_minjitter, remote_normdevjitter, remote_stdevjitter) =
            summary(&state.remote_jitter);
        let (local_maxjitter, local_minjitter, local_normdevjitter, local_stdevjitter) =
            summary(&state.local_jitter);
        let (remote_maxrxploss, remote_minrxploss, remote_normdevrxploss, remote_stdevrxploss) =
            summary(&state.remote_loss);
        let (local_maxrxploss, local_minrxploss, local_normdevrxploss, local_stdevrxploss) =
            summary(&state.local_loss);
        let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        RtpStat {
            txcount: to_u32(state.out.packets_sent()),
            rxcount: to_u32(state.rx.packets()),
            txjitter: state.remote_reported_jitter,
            rxjitter: state.rx.jitter_seconds(),
            remote_maxjitter,
            remote_minjitter,
            remote_normdevjitter,
            remote_stdevjitter,
            local_maxjitter,
            local_minjitter,
            local_normdevjitter,
            local_stdevjitter,
            txploss: state.remote_reported_lost,
            rxploss: u32::try_from(state.rx.lost().max(0)).unwrap_or(u32::MAX),
            remote_maxrxploss,
            remote_minrxploss,
            remote_normdevrxploss,
            remote_stdevrxploss,
            local_maxrxploss,
            local_minrxploss,
            local_normdevrxploss,
            local_stdevrxploss,
            rtt: state.rtt.mean,
            maxrtt: state.rtt.max,
            minrtt: state.rtt.min,
            normdevrtt: state.rtt.mean,
            stdevrtt: state.rtt.stdev,
            local_ssrc: state.out.ssrc(),
            remote_ssrc: state.rx.remote_ssrc().unwrap_or(0),
            txoctetcount: to_u32(state.out.octets_sent()),
            rxoctetcount: to_u32(state.rx.octets()),
            channel_uniqueid: self.shared.name.clone(),
        }
    }

    /// Ends the session and frees its ports.
    pub fn close(&self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        self.shared.state().route = Route::Nowhere;
    }

    fn refresh_transcoding(&self) {
        refresh_transcoding(&self.shared);
    }
}

/// Keeps the decode side of a leg's outgoing route in step with both codecs.
/// Never holds two legs' locks at once, so concurrent refreshes cannot deadlock.
fn refresh_transcoding(leg: &Shared) {
    let peer = match &leg.state().route {
        Route::Peer(peer) => peer.upgrade(),
        _ => None,
    };
    let to = peer.as_ref().and_then(|p| p.codec());
    let mut state = leg.state();
    let from = state.remote.map(|r| r.codec);
    state.transcode = match (from, to) {
        (Some(from), Some(to)) if from != to => Some(Transcode {
            decoder: Decoder::new(from),
            resampler: Resampler::new(from.sample_rate(), to.sample_rate()),
            to,
        }),
        _ => None,
    };
}

fn inband_detection(codec: Codec) -> (Decoder, inband::Detector) {
    (
        Decoder::new(codec),
        inband::Detector::new(codec.sample_rate()),
    )
}

/// Offers a frame to every tap, forgetting taps whose reader has gone.
fn send_to_taps(taps: &mut Vec<mpsc::Sender<Vec<i16>>>, pcm: &[i16]) {
    if !taps.is_empty() {
        taps.retain(|tap| {
            !matches!(
                tap.try_send(pcm.to_vec()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }
}

fn random_u32(salt: u16) -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // SSRCs need only be unlikely to collide (RFC 3550 §8.1), not unpredictable.
    (nanos ^ u32::from(salt).rotate_left(16)).wrapping_mul(0x9E37_79B9) | 1
}

async fn run(shared: Arc<Shared>) {
    let Some((rtp_socket, rtcp_socket)) = &shared.sockets else {
        return;
    };
    let mut buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 1500];
    let mut report = tokio::time::interval(RTCP_INTERVAL);
    report.tick().await;
    loop {
        tokio::select! {
            received = rtp_socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                if let Some(packet) = buf.get(..len) {
                    if rtp::is_rtcp(packet) {
                        on_rtcp(&shared, packet);
                    } else {
                        on_rtp(&shared, packet, from);
                    }
                }
            }
            received = rtcp_socket.recv_from(&mut rtcp_buf) => {
                if let Ok((len, _)) = received {
                    if let Some(packet) = rtcp_buf.get(..len) {
                        on_rtcp(&shared, packet);
                    }
                }
            }
            _ = report.tick() => send_report(&shared),
        }
    }
}

fn on_rtp(shared: &Shared, packet: &[u8], from: SocketAddr) {
    let Ok(parsed) = rtp::parse(packet) else {
        return;
    };
    let header = parsed.header;
    let now_ms = shared.now_ms();
    let mut state = shared.state();
    let Some(remote) = state.remote else { return };
    if state.latched {
        if from != remote.addr {
            return;
        }
    } else {
        state.latched = true;
        if from != remote.addr {
            tracing::debug!(leg = %shared.name, %from, "RTP latched to source address");
            state.remote = Some(Remote {
                addr: from,
                ..remote
            });
        }
    }
    state.rx.on_packet(&header, parsed.payload.len(), now_ms);
    if state.mute_in {
        return;
    }

    if Some(header.payload_type) == remote.dtmf_payload_type {
        if let Some(digit) = state.dtmf.on_packet(header.timestamp, parsed.payload) {
            let _ = shared.events.send(MediaEvent::Dtmf(digit));
        }
        let route = peer_of(&state.route);
        drop(state);
        match route {
            Some(Some(peer)) => relay(&peer, &header, parsed.payload, true),
            Some(None) => relay(shared, &header, parsed.payload, true),
            None => {}
        }
        return;
    }
    if header.payload_type != remote.payload_type {
        return; // comfort noise and formats we did not negotiate
    }
    if let Some((decoder, detector)) = state.inband.as_mut() {
        let mut pcm = Vec::with_capacity(320);
        decoder.decode(parsed.payload, &mut pcm);
        for digit in detector.feed(&pcm) {
            let _ = shared.events.send(MediaEvent::Dtmf(digit));
        }
    }
    if let Route::Mixer(_) = state.route {
        let mut pcm = Vec::with_capacity(320);
        if let Some(decoder) = state.mix_decoder.as_mut() {
            decoder.decode(parsed.payload, &mut pcm);
        }
        if let Some(jitter) = state.jitter.as_mut() {
            jitter.push(header.sequence, header.timestamp, now_ms, pcm);
        }
        return;
    }
    match peer_of(&state.route) {
        None => {}
        Some(None) => {
            drop(state);
            relay(shared, &header, parsed.payload, false);
        }
        Some(Some(peer)) => match state.transcode.as_mut() {
            None => {
                drop(state);
                relay(&peer, &header, parsed.payload, false);
            }
            Some(transcode) => {
                let mut pcm = Vec::with_capacity(320);
                transcode.decoder.decode(parsed.payload, &mut pcm);
                let mut converted = Vec::with_capacity(320);
                transcode.resampler.process(&pcm, &mut converted);
                let to = transcode.to;
                drop(state);
                if peer.codec() == Some(to) && !peer.state().playing {
                    peer.send_pcm(&converted);
                    shared
                        .engine
                        .counters
                        .transcoded
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        },
    }
}

/// `None`: audio goes nowhere; `Some(None)`: back to the sender; `Some(Some(p))`: to `p`.
fn peer_of(route: &Route) -> Option<Option<Arc<Shared>>> {
    match route {
        Route::Nowhere | Route::Mixer(_) => None,
        Route::Echo => Some(None),
        Route::Peer(peer) => peer.upgrade().map(Some),
    }
}

/// Relays one packet out of `to`, rewriting only the header (no decode).
fn relay(to: &Shared, header: &RtpHeader, payload: &[u8], dtmf: bool) {
    let mut state = to.state();
    if state.playing || state.mute_out {
        return;
    }
    let Some(remote) = state.remote else { return };
    let payload_type = if dtmf {
        match remote.dtmf_payload_type {
            Some(pt) => pt,
            None => return, // the far side did not negotiate RFC 4733
        }
    } else {
        remote.payload_type
    };
    let out = state.out.relay(header, payload_type);
    state
        .out
        .count_sent(payload.len(), out.timestamp, std::time::Instant::now());
    drop(state);
    let mut packet = Vec::with_capacity(12 + payload.len());
    rtp::write(&out, payload, &mut packet);
    to.send_to_remote(Some(remote), &packet);
    to.engine.counters.relayed.fetch_add(1, Ordering::Relaxed);
}

fn on_rtcp(shared: &Shared, packet: &[u8]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (sec, frac) = rtcp::ntp_timestamp(now);
    let arrival = rtcp::compact_ntp(sec, frac);
    let now_ms = shared.now_ms();
    let mut state = shared.state();
    let local_ssrc = state.out.ssrc();
    for report in rtcp::parse_compound(packet) {
        let blocks = match report {
            RtcpPacket::SenderReport {
                ntp_sec,
                ntp_frac,
                reports,
                ..
            } => {
                state.rx.on_sender_report(ntp_sec, ntp_frac, now_ms);
                reports
            }
            RtcpPacket::ReceiverReport { reports, .. } => reports,
            _ => continue,
        };
        for block in blocks.iter().filter(|b| b.ssrc == local_ssrc) {
            let jitter = f64::from(block.jitter) / 8000.0;
            state.remote_reported_jitter = jitter;
            state.remote_jitter.add(jitter);
            state.remote_reported_lost = u32::try_from(block.cumulative_lost.max(0)).unwrap_or(0);
            state
                .remote_loss
                .add(f64::from(block.fraction_lost) / 256.0);
            if let Some(rtt) = rtcp::round_trip_time(arrival, block) {
                state.rtt.add(rtt);
            }
        }
    }
}

fn send_report(shared: &Shared) {
    let mut state = shared.state();
    let Some(remote) = state.remote else { return };
    let ssrc = state.out.ssrc();
    let block = state.rx.report_block();
    if let Some(block) = &block {
        let jitter = f64::from(block.jitter) / 8000.0;
        state.local_jitter.add(jitter);
        state.local_loss.add(f64::from(block.fraction_lost) / 256.0);
    }
    let reports: Vec<_> = block.into_iter().collect();
    let mut packet = Vec::with_capacity(128);
    if state.out.packets_sent() > 0 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (ntp_sec, ntp_frac) = rtcp::ntp_timestamp(now);
        let clock_rate = remote.codec.rtp_clock_rate();
        let info = SenderInfo {
            ntp_sec,
            ntp_frac,
            rtp_ts: state
                .out
                .timestamp_at(std::time::Instant::now(), clock_rate)
                .unwrap_or(0),
            packet_count: u32::try_from(state.out.packets_sent()).unwrap_or(u32::MAX),
            octet_count: u32::try_from(state.out.octets_sent()).unwrap_or(u32::MAX),
        };
        rtcp::write_sender_report(ssrc, &info, &reports, &mut packet);
    } else {
        rtcp::write_receiver_report(ssrc, &reports, &mut packet);
    }
    rtcp::write_sdes_cname(ssrc, &shared.name, &mut packet);
    drop(state);
    let addr = SocketAddr::new(remote.addr.ip(), remote.addr.port().wrapping_add(1));
    if let Some((_, rtcp)) = &shared.sockets {
        let _ = rtcp.try_send_to(&packet, addr);
    }
}
