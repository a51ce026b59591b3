//! Every operation of the seed's `channels` resource (seed `000_…`), each with
//! its success path and every error code the seed declares for it.
//!
//! [`OPERATIONS`] is that declaration (nickname, method, a request, success
//! status, error codes) and names the test that covers each operation;
//! [`ari_channels_ops_cover_the_declaration`] holds it to the server's own
//! api-docs. Each test runs one server and as few real calls as it can: one
//! SIPp call into `Stasis` for the success paths, a channel made with
//! `create` and never dialled (Down: a state in which Asterisk answers 412)
//! for the 412s, and the same call sent back to the dialplan with `continue`
//! (a channel in no application) for the 409s. The error checks do not stop
//! at the first mismatch: all of them run, and the test fails at its end with
//! every answer that differs from the declaration.
//!
//! Where Asterisk 22 answers a situation differently from the seed's prose,
//! the checks follow Asterisk: externalMedia's 409 is a `channelId` already in
//! use (the only 409 Asterisk's implementation gives; the seed's prose speaks
//! of Stasis and bridges, which a channel being created is in neither);
//! transfer_progress's 400 is a missing or unknown `states` (the seed's
//! "Endpoint parameter not provided" is copied from redirect); redirect's 422
//! is an endpoint without a technology or of another technology than the
//! channel's, and its 404 a channel that does not exist (Asterisk redirects
//! asynchronously: an unknown endpoint is no error of the request).

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::stasis_media::{check_events, Arrived};
use super::{event_where, APP, EVENT_TIMEOUT};
use crate::support::ari::{all_models, check_model, Ari, EventSocket, Response};
use crate::support::calls;
use crate::support::media::{RtpPeer, Segment};
use crate::support::server::{Server, ServerConfig};
use crate::support::sipp::Sipp;
use crate::support::{poll, ports, ALICE, BOB};

/// The application `move` sends the call to (the tests' socket has it too).
const MOVED_APP: &str = "ops-moved";
/// A channel id nobody uses.
const NOPE: &str = "no-such-channel";
/// What the callers send for as long as their call lasts.
const CALLER_TONE: f32 = 400.0;
const CALL_LENGTH: Duration = Duration::from_secs(25);
/// How long a playback plays before the test stops it.
const PLAYING: Duration = Duration::from_millis(300);

/// The tests of this file, each covering its group of operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// [`ari_channels_ops_call_control`]
    CallControl,
    /// [`ari_channels_ops_media`]
    Media,
    /// [`ari_channels_ops_variables_stats_snoop_external_media`]
    Inspection,
    /// [`ari_channels_ops_originate_create_dial`]
    Origination,
}

/// An operation of the seed's channels resource.
struct Op {
    nickname: &'static str,
    method: &'static str,
    /// A request for it; `{id}` is the channel's id. For the operations on a
    /// channel, the request the error checks send.
    request: &'static str,
    /// The status of success (void operations answer 204).
    success: u16,
    /// The seed's `errorResponses`.
    errors: &'static [u16],
    group: Group,
}

const fn op(
    nickname: &'static str,
    method: &'static str,
    request: &'static str,
    success: u16,
    errors: &'static [u16],
    group: Group,
) -> Op {
    Op {
        nickname,
        method,
        request,
        success,
        errors,
        group,
    }
}

/// The seed's declaration of the channels resource, in its order.
const OPERATIONS: &[Op] = &[
    op("list", "GET", "/channels", 200, &[], Group::CallControl),
    op(
        "originate",
        "POST",
        "/channels?endpoint=PJSIP/1001&app=test-app",
        200,
        &[400, 409],
        Group::Origination,
    ),
    op(
        "create",
        "POST",
        "/channels/create?endpoint=PJSIP/1001&app=test-app",
        200,
        &[409],
        Group::Origination,
    ),
    op(
        "get",
        "GET",
        "/channels/{id}",
        200,
        &[404],
        Group::CallControl,
    ),
    op(
        "originateWithId",
        "POST",
        "/channels/{id}?endpoint=PJSIP/1001&app=test-app",
        200,
        &[400, 409],
        Group::Origination,
    ),
    op(
        "hangup",
        "DELETE",
        "/channels/{id}",
        204,
        &[400, 404],
        Group::CallControl,
    ),
    op(
        "continueInDialplan",
        "POST",
        "/channels/{id}/continue",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "move",
        "POST",
        "/channels/{id}/move?app=ops-moved",
        204,
        &[404, 409],
        Group::CallControl,
    ),
    op(
        "redirect",
        "POST",
        "/channels/{id}/redirect?endpoint=PJSIP/1001",
        204,
        &[400, 404, 409, 422, 412],
        Group::CallControl,
    ),
    op(
        "answer",
        "POST",
        "/channels/{id}/answer",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "ring",
        "POST",
        "/channels/{id}/ring",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "ringStop",
        "DELETE",
        "/channels/{id}/ring",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "progress",
        "POST",
        "/channels/{id}/progress",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "sendDTMF",
        "POST",
        "/channels/{id}/dtmf?dtmf=1",
        204,
        &[400, 404, 409, 412],
        Group::CallControl,
    ),
    op(
        "mute",
        "POST",
        "/channels/{id}/mute",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "unmute",
        "DELETE",
        "/channels/{id}/mute",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "hold",
        "POST",
        "/channels/{id}/hold",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "unhold",
        "DELETE",
        "/channels/{id}/hold",
        204,
        &[404, 409, 412],
        Group::CallControl,
    ),
    op(
        "startMoh",
        "POST",
        "/channels/{id}/moh",
        204,
        &[404, 409, 412],
        Group::Media,
    ),
    op(
        "stopMoh",
        "DELETE",
        "/channels/{id}/moh",
        204,
        &[404, 409, 412],
        Group::Media,
    ),
    op(
        "startSilence",
        "POST",
        "/channels/{id}/silence",
        204,
        &[404, 409, 412],
        Group::Media,
    ),
    op(
        "stopSilence",
        "DELETE",
        "/channels/{id}/silence",
        204,
        &[404, 409, 412],
        Group::Media,
    ),
    op(
        "play",
        "POST",
        "/channels/{id}/play?media=sound:tone1k",
        201,
        &[404, 409, 412],
        Group::Media,
    ),
    op(
        "playWithId",
        "POST",
        "/channels/{id}/play/ops-refused?media=sound:tone1k",
        201,
        &[404, 409, 412],
        Group::Media,
    ),
    op(
        "record",
        "POST",
        "/channels/{id}/record?name=ops-refused&format=wav",
        201,
        &[400, 404, 409, 422],
        Group::Media,
    ),
    op(
        "getChannelVar",
        "GET",
        "/channels/{id}/variable?variable=OPS_VAR",
        200,
        &[400, 404, 409],
        Group::Inspection,
    ),
    op(
        "setChannelVar",
        "POST",
        "/channels/{id}/variable?variable=OPS_VAR&value=1",
        204,
        &[400, 404, 409],
        Group::Inspection,
    ),
    op(
        "snoopChannel",
        "POST",
        "/channels/{id}/snoop?spy=in&app=test-app",
        200,
        &[400, 404],
        Group::Inspection,
    ),
    op(
        "snoopChannelWithId",
        "POST",
        "/channels/{id}/snoop/ops-refused?spy=in&app=test-app",
        200,
        &[400, 404],
        Group::Inspection,
    ),
    op(
        "dial",
        "POST",
        "/channels/{id}/dial",
        204,
        &[404, 409],
        Group::Origination,
    ),
    op(
        "rtpstatistics",
        "GET",
        "/channels/{id}/rtp_statistics",
        200,
        &[404],
        Group::Inspection,
    ),
    op(
        "externalMedia",
        "POST",
        "/channels/externalMedia?app=test-app&external_host=127.0.0.1:9&format=ulaw",
        200,
        &[400, 409],
        Group::Inspection,
    ),
    op(
        "transfer_progress",
        "POST",
        "/channels/{id}/transfer_progress?states=channel_progress",
        204,
        &[400, 404, 409, 412],
        Group::Inspection,
    ),
];

fn operation(nickname: &str) -> &'static Op {
    OPERATIONS
        .iter()
        .find(|o| o.nickname == nickname)
        .unwrap_or_else(|| panic!("{nickname} is not an operation of the seed's channels"))
}

/// Checks an ARI error answer: `code`, JSON, and the body `{"message": "…"}`.
fn ari_error(response: &Response, code: u16) -> Result<(), String> {
    if response.status != code {
        return Err(format!(
            "answered {} {}",
            response.status,
            response.body.trim()
        ));
    }
    let json_type = response
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("application/json"));
    let body: Option<Value> = serde_json::from_str(&response.body).ok();
    let message = body
        .as_ref()
        .and_then(Value::as_object)
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("message"))
        .and_then(Value::as_str);
    match message {
        Some(m) if json_type && !m.is_empty() => Ok(()),
        _ => Err(format!(
            "{code} without an ARI error body: Content-Type {:?}, body {:?}",
            response.header("Content-Type"),
            response.body
        )),
    }
}

/// The checks of one test: what it covered of [`OPERATIONS`], and every
/// answer that differed from the declaration.
struct Checks {
    ari: Ari,
    group: Group,
    covered: BTreeSet<(&'static str, u16)>,
    /// Answers that differ from the declaration, and effects that are missing.
    failures: Vec<String>,
}

impl Checks {
    fn new(ari: Ari, group: Group) -> Checks {
        Checks {
            ari,
            group,
            covered: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    fn cover(&mut self, nickname: &str, status: u16) -> &'static Op {
        let op = operation(nickname);
        assert!(
            status == op.success || op.errors.contains(&status),
            "the seed declares no {status} for {nickname}"
        );
        self.covered.insert((op.nickname, status));
        op
    }

    /// The success path of `nickname`: panics unless it succeeds, as what
    /// follows relies on it.
    fn success(
        &mut self,
        nickname: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let success = operation(nickname).success;
        let response = self.ari.call(method, path, body);
        assert_eq!(
            response.status, success,
            "{nickname}: {method} {path}: {} {}",
            response.status, response.body
        );
        self.cover(nickname, success);
        response
    }

    /// [`Checks::success`] of `nickname`'s request on channel `id`.
    fn success_on(&mut self, nickname: &str, id: &str) -> Response {
        let op = operation(nickname);
        self.success(nickname, op.method, &op.request.replace("{id}", id), None)
    }

    /// A request that must fail with `code` and an ARI error body.
    fn error(&mut self, nickname: &str, code: u16, method: &str, path: &str) {
        self.error_with(nickname, code, method, path, None);
    }

    fn error_with(
        &mut self,
        nickname: &str,
        code: u16,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) {
        self.cover(nickname, code);
        let response = self.ari.call(method, path, body);
        if let Err(why) = ari_error(&response, code) {
            self.fail(format!("{nickname} {code}: {method} {path}: {why}"));
        }
    }

    /// Notes a failure; the test goes on, and fails at [`Checks::finish`].
    fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    /// `nickname`'s request on channel `id`, which must fail with `code`.
    fn error_on(&mut self, nickname: &str, code: u16, id: &str) {
        let op = operation(nickname);
        self.error(nickname, code, op.method, &op.request.replace("{id}", id));
    }

    /// Fails unless the server still runs, every operation of the group was
    /// checked for its success and each declared code, and every answer was
    /// the declared one.
    fn finish(self, server: &mut Server) {
        server.assert_running();
        let missing: Vec<String> = OPERATIONS
            .iter()
            .filter(|o| o.group == self.group)
            .flat_map(|o| {
                std::iter::once(o.success)
                    .chain(o.errors.iter().copied())
                    .map(move |status| (o.nickname, status))
            })
            .filter(|key| !self.covered.contains(key))
            .map(|(nickname, status)| format!("{nickname} {status}"))
            .collect();
        assert!(
            missing.is_empty(),
            "{:?}: not checked: {}",
            self.group,
            missing.join(", ")
        );
        let mut failures = self.failures;
        let log = server.log();
        failures.extend(
            log.lines()
                .filter(|l| l.contains("ARI answered a status its declaration does not list"))
                .map(|l| format!("server log: {l}")),
        );
        assert!(
            failures.is_empty(),
            "{} check(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
}

/// One server for one test, with its events socket.
struct Fixture {
    server: Server,
    ari: Ari,
    models: Map<String, Value>,
    ws: EventSocket,
}

impl Fixture {
    /// A server where `200` runs `Stasis(test-app,arg1)`, then `Wait(30)`
    /// (where `continue` sends a call); the socket listens to `test-app`
    /// and [`MOVED_APP`].
    fn start(name: &str) -> Fixture {
        let config = ServerConfig::default()
            .extension("default", "200", &["Stasis(test-app,arg1)", "Wait(30)"])
            .ari();
        let server = Server::start_with(name, config);
        let ari = Ari::new(server.ari_addr());
        let models = all_models(&ari);
        let ws = EventSocket::connect(server.ari_addr(), &format!("app={APP},{MOVED_APP}"));
        Fixture {
            server,
            ari,
            models,
            ws,
        }
    }

    fn model(&self, name: &str, value: &Value) {
        check_model(&self.models, name, value).unwrap_or_else(|e| panic!("{e}"));
    }

    /// A channel made with `create` and never dialled: in the application
    /// and Down, a state in which Asterisk refuses (412) what would change
    /// the channel's state, play media to it or move it in the dialplan.
    fn down_channel(&mut self) -> String {
        let channel = self
            .ari
            .post(&format!(
                "/channels/create?endpoint=PJSIP/1001&app={APP}&appArgs=down"
            ))
            .expect(200, "create a Down channel");
        assert_eq!(channel["state"], "Down", "{channel}");
        let id = channel["id"].as_str().expect("id").to_string();
        event_where(&mut self.ws, "StasisStart", "/channel/id", &id);
        id
    }

    /// `continue` with no location: the call leaves its application
    /// (StasisEnd) and runs the next priority, `Wait(30)`: a channel that
    /// exists in no application, for the 409s.
    fn leave_stasis(&mut self, checks: &mut Checks, id: &str) {
        checks.success_on("continueInDialplan", id);
        event_where(&mut self.ws, "StasisEnd", "/channel/id", id);
        let waiting = poll(EVENT_TIMEOUT, || {
            let got = self
                .ari
                .get(&format!("/channels/{id}"))
                .expect(200, "a call back in the dialplan");
            (got["dialplan"]["app_name"] == "Wait").then_some(got)
        });
        let got = waiting.unwrap_or_else(|| panic!("{id} does not run Wait() after continue"));
        assert_eq!(got["dialplan"]["priority"], 2, "{got}");
    }

    fn hang_up(&self, id: &str) {
        self.ari
            .delete(&format!("/channels/{id}"))
            .expect(204, "hangup");
    }
}

/// The call's state (answer, ring, progress), what it hears (DTMF, hold,
/// mute), where it is (move, continue, redirect), list, get and hangup.
#[test]
fn ari_channels_ops_call_control() {
    let mut fx = Fixture::start("ari-ops-control");
    let ari = fx.ari;
    let mut checks = Checks::new(ari, Group::CallControl);
    let arrived = Arrived::ringing(&fx.server, &mut fx.ws, ALICE);
    let a = arrived.id.clone();
    let down = fx.down_channel();

    let list = checks.success("list", "GET", "/channels", None).json();
    let listed = list.as_array().unwrap_or_else(|| panic!("list: {list}"));
    for id in [&a, &down] {
        assert!(
            listed.iter().any(|c| c["id"] == id.as_str()),
            "{id} not in {list}"
        );
    }
    for channel in listed {
        fx.model("Channel", channel);
    }
    let got = checks.success_on("get", &a).json();
    fx.model("Channel", &got);
    assert_eq!(
        (got["id"].as_str(), got["state"].as_str()),
        (Some(a.as_str()), Some("Ring")),
        "{got}"
    );

    // An inbound call still ringing (Ring) takes indications; the caller's
    // SIPp expects 180, then 183, then the 200 of the answer.
    for nickname in ["ring", "ringStop", "progress"] {
        checks.success_on(nickname, &a);
    }
    checks.success_on("answer", &a);
    let up = event_where(&mut fx.ws, "ChannelStateChange", "/channel/id", &a);
    assert_eq!(up["channel"]["state"], "Up", "{up}");
    let got = ari.get(&format!("/channels/{a}")).expect(200, "get");
    assert_eq!(got["state"], "Up", "{got}");
    let (_, leg) = arrived.start(vec![Segment::Tone(CALLER_TONE, CALL_LENGTH)]);

    // The digits reach the caller as RFC 4733 events (checked at the end);
    // they are sent in the background, so give them time to go out before
    // hold and mute change what the caller gets.
    checks.success(
        "sendDTMF",
        "POST",
        &format!("/channels/{a}/dtmf?dtmf=12&before=50&between=100&duration=120&after=0"),
        None,
    );
    checks.error("sendDTMF", 400, "POST", &format!("/channels/{a}/dtmf"));
    std::thread::sleep(Duration::from_millis(800));
    checks.success_on("hold", &a);
    event_where(&mut fx.ws, "ChannelHold", "/channel/id", &a);
    checks.success_on("unhold", &a);
    event_where(&mut fx.ws, "ChannelUnhold", "/channel/id", &a);
    checks.success(
        "mute",
        "POST",
        &format!("/channels/{a}/mute?direction=in"),
        None,
    );
    checks.success(
        "unmute",
        "DELETE",
        &format!("/channels/{a}/mute?direction=in"),
        None,
    );
    checks.success_on("mute", &a);
    checks.success_on("unmute", &a);

    // move: StasisEnd in test-app, StasisStart in the other with its args.
    checks.success(
        "move",
        "POST",
        &format!("/channels/{a}/move?app={MOVED_APP}&appArgs=m1,m2"),
        None,
    );
    let end = event_where(&mut fx.ws, "StasisEnd", "/channel/id", &a);
    assert_eq!(end["application"], APP, "{end}");
    let start = event_where(&mut fx.ws, "StasisStart", "/channel/id", &a);
    assert_eq!(
        (start["application"].as_str(), &start["args"]),
        (Some(MOVED_APP), &json!(["m1", "m2"])),
        "{start}"
    );

    // redirect before the answer: a second caller gets a 302 to the
    // endpoint's URI, and its channel goes away.
    let b_rtp = RtpPeer::bind();
    let b_call = Sipp::new(&fx.server, "uac_redirected")
        .user(BOB)
        .dial("200")
        .rtp(b_rtp.port(), "0 101")
        .spawn();
    let b_start = event_where(&mut fx.ws, "StasisStart", "/channel/caller/number", BOB.id);
    let b = b_start["channel"]["id"].as_str().expect("id").to_string();
    let elsewhere = "sip:elsewhere@127.0.0.1:5999";
    checks.success(
        "redirect",
        "POST",
        &format!("/channels/{b}/redirect?endpoint=PJSIP/{elsewhere}"),
        None,
    );
    b_call
        .wait()
        .assert_logged(&format!("REDIRECTED <{elsewhere}>"));
    let gone = poll(EVENT_TIMEOUT, || {
        (ari.get(&format!("/channels/{b}")).status == 404).then_some(())
    });
    if gone.is_none() {
        checks.fail(format!(
            "redirect: channel {b} is still there {EVENT_TIMEOUT:?} after its caller was sent away with a 302"
        ));
    }
    let redirect = |id: &str, query: &str| format!("/channels/{id}/redirect{query}");
    checks.error("redirect", 400, "POST", &redirect(&a, ""));
    // Asterisk: "Endpoint parameter '1001' does not contain tech/resource",
    // "Endpoint technology 'IAX2' does not match channel technology 'PJSIP'".
    checks.error("redirect", 422, "POST", &redirect(&a, "?endpoint=1001"));
    checks.error(
        "redirect",
        422,
        "POST",
        &redirect(&a, "?endpoint=IAX2/1001"),
    );

    let on_a_channel = [
        "ring",
        "ringStop",
        "progress",
        "answer",
        "sendDTMF",
        "hold",
        "unhold",
        "mute",
        "unmute",
        "continueInDialplan",
        "redirect",
    ];
    for nickname in on_a_channel.iter().chain(&["get", "move", "hangup"]) {
        checks.error_on(nickname, 404, NOPE);
    }
    for nickname in on_a_channel {
        checks.error_on(nickname, 412, &down);
    }
    fx.leave_stasis(&mut checks, &a);
    for nickname in on_a_channel.iter().chain(&["move"]) {
        checks.error_on(nickname, 409, &a);
    }

    // hangup: an unknown reason is refused; `busy` is cause 17.
    checks.error(
        "hangup",
        400,
        "DELETE",
        &format!("/channels/{down}?reason=bogus"),
    );
    checks.success(
        "hangup",
        "DELETE",
        &format!("/channels/{down}?reason=busy"),
        None,
    );
    let destroyed = event_where(&mut fx.ws, "ChannelDestroyed", "/channel/id", &down);
    assert_eq!(destroyed["cause"], 17, "{destroyed}");
    // The call, out of Stasis, is hung up too (its SIPp gets the BYE).
    checks.success_on("hangup", &a);
    let leg = leg.wait();
    leg.sipp.assert_success();
    let digits = leg.received.digits();
    if !digits.starts_with("12") {
        checks.fail(format!(
            "sendDTMF: the caller received the digits {digits:?}, not \"12\""
        ));
    }
    check_events(&fx.models, &fx.ws);
    checks.finish(&mut fx.server);
}

/// Music on hold, silence, play (with and without an id) and record.
#[test]
fn ari_channels_ops_media() {
    let mut fx = Fixture::start("ari-ops-media");
    let ari = fx.ari;
    let mut checks = Checks::new(ari, Group::Media);
    let (a, leg) = Arrived::call(&fx.server, &ari, &mut fx.ws, ALICE)
        .start(vec![Segment::Tone(CALLER_TONE, CALL_LENGTH)]);
    let down = fx.down_channel();

    // An unknown class falls back to the default one, as in Asterisk.
    checks.success(
        "startMoh",
        "POST",
        &format!("/channels/{a}/moh?mohClass=ops-class"),
        None,
    );
    checks.success_on("stopMoh", &a);
    checks.success_on("startSilence", &a);
    checks.success_on("stopSilence", &a);

    // play / playWithId: a Playback at its Location, started, then stopped.
    for (nickname, path, given) in [
        (
            "play",
            format!("/channels/{a}/play?media=sound:tone1k&lang=en&offsetms=0&skipms=500"),
            None,
        ),
        (
            "playWithId",
            format!("/channels/{a}/play/ops-pb?media=sound:tone1k"),
            Some("ops-pb"),
        ),
    ] {
        let response = checks.success(nickname, "POST", &path, None);
        let playback = response.json();
        fx.model("Playback", &playback);
        let id = playback["id"].as_str().expect("playback id").to_string();
        if let Some(given) = given {
            assert_eq!(id, given, "{playback}");
        }
        assert_eq!(
            response.header("Location"),
            Some(format!("/playbacks/{id}").as_str()),
            "{nickname}"
        );
        assert_eq!(
            (
                playback["media_uri"].as_str(),
                playback["target_uri"].as_str()
            ),
            (Some("sound:tone1k"), Some(format!("channel:{a}").as_str())),
            "{playback}"
        );
        event_where(&mut fx.ws, "PlaybackStarted", "/playback/id", &id);
        std::thread::sleep(PLAYING);
        let stopped = Instant::now();
        ari.delete(&format!("/playbacks/{id}"))
            .expect(204, "stop the playback");
        event_where(&mut fx.ws, "PlaybackFinished", "/playback/id", &id);
        if stopped.elapsed() > Duration::from_secs(1) {
            checks.fail(format!(
                "{nickname}: PlaybackFinished {:?} after the playback was stopped",
                stopped.elapsed()
            ));
        }
    }

    // record: a LiveRecording at its Location, recording, then stored.
    let response = checks.success(
        "record",
        "POST",
        &format!(
            "/channels/{a}/record?name=ops-rec&format=wav&maxDurationSeconds=30\
             &maxSilenceSeconds=0&ifExists=overwrite&beep=false&terminateOn=none"
        ),
        None,
    );
    let live = response.json();
    fx.model("LiveRecording", &live);
    assert_eq!(
        response.header("Location"),
        Some("/recordings/live/ops-rec")
    );
    assert_eq!(
        (
            live["name"].as_str(),
            live["format"].as_str(),
            live["target_uri"].as_str()
        ),
        (
            Some("ops-rec"),
            Some("wav"),
            Some(format!("channel:{a}").as_str())
        ),
        "{live}"
    );
    event_where(&mut fx.ws, "RecordingStarted", "/recording/name", "ops-rec");
    let record = |query: &str| format!("/channels/{a}/record?{query}");
    // The name of a recording in progress cannot be taken, even to overwrite.
    checks.error(
        "record",
        409,
        "POST",
        &record("name=ops-rec&format=wav&ifExists=overwrite"),
    );
    checks.error("record", 400, "POST", &record("name=ops-x"));
    checks.error(
        "record",
        400,
        "POST",
        &record("name=ops-x&format=wav&maxDurationSeconds=-1"),
    );
    checks.error(
        "record",
        400,
        "POST",
        &record("name=ops-x&format=wav&ifExists=sometimes"),
    );
    checks.error("record", 422, "POST", &record("name=ops-x&format=mp3"));
    std::thread::sleep(Duration::from_millis(500));
    ari.post("/recordings/live/ops-rec/stop")
        .expect(204, "stop the recording");
    let finished = event_where(
        &mut fx.ws,
        "RecordingFinished",
        "/recording/name",
        "ops-rec",
    );
    assert_eq!(finished["recording"]["state"], "done", "{finished}");
    ari.get("/recordings/stored/ops-rec")
        .expect(200, "the stored recording");

    let media = [
        "startMoh",
        "stopMoh",
        "startSilence",
        "stopSilence",
        "play",
        "playWithId",
    ];
    for nickname in media.iter().chain(&["record"]) {
        checks.error_on(nickname, 404, NOPE);
    }
    for nickname in media {
        checks.error_on(nickname, 412, &down);
    }
    fx.leave_stasis(&mut checks, &a);
    for nickname in media.iter().chain(&["record"]) {
        checks.error_on(nickname, 409, &a);
    }

    fx.hang_up(&down);
    fx.hang_up(&a);
    leg.wait().sipp.assert_success();
    check_events(&fx.models, &fx.ws);
    checks.finish(&mut fx.server);
}

/// Channel variables, RTP statistics, snoop (with and without an id),
/// external media and transfer progress.
#[test]
fn ari_channels_ops_variables_stats_snoop_external_media() {
    let mut fx = Fixture::start("ari-ops-inspection");
    let ari = fx.ari;
    let mut checks = Checks::new(ari, Group::Inspection);
    let (a, leg) = Arrived::call(&fx.server, &ari, &mut fx.ws, ALICE)
        .start(vec![Segment::Tone(CALLER_TONE, CALL_LENGTH)]);
    let down = fx.down_channel();
    let variable = |query: &str| format!("/channels/{a}/variable{query}");

    // A variable set is a ChannelVarset, and reads back.
    checks.success(
        "setChannelVar",
        "POST",
        &variable("?variable=OPS_COLOR&value=blue"),
        None,
    );
    let varset = event_where(&mut fx.ws, "ChannelVarset", "/channel/id", &a);
    assert_eq!(
        (varset["variable"].as_str(), varset["value"].as_str()),
        (Some("OPS_COLOR"), Some("blue")),
        "{varset}"
    );
    let value = checks
        .success(
            "getChannelVar",
            "GET",
            &variable("?variable=OPS_COLOR"),
            None,
        )
        .json();
    fx.model("Variable", &value);
    assert_eq!(value, json!({"value": "blue"}));
    checks.error("getChannelVar", 400, "GET", &variable(""));
    checks.error("setChannelVar", 400, "POST", &variable("?value=blue"));
    checks.error(
        "getChannelVar",
        404,
        "GET",
        &variable("?variable=OPS_UNSET"),
    );
    checks.error_on("getChannelVar", 404, NOPE);
    checks.error_on("setChannelVar", 404, NOPE);

    // rtp_statistics: every RTPstat field, counting what the caller sends.
    let stats_path = format!("/channels/{a}/rtp_statistics");
    let counted = poll(EVENT_TIMEOUT, || {
        let stats = ari.get(&stats_path).expect(200, "rtp_statistics");
        (stats["rxcount"].as_u64().unwrap_or(0) >= 25).then_some(())
    });
    assert!(counted.is_some(), "rxcount never reached 25 packets");
    let stats = checks.success_on("rtpstatistics", &a).json();
    fx.model("RTPstat", &stats);
    let fields = fx.models["RTPstat"]["properties"]
        .as_object()
        .expect("RTPstat properties");
    let absent: Vec<&String> = fields.keys().filter(|f| stats.get(*f).is_none()).collect();
    assert!(absent.is_empty(), "RTPstat without {absent:?}: {stats}");
    assert_eq!(stats["channel_uniqueid"], a.as_str(), "{stats}");
    checks.error_on("rtpstatistics", 404, NOPE);

    // snoop: a Snoop/ channel entering the application with its arguments.
    for (nickname, path, given) in [
        (
            "snoopChannel",
            format!("/channels/{a}/snoop?spy=in&whisper=none&app={APP}&appArgs=s1,s2"),
            None,
        ),
        (
            "snoopChannelWithId",
            format!("/channels/{a}/snoop/ops-snoop?spy=both&whisper=out&app={APP}&appArgs=s1,s2"),
            Some("ops-snoop"),
        ),
    ] {
        let snoop = checks.success(nickname, "POST", &path, None).json();
        fx.model("Channel", &snoop);
        let id = snoop["id"].as_str().expect("snoop id").to_string();
        if let Some(given) = given {
            assert_eq!(id, given, "{snoop}");
        }
        assert!(
            snoop["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("Snoop/{a}"))),
            "{snoop}"
        );
        let start = event_where(&mut fx.ws, "StasisStart", "/channel/id", &id);
        assert_eq!(start["args"], json!(["s1", "s2"]), "{start}");
        fx.hang_up(&id);
        event_where(&mut fx.ws, "ChannelDestroyed", "/channel/id", &id);
    }
    let snoop = |path: &str| format!("/channels/{a}/{path}");
    checks.error(
        "snoopChannel",
        400,
        "POST",
        &snoop(&format!("snoop?app={APP}")),
    );
    checks.error(
        "snoopChannel",
        400,
        "POST",
        &snoop(&format!("snoop?spy=sideways&app={APP}")),
    );
    checks.error("snoopChannel", 400, "POST", &snoop("snoop?spy=in"));
    checks.error(
        "snoopChannelWithId",
        400,
        "POST",
        &snoop(&format!(
            "snoop/ops-snoop-2?spy=none&whisper=none&app={APP}"
        )),
    );
    checks.error(
        "snoopChannelWithId",
        400,
        "POST",
        &snoop("snoop/ops-snoop-2?spy=in"),
    );
    checks.error_on("snoopChannel", 404, NOPE);
    checks.error_on("snoopChannelWithId", 404, NOPE);

    // externalMedia: a UnicastRTP/ channel in the application, with where
    // to send its RTP and the body's variables among its channelvars.
    let sink = UdpSocket::bind("127.0.0.1:0").expect("bind the external media socket");
    let host = sink.local_addr().expect("external media address");
    let external = |query: &str| {
        format!("/channels/externalMedia?app={APP}&external_host={host}&format=ulaw{query}")
    };
    let channel = checks
        .success(
            "externalMedia",
            "POST",
            &external("&channelId=ops-ext&encapsulation=rtp&transport=udp&direction=both&data=x1"),
            Some(&json!({"variables": {"OPS_EXT": "yes"}})),
        )
        .json();
    fx.model("Channel", &channel);
    assert_eq!(channel["id"], "ops-ext", "{channel}");
    assert!(
        channel["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("UnicastRTP/")),
        "{channel}"
    );
    let vars = &channel["channelvars"];
    assert_eq!(vars["OPS_EXT"], "yes", "{channel}");
    for name in ["UNICASTRTP_LOCAL_ADDRESS", "UNICASTRTP_LOCAL_PORT"] {
        assert!(vars[name].is_string(), "no {name} in {channel}");
    }
    let start = event_where(&mut fx.ws, "StasisStart", "/channel/id", "ops-ext");
    assert_eq!(start["args"], json!(["x1"]), "{start}");
    checks.error(
        "externalMedia",
        400,
        "POST",
        &format!("/channels/externalMedia?app={APP}&format=ulaw"),
    );
    checks.error(
        "externalMedia",
        400,
        "POST",
        &format!("/channels/externalMedia?external_host={host}&format=ulaw"),
    );
    checks.error(
        "externalMedia",
        409,
        "POST",
        &external("&channelId=ops-ext"),
    );
    checks.error(
        "externalMedia",
        409,
        "POST",
        &external(&format!("&channelId={a}")),
    );
    fx.hang_up("ops-ext");
    drop(sink);

    // transfer_progress: each of Asterisk's states; `states` is required.
    let transfer = |id: &str, query: &str| format!("/channels/{id}/transfer_progress{query}");
    for state in [
        "channel_progress",
        "channel_answered",
        "channel_unavailable",
        "channel_declined",
    ] {
        checks.success(
            "transfer_progress",
            "POST",
            &transfer(&a, &format!("?states={state}")),
            None,
        );
    }
    checks.error("transfer_progress", 400, "POST", &transfer(&a, ""));
    checks.error(
        "transfer_progress",
        400,
        "POST",
        &transfer(&a, "?states=sideways"),
    );
    checks.error_on("transfer_progress", 404, NOPE);
    checks.error_on("transfer_progress", 412, &down);

    fx.leave_stasis(&mut checks, &a);
    for nickname in ["getChannelVar", "setChannelVar", "transfer_progress"] {
        checks.error_on(nickname, 409, &a);
    }

    fx.hang_up(&down);
    fx.hang_up(&a);
    leg.wait().sipp.assert_success();
    check_events(&fx.models, &fx.ws);
    checks.finish(&mut fx.server);
}

/// originate and originateWithId to phones that answer, create, and dial of
/// the created channel to a phone that rings.
#[test]
fn ari_channels_ops_originate_create_dial() {
    let mut fx = Fixture::start("ari-ops-originate");
    let ari = fx.ari;
    let mut checks = Checks::new(ari, Group::Origination);

    // originate, every parameter in the JSON body.
    let bob_rtp = RtpPeer::bind();
    let bob = calls::start_callee(&fx.server, BOB, "uas_answer", |sipp| {
        sipp.rtp(bob_rtp.port(), "0 101")
    });
    let body = json!({
        "endpoint": "PJSIP/1001",
        "app": APP,
        "appArgs": "o1,o2",
        "callerId": "\"Ops\" <777>",
        "timeout": 10,
        "variables": {"OPS_ORIGIN": "ari"},
    });
    let channel = checks
        .success("originate", "POST", "/channels", Some(&body))
        .json();
    fx.model("Channel", &channel);
    let originated = channel["id"].as_str().expect("id").to_string();
    assert_eq!(channel["connected"]["number"], "777", "{channel}");
    let start = event_where(&mut fx.ws, "StasisStart", "/channel/id", &originated);
    assert_eq!(
        (&start["args"], start["channel"]["state"].as_str()),
        (&json!(["o1", "o2"]), Some("Up")),
        "{start}"
    );
    let var = ari
        .get(&format!(
            "/channels/{originated}/variable?variable=OPS_ORIGIN"
        ))
        .expect(200, "a variable of the originate's body");
    assert_eq!(var["value"], "ari");
    // A name the channel does not have is looked up among the globals, as
    // Asterisk's channel variable lookup falls back to them; GLOBAL() reads one
    // the channel's own variable hides.
    ari.post("/asterisk/variable?variable=OPS_ORIGIN&value=global")
        .expect(204, "setGlobalVar");
    ari.post("/asterisk/variable?variable=OPS_GLOBAL&value=g1")
        .expect(204, "setGlobalVar");
    for (variable, value) in [
        ("OPS_GLOBAL", "g1"),
        ("OPS_ORIGIN", "ari"),
        ("GLOBAL(OPS_ORIGIN)", "global"),
    ] {
        let got = ari
            .get(&format!(
                "/channels/{originated}/variable?variable={variable}"
            ))
            .expect(200, "a global through the channel");
        assert_eq!(got["value"], value, "{variable}");
    }
    checks.error("originate", 400, "POST", &format!("/channels?app={APP}"));
    checks.error("originate", 400, "POST", "/channels?endpoint=PJSIP/1001");
    checks.error_with(
        "originate",
        400,
        "POST",
        "/channels",
        Some(&json!({"endpoint": "PJSIP/1001", "app": APP, "variables": {"N": 1}})),
    );
    checks.error(
        "originate",
        409,
        "POST",
        &format!("/channels?endpoint=PJSIP/1001&app={APP}&channelId={originated}"),
    );

    // originateWithId: the channel has the id of the path.
    let alice_rtp = RtpPeer::bind();
    let alice = calls::start_callee(&fx.server, ALICE, "uas_answer", |sipp| {
        sipp.rtp(alice_rtp.port(), "0 101")
    });
    let channel = checks
        .success(
            "originateWithId",
            "POST",
            &format!("/channels/ops-with-id?endpoint=PJSIP/1000&app={APP}&appArgs=w1"),
            None,
        )
        .json();
    fx.model("Channel", &channel);
    assert_eq!(channel["id"], "ops-with-id", "{channel}");
    let start = event_where(&mut fx.ws, "StasisStart", "/channel/id", "ops-with-id");
    assert_eq!(start["args"], json!(["w1"]), "{start}");
    checks.error(
        "originateWithId",
        400,
        "POST",
        "/channels/ops-with-id-2?endpoint=PJSIP/1000",
    );
    checks.error(
        "originateWithId",
        409,
        "POST",
        &format!("/channels/ops-with-id?endpoint=PJSIP/1000&app={APP}"),
    );

    // create: in the application at once, Down, calling nobody yet.
    let ring_port = ports::free_udp_port();
    let mut ringing = Sipp::new(&fx.server, "uas_ring")
        .key("user", "ops")
        .local_port(ring_port)
        .spawn();
    ringing.wait_listening();
    let endpoint = format!("PJSIP/sip:ops@127.0.0.1:{ring_port}");
    let channel = checks
        .success(
            "create",
            "POST",
            &format!(
                "/channels/create?endpoint={endpoint}&app={APP}&appArgs=c1&channelId=ops-created"
            ),
            Some(&json!({"variables": {"OPS_CREATED": "yes"}})),
        )
        .json();
    fx.model("Channel", &channel);
    assert_eq!(
        (channel["id"].as_str(), channel["state"].as_str()),
        (Some("ops-created"), Some("Down")),
        "{channel}"
    );
    let start = event_where(&mut fx.ws, "StasisStart", "/channel/id", "ops-created");
    assert_eq!(start["args"], json!(["c1"]), "{start}");
    let var = ari
        .get("/channels/ops-created/variable?variable=OPS_CREATED")
        .expect(200, "a variable of the create's body");
    assert_eq!(var["value"], "yes");
    checks.error(
        "create",
        409,
        "POST",
        &format!("/channels/create?endpoint=PJSIP/1001&app={APP}&channelId=ops-created"),
    );

    // dial: the created channel calls, and rings; the caller is its
    // connected party.
    checks.success(
        "dial",
        "POST",
        &format!("/channels/ops-created/dial?caller={originated}&timeout=30"),
        None,
    );
    let rung = poll(EVENT_TIMEOUT, || {
        let got = ari
            .get("/channels/ops-created")
            .expect(200, "the dialled channel");
        (got["state"] == "Ringing").then_some(got)
    });
    let got = rung.unwrap_or_else(|| panic!("ops-created never rang"));
    assert_eq!(got["connected"]["number"], BOB.id, "{got}");
    let line = event_where(
        &mut fx.ws,
        "ChannelConnectedLine",
        "/channel/id",
        "ops-created",
    );
    assert_eq!(line["channel"]["connected"]["number"], BOB.id, "{line}");
    checks.error("dial", 409, "POST", "/channels/ops-created/dial");
    checks.error_on("dial", 404, NOPE);
    // Ringing out is the other state in which Asterisk answers 412.
    for nickname in ["answer", "hold", "continueInDialplan"] {
        checks.error_on(nickname, 412, "ops-created");
    }

    // Hang up: CANCEL to the phone ringing, BYE to the others.
    for id in ["ops-created", originated.as_str(), "ops-with-id"] {
        fx.hang_up(id);
    }
    ringing.wait().assert_success();
    bob.wait().assert_success();
    alice.wait().assert_success();
    check_events(&fx.models, &fx.ws);
    checks.finish(&mut fx.server);
}

/// Whether `path` (no query) is an instance of the declared `template`.
fn instance_of(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

/// [`OPERATIONS`] is the server's declaration of channels: the same
/// operations, methods and error codes, and each request goes to its
/// operation's path.
#[test]
fn ari_channels_ops_cover_the_declaration() {
    let server = Server::start_with("ari-ops-declaration", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    let docs = ari
        .get("/api-docs/channels.json")
        .expect(200, "channels.json");
    let mut declared = Vec::new();
    let mut paths = Vec::new();
    for api in docs["apis"].as_array().expect("apis") {
        let path = api["path"].as_str().expect("path").to_string();
        for op in api["operations"].as_array().expect("operations") {
            let nickname = op["nickname"].as_str().expect("nickname").to_string();
            let mut codes: Vec<u16> = op["errorResponses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["code"].as_u64())
                .map(|c| u16::try_from(c).expect("a status"))
                .collect();
            codes.sort_unstable();
            let method = op["httpMethod"].as_str().expect("httpMethod").to_string();
            paths.push((nickname.clone(), path.clone()));
            declared.push((nickname, method, codes));
        }
    }
    let mut table: Vec<(String, String, Vec<u16>)> = OPERATIONS
        .iter()
        .map(|o| {
            let mut codes = o.errors.to_vec();
            codes.sort_unstable();
            (o.nickname.to_string(), o.method.to_string(), codes)
        })
        .collect();
    declared.sort();
    table.sort();
    assert_eq!(declared, table, "the server's channels declaration");
    for (nickname, template) in paths {
        let op = operation(&nickname);
        let request = op.request.replace("{id}", "x");
        let path = request.split('?').next().unwrap_or_default();
        assert!(
            instance_of(&template, path),
            "{nickname}: {} does not go to {template}",
            op.request
        );
    }
}
