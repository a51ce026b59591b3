//! End-to-end tests: a real `switchboard` process driven by SIPp (signalling)
//! and by the tests' own RTP endpoints (audio). Every test starts its own
//! server on its own ports; they are real-time, so run them with few
//! threads (`scripts/test` uses nextest with 2).

mod ari;
mod cli;
mod digits;
mod lua;
mod registration;
mod security;
mod sessions;
mod slowloris;
mod support;
mod torture;
mod trunks;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::calls::{self, Bridged};
use support::cdr;
use support::digest::Challenge;
use support::media::{self, Segment, ToneReport};
use support::recordings::{self, PCMU_RATE};
use support::server::{Server, ServerConfig, TONE1K_FREQ, TONE1K_SECONDS};
use support::sip::{self, TcpClient, UdpClient};
use support::sipp::{self, Sipp, SippResult};
use support::{ports, ALICE, BOB};

/// Talk time of the bridged and echo calls.
const TALK: Duration = Duration::from_secs(4);
/// Tone of the caller (1000) and of the callee (1001).
const CALLER_TONE: f32 = 600.0;
const CALLEE_TONE: f32 = 1400.0;
/// Frames a side must at least analyse in a ~4 s call (about 2.5 s).
const MIN_FRAMES: usize = 125;
/// Q.850 cause of a normal hang-up.
const NORMAL_CLEARING: i64 = 16;
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What a party sends for the whole call: its tone, until the call ends.
fn tone(freq: f32) -> Vec<Segment> {
    tone_for(freq, TALK)
}

/// A tone outlasting a call of `length` (its end is cut by the hang-up).
pub(crate) fn tone_for(freq: f32, length: Duration) -> Vec<Segment> {
    vec![Segment::Tone(freq, length + Duration::from_secs(2))]
}

#[test]
fn sipp_scenarios_load() {
    let scenarios = sipp::all_scenarios();
    assert!(!scenarios.is_empty(), "no scenario in tests/sipp");
    let failures: Vec<String> = scenarios
        .iter()
        .filter_map(|s| {
            let error = sipp::check_scenario(s).err()?;
            Some(format!("{}:\n{}", s.display(), support::tail(&error, 10)))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn options_over_udp_and_tcp() {
    let server = Server::start("options");
    let udp = UdpClient::new(server.sip_addr()).options(RESPONSE_TIMEOUT);
    sip::assert_status(udp, 200, "OPTIONS over UDP");
    let tcp = TcpClient::connect(server.sip_addr()).options(RESPONSE_TIMEOUT);
    sip::assert_status(tcp, 200, "OPTIONS over TCP");
}

#[test]
fn register_with_digest_auth() {
    let server = Server::start("register");
    calls::register(&server, ALICE, ports::free_udp_port());
    calls::register(&server, BOB, ports::free_udp_port());
    Sipp::new(&server, "register")
        .user(ALICE)
        .tcp()
        .run()
        .assert_success();
}

#[test]
fn register_with_sha256_digest() {
    let config = ServerConfig::default()
        .endpoint_setting(ALICE.id, r#"auth_algorithms = ["MD5", "SHA-256"]"#);
    let server = Server::start_with("register-sha256", config);
    let addr = server.sip_addr();
    let client = UdpClient::new(addr);
    let local = client.local_addr();
    let call_id = sip::unique_id("register");
    let register = |cseq: u32, authorization: Option<&str>| {
        let request = sip::register_request(addr, local, ALICE.id, &call_id, cseq, authorization);
        client.exchange(&request, RESPONSE_TIMEOUT)
    };

    let response = sip::assert_status(register(1, None), 401, "REGISTER without credentials");
    let challenges: Vec<Challenge> = response
        .headers("WWW-Authenticate")
        .into_iter()
        .map(|value| {
            Challenge::parse(value)
                .unwrap_or_else(|| panic!("not a digest challenge: {value:?}\n{}", response.raw))
        })
        .collect();
    let algorithms: Vec<Option<&str>> = challenges.iter().map(|c| c.algorithm.as_deref()).collect();
    assert_eq!(
        algorithms,
        [Some("MD5"), Some("SHA-256")],
        "challenges, MD5 first:\n{}",
        response.raw
    );
    assert!(
        challenges.iter().all(Challenge::offers_qop_auth),
        "every challenge should offer qop=auth:\n{}",
        response.raw
    );
    let sha256 = &challenges[1];
    let uri = sip::registrar_uri(addr);
    let answer = |password: &str| {
        let cnonce = sip::unique_id("cnonce");
        sha256.answer_sha256("REGISTER", &uri, ALICE.id, password, &cnonce)
    };

    // A wrong password proves the server checks the SHA-256 response.
    let wrong = answer("not-the-password");
    sip::assert_status(
        register(2, Some(&wrong)),
        403,
        "REGISTER with a SHA-256 answer from a wrong password",
    );
    let right = answer(ALICE.password);
    let response = sip::assert_status(
        register(3, Some(&right)),
        200,
        "REGISTER answering the SHA-256 challenge",
    );
    let contact = format!("<sip:{}@{local}>", ALICE.id);
    let binding = response
        .headers("Contact")
        .into_iter()
        .find(|c| c.starts_with(&contact))
        .unwrap_or_else(|| panic!("no Contact {contact} in the 200:\n{}", response.raw));
    let expires: Option<u32> = binding
        .split(';')
        .find_map(|param| param.trim().strip_prefix("expires="))
        .and_then(|e| e.trim().parse().ok());
    assert!(
        expires.is_some_and(|e| (1..=3600).contains(&e)),
        "the Contact should carry expires (at most the 3600 asked for): {binding:?}"
    );
}

#[test]
fn register_with_wrong_password_is_refused() {
    let server = Server::start("register-wrong-password");
    Sipp::new(&server, "register_rejected")
        .credentials(ALICE.id, "not-the-password")
        .run()
        .assert_success();
}

#[test]
fn register_unknown_user_is_refused() {
    let server = Server::start("register-unknown-user");
    Sipp::new(&server, "register_rejected")
        .credentials("4242", "4242pass")
        .run()
        .assert_success();
}

/// 1000 calls 1001; both send a tone; `callee_hangs_up` picks who sends
/// the BYE. Each side must hear the other, and the CDR must show the call.
fn bridged_call(name: &str, callee_hangs_up: bool) {
    let server = Server::start(name);
    let mut call = Bridged::new(TALK, tone(CALLER_TONE), tone(CALLEE_TONE));
    if callee_hangs_up {
        call.caller_scenario = "uac_wait_bye";
        call.callee_scenario = "uas_answer_bye";
    }
    let (caller, callee) = call.run(&server);

    media::assert_hears(
        &caller.received,
        "caller",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_FRAMES,
    );
    media::assert_hears(
        &callee.received,
        "callee",
        CALLER_TONE,
        Some(CALLEE_TONE),
        MIN_FRAMES,
    );

    let row = cdr::wait_for_only_cdr(&server.db_path(), BOB.id);
    assert_eq!(row.caller.as_deref(), Some(ALICE.id), "{row:?}");
    assert_sip_channel(row.channel.as_deref(), ALICE.id, &row);
    assert_sip_channel(row.dstchannel.as_deref(), BOB.id, &row);
    let talk = TALK.as_secs() as i64;
    let billsec = row.billsec.unwrap_or(-1);
    assert!(
        (talk - 1..=talk + 1).contains(&billsec),
        "billsec should be about {talk}: {row:?}"
    );
    assert!(row.duration.unwrap_or(-1) >= billsec, "{row:?}");
    assert_eq!(row.cause, Some(NORMAL_CLEARING), "{row:?}");
}

/// `name` is a channel of `endpoint`, named as Asterisk names them
/// (`SIP/1001-0000000a`).
fn assert_sip_channel(name: Option<&str>, endpoint: &str, row: &cdr::Cdr) {
    let seq = name.and_then(|n| n.strip_prefix(&format!("SIP/{endpoint}-")));
    assert!(
        seq.is_some_and(|s| s.len() == 8 && s.chars().all(|c| c.is_ascii_hexdigit())),
        "expected a SIP/{endpoint}-<seq> channel, got {name:?}: {row:?}"
    );
}

#[test]
fn call_1000_to_1001_caller_hangs_up() {
    bridged_call("call-caller-bye", false);
}

#[test]
fn call_1000_to_1001_callee_hangs_up() {
    bridged_call("call-callee-bye", true);
}

/// Calls the echo extension offering `offer`; the tone must come back.
fn echo(name: &str, offer: &str, expected_payload_type: u8) {
    echo_with(name, offer, expected_payload_type, |sipp| sipp);
}

/// [`echo`] with the caller's SIPp configured by `configure`.
fn echo_with(
    name: &str,
    offer: &str,
    expected_payload_type: u8,
    configure: impl FnOnce(Sipp) -> Sipp,
) {
    let server = Server::start(name);
    let freq = 800.0;
    let caller = configure(Sipp::new(&server, "uac_call").user(ALICE));
    let leg = calls::call_extension(caller, "101", offer, TALK, tone(freq));
    assert_eq!(
        leg.media.payload_type, expected_payload_type,
        "codec of the answer"
    );
    media::assert_hears(&leg.received, "echo caller", freq, None, MIN_FRAMES);
}

#[test]
fn echo_101() {
    echo("echo", "0 8 101", 0);
}

#[test]
fn echo_101_g722() {
    echo("echo-g722", "9 101", 9);
}

#[test]
fn echo_101_over_tcp() {
    echo_with("echo-tcp", "0 8 101", 0, Sipp::tcp);
}

#[test]
fn answer_follows_the_offer_order() {
    // PCMA first in the offer, though the server's own list starts with PCMU.
    echo("offer-order", "8 0 9 101", 8);
}

/// Calls the echo extension with an INVITE without SDP and answers the
/// server's offer in the ACK with `answer`; the tone must come back in the
/// answer's codec.
fn late_offer(name: &str, answer: &str, expected_payload_type: u8) {
    let server = Server::start(name);
    let freq = 800.0;
    let caller = Sipp::new(&server, "uac_late_offer").user(ALICE);
    let leg = calls::call_extension(caller, "101", answer, TALK, tone(freq));
    // The 200's offer: every configured codec, in the server's order.
    leg.sipp.assert_logged("OFFER 0 8 9 101");
    assert_eq!(
        leg.media.payload_type, expected_payload_type,
        "codec of the answer in the ACK"
    );
    assert_eq!(
        leg.received.audio_payload_types(),
        vec![expected_payload_type],
        "the server must send in the codec of the answer"
    );
    media::assert_hears(&leg.received, "late-offer caller", freq, None, MIN_FRAMES);
}

#[test]
fn late_offer_call_to_echo() {
    late_offer("late-offer", "0 101", 0);
}

#[test]
fn late_offer_answer_picks_pcma() {
    // Not the first codec of the server's offer: the ACK's answer decides.
    late_offer("late-offer-pcma", "8 101", 8);
}

/// Each phase of the hold test: talking, on hold, talking again.
const HOLD_PHASE: Duration = Duration::from_secs(2);
/// Frames a side must at least analyse in a 2 s phase (about 1.2 s).
const MIN_PHASE_FRAMES: usize = 60;
/// Time the test may notice a scenario's log line after the SIP message
/// it logs (the log is polled every 50 ms).
const LOG_LAG: Duration = Duration::from_millis(200);

#[test]
fn hold_and_unhold_by_reinvite() {
    let server = Server::start("hold");
    let length = HOLD_PHASE * 3;
    let mut call = Bridged::new(
        HOLD_PHASE,
        tone_for(CALLER_TONE, length),
        tone_for(CALLEE_TONE, length),
    );
    // Talks, re-INVITEs with a=sendonly, waits, re-INVITEs with a=sendrecv,
    // talks, hangs up; a phase is the scenario's pause.
    call.caller_scenario = "uac_hold";
    let mut call = call.start(&server);
    let (held_line, held) = call.caller.sipp.wait_for_log_seen("HELD ", HOLD_PHASE * 2);
    let (resumed_line, resumed) = call
        .caller
        .sipp
        .wait_for_log_seen("RESUMED ", HOLD_PHASE * 2);
    let (caller, callee) = call.finish();

    // Same port, same codec (PCMU is still offered), mirrored direction.
    let port = caller.media.addr.port();
    assert_eq!(caller.media.payload_type, 0, "codec of the call");
    assert!(
        held_line.starts_with(&format!("HELD recvonly {port} 0 ")),
        "the answer to a=sendonly should be a=recvonly on port {port} with PCMU: {held_line}"
    );
    assert!(
        resumed_line.starts_with(&format!("RESUMED sendrecv {port} 0 ")),
        "the answer to a=sendrecv should be a=sendrecv on port {port} with PCMU: {resumed_line}"
    );

    let rx = &caller.received;
    media::assert_hears(
        &rx.slice(..held),
        "caller before the hold",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_PHASE_FRAMES,
    );
    // The server may still be sending when the 200 leaves, and resumes
    // before the 200 of the unhold, which the test sees up to LOG_LAG late.
    let (hold_start, hold_end) = (held + Duration::from_millis(60), resumed - LOG_LAG);
    let hold_span = hold_end - hold_start;
    assert!(
        hold_span >= HOLD_PHASE / 2,
        "hold phase too short to check: {hold_span:?}"
    );
    let during_hold = rx.slice(hold_start..hold_end).audio_count();
    assert!(
        during_hold <= 2,
        "the server sent {during_hold} audio packets to the caller during the {hold_span:?} it was on hold"
    );
    media::assert_hears(
        &rx.slice(resumed..),
        "caller after the unhold",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_PHASE_FRAMES,
    );
    assert_eq!(rx.audio_payload_types(), vec![0], "caller receives PCMU");

    // The caller kept talking; the callee hears it before and after the hold.
    for (phase, received) in [
        ("before the hold", callee.received.slice(..held)),
        ("after the unhold", callee.received.slice(resumed..)),
    ] {
        media::assert_hears(
            &received,
            &format!("callee {phase}"),
            CALLER_TONE,
            Some(CALLEE_TONE),
            MIN_PHASE_FRAMES,
        );
    }
}

/// How long the callee plays early media before it answers.
const EARLY_MEDIA: Duration = Duration::from_secs(2);

#[test]
fn early_media_reaches_the_caller() {
    let server = Server::start("early-media");
    let length = EARLY_MEDIA * 2;
    // The callee answers 183 with SDP, sends its tone, answers 200 after
    // EARLY_MEDIA; the caller (media from the 183 on) hangs up EARLY_MEDIA
    // after the 200.
    let mut call = Bridged::new(
        EARLY_MEDIA,
        tone_for(CALLER_TONE, length),
        tone_for(CALLEE_TONE, length),
    );
    call.caller_scenario = "uac_early_media";
    call.callee_scenario = "uas_early_media";
    let mut call = call.start(&server);
    let (answered_line, answered) = call
        .caller
        .sipp
        .wait_for_log_seen("ANSWERED ", EARLY_MEDIA * 2);
    let (caller, callee) = call.finish();

    let early = caller.media;
    assert!(
        answered_line.starts_with(&format!(
            "ANSWERED {} {} {} ",
            early.addr.ip(),
            early.addr.port(),
            early.payload_type
        )),
        "the 200 should carry the 183's SDP ({early:?}): {answered_line}"
    );

    let before_answer = caller.received.slice(..answered);
    media::assert_hears(
        &before_answer,
        "caller before the 200",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_PHASE_FRAMES,
    );
    let first = before_answer
        .audio()
        .next()
        .expect("checked: early media arrived");
    let ahead = answered - first.at;
    assert!(
        ahead >= EARLY_MEDIA - Duration::from_millis(500),
        "early media should start about {EARLY_MEDIA:?} before the 200, started {ahead:?} before"
    );

    media::assert_hears(
        &caller.received.slice(answered..),
        "caller after the 200",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_PHASE_FRAMES,
    );
    media::assert_hears(
        &callee.received.slice(answered..),
        "callee after the 200",
        CALLER_TONE,
        Some(CALLEE_TONE),
        MIN_PHASE_FRAMES,
    );
}

/// `caller` calls `extension`, which plays tone1k and hangs up.
fn assert_plays_tone1k(caller: Sipp, extension: &str) {
    // Nothing is sent: the server must stream to the address in our SDP.
    let leg = calls::call_extension(caller, extension, "0 8 101", TALK, vec![]);
    let rx = &leg.received;
    let count = rx.audio_count();
    let expected = (TONE1K_SECONDS * 1000 / media::PTIME_MS) as usize;
    assert!(
        (expected - 10..=expected + 10).contains(&count),
        "expected about {expected} packets of tone1k, got {count}"
    );
    let span = rx.audio_span();
    let seconds = f64::from(TONE1K_SECONDS);
    assert!(
        span.as_secs_f64() >= seconds - 0.4 && span.as_secs_f64() <= seconds + 0.6,
        "tone1k should be played in real time: {count} packets over {span:?}"
    );
    media::assert_hears(rx, "playback caller", TONE1K_FREQ, None, expected * 3 / 4);
}

#[test]
fn playback_100() {
    let server = Server::start("playback");
    assert_plays_tone1k(Sipp::new(&server, "uac_wait_bye").user(ALICE), "100");
}

#[test]
fn trunk_call_lands_in_its_context_without_auth() {
    let trunk_port = ports::free_udp_port();
    let trunk = SocketAddr::from(([127, 0, 0, 1], trunk_port));
    let config = ServerConfig::default()
        .trunk("carrier", trunk, "from-carrier")
        .extension(
            "from-carrier",
            "5000",
            &["Answer()", "Playback(tone1k)", "Hangup()"],
        );
    let server = Server::start_with("trunk", config);
    let caller = Sipp::new(&server, "uac_trunk")
        .key("user", "+15550100")
        .local_port(trunk_port);
    assert_plays_tone1k(caller, "5000");
}

/// 1000 calls `extension` while 1001 runs `callee_scenario`; both
/// scenarios must succeed. Returns the caller's result.
fn call_unanswered(
    server: &Server,
    callee_scenario: &'static str,
    caller_scenario: &'static str,
    extension: &str,
) -> SippResult {
    let callee = calls::start_callee(server, BOB, callee_scenario, |sipp| sipp);
    let rtp = media::RtpPeer::bind();
    let caller = calls::start_caller(server, caller_scenario, extension, &rtp, "0 8 101", TALK);
    let caller = caller.wait();
    let callee = callee.wait_after(&caller);
    caller.assert_success();
    callee.assert_success();
    caller
}

/// No CDR of an unanswered call may bill anything; its dstchannel is the
/// dialled channel all the same, as in Asterisk (these calls all dial 1001).
fn assert_unbilled_cdr(server: &Server, callee: &str) {
    let row = cdr::wait_for_only_cdr(&server.db_path(), callee);
    assert_eq!(row.caller.as_deref(), Some(ALICE.id), "{row:?}");
    assert_eq!(row.billsec, Some(0), "{row:?}");
    assert_sip_channel(row.dstchannel.as_deref(), BOB.id, &row);
}

#[test]
fn cancel_before_answer_gives_487() {
    let server = Server::start("cancel");
    // uac_cancel: CANCEL after 180, expects 487; uas_ring: expects the CANCEL.
    call_unanswered(&server, "uas_ring", "uac_cancel", BOB.id);
    assert_unbilled_cdr(&server, BOB.id);
}

#[test]
fn busy_callee_gives_486() {
    let server = Server::start("busy");
    call_unanswered(&server, "uas_busy", "uac_rejected", BOB.id).assert_logged("FINAL 486");
    assert_unbilled_cdr(&server, BOB.id);
}

#[test]
fn dial_timeout_gives_480() {
    let config = ServerConfig::default().extension("default", "_2XXX", &["Dial(SIP/1001,2)"]);
    let server = Server::start_with("dial-timeout", config);
    let started = Instant::now();
    // uas_ring only rings and expects the server's CANCEL after 2 s.
    call_unanswered(&server, "uas_ring", "uac_rejected", "2000").assert_logged("FINAL 480");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(10),
        "Dial(...,2) should give up after 2 s, the call took {elapsed:?}"
    );
    assert_unbilled_cdr(&server, "2000");
}

#[test]
fn transcode_pcmu_caller_to_pcma_callee() {
    let config = ServerConfig::default().endpoint_codecs(BOB.id, &["PCMA"]);
    let server = Server::start_with("transcode", config);
    let mut call = Bridged::new(TALK, tone(CALLER_TONE), tone(CALLEE_TONE));
    call.caller_offer = "0 101";
    call.callee_answer = "8 101";
    let (caller, callee) = call.run(&server);

    assert_eq!(caller.media.payload_type, 0, "the caller offered PCMU only");
    assert_eq!(
        callee.media.payload_type, 8,
        "1001 is configured for PCMA only"
    );
    assert_eq!(
        caller.received.audio_payload_types(),
        vec![0],
        "caller receives PCMU"
    );
    assert_eq!(
        callee.received.audio_payload_types(),
        vec![8],
        "callee receives PCMA"
    );
    media::assert_hears(
        &caller.received,
        "caller (PCMU)",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_FRAMES,
    );
    media::assert_hears(
        &callee.received,
        "callee (PCMA)",
        CALLER_TONE,
        Some(CALLEE_TONE),
        MIN_FRAMES,
    );
}

#[test]
fn transcode_g722_caller_to_pcmu_callee() {
    let config = ServerConfig::default().endpoint_codecs(BOB.id, &["PCMU"]);
    let server = Server::start_with("transcode-g722", config);
    let mut call = Bridged::new(TALK, tone(CALLER_TONE), tone(CALLEE_TONE));
    call.caller_offer = "9 101";
    call.callee_answer = "0 101";
    let (caller, callee) = call.run(&server);

    assert_eq!(caller.media.payload_type, 9, "the caller offered G722 only");
    assert_eq!(
        callee.media.payload_type, 0,
        "1001 is configured for PCMU only"
    );
    media::assert_hears(
        &caller.received,
        "caller (G722)",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_FRAMES,
    );
    media::assert_hears(
        &callee.received,
        "callee (PCMU)",
        CALLER_TONE,
        Some(CALLEE_TONE),
        MIN_FRAMES,
    );
}

#[test]
fn dtmf_rfc4733_passes_through() {
    let server = Server::start("dtmf");
    let digits = "1234#";
    let mut script = vec![Segment::Silence(Duration::from_millis(400))];
    for digit in digits.chars() {
        script.push(Segment::Digit(digit, Duration::from_millis(120)));
        script.push(Segment::Silence(Duration::from_millis(100)));
    }
    script.push(Segment::Silence(TALK));
    let call = Bridged::new(TALK, script, tone(CALLEE_TONE));
    let (_caller, callee) = call.run(&server);
    assert_eq!(
        callee.received.digits(),
        digits,
        "digits received by the callee"
    );
}

#[test]
fn garbage_does_not_break_the_server() {
    let mut server = Server::start("garbage");
    let addr = server.sip_addr();
    let udp = UdpClient::new(addr);
    let local = udp.local_addr();
    let invite = invite_request(addr, local);

    // Over UDP: junk, half a request, a body shorter than its Content-Length,
    // binary noise, an empty datagram.
    udp.send(b"hello, this is not SIP\r\n\r\n");
    udp.send(&invite.as_bytes()[..invite.len() / 2]);
    udp.send(
        invite
            .replace("Content-Length: 0", "Content-Length: 500")
            .as_bytes(),
    );
    let noise: Vec<u8> = (0..1200u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    udp.send(&noise);
    udp.send(b"");
    // Over TCP: a connection closed in the middle of a message, and one
    // sending junk.
    TcpClient::connect(addr).send(&invite.as_bytes()[..invite.len() / 2]);
    TcpClient::connect(addr).send(&noise);

    server.assert_running();
    let udp = UdpClient::new(addr).options(RESPONSE_TIMEOUT);
    sip::assert_status(udp, 200, "OPTIONS over UDP after garbage");
    let tcp = TcpClient::connect(addr).options(RESPONSE_TIMEOUT);
    sip::assert_status(tcp, 200, "OPTIONS over TCP after garbage");

    // A well-formed request without Call-ID: the server can still answer it.
    let probe = UdpClient::new(addr);
    let no_call_id: String = sip::options_request(addr, probe.local_addr(), "UDP")
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("Call-ID:"))
        .collect();
    let response = probe.exchange(&no_call_id, RESPONSE_TIMEOUT);
    sip::assert_status(response, 400, "OPTIONS without Call-ID");
    server.assert_running();
}

/// An INVITE from `local` to extension 101, without a body.
fn invite_request(server: SocketAddr, local: SocketAddr) -> String {
    let id = sip::unique_id("garbage");
    format!(
        "INVITE sip:101@{server} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@{server}>;tag={id}\r\n\
         To: <sip:101@{server}>\r\n\
         Call-ID: {id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:1000@{local}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn sigterm_shuts_down() {
    let server = Server::start("sigterm");
    match server.stop() {
        Some(status) => assert!(
            status.success(),
            "switchboard exited with {status} after SIGTERM"
        ),
        None => panic!("switchboard did not exit within 5 s of SIGTERM"),
    }
}

/// Mean Goertzel power of `freq` over the frames received in `window`.
fn tone_power(received: &media::Received, window: std::ops::Range<Instant>, freq: f32) -> f64 {
    let frames = received.slice(window).frames();
    media::mean_power(
        frames.iter().map(|f| (f.pcm.as_slice(), f.sample_rate)),
        freq,
    )
}

#[test]
fn conference_mixes_every_party_but_oneself() {
    let config = ServerConfig::default().extension("default", "300", &["ConfBridge(test)"]);
    let server = Server::start_with("conference", config);
    // Three PCMU parties and a fourth on G.722, each with its own tone.
    let parties: [(f32, &str); 4] = [
        (400.0, "0 101"),
        (800.0, "0 101"),
        (1400.0, "0 101"),
        (2000.0, "9 101"),
    ];
    let talk = Duration::from_secs(6);
    let legs: Vec<calls::LiveLeg> = parties
        .iter()
        .map(|(freq, offer)| {
            let rtp = media::RtpPeer::bind();
            let sipp = calls::start_caller(&server, "uac_call", "300", &rtp, offer, talk);
            calls::LiveLeg::start(sipp, rtp, tone_for(*freq, talk + Duration::from_secs(1)))
        })
        .collect();
    // Everybody is in once the last one has media; give the jitter buffers a moment.
    let from = Instant::now() + Duration::from_millis(500);
    let window = from..from + Duration::from_secs(3);
    let legs: Vec<calls::Leg> = legs.into_iter().map(calls::LiveLeg::wait).collect();
    for (i, (leg, (own, _))) in legs.iter().zip(parties).enumerate() {
        let powers: Vec<(f32, f64)> = parties
            .iter()
            .map(|(f, _)| (*f, tone_power(&leg.received, window.clone(), *f)))
            .collect();
        eprintln!("party {i} ({own} Hz) hears {powers:?}");
        let own_power = powers.iter().find(|(f, _)| *f == own).map_or(0.0, |p| p.1);
        for (freq, power) in powers.iter().filter(|(f, _)| *f != own) {
            assert!(
                *power > 1e-3 && *power > 100.0 * own_power,
                "party {i} should hear {freq} Hz, and far above its own {own} Hz: {powers:?}"
            );
        }
    }
}

#[test]
fn playtones_busy_has_its_frequencies_and_cadence() {
    let config = ServerConfig::default().extension(
        "default",
        "400",
        &[
            "Answer()",
            "Playtones(busy)",
            "Wait(3)",
            "StopPlaytones()",
            "Hangup()",
        ],
    );
    let server = Server::start_with("playtones", config);
    let caller = Sipp::new(&server, "uac_wait_bye").user(ALICE);
    let leg = calls::call_extension(caller, "400", "0 101", TALK, vec![]);
    let frames = leg.received.frames();
    assert!(
        frames.len() > 120,
        "about 3 s of tone expected, got {} frames",
        frames.len()
    );
    // Each frame is on (480+620 Hz) or off (silence).
    let on: Vec<bool> = frames
        .iter()
        .map(|f| {
            let p = |hz| switchboard_media::goertzel::power(&f.pcm, hz, f.sample_rate);
            let tone = p(480.0) + p(620.0);
            assert!(tone >= 5.0 * p(1000.0), "busy energy must be at 480/620 Hz");
            tone > 1e-3
        })
        .collect();
    let share = on.iter().filter(|o| **o).count() as f64 / on.len() as f64;
    assert!(
        (0.35..=0.65).contains(&share),
        "busy is on half the time, got {share:.2}"
    );
    // Runs of on and off frames last about 0.5 s (25 frames); the last may be cut short.
    let mut runs = Vec::new();
    let mut current = (on[0], 0usize);
    for o in &on {
        if *o == current.0 {
            current.1 += 1;
        } else {
            runs.push(current.1);
            current = (*o, 1);
        }
    }
    assert!(
        runs.len() >= 4,
        "expected an on/off cadence, got runs {runs:?}"
    );
    for run in &runs[1..] {
        assert!(
            (20..=30).contains(run),
            "cadence of 0.5 s expected, got runs {runs:?}"
        );
    }
}

/// Start of a recording left out of its tone analysis: the caller's first
/// packets reach the server a little after the recording has started.
const RECORDING_SETTLE: Duration = Duration::from_millis(100);
/// Share of a recording's frames its tone must dominate.
const RECORDING_TONE_SHARE: f64 = 0.9;
/// Frequency and length of the beep `Record()` plays unless told `q`.
const BEEP_FREQ: f32 = 1000.0;
const BEEP: Duration = Duration::from_millis(250);

/// Asserts that the recording `name` (WAV, under the data dir's
/// `recordings`) exists, is a valid 16-bit mono WAV file at 8 kHz lasting
/// `length`, holds mostly `freq`, and is listed in table `recordings` with
/// its format, path and duration. Returns its audio.
fn assert_recording(
    server: &Server,
    name: &str,
    length: std::ops::RangeInclusive<Duration>,
    freq: f32,
) -> switchboard_media::wav::Pcm {
    let path = server.recordings_dir().join(format!("{name}.wav"));
    recordings::wait_for_file(&path);
    let pcm = recordings::read(&path, PCMU_RATE);
    let duration = recordings::duration(&pcm);
    assert!(
        length.contains(&duration),
        "{name}.wav should last {length:?}, lasts {duration:?}"
    );
    let report = ToneReport::of_pcm(&pcm, RECORDING_SETTLE);
    eprintln!("{name}.wav ({duration:?}): {report}");
    assert!(
        report.fraction(freq) >= RECORDING_TONE_SHARE,
        "{name}.wav: {freq} Hz dominates only {:.0}% of the frames; {report}",
        report.fraction(freq) * 100.0
    );

    let row = cdr::wait_for_recording(&server.db_path(), name);
    assert_eq!(row.format.as_deref(), Some("wav"), "{row:?}");
    assert_eq!(
        row.path.as_deref().map(std::path::Path::new),
        Some(path.as_path()),
        "{row:?}"
    );
    let indexed = row.duration_ms.unwrap_or(-1);
    let actual = duration.as_millis() as i64;
    assert!(
        (indexed - actual).abs() <= 100,
        "the index should give {name}'s duration ({actual} ms): {row:?}"
    );
    pcm
}

/// A config whose extension `exten` answers, runs `record` and hangs up.
fn record_extension(exten: &str, record: &str) -> ServerConfig {
    ServerConfig::default().extension("default", exten, &["Answer()", record, "Hangup()"])
}

#[test]
fn record_writes_the_tone_for_its_duration() {
    let server = Server::start_with("record", record_extension("500", "Record(rec1.wav,0,3,q)"));
    // The server hangs up once the 3 s are recorded; the tone lasts 5 s.
    let caller = Sipp::new(&server, "uac_wait_bye").user(ALICE);
    calls::call_extension(
        caller,
        "500",
        "0 101",
        TALK,
        tone_for(CALLER_TONE, Duration::from_secs(3)),
    );
    let three = Duration::from_secs(3);
    let slack = Duration::from_millis(300);
    assert_recording(&server, "rec1", three - slack..=three + slack, CALLER_TONE);
}

#[test]
fn record_ends_on_hash() {
    let server = Server::start_with(
        "record-hash",
        record_extension("501", "Record(rec2.wav,0,20)"),
    );
    let tone = Duration::from_secs(2);
    let script = vec![
        Segment::Tone(CALLER_TONE, tone),
        Segment::Digit('#', Duration::from_millis(120)),
        Segment::Silence(TALK),
    ];
    // `#` ends the recording (the 20 s limit is far), then the dialplan
    // hangs up.
    let caller = Sipp::new(&server, "uac_wait_bye").user(ALICE);
    let leg = calls::call_extension(caller, "501", "0 101", TALK, script);

    // The beep comes first, and is a beep: not heard after its 250 ms.
    let rx = &leg.received;
    let first = rx
        .audio()
        .next()
        .expect("the caller should receive the beep")
        .at;
    let beep = rx.slice(..first + BEEP).tone_report(Duration::ZERO);
    eprintln!("caller, first {BEEP:?}: {beep}");
    assert!(
        beep.frames >= 10 && beep.fraction(BEEP_FREQ) >= 0.8,
        "the caller should first hear the {BEEP_FREQ} Hz beep; {beep}"
    );
    let after = rx
        .slice(first + BEEP + Duration::from_millis(100)..)
        .tone_report(Duration::ZERO);
    eprintln!("caller, after the beep: {after}");
    assert!(
        after.fraction(BEEP_FREQ) < 0.1,
        "the beep should last {BEEP:?}, the caller kept hearing it; {after}"
    );

    // Recorded until the `#`, which follows 2 s of tone.
    assert_recording(
        &server,
        "rec2",
        Duration::from_millis(1500)..=Duration::from_secs(3),
        CALLER_TONE,
    );
}

#[test]
fn recording_survives_kill_9() {
    let mut server = Server::start_with(
        "record-kill",
        record_extension("502", "Record(crash.wav,0,60,q)"),
    );
    let rtp = media::RtpPeer::bind();
    let caller = calls::start_caller(&server, "uac_wait_bye", "502", &rtp, "0 101", TALK);
    let leg = calls::LiveLeg::start(caller, rtp, tone_for(CALLER_TONE, Duration::from_secs(10)));
    let part = server.recordings_dir().join(".crash.wav.part");
    let created = support::poll(calls::SETUP_TIMEOUT, || part.exists().then_some(()));
    assert!(
        created.is_some(),
        "no {} while recording; the recordings dir holds: {}",
        part.display(),
        recordings::listing(&server.recordings_dir())
    );
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(3500));
    server.kill();
    let recorded = started.elapsed();
    // The call dies with the server: the caller's scenario cannot succeed.
    let _ = leg.stop();

    // The header is rewritten about every second: the file left behind is
    // a valid WAV file of all but (at most) the last second.
    let partial = recordings::read(&part, PCMU_RATE);
    let kept = recordings::duration(&partial);
    let report = ToneReport::of_pcm(&partial, Duration::ZERO);
    let tone = media::PTIME * report.count(CALLER_TONE) as u32;
    eprintln!(
        "{} after {recorded:?} of recording: {kept:?}; {report}",
        part.display()
    );
    assert!(
        tone + Duration::from_secs(1) >= recorded && kept <= recorded,
        "the .part file should hold the {recorded:?} recorded, less at most 1 s, \
         of {CALLER_TONE} Hz; it holds {kept:?} with {tone:?} of it; {report}"
    );

    // At startup the server finishes the recording and indexes it.
    server.restart();
    let recovered = assert_recording(
        &server,
        "crash",
        kept..=recorded + Duration::from_millis(300),
        CALLER_TONE,
    );
    assert!(
        !part.exists(),
        "the .part file should be gone after the recovery: {}",
        recordings::listing(&server.recordings_dir())
    );
    assert_eq!(
        recovered.samples[..partial.samples.len()],
        partial.samples[..],
        "the recovered recording should start with what the .part file held"
    );
}

/// What a relay delivers of the other side's payloads, at least.
const RELAYED_SHARE: f64 = 0.95;

/// A bridged call 1000 -> 1001 on `server`, both sides PCMU, each sending
/// its tone with a little noise (so that every payload is unique).
fn noisy_bridged_call(server: &Server) -> (calls::Leg, calls::Leg) {
    let length = TALK + Duration::from_secs(2);
    let call = Bridged::new(
        TALK,
        vec![Segment::NoisyTone(CALLER_TONE, length)],
        vec![Segment::NoisyTone(CALLEE_TONE, length)],
    );
    let (caller, callee) = call.run(server);
    assert_eq!(caller.media.payload_type, 0, "caller's codec");
    assert_eq!(callee.media.payload_type, 0, "callee's codec");
    (caller, callee)
}

/// For each side of a call: how many of the payloads it received are
/// byte-identical to one the other side sent.
fn identical_payloads(
    caller: &calls::Leg,
    callee: &calls::Leg,
) -> [(&'static str, media::IdenticalPayloads); 2] {
    let sides = [
        (
            "caller",
            caller
                .received
                .identical_payloads(&callee.sent, media::SETTLE),
        ),
        (
            "callee",
            callee
                .received
                .identical_payloads(&caller.sent, media::SETTLE),
        ),
    ];
    for (who, identical) in &sides {
        eprintln!("{who}: {identical}");
    }
    sides
}

/// Each side of a call hears the other's tone, not its own.
fn assert_hear_each_other(caller: &calls::Leg, callee: &calls::Leg) {
    media::assert_hears(
        &caller.received,
        "caller",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_FRAMES,
    );
    media::assert_hears(
        &callee.received,
        "callee",
        CALLER_TONE,
        Some(CALLEE_TONE),
        MIN_FRAMES,
    );
}

#[test]
fn two_party_bridge_relays_without_decoding() {
    let server = Server::start("relay-bytes");
    let (caller, callee) = noisy_bridged_call(&server);
    for (who, identical) in identical_payloads(&caller, &callee) {
        assert!(
            identical.compared >= MIN_FRAMES && identical.fraction() >= RELAYED_SHARE,
            "a same-codec two-party bridge should relay the payloads unchanged; {who}: {identical}"
        );
    }
    assert_hear_each_other(&caller, &callee);
}

#[test]
fn mixmonitor_moves_the_bridge_to_mixing() {
    let config = ServerConfig::default().extension(
        "default",
        "_1XXX",
        &["MixMonitor(mm-${EXTEN}.wav)", "Dial(SIP/${EXTEN},30)"],
    );
    let server = Server::start_with("mixmonitor", config);
    let (caller, callee) = noisy_bridged_call(&server);
    for (who, identical) in identical_payloads(&caller, &callee) {
        assert!(
            identical.compared >= MIN_FRAMES && identical.fraction() <= 1.0 - RELAYED_SHARE,
            "with a MixMonitor the bridge should decode and mix, not relay; {who}: {identical}"
        );
    }
    assert_hear_each_other(&caller, &callee);

    // The recording holds both directions until the hang-up, each well
    // above the noise (measured at 1000 Hz, which nobody sends).
    let name = format!("mm-{}", BOB.id);
    let path = server.recordings_dir().join(format!("{name}.wav"));
    recordings::wait_for_file(&path);
    let pcm = recordings::read(&path, PCMU_RATE);
    let duration = recordings::duration(&pcm);
    let power = |freq: f32| {
        let frames = media::pcm_frames(&pcm, RECORDING_SETTLE);
        media::mean_power(frames.map(|f| (f, pcm.sample_rate)), freq)
    };
    let floor = power(1000.0);
    let tones = [CALLER_TONE, CALLEE_TONE].map(|freq| (freq, power(freq)));
    eprintln!("{name}.wav ({duration:?}): power {tones:?}, at 1000 Hz {floor:.2e}");
    assert!(
        duration >= TALK - Duration::from_millis(500),
        "{name}.wav should last the call (about {TALK:?}), lasts {duration:?}"
    );
    for (freq, p) in tones {
        assert!(
            p > 1e-3 && p > 100.0 * floor,
            "{name}.wav should hold {freq} Hz well above the noise: power {p:.2e}, \
             at 1000 Hz {floor:.2e}"
        );
    }
    let row = cdr::wait_for_recording(&server.db_path(), &name);
    assert_eq!(row.format.as_deref(), Some("wav"), "{row:?}");
}

#[test]
fn inband_dtmf_is_detected_for_read() {
    // The caller offers no telephone-event, so digits travel in the audio.
    let config = ServerConfig::default()
        .extension(
            "default",
            "600",
            &[
                "Answer()",
                "Read(PIN,,4,,1,3)",
                "GotoIf($[\"${PIN}\" = \"1934\"]?700,1:701,1)",
            ],
        )
        .extension(
            "default",
            "700",
            &["Playtones(1400)", "Wait(2)", "Hangup()"],
        )
        .extension("default", "701", &["Playtones(400)", "Wait(2)", "Hangup()"]);
    let server = Server::start_with("inband-dtmf", config);
    let gap = Duration::from_millis(120);
    let mut script = vec![Segment::Silence(Duration::from_millis(500))];
    for digit in ['1', '9', '3', '4'] {
        script.push(Segment::InbandDigit(digit, Duration::from_millis(100)));
        script.push(Segment::Silence(gap));
    }
    script.push(Segment::Silence(Duration::from_secs(4)));
    let caller = Sipp::new(&server, "uac_wait_bye").user(ALICE);
    let leg = calls::call_extension(caller, "600", "0", TALK, script);
    // 1400 Hz is the "PIN read correctly" branch; 400 Hz the other one.
    media::assert_hears(&leg.received, "caller after Read", 1400.0, Some(400.0), 40);
}

#[test]
fn chanspy_hears_both_sides_and_whispers_to_the_spied_channel_only() {
    let config = ServerConfig::default().extension("default", "800", &["ChanSpy(SIP/1001,qw)"]);
    let server = Server::start_with("chanspy", config);
    let talk = Duration::from_secs(7);
    let (caller_tone, callee_tone, spy_tone) = (600.0, 1400.0, 2000.0);
    let call = Bridged::new(
        talk,
        tone_for(caller_tone, talk),
        tone_for(callee_tone, talk),
    )
    .start(&server);
    // The spy joins once the call is up; it whispers its own tone.
    std::thread::sleep(Duration::from_secs(1));
    let spy_rtp = media::RtpPeer::bind();
    let spy_talk = Duration::from_secs(4);
    let spy = calls::start_caller(&server, "uac_call", "800", &spy_rtp, "0 101", spy_talk);
    let spy = calls::LiveLeg::start(spy, spy_rtp, tone_for(spy_tone, spy_talk));
    let from = Instant::now() + Duration::from_millis(700);
    let window = from..from + Duration::from_secs(2);
    let spy = spy.wait();
    let (caller, callee) = call.finish();

    let power = |leg: &calls::Leg, freq| tone_power(&leg.received, window.clone(), freq);
    // The spy hears both parties.
    for freq in [caller_tone, callee_tone] {
        assert!(
            power(&spy, freq) > 1e-3,
            "spy should hear {freq} Hz: {:.2e}",
            power(&spy, freq)
        );
    }
    // The whisper reaches the spied channel (1001) and nobody else.
    assert!(
        power(&callee, spy_tone) > 1e-3,
        "1001 should hear the whisper"
    );
    assert!(
        power(&caller, spy_tone) < power(&caller, callee_tone) / 100.0,
        "1000 must not hear the whisper"
    );
    // The call itself goes on: each party still hears the other.
    assert!(power(&caller, callee_tone) > 1e-3);
    assert!(power(&callee, caller_tone) > 1e-3);
}

#[test]
fn chanspy_waits_for_a_matching_channel_to_appear() {
    let config = ServerConfig::default().extension("default", "800", &["ChanSpy(SIP/1001,q)"]);
    let server = Server::start_with("chanspy-waits", config);
    // The spy calls first, while 1001 is in no call: ChanSpy keeps scanning.
    let spy_rtp = media::RtpPeer::bind();
    let spy_talk = Duration::from_secs(9);
    let spy = calls::start_caller(&server, "uac_call", "800", &spy_rtp, "0 101", spy_talk);
    let spy = calls::LiveLeg::start(spy, spy_rtp, Vec::new());
    let before = Instant::now()..Instant::now() + Duration::from_secs(2);
    std::thread::sleep(Duration::from_secs(2));
    // Then 1001's call starts, and the spy hears it.
    let talk = Duration::from_secs(4);
    let (caller_tone, callee_tone) = (600.0, 1400.0);
    let call = Bridged::new(
        talk,
        tone_for(caller_tone, talk),
        tone_for(callee_tone, talk),
    )
    .start(&server);
    let from = Instant::now() + Duration::from_millis(700);
    let during = from..from + Duration::from_secs(2);
    call.finish();
    let spy = spy.wait();
    // The spy's call was not given up when nobody matched: it ends with its own BYE.
    spy.sipp.assert_success();

    let power =
        |window: &std::ops::Range<Instant>, freq| tone_power(&spy.received, window.clone(), freq);
    for freq in [callee_tone, caller_tone] {
        assert!(
            power(&during, freq) > 1e-3,
            "spy should hear {freq} Hz once 1001's call is up: {:.2e}",
            power(&during, freq)
        );
        assert!(
            power(&before, freq) < 1e-5,
            "nothing to hear before the call: {freq} Hz at {:.2e}",
            power(&before, freq)
        );
    }
}

#[test]
fn music_on_hold_loops_its_class_files() {
    use support::server::MOH_TONES;
    let config = ServerConfig::default().extension(
        "default",
        "900",
        &["MusicOnHold(default,5)", "Hangup()"],
    );
    let server = Server::start_with("moh", config);
    let caller = Sipp::new(&server, "uac_wait_bye").user(ALICE);
    let leg = calls::call_extension(caller, "900", "0 101", TALK, vec![]);
    let frames = leg.received.frames();
    assert!(
        frames.len() > 200,
        "about 5 s of music expected, got {} frames",
        frames.len()
    );
    // One-second files in turn: the dominant tone changes about every 50 frames, and
    // both files are heard more than once.
    let tones: Vec<Option<f32>> = frames
        .iter()
        .map(|f| switchboard_media::goertzel::dominant_frequency(&f.pcm, f.sample_rate, &MOH_TONES))
        .collect();
    let switches = tones.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        (3..=7).contains(&switches),
        "expected the two files to alternate each second, got {switches} changes"
    );
    for tone in MOH_TONES {
        let share = tones.iter().filter(|t| **t == Some(tone)).count() as f64 / tones.len() as f64;
        assert!(
            (0.35..=0.65).contains(&share),
            "{tone} Hz should be about half the music, got {share:.2}"
        );
    }
}

#[test]
fn dial_local_channel_runs_the_dialplan_in_between() {
    // 850 dials a Local channel into 101 (Answer + Echo): the caller hears itself.
    let config =
        ServerConfig::default().extension("default", "850", &["Dial(Local/101@default,10)"]);
    let server = Server::start_with("local-channel", config);
    let caller = Sipp::new(&server, "uac_call").user(ALICE);
    let freq = 800.0;
    let leg = calls::call_extension(caller, "850", "0 8 101", TALK, tone(freq));
    media::assert_hears(
        &leg.received,
        "caller through Local/101",
        freq,
        None,
        MIN_FRAMES,
    );
}

/// Past `max_channels`, a new INVITE gets 503 with Retry-After at once, and the call
/// already up keeps clean audio.
#[test]
fn past_the_channel_limit_invites_get_503_and_calls_up_keep_their_audio() {
    let server = Server::start_with(
        "overload",
        ServerConfig::default().general("max_channels = 1"),
    );
    let rtp = media::RtpPeer::bind();
    let caller = calls::start_caller(&server, "uac_call", "101", &rtp, "0 101", TALK);
    let caller = calls::LiveLeg::start(caller, rtp, tone(CALLER_TONE));
    std::thread::sleep(Duration::from_millis(800));
    let udp = UdpClient::new(server.sip_addr());
    let refused = udp.exchange(
        &invite_request(server.sip_addr(), udp.local_addr()),
        RESPONSE_TIMEOUT,
    );
    let refused = sip::assert_status(refused, 503, "an INVITE past the limit");
    assert_eq!(refused.headers("Retry-After"), ["5"]);
    let leg = caller.wait();
    leg.sipp.assert_success();
    media::assert_hears(
        &leg.received,
        "the call already up",
        CALLER_TONE,
        None,
        MIN_FRAMES,
    );
    assert!(server.log().contains("call limit reached"), "logged");
}
