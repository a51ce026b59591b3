//! Call flows shared by the tests: registering, starting a callee, placing
//! a call and running media on it.

use std::time::Duration;

use switchboard_media::codec::Codec;

use super::media::{MediaSession, Received, RtpPeer, Segment, Sent};
use super::server::Server;
use super::sipp::{RemoteMedia, Sipp, SippResult, SippRun};
use super::{ports, Party, ALICE, BOB};

/// How long a call may take to be established.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Registers `party` with contact `127.0.0.1:<port>` and asserts a 200.
pub fn register(server: &Server, party: Party, port: u16) {
    Sipp::new(server, "register")
        .user(party)
        .local_port(port)
        .run()
        .assert_success();
}

/// A UAS for `party`: registers it from a fresh port, then starts
/// `scenario` on that port, configured by `configure`, and waits until it
/// listens.
pub fn start_callee(
    server: &Server,
    party: Party,
    scenario: &'static str,
    configure: impl FnOnce(Sipp) -> Sipp,
) -> SippRun {
    let port = ports::free_udp_port();
    register(server, party, port);
    let mut run = configure(
        Sipp::new(server, scenario)
            .key("user", party.id)
            .local_port(port),
    )
    .spawn();
    run.wait_listening();
    run
}

/// A UAC calling `extension` as 1000 with `scenario`, its SDP offering
/// `payload_types` on `rtp`'s port; `talk` is the scenario's pause.
pub fn start_caller(
    server: &Server,
    scenario: &'static str,
    extension: &str,
    rtp: &RtpPeer,
    payload_types: &str,
    talk: Duration,
) -> SippRun {
    let caller = Sipp::new(server, scenario).user(ALICE);
    start_call(caller, extension, rtp, payload_types, talk)
}

/// Starts `caller` (a UAC scenario with its identity set) calling
/// `extension`, its SDP offering `payload_types` on `rtp`'s port.
fn start_call(
    caller: Sipp,
    extension: &str,
    rtp: &RtpPeer,
    payload_types: &str,
    talk: Duration,
) -> SippRun {
    caller
        .dial(extension)
        .rtp(rtp.port(), payload_types)
        .pause(talk)
        .spawn()
}

/// One side of a call in progress: its SIPp and its RTP peer.
pub struct LiveLeg {
    pub sipp: SippRun,
    /// The server's media address and payload type, from its SDP.
    pub media: RemoteMedia,
    session: MediaSession,
}

impl LiveLeg {
    /// Waits for `sipp`'s call to have media (its `MEDIA` line), then
    /// starts `rtp` sending `script` to the server with the codec the SDP
    /// exchange settled on.
    pub fn start(mut sipp: SippRun, rtp: RtpPeer, script: Vec<Segment>) -> LiveLeg {
        let media = sipp.media(SETUP_TIMEOUT);
        let codec = Codec::from_payload_type(media.payload_type).unwrap_or_else(|| {
            panic!(
                "the server's SDP chose payload type {}, not an audio codec of the tests",
                media.payload_type
            )
        });
        let session = rtp.start(media.addr, codec, script);
        LiveLeg {
            sipp,
            media,
            session,
        }
    }

    /// Waits for the scenario to end, then stops the media.
    pub fn wait(self) -> Leg {
        let sipp = self.sipp.wait();
        Leg::ended(sipp, self.media, self.session)
    }

    /// Waits for the scenario to end (or stops it if `other` failed: see
    /// [`SippRun::wait_after`]), then stops the media.
    pub fn wait_after(self, other: &Leg) -> Leg {
        let sipp = self.sipp.wait_after(&other.sipp);
        Leg::ended(sipp, self.media, self.session)
    }

    /// Kills the scenario now (e.g. the server is gone and the call can
    /// only fail), then stops the media.
    pub fn stop(self) -> Leg {
        let sipp = self.sipp.stop();
        Leg::ended(sipp, self.media, self.session)
    }
}

/// One side of a finished call.
pub struct Leg {
    /// The server's media address and payload type, from its SDP.
    pub media: RemoteMedia,
    pub received: Received,
    /// What the test's RTP peer sent.
    pub sent: Sent,
    pub sipp: SippResult,
}

impl Leg {
    fn ended(sipp: SippResult, media: RemoteMedia, session: MediaSession) -> Leg {
        let (received, sent) = session.finish();
        Leg {
            media,
            received,
            sent,
            sipp,
        }
    }
}

/// A call from `caller` (a UAC scenario with its identity set) to an
/// application extension of the server (echo, playback), sending `script`;
/// returns when the scenario ends, which must have succeeded.
pub fn call_extension(
    caller: Sipp,
    extension: &str,
    payload_types: &str,
    talk: Duration,
    script: Vec<Segment>,
) -> Leg {
    let rtp = RtpPeer::bind();
    let caller = start_call(caller, extension, &rtp, payload_types, talk);
    let leg = LiveLeg::start(caller, rtp, script).wait();
    leg.sipp.assert_success();
    leg
}

/// A call between two test endpoints through the server.
pub struct Bridged {
    /// Extension the caller dials.
    pub extension: &'static str,
    /// UAC scenario of 1000 (`uac_call` hangs up after `talk`,
    /// `uac_wait_bye` waits for the BYE).
    pub caller_scenario: &'static str,
    /// UAS scenario of 1001 (`uas_answer` waits for the BYE,
    /// `uas_answer_bye` hangs up after `talk`).
    pub callee_scenario: &'static str,
    /// Payload types of the caller's offer.
    pub caller_offer: &'static str,
    /// Payload types of the callee's answer.
    pub callee_answer: &'static str,
    /// The `<pause/>` of both scenarios (`-d`).
    pub talk: Duration,
    pub caller_sends: Vec<Segment>,
    pub callee_sends: Vec<Segment>,
}

impl Bridged {
    /// An ordinary call 1000 -> 1001, both sides PCMU (with
    /// telephone-event), the caller hanging up after `talk`.
    pub fn new(talk: Duration, caller_sends: Vec<Segment>, callee_sends: Vec<Segment>) -> Bridged {
        Bridged {
            extension: BOB.id,
            caller_scenario: "uac_call",
            callee_scenario: "uas_answer",
            caller_offer: "0 8 101",
            callee_answer: "0 101",
            talk,
            caller_sends,
            callee_sends,
        }
    }

    /// Places the call and starts the media on both sides, as soon as each
    /// scenario logs its `MEDIA` line.
    pub fn start(self, server: &Server) -> BridgedCall {
        let callee_rtp = RtpPeer::bind();
        let callee = start_callee(server, BOB, self.callee_scenario, |sipp| {
            sipp.rtp(callee_rtp.port(), self.callee_answer)
                .pause(self.talk)
        });
        let caller_rtp = RtpPeer::bind();
        let caller = start_caller(
            server,
            self.caller_scenario,
            self.extension,
            &caller_rtp,
            self.caller_offer,
            self.talk,
        );
        let callee = LiveLeg::start(callee, callee_rtp, self.callee_sends);
        let caller = LiveLeg::start(caller, caller_rtp, self.caller_sends);
        BridgedCall { caller, callee }
    }

    /// Places the call, runs the media on both sides until both scenarios
    /// end, and asserts that both succeeded.
    pub fn run(self, server: &Server) -> (Leg, Leg) {
        self.start(server).finish()
    }
}

/// A [`Bridged`] call in progress.
pub struct BridgedCall {
    pub caller: LiveLeg,
    pub callee: LiveLeg,
}

impl BridgedCall {
    /// Waits for both scenarios to end and asserts that both succeeded.
    pub fn finish(self) -> (Leg, Leg) {
        let caller = self.caller.wait();
        let callee = self.callee.wait_after(&caller);
        caller.sipp.assert_success();
        callee.sipp.assert_success();
        (caller, callee)
    }
}

/// Starts media on both sides of a call between two test phones: the caller sends
/// `tones.0` Hz and the callee `tones.1` Hz for `length`.
pub fn start_both(
    caller: (SippRun, RtpPeer),
    callee: (SippRun, RtpPeer),
    tones: (f32, f32),
    length: Duration,
) -> (LiveLeg, LiveLeg) {
    let tone = |freq| vec![Segment::Tone(freq, length)];
    (
        LiveLeg::start(caller.0, caller.1, tone(tones.0)),
        LiveLeg::start(callee.0, callee.1, tone(tones.1)),
    )
}

/// Asserts that both scenarios succeeded and each side heard the other's tone, not
/// its own (`tones` as given to [`start_both`]).
pub fn assert_both_heard(caller: &Leg, callee: &Leg, tones: (f32, f32), label: &str) {
    caller.sipp.assert_success();
    callee.sipp.assert_success();
    super::media::assert_hears(
        &caller.received,
        &format!("caller, {label}"),
        tones.1,
        Some(tones.0),
        60,
    );
    super::media::assert_hears(
        &callee.received,
        &format!("callee, {label}"),
        tones.0,
        Some(tones.1),
        60,
    );
}
