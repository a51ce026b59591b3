//! Registrations and the calls that reach them, black box: a phone whose Contact
//! names another port than the one it registers from, and a real phone (Debian's
//! baresip) with the server's default settings.

mod baresip;

use std::time::Duration;

use crate::support::calls::{self, LiveLeg};
use crate::support::media::{self, RtpPeer, Segment};
use crate::support::server::Server;
use crate::support::sipp::Sipp;
use crate::support::{ports, BOB};

/// Talk time of the call.
const TALK: Duration = Duration::from_secs(4);
const CALLER_TONE: f32 = 600.0;
const CALLEE_TONE: f32 = 1400.0;
/// Frames a side must at least analyse in a ~4 s call (about 2.5 s).
const MIN_FRAMES: usize = 125;

/// A tone outlasting the call (its end is cut by the hang-up).
fn tone(freq: f32) -> Vec<Segment> {
    vec![Segment::Tone(freq, TALK + Duration::from_secs(2))]
}

/// 1001 registers from one port naming another in its Contact, where its UAS
/// listens (as a phone with separate sockets, or one behind a port-preserving
/// proxy, does); 1000's call must ring there, be answered and carry audio both ways.
#[test]
fn registration_contact_port_receives_calls() {
    let server = Server::start("register-contact");
    let source_port = ports::free_udp_port();
    let contact_port = loop {
        let port = ports::free_udp_port();
        if port != source_port {
            break port;
        }
    };
    Sipp::new(&server, "register_contact")
        .user(BOB)
        .local_port(source_port)
        .set("contact_port", &contact_port.to_string())
        .run()
        .assert_success();

    // Only the Contact's port answers: the REGISTER's source port is closed now.
    let callee_rtp = RtpPeer::bind();
    let mut callee = Sipp::new(&server, "uas_answer")
        .key("user", BOB.id)
        .local_port(contact_port)
        .rtp(callee_rtp.port(), "0 101")
        .pause(TALK)
        .spawn();
    callee.wait_listening();
    let caller_rtp = RtpPeer::bind();
    let caller = calls::start_caller(&server, "uac_call", BOB.id, &caller_rtp, "0 8 101", TALK);
    // The caller first: when the call is not routed to the Contact, its SIPp
    // shows the final response it got instead.
    let caller = LiveLeg::start(caller, caller_rtp, tone(CALLER_TONE));
    let callee = LiveLeg::start(callee, callee_rtp, tone(CALLEE_TONE));
    let caller = caller.wait();
    let callee = callee.wait_after(&caller);
    caller.sipp.assert_success();
    callee.sipp.assert_success();

    media::assert_hears(
        &caller.received,
        "caller",
        CALLEE_TONE,
        Some(CALLER_TONE),
        MIN_FRAMES,
    );
    media::assert_hears(
        &callee.received,
        "callee on the Contact port",
        CALLER_TONE,
        Some(CALLEE_TONE),
        MIN_FRAMES,
    );
}
