//! ARI end-to-end: the api-docs as strict clients read them, authentication,
//! a SIPp call driven through Stasis (answer, play, DTMF, hangup) with its
//! events, error bodies, originate, and the events WebSocket's take-over,
//! replay and slow-client handling.

mod channels_ops;
mod control;
mod header_injection;
mod stasis_media;
mod states;

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::ari::{all_models, check_model, ws_handshake, Ari, Auth, EventSocket};
use crate::support::calls::{self, LiveLeg};
use crate::support::media::{self, RtpPeer, Segment};
use crate::support::server::{Server, ServerConfig, ARI_PASSWORD, ARI_USER, TONE1K_FREQ};
use crate::support::sipp::Sipp;
use crate::support::{ALICE, BOB};

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
const APP: &str = "test-app";

/// The next `kind` event whose string at `pointer` is `value` (events of
/// that kind about something else are skipped).
fn event_where(ws: &mut EventSocket, kind: &str, pointer: &str, value: &str) -> Value {
    loop {
        let event = ws.wait_for(kind, EVENT_TIMEOUT);
        if event.pointer(pointer).and_then(Value::as_str) == Some(value) {
            return event;
        }
    }
}

/// A server with ARI and `200` → `Stasis(test-app,arg1)`.
fn stasis_server(name: &str) -> Server {
    let config = ServerConfig::default()
        .extension("default", "200", &["Stasis(test-app,arg1)"])
        .ari();
    Server::start_with(name, config)
}

/// The event types the server can emit today: each must have a model in
/// events.json (npm ari-client looks every event's type up there).
const EMITTED: &[&str] = &[
    "StasisStart",
    "StasisEnd",
    "ChannelCreated",
    "ChannelStateChange",
    "ChannelDtmfReceived",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "ChannelVarset",
    "ChannelHold",
    "ChannelUnhold",
    "ChannelConnectedLine",
    "ChannelUserevent",
    "Dial",
    "PlaybackStarted",
    "PlaybackFinished",
    "BridgeCreated",
    "BridgeDestroyed",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "RecordingStarted",
    "RecordingFinished",
    "RecordingFailed",
    "ApplicationReplaced",
    "MissingParams",
    "DeviceStateChanged",
];

/// What Python asyncari (asyncswagger11's ValidationProcessor) and npm
/// ari-client (swagger-client 2.0) require of the api-docs.
#[test]
fn ari_api_docs_validate_like_asyncari() {
    let server = Server::start_with("ari-docs", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    let base = format!("http://{}/ari", server.ari_addr());
    let listing = ari
        .get("/api-docs/resources.json")
        .expect(200, "resources.json");
    assert_eq!(
        listing["swaggerVersion"], "1.1",
        "asyncari accepts only 1.1"
    );
    assert_eq!(
        listing["basePath"],
        base.as_str(),
        "basePath from the Host header"
    );
    let apis = listing["apis"].as_array().expect("apis");
    let names: Vec<&str> = apis
        .iter()
        .map(|a| {
            let path = a["path"].as_str().expect("listing api path");
            assert!(path.starts_with('/'), "{path}");
            assert!(a["description"].is_string(), "listing api description: {a}");
            path.trim_start_matches("/api-docs/")
                .trim_end_matches(".{format}")
        })
        .collect();
    for wanted in [
        "asterisk",
        "endpoints",
        "channels",
        "bridges",
        "recordings",
        "sounds",
        "playbacks",
        "deviceStates",
        "mailboxes",
        "events",
        "applications",
    ] {
        assert!(
            names.contains(&wanted),
            "resource {wanted} missing: {names:?}"
        );
    }
    let mut problems = Vec::new();
    let mut operations = 0;
    for api in apis {
        let path = api["path"].as_str().unwrap().replace("{format}", "json");
        let decl = ari.get(&path).expect(200, &path);
        for field in ["basePath", "resourcePath", "apis", "models"] {
            if decl.get(field).is_none() {
                problems.push(format!("{path}: no {field}"));
            }
        }
        assert_eq!(decl["basePath"], base.as_str(), "{path} basePath");
        for (name, model) in decl["models"].as_object().expect("models") {
            if model["id"] != name.as_str() {
                problems.push(format!("{path}: model key {name} != id {}", model["id"]));
            }
            match model["properties"].as_object() {
                None => problems.push(format!("{path}: model {name} has no properties")),
                Some(props) => {
                    for (prop, spec) in props {
                        if !spec["type"].is_string() {
                            problems.push(format!("{path}: {name}.{prop} has no type"));
                        }
                        if spec.get("allowedValues").is_some() {
                            problems.push(format!("{path}: {name}.{prop} uses allowedValues"));
                        }
                    }
                }
            }
        }
        for resource_api in decl["apis"].as_array().expect("apis") {
            let api_path = resource_api["path"].as_str().unwrap_or_default();
            if resource_api["operations"].as_array().is_none() {
                problems.push(format!("{path}: {api_path} has no operations"));
                continue;
            }
            for op in resource_api["operations"].as_array().unwrap() {
                operations += 1;
                let nick = op["nickname"].as_str().unwrap_or("?");
                for field in ["httpMethod", "nickname", "responseClass", "summary"] {
                    if !op[field].is_string() {
                        problems.push(format!("{path}: {api_path} {nick}: no {field}"));
                    }
                }
                if op.get("upgrade").is_some() && op["httpMethod"] != "GET" {
                    problems.push(format!("{path}: websocket {nick} is not GET"));
                }
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let pname = p["name"].as_str().unwrap_or("?");
                    let what = format!("{path}: {nick}({pname})");
                    if !p["name"].is_string() || !p["paramType"].is_string() {
                        problems.push(format!("{what}: no name/paramType"));
                    }
                    if p["paramType"] != "path" && !p["dataType"].is_string() {
                        problems.push(format!("{what}: no dataType"));
                    }
                    if !p["required"].is_boolean() {
                        problems.push(format!("{what}: no required"));
                    }
                    if p.get("allowedValues").is_some() {
                        problems.push(format!("{what}: allowedValues"));
                    }
                    if p["paramType"] == "path" && !api_path.contains(&format!("{{{pname}}}")) {
                        problems.push(format!("{what}: path parameter not in {api_path}"));
                    }
                }
                for e in op["errorResponses"].as_array().into_iter().flatten() {
                    if !e["code"].is_u64() || !e["reason"].is_string() {
                        problems.push(format!("{path}: {nick}: error response {e}"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "api-docs problems:\n{}",
        problems.join("\n")
    );
    assert!(operations > 90, "only {operations} operations declared");

    let events = ari.get("/api-docs/events.json").expect(200, "events.json");
    for kind in EMITTED {
        assert!(
            events["models"].get(*kind).is_some(),
            "event {kind} has no model in events.json"
        );
    }
    // The seed's Channel model is served as it is.
    let channels = ari
        .get("/api-docs/channels.json")
        .expect(200, "channels.json");
    let channel = &channels["models"]["Channel"]["properties"];
    for field in [
        "id",
        "name",
        "state",
        "caller",
        "connected",
        "accountcode",
        "dialplan",
        "creationtime",
        "language",
        "protocol_id",
    ] {
        assert_eq!(channel[field]["required"], true, "Channel.{field}");
    }
}

#[test]
fn ari_requires_authentication() {
    let server = Server::start_with("ari-auth", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    let info = "/ari/asterisk/info";
    let refused = ari.raw("GET", info, Auth::None, None, &[]);
    refused.expect_error(401, "no credentials");
    assert!(
        refused
            .header("WWW-Authenticate")
            .is_some_and(|h| h.starts_with("Basic")),
        "{:?}",
        refused.headers
    );
    ari.raw("GET", info, Auth::Basic(ARI_USER, "wrong"), None, &[])
        .expect_error(401, "wrong password");
    ari.raw(
        "GET",
        &format!("{info}?api_key={ARI_USER}:nope"),
        Auth::None,
        None,
        &[],
    )
    .expect_error(401, "wrong api_key");
    ari.raw("GET", "/ari/api-docs/resources.json", Auth::None, None, &[])
        .expect_error(401, "api-docs without credentials");
    let ok = ari
        .raw("GET", info, Auth::Basic(ARI_USER, ARI_PASSWORD), None, &[])
        .expect(200, "basic auth");
    let models = all_models(&ari);
    check_model(&models, "AsteriskInfo", &ok).unwrap();
    for part in ["build", "system", "config", "status"] {
        assert!(ok[part].is_object(), "info.{part}: {ok}");
    }
    ari.raw(
        "GET",
        &format!("{info}?api_key={ARI_USER}:{ARI_PASSWORD}&only=system"),
        Auth::None,
        None,
        &[],
    )
    .expect(200, "api_key");
    let ping = ari.get("/asterisk/ping").expect(200, "ping");
    assert_eq!(ping["ping"], "pong");
    check_model(&models, "AsteriskPing", &ping).unwrap();
    // The WebSocket needs credentials too.
    let refused = ws_handshake(server.ari_addr(), "app=x").expect_err("refused");
    assert_eq!(refused.status, 401);
    // Unknown resources and methods.
    ari.get("/nothing/here").expect_error(404, "unknown path");
    ari.call("PUT", "/channels", None)
        .expect_error(405, "wrong method");
    // Global variables.
    ari.post("/asterisk/variable?variable=GREETING&value=hello")
        .expect(204, "setGlobalVar");
    let value = ari
        .get("/asterisk/variable?variable=GREETING")
        .expect(200, "getGlobalVar");
    assert_eq!(value["value"], "hello");
    ari.get("/asterisk/variable")
        .expect_error(400, "getGlobalVar without variable");
    // Endpoints and sounds from the config.
    let endpoints = ari.get("/endpoints").expect(200, "endpoints");
    let ids: Vec<&str> = endpoints
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ALICE.id, BOB.id]);
    for e in endpoints.as_array().unwrap() {
        check_model(&models, "Endpoint", e).unwrap();
        // The technology of the channels, `SIP/<endpoint>-<seq>`.
        assert_eq!(e["technology"], "SIP", "{e}");
        assert_eq!(e["state"], "offline", "nothing registered yet: {e}");
    }
    // By its technology, or by PJSIP (an alias, as in dial strings), in any case.
    for tech in ["SIP", "PJSIP", "sip"] {
        let by_tech = ari
            .get(&format!("/endpoints/{tech}"))
            .expect(200, "endpoints by tech");
        assert_eq!(by_tech, endpoints, "{tech}");
        let one = ari
            .get(&format!("/endpoints/{tech}/1000"))
            .expect(200, "one endpoint");
        assert_eq!(one["technology"], "SIP", "{tech}: {one}");
        assert_eq!(one["resource"], "1000", "{tech}: {one}");
    }
    ari.get("/endpoints/SIP/4242")
        .expect_error(404, "unknown endpoint");
    ari.get("/endpoints/IAX2")
        .expect_error(404, "unknown technology");
    ari.get("/endpoints/IAX2/1000")
        .expect_error(404, "endpoint of another technology");
    // The test sounds are 8 kHz 16-bit WAVs: Asterisk's `slin`.
    let sounds = ari.get("/sounds").expect(200, "sounds");
    let tone = sounds
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "tone1k")
        .unwrap_or_else(|| panic!("tone1k not in {sounds}"));
    check_model(&models, "Sound", tone).unwrap();
    assert_eq!(
        tone["formats"],
        json!([{"language": "en", "format": "slin"}])
    );
    assert_eq!(
        ari.get("/sounds?lang=fr").expect(200, "sounds fr"),
        json!([])
    );
    ari.get("/sounds/tone1k").expect(200, "one sound");
    ari.get("/sounds/nope").expect_error(404, "unknown sound");
    assert_eq!(
        ari.get("/deviceStates").expect(200, "deviceStates"),
        json!([])
    );
}

/// Sounds list their formats by Asterisk's names: a WAV by its rate (`slin` at
/// 8 kHz, `slin16` at 16 kHz), raw files by their extension (`.sln` is `slin`,
/// `.ulaw` is `ulaw`, `.wav16` is `slin16`, ...), never `wav`.
#[test]
fn ari_sounds_report_asterisk_format_names() {
    use switchboard_media::wav::{write_wav, Pcm};

    let server = Server::start_with("ari-sounds", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    // Beside the server's own 8 kHz en/tone1k.wav; the index is read per request.
    let sounds = server.dir().join("sounds");
    let (en, fr) = (sounds.join("en"), sounds.join("fr"));
    std::fs::create_dir_all(&fr).unwrap();
    let wav = |path: std::path::PathBuf, sample_rate: u32| {
        let samples = vec![0; sample_rate as usize / 10];
        write_wav(
            &path,
            &Pcm {
                samples,
                sample_rate,
            },
        )
        .unwrap();
    };
    wav(en.join("wide.wav"), 16000);
    wav(en.join("hd.wav16"), 16000);
    wav(fr.join("tone1k.wav"), 8000);
    for (name, bytes) in [
        ("tone1k.sln", &[0u8; 320][..]),
        ("tone1k.ulaw", &[0xff; 160]),
        ("beep.alaw", &[0xd5; 160]),
        ("beep.g722", &[0; 160]),
        ("beep.sln16", &[0; 640]),
        ("broken.wav", b"not a RIFF file"),
    ] {
        std::fs::write(en.join(name), bytes).unwrap();
    }

    let formats = |id: &str| {
        let sound = ari.get(&format!("/sounds/{id}")).expect(200, "one sound");
        check_model(&models, "Sound", &sound).unwrap();
        sound["formats"].clone()
    };
    let pairs = |pairs: &[(&str, &str)]| -> Value {
        pairs
            .iter()
            .map(|(language, format)| json!({"language": language, "format": format}))
            .collect()
    };
    // tone1k.wav and tone1k.sln are both 8 kHz signed linear: one `slin` per language.
    assert_eq!(
        formats("tone1k"),
        pairs(&[("en", "slin"), ("en", "ulaw"), ("fr", "slin")])
    );
    assert_eq!(formats("wide"), pairs(&[("en", "slin16")]));
    assert_eq!(formats("hd"), pairs(&[("en", "slin16")]));
    assert_eq!(
        formats("beep"),
        pairs(&[("en", "alaw"), ("en", "g722"), ("en", "slin16")])
    );
    ari.get("/sounds/broken")
        .expect_error(404, "a .wav that is not a WAV is not a sound");

    // The list and its filters use the same names.
    let ids = |query: &str| -> Vec<String> {
        let list = ari.get(&format!("/sounds{query}")).expect(200, "sounds");
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("?format=slin16"), ["beep", "hd", "wide"]);
    assert!(ids("?format=slin").contains(&"tone1k".to_owned()));
    assert!(ids("?format=wav").is_empty());
    let french = ari.get("/sounds?lang=fr").expect(200, "sounds fr");
    assert_eq!(
        french,
        json!([{"id": "tone1k", "formats": [{"language": "fr", "format": "slin"}]}])
    );
}

/// The numbers of the events as they arrived must be 1, 2, 3, ...
fn assert_sequenced(events: &[Value]) {
    let numbers: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] != "ApplicationReplaced")
        .map(|e| {
            e["sequence"]
                .as_u64()
                .unwrap_or_else(|| panic!("no sequence in {e}"))
        })
        .collect();
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    assert_eq!(numbers, expected, "sequence numbers of {events:#?}");
}

#[test]
fn ari_stasis_call_answer_play_dtmf_hangup() {
    let server = stasis_server("ari-stasis");
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));

    // 1000 calls 200 and waits for the server's BYE.
    let rtp = RtpPeer::bind();
    let caller = Sipp::new(&server, "uac_wait_bye")
        .user(ALICE)
        .dial("200")
        .rtp(rtp.port(), "0 8 101")
        .spawn();
    let start = ws.wait_for("StasisStart", EVENT_TIMEOUT);
    check_model(&models, "StasisStart", &start).unwrap();
    assert_eq!(start["args"], json!(["arg1"]));
    assert_eq!(start["application"], APP);
    let channel = &start["channel"];
    let id = channel["id"].as_str().expect("channel id").to_string();
    assert_eq!(channel["state"], "Ring");
    assert_eq!(channel["caller"]["number"], ALICE.id);
    assert_eq!(channel["dialplan"]["exten"], "200");
    assert_eq!(channel["dialplan"]["app_name"], "Stasis");
    assert_eq!(channel["dialplan"]["app_data"], "test-app,arg1");
    assert!(
        channel["name"].as_str().unwrap().starts_with("SIP/1000-"),
        "{channel}"
    );
    // The caller's endpoint lists the channel, and names it as the channel does:
    // `<technology>/<resource>` is the channel name's prefix.
    let endpoint = ari
        .get(&format!("/endpoints/SIP/{}", ALICE.id))
        .expect(200, "the caller's endpoint");
    check_model(&models, "Endpoint", &endpoint).unwrap();
    assert_eq!(endpoint["channel_ids"], json!([id]), "{endpoint}");
    let prefix = format!(
        "{}/{}-",
        endpoint["technology"].as_str().unwrap(),
        endpoint["resource"].as_str().unwrap()
    );
    assert!(
        channel["name"].as_str().unwrap().starts_with(&prefix),
        "{channel} vs {endpoint}"
    );

    let got = ari
        .get(&format!("/channels/{id}"))
        .expect(200, "get channel");
    check_model(&models, "Channel", &got).unwrap();
    let list = ari.get("/channels").expect(200, "list channels");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str()),
        "{list}"
    );

    // Errors on a channel in Stasis.
    let path = |op: &str| format!("/channels/{id}/{op}");
    assert_eq!(
        ari.post(&path("dtmf"))
            .expect_error(400, "dtmf without digits"),
        "DTMF is required"
    );
    ari.get(&path("variable"))
        .expect_error(400, "getChannelVar without variable");
    ari.get(&path("variable?variable=NOT_SET"))
        .expect_error(404, "unset variable");
    ari.call("DELETE", &format!("/channels/{id}?reason=bogus"), None)
        .expect_error(400, "bad hangup reason");
    ari.call(
        "DELETE",
        &format!("/channels/{id}?reason=busy&reason_code=17"),
        None,
    )
    .expect_error(400, "reason and reason_code");
    ari.post(&path("dtmf?dtmf=1&before=abc"))
        .expect_error(400, "malformed int");
    ari.post(&path("hold")).expect(204, "hold");
    ari.delete(&path("hold")).expect(204, "unhold");

    ari.post(&path("ring")).expect(204, "ring");
    ari.post(&path("answer")).expect(204, "answer");
    let up = ws.wait_for("ChannelStateChange", EVENT_TIMEOUT);
    assert_eq!(up["channel"]["state"], "Up");
    check_model(&models, "ChannelStateChange", &up).unwrap();

    // The caller's media: a digit after a short silence.
    let script = vec![
        Segment::Silence(Duration::from_millis(800)),
        Segment::Digit('7', Duration::from_millis(160)),
        Segment::Silence(Duration::from_secs(12)),
    ];
    let leg = LiveLeg::start(caller, rtp, script);

    let play = ari
        .post(&path("play?media=sound:tone1k&playbackId=pb-1"))
        .expect(201, "play");
    check_model(&models, "Playback", &play).unwrap();
    assert_eq!(play["id"], "pb-1");
    assert_eq!(play["target_uri"], format!("channel:{id}").as_str());
    let started = ws.wait_for("PlaybackStarted", EVENT_TIMEOUT);
    check_model(&models, "PlaybackStarted", &started).unwrap();
    assert_eq!(started["playback"]["id"], "pb-1");
    assert_eq!(started["playback"]["media_uri"], "sound:tone1k");
    let pb = ari.get("/playbacks/pb-1").expect(200, "get playback");
    assert_eq!(pb["state"], "playing");
    ari.post("/playbacks/pb-1/control?operation=pause")
        .expect(204, "pause");
    ari.post("/playbacks/pb-1/control?operation=unpause")
        .expect(204, "unpause");
    ari.post("/playbacks/pb-1/control?operation=sideways")
        .expect_error(400, "bad operation");
    ari.post("/playbacks/nope/control?operation=pause")
        .expect_error(404, "unknown playback");

    let dtmf = ws.wait_for("ChannelDtmfReceived", EVENT_TIMEOUT);
    check_model(&models, "ChannelDtmfReceived", &dtmf).unwrap();
    assert_eq!(dtmf["digit"], "7");
    assert!(dtmf["duration_ms"].as_u64().unwrap() >= 100, "{dtmf}");
    assert_eq!(dtmf["channel"]["id"], id.as_str());

    let finished = ws.wait_for("PlaybackFinished", EVENT_TIMEOUT);
    assert_eq!(finished["playback"]["state"], "complete");
    ari.get("/playbacks/pb-1")
        .expect_error(404, "finished playback");

    let stats = ari
        .get(&path("rtp_statistics"))
        .expect(200, "rtp_statistics");
    check_model(&models, "RTPstat", &stats).unwrap();
    assert!(stats["txcount"].as_u64().unwrap() >= 100, "{stats}");
    assert!(stats["rxcount"].as_u64().unwrap() >= 50, "{stats}");
    assert_eq!(stats["channel_uniqueid"], id.as_str());

    ari.post(&path("variable?variable=COLOR&value=blue"))
        .expect(204, "setChannelVar");
    let varset = ws.wait_for("ChannelVarset", EVENT_TIMEOUT);
    assert_eq!(
        (varset["variable"].as_str(), varset["value"].as_str()),
        (Some("COLOR"), Some("blue"))
    );
    let value = ari
        .get(&path("variable?variable=COLOR"))
        .expect(200, "getChannelVar");
    assert_eq!(value, json!({"value": "blue"}));

    ari.delete(&format!("/channels/{id}")).expect(204, "hangup");
    let request = ws.wait_for("ChannelHangupRequest", EVENT_TIMEOUT);
    let end = ws.wait_for("StasisEnd", EVENT_TIMEOUT);
    let destroyed = ws.wait_for("ChannelDestroyed", EVENT_TIMEOUT);
    check_model(&models, "ChannelDestroyed", &destroyed).unwrap();
    assert_eq!(destroyed["cause"], 16);
    assert_eq!(destroyed["cause_txt"], "Normal Clearing");
    let seq = |e: &Value| e["sequence"].as_u64().unwrap();
    assert!(
        seq(&request) < seq(&end) && seq(&end) < seq(&destroyed),
        "ChannelHangupRequest, StasisEnd, ChannelDestroyed in that order: {:#?}",
        ws.arrived
    );
    ari.get(&format!("/channels/{id}"))
        .expect_error(404, "channel gone");

    let leg = leg.wait();
    leg.sipp.assert_success();
    media::assert_hears(
        &leg.received,
        "caller hearing sound:tone1k",
        TONE1K_FREQ,
        None,
        100,
    );
    for event in &ws.arrived {
        let kind = event["type"].as_str().unwrap();
        check_model(&models, kind, event).unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    assert_sequenced(&ws.arrived);
}

#[test]
fn ari_channel_errors_and_originate() {
    let server = stasis_server("ari-errors");
    let ari = Ari::new(server.ari_addr());
    let not_found = |method: &str, path: &str| {
        let message = ari.call(method, path, None).expect_error(404, path);
        assert_eq!(message, "Channel not found", "{method} {path}");
    };
    not_found("GET", "/channels/nope");
    not_found("DELETE", "/channels/nope");
    not_found("POST", "/channels/nope/answer");
    not_found("POST", "/channels/nope/ring");
    not_found("POST", "/channels/nope/dtmf?dtmf=1");
    not_found("POST", "/channels/nope/play?media=sound:tone1k");
    not_found("GET", "/channels/nope/variable?variable=X");
    not_found("POST", "/channels/nope/continue");
    not_found("GET", "/channels/nope/rtp_statistics");
    ari.post("/channels")
        .expect_error(400, "originate without endpoint");
    ari.post("/channels?endpoint=PJSIP/1001")
        .expect_error(400, "originate without app or extension");
    ari.post("/channels?endpoint=PJSIP/1001&app=x&timeout=soon")
        .expect_error(400, "malformed timeout");
    ari.post("/channels?endpoint=PJSIP/1001&app=x")
        .expect_error(400, "1001 is not registered");
    ari.call(
        "POST",
        "/channels",
        Some(&json!({"endpoint": "PJSIP/1001", "app": "x", "variables": {"A": 1}})),
    )
    .expect_error(400, "non-string variable");

    // A channel that is not in Stasis: a call to the echo extension.
    let rtp = RtpPeer::bind();
    let caller = Sipp::new(&server, "uac_call")
        .user(ALICE)
        .dial("101")
        .rtp(rtp.port(), "0 8 101")
        .pause(Duration::from_secs(3));
    let leg = LiveLeg::start(
        caller.spawn(),
        rtp,
        vec![Segment::Silence(Duration::from_secs(5))],
    );
    let channels = ari.get("/channels").expect(200, "channels");
    let echo = channels[0]["id"]
        .as_str()
        .expect("the echo call's channel")
        .to_string();
    assert_eq!(channels[0]["dialplan"]["app_name"], "Echo", "{channels}");
    for (method, op) in [
        ("POST", "answer"),
        ("POST", "play?media=sound:tone1k"),
        ("POST", "continue"),
        ("GET", "variable?variable=X"),
    ] {
        let message = ari
            .call(method, &format!("/channels/{echo}/{op}"), None)
            .expect_error(409, op);
        assert_eq!(message, "Channel not in a Stasis application");
    }
    leg.wait().sipp.assert_success();

    // Originate to a registered phone into the application.
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let callee_rtp = RtpPeer::bind();
    let callee = calls::start_callee(&server, BOB, "uas_answer", |sipp| {
        sipp.rtp(callee_rtp.port(), "0 101")
            .pause(Duration::from_secs(1))
    });
    let body = json!({"endpoint": "PJSIP/1001", "app": APP, "appArgs": "a,b", "callerId": "\"ARI\" <555>", "variables": {"ORIGIN": "ari"}});
    let channel = ari
        .call("POST", "/channels", Some(&body))
        .expect(200, "originate");
    let id = channel["id"].as_str().unwrap().to_string();
    assert_eq!(channel["connected"]["number"], "555", "{channel}");
    let start = ws.wait_for("StasisStart", EVENT_TIMEOUT);
    assert_eq!(start["args"], json!(["a", "b"]));
    assert_eq!(start["channel"]["id"], id.as_str());
    assert_eq!(start["channel"]["state"], "Up");
    let var = ari
        .get(&format!("/channels/{id}/variable?variable=ORIGIN"))
        .expect(200, "variable from the originate body");
    assert_eq!(var["value"], "ari");
    ari.call("DELETE", &format!("/channels/{id}?reason=busy"), None)
        .expect(204, "hangup busy");
    ws.wait_for("StasisEnd", EVENT_TIMEOUT);
    let destroyed = ws.wait_for("ChannelDestroyed", EVENT_TIMEOUT);
    assert_eq!(destroyed["cause"], 17);
    let callee = LiveLeg::start(callee, callee_rtp, vec![]).wait();
    callee.sipp.assert_success();
}

#[test]
fn ari_websocket_takeover_replay_and_missing_app() {
    let server = Server::start_with("ari-ws", ServerConfig::default().ari());
    let addr = server.ari_addr();
    let ari = Ari::new(addr);
    let app = "replay-app";
    let user_event = |name: &str| {
        ari.call(
            "POST",
            &format!("/events/user/{name}?application={app}"),
            Some(&json!({"variables": {"n": name}})),
        )
        .expect(204, name);
    };

    let mut first = EventSocket::connect(addr, &format!("app={app}"));
    let mut second = EventSocket::connect(addr, &format!("app={app}"));
    let replaced = first.wait_for("ApplicationReplaced", EVENT_TIMEOUT);
    assert_eq!(replaced["application"], app);
    user_event("one");
    let one = second.wait_for("ChannelUserevent", EVENT_TIMEOUT);
    assert_eq!(one["eventname"], "one");
    assert_eq!(one["userevent"], json!({"n": "one"}));
    let last = one["sequence"].as_u64().expect("sequence");
    assert!(
        first.next(Duration::from_millis(300)).is_none(),
        "the replaced socket got {:?}",
        first.seen
    );

    // Events sent while no socket is connected are replayed after `last`.
    second.close();
    std::thread::sleep(Duration::from_millis(300));
    user_event("two");
    user_event("three");
    let mut third = EventSocket::connect(addr, &format!("app={app}&last_event={last}"));
    let two = third.wait_for("ChannelUserevent", EVENT_TIMEOUT);
    let three = third.wait_for("ChannelUserevent", EVENT_TIMEOUT);
    assert_eq!(
        (two["eventname"].as_str(), three["eventname"].as_str()),
        (Some("two"), Some("three"))
    );
    assert_eq!(two["sequence"].as_u64(), Some(last + 1));
    assert_eq!(three["sequence"].as_u64(), Some(last + 2));
    user_event("four");
    assert_eq!(
        third.wait_for("ChannelUserevent", EVENT_TIMEOUT)["eventname"],
        "four"
    );
    // An endpoint source given by the PJSIP alias is reported as a SIP endpoint.
    ari.call(
        "POST",
        &format!("/events/user/five?application={app}&source=endpoint:PJSIP/1000"),
        None,
    )
    .expect(204, "user event from an endpoint");
    let five = third.wait_for("ChannelUserevent", EVENT_TIMEOUT);
    assert_eq!(five["eventname"], "five");
    assert_eq!(five["endpoint"]["technology"], "SIP", "{five}");
    assert_eq!(five["endpoint"]["resource"], "1000", "{five}");

    // Applications.
    let models = all_models(&ari);
    let application = ari
        .get(&format!("/applications/{app}"))
        .expect(200, "application");
    check_model(&models, "Application", &application).unwrap();
    let apps = ari.get("/applications").expect(200, "applications");
    assert!(
        apps.as_array().unwrap().iter().any(|a| a["name"] == app),
        "{apps}"
    );
    ari.get("/applications/nope")
        .expect_error(404, "unknown application");
    ari.post(&format!(
        "/applications/{app}/subscription?eventSource=channel:nope"
    ))
    .expect_error(422, "unknown channel source");
    ari.post(&format!(
        "/applications/{app}/subscription?eventSource=nonsense"
    ))
    .expect_error(400, "bad source scheme");
    let subscribed = ari
        .post(&format!(
            "/applications/{app}/subscription?eventSource=endpoint:PJSIP/1000"
        ))
        .expect(200, "subscribe");
    // Named by the endpoint's technology, whichever alias it was subscribed by.
    assert_eq!(subscribed["endpoint_ids"], json!(["SIP/1000"]));
    let subscribed = ari
        .post(&format!(
            "/applications/{app}/subscription?eventSource=endpoint:SIP/1000"
        ))
        .expect(200, "subscribe again");
    assert_eq!(subscribed["endpoint_ids"], json!(["SIP/1000"]));
    let unsubscribed = ari
        .delete(&format!(
            "/applications/{app}/subscription?eventSource=endpoint:pjsip/1000"
        ))
        .expect(200, "unsubscribe by the alias");
    assert_eq!(unsubscribed["endpoint_ids"], json!([]));
    ari.call("POST", "/events/user/x?application=nope", None)
        .expect_error(404, "user event to unknown app");
    ari.call(
        "POST",
        &format!("/events/user/x?application={app}&source=channel:nope"),
        None,
    )
    .expect_error(422, "user event from unknown channel");
    // eventFilter: only ChannelUserevent named... by type: disallow them.
    ari.call(
        "PUT",
        &format!("/applications/{app}/eventFilter"),
        Some(&json!({"disallowed": [{"type": "ChannelUserevent"}]})),
    )
    .expect(200, "eventFilter");
    user_event("filtered");
    assert!(
        third.next(Duration::from_millis(300)).is_none(),
        "filtered event delivered: {:?}",
        third.seen
    );

    // No app: Asterisk refuses the upgrade; an empty one gets MissingParams.
    let refused = ws_handshake(addr, &format!("api_key={ARI_USER}:{ARI_PASSWORD}"))
        .expect_err("refused without app");
    assert_eq!(refused.status, 400);
    let mut empty = EventSocket::connect(addr, "app=");
    let missing = empty.next(EVENT_TIMEOUT).expect("MissingParams");
    assert_eq!(missing, json!({"type": "MissingParams", "params": ["app"]}));
    assert!(
        empty.closed_within(EVENT_TIMEOUT),
        "closed after MissingParams"
    );
}

/// `tests/clients/`: the real client libraries and their smoke scripts.
pub(crate) fn clients_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("clients")
}

/// Kills the client script if the test fails before it exits.
struct Script(std::process::Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the caller sends once it has sent its digit, in the smoke tests.
const SMOKE_CALLER_TONE: f32 = stasis_media::ALICE_TONE;
/// What the originated callee sends, in the smoke tests.
const SMOKE_CALLEE_TONE: f32 = stasis_media::BOB_TONE;
/// Start of the bridged window left out of the analysis (bridging and the
/// bridge switching to mixing for the recording).
const SMOKE_BRIDGE_SETTLE: Duration = Duration::from_millis(500);
/// Frames (20 ms) of the bridged window (about 3 s) each side must hear.
const SMOKE_MIN_BRIDGED_FRAMES: usize = 80;

/// Runs a client library's smoke script against a server: it connects, then
/// a SIPp call into `Stasis(test-app,arg1)` sends digit 4 and then a tone; the
/// script answers, plays tone1k to the end, reads the digit, originates a
/// channel to 1001 (a SIPp UAS sending another tone) into the application,
/// bridges the two, records the bridge as `recording` for about 3 s, and hangs
/// both up. Both phones hear each other while bridged and the recording holds
/// both tones.
fn client_smoke(name: &str, recording: &str, mut command: std::process::Command) {
    use std::io::BufRead;
    use std::process::Stdio;
    use std::time::Instant;

    let server = stasis_server(name);
    let ari = Ari::new(server.ari_addr());
    let log = std::fs::File::create(server.dir().join(format!("{name}.stderr"))).expect("log file");
    command
        .arg(format!("http://{}", server.ari_addr()))
        .args([ARI_USER, ARI_PASSWORD, APP])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut script = Script(
        command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}")),
    );
    let stdout = script.0.stdout.take().expect("stdout");
    // Each line with the time it was read: the script's BRIDGED and RECORDED
    // lines mark the window in which the two phones are bridged.
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    let stderr =
        || std::fs::read_to_string(server.dir().join(format!("{name}.stderr"))).unwrap_or_default();
    let mut output = Vec::new();
    let mut wait_line = |prefix: &str, timeout: Duration| -> (Instant, String) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((at, line)) if line.starts_with(prefix) => return (at, line),
                Ok((_, line)) => output.push(line),
                Err(_) => panic!(
                    "{name}: no {prefix} line within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    output.join("\n"),
                    stderr()
                ),
            }
        }
    };
    wait_line("READY", Duration::from_secs(30));

    // 1001 answers the channel the script originates, and waits for its BYE.
    let callee_rtp = RtpPeer::bind();
    let callee = calls::start_callee(&server, BOB, "uas_answer", |sipp| {
        sipp.rtp(callee_rtp.port(), "0 101")
    });
    let rtp = RtpPeer::bind();
    let caller = Sipp::new(&server, "uac_wait_bye")
        .user(ALICE)
        .dial("200")
        .rtp(rtp.port(), "0 8 101")
        .spawn();
    let caller_media = vec![
        Segment::Silence(Duration::from_secs(1)),
        Segment::Digit('4', Duration::from_millis(160)),
        Segment::Tone(SMOKE_CALLER_TONE, Duration::from_secs(30)),
    ];
    let caller = LiveLeg::start(caller, rtp, caller_media);
    let callee = LiveLeg::start(
        callee,
        callee_rtp,
        vec![Segment::Tone(SMOKE_CALLEE_TONE, Duration::from_secs(30))],
    );
    let (bridged, _) = wait_line("BRIDGED", Duration::from_secs(20));
    let (recorded, _) = wait_line("RECORDED", Duration::from_secs(20));
    let (_, result) = wait_line("RESULT ", Duration::from_secs(20));
    let caller = caller.wait();
    let callee = callee.wait_after(&caller);
    let result: Value = serde_json::from_str(&result["RESULT ".len()..]).expect("RESULT json");
    assert!(
        result.get("error").is_none(),
        "{name} failed: {result}\nstderr:\n{}",
        stderr()
    );
    assert_eq!(result["args"], json!(["arg1"]), "{result}");
    assert_eq!(result["played"], true, "{result}");
    assert_eq!(result["digit"], "4", "{result}");
    let caller_id = result["channel"].as_str().expect("caller id");
    let callee_id = result["callee"].as_str().expect("callee id");
    assert_ne!(caller_id, callee_id, "{result}");
    assert_eq!(result["callee_stasis_id"], callee_id, "{result}");
    assert_eq!(result["callee_args"], json!(["callee"]), "{result}");
    assert!(result["bridge"].is_string(), "{result}");
    assert_eq!(result["recording"], recording, "{result}");
    assert_eq!(result["recording_state"], "done", "{result}");
    assert_eq!(
        result["stored"],
        json!({"name": recording, "format": "wav"}),
        "{result}"
    );
    // Hung up over ARI with the default reason: normal clearing.
    assert_eq!(result["cause"], 16, "{result}");
    for id in [caller_id, callee_id] {
        assert_eq!(
            result["ended"][id],
            json!({"stasis_end": true, "cause": 16}),
            "{id}: {result}"
        );
    }
    let events: Vec<&str> = result["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for kind in [
        "StasisStart",
        "PlaybackStarted",
        "PlaybackFinished",
        "ChannelDtmfReceived",
        "ChannelEnteredBridge",
        "RecordingStarted",
        "RecordingFinished",
        "ChannelLeftBridge",
        "StasisEnd",
        "ChannelDestroyed",
    ] {
        assert!(
            events.contains(&kind),
            "{name} never saw {kind}: {events:?}"
        );
    }
    for (kind, count) in [
        ("StasisStart", 2),
        ("StasisEnd", 2),
        ("ChannelDestroyed", 2),
    ] {
        assert_eq!(
            events.iter().filter(|e| **e == kind).count(),
            count,
            "{name}: {kind} for each channel: {events:?}"
        );
    }
    caller.sipp.assert_success();
    callee.sipp.assert_success();

    // Before the bridge the caller heard tone1k; while bridged each heard the other.
    media::assert_hears(
        &caller.received.slice(..bridged),
        &format!("caller of {name} before the bridge"),
        TONE1K_FREQ,
        None,
        100,
    );
    let window = bridged + SMOKE_BRIDGE_SETTLE..recorded;
    media::assert_hears(
        &caller.received.slice(window.clone()),
        &format!("caller of {name} bridged"),
        SMOKE_CALLEE_TONE,
        Some(SMOKE_CALLER_TONE),
        SMOKE_MIN_BRIDGED_FRAMES,
    );
    media::assert_hears(
        &callee.received.slice(window),
        &format!("callee of {name} bridged"),
        SMOKE_CALLER_TONE,
        Some(SMOKE_CALLEE_TONE),
        SMOKE_MIN_BRIDGED_FRAMES,
    );

    // The stored recording, as the server wrote it and as ARI serves it.
    let pcm = stasis_media::stored_wav(&server, recording, stasis_media::BRIDGE_RATE);
    stasis_media::assert_holds(
        &pcm,
        &format!("{recording}.wav"),
        &[SMOKE_CALLER_TONE, SMOKE_CALLEE_TONE],
    );
    let file = ari.get(&format!("/recordings/stored/{recording}/file"));
    assert_eq!(file.status, 200, "{recording}/file: {}", file.body);
    let on_disk = std::fs::read(server.recordings_dir().join(format!("{recording}.wav")))
        .expect("the recording file");
    assert!(
        file.bytes == on_disk,
        "{recording}/file: {} bytes served, {} on disk",
        file.bytes.len(),
        on_disk.len()
    );

    let status = script.0.wait().expect("wait for the script");
    assert!(
        status.success(),
        "{name} exited with {status}\nstderr:\n{}",
        stderr()
    );
}

/// A smoke test whose client library is missing is skipped with a note, except
/// under CI, where it fails: CI must not pass without having run it.
pub(crate) fn skip_unless_ci(missing: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{missing}: the test cannot run under CI");
    }
    eprintln!("SKIPPED: {missing}");
}

/// The npm `ari-client` library (installed by scripts/test into tests/clients).
#[test]
fn ari_npm_ari_client_smoke() {
    let dir = clients_dir();
    let node = std::process::Command::new("node").arg("--version").output();
    if node.is_err() || !dir.join("node_modules/ari-client").is_dir() {
        skip_unless_ci(&format!(
            "node or npm ari-client missing (scripts/test runs `npm ci` in {})",
            dir.display()
        ));
        return;
    }
    let mut command = std::process::Command::new("node");
    command.arg(dir.join("ari_client_smoke.js"));
    client_smoke("ari-client", "smoke-js", command);
}

/// The Python `asyncari` library (installed by scripts/test into
/// tests/clients/.venv).
#[test]
fn ari_python_asyncari_smoke() {
    let dir = clients_dir();
    let python = dir.join(".venv/bin/python");
    let installed = std::process::Command::new(&python)
        .args(["-c", "import asyncari"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        skip_unless_ci(&format!(
            "asyncari missing (scripts/test installs it into {})",
            dir.join(".venv").display()
        ));
        return;
    }
    let mut command = std::process::Command::new(python);
    command.arg(dir.join("asyncari_smoke.py"));
    client_smoke("asyncari", "smoke-py", command);
}

/// A client that stops reading is dropped once its queue is full, with a log
/// line; other applications' sockets and the REST API carry on meanwhile.
#[test]
fn ari_slow_websocket_is_dropped() {
    let server = Server::start_with("ari-slow", ServerConfig::default().ari());
    let addr = server.ari_addr();
    let ari = Ari::new(addr);
    // Connected, never read from.
    let (_slow, _slow_reader) = ws_handshake(
        addr,
        &format!("app=slow-app&api_key={ARI_USER}:{ARI_PASSWORD}"),
    )
    .expect("slow socket connects");
    let mut fast = EventSocket::connect(addr, "app=fast-app");
    let blob = "x".repeat(16 * 1024);
    let body = json!({"variables": {"blob": blob}});
    let dropped = |server: &Server| server.log().contains("ARI WebSocket too slow");
    let mut sent = 0;
    while !dropped(&server) {
        assert!(
            sent < 6000,
            "the slow socket was never dropped after {sent} events"
        );
        let started = std::time::Instant::now();
        ari.call(
            "POST",
            "/events/user/bulk?application=slow-app",
            Some(&body),
        )
        .expect(204, "user event to the slow app");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a REST request took {:?} while a client was slow",
            started.elapsed()
        );
        sent += 1;
        if sent % 50 == 0 {
            // The other application still gets its events at once.
            let started = std::time::Instant::now();
            ari.call("POST", "/events/user/tick?application=fast-app", None)
                .expect(204, "tick");
            fast.wait_for("ChannelUserevent", Duration::from_secs(2));
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "fast-app waited {:?}",
                started.elapsed()
            );
        }
    }
    eprintln!("slow socket dropped after {sent} events");
    // Still responsive afterwards, and the dropped app can come back for what it missed.
    ari.call("POST", "/events/user/after?application=fast-app", None)
        .expect(204, "after");
    assert_eq!(
        fast.wait_for("ChannelUserevent", EVENT_TIMEOUT)["eventname"],
        "after"
    );
    let mut again = EventSocket::connect(addr, &format!("app=slow-app&last_event={}", sent - 1));
    let last = again.wait_for("ChannelUserevent", EVENT_TIMEOUT);
    assert_eq!(
        last["sequence"].as_u64(),
        Some(sent as u64),
        "replayed the last event"
    );
}

#[test]
fn ari_cors_allows_only_configured_origins() {
    use crate::support::ari::Auth;
    use crate::support::server::{ARI_CORS_ORIGIN, ARI_PASSWORD, ARI_USER};
    let server = Server::start_with("ari-cors", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    let ping = |origin: &str| {
        ari.raw(
            "GET",
            "/ari/asterisk/ping",
            Auth::Basic(ARI_USER, ARI_PASSWORD),
            None,
            &[("Origin", origin)],
        )
    };
    let allowed = ping(ARI_CORS_ORIGIN);
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("Access-Control-Allow-Origin"),
        Some(ARI_CORS_ORIGIN)
    );
    let other = ping("http://evil.example");
    assert_eq!(other.status, 200);
    assert_eq!(other.header("Access-Control-Allow-Origin"), None);
    // A preflight needs no credentials and names the methods of the path.
    let preflight = ari.raw(
        "OPTIONS",
        "/ari/channels",
        Auth::None,
        None,
        &[
            ("Origin", ARI_CORS_ORIGIN),
            ("Access-Control-Request-Method", "POST"),
        ],
    );
    assert_eq!(preflight.status, 204);
    let methods = preflight
        .header("Access-Control-Allow-Methods")
        .unwrap_or_default();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
}
