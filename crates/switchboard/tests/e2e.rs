//! End-to-end tests: a real `switchboard` process driven by SIPp (signalling)
//! and by the tests' own RTP endpoints (audio). Every test starts its own
//! server on its own ports; they are real-time, so run them with few
//! threads (`scripts/test` uses nextest with 2).

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::calls::{self, Bridged};
use support::cdr;
use support::media::{self, Segment};
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
    vec![Segment::Tone(freq, TALK + Duration::from_secs(2))]
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
    let talk = TALK.as_secs() as i64;
    let billsec = row.billsec.unwrap_or(-1);
    assert!(
        (talk - 1..=talk + 1).contains(&billsec),
        "billsec should be about {talk}: {row:?}"
    );
    assert!(row.duration.unwrap_or(-1) >= billsec, "{row:?}");
    assert_eq!(row.cause, Some(NORMAL_CLEARING), "{row:?}");
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

/// No CDR of an unanswered call may bill anything.
fn assert_unbilled_cdr(server: &Server, callee: &str) {
    let row = cdr::wait_for_only_cdr(&server.db_path(), callee);
    assert_eq!(row.caller.as_deref(), Some(ALICE.id), "{row:?}");
    assert_eq!(row.billsec, Some(0), "{row:?}");
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
