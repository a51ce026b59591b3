//! Trunks end to end: calls out through a trunk shaped by the originate request
//! (extra headers, late offer), with a SIPp UAS as the carrier.

use std::net::SocketAddr;
use std::time::Duration;

use crate::cli::cli;
use crate::support::calls::LiveLeg;
use crate::support::media::{self, RtpPeer, Segment};
use crate::support::ports;
use crate::support::server::{Server, ServerConfig};
use crate::support::sipp::Sipp;

const TALK: Duration = Duration::from_secs(4);
const MIN_FRAMES: usize = 125;

fn tone(freq: f32) -> Vec<Segment> {
    crate::tone_for(freq, TALK + Duration::from_secs(10))
}

/// `originate` through the trunk with FreeSWITCH's `sip_h_*` variables and
/// `sip_late_offer`: the carrier sees the INVITE without SDP and with the
/// headers, offers in its 200, gets the answer in the ACK, and the echo
/// extension sends its tone back (audio both ways).
#[test]
fn late_offer_originate_through_a_trunk_carries_headers_and_audio() {
    let trunk_port = ports::free_udp_port();
    let trunk = SocketAddr::from(([127, 0, 0, 1], trunk_port));
    let config = ServerConfig::default().trunk("carrier", trunk, "from-carrier");
    let server = Server::start_with("trunk-late-offer", config);
    let rtp = RtpPeer::bind();
    let mut carrier = Sipp::new(&server, "uas_answer_late_offer")
        .key("user", "carrier")
        .local_port(trunk_port)
        .rtp(rtp.port(), "0 101")
        .pause(TALK)
        .spawn();
    carrier.wait_listening();

    let vars = "{sip_late_offer=true,sip_h_Answer-Mode=Auto,\
                sip_h_P-Asserted-Identity=<sip:alice@127.0.0.1>,\
                sip_h_Alert-Info=info=alert-autoanswer;delay=0}";
    let run = cli(
        &server,
        &format!("originate {vars}sofia/gateway/carrier/2000 101"),
    );
    assert!(run.stdout.starts_with("+OK "), "{run}");

    let freq = 800.0;
    let leg = LiveLeg::start(carrier, rtp, tone(freq)).wait();
    leg.sipp.assert_success();
    leg.sipp.assert_logged(
        "HEADERS Auto | <sip:alice@127.0.0.1> | info=alert-autoanswer;delay=0 | length 0 ( 0)",
    );
    assert_eq!(leg.media.payload_type, 0, "codec of the ACK's answer");
    media::assert_hears(&leg.received, "late-offer carrier", freq, None, MIN_FRAMES);
}

/// A config with trunk `carrier` at `port` registering as acct/`password`.
fn registering_trunk(port: u16, password: &str, qualify: u64) -> ServerConfig {
    ServerConfig::default().toml(&format!(
        "[[trunk]]\nname = \"carrier\"\nhost = \"127.0.0.1:{port}\"\ncontext = \"default\"\n\
         register = true\nusername = \"acct\"\npassword = \"{password}\"\nexpires = 3600\n\
         qualify = {qualify}\n"
    ))
}

/// Waits for a server log line holding `text`.
fn wait_for_server_log(server: &Server, text: &str) {
    let found = crate::support::poll(Duration::from_secs(10), || {
        server.log().contains(text).then_some(())
    });
    assert!(
        found.is_some(),
        "no {text:?} in the server log:\n{}",
        server.log()
    );
}

/// The carrier challenges the REGISTER (401, MD5 with qop=auth), SIPp's
/// verifyauth accepts our answer, and the OPTIONS ping is answered: the
/// trunk is registered.
#[test]
fn a_trunk_registers_with_digest_auth_and_answers_pings() {
    let port = ports::free_udp_port();
    let server = Server::start_with("trunk-register", registering_trunk(port, "s3cret", 60));
    // The server's first REGISTER and OPTIONS may leave before SIPp listens: their
    // retransmissions reach it.
    let carrier = Sipp::new(&server, "uas_carrier_register")
        .local_port(port)
        .calls(2)
        .spawn();
    let result = carrier.wait();
    result.assert_logged("REGISTERED");
    result.assert_logged("PING");
    wait_for_server_log(&server, "trunk registered");
    let gateway = cli(&server, "sofia status gateway carrier").stdout;
    assert!(
        gateway.contains("REGED") && gateway.contains("UP"),
        "{gateway}"
    );
}

/// A carrier that refuses the registration: calls through the trunk are
/// refused at once with GATEWAY_DOWN.
#[test]
fn a_trunk_whose_registration_failed_refuses_calls() {
    let port = ports::free_udp_port();
    let server = Server::start_with("trunk-down", registering_trunk(port, "s3cret", 0));
    let carrier = Sipp::new(&server, "uas_carrier_reject")
        .local_port(port)
        .spawn();
    carrier.wait().assert_success();
    wait_for_server_log(&server, "trunk registration failed");
    let run = cli(&server, "originate sofia/gateway/carrier/2000 &park");
    assert_eq!(run.stdout.trim(), "-ERR GATEWAY_DOWN", "{run}");
}

/// Registering does not change how the trunk's own calls are recognised: by
/// their source address, without a challenge, into its context.
#[test]
fn calls_from_a_registered_trunk_land_in_its_context() {
    let port = ports::free_udp_port();
    let server = Server::start_with(
        "trunk-registered-inbound",
        registering_trunk(port, "s3cret", 0),
    );
    let carrier = Sipp::new(&server, "uas_carrier_register")
        .local_port(port)
        .spawn();
    carrier.wait().assert_logged("REGISTERED");
    wait_for_server_log(&server, "trunk registered");
    let caller = Sipp::new(&server, "uac_trunk")
        .key("user", "+15550100")
        .local_port(port);
    crate::assert_plays_tone1k(caller, "100");
}
