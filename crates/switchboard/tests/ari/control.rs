//! ARI changing what a call hears, checked on its audio: a playback paused,
//! resumed, moved forward and back and stopped; a two-party bridge that relays,
//! mixes while it is recorded and relays again; a channel originated into the
//! dialplan under the id the client chose.

use std::ops::Range;
use std::time::{Duration, Instant};

use super::stasis_media::{
    assert_holds, check_events, hang_up, sleep_until, stored_wav, Arrived, ALICE_TONE, BOB_TONE,
    BRIDGE_RATE,
};
use super::{stasis_server, APP, EVENT_TIMEOUT};
use crate::support::ari::{all_models, check_model, Ari, EventSocket};
use crate::support::calls::{self, Leg, LiveLeg};
use crate::support::media::{self, RtpPeer, Segment};
use crate::support::server::{TWO_PART, TWO_PART_SECONDS, TWO_PART_TONES};
use crate::support::{ALICE, BOB};

/// Time between two controls of a playback.
const STEP: Duration = Duration::from_secs(1);
/// Time a control may take to change what the caller receives.
const EFFECT: Duration = Duration::from_millis(150);
/// Frames a window of a [`STEP`] must at least have (about 0.7 s).
const MIN_STEP_FRAMES: usize = 25;

/// Runs `request` and returns the span from just before it was sent to just
/// after its answer came: what it changes, it changes within that span.
fn timed(request: impl FnOnce()) -> Range<Instant> {
    let sent = Instant::now();
    request();
    sent..Instant::now()
}

/// A call in Stasis hears the two-part sound (1 kHz for 4 s, then 400 Hz for
/// 4 s) while the application pauses, resumes, skips forward and back and
/// stops it: each control changes what the caller hears when it is made.
#[test]
fn ari_playback_control_changes_what_is_heard() {
    let server = stasis_server("ari-playback-control");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let (id, leg) = Arrived::call(&server, &ari, &mut ws, ALICE)
        .start(vec![Segment::Silence(Duration::from_secs(20))]);
    let [first, second] = TWO_PART_TONES;
    let part = Duration::from_secs(TWO_PART_SECONDS.into());

    // Times are the playback's position: it plays the first part from 0 s.
    let play = timed(|| {
        let playback = ari
            .post(&format!(
                "/channels/{id}/play?media=sound:{TWO_PART}&playbackId=pb-ctl"
            ))
            .expect(201, "play");
        check_model(&models, "Playback", &playback).unwrap();
    });
    let started = ws.wait_for("PlaybackStarted", EVENT_TIMEOUT);
    assert_eq!(started["playback"]["id"], "pb-ctl", "{started}");
    let control = |operation: &str| {
        timed(|| {
            ari.post(&format!("/playbacks/pb-ctl/control?operation={operation}"))
                .expect(204, operation);
        })
    };
    // Paused at 1 s for a second; resumed there.
    sleep_until(play.end + STEP);
    let pause = control("pause");
    sleep_until(pause.end + STEP);
    let unpause = control("unpause");
    // At 2 s, forward by skipms (3000 by default) to 5 s, into the second part,
    // which would otherwise start 2 s later.
    sleep_until(unpause.end + STEP);
    let forward = control("forward");
    // At 6 s, back to 3 s: the first part again for a second, then the second.
    sleep_until(forward.end + STEP);
    let reverse = control("reverse");
    let again = reverse.end + STEP;
    // At 5 s, stopped with 3 s of the sound left.
    sleep_until(again + STEP);
    let stop = timed(|| {
        ari.delete("/playbacks/pb-ctl").expect(204, "stop");
    });
    let finished = ws.wait_for("PlaybackFinished", EVENT_TIMEOUT);
    let finished_after = stop.start.elapsed();
    assert_eq!(finished["playback"]["id"], "pb-ctl", "{finished}");
    assert_eq!(finished["playback"]["state"], "complete", "{finished}");
    assert!(
        finished_after < Duration::from_secs(1),
        "PlaybackFinished came {finished_after:?} after the stop"
    );
    ari.get("/playbacks/pb-ctl")
        .expect_error(404, "stopped playback");
    ari.post("/playbacks/pb-ctl/control?operation=unpause")
        .expect_error(404, "control a stopped playback");
    let quiet_until = stop.end + Duration::from_millis(1500);
    sleep_until(quiet_until);
    hang_up(&ari, &id);
    let leg = leg.wait();
    leg.sipp.assert_success();

    let rx = &leg.received;
    let hears = |window: Range<Instant>, what: &str, freq: f32| {
        media::assert_hears(&rx.slice(window), what, freq, None, MIN_STEP_FRAMES);
    };
    let hears_nothing = |window: Range<Instant>, what: &str| {
        media::assert_no_tone(&rx.slice(window), what);
    };
    hears(play.end..pause.start, "caller before the pause", first);
    hears_nothing(pause.end + EFFECT..unpause.start, "caller while paused");
    hears(
        unpause.end..forward.start,
        "caller after the unpause",
        first,
    );
    hears(
        forward.end..reverse.start,
        "caller after the forward",
        second,
    );
    hears(
        reverse.end..reverse.start + STEP - EFFECT,
        "caller after the reverse",
        first,
    );
    hears(
        again + EFFECT..stop.start,
        "caller after the reverse, once the first part is over again",
        second,
    );
    hears_nothing(stop.end + EFFECT..quiet_until, "caller after the stop");

    // The second part began when the forward was made (2 s in), not at its
    // place in the sound (`part` in).
    assert_eq!(
        rx.slice(..forward.start).first_frame_of(second),
        None,
        "{second} Hz heard before the forward"
    );
    let heard = rx
        .slice(forward.start..)
        .first_frame_of(second)
        .expect("checked: the second part was heard after the forward");
    let late = heard.saturating_duration_since(forward.end);
    assert!(
        late <= EFFECT,
        "{second} Hz heard {late:?} after the forward (without it: {:?} after)",
        part - STEP * 2
    );
    check_events(&models, &ws);
}

/// How much of what `leg` received in `window` is byte-identical to what
/// `other` sent, after checking that `leg` heard `other`'s tone there;
/// `tones` is (`leg`'s, `other`'s).
fn phase_identical(
    leg: &Leg,
    other: &Leg,
    who: &str,
    window: Range<Instant>,
    tones: (f32, f32),
) -> media::IdenticalPayloads {
    let received = leg.received.slice(window);
    media::assert_hears(&received, who, tones.1, Some(tones.0), MIN_PHASE_PACKETS);
    let identical = received.identical_payloads(&other.sent, Duration::ZERO);
    eprintln!("{who}: {identical}");
    identical
}

/// Length of each phase of the relay / mix / relay test.
const PHASE: Duration = Duration::from_secs(2);
/// Start of a phase left out: the bridge switching between relay and mix.
const SWITCH: Duration = Duration::from_millis(500);
/// Packets a phase must at least have (about 1.3 s).
const MIN_PHASE_PACKETS: usize = 50;
/// What a relay delivers of the other side's payloads, at least (and a mix at
/// most, the rest).
const RELAYED_SHARE: f64 = 0.95;

/// Two calls in an ARI mixing bridge: the bridge relays their payloads
/// unchanged, mixes (re-encodes) while it is recorded, and relays again once
/// the recording stops; they hear each other throughout.
#[test]
fn ari_bridge_relays_then_mixes_while_recording() {
    let server = stasis_server("ari-bridge-relay-mix");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let alice = Arrived::call(&server, &ari, &mut ws, ALICE);
    let bob = Arrived::call(&server, &ari, &mut ws, BOB);
    let bridge = ari
        .post("/bridges?type=mixing")
        .expect(200, "create bridge");
    let bid = bridge["id"].as_str().expect("bridge id").to_string();
    ari.post(&format!(
        "/bridges/{bid}/addChannel?channel={},{}",
        alice.id, bob.id
    ))
    .expect(204, "addChannel");
    for _ in 0..2 {
        ws.wait_for("ChannelEnteredBridge", EVENT_TIMEOUT);
    }

    let talk = PHASE * 3 + Duration::from_secs(3);
    let (alice_id, alice_leg) = alice.start(vec![Segment::NoisyTone(ALICE_TONE, talk)]);
    let (bob_id, bob_leg) = bob.start(vec![Segment::NoisyTone(BOB_TONE, talk)]);
    let t0 = Instant::now();
    sleep_until(t0 + PHASE);
    let record = timed(|| {
        ari.post(&format!("/bridges/{bid}/record?name=r1&format=wav"))
            .expect(201, "record the bridge");
    });
    let started = ws.wait_for("RecordingStarted", EVENT_TIMEOUT);
    assert_eq!(started["recording"]["name"], "r1", "{started}");
    sleep_until(record.end + PHASE);
    let stop = timed(|| {
        ari.post("/recordings/live/r1/stop")
            .expect(204, "stop the recording");
    });
    let finished = ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
    assert_eq!(finished["recording"]["state"], "done", "{finished}");
    sleep_until(stop.end + PHASE);
    let hangup = Instant::now();
    hang_up(&ari, &alice_id);
    hang_up(&ari, &bob_id);
    let alice_leg = alice_leg.wait();
    let bob_leg = bob_leg.wait_after(&alice_leg);
    alice_leg.sipp.assert_success();
    bob_leg.sipp.assert_success();
    assert_eq!(
        (alice_leg.media.payload_type, bob_leg.media.payload_type),
        (0, 0),
        "both legs PCMU"
    );

    let phases = [
        ("before the recording", t0 + SWITCH..record.start, true),
        ("while recording", record.end + SWITCH..stop.start, false),
        ("after the recording", stop.end + SWITCH..hangup, true),
    ];
    for (phase, window, relayed) in phases {
        for (who, leg, other, tones) in [
            ("1000", &alice_leg, &bob_leg, (ALICE_TONE, BOB_TONE)),
            ("1001", &bob_leg, &alice_leg, (BOB_TONE, ALICE_TONE)),
        ] {
            let who = format!("{who} {phase}");
            let identical = phase_identical(leg, other, &who, window.clone(), tones);
            assert!(
                identical.compared >= MIN_PHASE_PACKETS,
                "{who}: too few packets; {identical}"
            );
            if relayed {
                assert!(
                    identical.fraction() >= RELAYED_SHARE,
                    "{who}: a two-party bridge should relay the payloads unchanged; {identical}"
                );
            } else {
                assert!(
                    identical.fraction() <= 1.0 - RELAYED_SHARE,
                    "{who}: a recorded bridge should mix (re-encode), not relay; {identical}"
                );
            }
        }
    }

    let stored = ari
        .get("/recordings/stored/r1")
        .expect(200, "stored recording r1");
    check_model(&models, "StoredRecording", &stored).unwrap();
    assert_eq!(stored["format"], "wav", "{stored}");
    let pcm = stored_wav(&server, "r1", BRIDGE_RATE);
    assert_holds(&pcm, "r1.wav", &[ALICE_TONE, BOB_TONE]);
    ari.delete(&format!("/bridges/{bid}"))
        .expect(204, "destroy bridge");
    check_events(&models, &ws);
}

/// A channel originated with its own id into extension 101 (Answer, Echo):
/// the phone that answers hears itself, a WebSocket subscribed to everything
/// sees the dialplan run, and the id cannot be taken twice.
#[test]
fn ari_originate_into_dialplan_with_channel_id() {
    let server = stasis_server("ari-originate-dialplan");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), "app=observer&subscribeAll=true");
    let talk = Duration::from_secs(4);
    let rtp = RtpPeer::bind();
    // 1001 answers and hangs up after `talk`: its BYE must find the dialog of
    // the originated call.
    let phone = calls::start_callee(&server, BOB, "uas_answer_bye", |sipp| {
        sipp.rtp(rtp.port(), "0 101").pause(talk)
    });
    let originate = "/channels?endpoint=PJSIP/1001&extension=101&context=default&channelId=my-id-1";
    let channel = ari.post(originate).expect(200, "originate");
    check_model(&models, "Channel", &channel).unwrap();
    assert_eq!(channel["id"], "my-id-1", "{channel}");
    let message = ari
        .post(originate)
        .expect_error(409, "originate with an id in use");
    assert_eq!(message, "Channel with given unique ID already exists");
    ari.post("/channels/my-id-1?endpoint=PJSIP/1001&extension=101")
        .expect_error(409, "originateWithId with an id in use");

    let leg = LiveLeg::start(
        phone,
        rtp,
        vec![Segment::Tone(BOB_TONE, talk + Duration::from_secs(2))],
    );
    let created = ws.wait_for("ChannelCreated", EVENT_TIMEOUT);
    assert_eq!(created["channel"]["id"], "my-id-1", "{created}");
    for app in ["Answer", "Echo"] {
        let step = ws.wait_for("ChannelDialplan", EVENT_TIMEOUT);
        assert_eq!(
            (
                step["channel"]["id"].as_str(),
                step["dialplan_app"].as_str(),
                step["dialplan_app_data"].as_str(),
            ),
            (Some("my-id-1"), Some(app), Some("")),
            "{step}"
        );
        let dialplan = &step["channel"]["dialplan"];
        assert_eq!(
            (dialplan["context"].as_str(), dialplan["exten"].as_str()),
            (Some("default"), Some("101")),
            "{step}"
        );
    }
    let got = ari
        .get("/channels/my-id-1")
        .expect(200, "the originated channel");
    assert_eq!(got["state"], "Up", "{got}");
    assert_eq!(got["dialplan"]["app_name"], "Echo", "{got}");

    let leg = leg.wait();
    leg.sipp.assert_success();
    media::assert_hears(
        &leg.received,
        "1001 hearing its echo",
        BOB_TONE,
        None,
        MIN_PHASE_PACKETS,
    );
    let destroyed = ws.wait_for("ChannelDestroyed", EVENT_TIMEOUT);
    assert_eq!(destroyed["channel"]["id"], "my-id-1", "{destroyed}");
    check_events(&models, &ws);
}
