//! SIP security end to end: captured credentials replayed from elsewhere, password
//! floods banned per source address (and seen by fail2ban), the default digest offer.

use std::process::Command;
use std::time::Duration;

use crate::support::digest::Challenge;
use crate::support::server::{Server, ServerConfig};
use crate::support::sip::{self, SipResponse, UdpClient};
use crate::support::ALICE;

const TIMEOUT: Duration = Duration::from_secs(2);

/// The first digest challenge of a 401/407.
fn challenge_of(response: &SipResponse, header: &str) -> Challenge {
    let value = response
        .headers(header)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {header} in:\n{}", response.raw));
    Challenge::parse(value).unwrap_or_else(|| panic!("not a digest challenge: {value}"))
}

fn register(
    client: &UdpClient,
    server: &Server,
    call_id: &str,
    cseq: u32,
    auth: Option<&str>,
) -> Option<SipResponse> {
    let request = sip::register_request(
        server.sip_addr(),
        client.local_addr(),
        ALICE.id,
        call_id,
        cseq,
        auth,
    );
    client.exchange(&request, TIMEOUT)
}

fn answer_register(server: &Server, challenge: &Challenge, password: &str, nc: u32) -> String {
    let uri = sip::registrar_uri(server.sip_addr());
    challenge.answer(
        "MD5",
        nc,
        "REGISTER",
        &uri,
        (ALICE.id, password),
        &sip::unique_id("cnonce"),
    )
}

#[test]
fn default_challenge_offers_md5_only() {
    let server = Server::start("digest-md5-default");
    let client = UdpClient::new(server.sip_addr());
    let response = sip::assert_status(
        register(&client, &server, &sip::unique_id("reg"), 1, None),
        401,
        "REGISTER",
    );
    let offers = response.headers("WWW-Authenticate");
    assert_eq!(offers.len(), 1, "one challenge:\n{}", response.raw);
    assert!(offers[0].contains("algorithm=MD5"), "{}", response.raw);
    assert!(
        response
            .headers("Server")
            .first()
            .is_some_and(|s| s.starts_with("switchboard")),
        "a Server header:\n{}",
        response.raw
    );
}

#[test]
fn replayed_register_credentials_are_challenged_again() {
    let server = Server::start("replay-register");
    let phone = UdpClient::new(server.sip_addr());
    let call_id = sip::unique_id("reg");
    let first = sip::assert_status(
        register(&phone, &server, &call_id, 1, None),
        401,
        "REGISTER",
    );
    let auth = answer_register(
        &server,
        &challenge_of(&first, "WWW-Authenticate"),
        ALICE.password,
        1,
    );
    sip::assert_status(
        register(&phone, &server, &call_id, 2, Some(&auth)),
        200,
        "REGISTER with credentials",
    );

    // The captured header, unchanged, from another port: a fresh challenge.
    let attacker = UdpClient::new(server.sip_addr());
    let replay = sip::assert_status(
        register(&attacker, &server, &sip::unique_id("evil"), 1, Some(&auth)),
        401,
        "replayed REGISTER credentials",
    );
    assert!(
        replay
            .headers("WWW-Authenticate")
            .iter()
            .any(|c| c.contains("stale=true")),
        "the replay is answered with stale=true:\n{}",
        replay.raw
    );
    // Even from the phone itself the same nonce count is not accepted twice.
    sip::assert_status(
        register(&phone, &server, &call_id, 3, Some(&auth)),
        401,
        "the same nc again",
    );
    // The next count of the same nonce is what an honest phone sends.
    let next = answer_register(
        &server,
        &challenge_of(&first, "WWW-Authenticate"),
        ALICE.password,
        2,
    );
    sip::assert_status(
        register(&phone, &server, &call_id, 4, Some(&next)),
        200,
        "the next nc",
    );
}

fn invite(
    server: &Server,
    client: &UdpClient,
    call_id: &str,
    branch: &str,
    auth: Option<&str>,
) -> String {
    let target = server.sip_addr();
    let local = client.local_addr();
    let auth = auth
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:101@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@{target}>;tag={call_id}\r\nTo: <sip:101@{target}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{user}@{local}>\r\n{auth}Content-Length: 0\r\n\r\n",
        user = ALICE.id,
    )
}

#[test]
fn replayed_invite_credentials_are_challenged_again() {
    let server = Server::start("replay-invite");
    let phone = UdpClient::new(server.sip_addr());
    let call_id = sip::unique_id("call");
    let first = sip::assert_status(
        phone.exchange(&invite(&server, &phone, &call_id, "a1", None), TIMEOUT),
        407,
        "INVITE",
    );
    let challenge = challenge_of(&first, "Proxy-Authenticate");
    let uri = format!("sip:101@{}", server.sip_addr());
    let auth = challenge.answer(
        "MD5",
        1,
        "INVITE",
        &uri,
        (ALICE.id, ALICE.password),
        "c0ffee",
    );
    // A late-offer INVITE to the echo extension is answered 200 with an offer. It goes
    // from another port of the same host (the nonce is bound to the address), so that
    // the first INVITE's 407, resent until an ACK, cannot be read as its answer.
    let phone = UdpClient::new(server.sip_addr());
    let answered = sip::assert_status(
        phone.exchange(
            &invite(&server, &phone, &call_id, "a2", Some(&auth)),
            Duration::from_secs(5),
        ),
        200,
        "INVITE with credentials",
    );
    assert!(answered.raw.contains("v=0"), "{}", answered.raw);

    let attacker = UdpClient::new(server.sip_addr());
    let evil = sip::unique_id("evil");
    let replay = sip::assert_status(
        attacker.exchange(
            &invite(&server, &attacker, &evil, "e1", Some(&auth)),
            TIMEOUT,
        ),
        407,
        "replayed INVITE credentials on a new call",
    );
    assert!(replay.raw.contains("stale=true"), "{}", replay.raw);
}

#[test]
fn a_password_flood_bans_its_source_only() {
    let config = ServerConfig::default().toml("[security]\nmax_auth_failures = 3\nban_time = 60");
    let server = Server::start_with("ban", config);
    let attacker = UdpClient::from_ip(server.sip_addr(), "127.0.0.2");
    let call_id = sip::unique_id("crack");
    for (i, guess) in ["123456", "password", "1000"].iter().enumerate() {
        let cseq = 2 * i as u32 + 1;
        let challenged = sip::assert_status(
            register(&attacker, &server, &call_id, cseq, None),
            401,
            "REGISTER",
        );
        let wrong = answer_register(
            &server,
            &challenge_of(&challenged, "WWW-Authenticate"),
            guess,
            1,
        );
        sip::assert_status(
            register(&attacker, &server, &call_id, cseq + 1, Some(&wrong)),
            403,
            "a wrong password",
        );
    }
    // Banned: nothing comes back any more, not even a challenge.
    assert!(
        register(&attacker, &server, &call_id, 10, None).is_none(),
        "a banned source is answered"
    );
    // Another address registers normally in the same second.
    let phone = UdpClient::new(server.sip_addr());
    let reg = sip::unique_id("reg");
    let first = sip::assert_status(register(&phone, &server, &reg, 1, None), 401, "REGISTER");
    let auth = answer_register(
        &server,
        &challenge_of(&first, "WWW-Authenticate"),
        ALICE.password,
        1,
    );
    sip::assert_status(
        register(&phone, &server, &reg, 2, Some(&auth)),
        200,
        "REGISTER from another address",
    );

    let log = server.log();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("SIP authentication failed"))
        .collect();
    assert_eq!(failures.len(), 3, "one line per failure:\n{log}");
    assert!(
        failures.iter().all(|l| l.contains("remote=127.0.0.2:")),
        "{log}"
    );
    assert_fail2ban_bans(&server.dir().join("server.log"), "127.0.0.2", 3);
}

/// Runs fail2ban's own matcher over the server's log with our filter.
fn assert_fail2ban_bans(log: &std::path::Path, host: &str, count: usize) {
    let filter = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/fail2ban/filter.d/switchboard.conf"
    );
    let output = match Command::new("fail2ban-regex").arg(log).arg(filter).output() {
        Ok(output) => output,
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "fail2ban-regex is needed under CI: {e}"
            );
            eprintln!("NOTE: fail2ban-regex missing ({e}); install fail2ban to check the filter");
            return;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "fail2ban-regex failed:\n{text}");
    let matched = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Failregex: ")?
            .split_whitespace()
            .next()?
            .parse::<usize>()
            .ok()
    });
    assert_eq!(matched, Some(count), "fail2ban-regex matches:\n{text}");
    assert!(
        text.contains(host),
        "the banned host in fail2ban's report:\n{text}"
    );
}

#[test]
fn a_request_flood_is_limited_per_source() {
    let config = ServerConfig::default().toml("[security]\nrate_limit = 20\nrate_window = 10");
    let server = Server::start_with("flood", config);
    let flooder = UdpClient::from_ip(server.sip_addr(), "127.0.0.3");
    let answered = (0..60)
        .filter(|_| flooder.options(Duration::from_millis(200)).is_some())
        .count();
    assert_eq!(
        answered, 20,
        "the flooding source gets its window's worth only"
    );
    // Others are untouched, in the same window.
    let other = UdpClient::new(server.sip_addr());
    sip::assert_status(other.options(TIMEOUT), 200, "OPTIONS from another address");
}
