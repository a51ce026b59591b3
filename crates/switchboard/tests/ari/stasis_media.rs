//! ARI over real calls, with their audio checked: bridges made over ARI (mixing,
//! recording, playback to every member), channel recordings paused and resumed,
//! snoop channels, external media over RTP and AudioSocket, and the error codes of bridges and
//! recordings.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use switchboard_media::codec::Codec;
use switchboard_media::wav::Pcm;

use super::{event_where, APP, EVENT_TIMEOUT};
use crate::support::ari::{all_models, check_model, Ari, EventSocket};
use crate::support::audiosocket::{self, AudioSocketServer};
use crate::support::calls::LiveLeg;
use crate::support::media::{self, Received, RtpPeer, Segment, ToneReport};
use crate::support::recordings::{self, PCMU_RATE};
use crate::support::server::{Server, ServerConfig, TONE1K_FREQ};
use crate::support::sipp::{Sipp, SippRun};
use crate::support::{Party, ALICE, BOB};

/// What 1000 sends.
pub(super) const ALICE_TONE: f32 = 400.0;
/// What 1001 sends.
pub(super) const BOB_TONE: f32 = 800.0;
/// What the external media socket sends.
const EXTERNAL_TONE: f32 = 1400.0;
/// A frequency nobody sends: the noise floor of a recording.
const FLOOR_TONE: f32 = 2000.0;
/// Frames (20 ms) a window of a call must have at least.
const MIN_FRAMES: usize = 80;
/// Sample rate of the mix of a bridge, and so of its recordings.
pub(super) const BRIDGE_RATE: u32 = 16_000;
/// Start of a recording left out of its analysis (the mix settling).
const RECORDING_SETTLE: Duration = Duration::from_millis(300);

/// A server with ARI, `200` → `Stasis(test-app,arg1)` and `300` →
/// `ConfBridge(errors)` (a bridge and a channel ARI does not control).
fn server(name: &str) -> Server {
    let config = ServerConfig::default()
        .extension("default", "200", &["Stasis(test-app,arg1)"])
        .extension("default", "300", &["ConfBridge(errors)"])
        .ari();
    Server::start_with(name, config)
}

/// A call from `party` into `Stasis(test-app)`, answered over ARI (or left
/// ringing); its media starts with [`Arrived::start`], once it is answered.
pub(super) struct Arrived {
    pub(super) id: String,
    sipp: SippRun,
    rtp: RtpPeer,
}

impl Arrived {
    /// `party` calls 200 (and waits for the server's BYE); waits for its
    /// StasisStart and answers it.
    pub(super) fn call(server: &Server, ari: &Ari, ws: &mut EventSocket, party: Party) -> Arrived {
        let arrived = Arrived::ringing(server, ws, party);
        ari.post(&format!("/channels/{}/answer", arrived.id))
            .expect(204, "answer");
        arrived
    }

    /// `party` calls 200 (and waits for the server's BYE); returns at its
    /// StasisStart, the call not answered yet (state Ring).
    pub(super) fn ringing(server: &Server, ws: &mut EventSocket, party: Party) -> Arrived {
        let rtp = RtpPeer::bind();
        let sipp = Sipp::new(server, "uac_wait_bye")
            .user(party)
            .dial("200")
            .rtp(rtp.port(), "0 101")
            .spawn();
        let start = ws.wait_for("StasisStart", EVENT_TIMEOUT);
        assert_eq!(start["channel"]["caller"]["number"], party.id, "{start}");
        let id = start["channel"]["id"].as_str().expect("id").to_string();
        Arrived { id, sipp, rtp }
    }

    pub(super) fn start(self, script: Vec<Segment>) -> (String, LiveLeg) {
        (self.id, LiveLeg::start(self.sipp, self.rtp, script))
    }
}

/// `freq` for `length`, then silence until the call ends.
fn tone_then_silence(freq: f32, length: Duration) -> Vec<Segment> {
    vec![
        Segment::Tone(freq, length),
        Segment::Silence(Duration::from_secs(20)),
    ]
}

/// Hangs up channel `id` over ARI.
pub(super) fn hang_up(ari: &Ari, id: &str) {
    ari.delete(&format!("/channels/{id}")).expect(204, "hangup");
}

pub(super) fn sleep_until(at: Instant) {
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
}

/// Mean power of `freq` in `pcm` after [`RECORDING_SETTLE`].
fn power(pcm: &Pcm, freq: f32) -> f64 {
    let frames = media::pcm_frames(pcm, RECORDING_SETTLE);
    media::mean_power(frames.map(|f| (f, pcm.sample_rate)), freq)
}

/// Asserts that `pcm` (`what`) holds each of `freqs` well above the floor.
pub(super) fn assert_holds(pcm: &Pcm, what: &str, freqs: &[f32]) {
    let floor = power(pcm, FLOOR_TONE);
    let powers: Vec<(f32, f64)> = freqs.iter().map(|f| (*f, power(pcm, *f))).collect();
    eprintln!(
        "{what} ({:?}): power {powers:?}, at {FLOOR_TONE} Hz {floor:.2e}",
        recordings::duration(pcm)
    );
    for (freq, p) in powers {
        assert!(
            p > 1e-3 && p > 100.0 * floor,
            "{what} should hold {freq} Hz well above the noise: power {p:.2e}, floor {floor:.2e}"
        );
    }
}

/// Asserts that `freq` dominates most of the frames of the recording `pcm`.
fn assert_dominated_by(pcm: &Pcm, what: &str, freq: f32) -> ToneReport {
    let report = ToneReport::of_pcm(pcm, RECORDING_SETTLE);
    eprintln!("{what} ({:?}): {report}", recordings::duration(pcm));
    assert!(
        report.fraction(freq) >= 0.8,
        "{what}: {freq} Hz dominates only {:.0}% of the frames; {report}",
        report.fraction(freq) * 100.0
    );
    report
}

/// The stored recording `name` (wav at `rate`) as the server wrote it.
pub(super) fn stored_wav(server: &Server, name: &str, rate: u32) -> Pcm {
    let path = server.recordings_dir().join(format!("{name}.wav"));
    recordings::wait_for_file(&path);
    recordings::read(&path, rate)
}

/// What `who` heard in `window`, which `expected` must dominate.
fn assert_heard(
    received: &Received,
    who: &str,
    window: std::ops::Range<Instant>,
    expected: f32,
    own: Option<f32>,
) {
    media::assert_hears(&received.slice(window), who, expected, own, MIN_FRAMES);
}

/// Every event received must validate against its model.
pub(super) fn check_events(models: &Map<String, Value>, ws: &EventSocket) {
    for event in &ws.arrived {
        let kind = event["type"].as_str().expect("type");
        check_model(models, kind, event).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}

/// Two calls in Stasis joined in a mixing bridge made over ARI: each hears the
/// other; the bridge's recording holds both; a playback into the bridge reaches
/// both; destroying the bridge lets both out.
#[test]
fn ari_bridge_mixes_records_and_plays_to_both() {
    let server = server("ari-bridge");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let alice = Arrived::call(&server, &ari, &mut ws, ALICE);
    let bob = Arrived::call(&server, &ari, &mut ws, BOB);

    let bridge = ari
        .post("/bridges?type=mixing,dtmf_events&name=ari-test")
        .expect(200, "create bridge");
    check_model(&models, "Bridge", &bridge).unwrap();
    assert_eq!(
        (
            &bridge["bridge_type"],
            &bridge["bridge_class"],
            &bridge["creator"],
            &bridge["name"],
            &bridge["channels"],
            &bridge["video_mode"],
        ),
        (
            &json!("mixing"),
            &json!("stasis"),
            &json!("Stasis"),
            &json!("ari-test"),
            &json!([]),
            &json!("none")
        ),
        "{bridge}"
    );
    let bid = bridge["id"].as_str().expect("bridge id").to_string();
    ari.post(&format!(
        "/bridges/{bid}/addChannel?channel={},{}",
        alice.id, bob.id
    ))
    .expect(204, "addChannel");
    for _ in 0..2 {
        let entered = ws.wait_for("ChannelEnteredBridge", EVENT_TIMEOUT);
        assert_eq!(entered["bridge"]["id"], bid.as_str(), "{entered}");
    }
    let got = ari
        .get(&format!("/bridges/{bid}"))
        .expect(200, "get bridge");
    check_model(&models, "Bridge", &got).unwrap();
    let mut members: Vec<&str> = got["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    members.sort_unstable();
    let mut expected = vec![alice.id.as_str(), bob.id.as_str()];
    expected.sort_unstable();
    assert_eq!(members, expected, "{got}");
    let list = ari.get("/bridges").expect(200, "list bridges");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == bid.as_str()),
        "{list}"
    );

    // Each side talks for 4 s.
    let talk = Duration::from_secs(4);
    let (alice_id, alice_leg) = alice.start(tone_then_silence(ALICE_TONE, talk));
    let (bob_id, bob_leg) = bob.start(tone_then_silence(BOB_TONE, talk));
    let t0 = Instant::now();

    // A channel bridged with others cannot be recorded on its own (the seed's 409).
    ari.post(&format!(
        "/channels/{alice_id}/record?name=alone&format=wav"
    ))
    .expect_error(409, "record a bridged channel");

    let recording = ari.post(&format!("/bridges/{bid}/record?name=b1&format=wav"));
    let live = recording.expect(201, "record the bridge");
    assert_eq!(recording.header("Location"), Some("/recordings/live/b1"));
    check_model(&models, "LiveRecording", &live).unwrap();
    assert_eq!(live["target_uri"], format!("bridge:{bid}").as_str());
    assert_eq!(live["format"], "wav");
    let started = ws.wait_for("RecordingStarted", EVENT_TIMEOUT);
    assert_eq!(started["recording"]["name"], "b1", "{started}");
    assert_eq!(started["recording"]["state"], "recording", "{started}");
    let live = ari.get("/recordings/live/b1").expect(200, "live recording");
    assert_eq!(live["state"], "recording", "{live}");

    sleep_until(t0 + Duration::from_millis(3500));
    ari.post("/recordings/live/b1/stop")
        .expect(204, "stop recording");
    let finished = ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
    assert_eq!(finished["recording"]["state"], "done", "{finished}");
    let seconds = finished["recording"]["duration"].as_u64().unwrap_or(0);
    assert!((2..=4).contains(&seconds), "{finished}");

    // The talking is over: an announcement into the bridge reaches both.
    sleep_until(t0 + talk + Duration::from_millis(500));
    let play = ari.post(&format!(
        "/bridges/{bid}/play?media=sound:tone1k&playbackId=bridge-pb"
    ));
    let playback = play.expect(201, "play into the bridge");
    assert_eq!(play.header("Location"), Some("/playbacks/bridge-pb"));
    check_model(&models, "Playback", &playback).unwrap();
    assert_eq!(playback["target_uri"], format!("bridge:{bid}").as_str());
    let started = ws.wait_for("PlaybackStarted", EVENT_TIMEOUT);
    let played = Instant::now();
    assert_eq!(started["playback"]["id"], "bridge-pb", "{started}");
    ari.post(&format!("/bridges/{bid}/play/bridge-pb?media=sound:tone1k"))
        .expect_error(409, "playback id in use");
    let finished = ws.wait_for("PlaybackFinished", EVENT_TIMEOUT);
    assert_eq!(
        finished["playback"]["target_uri"],
        format!("bridge:{bid}").as_str()
    );

    // Destroying the bridge lets both channels out; they stay in the application.
    ari.delete(&format!("/bridges/{bid}"))
        .expect(204, "destroy bridge");
    for _ in 0..2 {
        let left = ws.wait_for("ChannelLeftBridge", EVENT_TIMEOUT);
        assert_eq!(left["bridge"]["id"], bid.as_str(), "{left}");
    }
    let destroyed = ws.wait_for("BridgeDestroyed", EVENT_TIMEOUT);
    assert_eq!(destroyed["bridge"]["id"], bid.as_str(), "{destroyed}");
    ari.get(&format!("/bridges/{bid}"))
        .expect_error(404, "destroyed bridge");
    ari.get(&format!("/channels/{alice_id}"))
        .expect(200, "still there");
    hang_up(&ari, &alice_id);
    hang_up(&ari, &bob_id);
    let alice_leg = alice_leg.wait();
    let bob_leg = bob_leg.wait_after(&alice_leg);
    alice_leg.sipp.assert_success();
    bob_leg.sipp.assert_success();

    let mixing = t0 + Duration::from_millis(700)..t0 + Duration::from_millis(3500);
    assert_heard(
        &alice_leg.received,
        "1000 in the bridge",
        mixing.clone(),
        BOB_TONE,
        Some(ALICE_TONE),
    );
    assert_heard(
        &bob_leg.received,
        "1001 in the bridge",
        mixing,
        ALICE_TONE,
        Some(BOB_TONE),
    );
    let announcement = played + Duration::from_millis(300)..played + Duration::from_millis(2600);
    for (leg, who) in [(&alice_leg, "1000"), (&bob_leg, "1001")] {
        assert_heard(
            &leg.received,
            &format!("{who} hearing the bridge's playback"),
            announcement.clone(),
            TONE1K_FREQ,
            None,
        );
    }

    // The stored recording holds both sides.
    let stored = ari
        .get("/recordings/stored/b1")
        .expect(200, "stored recording");
    check_model(&models, "StoredRecording", &stored).unwrap();
    assert_eq!(
        (
            &stored["id"],
            &stored["name"],
            &stored["format"],
            &stored["formats"]
        ),
        (&json!("b1"), &json!("b1"), &json!("wav"), &json!(["wav"])),
        "{stored}"
    );
    let seconds = stored["duration_seconds"].as_u64().unwrap_or(0);
    assert!((2..=4).contains(&seconds), "{stored}");
    let list = ari.get("/recordings/stored").expect(200, "list stored");
    assert!(
        list.as_array().unwrap().iter().any(|r| r["name"] == "b1"),
        "{list}"
    );
    let on_disk = stored_wav(&server, "b1", BRIDGE_RATE);
    assert_holds(&on_disk, "b1.wav", &[ALICE_TONE, BOB_TONE]);
    let file = ari.get("/recordings/stored/b1/file");
    assert_eq!(file.status, 200, "download: {}", file.body);
    assert_eq!(file.header("Content-Type"), Some("audio/wav"));
    let path = server.recordings_dir().join("b1.wav");
    assert_eq!(
        file.bytes,
        std::fs::read(&path).expect("read b1.wav"),
        "the download is the file"
    );
    let downloaded = server.dir().join("b1-download.wav");
    std::fs::write(&downloaded, &file.bytes).expect("write the download");
    let pcm = recordings::read(Path::new(&downloaded), BRIDGE_RATE);
    assert_holds(&pcm, "downloaded b1", &[ALICE_TONE, BOB_TONE]);

    ws.wait_for("ChannelDestroyed", EVENT_TIMEOUT);
    ws.wait_for("ChannelDestroyed", EVENT_TIMEOUT);
    check_events(&models, &ws);
}

/// A channel recording paused for 2 s of 5: the file and the recording's
/// duration leave the pause out.
#[test]
fn ari_channel_record_pause_excludes_paused_time() {
    let server = server("ari-record-pause");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let (id, leg) = Arrived::call(&server, &ari, &mut ws, ALICE)
        .start(tone_then_silence(ALICE_TONE, Duration::from_secs(12)));

    let recording = ari.post(&format!(
        "/channels/{id}/record?name=c1&format=wav&maxDurationSeconds=30&terminateOn=%23"
    ));
    let live = recording.expect(201, "record");
    assert_eq!(recording.header("Location"), Some("/recordings/live/c1"));
    check_model(&models, "LiveRecording", &live).unwrap();
    assert_eq!(live["target_uri"], format!("channel:{id}").as_str());
    ws.wait_for("RecordingStarted", EVENT_TIMEOUT);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    ari.post("/recordings/live/c1/pause").expect(204, "pause");
    let paused = ari.get("/recordings/live/c1").expect(200, "paused");
    assert_eq!(paused["state"], "paused", "{paused}");
    ari.post("/recordings/live/c1/pause")
        .expect_error(409, "pause twice");
    std::thread::sleep(Duration::from_secs(2));
    ari.delete("/recordings/live/c1/pause")
        .expect(204, "unpause");
    ari.delete("/recordings/live/c1/pause")
        .expect_error(409, "unpause twice");
    let resumed = ari.get("/recordings/live/c1").expect(200, "resumed");
    assert_eq!(resumed["state"], "recording", "{resumed}");
    std::thread::sleep(Duration::from_millis(1500));
    ari.post("/recordings/live/c1/stop").expect(204, "stop");
    let wall = started.elapsed();
    let finished = ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
    assert_eq!(finished["recording"]["state"], "done", "{finished}");
    let seconds = finished["recording"]["duration"].as_u64().unwrap_or(99);
    assert!(
        (2..=3).contains(&seconds),
        "about 3 s recorded of {wall:?}: {finished}"
    );

    let pcm = stored_wav(&server, "c1", PCMU_RATE);
    let duration = recordings::duration(&pcm);
    assert!(
        duration >= Duration::from_millis(2500) && duration <= Duration::from_millis(3600),
        "c1.wav should last about 3 s (5 s minus the 2 s pause), lasts {duration:?}"
    );
    assert_dominated_by(&pcm, "c1.wav", ALICE_TONE);
    let stored = ari.get("/recordings/stored/c1").expect(200, "stored c1");
    assert_eq!(stored["duration_seconds"], 3, "{stored}");

    hang_up(&ari, &id);
    leg.wait().sipp.assert_success();
    check_events(&models, &ws);
}

/// Snoop channels over ARI: `spy=in` carries what the channel says, `spy=out`
/// what it hears; each enters the application and is recorded there.
#[test]
fn ari_snoop_spy_records_the_channel() {
    let server = server("ari-snoop");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let (id, leg) = Arrived::call(&server, &ari, &mut ws, ALICE)
        .start(tone_then_silence(ALICE_TONE, Duration::from_secs(15)));
    // The caller hears tone1k meanwhile (9 s).
    ari.post(&format!(
        "/channels/{id}/play?media=sound:tone1k,sound:tone1k,sound:tone1k"
    ))
    .expect(201, "play to the caller");
    ws.wait_for("PlaybackStarted", EVENT_TIMEOUT);

    let snoops = [
        (
            "in",
            format!("/channels/{id}/snoop?spy=in&app={APP}&appArgs=snooping,in"),
            "s-in",
            ALICE_TONE,
        ),
        (
            "out",
            format!("/channels/{id}/snoop/snoop-out?spy=out&app={APP}&appArgs=snooping,out"),
            "s-out",
            TONE1K_FREQ,
        ),
    ];
    for (direction, path, name, expected) in snoops {
        let snoop = ari.post(&path).expect(200, "snoop");
        check_model(&models, "Channel", &snoop).unwrap();
        let snoop_id = snoop["id"].as_str().expect("snoop id").to_string();
        assert!(
            snoop["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("Snoop/{id}"))),
            "{snoop}"
        );
        if direction == "out" {
            assert_eq!(snoop_id, "snoop-out");
        }
        let start = ws.wait_for("StasisStart", EVENT_TIMEOUT);
        assert_eq!(start["channel"]["id"], snoop_id.as_str(), "{start}");
        assert_eq!(start["args"], json!(["snooping", direction]), "{start}");
        ari.post(&format!(
            "/channels/{snoop_id}/record?name={name}&format=wav"
        ))
        .expect(201, "record the snoop");
        ws.wait_for("RecordingStarted", EVENT_TIMEOUT);
        std::thread::sleep(Duration::from_millis(2200));
        ari.post(&format!("/recordings/live/{name}/stop"))
            .expect(204, "stop");
        let finished = ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
        assert_eq!(
            finished["recording"]["target_uri"],
            format!("channel:{snoop_id}").as_str()
        );
        hang_up(&ari, &snoop_id);
        let destroyed = ws.wait_for("ChannelDestroyed", EVENT_TIMEOUT);
        assert_eq!(destroyed["channel"]["id"], snoop_id.as_str(), "{destroyed}");

        let pcm = stored_wav(&server, name, PCMU_RATE);
        let report = assert_dominated_by(&pcm, &format!("{name}.wav (spy={direction})"), expected);
        let other = if expected == ALICE_TONE {
            TONE1K_FREQ
        } else {
            ALICE_TONE
        };
        assert!(
            report.fraction(other) < 0.1,
            "{name}.wav (spy={direction}) should not carry {other} Hz; {report}"
        );
    }

    hang_up(&ari, &id);
    leg.wait().sipp.assert_success();
    check_events(&models, &ws);
}

/// How long external media talks with a bridged call.
const EXTERNAL_TALK: Duration = Duration::from_secs(4);

/// A server (see [`server`]) with its events socket, for external media.
struct ExternalMedia {
    _server: Server,
    ari: Ari,
    models: Map<String, Value>,
    ws: EventSocket,
}

impl ExternalMedia {
    /// The server, and a call from 1000 into Stasis, answered.
    fn start(name: &str) -> (ExternalMedia, Arrived) {
        let server = server(name);
        let ari = Ari::new(server.ari_addr());
        let models = all_models(&ari);
        let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
        let arrived = Arrived::call(&server, &ari, &mut ws, ALICE);
        let fx = ExternalMedia {
            _server: server,
            ari,
            models,
            ws,
        };
        (fx, arrived)
    }

    /// Creates external media channel `id` (`query`: host, format,
    /// encapsulation...; `body`: its variables) and waits for its
    /// StasisStart; its name must start with `kind`. Returns the channel.
    fn create(&mut self, id: &str, kind: &str, query: &str, body: Option<&Value>) -> Value {
        let channel = self
            .ari
            .call(
                "POST",
                &format!("/channels/externalMedia?app={APP}&channelId={id}&{query}"),
                body,
            )
            .expect(200, "externalMedia");
        check_model(&self.models, "Channel", &channel).unwrap();
        assert_eq!(channel["id"], id);
        assert!(
            channel["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(kind)),
            "{channel}"
        );
        let start = self.ws.wait_for("StasisStart", EVENT_TIMEOUT);
        assert_eq!(start["channel"]["id"], id, "{start}");
        channel
    }

    /// Starts the call's media (1000 sends [`ALICE_TONE`]) and joins it with
    /// channel `external` in a mixing bridge made over ARI.
    fn bridge(&self, arrived: Arrived, external: &str) -> BridgedCall {
        let bridge = self.ari.post("/bridges").expect(200, "create bridge");
        let bid = bridge["id"].as_str().expect("bridge id").to_string();
        assert_eq!(bridge["bridge_type"], "mixing");
        let (id, leg) = arrived.start(tone_then_silence(ALICE_TONE, Duration::from_secs(8)));
        self.ari
            .post(&format!(
                "/bridges/{bid}/addChannel?channel={id}&channel={external}"
            ))
            .expect(204, "addChannel");
        BridgedCall {
            bid,
            id,
            leg,
            t0: Instant::now(),
        }
    }
}

/// A call bridged with external media since `t0`.
struct BridgedCall {
    bid: String,
    id: String,
    leg: LiveLeg,
    t0: Instant,
}

impl BridgedCall {
    /// Part of the [`EXTERNAL_TALK`] to analyse (leaving out the start,
    /// and the end of what is still in flight).
    fn window(&self) -> std::ops::Range<Instant> {
        self.t0 + Duration::from_millis(700)..self.t0 + EXTERNAL_TALK - Duration::from_millis(200)
    }

    /// Hangs up the call and destroys the bridge; 1000 must have heard
    /// [`EXTERNAL_TONE`], and every event must match its model.
    fn finish(self, fx: &ExternalMedia) {
        let window = self.window();
        hang_up(&fx.ari, &self.id);
        let leg = self.leg.wait();
        leg.sipp.assert_success();
        fx.ari
            .delete(&format!("/bridges/{}", self.bid))
            .expect(204, "destroy");
        assert_heard(
            &leg.received,
            "1000 bridged with external media",
            window,
            EXTERNAL_TONE,
            Some(ALICE_TONE),
        );
        check_events(&fx.models, &fx.ws);
    }
}

/// External media over RTP bridged with a call: the socket gets the call's
/// audio, and what it sends is heard by the caller.
#[test]
fn ari_external_media_rtp_bridged_with_a_call() {
    let (mut fx, arrived) = ExternalMedia::start("ari-external-media");
    let external = RtpPeer::bind();
    let query = format!("external_host=127.0.0.1:{}&format=ulaw", external.port());
    let body = json!({"variables": {"PURPOSE": "transcription"}});
    let channel = fx.create("ext-1", "UnicastRTP/", &query, Some(&body));
    let vars = &channel["channelvars"];
    assert_eq!(vars["PURPOSE"], "transcription", "{channel}");
    let ip: std::net::IpAddr = vars["UNICASTRTP_LOCAL_ADDRESS"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("UNICASTRTP_LOCAL_ADDRESS in {channel}"));
    let port: u16 = vars["UNICASTRTP_LOCAL_PORT"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("UNICASTRTP_LOCAL_PORT in {channel}"));
    fx.ari
        .post(&format!(
            "/channels/externalMedia?app={APP}&{query}&channelId=ext-1"
        ))
        .expect_error(409, "channel id in use");

    let call = fx.bridge(arrived, "ext-1");
    let session = external.start(
        SocketAddr::new(ip, port),
        Codec::Pcmu,
        tone_then_silence(EXTERNAL_TONE, Duration::from_secs(8)),
    );
    sleep_until(call.t0 + EXTERNAL_TALK);
    let (from_switch, _) = session.finish();
    hang_up(&fx.ari, "ext-1");

    assert_heard(
        &from_switch,
        "the external media socket",
        call.window(),
        ALICE_TONE,
        Some(EXTERNAL_TONE),
    );
    assert_eq!(from_switch.audio_payload_types(), [0], "PCMU (format=ulaw)");
    call.finish(&fx);
}

/// The UUID the AudioSocket server must be told.
const AUDIOSOCKET_UUID: &str = "6f0c7c1e-93a4-4d2b-8b51-0e6a2f9d4c37";

/// External media over AudioSocket (TCP, slin) bridged with a call: the
/// server gets the UUID first, then the call's audio; what it sends is heard
/// by the caller; its hangup frame ends the channel.
#[test]
fn ari_external_media_audiosocket_bridged_with_a_call() {
    let (mut fx, arrived) = ExternalMedia::start("ari-external-audiosocket");
    let socket = AudioSocketServer::bind();
    let query = format!(
        "external_host={}&encapsulation=audiosocket&transport=tcp&format=slin&data={AUDIOSOCKET_UUID}",
        socket.addr()
    );
    let session = socket.start(EXTERNAL_TONE);
    fx.create("ext-as", "AudioSocket/", &query, None);

    let call = fx.bridge(arrived, "ext-as");
    sleep_until(call.t0 + EXTERNAL_TALK);
    session.hang_up();
    let destroyed = event_where(&mut fx.ws, "ChannelDestroyed", "/channel/id", "ext-as");
    eprintln!("after the hangup frame: {destroyed}");
    fx.ari
        .get("/channels/ext-as")
        .expect_error(404, "external media after its hangup frame");
    let conversation = session.finish();

    let hex = AUDIOSOCKET_UUID.replace('-', "");
    let uuid: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    let (hello, rest) = conversation
        .frames
        .split_first()
        .expect("no frame reached the AudioSocket server");
    assert_eq!(
        (hello.kind, hello.payload.as_slice()),
        (audiosocket::KIND_UUID, uuid.as_slice()),
        "the first frame must carry the UUID given as data"
    );
    for (i, frame) in rest.iter().enumerate() {
        assert_eq!(
            (frame.kind, frame.payload.len()),
            (audiosocket::KIND_AUDIO, audiosocket::AUDIO_LEN),
            "frame {} must be 20 ms of 8 kHz slin",
            i + 1
        );
    }
    let heard = conversation.audio(call.window());
    let frames = media::pcm_frames(&heard, Duration::ZERO).count();
    assert!(
        frames >= MIN_FRAMES,
        "the AudioSocket server got {frames} frames in the window ({} in all, {} sent)",
        rest.len(),
        conversation.sent
    );
    assert_dominated_by(&heard, "the AudioSocket server", ALICE_TONE);
    call.finish(&fx);
}

/// The error codes of bridges, recordings and the channels' media operations,
/// with a call in Stasis and one in a ConfBridge (neither the bridge nor the
/// channel of the latter is ARI's).
#[test]
fn ari_bridge_and_recording_errors() {
    let server = server("ari-media-errors");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let (id, leg) = Arrived::call(&server, &ari, &mut ws, ALICE)
        .start(vec![Segment::Silence(Duration::from_secs(40))]);
    let conf_rtp = RtpPeer::bind();
    let conf = Sipp::new(&server, "uac_call")
        .user(BOB)
        .dial("300")
        .rtp(conf_rtp.port(), "0 101")
        .pause(Duration::from_secs(30))
        .spawn();
    let conf_leg = LiveLeg::start(
        conf,
        conf_rtp,
        vec![Segment::Silence(Duration::from_secs(40))],
    );
    let channels = ari.get("/channels").expect(200, "channels");
    let outsider = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"]["number"] == BOB.id)
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("the ConfBridge call in {channels}"))
        .to_string();
    let bridges = ari.get("/bridges").expect(200, "bridges");
    let conference = bridges
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["creator"] == "ConfBridge")
        .unwrap_or_else(|| panic!("the ConfBridge in {bridges}"))
        .clone();
    check_model(&models, "Bridge", &conference).unwrap();
    let conference = conference["id"].as_str().unwrap().to_string();

    let error = |method: &str, path: &str, status: u16| -> String {
        ari.call(method, path, None).expect_error(status, path)
    };

    // ---- bridges ----
    for (method, path) in [
        ("GET", "/bridges/nope"),
        ("DELETE", "/bridges/nope"),
        ("POST", "/bridges/nope/addChannel?channel=x"),
        ("POST", "/bridges/nope/removeChannel?channel=x"),
        ("POST", "/bridges/nope/play?media=sound:tone1k"),
        ("POST", "/bridges/nope/record?name=x&format=wav"),
        ("POST", "/bridges/nope/moh"),
        ("DELETE", "/bridges/nope/moh"),
    ] {
        assert_eq!(
            error(method, path, 404),
            "Bridge not found",
            "{method} {path}"
        );
    }
    error("POST", "/bridges?type=sideways", 400);
    error("POST", "/bridges?type=mixing,holding", 400);
    let holding = ari
        .post("/bridges/hold-1?type=holding&name=waiting")
        .expect(200, "createWithId holding");
    assert_eq!(holding["bridge_type"], "holding", "{holding}");
    let bridge = ari
        .post("/bridges?bridgeId=br-1&name=errors")
        .expect(200, "create with bridgeId");
    assert_eq!(bridge["id"], "br-1");
    error("POST", "/bridges?bridgeId=br-1", 409);
    let same = ari.post("/bridges/br-1").expect(200, "createWithId again");
    assert_eq!(same["id"], "br-1");
    error("POST", "/bridges/br-1?type=holding", 409);
    error("POST", "/bridges/br-1?name=renamed", 409);
    assert_eq!(
        error("POST", "/bridges/br-1/addChannel", 400),
        "Missing required parameter channel"
    );
    assert_eq!(
        error("POST", "/bridges/br-1/addChannel?channel=nope", 400),
        "Channel not found"
    );
    assert_eq!(
        error(
            "POST",
            &format!("/bridges/br-1/addChannel?channel={outsider}"),
            422
        ),
        "Channel not in Stasis application"
    );
    assert_eq!(
        error(
            "POST",
            &format!("/bridges/br-1/removeChannel?channel={id}"),
            422
        ),
        "Channel not in this bridge"
    );
    for (method, path) in [
        (
            "POST",
            format!("/bridges/{conference}/addChannel?channel={id}"),
        ),
        ("DELETE", format!("/bridges/{conference}")),
        (
            "POST",
            format!("/bridges/{conference}/play?media=sound:tone1k"),
        ),
        (
            "POST",
            format!("/bridges/{conference}/record?name=x&format=wav"),
        ),
        ("POST", format!("/bridges/{conference}/moh")),
    ] {
        assert_eq!(
            error(method, &path, 409),
            "Bridge not in Stasis application",
            "{method} {path}"
        );
    }
    ari.get(&format!("/bridges/{conference}"))
        .expect(200, "a ConfBridge can be read");
    error("POST", "/bridges/br-1/record?name=x&format=mp3", 422);
    error("POST", "/bridges/br-1/record?name=x", 400);
    error(
        "POST",
        "/bridges/br-1/record?name=x&format=wav&ifExists=sometimes",
        400,
    );
    error("POST", "/bridges/br-1/play?media=bogus:thing", 400);
    error("DELETE", "/bridges/br-1/moh", 409);
    ari.post(&format!("/bridges/br-1/addChannel?channel={id}&mute=true"))
        .expect(204, "addChannel");
    ws.wait_for("ChannelEnteredBridge", EVENT_TIMEOUT);
    ari.post(&format!("/bridges/br-1/videoSource/{id}"))
        .expect(204, "setVideoSource");
    ari.delete("/bridges/br-1/videoSource")
        .expect(204, "clearVideoSource");
    ari.post(&format!("/bridges/br-1/removeChannel?channel={id}"))
        .expect(204, "removeChannel");
    ws.wait_for("ChannelLeftBridge", EVENT_TIMEOUT);
    error("POST", &format!("/bridges/br-1/videoSource/{id}"), 422);

    // ---- channels' media operations ----
    for (method, op) in [
        ("POST", "mute"),
        ("DELETE", "mute"),
        ("POST", "hold"),
        ("DELETE", "hold"),
        ("POST", "moh"),
        ("DELETE", "moh"),
        ("POST", "silence"),
        ("DELETE", "silence"),
        ("POST", "record?name=x&format=wav"),
    ] {
        assert_eq!(
            error(method, &format!("/channels/nope/{op}"), 404),
            "Channel not found"
        );
        assert_eq!(
            error(method, &format!("/channels/{outsider}/{op}"), 409),
            "Channel not in a Stasis application",
            "{method} {op}"
        );
        if op.starts_with("record") {
            continue;
        }
        ari.call(method, &format!("/channels/{id}/{op}"), None)
            .expect(204, op);
    }
    error(
        "POST",
        &format!("/channels/{id}/mute?direction=sideways"),
        400,
    );
    ari.post(&format!("/channels/{id}/mute?direction=in"))
        .expect(204, "mute in");
    ari.delete(&format!("/channels/{id}/mute?direction=in"))
        .expect(204, "unmute in");
    ws.wait_for("ChannelHold", EVENT_TIMEOUT);
    ws.wait_for("ChannelUnhold", EVENT_TIMEOUT);
    error("POST", "/channels/nope/snoop?spy=in&app=x", 404);
    error("POST", &format!("/channels/{id}/snoop?app=x"), 400);
    error(
        "POST",
        &format!("/channels/{id}/snoop?spy=sideways&app=x"),
        400,
    );
    error("POST", &format!("/channels/{id}/snoop?spy=in"), 400);
    error("POST", "/channels/externalMedia?app=x&format=ulaw", 400);
    error(
        "POST",
        "/channels/externalMedia?app=x&format=ulaw&external_host=nowhere",
        400,
    );
    error(
        "POST",
        "/channels/externalMedia?app=x&format=opus&external_host=127.0.0.1:9",
        400,
    );
    error(
        "POST",
        "/channels/externalMedia?app=x&format=ulaw&external_host=127.0.0.1:9&transport=tcp",
        501,
    );
    error(
        "POST",
        "/channels/externalMedia?app=x&format=slin&external_host=127.0.0.1:9&encapsulation=audiosocket&transport=tcp",
        400,
    );

    // ---- recordings ----
    error(
        "POST",
        &format!("/channels/{id}/record?name=x&format=mp3"),
        422,
    );
    error(
        "POST",
        &format!("/channels/{id}/record?name=x&format=wav&maxDurationSeconds=-1"),
        400,
    );
    error("POST", &format!("/channels/{id}/record?format=wav"), 400);
    for (method, path) in [
        ("GET", "/recordings/live/nope"),
        ("DELETE", "/recordings/live/nope"),
        ("POST", "/recordings/live/nope/stop"),
        ("POST", "/recordings/live/nope/pause"),
        ("DELETE", "/recordings/live/nope/pause"),
        ("POST", "/recordings/live/nope/mute"),
        ("DELETE", "/recordings/live/nope/mute"),
        ("GET", "/recordings/stored/nope"),
        ("DELETE", "/recordings/stored/nope"),
        ("GET", "/recordings/stored/nope/file"),
        (
            "POST",
            "/recordings/stored/nope/copy?destinationRecordingName=x",
        ),
    ] {
        assert_eq!(
            error(method, path, 404),
            "Recording not found",
            "{method} {path}"
        );
    }
    error("POST", "/recordings/stored/nope/copy", 400);

    // A recording in progress: its name is taken, and its channel cannot join a bridge.
    ari.post(&format!("/channels/{id}/record?name=r1&format=wav"))
        .expect(201, "record r1");
    ws.wait_for("RecordingStarted", EVENT_TIMEOUT);
    error(
        "POST",
        &format!("/channels/{id}/record?name=r1&format=wav&ifExists=overwrite"),
        409,
    );
    let message = error(
        "POST",
        &format!("/bridges/br-1/addChannel?channel={id}"),
        409,
    );
    assert!(message.contains("currently recording"), "{message}");
    error("DELETE", "/recordings/live/r1/pause", 409);
    ari.post("/recordings/live/r1/mute").expect(204, "mute");
    ari.delete("/recordings/live/r1/mute").expect(204, "unmute");
    ari.delete("/recordings/live/r1").expect(204, "cancel");
    let canceled = ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
    assert_eq!(canceled["recording"]["state"], "canceled", "{canceled}");
    error("GET", "/recordings/stored/r1", 404);
    assert!(
        !server.recordings_dir().join("r1.wav").exists(),
        "a canceled recording leaves no file: {}",
        recordings::listing(&server.recordings_dir())
    );

    // A stored recording: ifExists=fail refuses its name; copy, delete.
    ari.post(&format!("/channels/{id}/record?name=r2&format=wav"))
        .expect(201, "record r2");
    ws.wait_for("RecordingStarted", EVENT_TIMEOUT);
    std::thread::sleep(Duration::from_millis(500));
    ari.post("/recordings/live/r2/stop").expect(204, "stop r2");
    ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
    ari.post("/recordings/live/r2/stop")
        .expect_error(404, "stopped");
    error(
        "POST",
        &format!("/channels/{id}/record?name=r2&format=wav"),
        409,
    );
    let copy = ari
        .post("/recordings/stored/r2/copy?destinationRecordingName=r2-copy")
        .expect(200, "copy");
    check_model(&models, "StoredRecording", &copy).unwrap();
    assert_eq!(copy["name"], "r2-copy");
    error(
        "POST",
        "/recordings/stored/r2/copy?destinationRecordingName=r2-copy",
        409,
    );
    let download = ari.get("/recordings/stored/r2-copy/file");
    assert_eq!(download.status, 200, "download the copy: {}", download.body);
    assert_eq!(
        download.bytes,
        std::fs::read(server.recordings_dir().join("r2.wav")).expect("r2.wav"),
        "the copy holds r2"
    );
    ari.delete("/recordings/stored/r2-copy")
        .expect(204, "delete");
    error("DELETE", "/recordings/stored/r2-copy", 404);
    assert!(
        !server.recordings_dir().join("r2-copy.wav").exists(),
        "deleted with its file"
    );
    ari.post(&format!(
        "/channels/{id}/record?name=r2&format=wav&ifExists=overwrite"
    ))
    .expect(201, "overwrite r2");
    ari.delete("/recordings/live/r2").expect(204, "cancel r2");
    ws.wait_for("RecordingFinished", EVENT_TIMEOUT);
    ari.get("/recordings/stored/r2")
        .expect(200, "canceling an overwrite keeps the old r2");

    hang_up(&ari, &id);
    let leg = leg.wait();
    leg.sipp.assert_success();
    drop(conf_leg.stop());
    ari.delete("/bridges/br-1").expect(204, "destroy br-1");
    ari.delete("/bridges/hold-1").expect(204, "destroy hold-1");
    check_events(&models, &ws);
    let log = server.log();
    let undeclared: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ARI answered a status its declaration does not list"))
        .collect();
    assert!(
        undeclared.is_empty(),
        "every error status is declared:\n{}",
        undeclared.join("\n")
    );
}
