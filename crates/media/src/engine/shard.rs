//! The UDP shell of the legs: a few threads (shards), each waiting on one epoll set of
//! its legs' sockets, reading a datagram from each ready socket and handing it to the
//! leg's logic, which relays it straight out of the peer leg's socket. No task, timer,
//! channel or allocation per packet; the time is read once per wake-up.
//!
//! A shard is also the media clock of the playbacks it is handed (`Playing`): each leg
//! gets one frame every 20 ms, the legs ticked in four groups 5 ms apart.
//!
//! This is the port-per-leg side of the design choice (see [`super`]): every leg keeps
//! its own RTP/RTCP port pair, as phones, SBCs and NAT latching expect, and the cost
//! over shared sockets is one `recvfrom` and one `sendto` per packet instead of a share
//! of a `recvmmsg`/`sendmmsg` batch.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::epoll::{Epoll, EventFd, Events, TimerFd};
use super::leg::{self, Shared, PTIME_MS, RTCP_INTERVAL};
use super::load::LoadMeter;
use super::net::LegSocket;
use crate::MediaError;

/// The token of a shard's own eventfd (socket tokens are file descriptors).
const WAKER: u64 = u64::MAX;
/// The token of its playback clock.
const CLOCK: u64 = u64::MAX - 1;
/// Readiness events taken per `epoll_wait`.
const BATCH: usize = 256;
/// Groups of playing legs a shard ticks in turn, one every 20 ms / PHASES.
const PHASES: usize = 4;
/// How often a shard looks for RTCP reports that are due.
const REPORT_SWEEP: Duration = Duration::from_millis(250);

enum Command {
    Add(Arc<Shared>),
    Remove(Arc<Shared>),
    /// The leg has a playback to tick.
    Play(Arc<Shared>),
}

struct Shard {
    commands: mpsc::Sender<Command>,
    waker: Arc<EventFd>,
    /// The thread's busy share of the last second, in thousandths.
    load: Arc<AtomicU32>,
    /// Legs handed to it and not yet removed.
    legs: AtomicUsize,
}

impl Shard {
    fn send(&self, command: Command) -> Result<(), MediaError> {
        self.commands
            .send(command)
            .map_err(|_| MediaError::Engine("RTP shard thread has stopped".into()))?;
        self.waker.wake();
        Ok(())
    }
}

/// The engine's RTP shards; a new leg goes to the one with the fewest legs.
pub(super) struct Shards {
    shards: Vec<Shard>,
    /// Round-robin over the shards for playbacks (any shard can tick any leg).
    next_player: AtomicUsize,
}

impl Shards {
    /// Starts `count` shard threads.
    pub(super) fn start(count: usize) -> Result<Self, MediaError> {
        let shards = (0..count.max(1))
            .map(|index| {
                let epoll = Epoll::new()?;
                let waker = Arc::new(EventFd::new()?);
                epoll.add(waker.raw(), WAKER)?;
                let (commands, inbox) = mpsc::channel();
                let thread_waker = waker.clone();
                let load = Arc::new(AtomicU32::new(0));
                let meter = LoadMeter::new(load.clone(), Instant::now());
                std::thread::Builder::new()
                    .name("media-rtp".into())
                    .spawn(move || run(index, &epoll, &thread_waker, &inbox, meter))?;
                Ok(Shard {
                    commands,
                    waker,
                    load,
                    legs: AtomicUsize::new(0),
                })
            })
            .collect::<Result<Vec<_>, MediaError>>()?;
        Ok(Self {
            shards,
            next_player: AtomicUsize::new(0),
        })
    }

    /// Hands a leg with UDP sockets to a shard; returns which, for [`Shards::remove`].
    pub(super) fn add(&self, leg: Arc<Shared>) -> Result<usize, MediaError> {
        let index = self
            .shards
            .iter()
            .enumerate()
            .min_by_key(|(_, shard)| shard.legs.load(Ordering::Relaxed))
            .map_or(0, |(index, _)| index);
        self.add_to(index, leg)?;
        Ok(index)
    }

    /// Has a shard tick the playbacks of `leg` until none is left.
    pub(super) fn play(&self, leg: Arc<Shared>) {
        let index = self.next_player.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        if let Some(shard) = self.shards.get(index) {
            // A stopped shard: the playback's owner hears Stopped when the leg closes.
            let _ = shard.send(Command::Play(leg));
        }
    }

    /// How many legs shard `index` serves.
    pub(super) fn legs(&self, index: usize) -> usize {
        self.shards
            .get(index)
            .map_or(usize::MAX, |shard| shard.legs.load(Ordering::Relaxed))
    }

    /// Hands a leg to shard `index`.
    pub(super) fn add_to(&self, index: usize, leg: Arc<Shared>) -> Result<(), MediaError> {
        let shard = self
            .shards
            .get(index)
            .ok_or_else(|| MediaError::Engine(format!("no RTP shard {index}")))?;
        shard.send(Command::Add(leg))?;
        shard.legs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The busiest shard's share of time spent handling packets over the last second
    /// (0.0–1.0): near 1, packets start to wait for it.
    pub(super) fn load(&self) -> f32 {
        let permille = self
            .shards
            .iter()
            .map(|shard| shard.load.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        permille as f32 / 1000.0
    }

    /// Stops serving a leg; its sockets close when the last handle on it goes.
    pub(super) fn remove(&self, index: usize, leg: Arc<Shared>) {
        if let Some(shard) = self.shards.get(index) {
            if shard.send(Command::Remove(leg)).is_ok() {
                shard.legs.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// What a file descriptor of the shard belongs to.
enum Slot {
    Free,
    Rtp {
        leg: Arc<Shared>,
        next_report: Instant,
    },
    Rtcp(Arc<Shared>),
}

/// A shard's legs, indexed by socket file descriptor (small, dense integers that
/// stay unique while the socket is open, which it is while the shard holds the leg).
struct Legs {
    slots: Vec<Slot>,
}

impl Legs {
    fn slot_mut(&mut self, fd: RawFd) -> Option<&mut Slot> {
        let index = usize::try_from(fd).ok()?;
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || Slot::Free);
        }
        self.slots.get_mut(index)
    }

    fn get(&self, fd: RawFd) -> Option<&Slot> {
        self.slots.get(usize::try_from(fd).ok()?)
    }
}

fn udp_fds(leg: &Shared) -> Option<(RawFd, RawFd)> {
    match leg.sockets() {
        Some((LegSocket::Udp(rtp), LegSocket::Udp(rtcp))) => {
            Some((rtp.as_raw_fd(), rtcp.as_raw_fd()))
        }
        _ => None,
    }
}

fn add(epoll: &Epoll, legs: &mut Legs, leg: Arc<Shared>, now: Instant) {
    let Some((rtp, rtcp)) = udp_fds(&leg) else {
        return;
    };
    for fd in [rtp, rtcp] {
        if let Err(e) = epoll.add(fd, u64::try_from(fd).unwrap_or(WAKER)) {
            tracing::error!(leg = %leg.name, error = %e, "cannot watch an RTP socket");
        }
    }
    if let Some(slot) = legs.slot_mut(rtcp) {
        *slot = Slot::Rtcp(leg.clone());
    }
    if let Some(slot) = legs.slot_mut(rtp) {
        *slot = Slot::Rtp {
            leg,
            next_report: now + RTCP_INTERVAL,
        };
    }
}

fn remove(epoll: &Epoll, legs: &mut Legs, leg: &Shared) {
    let Some((rtp, rtcp)) = udp_fds(leg) else {
        return;
    };
    for fd in [rtp, rtcp] {
        let _ = epoll.delete(fd);
        if let Some(slot) = legs.slot_mut(fd) {
            *slot = Slot::Free;
        }
    }
}

/// The legs a shard plays into, in PHASES groups, and the clock that ticks one group
/// every 20 ms / PHASES while there are any: each leg still gets a frame every 20 ms,
/// and the shard's sending is spread over the period rather than one burst that crowds
/// out everything else on the machine.
struct Playing {
    groups: [Vec<Arc<Shared>>; PHASES],
    /// The group the next tick serves.
    phase: usize,
    clock: TimerFd,
    due: bool,
}

impl Playing {
    fn new(epoll: &Epoll) -> std::io::Result<Self> {
        let clock = TimerFd::new()?;
        epoll.add(clock.raw(), CLOCK)?;
        Ok(Self {
            groups: Default::default(),
            phase: 0,
            clock,
            due: false,
        })
    }

    fn is_empty(&self) -> bool {
        self.groups.iter().all(Vec::is_empty)
    }

    /// A leg with a (new) playback to tick.
    fn add(&mut self, leg: Arc<Shared>) {
        if self.is_empty() {
            // A first playback starts at once, and the clock with it; later ones join
            // its ticks.
            self.due = true;
            let period = Duration::from_millis(u64::from(PTIME_MS)) / PHASES as u32;
            if let Err(e) = self.clock.set_period(period) {
                tracing::error!(error = %e, "cannot start the playback clock");
            }
        }
        if self.groups.iter().flatten().any(|l| Arc::ptr_eq(l, &leg)) {
            return;
        }
        // The next group to tick among the smallest: a first frame soon, and groups of
        // about equal size.
        let fewest = self.groups.iter().map(Vec::len).min().unwrap_or(0);
        let group = (0..PHASES)
            .map(|i| (self.phase + i) % PHASES)
            .find(|&i| self.groups[i].len() == fewest)
            .unwrap_or(self.phase);
        self.groups[group].push(leg);
    }

    fn clock_fired(&mut self) {
        self.clock.clear();
        self.due = true;
    }

    /// Sends the due group its frames; stops the clock once nothing plays.
    fn tick_if_due(&mut self) {
        if !std::mem::take(&mut self.due) {
            return;
        }
        self.groups[self.phase].retain(|leg| leg::tick_players(leg));
        self.phase = (self.phase + 1) % PHASES;
        if self.is_empty() {
            let _ = self.clock.set_period(Duration::ZERO);
        }
    }
}

fn run(
    index: usize,
    epoll: &Epoll,
    waker: &EventFd,
    inbox: &mpsc::Receiver<Command>,
    mut meter: LoadMeter,
) {
    let mut legs = Legs { slots: Vec::new() };
    let mut events = Events::with_capacity(BATCH);
    let mut buf = [0u8; 2048];
    // Where the leg logic writes the packets it sends: reused, never reallocated.
    let mut scratch = Vec::with_capacity(2048);
    let mut next_sweep = Instant::now() + REPORT_SWEEP;
    let mut playing = match Playing::new(epoll) {
        Ok(playing) => playing,
        Err(e) => {
            tracing::error!(shard = index, error = %e, "no timerfd; RTP shard stops");
            return;
        }
    };
    loop {
        let timeout = next_sweep.saturating_duration_since(Instant::now());
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        if let Err(e) = epoll.wait(&mut events, timeout_ms) {
            tracing::error!(shard = index, error = %e, "epoll_wait failed; RTP shard stops");
            return;
        }
        let now = Instant::now();
        for token in events.tokens() {
            if token == WAKER {
                waker.clear();
                for command in inbox.try_iter() {
                    match command {
                        Command::Add(leg) => add(epoll, &mut legs, leg, now),
                        Command::Remove(leg) => remove(epoll, &mut legs, &leg),
                        Command::Play(leg) => playing.add(leg),
                    }
                }
                continue;
            }
            if token == CLOCK {
                playing.clock_fired();
                continue;
            }
            let Ok(fd) = RawFd::try_from(token) else {
                continue;
            };
            match legs.get(fd) {
                Some(Slot::Rtp { leg, .. }) => {
                    if let Some((len, from)) = receive(leg, false, &mut buf) {
                        leg::on_rtp_socket(leg, &buf[..len], from, now, &mut scratch);
                    }
                }
                Some(Slot::Rtcp(leg)) => {
                    if let Some((len, _)) = receive(leg, true, &mut buf) {
                        leg::on_rtcp(leg, &buf[..len], now);
                    }
                }
                Some(Slot::Free) | None => {}
            }
        }
        playing.tick_if_due();
        if now >= next_sweep {
            next_sweep = now + REPORT_SWEEP;
            for slot in &mut legs.slots {
                if let Slot::Rtp { leg, next_report } = slot {
                    if now >= *next_report {
                        *next_report = now + RTCP_INTERVAL;
                        leg::send_report(leg, now, &mut scratch);
                    }
                }
            }
        }
        meter.busy(now, Instant::now());
    }
}

/// One datagram from the leg's RTP (or RTCP) socket; `None` when there is none after
/// all (another reader was first, or an error the next wake-up will show again).
fn receive(leg: &Shared, rtcp: bool, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    let (rtp_socket, rtcp_socket) = leg.sockets()?;
    let socket = if rtcp { rtcp_socket } else { rtp_socket };
    match socket {
        LegSocket::Udp(socket) => socket.recv_from(buf).ok(),
        LegSocket::Memory(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use crate::engine::{EngineConfig, MediaEngine};

    #[test]
    fn bridged_pairs_share_a_shard_and_pairs_spread_over_the_shards() {
        let engine = MediaEngine::start(EngineConfig {
            ip: IpAddr::from([127, 0, 0, 1]),
            ports: (46_000, 46_100),
            threads: 2,
            net: None,
        })
        .unwrap();
        let legs: Vec<_> = (0..8)
            .map(|i| engine.create_leg(&format!("leg{i}")).unwrap())
            .collect();
        // All created before any is connected: the worst case for where they start.
        for pair in legs.chunks(2) {
            pair[0].connect(&pair[1]);
        }
        let shards = engine.inner.shards.as_ref().unwrap();
        assert_eq!([shards.legs(0), shards.legs(1)], [4, 4]);
        for pair in legs.chunks(2) {
            assert_eq!(pair[0].shard(), pair[1].shard());
        }
        for leg in &legs {
            leg.close();
        }
        assert!(shards
            .shards
            .iter()
            .all(|s| s.legs.load(std::sync::atomic::Ordering::Relaxed) == 0));
    }
}
