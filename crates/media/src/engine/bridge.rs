//! Mixing bridges: every party hears all the others and never itself, each on its own
//! codec and rate. The bridge runs on the media clock: each 20 ms tick it takes one
//! frame from every member's jitter buffer, mixes (minus each member's own audio),
//! and sends each member its frame. Announcements (playback into the bridge) are mixed
//! in as extra parties that hear nothing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::leg::{Leg, Shared as LegShared, PTIME_MS};
use super::playback::{self, Playback, Source};
use super::EngineInner;
use crate::mixer::Mixer;
use crate::resample::Resampler;

/// The bridge's internal rate: wideband, so G.722 members keep their bandwidth.
pub(super) const BRIDGE_RATE: u32 = 16_000;
const FRAME: usize = (BRIDGE_RATE * PTIME_MS / 1000) as usize;
/// Frames an announcement may queue ahead of the mixer (its own clock and ours drift).
const ANNOUNCEMENT_DEPTH: usize = 3;

struct Member {
    leg: Arc<LegShared>,
    /// False for a listener (holding bridges): it hears the mix but adds nothing.
    speaks: bool,
    to_bridge: Resampler,
    from_bridge: Resampler,
}

#[derive(Default)]
struct Announcement {
    frames: VecDeque<Vec<i16>>,
}

pub(super) struct BridgeShared {
    pub(super) engine: Arc<EngineInner>,
    members: Mutex<Vec<Member>>,
    announcements: Mutex<Vec<Weak<Mutex<Announcement>>>>,
    taps: Mutex<Vec<mpsc::Sender<Vec<i16>>>>,
}

impl BridgeShared {
    fn members(&self) -> MutexGuard<'_, Vec<Member>> {
        self.members
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A queue a playback fills and the mixer drains; dropped with the playback.
    pub(super) fn announcement(&self) -> AnnouncementQueue {
        let queue = Arc::new(Mutex::new(Announcement::default()));
        if let Ok(mut list) = self.announcements.lock() {
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&queue));
        }
        AnnouncementQueue { queue }
    }
}

/// The producer side of an announcement.
pub(super) struct AnnouncementQueue {
    queue: Arc<Mutex<Announcement>>,
}

impl AnnouncementQueue {
    /// Queues a frame at the bridge rate; false while the queue is full (the caller
    /// waits a tick), so an announcement is paced by the mixer's clock.
    pub(super) fn push(&self, frame: Vec<i16>) -> bool {
        let Ok(mut a) = self.queue.lock() else {
            return true;
        };
        if a.frames.len() >= ANNOUNCEMENT_DEPTH {
            return false;
        }
        a.frames.push_back(frame);
        true
    }
}

/// A mixing bridge in the media engine. Cloning shares it; [`MixBridge::close`] ends it.
#[derive(Clone)]
pub struct MixBridge {
    shared: Arc<BridgeShared>,
    task: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
}

impl std::fmt::Debug for MixBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixBridge")
            .field("members", &self.shared.members().len())
            .finish()
    }
}

impl MixBridge {
    pub(super) fn open(engine: Arc<EngineInner>) -> Self {
        let shared = Arc::new(BridgeShared {
            engine: engine.clone(),
            members: Mutex::default(),
            announcements: Mutex::default(),
            taps: Mutex::default(),
        });
        let task = engine.runtime.spawn(run(shared.clone())).abort_handle();
        Self {
            shared,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    /// Adds a leg: from now on its audio is decoded into its jitter buffer and it hears
    /// the mix of the others.
    pub fn add(&self, leg: &Leg) {
        self.join(leg, true);
    }

    /// Adds a leg that hears the bridge (announcements, music) but is not heard.
    pub fn add_listener(&self, leg: &Leg) {
        self.join(leg, false);
    }

    fn join(&self, leg: &Leg, speaks: bool) {
        let shared = leg.shared();
        let mut members = self.shared.members();
        // Already in: keep its jitter buffer and resampler state (no glitch).
        if let Some(member) = members
            .iter_mut()
            .find(|m| Arc::ptr_eq(&m.leg, shared) && m.leg.in_mixer(&self.shared))
        {
            member.speaks = speaks;
            return;
        }
        // A stale entry (the leg went to another mixer meanwhile) is replaced.
        members.retain(|m| !Arc::ptr_eq(&m.leg, shared));
        let rate = shared.codec().map_or(8000, |c| c.sample_rate());
        shared.enter_mixer(Arc::downgrade(&self.shared));
        members.push(Member {
            leg: shared.clone(),
            speaks,
            to_bridge: Resampler::new(rate, BRIDGE_RATE),
            from_bridge: Resampler::new(BRIDGE_RATE, rate),
        });
    }

    pub fn remove(&self, leg: &Leg) {
        let shared = leg.shared();
        self.shared
            .members()
            .retain(|m| !Arc::ptr_eq(&m.leg, shared));
        shared.leave_mixer(&self.shared);
    }

    pub fn len(&self) -> usize {
        self.shared.members().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Plays into the bridge: every member hears it.
    pub fn play(&self, source: Source) -> Playback {
        self.play_from(source, 0)
    }

    /// Plays into the bridge starting `offset_ms` into `source`.
    pub fn play_from(&self, source: Source, offset_ms: i64) -> Playback {
        playback::start_in_bridge(self.shared.clone(), source, offset_ms)
    }

    /// The full mix, one 20 ms frame at [`MixBridge::rate`] per message, for recording.
    /// A tap that falls behind loses frames rather than slowing the bridge.
    pub fn tap(&self) -> mpsc::Receiver<Vec<i16>> {
        let (tx, rx) = mpsc::channel(50);
        if let Ok(mut taps) = self.shared.taps.lock() {
            taps.push(tx);
        }
        rx
    }

    pub fn rate(&self) -> u32 {
        BRIDGE_RATE
    }

    /// Ends the bridge; its members go back to sending nowhere.
    pub fn close(&self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        let members = std::mem::take(&mut *self.shared.members());
        for member in members {
            member.leg.leave_mixer(&self.shared);
        }
    }
}

async fn run(bridge: Arc<BridgeShared>) {
    let mut clock = tokio::time::interval(Duration::from_millis(u64::from(PTIME_MS)));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut mixer = Mixer::new(BRIDGE_RATE, FRAME);
    loop {
        clock.tick().await;
        tick(&bridge, &mut mixer);
    }
}

fn tick(bridge: &BridgeShared, mixer: &mut Mixer) {
    let mut members = bridge.members();
    // A leg that joined another mixer since (its channel moved bridges) is not ours.
    members.retain(|m| m.leg.in_mixer(bridge));
    let announcements: Vec<Vec<i16>> = bridge
        .announcements
        .lock()
        .map(|list| {
            list.iter()
                .filter_map(Weak::upgrade)
                .filter_map(|a| a.lock().ok()?.frames.pop_front())
                .collect()
        })
        .unwrap_or_default();
    let mut frames: Vec<Option<Vec<i16>>> = Vec::with_capacity(members.len() + announcements.len());
    for member in members.iter_mut() {
        // Listeners' audio is drained (and tapped) but not mixed.
        let pcm = member.leg.pop_jitter().filter(|_| member.speaks);
        frames.push(pcm.map(|pcm| {
            let mut wide = Vec::with_capacity(FRAME);
            member.to_bridge.process(&pcm, &mut wide);
            wide.resize(FRAME, 0);
            wide
        }));
    }
    frames.extend(announcements.into_iter().map(|mut a| {
        a.resize(FRAME, 0);
        Some(a)
    }));
    let inputs: Vec<Option<&[i16]>> = frames.iter().map(|f| f.as_deref()).collect();
    let output = mixer.mix(&inputs);
    for (member, heard) in members.iter_mut().zip(&output.per_party) {
        let mut pcm = Vec::with_capacity(FRAME);
        member.from_bridge.process(heard, &mut pcm);
        member.leg.send_mixed(&pcm);
    }
    drop(members);
    if let Ok(mut taps) = bridge.taps.lock() {
        taps.retain(|tap| {
            !matches!(
                tap.try_send(output.full.clone()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }
}
