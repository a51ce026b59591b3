//! Audio generated into a leg — files, tones, silence, RFC 4733 digits — paced by the
//! media clock (one frame per 20 ms tick), never by how fast a file can be read.
//!
//! A playback is a [`Player`] (its source's position and pause state, no I/O) ticked by
//! a clock: on UDP legs the clock of an RTP shard, one timer for all the legs it plays
//! into (no timer or task wake-up per playback and frame); on the in-memory network of
//! the tests, and into mixing bridges, an interval of the playback's task.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use super::bridge::{AnnouncementQueue, BridgeShared, BRIDGE_RATE};
use super::leg::{Shared, PTIME_MS};
use super::sound_cache::{self, SoundCache};
use crate::codec::Codec;
use crate::dtmf::rfc4733;
use crate::raw::RawFormat;
use crate::resample::Resampler;
use crate::tone::ToneGenerator;
use crate::tone_plan::{TonePlan, TonePlayer};
use crate::wav::{self, Pcm};

/// What to play.
#[derive(Debug, Clone)]
pub enum Source {
    /// A WAV file of any common rate and width, resampled to the leg's codec.
    File(PathBuf),
    Pcm(Arc<Pcm>),
    /// A steady tone (sum of `freqs`) for `duration_ms`.
    Tone {
        freqs: Vec<f32>,
        duration_ms: u32,
    },
    Silence {
        duration_ms: u32,
    },
    /// A tone plan (`tone:busy`, Playtones lists, `tone_stream://`).
    Tones(TonePlan),
    /// Files played in turn, looping forever (music on hold).
    Loop(Vec<PathBuf>),
    /// One RFC 4733 digit.
    Dtmf {
        digit: char,
        duration_ms: u32,
    },
}

/// How a playback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackEnd {
    Completed,
    Stopped,
    /// The source could not be read (a missing file): nothing was played.
    Failed,
}

/// A running playback.
/// A command to a running playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Stop,
    Pause,
    Unpause,
    Restart,
    /// Forward (positive) or back (negative) by milliseconds.
    Seek(i64),
}

#[derive(Debug)]
pub struct Playback {
    control: mpsc::UnboundedSender<Control>,
    done: Mutex<Option<oneshot::Receiver<PlaybackEnd>>>,
}

impl Playback {
    pub fn stop(&self) {
        self.control(Control::Stop);
    }

    /// Pause, unpause, restart or seek; ignored once the playback has ended.
    pub fn control(&self, op: Control) {
        let _ = self.control.send(op);
    }

    pub async fn finished(self) -> PlaybackEnd {
        self.finished_signal().await
    }

    /// The end of the playback as a future of its own, so the handle can stay around
    /// to stop it. Only the first call gets the real signal.
    pub fn finished_signal(
        &self,
    ) -> impl std::future::Future<Output = PlaybackEnd> + Send + 'static {
        let done = self.done.lock().ok().and_then(|mut d| d.take());
        async move {
            match done {
                Some(done) => done.await.unwrap_or(PlaybackEnd::Stopped),
                None => PlaybackEnd::Stopped,
            }
        }
    }
}

/// Where generated frames go.
enum Sink {
    Leg(Arc<Shared>),
    Bridge(AnnouncementQueue),
}

impl Sink {
    fn rate(&self) -> u32 {
        match self {
            Self::Leg(leg) => leg.codec().unwrap_or(Codec::Pcmu).sample_rate(),
            Self::Bridge(_) => BRIDGE_RATE,
        }
    }

    fn set_playing(&self, playing: bool) {
        if let Self::Leg(leg) = self {
            leg.set_playing(playing);
        }
    }
}

pub(super) fn start(leg: Arc<Shared>, source: Source, offset_ms: i64) -> Playback {
    let runtime = leg.engine.runtime.clone();
    spawn(&runtime, Sink::Leg(leg), source, offset_ms)
}

pub(super) fn start_in_bridge(
    bridge: Arc<BridgeShared>,
    source: Source,
    offset_ms: i64,
) -> Playback {
    let runtime = bridge.engine.runtime.clone();
    spawn(
        &runtime,
        Sink::Bridge(bridge.announcement()),
        source,
        offset_ms,
    )
}

fn spawn(runtime: &tokio::runtime::Handle, sink: Sink, source: Source, offset_ms: i64) -> Playback {
    let (control, control_rx) = mpsc::unbounded_channel();
    if offset_ms != 0 {
        // Queued before the task starts, so it applies before the first frame.
        let _ = control.send(Control::Seek(offset_ms));
    }
    let (done_tx, done) = oneshot::channel();
    runtime.spawn(play(sink, source, control_rx, done_tx));
    Playback {
        control,
        done: Mutex::new(Some(done)),
    }
}

/// A source rendered frame by frame. A file's samples are shared with every other
/// playback of it (the sound cache's); a playback owns a position and a frame.
enum Frames {
    Pcm {
        samples: Arc<[i16]>,
        pos: usize,
    },
    /// Frames of silence left to send.
    Silence(u64),
    Tones(TonePlayer),
    /// Files played one after the other, forever (music on hold).
    Loop {
        files: Vec<Arc<[i16]>>,
        index: usize,
        pos: usize,
    },
}

impl Frames {
    fn next(&mut self, frame: usize) -> Option<Vec<i16>> {
        match self {
            Self::Pcm { samples, pos } => {
                let chunk = samples.get(*pos..)?;
                if chunk.is_empty() {
                    return None;
                }
                let mut out: Vec<i16> = chunk.iter().take(frame).copied().collect();
                *pos += out.len();
                out.resize(frame, 0);
                Some(out)
            }
            Self::Tones(player) => {
                let mut out = vec![0; frame];
                player.fill(&mut out).then_some(out)
            }
            Self::Silence(left) => {
                *left = left.checked_sub(1)?;
                Some(vec![0; frame])
            }
            Self::Loop { files, index, pos } => {
                let mut out = Vec::with_capacity(frame);
                // Bounded: an all-empty playlist yields silence rather than spinning.
                for _ in 0..=files.len() {
                    let file = files.get(*index)?;
                    out.extend(file.iter().skip(*pos).take(frame - out.len()));
                    *pos += out.len().min(file.len());
                    if out.len() == frame {
                        break;
                    }
                    *index = (*index + 1) % files.len();
                    *pos = 0;
                }
                out.resize(frame, 0);
                Some(out)
            }
        }
    }

    /// Moves the position by `ms` (negative: back); only file-like sources move.
    fn seek(&mut self, ms: i64, rate: u32) {
        let delta = ms * i64::from(rate) / 1000;
        match self {
            Self::Pcm { samples, pos } => {
                let target = (i64::try_from(*pos).unwrap_or(0) + delta).max(0);
                *pos = usize::try_from(target).unwrap_or(0).min(samples.len());
            }
            // Forward only, wrapping round the playlist (a music-on-hold class's
            // shared position).
            Self::Loop { files, index, pos } => {
                let total: usize = files.iter().map(|f| f.len()).sum();
                if total == 0 || delta <= 0 {
                    return;
                }
                let mut left = usize::try_from(delta).unwrap_or(0) % total;
                while let Some(file) = files.get(*index) {
                    let remaining = file.len().saturating_sub(*pos);
                    if left < remaining {
                        *pos += left;
                        return;
                    }
                    left -= remaining;
                    *index = (*index + 1) % files.len();
                    *pos = 0;
                }
            }
            Self::Tones(_) | Self::Silence(_) => {}
        }
    }

    fn restart(&mut self) {
        match self {
            Self::Pcm { pos, .. } => *pos = 0,
            Self::Loop { index, pos, .. } => (*index, *pos) = (0, 0),
            Self::Tones(_) | Self::Silence(_) => {}
        }
    }
}

/// A playback between two ticks of its clock: what it plays, where it is, whether it is
/// paused.
pub(super) struct Player {
    frames: Frames,
    /// Samples a frame, at `rate`.
    frame: usize,
    rate: u32,
    paused: bool,
}

impl Player {
    fn new(frames: Frames, rate: u32) -> Self {
        Self {
            frames,
            frame: usize::try_from(rate * PTIME_MS / 1000).unwrap_or(160),
            rate,
            paused: false,
        }
    }

    /// Applies a command; the playback's end when the command ends it.
    fn apply(&mut self, op: Control) -> Option<PlaybackEnd> {
        match op {
            Control::Stop => return Some(PlaybackEnd::Stopped),
            Control::Pause => self.paused = true,
            Control::Unpause => self.paused = false,
            Control::Restart => self.frames.restart(),
            Control::Seek(ms) => self.frames.seek(ms, self.rate),
        }
        None
    }

    /// The next frame; `None` once the source is exhausted.
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        self.frames.next(self.frame)
    }
}

/// A player ticked by an RTP shard, with its commands and where its end is told.
pub(super) struct Driven {
    player: Player,
    control: mpsc::UnboundedReceiver<Control>,
    done: Option<oneshot::Sender<PlaybackEnd>>,
}

impl Driven {
    /// One tick of the clock: the commands that came since, then the frame to send
    /// (`None` while paused), or the playback's end.
    pub(super) fn tick(&mut self) -> Result<Option<Vec<i16>>, PlaybackEnd> {
        loop {
            match self.control.try_recv() {
                Ok(op) => {
                    if let Some(end) = self.player.apply(op) {
                        return Err(end);
                    }
                }
                Err(TryRecvError::Empty) => break,
                // The handle is gone: nobody can stop it any more, so it stops now.
                Err(TryRecvError::Disconnected) => return Err(PlaybackEnd::Stopped),
            }
        }
        if self.player.paused {
            return Ok(None);
        }
        self.player
            .next_frame()
            .map(Some)
            .ok_or(PlaybackEnd::Completed)
    }

    /// Tells the playback's owner how it ended.
    pub(super) fn end(mut self, end: PlaybackEnd) {
        if let Some(done) = self.done.take() {
            let _ = done.send(end);
        }
    }
}

/// The decoded files, shared by all playbacks in the process.
static SOUNDS: std::sync::LazyLock<SoundCache> =
    std::sync::LazyLock::new(|| SoundCache::new(sound_cache::DEFAULT_BUDGET));

/// A file's samples at `rate`, from the cache (decoded on first use).
async fn load(path: PathBuf, rate: u32) -> Option<Arc<[i16]>> {
    SOUNDS.get(&path, rate, decode).await
}

/// Reads a WAV, or a raw `.ulaw`/`.alaw`/`.sln`/`.sln16` file, resampled to `rate`.
async fn decode(path: PathBuf, rate: u32) -> Option<Arc<[i16]>> {
    let read = tokio::task::spawn_blocking(move || {
        let raw = path
            .extension()
            .and_then(|e| e.to_str())
            .and_then(RawFormat::from_extension);
        match raw {
            Some(format) => crate::raw::read_raw(&path, format),
            None => wav::read_wav(&path),
        }
    })
    .await;
    match read {
        Ok(Ok(pcm)) => Some(Arc::from(resample(&pcm, rate))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "playback file unreadable");
            None
        }
        Err(_) => None,
    }
}

/// Loads the source, then hands the player to the leg's RTP shard or ticks it here.
async fn play(
    sink: Sink,
    source: Source,
    control: mpsc::UnboundedReceiver<Control>,
    done: oneshot::Sender<PlaybackEnd>,
) {
    let rate = sink.rate();
    let frames = match source {
        Source::Dtmf { digit, duration_ms } => {
            let end = match &sink {
                Sink::Leg(leg) => play_digit(leg, digit, duration_ms, control).await,
                Sink::Bridge(_) => PlaybackEnd::Failed,
            };
            return finish(&sink, done, end);
        }
        other => match frames_of(other, rate).await {
            Some(frames) => frames,
            None => return finish(&sink, done, PlaybackEnd::Failed),
        },
    };
    sink.set_playing(true);
    let player = Player::new(frames, rate);
    match &sink {
        Sink::Leg(leg) if leg.engine.shards.is_some() => leg.drive(Driven {
            player,
            control,
            done: Some(done),
        }),
        _ => {
            let end = tick_here(&sink, player, control).await;
            finish(&sink, done, end);
        }
    }
}

fn finish(sink: &Sink, done: oneshot::Sender<PlaybackEnd>, end: PlaybackEnd) {
    sink.set_playing(false);
    let _ = done.send(end);
}

/// What a source plays, frame by frame (`None`: unreadable, or a digit, which
/// [`play_digit`] sends).
async fn frames_of(source: Source, rate: u32) -> Option<Frames> {
    Some(match source {
        Source::Dtmf { .. } => return None,
        Source::File(path) => Frames::Pcm {
            samples: load(path, rate).await?,
            pos: 0,
        },
        Source::Loop(paths) => {
            let mut files = Vec::new();
            for path in paths {
                files.extend(load(path, rate).await);
            }
            if files.is_empty() {
                return None;
            }
            Frames::Loop {
                files,
                index: 0,
                pos: 0,
            }
        }
        Source::Pcm(pcm) => Frames::Pcm {
            samples: Arc::from(resample(&pcm, rate)),
            pos: 0,
        },
        Source::Tone { freqs, duration_ms } => {
            let mut samples = vec![0; samples_for(rate, duration_ms)];
            ToneGenerator::new(&freqs, 8000, rate).fill(&mut samples);
            Frames::Pcm {
                samples: Arc::from(samples),
                pos: 0,
            }
        }
        Source::Tones(plan) => Frames::Tones(TonePlayer::new(plan, rate)),
        Source::Silence { duration_ms } => {
            Frames::Silence(u64::from(duration_ms).div_ceil(u64::from(PTIME_MS)))
        }
    })
}

/// Ticks the player on an interval of this task: a command applies at once.
async fn tick_here(
    sink: &Sink,
    mut player: Player,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> PlaybackEnd {
    let mut clock = tokio::time::interval(Duration::from_millis(u64::from(PTIME_MS)));
    let mut pending: Option<Vec<i16>> = None;
    loop {
        // Commands first: one queued before the first frame (a start offset, or a stop
        // that came while the file was loading) applies before anything is sent.
        tokio::select! {
            biased;
            op = control.recv() => {
                let op = op.unwrap_or(Control::Stop);
                if matches!(op, Control::Restart | Control::Seek(_)) {
                    pending = None;
                }
                if let Some(end) = player.apply(op) {
                    return end;
                }
                continue;
            }
            _ = clock.tick() => {}
        }
        if player.paused {
            continue;
        }
        let pcm = match pending.take() {
            Some(pcm) => pcm,
            None => match player.next_frame() {
                Some(pcm) => pcm,
                None => return PlaybackEnd::Completed,
            },
        };
        match sink {
            Sink::Leg(leg) => leg.send_pcm(&pcm),
            // The mixer takes frames at its own pace; keep the frame for the next tick
            // while its queue is full.
            Sink::Bridge(queue) => {
                if !queue.push(pcm.clone()) {
                    pending = Some(pcm);
                }
            }
        }
    }
}

fn samples_for(rate: u32, duration_ms: u32) -> usize {
    usize::try_from(u64::from(rate) * u64::from(duration_ms) / 1000).unwrap_or(0)
}

fn resample(pcm: &Pcm, rate: u32) -> Vec<i16> {
    if pcm.sample_rate == rate {
        return pcm.samples.clone();
    }
    let mut out =
        Vec::with_capacity(pcm.samples.len() * rate as usize / pcm.sample_rate.max(1) as usize + 1);
    Resampler::new(pcm.sample_rate, rate).process(&pcm.samples, &mut out);
    out
}

async fn play_digit(
    leg: &Shared,
    digit: char,
    duration_ms: u32,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> PlaybackEnd {
    let Some(remote) = leg.state().rtp.remote() else {
        return PlaybackEnd::Failed;
    };
    if remote.dtmf_payload_type.is_none() {
        return PlaybackEnd::Failed;
    }
    let Some(packets) = rfc4733::digit_packets(digit, duration_ms, 8000) else {
        return PlaybackEnd::Failed;
    };
    leg.set_playing(true);
    let mut clock = tokio::time::interval(Duration::from_millis(u64::from(PTIME_MS)));
    let last = packets.len().saturating_sub(1);
    for (i, packet) in packets.iter().enumerate() {
        // The three end packets go out together; the rest one per frame.
        if i + 2 < last {
            tokio::select! {
                _ = clock.tick() => {}
                op = control.recv() => if matches!(op, Some(Control::Stop) | None) {
                    return PlaybackEnd::Stopped;
                },
            }
        }
        // Every packet of one event shares a timestamp; the stream advances after it.
        let advance = if i == last {
            (duration_ms * 8).max(codec_step())
        } else {
            0
        };
        leg.send_event(packet.marker, &packet.payload, advance);
    }
    PlaybackEnd::Completed
}

fn codec_step() -> u32 {
    8 * PTIME_MS
}
