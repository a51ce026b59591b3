//! Header injection through ARI: a callerId, endpoint or variable with CR, LF or
//! NUL is refused with 400 naming the field, and no INVITE leaves for it.

use std::net::UdpSocket;
use std::time::Duration;

use serde_json::{json, Value};

use super::{stasis_server, APP, EVENT_TIMEOUT};
use crate::support::ari::{Ari, EventSocket};
use crate::support::media::RtpPeer;
use crate::support::sipp::Sipp;
use crate::support::ALICE;

/// How long a refused request has to not produce an INVITE.
const QUIET: Duration = Duration::from_secs(1);

/// A UDP socket standing in for a phone: what the server sends it.
struct Target {
    socket: UdpSocket,
}

impl Target {
    fn bind() -> Target {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind target");
        Target { socket }
    }

    fn endpoint(&self) -> String {
        let port = self.socket.local_addr().expect("target addr").port();
        format!("PJSIP/sip:bob@127.0.0.1:{port}")
    }

    /// The first datagram within `timeout`, as text.
    fn receive(&self, timeout: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        let mut buf = vec![0u8; 65536];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn assert_nothing(&self, what: &str) {
        if let Some(message) = self.receive(QUIET) {
            panic!("{what}: the server sent\n{message}");
        }
    }
}

/// POSTs `body` to `path` and returns the 400's message.
fn refused(ari: &Ari, path: &str, body: &Value, what: &str) -> String {
    ari.call("POST", path, Some(body)).expect_error(400, what)
}

#[test]
fn ari_header_injection_is_refused_with_400() {
    let server = stasis_server("ari-header-injection");
    let ari = Ari::new(server.ari_addr());
    let target = Target::bind();
    let endpoint = target.endpoint();

    // originate: a callerId that would add a header.
    let message = refused(
        &ari,
        "/channels",
        &json!({"endpoint": endpoint, "app": APP, "callerId": "a\r\nX-Evil: 1"}),
        "originate with CR LF in callerId",
    );
    assert!(message.contains("callerId"), "{message}");
    // … a display name with a NUL.
    let message = refused(
        &ari,
        "/channels",
        &json!({"endpoint": endpoint, "app": APP, "callerId": "\"Ev\u{0}il\" <1000>"}),
        "originate with NUL in callerId's name",
    );
    assert!(message.contains("callerId name"), "{message}");
    // … an endpoint (the Request-URI) with a LF.
    let message = refused(
        &ari,
        "/channels",
        &json!({"endpoint": format!("{endpoint}\nX-Evil: 1"), "app": APP}),
        "originate with LF in endpoint",
    );
    assert!(message.contains("endpoint"), "{message}");
    // … a variable with a NUL.
    let message = refused(
        &ari,
        "/channels",
        &json!({"endpoint": endpoint, "app": APP, "variables": {"FOO": "a\u{0}b"}}),
        "originate with NUL in a variable",
    );
    assert!(message.contains("FOO"), "{message}");
    // originateWithId and create go through the same check.
    let message = refused(
        &ari,
        "/channels/injected-1",
        &json!({"endpoint": endpoint, "app": APP, "callerId": "<1000\r\nX-Evil: 1>"}),
        "originateWithId with CR LF in callerId",
    );
    assert!(message.contains("callerId"), "{message}");
    let message = refused(
        &ari,
        "/channels/create",
        &json!({"endpoint": format!("{endpoint}\r\nX-Evil: 1"), "app": APP}),
        "create with CR LF in endpoint",
    );
    assert!(message.contains("endpoint"), "{message}");
    let message = refused(
        &ari,
        "/channels/create",
        &json!({"endpoint": endpoint, "app": APP, "variables": {"BAR": "x\ny"}}),
        "create with LF in a variable",
    );
    assert!(message.contains("BAR"), "{message}");
    target.assert_nothing("after the refused originates and creates");
    let channels = ari.get("/channels").expect(200, "channel list");
    assert_eq!(channels, json!([]), "a refused request left a channel");

    // The same target with clean values does get its INVITE: the quiet above is the
    // check's doing.
    ari.call(
        "POST",
        "/channels",
        Some(&json!({"endpoint": endpoint, "app": APP, "callerId": "\"Alice\" <1000>", "timeout": 1})),
    )
    .expect(200, "a clean originate");
    let invite = target
        .receive(Duration::from_secs(5))
        .expect("the clean originate's INVITE");
    assert!(invite.starts_with("INVITE sip:bob@127.0.0.1"), "{invite}");
    assert!(!invite.contains("X-Evil"), "{invite}");
}

#[test]
fn ari_header_injection_redirect_and_set_var_are_refused() {
    let server = stasis_server("ari-header-injection-redirect");
    let ari = Ari::new(server.ari_addr());
    let mut ws = EventSocket::connect(server.ari_addr(), &format!("app={APP}"));
    let rtp = RtpPeer::bind();
    let caller = Sipp::new(&server, "uac_wait_bye")
        .user(ALICE)
        .dial("200")
        .rtp(rtp.port(), "0 8 101")
        .spawn();
    let start = ws.wait_for("StasisStart", EVENT_TIMEOUT);
    let id = start["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();

    // A redirect's endpoint becomes the 302's Contact (or REFER's Refer-To).
    let message = ari
        .call(
            "POST",
            &format!("/channels/{id}/redirect"),
            Some(&json!({"endpoint": "PJSIP/sip:bob@127.0.0.1:5999\r\nX-Evil: 1"})),
        )
        .expect_error(400, "redirect with CR LF in endpoint");
    assert!(message.contains("endpoint"), "{message}");
    let message = ari
        .call(
            "POST",
            &format!("/channels/{id}/variable"),
            Some(&json!({"variable": "FOO", "value": "a\r\nX-Evil: 1"})),
        )
        .expect_error(400, "setChannelVar with CR LF");
    assert!(message.contains("FOO"), "{message}");
    // The channel is still in the application: nothing was redirected.
    let channel = ari
        .get(&format!("/channels/{id}"))
        .expect(200, "the channel after the refused redirect");
    assert_eq!(channel["state"], "Ring", "{channel}");

    // The caller's scenario waits for an answer, then the server's BYE.
    ari.post(&format!("/channels/{id}/answer"))
        .expect(204, "answer");
    ari.call("DELETE", &format!("/channels/{id}"), None)
        .expect(204, "hangup");
    caller.wait().assert_success();
}

/// Originate variables are set before the INVITE is built: the caller id variables
/// shape its From (Asterisk's CALLERID(), FreeSWITCH's origination_caller_id_*).
#[test]
fn ari_originate_variables_shape_the_invite() {
    let server = stasis_server("ari-originate-variables");
    let ari = Ari::new(server.ari_addr());
    let target = Target::bind();
    let body = json!({
        "endpoint": target.endpoint(),
        "app": APP,
        "callerId": "\"Alice\" <1000>",
        "timeout": 1,
        "variables": {"CALLERID(num)": "5551234", "CALLERID(name)": "Bob Vars"},
    });
    ari.call("POST", "/channels", Some(&body))
        .expect(200, "originate with caller id variables");
    let invite = target
        .receive(Duration::from_secs(5))
        .expect("the originate's INVITE");
    let from = invite
        .lines()
        .find(|l| l.starts_with("From:"))
        .unwrap_or_else(|| panic!("no From in\n{invite}"));
    assert!(from.contains("\"Bob Vars\" <sip:5551234@"), "{from}");
}
