//! Lua scripts on real calls: SIPp calls in (digits as RFC 4733 from the test's RTP
//! peer), the script runs in the `switchboard` process, and the test checks what it
//! did through what the caller hears, the files it wrote and the variables it left
//! (read back with `switchboard cli`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::cli;
use crate::support::calls::{self, Leg, LiveLeg, SETUP_TIMEOUT};
use crate::support::media::{RtpPeer, Segment, ToneReport};
use crate::support::recordings;
use crate::support::server::{Server, ServerConfig};
use crate::support::sipp::Sipp;
use crate::support::{ports, ALICE};

/// A scripts folder for one test, outside the server's own temp dir (the dialplan
/// names the script by its absolute path).
fn scripts(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-e2e-lua-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scripts dir");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write script");
    }
    dir
}

fn lua_app(dir: &Path, script: &str, args: &str) -> String {
    format!("Lua({} {args})", dir.join(script).display())
}

/// The global variable `name` as `switchboard cli` reads it.
fn global(server: &Server, name: &str) -> String {
    cli(server, &format!("global_getvar {name}"))
        .stdout
        .trim()
        .to_owned()
}

fn digit(d: char) -> Segment {
    Segment::Digit(d, Duration::from_millis(100))
}

fn quiet(ms: u64) -> Segment {
    Segment::Silence(Duration::from_millis(ms))
}

/// Calls `extension` as 1000 for `talk`, sending `script`.
fn call(server: &Server, extension: &str, talk: Duration, script: Vec<Segment>) -> Leg {
    let caller = Sipp::new(server, "uac_wait_bye").user(ALICE);
    calls::call_extension(caller, extension, "0 101", talk, script)
}

const IVR: &str = r##"
session:answer()
local digits = session:playAndGetDigits(2, 2, 2, 3000, "#",
  "tone_stream://%(3000,0,1000)", "tone_stream://%(1500,0,600)",
  "^4[0-9]$", "ivr_choice", 1500, "failed XML default")
freeswitch.API():execute("global_setvar", "ivr_result=" .. digits)
if digits ~= "" then
  session:streamFile("tone_stream://%(4000,0,1400)")
end
"##;

#[test]
fn ivr_collects_digits_plays_invalid_and_transfers_on_failure() {
    let dir = scripts("ivr", &[("ivr.lua", IVR)]);
    let config = ServerConfig::default()
        .extension("default", "300", &[&lua_app(&dir, "ivr.lua", "")])
        .extension(
            "default",
            "failed",
            &["Playtones(400)", "Wait(4)", "Hangup()"],
        );
    let server = Server::start_with("lua-ivr", config);

    // A wrong choice ("99"), the invalid prompt, then "42".
    let right = vec![
        quiet(1000),
        digit('9'),
        quiet(150),
        digit('9'),
        quiet(2500),
        digit('4'),
        quiet(150),
        digit('2'),
        Segment::Silence(Duration::from_secs(6)),
    ];
    let leg = call(&server, "300", Duration::from_secs(8), right);
    let heard = leg.received.tone_report(Duration::from_millis(200));
    eprintln!("right answer: {heard}");
    assert!(
        heard.count(600.0) >= 20,
        "the invalid prompt was played; {heard}"
    );
    assert!(
        heard.count(1400.0) >= 50,
        "the success tone was played; {heard}"
    );
    assert_eq!(heard.count(400.0), 0, "no transfer on success; {heard}");
    assert_eq!(global(&server, "ivr_result"), "42");

    // Two wrong choices: retries exhausted, transfer_on_failure to `failed`.
    let wrong = vec![
        quiet(1000),
        digit('1'),
        quiet(150),
        digit('1'),
        quiet(2500),
        digit('3'),
        quiet(150),
        digit('3'),
        Segment::Silence(Duration::from_secs(8)),
    ];
    let leg = call(&server, "300", Duration::from_secs(9), wrong);
    let heard = leg.received.tone_report(Duration::from_millis(200));
    eprintln!("wrong answers: {heard}");
    assert!(heard.count(400.0) >= 50, "transferred to `failed`; {heard}");
    assert_eq!(heard.count(1400.0), 0, "no success tone; {heard}");
    assert_eq!(global(&server, "ivr_result"), "");
}

const RECORD: &str = r##"
function on_input(s, kind, obj)
  if obj.digit == "#" then return "break" end
end
session:answer()
session:setInputCallback("on_input")
local started = os.time()
session:streamFile("tone_stream://%(20000,0,1000)")
freeswitch.API():execute("global_setvar", "stream_seconds=" .. (os.time() - started))
session:unsetInputCallback()
local by_silence = session:recordFile(argv[1] .. "/message.wav", 15, 200, 1)
freeswitch.API():execute("global_setvar", "record_result=" .. by_silence)
session:streamFile("tone_stream://%(2000,0,1400)")
"##;

#[test]
fn a_digit_breaks_a_file_and_a_recording_ends_in_silence() {
    let dir = scripts("record", &[("record.lua", RECORD)]);
    let config = ServerConfig::default().extension(
        "default",
        "301",
        &[&lua_app(&dir, "record.lua", &dir.display().to_string())],
    );
    let server = Server::start_with("lua-record", config);
    let script = vec![
        quiet(1500),
        digit('#'),
        quiet(500),
        Segment::Tone(800.0, Duration::from_millis(2000)),
        Segment::Silence(Duration::from_secs(6)),
    ];
    let leg = call(&server, "301", Duration::from_secs(7), script);
    let heard = leg.received.tone_report(Duration::from_millis(200));
    eprintln!("caller: {heard}");
    assert!(
        heard.count(1400.0) >= 30,
        "the script went on after recording; {heard}"
    );
    let seconds: u64 = global(&server, "stream_seconds")
        .parse()
        .expect("stream_seconds");
    assert!(seconds <= 4, "'#' broke the 20 s file after {seconds} s");
    assert_eq!(global(&server, "record_result"), "1", "ended by silence");
    let file = dir.join("message.wav");
    recordings::wait_for_file(&file);
    let pcm = recordings::read(&file, 8000);
    let length = recordings::duration(&pcm);
    let recorded = ToneReport::of_pcm(&pcm, Duration::ZERO);
    eprintln!("recording ({length:?}): {recorded}");
    assert!(
        recorded.count(800.0) >= 60,
        "the caller's tone is in the file; {recorded}"
    );
    assert!(
        length < Duration::from_secs(6),
        "silence ended it: {length:?}"
    );
}

const HOOK: &str = r##"
function on_hangup(s, status, arg)
  freeswitch.API():execute("global_setvar", "hook_status=" .. status .. "/" .. arg)
end
hook_arg = "from-arg"
session:answer()
session:setHangupHook("on_hangup", "hook_arg")
while session:ready() do
  session:streamFile("tone_stream://%(1000,0,1000)")
end
freeswitch.API():execute("global_setvar", "script_end=" .. session:hangupCause())
"##;

#[test]
fn the_hangup_hook_runs_when_the_caller_hangs_up_and_the_script_ends() {
    let dir = scripts("hook", &[("hook.lua", HOOK)]);
    let config =
        ServerConfig::default().extension("default", "302", &[&lua_app(&dir, "hook.lua", "")]);
    let server = Server::start_with("lua-hook", config);
    let rtp = RtpPeer::bind();
    let caller = calls::start_caller(
        &server,
        "uac_call",
        "302",
        &rtp,
        "0 101",
        Duration::from_secs(2),
    );
    let leg = LiveLeg::start(caller, rtp, vec![Segment::Silence(Duration::from_secs(4))]).wait();
    leg.sipp.assert_success();
    let heard = leg.received.tone_report(Duration::from_millis(200));
    assert!(heard.count(1000.0) >= 40, "the loop played; {heard}");
    let deadline = std::time::Instant::now() + SETUP_TIMEOUT;
    while global(&server, "script_end").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(global(&server, "hook_status"), "hangup/from-arg");
    assert_eq!(global(&server, "script_end"), "NORMAL_CLEARING");
}

const OUTBOUND: &str = r##"
session:answer()
local busy = freeswitch.Session("sofia/internal/sip:busy@127.0.0.1:" .. argv[1])
freeswitch.API():execute("global_setvar", "busy_cause=" .. busy:hangupCause())
local callee = freeswitch.Session("{origination_caller_id_number=7000}sofia/internal/sip:callee@127.0.0.1:" .. argv[2])
if callee:ready() then
  freeswitch.bridge(session, callee)
end
"##;

#[test]
fn an_outbound_session_is_bridged_to_the_caller_and_a_busy_one_says_why() {
    let busy_port = ports::free_udp_port();
    let callee_port = ports::free_udp_port();
    let dir = scripts("outbound", &[("outbound.lua", OUTBOUND)]);
    let args = format!("{busy_port} {callee_port}");
    let config = ServerConfig::default().extension(
        "default",
        "303",
        &[&lua_app(&dir, "outbound.lua", &args)],
    );
    let server = Server::start_with("lua-outbound", config);
    let mut busy = Sipp::new(&server, "uas_busy").local_port(busy_port).spawn();
    busy.wait_listening();
    let callee_rtp = RtpPeer::bind();
    let mut callee = Sipp::new(&server, "uas_answer")
        .key("user", "callee")
        .local_port(callee_port)
        .rtp(callee_rtp.port(), "0 101")
        .spawn();
    callee.wait_listening();
    let caller_rtp = RtpPeer::bind();
    let caller = calls::start_caller(
        &server,
        "uac_call",
        "303",
        &caller_rtp,
        "0 101",
        Duration::from_secs(5),
    );
    let tones = (600.0, 1400.0);
    let (caller, callee) = calls::start_both(
        (caller, caller_rtp),
        (callee, callee_rtp),
        tones,
        Duration::from_secs(8),
    );
    let caller = caller.wait();
    let callee = callee.wait_after(&caller);
    calls::assert_both_heard(&caller, &callee, tones, "bridged by freeswitch.bridge");
    busy.wait();
    assert_eq!(global(&server, "busy_cause"), "USER_BUSY");
}

const FIRST: &str = r##"
session:answer()
local digit = session:getDigits(1, "", 5000)
session:setVariable("chosen", digit)
session:execute("stasis", "crossapp,from-lua," .. digit)
"##;

const SECOND: &str = r##"
freeswitch.API():execute("global_setvar", "cross_done=" .. (session:getVariable("chosen") or "none"))
session:streamFile("tone_stream://%(2500,0,1400)")
"##;

/// One call through two faces: a Lua IVR takes a digit and hands the call to an ARI
/// application, which plays to it and continues it in the dialplan, where a second
/// Lua script runs.
#[test]
fn a_call_crosses_from_lua_to_ari_and_back_to_lua() {
    use crate::support::ari::{Ari, EventSocket};

    let dir = scripts("cross", &[("first.lua", FIRST), ("second.lua", SECOND)]);
    let config = ServerConfig::default()
        .ari()
        .extension("default", "304", &[&lua_app(&dir, "first.lua", "")])
        .extension("default", "305", &[&lua_app(&dir, "second.lua", "")]);
    let server = Server::start_with("lua-cross", config);
    let ari = Ari::new(server.ari_addr());
    let mut ws = EventSocket::connect(server.ari_addr(), "app=crossapp");
    let rtp = RtpPeer::bind();
    let caller = calls::start_caller(
        &server,
        "uac_wait_bye",
        "304",
        &rtp,
        "0 101",
        Duration::from_secs(12),
    );
    let caller = LiveLeg::start(
        caller,
        rtp,
        vec![
            quiet(1000),
            digit('5'),
            Segment::Silence(Duration::from_secs(12)),
        ],
    );
    let start = ws.wait_for("StasisStart", SETUP_TIMEOUT);
    assert_eq!(start["args"], serde_json::json!(["from-lua", "5"]));
    let id = start["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_owned();
    ari.post(&format!("/channels/{id}/play?media=sound:tone1k"))
        .expect(201, "play to the channel Lua handed over");
    ws.wait_for("PlaybackFinished", Duration::from_secs(8));
    ari.post(&format!(
        "/channels/{id}/continue?context=default&extension=305&priority=1"
    ))
    .expect(204, "continue in the dialplan");
    ws.wait_for("StasisEnd", SETUP_TIMEOUT);
    let caller = caller.wait();
    caller.sipp.assert_success();
    let heard = caller.received.tone_report(Duration::from_millis(200));
    eprintln!("caller: {heard}");
    assert!(
        heard.count(1000.0) >= 100,
        "ARI's playback reached the caller; {heard}"
    );
    assert!(
        heard.count(1400.0) >= 60,
        "the second script played; {heard}"
    );
    assert_eq!(global(&server, "cross_done"), "5");
}

/// The built-in config's demo IVR (`scripts/ivr.lua`): 1 goes to the echo test.
#[test]
fn the_demo_ivr_sends_1_to_the_echo_test() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
    let config = ServerConfig::default()
        .extension("default", "300", &[&lua_app(&demo, "ivr.lua", "")])
        .extension("default", "101", &["Answer()", "Echo()"]);
    let server = Server::start_with("lua-demo", config);
    let script = vec![
        quiet(1500),
        digit('1'),
        quiet(1000),
        Segment::Tone(800.0, Duration::from_secs(5)),
    ];
    // The echo test never hangs up: the caller does.
    let rtp = RtpPeer::bind();
    let caller = calls::start_caller(
        &server,
        "uac_call",
        "300",
        &rtp,
        "0 101",
        Duration::from_secs(7),
    );
    let leg = LiveLeg::start(caller, rtp, script).wait();
    leg.sipp.assert_success();
    let heard = leg.received.tone_report(Duration::from_secs(3));
    eprintln!("caller: {heard}");
    assert!(
        heard.count(800.0) >= 100,
        "the caller hears its own tone echoed; {heard}"
    );
}
