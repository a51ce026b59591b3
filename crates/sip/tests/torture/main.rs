//! RFC 4475 torture vectors (tests/torture/) through the parser and `validate::check_request`.
//!
//! Each vector names the final answer the RFC asks of a UAS like switchboard. Here we assert
//! the part that is this crate's: what does not parse is a 400 (or dropped, for responses),
//! what parses gets the RFC's code from `check_request` when it is one of the §8.2 codes, and
//! passes `check_request` when the answer belongs to a later stage (401 from the registrar,
//! 407/200/404 for valid requests). Nothing may panic.

// Shared with ua.rs's tests and the end-to-end test, which also send the vectors.
#[allow(dead_code)]
mod vectors;

use std::path::Path;

use bytes::Bytes;
use sipx_sip::{parse_datagram, Limits, Message};
use switchboard_sip::validate::check_request;
use vectors::{Expect, Vector};

/// The codes `check_request` itself produces.
const CHECK_CODES: &[u16] = &[400, 405, 406, 415, 416, 420, 483, 501, 505];

fn vectors() -> Vec<Vector> {
    vectors::all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torture"))
}

#[test]
fn the_corpus_is_complete() {
    let all = vectors();
    assert_eq!(all.len(), 49, "13 valid, 19 invalid, 17 semantic messages");
    assert_eq!(all.iter().filter(|v| v.valid).count(), 13);
    assert!(all.iter().all(|v| v.bytes.windows(2).any(|w| w == b"\r\n")));
}

#[test]
fn every_vector_gets_the_rfc_answer_from_parser_and_checks() {
    let mut failures = Vec::new();
    for vector in vectors() {
        let parsed = parse_datagram(Bytes::from(vector.bytes.clone()), &Limits::datagram());
        let got = match &parsed {
            // What does not frame is answered 400 if it is a request (stack: bad_request).
            Err(_) if vector.bytes.starts_with(b"SIP/") => Expect::Drop,
            Err(_) => Expect::Code(400),
            Ok(Message::Response(_)) => Expect::Drop,
            Ok(Message::Request(request)) => match check_request(request) {
                Err(rejection) => Expect::Code(rejection.code),
                Ok(()) => Expect::Accept,
            },
        };
        let ok = match vector.expect {
            Expect::Code(code) if CHECK_CODES.contains(&code) => got == Expect::Code(code),
            // Answered by a later stage (the registrar's 401): our checks must let it by.
            Expect::Code(_) => got == Expect::Accept,
            Expect::Accept => !matches!(got, Expect::Code(400) | Expect::Drop),
            Expect::Drop => got == Expect::Drop,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {got:?} (parse: {:?})",
                vector.name,
                vector.expect,
                parsed.as_ref().err()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
