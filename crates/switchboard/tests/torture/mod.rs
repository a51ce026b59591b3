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
    match answer {
        _ if expect.allows(answer.map(|r| r.status)) => Ok(()),
        Some(r) => Err(format!(
            "expected {expect:?}, got:\n{}",
            r.raw.lines().take(3).collect::<Vec<_>>().join("\n")
        )),
        None => Err(format!("expected {expect:?}, got no answer")),
    }
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
        udp.send(&vector.with_own_branches("u"));
        let answer = udp.recv_final(wait_for(vector.expect));
        if let Err(why) = judge(vector.expect, answer.as_ref()) {
            failures.push(format!("{} over UDP: {why}", vector.name));
        }

        if vector.valid {
            let mut tcp = TcpClient::connect(server.sip_addr());
            tcp.send(&vector.with_own_branches("t"));
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
