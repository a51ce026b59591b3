//! The user agent driven through its inputs with simulated time: no socket, no sleep.

use bytes::Bytes;
use sipx_sip::auth::{respond, Challenge, Credentials};

use super::dialog::dtmf_relay;
use super::*;
use crate::digest::Algorithm;
use crate::guard::GuardConfig;
use crate::stack::{EndpointAuth, InviteError, Origin, OutgoingCall, Target};

const SECRET: &str = "test-secret";

fn config() -> StackConfig {
    let endpoint = EndpointAuth {
        password: "pw1000".into(),
        ..EndpointAuth::default()
    };
    StackConfig {
        udp: "127.0.0.1:5060".parse().unwrap(),
        tcp: None,
        realm: "switchboard".into(),
        endpoints: [("1000".to_owned(), endpoint)].into_iter().collect(),
        trunks: vec![("carrier".into(), "127.0.0.9:5080".parse().unwrap())],
        trunk_accounts: Vec::new(),
        user_agent: "switchboard-test".into(),
        algorithms: vec![Algorithm::Md5],
        nonce_lifetime_secs: 300,
        guard: GuardConfig::default(),
        limits: crate::transport::TransportLimits::default(),
        max_calls: 0,
    }
}

struct Harness {
    ua: UserAgent,
    now: Instant,
}

fn udp(addr: &str) -> Flow {
    Flow {
        transport: Transport::Udp,
        remote: addr.parse().unwrap(),
    }
}

impl Harness {
    fn new(config: StackConfig) -> Self {
        let now = Instant::now();
        let local = LocalAddrs {
            udp: config.udp,
            tcp: None,
        };
        Self {
            ua: UserAgent::new(config, local, SECRET, now, 1_800_000_000),
            now,
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.ua.on_timeout(self.now);
    }

    fn recv(&mut self, text: &str, flow: Flow) {
        let message = msg::build(text.to_owned()).expect("test message parses");
        self.ua.on_message(message, flow, self.now);
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.ua.poll_output()).collect()
    }

    /// Status codes sent, in order.
    fn sent_codes(outputs: &[Output]) -> Vec<u16> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(_, Message::Response(r)) => Some(r.status.code()),
                _ => None,
            })
            .collect()
    }
}

fn sent_responses(outputs: &[Output]) -> Vec<&Response> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(_, Message::Response(r)) => Some(r),
            _ => None,
        })
        .collect()
}

fn invite(call_id: &str, branch: &str, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:101@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=a1\r\nTo: <sip:101@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:1000@127.0.0.1:5070>\r\n{auth}\
         Content-Length: 0\r\n\r\n"
    )
}

fn answer(response: &Response, password: &str, nc: u32) -> String {
    let value = response
        .headers
        .value(&HeaderName::ProxyAuthenticate)
        .or_else(|| response.headers.value(&HeaderName::WwwAuthenticate))
        .expect("a challenge");
    let challenge = Challenge::parse(&value, true).expect("challenge parses");
    respond(
        &challenge,
        &Credentials::new("1000", password),
        "INVITE",
        "sip:101@127.0.0.1",
        nc,
        "c0ffee",
    )
}

fn incoming(outputs: &[Output]) -> Option<&NewCall> {
    outputs.iter().find_map(|o| match o {
        Output::Incoming(call) => Some(call),
        _ => None,
    })
}

/// Challenges, answers, and returns the accepted call and the credentials used.
fn authenticated_call(h: &mut Harness, flow: Flow) -> (CallId, String) {
    h.recv(&invite("c1", "1", None), flow);
    let out = h.outputs();
    let challenge = sent_responses(&out)[0].clone();
    assert_eq!(challenge.status.code(), 407);
    let auth = answer(&challenge, "pw1000", 1);
    h.recv(&invite("c1", "2", Some(&auth)), flow);
    let out = h.outputs();
    let call = incoming(&out)
        .expect("the answered challenge is accepted")
        .id;
    (call, auth)
}

/// The first response sent is a 503 asking to retry in 5 s.
fn assert_refused_for_overload(out: &[Output]) {
    let refused = sent_responses(out)[0];
    assert_eq!(refused.status.code(), 503);
    assert_eq!(
        refused.headers.value(&HeaderName::RetryAfter).as_deref(),
        Some(&b"5"[..])
    );
}

#[test]
fn past_the_call_limit_an_invite_gets_503_with_retry_after() {
    let mut h = Harness::new(StackConfig {
        max_calls: 1,
        ..config()
    });
    let flow = udp("127.0.0.1:5070");
    authenticated_call(&mut h, flow);
    h.recv(&invite("c9", "9", None), flow);
    let out = h.outputs();
    assert_refused_for_overload(&out);
    assert!(incoming(&out).is_none());
}

#[test]
fn while_overloaded_a_new_invite_gets_503_and_after_it_is_taken_again() {
    let mut h = Harness::new(config());
    let flow = udp("127.0.0.1:5070");
    h.ua.set_overloaded(true);
    h.recv(&invite("c8", "8", None), flow);
    let out = h.outputs();
    assert_refused_for_overload(&out);
    h.ua.set_overloaded(false);
    authenticated_call(&mut h, flow);
}

#[test]
fn every_challenge_has_its_own_nonce_and_a_server_header() {
    let mut h = Harness::new(config());
    h.recv(&invite("c1", "1", None), udp("127.0.0.1:5070"));
    h.recv(&invite("c2", "2", None), udp("127.0.0.1:5070"));
    let out = h.outputs();
    let nonces: Vec<_> = sent_responses(&out)
        .iter()
        .map(|r| r.headers.value(&HeaderName::ProxyAuthenticate).unwrap())
        .collect();
    assert_eq!(nonces.len(), 2);
    assert_ne!(nonces[0], nonces[1]);
    let server = sent_responses(&out)[0].headers.value(&HeaderName::Server);
    assert_eq!(server.as_deref(), Some(&b"switchboard-test"[..]));
}

#[test]
fn an_empty_user_agent_sends_no_server_header() {
    let mut config = config();
    config.user_agent = String::new();
    let mut h = Harness::new(config);
    h.recv(&invite("c1", "1", None), udp("127.0.0.1:5070"));
    let out = h.outputs();
    assert!(sent_responses(&out)[0]
        .headers
        .value(&HeaderName::Server)
        .is_none());
    let call = OutgoingCall::new(Target::Uri("sip:2000@127.0.0.1:5090".into()), "1000", None);
    h.ua.invite(&call, h.now).unwrap();
    let invite = h.outputs().into_iter().find_map(|o| match o {
        Output::Send(_, Message::Request(r)) => Some(r),
        _ => None,
    });
    assert!(invite
        .unwrap()
        .headers
        .value(&HeaderName::UserAgent)
        .is_none());
}

#[test]
fn a_header_value_with_a_line_break_is_never_sent() {
    let mut h = Harness::new(config());
    let target = Target::Uri("sip:2000@127.0.0.1:5090".into());
    let mut call = OutgoingCall::new(target, "1000", None);
    call.caller_name = Some("Eve\r\nX-Evil: 1".into());
    let refused = h.ua.invite(&call, h.now);
    // The display name loses its control characters; the call goes out intact.
    assert!(refused.is_ok());
    let sent: Vec<_> = h
        .outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Send(_, m) => Some(m.to_bytes()),
            _ => None,
        })
        .collect();
    let text = String::from_utf8_lossy(&sent[0]);
    assert!(text.contains("From: \"EveX-Evil: 1\" <sip:1000@"), "{text}");
    assert!(!text.contains("\r\nX-Evil"), "{text}");
}

#[test]
fn replayed_invite_credentials_are_challenged_again() {
    let mut h = Harness::new(config());
    let (_, auth) = authenticated_call(&mut h, udp("127.0.0.1:5070"));
    // The same header, a new call, from another port: no new call, a fresh challenge.
    h.recv(&invite("c9", "9", Some(&auth)), udp("127.0.0.1:6666"));
    let out = h.outputs();
    assert!(incoming(&out).is_none(), "replayed credentials made a call");
    assert_eq!(Harness::sent_codes(&out), vec![407]);
    let challenge = sent_responses(&out)[0]
        .headers
        .value(&HeaderName::ProxyAuthenticate)
        .unwrap();
    assert!(String::from_utf8_lossy(&challenge).contains("stale=true"));
}

#[test]
fn cancel_before_answer_gets_487_and_after_answer_loses_the_race() {
    let mut h = Harness::new(config());
    let flow = udp("127.0.0.1:5070");
    let (call, auth) = authenticated_call(&mut h, flow);
    let cancel = invite("c1", "2", Some(&auth))
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    h.recv(&cancel, flow);
    let out = h.outputs();
    assert_eq!(Harness::sent_codes(&out), vec![200, 487]);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(id, CallEvent::Cancelled) if *id == call)));

    // Second call: answered first, then the CANCEL arrives: 200 to the CANCEL only.
    let mut h = Harness::new(config());
    let (call, _) = authenticated_call(&mut h, flow);
    h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
    assert_eq!(Harness::sent_codes(&h.outputs()), vec![200]);
    h.recv(&cancel, flow);
    let out = h.outputs();
    assert_eq!(Harness::sent_codes(&out), vec![200]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, Output::Event(_, CallEvent::Cancelled))));
}

fn ack_for(response: &Response) -> String {
    let to = header(&response.headers, &HeaderName::To).unwrap();
    format!(
        "ACK sip:switchboard@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=a1\r\nTo: {to}\r\nCall-ID: c1\r\n\
         CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn a_2xx_is_resent_with_backoff_until_the_ack() {
    let mut h = Harness::new(config());
    let flow = udp("127.0.0.1:5070");
    let (call, _) = authenticated_call(&mut h, flow);
    h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
    let ok = sent_responses(&h.outputs())[0].clone();
    // T1 = 500 ms, doubling to T2 = 4 s: resent at 0.5, 1.5 and 3.5 s. (The
    // unacknowledged 407 of the challenge is resent too; it is not counted.)
    let mut resent = Vec::new();
    for _ in 0..40 {
        h.advance(Duration::from_millis(100));
        resent.extend(
            Harness::sent_codes(&h.outputs())
                .into_iter()
                .filter(|c| *c == 200),
        );
    }
    assert_eq!(resent, vec![200, 200, 200], "resent at 0.5, 1.5 and 3.5 s");
    h.recv(&ack_for(&ok), flow);
    let out = h.outputs();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(id, CallEvent::Acked { .. }) if *id == call)));
    h.advance(Duration::from_secs(10));
    let later = Harness::sent_codes(&h.outputs());
    assert!(!later.contains(&200), "no resend after the ACK: {later:?}");
}

#[test]
fn a_2xx_never_acknowledged_ends_the_call() {
    let mut h = Harness::new(config());
    let (call, _) = authenticated_call(&mut h, udp("127.0.0.1:5070"));
    h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
    h.outputs();
    let mut out = Vec::new();
    // Given up after 64*T1 = 32 s, at the first resend due after it (35.5 s).
    for _ in 0..80 {
        h.advance(Duration::from_millis(500));
        out.extend(h.outputs());
    }
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(id, CallEvent::Lost) if *id == call)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Send(_, Message::Request(r)) if r.method == Method::Bye)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Closed(id) if *id == call)));
}

#[test]
fn a_second_reinvite_while_one_is_pending_gets_491() {
    let mut h = Harness::new(config());
    let flow = udp("127.0.0.1:5070");
    let (call, _) = authenticated_call(&mut h, flow);
    h.ua.respond(call, 200, Some("v=0\r\n".into()), h.now);
    let ok = sent_responses(&h.outputs())[0].clone();
    h.recv(&ack_for(&ok), flow);
    h.outputs();
    let to = header(&ok.headers, &HeaderName::To).unwrap();
    let reinvite = |cseq: u32| {
        format!(
            "INVITE sip:switchboard@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKre{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=a1\r\nTo: {to}\r\nCall-ID: c1\r\n\
             CSeq: {cseq} INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    h.recv(&reinvite(2), flow);
    let out = h.outputs();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(id, CallEvent::Reinvite { .. }) if *id == call)));
    h.recv(&reinvite(3), flow);
    assert_eq!(Harness::sent_codes(&h.outputs()), vec![491]);
    h.ua.answer_reinvite(call, Ok("v=0\r\n".into()), h.now);
    assert_eq!(Harness::sent_codes(&h.outputs()), vec![200]);
}

#[test]
fn wrong_passwords_ban_the_source_until_the_ban_expires() {
    let mut config = config();
    config.guard.max_auth_failures = 3;
    config.guard.ban_time = Duration::from_secs(60);
    let mut h = Harness::new(config);
    let attacker = udp("127.0.0.2:5070");
    for i in 0..3 {
        h.recv(&invite(&format!("x{i}"), &format!("a{i}"), None), attacker);
        let challenge = sent_responses(&h.outputs())[0].clone();
        let wrong = answer(&challenge, "guess", 1);
        h.recv(
            &invite(&format!("x{i}"), &format!("b{i}"), Some(&wrong)),
            attacker,
        );
        assert_eq!(Harness::sent_codes(&h.outputs()), vec![403]);
    }
    h.recv(&invite("x9", "c9", None), attacker);
    assert!(h.outputs().is_empty(), "a banned source is dropped");
    // Another address is untouched.
    let (_, _) = authenticated_call(&mut h, udp("127.0.0.1:5070"));
    h.advance(Duration::from_secs(61));
    h.outputs();
    h.recv(&invite("x10", "c10", None), attacker);
    assert_eq!(
        Harness::sent_codes(&h.outputs()),
        vec![407],
        "the ban expired"
    );
}

#[test]
fn calls_go_to_the_registered_contact_unless_behind_nat() {
    let mut h = Harness::new(config());
    let register = |contact: &str, auth: Option<&str>, branch: &str| {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=r1\r\nTo: <sip:1000@127.0.0.1>\r\n\
             Call-ID: reg1\r\nCSeq: 1 REGISTER\r\nContact: <{contact}>\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    };
    let flow = udp("127.0.0.1:5070");
    let registered = |h: &mut Harness, contact: &str, tag: &str| {
        h.recv(&register(contact, None, &format!("{tag}a")), flow);
        let challenge = sent_responses(&h.outputs())[0].clone();
        let value = challenge
            .headers
            .value(&HeaderName::WwwAuthenticate)
            .unwrap();
        let challenge = Challenge::parse(&value, false).unwrap();
        let auth = respond(
            &challenge,
            &Credentials::new("1000", "pw1000"),
            "REGISTER",
            "sip:127.0.0.1",
            1,
            "c1",
        );
        h.recv(&register(contact, Some(&auth), &format!("{tag}b")), flow);
        assert_eq!(Harness::sent_codes(&h.outputs()), vec![200]);
        let call = OutgoingCall::new(Target::Endpoint("1000".into()), "2000", None);
        h.ua.invite(&call, h.now).unwrap();
        h.outputs()
            .into_iter()
            .find_map(|o| match o {
                Output::Send(flow, Message::Request(r)) if r.method == Method::Invite => {
                    Some(flow.remote)
                }
                _ => None,
            })
            .unwrap()
    };
    // Same host, other port: the Contact's port.
    let to = registered(&mut h, "sip:1000@127.0.0.1:5090", "x");
    assert_eq!(to, "127.0.0.1:5090".parse().unwrap());
    // A private address in the Contact: NAT, so the REGISTER's flow.
    let to = registered(&mut h, "sip:1000@192.168.1.10:5090", "y");
    assert_eq!(to, "127.0.0.1:5070".parse().unwrap());
}

use super::torture_vectors as vectors;

/// Feeds raw bytes to the user agent as the transports would: parsed, or as malformed.
fn feed(h: &mut Harness, raw: &[u8], flow: Flow) {
    let bytes = Bytes::copy_from_slice(raw);
    match sipx_sip::parse_datagram(bytes, &sipx_sip::Limits::datagram()) {
        Ok(message) => h.ua.on_message(message, flow, h.now),
        Err(_) => h.ua.on_malformed(raw, flow, h.now),
    }
}

/// Nothing of a request is left once every timer has run out (Timer H/J: 64*T1).
fn assert_nothing_left(h: &mut Harness, what: &str) {
    for _ in 0..40 {
        h.advance(Duration::from_secs(1));
    }
    h.outputs();
    assert_eq!(h.ua.layer.len(), (0, 0), "transactions left after {what}");
    assert!(h.ua.calls.is_empty(), "dialogs left after {what}");
    assert!(h.ua.flows.is_empty() && h.ua.invites.is_empty(), "{what}");
    assert!(h.ua.next_deadline().is_none(), "timers left after {what}");
}

#[test]
fn rfc4475_messages_get_their_answers_and_leave_nothing_behind() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torture");
    let mut h = Harness::new(config());
    for (i, vector) in vectors::all(&root).iter().enumerate() {
        let port = 20_000 + u16::try_from(i).unwrap();
        let mut flows = vec![udp(&format!("127.0.0.1:{port}"))];
        if vector.valid {
            flows.push(Flow {
                transport: Transport::Tcp,
                remote: format!("127.0.0.1:{}", port + 1000).parse().unwrap(),
            });
        }
        for flow in flows {
            let tag = format!("{:?}", flow.transport);
            feed(&mut h, &vector.with_own_branches(&tag), flow);
            let answer = h.outputs().into_iter().find_map(|o| match o {
                Output::Send(to, Message::Response(r)) if to == flow && r.status.code() >= 200 => {
                    Some(r.status.code())
                }
                _ => None,
            });
            assert!(
                vector.expect.allows(answer),
                "{} over {tag}: expected {:?}, got {answer:?}",
                vector.name,
                vector.expect
            );
        }
    }
    assert_nothing_left(&mut h, "the RFC 4475 messages");
}

/// Mutated requests of every kind through the whole user agent: no panic, and nothing
/// left once the timers have run (a call would need a valid digest answer, which a
/// mutation cannot forge).
#[test]
fn fuzzed_requests_leave_nothing_behind() {
    use switchboard_fuzz::{corpus_inputs, fuzz};
    let mut corpus: Vec<Vec<u8>> = [invite("c1", "1", None), ack_like(), cancel_like()]
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torture");
    corpus.extend(vectors::all(&root).into_iter().map(|v| v.bytes));
    const TOKENS: &[&[u8]] = &[
        b"\r\n",
        b";tag=",
        b"z9hG4bK",
        b"INVITE",
        b"ACK",
        b"CANCEL",
        b"BYE",
        b"REGISTER",
        b"Proxy-Authorization: Digest username=\"1000\", nonce=\"0\", response=\"0\"\r\n",
        b"Contact: *\r\n",
        b"Expires: 0\r\n",
        b"Require: x\r\n",
        b"Max-Forwards: 0\r\n",
    ];
    fuzz("user_agent", corpus_inputs(corpus, TOKENS), |input| {
        let mut h = Harness::new(config());
        let flow = udp("127.0.0.3:5070");
        feed(&mut h, input.bytes(), flow);
        // The same bytes again (a retransmission), then over a connection.
        feed(&mut h, input.bytes(), flow);
        let tcp = Flow {
            transport: Transport::Tcp,
            ..flow
        };
        feed(&mut h, input.bytes(), tcp);
        assert_nothing_left(&mut h, "a fuzzed request");
        Ok(())
    });
}

fn ack_like() -> String {
    invite("c1", "1", None)
        .replacen("INVITE sip", "ACK sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace("To: <sip:101@127.0.0.1>", "To: <sip:101@127.0.0.1>;tag=x")
}

fn cancel_like() -> String {
    invite("c1", "1", None)
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
}

#[test]
fn parses_dtmf_relay_bodies() {
    assert_eq!(dtmf_relay("Signal=5\r\nDuration=160\r\n"), Some(('5', 160)));
    assert_eq!(dtmf_relay("signal= #\nduration=x"), Some(('#', 250)));
    assert_eq!(dtmf_relay("Signal=Z"), None);
    assert_eq!(dtmf_relay(""), None);
}

#[test]
fn stamps_received_and_rport() {
    let text = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport\r\n\
        Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\
        Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let Some(Message::Request(mut req)) = msg::build(text.to_owned()) else {
        panic!("test message should parse");
    };
    stamp_received(&mut req, udp("192.0.2.7:4444"));
    let vias: Vec<_> = req
        .headers
        .get_all(&HeaderName::Via)
        .map(|h| String::from_utf8_lossy(&h.value()).into_owned())
        .collect();
    assert_eq!(
        vias[0],
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa;rport=4444;received=192.0.2.7"
    );
    assert_eq!(vias[1], "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb");
}

fn sent_requests(outputs: &[Output]) -> Vec<(Flow, Request)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(flow, Message::Request(r)) => Some((*flow, r.clone())),
            _ => None,
        })
        .collect()
}

/// The peer's 2xx to our INVITE, with its SDP.
fn ok_for(invite: &Request, body: &str) -> String {
    let via = header(&invite.headers, &HeaderName::Via).unwrap();
    let from = header(&invite.headers, &HeaderName::From).unwrap();
    let to = header(&invite.headers, &HeaderName::To).unwrap();
    let call_id = msg::call_id(invite);
    let kind = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_owned()
    };
    format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to};tag=far\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:2000@127.0.0.1:5090>\r\n{kind}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const PEER_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";

#[test]
fn extra_headers_go_on_the_invite_and_reserved_ones_are_refused() {
    let mut h = Harness::new(config());
    let mut call = OutgoingCall::new(
        Target::Uri("sip:2000@127.0.0.1:5090".into()),
        "1000",
        Some("v=0\r\n".into()),
    );
    call.headers = vec![
        ("Answer-Mode".into(), "Auto".into()),
        ("Call-Info".into(), "<sip:127.0.0.1>;answer-after=0".into()),
        ("Alert-Info".into(), "info=alert-autoanswer;delay=0".into()),
        ("P-Asserted-Identity".into(), "<sip:alice@127.0.0.1>".into()),
        (
            "Remote-Party-ID".into(),
            "<sip:alice@127.0.0.1>;party=calling;screen=yes;privacy=off".into(),
        ),
    ];
    h.ua.invite(&call, h.now).unwrap();
    let (_, invite) = sent_requests(&h.outputs()).remove(0);
    let text = String::from_utf8_lossy(&Message::Request(invite).to_bytes()).into_owned();
    for line in [
        "\r\nAnswer-Mode: Auto\r\n",
        "\r\nCall-Info: <sip:127.0.0.1>;answer-after=0\r\n",
        "\r\nAlert-Info: info=alert-autoanswer;delay=0\r\n",
        "\r\nP-Asserted-Identity: <sip:alice@127.0.0.1>\r\n",
        "\r\nRemote-Party-ID: <sip:alice@127.0.0.1>;party=calling;screen=yes;privacy=off\r\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from {text}");
    }

    for (name, value, expected) in [
        (
            "Call-ID",
            "x",
            InviteError::ReservedHeader("Call-ID".into()),
        ),
        (
            "from",
            "<sip:x@y>",
            InviteError::ReservedHeader("from".into()),
        ),
        ("X-Evil", "a\r\nVia: b", InviteError::BadHeader),
        ("X Bad", "a", InviteError::BadHeader),
        ("X:Bad", "a", InviteError::BadHeader),
    ] {
        call.headers = vec![(name.into(), value.into())];
        assert_eq!(h.ua.invite(&call, h.now), Err(expected), "{name}");
    }
    assert!(
        sent_requests(&h.outputs()).is_empty(),
        "a refused INVITE went out"
    );
    assert!(crate::is_reserved_header("CSeq") && !crate::is_reserved_header("Answer-Mode"));
}

/// A user agent that placed a call without an offer, the call and its INVITE.
fn late_offer_call() -> (Harness, CallId, Flow, Request) {
    let mut h = Harness::new(config());
    let call = OutgoingCall::new(Target::Uri("sip:2000@127.0.0.1:5090".into()), "1000", None);
    let id = h.ua.invite(&call, h.now).unwrap();
    let (flow, invite) = sent_requests(&h.outputs()).remove(0);
    (h, id, flow, invite)
}

#[test]
fn a_late_offer_invite_has_no_body_and_its_ack_carries_the_answer() {
    let (mut h, id, flow, invite) = late_offer_call();
    assert!(invite.body().is_empty());
    assert!(invite.headers.value(&HeaderName::ContentType).is_none());

    h.recv(&ok_for(&invite, PEER_OFFER), flow);
    let out = h.outputs();
    assert!(
        sent_requests(&out).is_empty(),
        "the ACK waits for the answer"
    );
    assert!(out.iter().any(|o| matches!(o,
        Output::Event(i, CallEvent::Answered { sdp: Some(s) }) if *i == id && s == PEER_OFFER)));

    // The 2xx resent meanwhile: still no bare ACK, no second Answered.
    h.recv(&ok_for(&invite, PEER_OFFER), flow);
    let out = h.outputs();
    assert!(sent_requests(&out).is_empty());
    assert!(!out.iter().any(|o| matches!(o, Output::Event(..))));

    let answer = "v=0\r\nm=audio 7000 RTP/AVP 0\r\n";
    h.ua.ack(id, Some(answer.into()), h.now);
    let (_, ack) = sent_requests(&h.outputs()).remove(0);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.body().as_ref(), answer.as_bytes());
    assert_eq!(
        ack.headers.value(&HeaderName::ContentType).as_deref(),
        Some(&b"application/sdp"[..])
    );
    // A later retransmission of the 2xx gets the same ACK again.
    h.recv(&ok_for(&invite, PEER_OFFER), flow);
    let again = sent_requests(&h.outputs());
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.body().as_ref(), answer.as_bytes());
}

#[test]
fn a_late_offer_never_answered_is_acked_bare_and_ended() {
    let (mut h, id, flow, invite) = late_offer_call();
    h.recv(&ok_for(&invite, PEER_OFFER), flow);
    h.outputs();
    h.advance(Duration::from_secs(33));
    let out = h.outputs();
    let methods: Vec<_> = sent_requests(&out)
        .into_iter()
        .map(|(_, r)| r.method)
        .collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(i, CallEvent::Lost) if *i == id)));
}

#[test]
fn an_early_offer_2xx_is_acked_at_once() {
    let mut h = Harness::new(config());
    let call = OutgoingCall::new(
        Target::Uri("sip:2000@127.0.0.1:5090".into()),
        "1000",
        Some("v=0\r\n".into()),
    );
    h.ua.invite(&call, h.now).unwrap();
    let (flow, invite) = sent_requests(&h.outputs()).remove(0);
    assert!(!invite.body().is_empty());
    h.recv(&ok_for(&invite, PEER_OFFER), flow);
    let acks = sent_requests(&h.outputs());
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.method, Method::Ack);
    assert!(acks[0].1.body().is_empty());
}

// ---- trunks: outbound registration and OPTIONS pings ----

const CARRIER: &str = "127.0.0.9:5080";

fn trunk_config(register: bool, password: &str, qualify: u64) -> StackConfig {
    let mut config = config();
    config.trunk_accounts = vec![crate::stack::TrunkAccount {
        name: "carrier".into(),
        addr: CARRIER.parse().unwrap(),
        register,
        username: "acct".into(),
        password: password.into(),
        expires: 600,
        from_user: None,
        from_domain: None,
        qualify: Duration::from_secs(qualify),
    }];
    config
}

fn carrier_state(h: &Harness) -> crate::stack::TrunkState {
    h.ua.trunk_states()
        .find(|(n, _)| n == "carrier")
        .map(|(_, s)| s)
        .expect("the carrier trunk has a state")
}

/// The one request of `method` sent now to the carrier.
fn sent_to_carrier(h: &mut Harness, method: Method) -> Request {
    let sent: Vec<_> = sent_requests(&h.outputs())
        .into_iter()
        .filter(|(flow, r)| flow.remote == CARRIER.parse().unwrap() && r.method == method)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        sent.len(),
        1,
        "expected one {method} to the carrier: {sent:?}"
    );
    sent.into_iter().next().unwrap()
}

fn carrier_answers(h: &mut Harness, request: &Request, code: u16, extra: &[(HeaderName, String)]) {
    let response = msg::response(request, code, Some("carrier"), extra, None).unwrap();
    h.ua.on_message(Message::Response(response), udp(CARRIER), h.now);
}

const CHALLENGE: &str =
    r#"Digest realm="carrier.example", nonce="n0nce", qop="auth", algorithm=SHA-256"#;

/// The Authorization of `register` must be the right SHA-256 `qop=auth` answer to
/// [`CHALLENGE`] with nonce count `nc`.
fn assert_authorized(register: &Request, password: &str, nc: u32) {
    let value = header(&register.headers, &HeaderName::Authorization).expect("credentials");
    let given = crate::digest::DigestResponse::parse(&value).expect("a digest answer");
    assert_eq!(given.username, "acct");
    assert_eq!(given.uri, format!("sip:{CARRIER}"));
    assert_eq!(given.qop.as_deref(), Some("auth"));
    assert_eq!(given.nc.as_deref(), Some(format!("{nc:08x}").as_str()));
    assert_eq!(given.algorithm.as_deref(), Some("SHA-256"));
    let cnonce = given.cnonce.clone().expect("a cnonce with qop");
    let challenge = Challenge::parse(CHALLENGE.as_bytes(), false).unwrap();
    let expected = respond(
        &challenge,
        &Credentials::new("acct", password),
        "REGISTER",
        &given.uri,
        nc,
        &cnonce,
    );
    let expected = crate::digest::DigestResponse::parse(&expected).unwrap();
    assert_eq!(given.response, expected.response, "digest of {value}");
}

/// A user agent registering the carrier trunk with `password`, and its first REGISTER.
fn first_register(password: &str) -> (Harness, Request) {
    let mut h = Harness::new(trunk_config(true, password, 0));
    h.advance(Duration::ZERO);
    let first = sent_to_carrier(&mut h, Method::Register);
    (h, first)
}

/// The carrier challenges `register` with [`CHALLENGE`]; the REGISTER that follows.
fn challenged(h: &mut Harness, register: &Request) -> Request {
    let challenge = [(HeaderName::WwwAuthenticate, CHALLENGE.to_owned())];
    carrier_answers(h, register, 401, &challenge);
    sent_to_carrier(h, Method::Register)
}

#[test]
fn a_trunk_registers_through_a_challenge_refreshes_and_goes_down_on_failure() {
    let mut h = Harness::new(trunk_config(true, "secret", 0));
    assert_eq!(carrier_state(&h).registered, None);
    h.advance(Duration::ZERO);
    let first = sent_to_carrier(&mut h, Method::Register);
    assert!(header(&first.headers, &HeaderName::Authorization).is_none());
    assert_eq!(
        header(&first.headers, &HeaderName::Expires).as_deref(),
        Some("600")
    );
    assert_eq!(first.uri.to_string(), format!("sip:{CARRIER}"));

    let second = challenged(&mut h, &first);
    assert_authorized(&second, "secret", 1);
    assert_eq!(
        msg::call_id(&second),
        msg::call_id(&first),
        "one Call-ID per registrar"
    );
    assert!(msg::cseq_number(&second.headers) > msg::cseq_number(&first.headers));

    // Granted 300 s of the 600 asked: refreshed at 90 %, 270 s. (Another binding
    // of the same account, listed first, does not count.)
    let contact = header(&second.headers, &HeaderName::Contact).unwrap();
    let bindings = [
        (
            HeaderName::Contact,
            "<sip:acct@192.0.2.99:5060>;expires=30".to_owned(),
        ),
        (HeaderName::Contact, format!("{contact};expires=300")),
    ];
    carrier_answers(&mut h, &second, 200, &bindings);
    let out = h.outputs();
    assert!(out.iter().any(|o| matches!(o,
        Output::Trunk(name, s) if name == "carrier" && s.registered == Some(true))));
    assert!(carrier_state(&h).is_up());
    h.advance(Duration::from_secs(269));
    assert!(sent_requests(&h.outputs())
        .iter()
        .all(|(_, r)| r.method != Method::Register));
    h.advance(Duration::from_secs(1));
    let refresh = sent_to_carrier(&mut h, Method::Register);
    // The refresh answers the last challenge again, with the next nonce count.
    assert_authorized(&refresh, "secret", 2);

    carrier_answers(&mut h, &refresh, 403, &[]);
    let state = carrier_state(&h);
    assert_eq!(state.registered, Some(false));
    assert!(!state.is_up());
    assert_eq!(
        state.last_error.as_deref(),
        Some("REGISTER answered 403 Forbidden")
    );

    // Retried after 5 s, afresh; unanswered, it times out (64*T1) and the next retry
    // waits twice as long.
    h.advance(Duration::from_secs(5));
    let retry = sent_to_carrier(&mut h, Method::Register);
    assert!(header(&retry.headers, &HeaderName::Authorization).is_none());
    // Timer F fires 32 s after the send; the retry is due 10 s later.
    h.advance(Duration::from_secs(32));
    h.outputs();
    assert_eq!(
        carrier_state(&h).last_error.as_deref(),
        Some("REGISTER timed out")
    );
    h.advance(Duration::from_secs(9));
    assert!(sent_requests(&h.outputs())
        .iter()
        .all(|(_, r)| r.method != Method::Register));
    h.advance(Duration::from_secs(1));
    let again = sent_to_carrier(&mut h, Method::Register);
    carrier_answers(&mut h, &again, 200, &[]);
    let state = carrier_state(&h);
    assert_eq!((state.registered, state.last_error), (Some(true), None));
}

#[test]
fn a_wrong_trunk_password_fails_after_one_answered_challenge() {
    let (mut h, first) = first_register("wrong");
    let second = challenged(&mut h, &first);
    carrier_answers(
        &mut h,
        &second,
        401,
        &[(HeaderName::WwwAuthenticate, CHALLENGE.into())],
    );
    assert!(
        sent_requests(&h.outputs()).is_empty(),
        "no third REGISTER in the same attempt"
    );
    let state = carrier_state(&h);
    assert_eq!(state.registered, Some(false));
    assert!(state.last_error.unwrap().contains("credentials refused"));
}

#[test]
fn a_stale_nonce_is_answered_again_and_423_raises_the_interval() {
    let (mut h, first) = first_register("secret");
    carrier_answers(
        &mut h,
        &first,
        423,
        &[(HeaderName::MinExpires, "1800".into())],
    );
    let second = sent_to_carrier(&mut h, Method::Register);
    assert_eq!(
        header(&second.headers, &HeaderName::Expires).as_deref(),
        Some("1800")
    );
    let third = challenged(&mut h, &second);
    let stale = format!("{CHALLENGE}, stale=true");
    carrier_answers(&mut h, &third, 401, &[(HeaderName::WwwAuthenticate, stale)]);
    let fourth = sent_to_carrier(&mut h, Method::Register);
    assert_authorized(&fourth, "secret", 1);
    carrier_answers(&mut h, &fourth, 200, &[]);
    assert_eq!(carrier_state(&h).registered, Some(true));
}

#[test]
fn calls_from_a_registering_trunk_are_still_known_by_their_source() {
    let mut config = trunk_config(true, "secret", 60);
    config.trunk_accounts[0].from_domain = Some("carrier.example".into());
    let mut h = Harness::new(config);
    h.advance(Duration::ZERO);
    h.outputs();
    // An INVITE from the carrier's address: no challenge, a call from the trunk.
    h.recv(&invite("from-carrier", "t1", None), udp(CARRIER));
    let out = h.outputs();
    assert_eq!(Harness::sent_codes(&out), vec![100]);
    let call = incoming(&out).expect("an incoming call");
    assert_eq!(call.info.origin, Origin::Trunk("carrier".into()));
    assert_eq!(call.info.callee, "101", "the Request-URI's number");
    // Sent to our Contact (user `acct`): the number dialled is the To user.
    let to_contact = invite("to-contact", "t2", None)
        .replacen("INVITE sip:101@", "INVITE sip:acct@", 1)
        .replace("To: <sip:101@", "To: <sip:15550100@");
    h.recv(&to_contact, udp(CARRIER));
    let out = h.outputs();
    assert_eq!(
        incoming(&out).expect("a second call").info.callee,
        "15550100"
    );
    // Calls out through it carry its From domain.
    let target = Target::Trunk {
        name: "carrier".into(),
        number: "2000".into(),
    };
    h.ua.invite(&OutgoingCall::new(target, "1000", None), h.now)
        .unwrap();
    let (flow, invite) = sent_requests(&h.outputs()).remove(0);
    assert_eq!(flow.remote, CARRIER.parse().unwrap());
    let from = header(&invite.headers, &HeaderName::From).unwrap();
    assert!(
        from.starts_with("<sip:1000@carrier.example>;tag="),
        "{from}"
    );
}

#[test]
fn a_challenged_invite_through_a_trunk_is_sent_again_with_its_credentials() {
    let (mut h, register) = first_register("secret");
    carrier_answers(&mut h, &register, 200, &[]);
    h.outputs();
    let target = Target::Trunk {
        name: "carrier".into(),
        number: "2000".into(),
    };
    let offer = Some("v=0\r\n".to_owned());
    let id =
        h.ua.invite(
            &OutgoingCall::new(target.clone(), "1000", offer.clone()),
            h.now,
        )
        .unwrap();
    let first = sent_to_carrier(&mut h, Method::Invite);
    let challenge = CHALLENGE.replace("SHA-256", "MD5");
    carrier_answers(
        &mut h,
        &first,
        407,
        &[(HeaderName::ProxyAuthenticate, challenge.clone())],
    );
    let out = h.outputs();
    let sent = sent_requests(&out);
    let methods: Vec<_> = sent.iter().map(|(_, r)| r.method.clone()).collect();
    assert_eq!(
        methods,
        vec![Method::Ack, Method::Invite],
        "the 407 is ACKed, the INVITE resent"
    );
    let second = &sent[1].1;
    assert_eq!(msg::call_id(second), msg::call_id(&first));
    assert_eq!(msg::cseq_number(&second.headers), Some(2));
    assert_eq!(second.body(), first.body());
    assert_ne!(
        header(&second.headers, &HeaderName::Via),
        header(&first.headers, &HeaderName::Via),
        "a new branch"
    );
    let auth = header(&second.headers, &HeaderName::ProxyAuthorization).expect("credentials");
    let given = crate::digest::DigestResponse::parse(&auth).unwrap();
    let expected = respond(
        &Challenge::parse(challenge.as_bytes(), true).unwrap(),
        &Credentials::new("acct", "secret"),
        "INVITE",
        &first.uri.to_string(),
        1,
        given.cnonce.as_deref().unwrap(),
    );
    assert_eq!(
        Some(given.response),
        crate::digest::DigestResponse::parse(&expected).map(|e| e.response)
    );

    // Answered: the call goes on as any other.
    h.recv(
        &ok_for(second, PEER_OFFER).replace("CSeq: 1 INVITE", "CSeq: 2 INVITE"),
        udp(CARRIER),
    );
    let out = h.outputs();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(i, CallEvent::Answered { .. }) if *i == id)));

    // A second challenge to the same call means the credentials are refused.
    let id =
        h.ua.invite(&OutgoingCall::new(target, "1000", offer), h.now)
            .unwrap();
    let first = sent_to_carrier(&mut h, Method::Invite);
    carrier_answers(
        &mut h,
        &first,
        407,
        &[(HeaderName::ProxyAuthenticate, challenge.clone())],
    );
    let second = sent_to_carrier(&mut h, Method::Invite);
    carrier_answers(
        &mut h,
        &second,
        407,
        &[(HeaderName::ProxyAuthenticate, challenge)],
    );
    let out = h.outputs();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Event(i, CallEvent::Failed { code: 407 }) if *i == id)));
}

#[test]
fn unregistering_removes_the_binding_and_stops_refreshes() {
    let (mut h, first) = first_register("secret");
    let second = challenged(&mut h, &first);
    carrier_answers(&mut h, &second, 200, &[]);
    h.outputs();
    h.ua.unregister_trunks(h.now);
    let bye = sent_to_carrier(&mut h, Method::Register);
    assert_eq!(
        header(&bye.headers, &HeaderName::Expires).as_deref(),
        Some("0")
    );
    assert_authorized(&bye, "secret", 2);
    carrier_answers(&mut h, &bye, 200, &[]);
    assert_eq!(carrier_state(&h).registered, None);
    h.advance(Duration::from_secs(7200));
    assert!(
        sent_requests(&h.outputs()).is_empty(),
        "nothing after leaving"
    );
}

#[test]
fn an_unanswered_options_ping_takes_the_trunk_down_until_one_is_answered() {
    let mut h = Harness::new(trunk_config(false, "", 60));
    assert_eq!(carrier_state(&h).registered, None);
    h.advance(Duration::ZERO);
    let ping = sent_to_carrier(&mut h, Method::Options);
    carrier_answers(&mut h, &ping, 200, &[]);
    assert!(carrier_state(&h).is_up());

    h.advance(Duration::from_secs(60));
    sent_to_carrier(&mut h, Method::Options);
    for _ in 0..33 {
        h.advance(Duration::from_secs(1));
    }
    h.outputs();
    let state = carrier_state(&h);
    assert!(!state.reachable && !state.is_up());
    assert_eq!(state.last_error.as_deref(), Some("OPTIONS ping timed out"));

    // Any answer brings it back, even a refusal.
    h.advance(Duration::from_secs(27));
    let ping = sent_to_carrier(&mut h, Method::Options);
    carrier_answers(&mut h, &ping, 404, &[]);
    let state = carrier_state(&h);
    assert!(state.reachable && state.is_up() && state.last_error.is_none());
}
