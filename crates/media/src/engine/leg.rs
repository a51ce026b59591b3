//! One RTP session: a socket pair, the negotiated codec, where its audio goes (nowhere,
//! back to itself, or to a peer leg) and its statistics.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::bridge::BridgeShared;
use super::net::LegSocket;
use super::playback::{self, Driven, Playback, Source};
use super::EngineInner;
use crate::codec::{Codec, Decoder, Encoder};
use crate::dtmf::{inband, rfc4733};
use crate::jitter_buffer::{FrameKind, JitterBuffer};
use crate::resample::Resampler;
use crate::rtp::{self, RtpHeader};
pub use crate::rtp_session::Remote;
use crate::rtp_session::{Received, RtpSession};
use crate::stats::RtpStat;
use crate::MediaError;

pub(super) const RTCP_INTERVAL: Duration = Duration::from_secs(5);
pub(super) const PTIME_MS: u32 = 20;

/// What a leg reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// An RFC 4733 digit, reported once when it ends.
    Dtmf(rfc4733::Digit),
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
    /// The protocol side: remote, latching, streams, statistics, mute, RTCP.
    pub(super) rtp: RtpSession,
    route: Route,
    encoder: Option<Encoder>,
    transcode: Option<Transcode>,
    /// A playback owns the outgoing stream: relayed audio into this leg is dropped.
    playing: bool,
    /// Playbacks an RTP shard ticks (UDP legs; see [`Shared::drive`]).
    players: Vec<Driven>,
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
}

/// The media clock of the engine's tasks: tokio's, so a test on paused time drives it.
pub(super) fn clock_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl Shared {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug elsewhere; keep the media flowing.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn sockets(&self) -> Option<&(LegSocket, LegSocket)> {
        self.sockets.as_ref()
    }

    /// Sends a packet out of the leg's RTP socket.
    fn send(&self, packet: &[u8], to: SocketAddr) {
        if let Some((socket, _)) = &self.sockets {
            let _ = socket.try_send_to(packet, to);
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
        let Some(remote) = state.rtp.remote() else {
            return;
        };
        let mut payload = Vec::with_capacity(pcm.len());
        state
            .encoder
            .get_or_insert_with(|| Encoder::new(remote.codec))
            .encode(pcm, &mut payload);
        let mut packet = Vec::with_capacity(12 + payload.len());
        let to = state.rtp.send_frame(
            &payload,
            remote.codec.timestamp_increment(PTIME_MS),
            clock_now(),
            &mut packet,
        );
        send_to_taps(&mut state.taps_out, pcm);
        drop(state);
        if let Some(to) = to {
            self.send(&packet, to);
        }
        self.engine
            .counters
            .generated
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Joins a mixing bridge: a fresh jitter buffer and decoder for the leg's codec.
    pub(super) fn enter_mixer(&self, bridge: Weak<BridgeShared>) {
        let mut state = self.state();
        let codec = state.rtp.remote().map_or(Codec::Pcmu, |r| r.codec);
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
        let mut state = self.state();
        let now = state.rtp.millis(clock_now());
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

    /// Sends one packet of an RFC 4733 event (see [`RtpSession::send_event`]).
    pub(super) fn send_event(&self, marker: bool, payload: &[u8], advance: u32) {
        let mut packet = Vec::with_capacity(16);
        let to = self
            .state()
            .rtp
            .send_event(marker, payload, advance, clock_now(), &mut packet);
        if let Some(to) = to {
            self.send(&packet, to);
        }
    }

    /// Hands a playback to an RTP shard's clock, which ticks it until it ends
    /// ([`tick_players`]).
    pub(super) fn drive(self: &Arc<Self>, player: Driven) {
        self.state().players.push(player);
        if let Some(shards) = &self.engine.shards {
            shards.play(self.clone());
        }
    }

    pub(super) fn set_playing(&self, playing: bool) {
        self.state().playing = playing;
    }

    pub(super) fn codec(&self) -> Option<Codec> {
        self.state().rtp.remote().map(|r| r.codec)
    }
}

/// What serves a leg's sockets, to be stopped when it closes.
enum Server {
    /// The RTP shard (by index) that reads its UDP sockets.
    Shard(usize),
    /// The task that reads its sockets on the in-memory network.
    Task(tokio::task::AbortHandle),
}

/// A handle on one RTP session. Cloning shares the session; [`Leg::close`] ends it.
#[derive(Clone)]
pub struct Leg {
    shared: Arc<Shared>,
    server: Arc<Mutex<Option<Server>>>,
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
        let (leg, server) = match (&engine.net, &engine.shards) {
            (Some(net), _) => {
                let (rtp, rtcp) = engine.ports.take_pair(|port| {
                    let rtp = net.bind(SocketAddr::new(engine.ip, port)).ok()?;
                    let rtcp = net.bind(SocketAddr::new(engine.ip, port + 1)).ok()?;
                    Some((rtp, rtcp))
                })?;
                let port = rtp.local_addr().port();
                let sockets = (LegSocket::Memory(rtp), LegSocket::Memory(rtcp));
                let leg = Self::build(engine.clone(), name, Some(sockets), port);
                let task = engine.runtime.spawn(run_in_memory(leg.shared.clone()));
                (leg, Server::Task(task.abort_handle()))
            }
            (None, Some(shards)) => {
                let (rtp, rtcp) = engine.ports.bind_pair(engine.ip)?;
                let port = rtp.local_addr()?.port();
                let sockets = (LegSocket::Udp(rtp), LegSocket::Udp(rtcp));
                let leg = Self::build(engine.clone(), name, Some(sockets), port);
                let shard = shards.add(leg.shared.clone())?;
                (leg, Server::Shard(shard))
            }
            (None, None) => return Err(MediaError::Engine("the engine has no network".into())),
        };
        if let Ok(mut slot) = leg.server.lock() {
            *slot = Some(server);
        }
        Ok(leg)
    }

    /// A leg without RTP: audio in through [`Leg::feed`], out through its `Out` taps
    /// (8 kHz linear). Snoop channels and AudioSocket connections are made of these.
    pub(super) fn open_virtual(engine: Arc<EngineInner>, name: &str) -> Self {
        let leg = Self::build(engine, name, None, 0);
        leg.shared.state().rtp.set_remote(Remote {
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
            state: Mutex::new(State {
                rtp: RtpSession::new(
                    seed,
                    (seed >> 16) as u16 & 0x7fff,
                    seed.rotate_left(7),
                    clock_now(),
                ),
                route: Route::Nowhere,
                encoder: None,
                transcode: None,
                playing: false,
                players: Vec::new(),
                jitter: None,
                mix_decoder: None,
                taps_in: Vec::new(),
                taps_out: Vec::new(),
                inband: None,
                inband_forced: false,
                whisper: None,
                fed: (0, 0),
            }),
        });
        Self {
            shared,
            server: Arc::new(Mutex::new(None)),
            events: Arc::new(Mutex::new(Some(events_rx))),
        }
    }

    pub fn is_virtual(&self) -> bool {
        self.shared.sockets.is_none()
    }

    /// Audio into a virtual leg (20 ms frames at 8 kHz), as if its far end had said it.
    pub fn feed(&self, pcm: Vec<i16>) {
        let mut state = self.shared.state();
        let now = state.rtp.millis(clock_now());
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
        if state.rtp.remote().map(|r| r.codec) != Some(remote.codec) {
            state.encoder = Some(Encoder::new(remote.codec));
        }
        state.rtp.set_remote(remote);
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
        self.shared.state().rtp.remote()
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
        self.share_shard_with(other);
    }

    /// The RTP shard serving the leg (`None` on a memory network or once closed).
    pub(super) fn shard(&self) -> Option<usize> {
        match self.server.lock().ok().as_deref() {
            Some(Some(Server::Shard(index))) => Some(*index),
            _ => None,
        }
    }

    /// Puts the two legs on one RTP shard, so a relayed packet is handled by one thread
    /// from arrival to departure and both legs' state stays in one core's cache. The leg
    /// on the busier shard moves, which keeps the shards even.
    fn share_shard_with(&self, other: &Leg) {
        let Some(shards) = &self.shared.engine.shards else {
            return;
        };
        let (Some(here), Some(there)) = (self.shard(), other.shard()) else {
            return;
        };
        if here == there {
            return;
        }
        let (mover, to) = if shards.legs(here) <= shards.legs(there) {
            (other, here)
        } else {
            (self, there)
        };
        let Ok(mut slot) = mover.server.lock() else {
            return;
        };
        if let Some(Server::Shard(from)) = slot.as_mut() {
            if shards.add_to(to, mover.shared.clone()).is_ok() {
                // Watched by both shards for a moment: harmless, each datagram is read
                // once by whichever is first.
                shards.remove(*from, mover.shared.clone());
                *from = to;
            }
        }
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
        self.shared.state().rtp.set_mute(incoming, outgoing);
    }

    /// Whether (incoming, outgoing) are muted.
    pub fn mutes(&self) -> (bool, bool) {
        self.shared.state().rtp.mutes()
    }

    /// Always detect in-band DTMF, even when RFC 4733 was negotiated.
    pub fn force_inband_dtmf(&self) {
        let mut state = self.shared.state();
        state.inband_forced = true;
        if state.inband.is_none() {
            state.inband = state.rtp.remote().map(|r| inband_detection(r.codec));
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
        self.shared.state().rtp.stats(&self.shared.name)
    }

    /// Ends the session and frees its ports.
    pub fn close(&self) {
        match self.server.lock().ok().and_then(|mut t| t.take()) {
            Some(Server::Task(task)) => task.abort(),
            Some(Server::Shard(index)) => {
                if let Some(shards) = &self.shared.engine.shards {
                    shards.remove(index, self.shared.clone());
                }
            }
            None => {}
        }
        let mut state = self.shared.state();
        state.route = Route::Nowhere;
        // Their owners hear Stopped (the end signal's sender goes with them).
        state.players.clear();
        state.playing = false;
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
    let from = state.rtp.remote().map(|r| r.codec);
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

/// The shell of a leg on the in-memory network: a task reading its two sockets.
async fn run_in_memory(shared: Arc<Shared>) {
    let Some((LegSocket::Memory(rtp_socket), LegSocket::Memory(rtcp_socket))) = &shared.sockets
    else {
        return;
    };
    let mut buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 1500];
    let mut scratch = Vec::with_capacity(2048);
    let mut report = tokio::time::interval(RTCP_INTERVAL);
    report.tick().await;
    loop {
        tokio::select! {
            received = rtp_socket.recv_from(&mut buf) => {
                if let Some((packet, from)) = datagram(received, &buf) {
                    on_rtp_socket(&shared, packet, from, clock_now(), &mut scratch);
                }
            }
            received = rtcp_socket.recv_from(&mut rtcp_buf) => {
                if let Some((packet, _)) = datagram(received, &rtcp_buf) {
                    on_rtcp(&shared, packet, clock_now());
                }
            }
            _ = report.tick() => send_report(&shared, clock_now(), &mut scratch),
        }
    }
}

fn datagram(
    received: std::io::Result<(usize, SocketAddr)>,
    buf: &[u8],
) -> Option<(&[u8], SocketAddr)> {
    let (len, from) = received.ok()?;
    Some((buf.get(..len)?, from))
}

/// A datagram that arrived on the leg's RTP port at `now`: RTP, or RTCP multiplexed
/// onto it (RFC 5761). Packets sent on its behalf are written into `scratch`.
pub(super) fn on_rtp_socket(
    shared: &Shared,
    datagram: &[u8],
    from: SocketAddr,
    now: Instant,
    scratch: &mut Vec<u8>,
) {
    if rtp::is_rtcp(datagram) {
        on_rtcp(shared, datagram, now);
        return;
    }
    let mut state = shared.state();
    let (header, payload) = match state.rtp.receive(datagram, from, now) {
        Received::Dropped => return,
        Received::Event {
            header,
            payload,
            ended,
        } => {
            if let Some(digit) = ended {
                let _ = shared.events.send(MediaEvent::Dtmf(digit));
            }
            let route = peer_of(&state.route);
            drop(state);
            match route {
                Some(Some(peer)) => relay(&peer, &header, payload, true, now, scratch),
                Some(None) => relay(shared, &header, payload, true, now, scratch),
                None => {}
            }
            return;
        }
        Received::Audio { header, payload } => (header, payload),
    };
    if let Some((decoder, detector)) = state.inband.as_mut() {
        let mut pcm = Vec::with_capacity(320);
        decoder.decode(payload, &mut pcm);
        for digit in detector.feed(&pcm) {
            let _ = shared.events.send(MediaEvent::Dtmf(digit));
        }
    }
    if let Route::Mixer(_) = state.route {
        let mut pcm = Vec::with_capacity(320);
        if let Some(decoder) = state.mix_decoder.as_mut() {
            decoder.decode(payload, &mut pcm);
        }
        let at = state.rtp.millis(now);
        if let Some(jitter) = state.jitter.as_mut() {
            jitter.push(header.sequence, header.timestamp, at, pcm);
        }
        return;
    }
    match peer_of(&state.route) {
        None => {}
        Some(None) => {
            drop(state);
            relay(shared, &header, payload, false, now, scratch);
        }
        Some(Some(peer)) => match state.transcode.as_mut() {
            None => {
                drop(state);
                relay(&peer, &header, payload, false, now, scratch);
            }
            Some(transcode) => {
                let mut pcm = Vec::with_capacity(320);
                transcode.decoder.decode(payload, &mut pcm);
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

/// One tick of the leg's playbacks: each sends its next frame, or ends. Whether any
/// is still playing.
pub(super) fn tick_players(shared: &Shared) -> bool {
    let mut frames = Vec::new();
    let mut ended = Vec::new();
    let mut state = shared.state();
    let mut index = 0;
    while index < state.players.len() {
        match state.players[index].tick() {
            Ok(frame) => {
                frames.extend(frame);
                index += 1;
            }
            Err(end) => ended.push((state.players.swap_remove(index), end)),
        }
    }
    let playing = !state.players.is_empty();
    if !playing && !ended.is_empty() {
        state.playing = false;
    }
    drop(state);
    for frame in &frames {
        shared.send_pcm(frame);
    }
    for (player, end) in ended {
        player.end(end);
    }
    playing
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
fn relay(
    to: &Shared,
    header: &RtpHeader,
    payload: &[u8],
    event: bool,
    now: Instant,
    scratch: &mut Vec<u8>,
) {
    let mut state = to.state();
    if state.playing {
        return;
    }
    let Some(addr) = state.rtp.relay(header, payload, event, now, scratch) else {
        return;
    };
    drop(state);
    to.send(scratch, addr);
    to.engine.counters.relayed.fetch_add(1, Ordering::Relaxed);
}

/// An RTCP packet for the leg, arrived at `now`.
pub(super) fn on_rtcp(shared: &Shared, packet: &[u8], now: Instant) {
    shared.state().rtp.on_rtcp(packet, now, wall_now());
}

/// Sends the leg's periodic RTCP report, written into `scratch`.
pub(super) fn send_report(shared: &Shared, now: Instant, scratch: &mut Vec<u8>) {
    scratch.clear();
    let to = shared
        .state()
        .rtp
        .report(&shared.name, now, wall_now(), scratch);
    if let (Some(to), Some((_, rtcp))) = (to, &shared.sockets) {
        let _ = rtcp.try_send_to(scratch, to);
    }
}
