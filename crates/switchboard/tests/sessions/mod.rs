//! The Sessions API end to end: HTTPS with the certificate the server made, bearer
//! tokens, and real click-to-call sessions between SIPp phones (registered as 1000 and
//! 1001) with audio checked both ways.

use std::time::{Duration, Instant};

use crate::cli::cli;
use crate::support::calls::{self, LiveLeg, SETUP_TIMEOUT};
use crate::support::https::Client;
use crate::support::media::{self, RtpPeer};
use crate::support::server::{Server, ServerConfig};
use crate::support::sipp::{Sipp, SippRun};
use crate::support::{ports, Party, ALICE, BOB};

const TOKEN: &str = "test-token";

/// A server serving the Sessions API on a free port, with a static token and an API
/// user `api`/`secret`.
fn server(name: &str, config: ServerConfig) -> (Server, Client) {
    let port = ports::free_tcp_port();
    let config = config.toml(&format!(
        "[sessions_api]\nlisten = \"127.0.0.1:{port}\"\ntokens = [\"{TOKEN}\"]\n\
         users = [{{ name = \"api\", password = \"secret\" }}]\ninstance_id = \"node-1\""
    ));
    let server = Server::start_with(name, config);
    let cert = server.dir().join("data").join("sessions-api.crt");
    let client = Client::new(([127, 0, 0, 1], port).into(), &cert);
    (server, client)
}

/// A party of a session: `uas_session` answers after 1.5 s and waits for the BYE,
/// `uas_session_bye` answers at once and hangs up after `talk`.
fn party(
    server: &Server,
    who: Party,
    scenario: &'static str,
    rtp: &RtpPeer,
    talk: Duration,
) -> SippRun {
    calls::start_callee(server, who, scenario, |sipp: Sipp| {
        sipp.rtp(rtp.port(), "0 101").pause(talk)
    })
}

fn create(client: &Client, body: &str) -> String {
    let reply = client.call("POST", "/api/sessions", TOKEN, body);
    assert_eq!(reply.status, 200, "create: {}", reply.body);
    reply.json()["id"].as_str().expect("an id").to_owned()
}

fn channel_count(server: &Server) -> usize {
    cli(server, "show channels count")
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_suffix(" total.")
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_session_rings_the_caller_first_then_connects_the_callee_with_audio_both_ways() {
    let (server, client) = server("sessions-call", ServerConfig::default());
    let (caller_rtp, callee_rtp) = (RtpPeer::bind(), RtpPeer::bind());
    let mut caller = party(&server, ALICE, "uas_session", &caller_rtp, Duration::ZERO);
    let mut callee = party(
        &server,
        BOB,
        "uas_session_bye",
        &callee_rtp,
        Duration::from_secs(4),
    );
    let id = create(
        &client,
        r#"{"caller":"1000","callee":"1001","send_sdp":true,"caller_display_name":"Sales desk","user_data":"ticket-42"}"#,
    );
    let (invited, caller_rang) = caller.wait_for_log_seen("INVITED ", SETUP_TIMEOUT);
    assert!(
        invited.contains("\"Sales desk\""),
        "the caller sees the display name: {invited}"
    );
    // 1000 rings alone until it answers (1.5 s later).
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        channel_count(&server),
        1,
        "only the caller's call exists while it rings"
    );
    let (_, callee_rang) = callee.wait_for_log_seen("INVITED ", SETUP_TIMEOUT);
    assert!(
        callee_rang.duration_since(caller_rang) >= Duration::from_millis(1200),
        "1001 rang {:?} after 1000, before 1000 answered",
        callee_rang.duration_since(caller_rang)
    );
    let tones = (600.0, 1400.0);
    let (caller, callee) = calls::start_both(
        (caller, caller_rtp),
        (callee, callee_rtp),
        tones,
        Duration::from_secs(10),
    );

    // Listed, talking time growing.
    let listed = |client: &Client| client.call("GET", "/api/sessions", TOKEN, "").json();
    let first = listed(&client);
    assert_eq!(first["count"], 1, "{first}");
    assert_eq!(first["items"][0]["id"], id.as_str());
    let call = &first["items"][0]["calls"][0];
    assert_eq!(call["caller"], "1000");
    assert_eq!(call["callee"], "1001");
    assert_eq!(call["caller_display_name"], "Sales desk");
    assert!(
        call["started_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{call}"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let one = client
        .call("GET", &format!("/api/sessions/{id}"), TOKEN, "")
        .json();
    assert_eq!(one["user_data"], "ticket-42");
    let later = one["calls"][0]["talking_time"].as_i64().unwrap_or(0);
    assert!(
        later >= call["talking_time"].as_i64().unwrap_or(0) + 2,
        "talking time grows: {call} then {one}"
    );

    // 1001 hangs up after 4 s: the session ends, 1000 gets its BYE.
    let callee = callee.wait();
    let caller = caller.wait_after(&callee);
    calls::assert_both_heard(&caller, &callee, tones, "a session");
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while listed(&client)["count"] != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        listed(&client)["count"],
        0,
        "gone from the list after the hangup"
    );
    let gone = client.call("GET", &format!("/api/sessions/{id}"), TOKEN, "");
    assert_eq!(gone.status, 404);

    // Its history is in the store.
    let db = rusqlite::Connection::open(server.db_path()).expect("open the store");
    let (outcome, talking, user_data, cause): (String, i64, String, String) = db
        .query_row(
            "SELECT outcome, talking_time, user_data, cause FROM call_sessions WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("the session's row");
    assert_eq!(outcome, "connected");
    assert!(talking >= 3, "talked {talking} s");
    assert_eq!(user_data, "ticket-42");
    assert_eq!(cause, "NORMAL_CLEARING");
}

#[test]
fn tokens_and_refusals_answer_with_their_status_and_a_json_message() {
    let (server, client) = server("sessions-errors", ServerConfig::default());
    // No token, a wrong one.
    let none = client.request("GET", "/api/sessions", &[], "");
    assert_eq!(none.status, 401);
    assert_eq!(none.error().0, "UNAUTHORIZED");
    assert_eq!(client.call("GET", "/api/sessions", "nope", "").status, 401);
    // A token from the OAuth endpoint works; a refresh renews it.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let wrong = client.request(
        "POST",
        "/api/login/oauth/token",
        &form,
        "grant_type=password&username=api&password=bad",
    );
    assert_eq!(wrong.status, 401);
    assert!(
        server.log().contains("Sessions API login failed"),
        "failures are logged"
    );
    let granted = client.request(
        "POST",
        "/api/login/oauth/token",
        &form,
        "grant_type=password&username=api&password=secret",
    );
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert!(granted
        .head
        .to_ascii_lowercase()
        .contains("cache-control: no-store"));
    let grant = granted.json();
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["expires_in"], 1800);
    let access = grant["access_token"].as_str().expect("access token");
    assert_eq!(client.call("GET", "/api/sessions", access, "").status, 200);
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        grant["refresh_token"].as_str().unwrap_or_default()
    );
    let renewed = client.request("POST", "/api/login/oauth/token", &form, &body);
    assert_eq!(renewed.status, 200, "{}", renewed.body);

    let refused = |body: &str| {
        let reply = client.call("POST", "/api/sessions", TOKEN, body);
        let (code, message) = reply.error();
        (reply.status, code, message)
    };
    let (status, code, message) = refused(r#"{"callee":"1001","send_sdp":true}"#);
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (400, "VALIDATE_FAILED", "caller is required")
    );
    let (status, _, message) = refused(r#"{"caller":1000,"callee":"1001","send_sdp":true}"#);
    assert_eq!((status, message.as_str()), (400, "caller must be a string"));
    let (status, _, message) = refused(r#"{"caller":"1000","callee":"1001","send_sdp":"yes"}"#);
    assert_eq!(
        (status, message.as_str()),
        (400, "send_sdp must be a boolean")
    );
    let (status, _, message) =
        refused(r#"{"caller":"1000","callee":"1001","send_sdp":true,"trunk":"nowhere"}"#);
    assert_eq!(
        (status, message.as_str()),
        (400, "trunk nowhere does not exist")
    );
    let (status, code, message) = refused(
        r#"{"caller":"1000","callee":"1001","send_sdp":true,"target_instance_id":"node-9"}"#,
    );
    // One switch is its deployment's only instance.
    assert_eq!((status, code.as_str()), (400, "VALIDATE_FAILED"));
    assert!(
        message.contains("node-9") && message.contains("node-1"),
        "{message}"
    );
    let reply = client.call(
        "POST",
        "/api/sessions",
        TOKEN,
        r#"{"caller":"5551234","callee":"1001","send_sdp":true}"#,
    );
    assert_eq!((reply.status, reply.error().0.as_str()), (404, "NOT_FOUND"));
    let (status, _, _) = refused("not json");
    assert_eq!(status, 400);
    let unknown = client.call("GET", "/api/sessions/no-such-session", TOKEN, "");
    assert_eq!(
        (unknown.status, unknown.error().0.as_str()),
        (404, "NOT_FOUND")
    );
    assert_eq!(
        client
            .call("POST", "/api/sessions/no-such-session/destroy", TOKEN, "")
            .status,
        404
    );
    let openapi = client.request("GET", "/api/openapi.json", &[], "");
    assert_eq!(openapi.status, 200);
    assert_eq!(openapi.json()["openapi"], "3.0.3");
}

/// schemathesis (PyPI, installed by scripts/test into tests/clients/.venv) reads the
/// server's OpenAPI document and sends what it allows and what it does not: no answer
/// may be a server error or stray from the document.
#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let st = crate::ari::clients_dir().join(".venv/bin/st");
    if !st.is_file() {
        crate::ari::skip_unless_ci(&format!("schemathesis missing ({})", st.display()));
        return;
    }
    let trunk_far_end = ([127, 0, 0, 1], ports::free_udp_port()).into();
    let config = ServerConfig::default().trunk("carrier", trunk_far_end, "default");
    let (server, _client) = server("sessions-schemathesis", config);
    let port = server_port(&server);
    let cert = server.dir().join("data").join("sessions-api.crt");
    let output = std::process::Command::new(&st)
        .arg("run")
        .arg(format!("https://127.0.0.1:{port}/api/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg("--tls-verify")
        .arg(&cert)
        .args(["--checks", "all", "-n", "60", "--seed", "7", "--no-color"])
        .current_dir(server.dir())
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("passed"), "{text}");
}

/// The Sessions API port of a server made by [`server`] (from its config).
fn server_port(server: &Server) -> u16 {
    let config = std::fs::read_to_string(server.config_path()).expect("config");
    config
        .lines()
        .skip_while(|l| l.trim() != "[sessions_api]")
        .find_map(|l| l.strip_prefix("listen = \"127.0.0.1:"))
        .and_then(|rest| rest.trim_end_matches('"').parse().ok())
        .expect("the sessions_api port")
}

/// A session between 1000 and 1001 (both wait for the BYE), 1000 sending 400 Hz and
/// 1001 800 Hz for 12 s.
fn talking_session(server: &Server, client: &Client) -> (String, LiveLeg, LiveLeg) {
    let (caller_rtp, callee_rtp) = (RtpPeer::bind(), RtpPeer::bind());
    let caller = party(server, ALICE, "uas_session", &caller_rtp, Duration::ZERO);
    let callee = party(server, BOB, "uas_session", &callee_rtp, Duration::ZERO);
    let id = create(
        client,
        r#"{"caller":"1000","callee":"1001","send_sdp":true}"#,
    );
    let length = Duration::from_secs(12);
    let caller = LiveLeg::start(caller, caller_rtp, crate::tone_for(400.0, length));
    let callee = LiveLeg::start(callee, callee_rtp, crate::tone_for(800.0, length));
    (id, caller, callee)
}

/// Hold puts the callee on music on hold and unhold brings the caller back; destroy
/// hangs both up.
#[test]
fn hold_unhold_and_destroy_act_on_the_session_calls() {
    use crate::support::server::MOH_TONES;

    let (server, client) = server("sessions-hold", ServerConfig::default());
    let (id, caller, callee) = talking_session(&server, &client);
    let early = client.call("POST", &format!("/api/sessions/{id}/hold"), TOKEN, "");
    // Connected a moment after the callee's ACK; until then a hold conflicts.
    assert!(matches!(early.status, 204 | 409), "{}", early.body);
    std::thread::sleep(Duration::from_millis(1500));
    let action = |what: &str, body: &str| {
        let reply = client.call("POST", &format!("/api/sessions/{id}/{what}"), TOKEN, body);
        assert_eq!(reply.status, 204, "{what}: {}", reply.body);
        Instant::now()
    };
    let _ = client.call("POST", &format!("/api/sessions/{id}/unhold"), TOKEN, "");
    std::thread::sleep(Duration::from_millis(1500));
    let held = action("hold", "");
    std::thread::sleep(Duration::from_millis(2500));
    // The hold window ends when the unhold is sent (it may act before its reply).
    let unhold_sent = Instant::now();
    let resumed = action("unhold", r#"{"party":"callee"}"#);
    std::thread::sleep(Duration::from_millis(2000));
    let bad = client.call(
        "POST",
        &format!("/api/sessions/{id}/hold"),
        TOKEN,
        r#"{"party":"both"}"#,
    );
    assert_eq!(bad.status, 400);
    let destroyed = action("destroy", "");
    let callee = callee.wait();
    let caller = caller.wait_after(&callee);
    caller.sipp.assert_success();
    callee.sipp.assert_success();
    let settle = Duration::from_millis(300);
    let on_hold = callee
        .received
        .slice(held + settle..unhold_sent)
        .tone_report(Duration::ZERO);
    let back = callee
        .received
        .slice(resumed + settle..destroyed)
        .tone_report(Duration::ZERO);
    eprintln!("callee on hold: {on_hold}\ncallee after unhold: {back}");
    let moh = on_hold.count(MOH_TONES[0]) + on_hold.count(MOH_TONES[1]);
    assert!(
        moh * 10 >= on_hold.frames * 8,
        "the held callee hears music on hold; {on_hold}"
    );
    // At most a frame or two at the edges, as the tests' tone checks allow.
    assert!(on_hold.count(400.0) <= 2, "not the caller; {on_hold}");
    assert!(
        back.fraction(400.0) >= 0.8,
        "the caller again after unhold; {back}"
    );
    let listed = client.call("GET", "/api/sessions", TOKEN, "").json();
    assert_eq!(listed["count"], 0, "{listed}");
}

/// Refer: the callee is connected to the echo extension and the caller hung up; the
/// session goes on until it is destroyed.
#[test]
fn refer_transfers_the_callee_and_hangs_up_the_caller() {
    let (server, client) = server("sessions-refer", ServerConfig::default());
    let (id, caller, callee) = talking_session(&server, &client);
    std::thread::sleep(Duration::from_millis(2500));
    let missing = client.call(
        "POST",
        &format!("/api/sessions/{id}/refer"),
        TOKEN,
        r#"{"party":"callee"}"#,
    );
    assert_eq!(missing.status, 400, "{}", missing.body);
    let referred = client.call(
        "POST",
        &format!("/api/sessions/{id}/refer"),
        TOKEN,
        r#"{"party":"callee","target":"101"}"#,
    );
    assert_eq!(referred.status, 204, "{}", referred.body);
    let at = Instant::now();
    // The caller is let go at once.
    let caller = caller.wait();
    caller.sipp.assert_success();
    assert!(
        at.elapsed() < Duration::from_secs(3),
        "the caller got its BYE"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let listed = client.call("GET", "/api/sessions", TOKEN, "").json();
    assert_eq!(listed["count"], 1, "the session goes on: {listed}");
    let ended = client.call("POST", &format!("/api/sessions/{id}/destroy"), TOKEN, "");
    assert_eq!(ended.status, 204);
    let done = Instant::now();
    let callee = callee.wait();
    callee.sipp.assert_success();
    let echoed = callee
        .received
        .slice(at + Duration::from_millis(700)..done)
        .tone_report(Duration::ZERO);
    eprintln!("callee after the transfer: {echoed}");
    assert!(
        echoed.fraction(800.0) >= 0.8,
        "the callee hears the echo of its own tone; {echoed}"
    );
}

/// What a party's `INVITED` log line says of the INVITE it got: `field=value` up to the
/// next field.
fn invited(line: &str, field: &str) -> String {
    let fields = ["from", "am", "ci", "ai", "pai", "rpid", "sdp"];
    let start = line
        .find(&format!(" {field}="))
        .map(|i| i + field.len() + 2)
        .unwrap_or_else(|| panic!("no {field} in {line:?}"));
    let rest = &line[start..];
    let end = fields
        .iter()
        .filter_map(|f| rest.find(&format!(" {f}=")))
        .min()
        .unwrap_or(rest.len());
    rest[..end].trim().to_owned()
}

/// `send_sdp` true and false: the callee's INVITE with and without SDP, audio both ways
/// either way.
#[test]
fn send_sdp_shapes_the_callee_invite_and_both_shapes_connect_audio() {
    let (server, client) = server("sessions-sdp", ServerConfig::default());
    for (send_sdp, callee_scenario) in
        [(true, "uas_session_bye"), (false, "uas_session_late_offer")]
    {
        let (caller_rtp, callee_rtp) = (RtpPeer::bind(), RtpPeer::bind());
        let caller = party(&server, ALICE, "uas_session", &caller_rtp, Duration::ZERO);
        let mut callee = party(
            &server,
            BOB,
            callee_scenario,
            &callee_rtp,
            Duration::from_secs(3),
        );
        create(
            &client,
            &format!(r#"{{"caller":"1000","callee":"1001","send_sdp":{send_sdp}}}"#),
        );
        let line = callee.wait_for_log("INVITED ", SETUP_TIMEOUT);
        let sdp = invited(&line, "sdp");
        if send_sdp {
            assert!(sdp.starts_with("m=audio"), "an offer in the INVITE: {line}");
        } else {
            // The scenario also refuses a body (Content-Length must be 0).
            assert!(sdp.starts_with("none(0/"), "no SDP in the INVITE: {line}");
        }
        let tones = (600.0, 1400.0);
        let (caller, callee) = calls::start_both(
            (caller, caller_rtp),
            (callee, callee_rtp),
            tones,
            Duration::from_secs(8),
        );
        let callee = callee.wait();
        let caller = caller.wait_after(&callee);
        calls::assert_both_heard(&caller, &callee, tones, &format!("send_sdp {send_sdp}"));
    }
}

/// Each `additional_header` value, with its text, in the INVITE of the party
/// `header_direction` names and not the other's.
#[test]
fn additional_headers_reach_the_parties_the_direction_names() {
    let (server, client) = server("sessions-headers", ServerConfig::default());
    let cases = [
        ("ANSWER_MODE", "CALLER", "am", "Auto"),
        ("CALL_INFO", "CALLEE", "ci", ";answer-after=0"),
        (
            "ALERT_INFO_AUTO_ANSWER_DELAY0",
            "ALL",
            "ai",
            "info=alert-autoanswer;delay=0",
        ),
        ("ALERT_INFO_AUTO_ANSWER", "CALLEE", "ai", "info=Auto Answer"),
        ("ALERT_INFO_INTERCOM", "CALLER", "ai", "info=intercom"),
    ];
    for (header, direction, field, text) in cases {
        let (caller_rtp, callee_rtp) = (RtpPeer::bind(), RtpPeer::bind());
        let mut caller = party(&server, ALICE, "uas_session", &caller_rtp, Duration::ZERO);
        let mut callee = party(
            &server,
            BOB,
            "uas_session_bye",
            &callee_rtp,
            Duration::from_millis(300),
        );
        create(
            &client,
            &format!(
                r#"{{"caller":"1000","callee":"1001","send_sdp":true,"additional_header":"{header}","header_direction":"{direction}"}}"#
            ),
        );
        let to_caller = caller.wait_for_log("INVITED ", SETUP_TIMEOUT);
        let to_callee = callee.wait_for_log("INVITED ", SETUP_TIMEOUT);
        for (line, named) in [
            (&to_caller, direction != "CALLEE"),
            (&to_callee, direction != "CALLER"),
        ] {
            let value = invited(line, field);
            if named {
                assert!(value.ends_with(text), "{header} to {direction}: {line}");
            } else {
                assert_eq!(value, "", "{header} only to {direction}: {line}");
            }
        }
        callee.wait().assert_success();
        caller.wait().assert_success();
    }
}

/// Through a trunk (a SIPp UAS as the carrier), From, P-Asserted-Identity and
/// Remote-Party-ID carry the rewritten user parts; the endpoint's INVITE is untouched.
#[test]
fn rewrites_reach_the_invite_sent_through_the_trunk() {
    let carrier_port = ports::free_udp_port();
    let config =
        ServerConfig::default().trunk("carrier", ([127, 0, 0, 1], carrier_port).into(), "default");
    let (server, client) = server("sessions-trunk", config);
    let (caller_rtp, carrier_rtp) = (RtpPeer::bind(), RtpPeer::bind());
    let mut caller = party(&server, ALICE, "uas_session", &caller_rtp, Duration::ZERO);
    let mut carrier = Sipp::new(&server, "uas_session_bye")
        .key("user", "carrier")
        .local_port(carrier_port)
        .rtp(carrier_rtp.port(), "0 101")
        .pause(Duration::from_millis(500))
        .spawn();
    carrier.wait_listening();
    create(
        &client,
        r#"{"caller":"1000","callee":"5551234","send_sdp":true,"trunk":"carrier","rewrite_from":"777","rewrite_pai":"888","rewrite_rpi":"999"}"#,
    );
    let to_caller = caller.wait_for_log("INVITED ", SETUP_TIMEOUT);
    let to_carrier = carrier.wait_for_log("INVITED ", SETUP_TIMEOUT);
    assert!(
        invited(&to_carrier, "from").contains("<sip:777@"),
        "{to_carrier}"
    );
    assert!(
        invited(&to_carrier, "pai").starts_with("<sip:888@"),
        "{to_carrier}"
    );
    let rpid = invited(&to_carrier, "rpid");
    assert!(
        rpid.starts_with("<sip:999@") && rpid.contains("party=calling"),
        "{to_carrier}"
    );
    assert!(
        invited(&to_caller, "pai").is_empty() && invited(&to_caller, "rpid").is_empty(),
        "{to_caller}"
    );
    assert!(!invited(&to_caller, "from").contains("777"), "{to_caller}");
    carrier.wait().assert_success();
    caller.wait().assert_success();
}

/// A trunk whose registration the carrier refused is down: a session through it is
/// refused at once with 503 naming the trunk.
#[test]
fn a_session_through_a_down_trunk_is_refused() {
    let port = ports::free_udp_port();
    let config = ServerConfig::default().toml(&format!(
        "[[trunk]]\nname = \"carrier\"\nhost = \"127.0.0.1:{port}\"\ncontext = \"default\"\n\
         register = true\nusername = \"acct\"\npassword = \"pw\"\nqualify = 0\n"
    ));
    let (server, client) = server("sessions-trunk-down", config);
    Sipp::new(&server, "uas_carrier_reject")
        .local_port(port)
        .spawn()
        .wait()
        .assert_success();
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while !server.log().contains("trunk registration failed") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let reply = client.call(
        "POST",
        "/api/sessions",
        TOKEN,
        r#"{"caller":"1000","callee":"5551234","send_sdp":true,"trunk":"carrier"}"#,
    );
    assert_eq!(reply.status, 503, "{}", reply.body);
    let (code, message) = reply.error();
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("SERVICE_UNAVAILABLE", "trunk carrier is down")
    );
    assert!(
        reply.json()["errors"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("registration")),
        "{}",
        reply.body
    );
    // The API commands report it too.
    let gateway = cli(&server, "sofia status gateway carrier").stdout;
    assert!(
        gateway.contains("FAIL_WAIT") && gateway.contains("DOWN"),
        "{gateway}"
    );
    let all = cli(&server, "sofia status gateway").stdout;
    assert!(all.contains("1 gateway: 0 up, 1 down"), "{all}");
}

/// `target_extension_number`: the callee is an extension of this switch, run through
/// its dialplan (here the echo test), so the caller hears itself.
#[test]
fn a_target_extension_runs_through_the_dialplan() {
    let (server, client) = server("sessions-extension", ServerConfig::default());
    let caller_rtp = RtpPeer::bind();
    let caller = party(&server, ALICE, "uas_session", &caller_rtp, Duration::ZERO);
    let id = create(
        &client,
        r#"{"caller":"1000","callee":"echo","send_sdp":true,"target_instance_id":"node-1","target_extension_number":"101"}"#,
    );
    let caller = LiveLeg::start(
        caller,
        caller_rtp,
        crate::tone_for(600.0, Duration::from_secs(8)),
    );
    std::thread::sleep(Duration::from_secs(4));
    let done = client.call("POST", &format!("/api/sessions/{id}/destroy"), TOKEN, "");
    assert_eq!(done.status, 204);
    let caller = caller.wait();
    caller.sipp.assert_success();
    media::assert_hears(&caller.received, "caller", 600.0, None, 100);
}

/// `tls = false` serves plain HTTP.
#[test]
fn plain_http_when_tls_is_off() {
    use std::io::{Read, Write};

    let port = ports::free_tcp_port();
    let config = ServerConfig::default().toml(&format!(
        "[sessions_api]\nlisten = \"127.0.0.1:{port}\"\ntls = false\ntokens = [\"{TOKEN}\"]"
    ));
    let server = Server::start_with("sessions-plain", config);
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let mut stream = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(e) => {
                assert!(Instant::now() < deadline, "no plain listener: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    write!(
        stream,
        "GET /api/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#"{"count":0,"items":[]}"#), "{reply}");
    assert!(
        !server.dir().join("data/sessions-api.crt").exists(),
        "no certificate made"
    );
}
