//! RFC 4475 torture messages (crates/sip/tests/torture/) sent to a running server: each gets
//! the RFC's answer (or none, for the responses it must drop), and the server keeps answering.

#[path = "../../../sip/tests/torture/vectors.rs"]
mod vectors;

use std::path::Path;
use std::time::Duration;

use crate::support::server::Server;
use crate::support::sip::{SipResponse, TcpClient, UdpClient};
use vectors::{Expect, Vector};

/// Time for an answer the RFC asks for.
const ANSWER: Duration = Duration::from_secs(2);
/// Time in which a dropped message must stay unanswered.
const SILENCE: Duration = Duration::from_millis(500);

fn vectors() -> Vec<Vector> {
    vectors::all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/torture"))
}

/// Whether `answer` is what `expect` allows; the reason when it is not.
fn judge(expect: Expect, answer: Option<&SipResponse>) -> Result<(), String> {
    match (expect, answer) {
        (Expect::Drop, None) => Ok(()),
        (Expect::Drop, Some(r)) => Err(format!("expected no answer, got {}", r.status)),
        (Expect::Code(code), Some(r)) if r.status == code => Ok(()),
        (Expect::Accept, Some(r)) if r.status != 400 && (r.status < 500 || r.status == 501) => {
            Ok(())
        }
        (_, Some(r)) => Err(format!(
            "expected {expect:?}, got:\n{}",
            r.raw.lines().take(3).collect::<Vec<_>>().join("\n")
        )),
        (_, None) => Err(format!("expected {expect:?}, got no answer")),
    }
}

/// The vector with its Via branches made its own. The RFC's messages share branches
/// (`z9hG4bKkdjuw` with the same sent-by in cparam01/cparam02 and escnull/regescrt), and
/// the TCP copy would repeat the UDP one's: the server rightly takes such a request for a
/// retransmission and answers the first sender. Our mark goes after the magic cookie, so
/// RFC 3261 branches stay so and RFC 2543 ones (`390skdjuw`) stay legacy; a request without
/// any branch (longreq) is matched by RFC 2543's fields, so its Call-ID is marked too.
/// `badbranch` is about its branch: kept.
fn unique_branches(vector: &Vector, transport: &str) -> Vec<u8> {
    const BRANCH: &[u8] = b"branch=";
    const COOKIE: &[u8] = b"z9hG4bK";
    if vector.name == "badbranch" {
        return vector.bytes.clone();
    }
    let mark = format!("{}{transport}", vector.name);
    let mut out = Vec::with_capacity(vector.bytes.len() + 64);
    let mut rest = vector.bytes.as_slice();
    while let Some(at) = rest.windows(BRANCH.len()).position(|w| w == BRANCH) {
        let mut keep = at + BRANCH.len();
        if rest[keep..].starts_with(COOKIE) {
            keep += COOKIE.len();
        }
        out.extend_from_slice(&rest[..keep]);
        out.extend_from_slice(mark.as_bytes());
        rest = &rest[keep..];
    }
    out.extend_from_slice(rest);
    mark_call_id(out, &mark)
}

/// `mark` put in front of the first `Call-ID` header's value.
fn mark_call_id(message: Vec<u8>, mark: &str) -> Vec<u8> {
    let lower = message.to_ascii_lowercase();
    let Some(name) = lower.windows(9).position(|w| w == b"\r\ncall-id") else {
        return message;
    };
    let Some(colon) = lower[name..].iter().position(|&b| b == b':') else {
        return message;
    };
    let at = name + colon + 1;
    let mut out = message[..at].to_vec();
    out.extend_from_slice(format!(" {mark}").as_bytes());
    out.extend_from_slice(message[at..].trim_ascii_start());
    out
}

fn wait_for(expect: Expect) -> Duration {
    if expect == Expect::Drop {
        SILENCE
    } else {
        ANSWER
    }
}

#[test]
fn rfc4475_messages_get_the_rfc_answers_and_the_server_survives() {
    let mut server = Server::start("torture");
    let mut failures = Vec::new();

    for vector in vectors() {
        // A socket per message, so a late answer cannot be taken for the next one's.
        let udp = UdpClient::new(server.sip_addr());
        udp.send(&unique_branches(&vector, "u"));
        let answer = udp.recv_final(wait_for(vector.expect));
        if let Err(why) = judge(vector.expect, answer.as_ref()) {
            failures.push(format!("{} over UDP: {why}", vector.name));
        }

        if vector.valid {
            let mut tcp = TcpClient::connect(server.sip_addr());
            tcp.send(&unique_branches(&vector, "t"));
            // Exchanging nothing reads the next final response off the connection.
            let answer = tcp.exchange("", wait_for(vector.expect));
            if let Err(why) = judge(vector.expect, answer.as_ref()) {
                failures.push(format!("{} over TCP: {why}", vector.name));
            }
        }
    }

    server.assert_running();
    let udp = UdpClient::new(server.sip_addr());
    assert_eq!(
        udp.options(ANSWER).map(|r| r.status),
        Some(200),
        "OPTIONS over UDP after the torture"
    );
    let mut tcp = TcpClient::connect(server.sip_addr());
    assert_eq!(
        tcp.options(ANSWER).map(|r| r.status),
        Some(200),
        "OPTIONS over TCP after the torture"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
