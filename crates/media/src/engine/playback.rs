//! Audio generated into a leg — files, tones, silence, RFC 4733 digits — paced by the
//! media clock (one frame per 20 ms tick), never by how fast a file can be read.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::bridge::{AnnouncementQueue, BridgeShared, BRIDGE_RATE};
use super::leg::{Shared, PTIME_MS};
use crate::codec::Codec;
use crate::dtmf::rfc4733;
use crate::resample::Resampler;
use crate::rtp;
use crate::tone::ToneGenerator;
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
#[derive(Debug)]
pub struct Playback {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    done: Mutex<Option<oneshot::Receiver<PlaybackEnd>>>,
}

impl Playback {
    pub fn stop(&self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
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

pub(super) fn start(leg: Arc<Shared>, source: Source) -> Playback {
    let runtime = leg.engine.runtime.clone();
    spawn(&runtime, Sink::Leg(leg), source)
}

pub(super) fn start_in_bridge(bridge: Arc<BridgeShared>, source: Source) -> Playback {
    let runtime = bridge.engine.runtime.clone();
    spawn(&runtime, Sink::Bridge(bridge.announcement()), source)
}

fn spawn(runtime: &tokio::runtime::Handle, sink: Sink, source: Source) -> Playback {
    let (stop, stop_rx) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    runtime.spawn(async move {
        let end = play(&sink, source, stop_rx).await;
        sink.set_playing(false);
        let _ = done_tx.send(end);
    });
    Playback {
        stop: Mutex::new(Some(stop)),
        done: Mutex::new(Some(done)),
    }
}

async fn play(sink: &Sink, source: Source, mut stop: oneshot::Receiver<()>) -> PlaybackEnd {
    let rate = sink.rate();
    let frame = usize::try_from(rate * PTIME_MS / 1000).unwrap_or(160);
    let samples = match source {
        Source::Dtmf { digit, duration_ms } => {
            return match sink {
                Sink::Leg(leg) => play_digit(leg, digit, duration_ms, stop).await,
                Sink::Bridge(_) => PlaybackEnd::Failed,
            };
        }
        Source::File(path) => {
            let read =
                tokio::task::spawn_blocking(move || wav::read_wav(&path).map(|p| (p, path))).await;
            match read {
                Ok(Ok((pcm, _))) => resample(&pcm, rate),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "playback file unreadable");
                    return PlaybackEnd::Failed;
                }
                Err(_) => return PlaybackEnd::Failed,
            }
        }
        Source::Pcm(pcm) => resample(&pcm, rate),
        Source::Tone { freqs, duration_ms } => {
            let mut out = vec![0; samples_for(rate, duration_ms)];
            ToneGenerator::new(&freqs, 8000, rate).fill(&mut out);
            out
        }
        Source::Silence { duration_ms } => vec![0; samples_for(rate, duration_ms)],
    };
    sink.set_playing(true);
    let mut clock = tokio::time::interval(Duration::from_millis(u64::from(PTIME_MS)));
    for chunk in samples.chunks(frame.max(1)) {
        let mut pcm = chunk.to_vec();
        pcm.resize(frame, 0);
        loop {
            tokio::select! {
                _ = clock.tick() => {}
                _ = &mut stop => return PlaybackEnd::Stopped,
            }
            match sink {
                Sink::Leg(leg) => {
                    leg.send_pcm(&pcm);
                    break;
                }
                // The mixer takes frames at its own pace; wait a tick while it is full.
                Sink::Bridge(queue) => {
                    if queue.push(pcm.clone()) {
                        break;
                    }
                }
            }
        }
    }
    PlaybackEnd::Completed
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
    mut stop: oneshot::Receiver<()>,
) -> PlaybackEnd {
    let Some(remote) = leg.state().remote else {
        return PlaybackEnd::Failed;
    };
    let Some(pt) = remote.dtmf_payload_type else {
        return PlaybackEnd::Failed;
    };
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
                _ = &mut stop => return PlaybackEnd::Stopped,
            }
        }
        // Every packet of one event shares a timestamp; the stream advances after it.
        let advance = if i == last {
            (duration_ms * 8).max(codec_step())
        } else {
            0
        };
        let mut header = leg.state().out_next_local(pt, advance);
        header.marker = packet.marker;
        let mut bytes = Vec::with_capacity(16);
        rtp::write(&header, &packet.payload, &mut bytes);
        leg.send_raw(&bytes);
    }
    PlaybackEnd::Completed
}

fn codec_step() -> u32 {
    8 * PTIME_MS
}
