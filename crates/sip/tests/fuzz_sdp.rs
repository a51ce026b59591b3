//! Fuzzing of SDP parsing and offer/answer. Property: nothing panics; a parsed description
//! written back (`Display`) parses to the same description; an answer only picks offered
//! formats, answers the offered direction and round-trips too. Budget and seed: see
//! `switchboard_fuzz`.

use std::net::SocketAddr;

use switchboard_fuzz::proptest::prelude::*;
use switchboard_fuzz::{corpus_inputs, ensure, fuzz, Dictionary, Outcome};
use switchboard_sip::sdp::Sdp;

const SDP_TOKENS: Dictionary = &[
    b"\r\n",
    b"\n",
    b" ",
    b"=",
    b":",
    b"/",
    b"v=0\r\n",
    b"o=- 1 1 IN IP4 10.0.0.1\r\n",
    b"c=IN IP4 ",
    b"c=IN IP6 ",
    b"m=audio ",
    b"m=video 0 RTP/AVP 96\r\n",
    b" RTP/AVP ",
    b"a=rtpmap:",
    b"a=fmtp:",
    b"a=ptime:",
    b"a=sendonly\r\n",
    b"a=recvonly\r\n",
    b"a=inactive\r\n",
    b"telephone-event/8000",
    b"opus/48000/2",
    b"PCMU/8000",
    b"::1",
    b"::ffff:10.0.0.1",
    b"255.255.255.255",
    b"/127",
];

const OFFER: &str = "v=0\r\no=- 3890 3891 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

const OPUS: &str = "v=0\r\no=alice 1 2 IN IP6 2001:db8::1\r\ns= \r\nt=0 0\r\na=sendonly\r\n\
m=audio 5004/2 RTP/SAVP 111 96 97 0\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 useinbandfec=1; minptime=10\r\na=rtpmap:96 L16/16000\r\na=rtpmap:97 L16/8000/1\r\n";

const TWO_STREAMS: &str =
    "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\n\
m=video 51372 RTP/AVP 99\r\na=rtpmap:99 h263-1998/90000\r\na=inactive\r\n\
m=audio 0 RTP/AVP 8\r\nc=IN IP4 10.0.0.1\r\na=recvonly\r\nm=audio 2000 RTP/AVP 0\r\n";

/// What switchboard itself writes.
fn own_offer() -> String {
    let local: SocketAddr = "127.0.0.1:4000".parse().expect("literal address");
    Sdp::offer(
        &[
            "PCMU",
            "PCMA",
            "G722",
            "L16",
            "L16/16000",
            "opus",
            "telephone-event",
        ],
        local,
        42,
    )
    .to_string()
}

fn corpus() -> Vec<Vec<u8>> {
    [
        OFFER.to_owned(),
        OPUS.to_owned(),
        TWO_STREAMS.to_owned(),
        own_offer(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

/// Crashes and round-trip failures found by this target, replayed on every run.
const REGRESSIONS: &[&[u8]] = &[];

fn sdp(text: &str, allowed: &[&str]) -> Outcome {
    let Ok(offer) = Sdp::parse(text) else {
        return Ok(());
    };
    let _ = (
        offer.rtp_addr(),
        offer.audio_format(),
        offer.telephone_event(),
    );
    let written = offer.to_string();
    let again = Sdp::parse(&written);
    ensure!(
        again.as_ref() == Ok(&offer),
        "round trip changed {offer:?}\ninto {again:?}\nvia {written:?}"
    );
    let local: SocketAddr = "[::1]:5000".parse().expect("literal address");
    if let Some(answer) = offer.answer(allowed, local, 7) {
        ensure!(
            answer.formats.iter().all(|f| offer.formats.contains(f)),
            "answer {answer:?} has formats the offer {offer:?} lacks"
        );
        ensure!(
            answer.direction == offer.direction.answer(),
            "answered {:?} with {:?}",
            offer.direction,
            answer.direction
        );
        let again = Sdp::parse(&answer.to_string());
        ensure!(
            again.as_ref() == Ok(&answer),
            "answer round trip gave {again:?}"
        );
    }
    Ok(())
}

#[test]
fn corpus_is_valid() {
    for raw in corpus() {
        let text = String::from_utf8(raw).expect("corpus is text");
        assert!(Sdp::parse(&text).is_ok(), "{text}");
    }
}

#[test]
fn sdp_parse_and_answer() {
    for raw in REGRESSIONS {
        sdp(&String::from_utf8_lossy(raw), &["PCMU", "telephone-event"]).unwrap();
    }
    const CODECS: &[&str] = &[
        "PCMU",
        "PCMA",
        "G722",
        "L16/16000",
        "opus",
        "telephone-event",
    ];
    let allowed = prop::sample::subsequence(CODECS, 0..=CODECS.len());
    fuzz(
        "sdp",
        (corpus_inputs(corpus(), SDP_TOKENS), allowed),
        |(input, allowed)| sdp(&input.text(), &allowed),
    );
}
