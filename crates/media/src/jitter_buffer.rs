//! Adaptive jitter buffer for one decoded incoming leg.
//!
//! Packets arrive late, early, out of order, twice or never, and the
//! sender's clock runs slightly faster or slower than ours; the media clock
//! nevertheless wants exactly one frame every tick. The buffer keeps decoded
//! frames in slots indexed by RTP timestamp and plays them out with a delay
//! that follows the measured jitter, within 2 to 10 frames.
//!
//! The target delay is the spread of the packets' transit times (arrival
//! minus RTP timestamp) over the last [`SPREAD_PACKETS`] packets, plus a
//! frame: exactly the extra delay that would have let every one of them play.
//! The RFC 3550 interarrival jitter is also computed, for statistics, but
//! not used for the target: it is a mean of consecutive transit differences,
//! so it overstates plain reordering (alternately swapped packets give twice
//! the swap distance) and understates rare spikes. The window is short
//! enough that a sender clock off by even 1% adds only a fraction of a frame.
//!
//! Sans-IO: the caller passes arrival and tick times from any monotonic
//! millisecond clock. Playout works like this:
//!
//! * The first packet (or the first after a long gap or a reset) starts a
//!   talk spurt: nothing plays until the buffer holds the target delay.
//! * A frame missing at its turn while later ones are buffered is lost:
//!   it is concealed and playout moves on.
//! * When the buffer runs dry the stream is late (jitter, or a sender
//!   clock slower than ours): a concealed frame is *inserted* and playout
//!   waits, so the late packet still plays. If it turns out that packets were
//!   lost instead, playout skips ahead by the frames already concealed.
//!   After [`GAP_FRAMES`] dry ticks the talk spurt is over: silence until the
//!   next packet starts a new one.
//! * Every [`ADJUST_WINDOW`] ticks the depth is compared with the target: a
//!   buffer that never dropped to the target (sender clock faster than ours,
//!   or the jitter went down) drops one frame; one that never reached it
//!   inserts one.
//! * A timestamp jump of more than [`MAX_JUMP_FRAMES`] (a new source, or the
//!   sender restarting its clock) resynchronises as a new talk spurt.
//!
//! Concealment repeats the last played frame, fading out over
//! [`FADE_FRAMES`] frames, then gives silence.

use std::collections::btree_map::{BTreeMap, Entry};
use std::collections::VecDeque;

/// Bounds of the target delay, in frames.
const MIN_TARGET_FRAMES: u32 = 2;
const MAX_TARGET_FRAMES: u32 = 10;
/// Packets (about a second's worth) over which the transit spread is taken.
const SPREAD_PACKETS: usize = 50;
/// Ticks over which the depth is watched before dropping or inserting a frame.
const ADJUST_WINDOW: u32 = 50;
/// Concealment frames (fading repeats of the last frame) before silence.
const FADE_FRAMES: u32 = 3;
/// Ticks with an empty buffer after which the talk spurt is over.
const GAP_FRAMES: u32 = 10;
/// A timestamp this many frames away from the playout point is a jump.
const MAX_JUMP_FRAMES: i64 = 50;
/// Sequence steps beyond these are a restart rather than loss or reordering
/// (as in [`crate::stats`]).
const MAX_DROPOUT: i64 = 3000;
const MAX_MISORDER: i64 = 100;
/// Sequence numbers remembered for duplicate detection.
const SEQ_WINDOW: i64 = 64;

/// What a frame returned by [`JitterBuffer::pop`] contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Received audio.
    Audio,
    /// Packet-loss concealment: the last frame repeated, fading out.
    Concealed,
    /// Silence: nothing received yet, a concealment that faded out, or the
    /// gap between talk spurts.
    Silence,
}

/// One output frame of exactly the configured number of samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub samples: Vec<i16>,
    pub kind: FrameKind,
}

/// Counters and current state of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JitterStats {
    /// The playout delay the buffer aims for.
    pub target_delay_ms: u32,
    /// Frame slots from the next one to play up to the newest buffered one.
    pub current_depth_frames: u32,
    /// Interarrival jitter estimate (RFC 3550 A.8), in milliseconds.
    pub jitter_ms: f64,
    /// Packets never received, from the sequence numbers.
    pub lost: u64,
    /// Frames that stood in for missing audio while playing (fading repeats
    /// and the silence they fade to, including inserted frames).
    pub concealed: u64,
    /// Packets that arrived after their turn to play.
    pub late_dropped: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Packets that arrived out of order and were put back in place.
    pub reordered: u64,
    /// Frames dropped or inserted to follow the target delay (clock drift,
    /// jitter changes).
    pub drift_adjustments: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing to play until a packet arrives.
    Idle,
    /// A talk spurt started (its first packet arrived at `since_ms`) and is
    /// filling up to the target delay.
    Buffering {
        since_ms: u64,
    },
    Playing,
}

/// How a packet's sequence number relates to the ones seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeqClass {
    /// Newer than any seen (or the start of a new sequence).
    New,
    /// Older than the newest, not seen before.
    Reordered,
    Duplicate,
    /// Too old to tell whether it is a duplicate; certainly late.
    TooOld,
}

/// Loss accounting and duplicate detection from sequence numbers, like
/// RFC 3550 A.1 with a bitmap of recently seen packets.
#[derive(Debug, Clone, Default)]
struct SeqTracker {
    /// Extended first and highest sequence numbers of the current stream.
    range: Option<(i64, i64)>,
    /// Bit `i` set: sequence number `highest - i` was received.
    seen: u64,
    received: u64,
    /// Losses of earlier streams (before a restart).
    earlier_lost: u64,
}

impl SeqTracker {
    fn on_packet(&mut self, seq: u16) -> SeqClass {
        let Some((first, highest)) = self.range else {
            self.start(seq);
            return SeqClass::New;
        };
        let delta = i64::from(seq.wrapping_sub(highest as u16) as i16);
        if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&delta) {
            self.restart(seq);
            return SeqClass::New;
        }
        if delta > 0 {
            self.seen = if delta >= SEQ_WINDOW {
                1
            } else {
                (self.seen << delta) | 1
            };
            self.range = Some((first, highest + delta));
            self.received += 1;
            return SeqClass::New;
        }
        let back = -delta;
        if back >= SEQ_WINDOW {
            return SeqClass::TooOld;
        }
        if self.seen & (1 << back) != 0 {
            return SeqClass::Duplicate;
        }
        self.seen |= 1 << back;
        self.received += 1;
        self.range = Some((first.min(highest + delta), highest));
        SeqClass::Reordered
    }

    fn start(&mut self, seq: u16) {
        let seq = i64::from(seq);
        self.range = Some((seq, seq));
        self.seen = 1;
        self.received = 1;
    }

    /// Starts a new sequence at `seq`, keeping the losses counted so far.
    fn restart(&mut self, seq: u16) {
        self.earlier_lost = self.lost();
        self.start(seq);
    }

    /// Forgets the current sequence: the next packet starts a new one.
    fn end(&mut self) {
        self.earlier_lost = self.lost();
        self.range = None;
    }

    fn lost(&self) -> u64 {
        let current = self.range.map_or(0, |(first, highest)| {
            let expected = (highest - first + 1) as u64;
            expected.saturating_sub(self.received)
        });
        self.earlier_lost + current
    }
}

/// Depth statistics over the current adjustment window.
#[derive(Debug, Clone, Copy)]
struct Window {
    ticks: u32,
    min: u32,
    max: u32,
}

impl Window {
    const EMPTY: Window = Window {
        ticks: 0,
        min: u32::MAX,
        max: 0,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adjust {
    Drop,
    Insert,
}

/// An adaptive jitter buffer producing one frame per media clock tick.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    clock_rate: u32,
    frame_ts: u32,
    frame_samples: usize,
    frame_ms: f64,
    state: State,
    /// Buffered frames by slot number; all at or after `next_slot`.
    frames: BTreeMap<i64, Vec<i16>>,
    /// Slot number and RTP timestamp of the next frame to play.
    next_slot: i64,
    next_ts: u32,
    /// Ticks concealed on an empty buffer without moving the playout point.
    held: u32,
    /// Consecutive frames concealed, for the fade-out.
    missing_run: u32,
    last_frame: Vec<i16>,
    window: Window,
    /// Interarrival jitter estimate in ms, and the previous packet's arrival
    /// time and timestamp.
    jitter_ms: f64,
    last_transit: Option<(u64, u32)>,
    /// Relative transit times (ms, arbitrary origin) of recent packets and
    /// their spread.
    transits: VecDeque<f64>,
    spread_ms: f64,
    seq: SeqTracker,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for a stream whose RTP timestamps run at `clock_rate`, with
    /// `frame_ts` timestamp units per frame (160 for 20 ms at 8 kHz) and
    /// `frame_samples` PCM samples per frame at the output rate. Packets
    /// must carry whole frames (a shorter remainder is padded with silence).
    pub fn new(clock_rate: u32, frame_ts: u32, frame_samples: usize) -> Self {
        let clock_rate = if clock_rate == 0 { 8000 } else { clock_rate };
        let frame_ts = frame_ts.max(1);
        JitterBuffer {
            clock_rate,
            frame_ts,
            frame_samples,
            frame_ms: f64::from(frame_ts) * 1000.0 / f64::from(clock_rate),
            state: State::Idle,
            frames: BTreeMap::new(),
            next_slot: 0,
            next_ts: 0,
            held: 0,
            missing_run: 0,
            last_frame: Vec::new(),
            window: Window::EMPTY,
            jitter_ms: 0.0,
            last_transit: None,
            transits: VecDeque::with_capacity(SPREAD_PACKETS + 1),
            spread_ms: 0.0,
            seq: SeqTracker::default(),
            stats: JitterStats::default(),
        }
    }

    /// Adds an arrived packet: its RTP sequence number and timestamp, its
    /// arrival time in ms, and its decoded audio (one or more frames).
    pub fn push(&mut self, seq: u16, timestamp: u32, arrival_ms: u64, pcm: Vec<i16>) {
        let class = self.seq.on_packet(seq);
        match class {
            SeqClass::Duplicate => {
                self.stats.duplicates += 1;
                return;
            }
            SeqClass::TooOld => {
                self.stats.late_dropped += 1;
                return;
            }
            SeqClass::New | SeqClass::Reordered => {}
        }
        if self.state == State::Idle {
            if class == SeqClass::Reordered {
                // A straggler of the talk spurt that already ended.
                self.stats.late_dropped += 1;
                return;
            }
            self.resync(timestamp, arrival_ms);
        }
        let mut offset = self.slot_offset(timestamp);
        if offset > MAX_JUMP_FRAMES || (offset < -MAX_JUMP_FRAMES && class == SeqClass::New) {
            tracing::debug!(offset, "jitter buffer: timestamp jump, resynchronising");
            self.seq.restart(seq);
            self.forget_timing();
            self.resync(timestamp, arrival_ms);
            offset = 0;
        }
        self.update_jitter(timestamp, arrival_ms);

        let buffering = matches!(self.state, State::Buffering { .. });
        if buffering && offset < 0 && -offset <= i64::from(MAX_TARGET_FRAMES) {
            // An earlier packet of a spurt that has not started playing:
            // start from it instead.
            self.move_playout(offset);
            offset = 0;
        }
        if self.held > 0 && offset >= 0 {
            // The buffer ran dry and `held` frames were concealed in place.
            // If this packet is ahead, those frames stood in for lost ones.
            let skip = offset.min(i64::from(self.held));
            self.stats.drift_adjustments += u64::from(self.held) - skip as u64;
            self.move_playout(skip);
            offset -= skip;
            self.held = 0;
        }

        let frame_samples = self.frame_samples.max(1);
        let count = pcm.len().div_ceil(frame_samples).max(1);
        let count = count.min(MAX_JUMP_FRAMES as usize);
        let first_slot = self.next_slot + offset;
        let (mut stored, mut late) = (false, false);
        for k in 0..count {
            let slot = first_slot + k as i64;
            if slot < self.next_slot {
                late = true;
                continue;
            }
            if let Entry::Vacant(e) = self.frames.entry(slot) {
                let start = (k * frame_samples).min(pcm.len());
                let end = (start + self.frame_samples).min(pcm.len());
                let mut frame = pcm[start..end].to_vec();
                frame.resize(self.frame_samples, 0);
                e.insert(frame);
                stored = true;
            }
        }
        if stored {
            if class == SeqClass::Reordered {
                self.stats.reordered += 1;
            }
        } else if late {
            self.stats.late_dropped += 1;
        } else {
            // Another packet already filled these slots.
            self.stats.duplicates += 1;
        }
    }

    /// The next frame, called once per media clock tick: received audio,
    /// concealment of a missing frame, or silence before the first packet
    /// and between talk spurts.
    pub fn pop(&mut self, now_ms: u64) -> Frame {
        let target = self.target_frames();
        match self.state {
            State::Idle => return self.silence(),
            State::Buffering { since_ms } => {
                let waited = now_ms.saturating_sub(since_ms) as f64;
                if self.depth() < target && waited < f64::from(target) * self.frame_ms {
                    return self.silence();
                }
                self.state = State::Playing;
            }
            State::Playing => {}
        }

        let depth = self.depth();
        if depth == 0 {
            self.held += 1;
            self.window = Window::EMPTY;
            if self.held > GAP_FRAMES {
                self.state = State::Idle;
                self.held = 0;
                return self.silence();
            }
            return self.conceal();
        }

        match self.observe_depth(depth, target) {
            Some(Adjust::Drop) => {
                self.stats.drift_adjustments += 1;
                self.frames.remove(&self.next_slot);
                self.move_playout(1);
            }
            Some(Adjust::Insert) => {
                self.stats.drift_adjustments += 1;
                return self.conceal();
            }
            None => {}
        }

        let frame = self.frames.remove(&self.next_slot);
        self.move_playout(1);
        match frame {
            Some(samples) => {
                self.missing_run = 0;
                self.last_frame.clone_from(&samples);
                Frame {
                    samples,
                    kind: FrameKind::Audio,
                }
            }
            None => self.conceal(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        JitterStats {
            target_delay_ms: (f64::from(self.target_frames()) * self.frame_ms).round() as u32,
            current_depth_frames: self.depth(),
            jitter_ms: self.jitter_ms,
            lost: self.seq.lost(),
            ..self.stats
        }
    }

    /// Drops all buffered audio and the playout and sequence state, e.g.
    /// when the remote source changes: the next packet starts afresh. The
    /// counters are kept.
    pub fn reset(&mut self) {
        self.frames.clear();
        self.state = State::Idle;
        self.held = 0;
        self.missing_run = 0;
        self.last_frame.clear();
        self.window = Window::EMPTY;
        self.forget_timing();
        self.seq.end();
    }

    /// Forgets the transit history: the next packet is from a new source.
    fn forget_timing(&mut self) {
        self.last_transit = None;
        self.transits.clear();
        self.spread_ms = 0.0;
    }

    /// Starts a talk spurt at `timestamp`.
    fn resync(&mut self, timestamp: u32, arrival_ms: u64) {
        self.frames.clear();
        self.next_ts = timestamp;
        self.held = 0;
        self.window = Window::EMPTY;
        self.state = State::Buffering {
            since_ms: arrival_ms,
        };
    }

    /// Slots from the playout point to `timestamp`'s, rounded.
    fn slot_offset(&self, timestamp: u32) -> i64 {
        let diff = i64::from(timestamp.wrapping_sub(self.next_ts) as i32);
        let frame = i64::from(self.frame_ts);
        (diff + frame / 2).div_euclid(frame)
    }

    /// Moves the playout point by `slots` (either way).
    fn move_playout(&mut self, slots: i64) {
        self.next_slot += slots;
        let ts_delta = (slots as u32).wrapping_mul(self.frame_ts);
        self.next_ts = self.next_ts.wrapping_add(ts_delta);
    }

    fn depth(&self) -> u32 {
        self.frames
            .last_key_value()
            .map_or(0, |(&last, _)| (last - self.next_slot + 1).max(0) as u32)
    }

    fn target_frames(&self) -> u32 {
        let frames = (self.spread_ms / self.frame_ms).ceil() + 1.0;
        (frames as u32).clamp(MIN_TARGET_FRAMES, MAX_TARGET_FRAMES)
    }

    /// Updates the transit spread and the RFC 3550 A.8 jitter, in ms.
    /// Packets repeating the previous timestamp carry no timing information.
    fn update_jitter(&mut self, timestamp: u32, arrival_ms: u64) {
        let transit = match self.last_transit {
            Some((_, last_ts)) if timestamp == last_ts => return,
            Some((last_arrival, last_ts)) => {
                let ts_ms = f64::from(timestamp.wrapping_sub(last_ts) as i32) * 1000.0
                    / f64::from(self.clock_rate);
                let d = (arrival_ms as f64 - last_arrival as f64) - ts_ms;
                self.jitter_ms += (d.abs() - self.jitter_ms) / 16.0;
                self.transits.back().map_or(0.0, |&last| last + d)
            }
            None => 0.0,
        };
        self.last_transit = Some((arrival_ms, timestamp));
        self.transits.push_back(transit);
        if self.transits.len() > SPREAD_PACKETS {
            self.transits.pop_front();
        }
        let (min, max) = self
            .transits
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        self.spread_ms = max - min;
    }

    /// Records the depth of one tick; at the end of a window, says whether
    /// to drop or insert a frame.
    fn observe_depth(&mut self, depth: u32, target: u32) -> Option<Adjust> {
        let w = &mut self.window;
        w.ticks += 1;
        w.min = w.min.min(depth);
        w.max = w.max.max(depth);
        if w.ticks < ADJUST_WINDOW {
            return None;
        }
        let adjust = if w.min > target {
            Some(Adjust::Drop)
        } else if w.max < target {
            Some(Adjust::Insert)
        } else {
            None
        };
        self.window = Window::EMPTY;
        adjust
    }

    /// A concealment frame: the last frame repeated with a gain ramping
    /// down by 1/FADE_FRAMES per frame, then silence.
    fn conceal(&mut self) -> Frame {
        self.stats.concealed += 1;
        self.missing_run += 1;
        if self.missing_run > FADE_FRAMES || self.last_frame.is_empty() {
            return self.silence();
        }
        let fade = f64::from(FADE_FRAMES);
        let from = 1.0 - f64::from(self.missing_run - 1) / fade;
        let to = 1.0 - f64::from(self.missing_run) / fade;
        let n = self.last_frame.len() as f64;
        let samples = self
            .last_frame
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let gain = from + (to - from) * (i as f64 + 1.0) / n;
                (f64::from(s) * gain).round() as i16
            })
            .collect();
        Frame {
            samples,
            kind: FrameKind::Concealed,
        }
    }

    fn silence(&self) -> Frame {
        Frame {
            samples: vec![0; self.frame_samples],
            kind: FrameKind::Silence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = 160;

    /// A frame whose samples identify the packet it came from.
    fn frame(n: u16) -> Vec<i16> {
        vec![n as i16 + 1; FRAME]
    }

    fn id(f: &Frame) -> Option<u16> {
        (f.kind == FrameKind::Audio).then(|| (f.samples[0] - 1) as u16)
    }

    /// Deterministic pseudo-random numbers in 0..1.
    struct Lcg(u32);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f64::from(self.0 >> 8) / f64::from(1u32 << 24)
        }
    }

    /// Runs a stream of `count` 20 ms packets (starting at seq 100, ts 1000)
    /// through a buffer: `arrival(n)` gives packet n's arrival time or None
    /// for a lost packet; the buffer is popped every 20 ms for `ticks`
    /// ticks, after the arrivals due by then. Returns the frames.
    fn run(
        jb: &mut JitterBuffer,
        count: u16,
        ticks: u64,
        arrival: impl Fn(u16) -> Option<u64>,
    ) -> Vec<Frame> {
        let mut packets: Vec<(u64, u16)> = (0..count)
            .filter_map(|n| arrival(n).map(|t| (t, n)))
            .collect();
        packets.sort();
        let mut next = 0;
        let mut out = Vec::new();
        for tick in 0..ticks {
            let now = tick * 20 + 10;
            while next < packets.len() && packets[next].0 <= now {
                let (t, n) = packets[next];
                jb.push(100 + n, 1000 + u32::from(n) * 160, t, frame(n));
                next += 1;
            }
            out.push(jb.pop(now));
        }
        out
    }

    fn audio_ids(frames: &[Frame]) -> Vec<u16> {
        frames.iter().filter_map(id).collect()
    }

    #[test]
    fn in_order() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        assert_eq!(jb.pop(0).kind, FrameKind::Silence);
        let out = run(&mut jb, 50, 50, |n| Some(u64::from(n) * 20));
        assert!(out.iter().all(|f| f.samples.len() == FRAME));
        let first = out.iter().position(|f| f.kind == FrameKind::Audio).unwrap();
        assert!(first <= 2, "{first}");
        assert!(out[..first].iter().all(|f| f.kind == FrameKind::Silence));
        assert_eq!(
            audio_ids(&out),
            (0..(50 - first as u16)).collect::<Vec<_>>()
        );
        let s = jb.stats();
        assert_eq!(s.target_delay_ms, 40);
        assert_eq!(
            (
                s.lost,
                s.concealed,
                s.late_dropped,
                s.duplicates,
                s.reordered
            ),
            (0, 0, 0, 0, 0)
        );
        assert_eq!(s.drift_adjustments, 0);
        assert_eq!(s.current_depth_frames, first as u32);
    }

    #[test]
    fn reordered_packets_are_put_back_in_order() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        // Pairs swapped: 1 arrives before 0, 3 before 2, ... (by 5 ms).
        // (Popping stops before the stream's end would drain the buffer.)
        let out = run(&mut jb, 40, 40, |n| {
            let t = u64::from(n) * 20 + 5;
            Some(if n % 2 == 0 { t + 20 } else { t - 20 })
        });
        let ids = audio_ids(&out);
        assert_eq!(ids, (0..ids.len() as u16).collect::<Vec<_>>());
        assert!(ids.len() >= 36, "{}", ids.len());
        let s = jb.stats();
        assert_eq!(s.reordered, 20);
        assert_eq!((s.lost, s.late_dropped, s.concealed), (0, 0, 0));
    }

    #[test]
    fn loss_is_concealed_then_silent() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        let out = run(&mut jb, 40, 41, |n| {
            (!(10..17).contains(&n)).then_some(u64::from(n) * 20)
        });
        let ids = audio_ids(&out);
        let expected: Vec<u16> = (0..10).chain(17..ids[ids.len() - 1] + 1).collect();
        assert_eq!(ids, expected);
        // The seven missing frames play as three fading repeats of frame 9,
        // then silence, in their place.
        let gap = out.iter().position(|f| id(f) == Some(9)).unwrap() + 1;
        let kinds: Vec<FrameKind> = out[gap..gap + 8].iter().map(|f| f.kind).collect();
        use FrameKind::*;
        assert_eq!(
            kinds,
            [Concealed, Concealed, Concealed, Silence, Silence, Silence, Silence, Audio]
        );
        let peak = |f: &Frame| f.samples.iter().map(|s| s.abs()).max().unwrap();
        assert_eq!(peak(&out[gap]), 10);
        assert!(peak(&out[gap + 1]) < 10 && peak(&out[gap + 2]) < peak(&out[gap + 1]));
        assert_eq!(*out[gap + 2].samples.last().unwrap(), 0);
        assert_eq!(id(&out[gap + 7]), Some(17));
        let s = jb.stats();
        assert_eq!((s.lost, s.concealed, s.late_dropped), (7, 7, 0));
        assert_eq!(s.drift_adjustments, 0);
    }

    #[test]
    fn long_gap_ends_the_talk_spurt() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        // Talk spurt, 1 s of silence suppression, another spurt whose
        // timestamps continue with the sender's clock.
        let out = run(&mut jb, 150, 150, |n| {
            (!(40..90).contains(&n)).then_some(u64::from(n) * 20)
        });
        let ids = audio_ids(&out);
        assert_eq!(&ids[..40], (0..40).collect::<Vec<_>>().as_slice());
        assert_eq!(ids[40], 90);
        assert_eq!(ids.len(), 40 + usize::from(*ids.last().unwrap()) - 89);
        let s = jb.stats();
        assert_eq!(s.concealed, u64::from(GAP_FRAMES));
        // Sequence numbers 40..90 were really sent and lost here.
        assert_eq!(s.lost, 50);
    }

    #[test]
    fn duplicates_and_late_packets_are_dropped() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        let mut out = run(&mut jb, 8, 8, |n| Some(u64::from(n) * 20));
        // Frames 0-6 played, 7 buffered: duplicates of a buffered packet and
        // of a played one.
        jb.push(107, 1000 + 7 * 160, 161, vec![999; FRAME]);
        jb.push(101, 1000 + 160, 162, vec![999; FRAME]);
        // Packet 10 arrives 35 ms late, after frame 10 was concealed.
        for tick in 8..14u64 {
            let now = tick * 20 + 10;
            if tick != 10 {
                let n = tick as u16;
                jb.push(100 + n, 1000 + u32::from(n) * 160, now - 10, frame(n));
            }
            if tick == 12 {
                jb.push(110, 1000 + 10 * 160, now - 5, frame(10));
            }
            out.push(jb.pop(now));
        }
        assert_eq!(audio_ids(&out), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
        assert_eq!(out[11].kind, FrameKind::Concealed);
        assert!(out.iter().all(|f| !f.samples.contains(&999)));
        let s = jb.stats();
        assert_eq!((s.duplicates, s.late_dropped, s.concealed), (2, 1, 1));
        assert_eq!((s.lost, s.reordered), (0, 0));
    }

    /// A sender clock 1% off ours, for 60 s: the buffer drops (fast
    /// sender) or inserts (slow sender) about one frame per 100 and its
    /// depth stays near the target.
    #[test]
    fn clock_drift_keeps_depth_bounded() {
        for (interval, dropping) in [(19.8, true), (20.2, false)] {
            let mut jb = JitterBuffer::new(8000, 160, FRAME);
            let count = (60_000.0 / interval) as u16;
            let mut max_depth = 0;
            let mut frames = Vec::new();
            let mut packets = (0..count).map(|n| ((f64::from(n) * interval) as u64, n));
            let mut pending = packets.next();
            for tick in 0..3000u64 {
                let now = tick * 20 + 10;
                while let Some((t, n)) = pending.filter(|&(t, _)| t <= now) {
                    jb.push(n, u32::from(n) * 160, t, frame(n));
                    pending = packets.next();
                }
                frames.push(jb.pop(now));
                max_depth = max_depth.max(jb.stats().current_depth_frames);
            }
            let s = jb.stats();
            assert!(max_depth <= 5, "{interval}: depth {max_depth}");
            assert!(
                (20..=40).contains(&s.drift_adjustments),
                "{interval}: {} adjustments",
                s.drift_adjustments
            );
            assert_eq!((s.lost, s.late_dropped), (0, 0), "{interval}");
            let ids = audio_ids(&frames);
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            let played = ids.len() as u64;
            if dropping {
                // Every frame played, dropped or still buffered; none
                // concealed.
                assert_eq!(s.concealed, 0, "{interval}");
                let buffered = u64::from(s.current_depth_frames);
                assert_eq!(played + s.drift_adjustments + buffered, u64::from(count));
            } else {
                // Every frame played, in order; the inserted ones concealed.
                assert!(s.concealed >= s.drift_adjustments);
                assert_eq!(ids, (0..played as u16).collect::<Vec<_>>());
            }
        }
    }

    /// 20 s of arrivals delayed by 0-80 ms at random, then 20 s without
    /// jitter: the target delay goes up, late losses stop once it has, and
    /// it comes back down afterwards.
    #[test]
    fn target_delay_follows_jitter() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        let mut rng = Lcg(7);
        let delays: Vec<u64> = (0..2000)
            .map(|n| {
                if n < 1000 {
                    (rng.next() * 80.0) as u64
                } else {
                    0
                }
            })
            .collect();
        let mut late_at_5s = 0;
        let mut max_target = 0;
        let mut packets: Vec<(u64, u16)> = (0..2000u16)
            .map(|n| (u64::from(n) * 20 + delays[usize::from(n)], n))
            .collect();
        packets.sort();
        let mut next = 0;
        for tick in 0..2000u64 {
            let now = tick * 20 + 10;
            while next < packets.len() && packets[next].0 <= now {
                let (t, n) = packets[next];
                jb.push(n, u32::from(n) * 160, t, frame(n));
                next += 1;
            }
            jb.pop(now);
            let s = jb.stats();
            if tick == 250 {
                late_at_5s = s.late_dropped;
            }
            if tick == 1000 {
                assert!(s.jitter_ms > 15.0, "{}", s.jitter_ms);
                // The last 15 s of jitter cost hardly any late packets.
                assert!(s.late_dropped - late_at_5s <= 10, "{s:?}");
            }
            max_target = max_target.max(s.target_delay_ms);
        }
        let s = jb.stats();
        assert!(max_target >= 100, "{max_target}");
        assert!(s.reordered > 0);
        assert_eq!(s.target_delay_ms, 40, "{s:?}");
        assert!(s.current_depth_frames <= 3, "{s:?}");
        assert_eq!(s.lost, 0);
    }

    #[test]
    fn timestamp_jump_resynchronises() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        let mut out = run(&mut jb, 20, 20, |n| Some(u64::from(n) * 20));
        // A new source: unrelated sequence numbers and timestamps.
        for k in 0..20u16 {
            let now = (20 + u64::from(k)) * 20 + 10;
            jb.push(
                40_000 + k,
                3_000_000_000 + u32::from(k) * 160,
                now - 10,
                frame(500 + k),
            );
            out.push(jb.pop(now));
        }
        let ids = audio_ids(&out);
        let first_new = ids.iter().position(|&n| n >= 500).unwrap();
        assert!(ids[..first_new].iter().all(|&n| n < 20));
        assert_eq!(ids[first_new], 500);
        assert!(ids[first_new..].windows(2).all(|w| w[1] == w[0] + 1));
        let s = jb.stats();
        assert_eq!((s.lost, s.late_dropped), (0, 0));

        // After a reset, the old stream's timestamps are welcome again.
        jb.reset();
        assert_eq!(jb.pop(1000).kind, FrameKind::Silence);
        jb.push(5, 1000, 1000, frame(5));
        jb.push(6, 1160, 1020, frame(6));
        assert_eq!(id(&jb.pop(1030)), Some(5));
        assert_eq!(jb.stats().current_depth_frames, 1);
    }

    #[test]
    fn multi_frame_packets_and_odd_input() {
        let mut jb = JitterBuffer::new(8000, 160, FRAME);
        let mut two = frame(1);
        two.extend(frame(2));
        jb.push(1, 0, 0, two);
        // A short packet is padded; an empty one is a silent frame.
        jb.push(2, 320, 40, vec![7; 10]);
        jb.push(3, 480, 60, Vec::new());
        let out: Vec<Frame> = (0..5).map(|k| jb.pop(60 + k * 20)).collect();
        assert_eq!(id(&out[0]), Some(1));
        assert_eq!(id(&out[1]), Some(2));
        assert_eq!(&out[2].samples[..11], &[7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0]);
        assert_eq!(out[3].samples, vec![0; FRAME]);
        assert_eq!(out[3].kind, FrameKind::Audio);
        assert_eq!(out[4].kind, FrameKind::Concealed);
        // Degenerate configuration does not panic.
        let mut odd = JitterBuffer::new(0, 0, 0);
        odd.push(0, 0, 0, vec![1, 2, 3]);
        odd.push(0, 0, 0, vec![1, 2, 3]);
        for t in 0..5 {
            assert!(odd.pop(t * 20).samples.is_empty());
        }
    }
}
