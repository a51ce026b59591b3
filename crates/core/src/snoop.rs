//! Channels without SIP: snoops (spy on a channel, whisper to it) and external media
//! (a channel's audio to and from an outside RTP host or AudioSocket server). They are
//! channels like any other — they can be bridged, recorded, hung up.

use std::net::SocketAddr;
use std::sync::Arc;

use switchboard_media::codec::Codec;
use switchboard_media::engine::{Leg, Remote, TapDirection};
use switchboard_media::resample::Resampler;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::cause::Cause;
use crate::channel::{CallerId, Channel, ChannelData, Direction, Parts};
use crate::recording::{RecordDirection, RecordTarget};
use crate::state::ChannelState;
use crate::switch::{ControlError, Switch};

/// ARI's `spy` / `whisper` directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoopDirection {
    None,
    In,
    Out,
    Both,
}

impl SnoopDirection {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Self::None),
            "in" => Some(Self::In),
            "out" => Some(Self::Out),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
}

/// How external media travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulation {
    Rtp,
    AudioSocket,
}

/// AudioSocket frame kinds (Asterisk's `res_audiosocket`).
const AUDIOSOCKET_HANGUP: u8 = 0x00;
const AUDIOSOCKET_UUID: u8 = 0x01;
const AUDIOSOCKET_AUDIO: u8 = 0x10;
/// AudioSocket audio is 8 kHz signed linear, 20 ms frames.
const AUDIOSOCKET_FRAME: usize = 320;

/// Resamples a stream of frames into another channel.
async fn pump(
    mut from: mpsc::Receiver<Vec<i16>>,
    from_rate: u32,
    to_rate: u32,
    to: mpsc::Sender<Vec<i16>>,
) {
    let mut resampler = Resampler::new(from_rate, to_rate);
    while let Some(frame) = from.recv().await {
        let mut out = Vec::with_capacity(frame.len() * 2);
        resampler.process(&frame, &mut out);
        if to.send(out).await.is_err() {
            return;
        }
    }
}

impl Switch {
    /// A channel with no SIP dialog over `leg`, Up, handed to a Stasis application.
    fn local_channel(
        &self,
        id: Option<String>,
        name: String,
        leg: Leg,
        app: &str,
        args: Vec<String>,
    ) -> Result<Arc<Channel>, ControlError> {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if self.channel(&id).is_ok() {
            return Err(ControlError::Conflict(format!("channel {id} exists")));
        }
        let mut data = ChannelData::new(CallerId::default(), "default".into(), "s".into());
        data.answered_at = Some(std::time::SystemTime::now());
        let parts = Parts {
            id,
            name,
            direction: Direction::Outbound,
            sip: None,
            leg,
            codecs: Vec::new(),
            origin: None,
        };
        let channel = Arc::new(Channel::new(parts, data, ChannelState::Up));
        self.register(channel.clone(), None);
        if !app.is_empty() {
            self.enter_stasis(&channel.id, app, args)?;
        }
        Ok(channel)
    }

    /// A Local channel pair for `exten@context` (`ids` for `;1` and `;2`, generated when
    /// `None`): `;1` is returned to the caller (Dial, originate), `;2` runs the dialplan
    /// (at once, or at `dial` when `start` is false); each hears what the other sends, ringing and
    /// answer on `;2` show on `;1`, and a hangup of either ends both.
    pub(crate) fn local_pair(
        &self,
        exten: &str,
        context: &str,
        caller: CallerId,
        parent: Option<&Arc<Channel>>,
        ids: [Option<String>; 2],
        start: bool,
    ) -> Result<Arc<Channel>, Cause> {
        if !self.dialplan().has_context(context) {
            return Err(Cause::NO_ROUTE_DESTINATION);
        }
        let [id, other_id] = ids;
        for taken in [&id, &other_id].into_iter().flatten() {
            if self.channel(taken).is_ok() {
                return Err(Cause::FACILITY_REJECTED);
            }
        }
        let suffix = rand_suffix();
        let (near_leg, far_leg) = (
            self.media().create_virtual_leg("local;1"),
            self.media().create_virtual_leg("local;2"),
        );
        // Each half's outgoing audio is the other's incoming audio.
        for (from, to) in [(&near_leg, &far_leg), (&far_leg, &near_leg)] {
            let mut frames = from.tap(TapDirection::Out);
            let to = to.clone();
            tokio::spawn(async move {
                while let Some(frame) = frames.recv().await {
                    to.feed(frame);
                }
            });
        }
        let half = |id: Option<String>, n: u8, leg: Leg, direction, data: ChannelData, state| {
            let parts = Parts {
                id: id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                name: format!("Local/{exten}@{context}-{suffix:08x};{n}"),
                direction,
                sip: None,
                leg,
                codecs: Vec::new(),
                origin: None,
            };
            Arc::new(Channel::new(parts, data, state))
        };
        let mut near_data = ChannelData::new(
            CallerId {
                name: String::new(),
                number: exten.to_owned(),
            },
            context.to_owned(),
            exten.to_owned(),
        );
        near_data.connected = caller.clone();
        near_data.parent = parent.map(|p| p.id.clone());
        let near = half(
            id,
            1,
            near_leg,
            Direction::Outbound,
            near_data,
            ChannelState::Down,
        );
        let far_data = ChannelData::new(caller, context.to_owned(), exten.to_owned());
        let far = half(
            other_id,
            2,
            far_leg,
            Direction::Inbound,
            far_data,
            ChannelState::Ring,
        );
        if let Some(parent) = parent {
            parent.data().children.push(near.id.clone());
        }
        near.data().local_peer = Some(far.id.clone());
        far.data().local_peer = Some(near.id.clone());
        self.register(near.clone(), None);
        self.register(far.clone(), None);
        tokio::spawn(self.clone().link_local(near.clone(), far.clone()));
        if start {
            tokio::spawn(crate::apps::run_dialplan(self.clone(), far));
        } else {
            // A created (ARI `create`) pair: its dialplan starts at `dial`.
            near.data().pending_local = Some(far.id.clone());
        }
        Ok(near)
    }

    /// Mirrors `;2`'s progress onto `;1`, and hangs up each with the other.
    async fn link_local(self, near: Arc<Channel>, far: Arc<Channel>) {
        let mut far_status = far.subscribe();
        loop {
            let status = *far_status.borrow_and_update();
            if let Some(cause) = status.hangup {
                self.hangup(&near.id, cause);
                return;
            }
            if matches!(status.state, ChannelState::Up) && near.state() != ChannelState::Up {
                near.data().answered_at = Some(std::time::SystemTime::now());
            }
            if matches!(status.state, ChannelState::Ringing | ChannelState::Up) {
                self.set_state(&near, status.state);
            }
            tokio::select! {
                changed = far_status.changed() => if changed.is_err() { return },
                cause = near.hung_up() => {
                    self.hangup(&far.id, cause);
                    return;
                }
            }
        }
    }

    /// A snoop channel on `target_id`: it says what the target says (`spy` in), hears
    /// (`spy` out) or both; what is played or bridged to it reaches the target's ear
    /// (`whisper`), heard by the target only.
    pub fn snoop(
        &self,
        target_id: &str,
        spy: SnoopDirection,
        whisper: SnoopDirection,
        app: &str,
        args: Vec<String>,
        snoop_id: Option<String>,
    ) -> Result<Arc<Channel>, ControlError> {
        let target = self.channel(target_id)?;
        if spy == SnoopDirection::None && whisper == SnoopDirection::None {
            return Err(ControlError::Invalid("spy or whisper is required".into()));
        }
        let direction = match spy {
            SnoopDirection::In => RecordDirection::In,
            SnoopDirection::Out => RecordDirection::Out,
            SnoopDirection::Both | SnoopDirection::None => RecordDirection::Both,
        };
        let mut feed = self.feed_for(&RecordTarget::Channel(target.id.clone()), direction)?;
        let leg = self.media().create_virtual_leg("snoop");
        let name = format!("Snoop/{}-{:08x}", target.id, rand_suffix());
        let snoop = self.local_channel(snoop_id, name, leg.clone(), app, args)?;
        let target_rate = target.leg.codec().map_or(8000, |c| c.sample_rate());
        if whisper != SnoopDirection::None {
            let (tx, rx) = mpsc::channel(10);
            tokio::spawn(pump(leg.tap(TapDirection::Out), 8000, target_rate, tx));
            target.leg.whisper(rx);
        }
        let switch = self.clone();
        let spying = spy != SnoopDirection::None;
        let snooper = snoop.clone();
        tokio::spawn(async move {
            let mut resampler = Resampler::new(feed.rate, 8000);
            let ended = async {
                tokio::select! {
                    _ = target.hung_up() => {}
                    _ = snooper.hung_up() => {}
                }
            };
            tokio::pin!(ended);
            loop {
                tokio::select! {
                    frame = feed.next() => {
                        let Some(frame) = frame else { break };
                        if spying {
                            let mut narrow = Vec::with_capacity(160);
                            resampler.process(&frame, &mut narrow);
                            leg.feed(narrow);
                        }
                    }
                    () = &mut ended => break,
                }
            }
            switch.hangup(&snooper.id, Cause::NORMAL_CLEARING);
        });
        Ok(snoop)
    }

    /// A channel whose audio goes to `host` and comes back from it: plain RTP in
    /// `format` (ulaw, alaw, g722, slin, slin16), or AudioSocket over TCP (8 kHz linear).
    pub fn external_media(
        &self,
        app: &str,
        host: SocketAddr,
        format: &str,
        encapsulation: Encapsulation,
        channel_id: Option<String>,
        data: Option<String>,
    ) -> Result<Arc<Channel>, ControlError> {
        match encapsulation {
            Encapsulation::Rtp => {
                let codec = match format {
                    "ulaw" => Codec::Pcmu,
                    "alaw" => Codec::Pcma,
                    "g722" => Codec::G722,
                    "slin" => Codec::L16,
                    "slin16" => Codec::L16Wide,
                    other => {
                        return Err(ControlError::Unprocessable(format!(
                            "format {other:?} is not supported for RTP external media"
                        )))
                    }
                };
                let leg = self
                    .media()
                    .create_leg("external")
                    .map_err(|e| ControlError::Invalid(e.to_string()))?;
                leg.set_remote(Remote {
                    addr: host,
                    codec,
                    payload_type: codec.payload_type(),
                    dtmf_payload_type: None,
                    send: true,
                });
                let local = leg.local_addr();
                let name = format!("UnicastRTP/{host}-{:08x}", rand_suffix());
                // As in Asterisk, `data` reaches the application as its StasisStart args.
                let args = data.into_iter().collect();
                let channel = self.local_channel(channel_id, name, leg, app, args)?;
                let _ = self.set_var(
                    &channel.id,
                    "UNICASTRTP_LOCAL_ADDRESS",
                    &local.ip().to_string(),
                );
                let _ = self.set_var(
                    &channel.id,
                    "UNICASTRTP_LOCAL_PORT",
                    &local.port().to_string(),
                );
                Ok(channel)
            }
            Encapsulation::AudioSocket => {
                if format != "slin" {
                    return Err(ControlError::Unprocessable(
                        "AudioSocket carries slin only".into(),
                    ));
                }
                let uuid = data
                    .as_deref()
                    .and_then(|d| uuid::Uuid::parse_str(d).ok())
                    .unwrap_or_else(uuid::Uuid::new_v4);
                let leg = self.media().create_virtual_leg("audiosocket");
                let name = format!("AudioSocket/{host}-{uuid}");
                let channel = self.local_channel(channel_id, name, leg.clone(), app, Vec::new())?;
                tokio::spawn(
                    self.clone()
                        .run_audiosocket(channel.clone(), leg, host, uuid),
                );
                Ok(channel)
            }
        }
    }

    async fn run_audiosocket(
        self,
        channel: Arc<Channel>,
        leg: Leg,
        host: SocketAddr,
        uuid: uuid::Uuid,
    ) {
        let stream = match tokio::net::TcpStream::connect(host).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(%host, error = %e, "AudioSocket connect failed");
                self.hangup(&channel.id, Cause::DESTINATION_OUT_OF_ORDER);
                return;
            }
        };
        let (mut reader, mut writer) = stream.into_split();
        let mut out = leg.tap(TapDirection::Out);
        let mut hello = vec![AUDIOSOCKET_UUID, 0, 16];
        hello.extend_from_slice(uuid.as_bytes());
        if writer.write_all(&hello).await.is_err() {
            self.hangup(&channel.id, Cause::DESTINATION_OUT_OF_ORDER);
            return;
        }
        let sender = async {
            while let Some(frame) = out.recv().await {
                let mut packet = Vec::with_capacity(3 + frame.len() * 2);
                packet.push(AUDIOSOCKET_AUDIO);
                packet
                    .extend_from_slice(&u16::try_from(frame.len() * 2).unwrap_or(0).to_be_bytes());
                packet.extend(frame.iter().flat_map(|s| s.to_le_bytes()));
                if writer.write_all(&packet).await.is_err() {
                    return;
                }
            }
        };
        let receiver = async {
            let mut pending: Vec<i16> = Vec::new();
            loop {
                let mut header = [0u8; 3];
                if reader.read_exact(&mut header).await.is_err() {
                    return;
                }
                let [kind, hi, lo] = header;
                let mut payload = vec![0u8; usize::from(u16::from_be_bytes([hi, lo]))];
                if reader.read_exact(&mut payload).await.is_err() {
                    return;
                }
                match kind {
                    AUDIOSOCKET_HANGUP => return,
                    AUDIOSOCKET_AUDIO => {
                        pending.extend(
                            payload
                                .chunks_exact(2)
                                .map(|b| i16::from_le_bytes([b[0], b[1]])),
                        );
                        while pending.len() >= AUDIOSOCKET_FRAME / 2 {
                            let frame: Vec<i16> = pending.drain(..AUDIOSOCKET_FRAME / 2).collect();
                            leg.feed(frame);
                        }
                    }
                    _ => {}
                }
            }
        };
        tokio::select! {
            () = sender => {}
            () = receiver => {}
            _ = channel.hung_up() => {}
        }
        self.hangup(&channel.id, Cause::NORMAL_CLEARING);
    }
}

fn rand_suffix() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}
