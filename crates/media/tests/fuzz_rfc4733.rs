//! Fuzzing of RFC 4733 telephone-events: payload parsing with a write/re-parse round trip,
//! the receiver on arbitrary packet sequences, and generated digits read back by the
//! receiver. Property: nothing panics (arithmetic overflow included), round trips hold.
//! Budget and seed: see `switchboard_fuzz`.

use switchboard_fuzz::proptest::collection::vec;
use switchboard_fuzz::proptest::prelude::*;
use switchboard_fuzz::{corpus_inputs, ensure, fuzz, Dictionary, Input, Outcome};
use switchboard_media::dtmf::rfc4733::{self, EventPayload, Receiver};

const TOKENS: Dictionary = &[
    &[0x80],
    &[0x3F],
    &[0xBF],
    &[0xFF, 0xFF],
    &[0x00, 0x00],
    &[16],
];

fn corpus() -> Vec<Vec<u8>> {
    vec![
        vec![5, 0x0A, 0x00, 0xA0],
        vec![11, 0x8A, 0x03, 0x20],
        vec![16, 0x00, 0xFF, 0xFF],
        // With a redundant second event (RFC 4733 §2.5.1.4 style payloads are longer).
        vec![1, 0x8A, 0x06, 0x40, 2, 0x0A, 0x01, 0x40],
    ]
}

/// Crashes found by this target (none so far), replayed on every run.
const REGRESSIONS: &[&[u8]] = &[];

fn payload(raw: &[u8]) -> Outcome {
    let Some(event) = EventPayload::parse(raw) else {
        ensure!(raw.len() < 4, "a {}-byte payload did not parse", raw.len());
        return Ok(());
    };
    ensure!(
        event.volume <= 63,
        "volume {} does not fit 6 bits",
        event.volume
    );
    let mut written = Vec::new();
    event.write(&mut written);
    ensure!(written.len() == 4, "wrote {} bytes", written.len());
    ensure!(
        EventPayload::parse(&written) == Some(event),
        "write/parse round trip changed {event:?}"
    );
    if let Some(digit) = rfc4733::event_to_digit(event.event) {
        ensure!(
            rfc4733::digit_to_event(digit) == Some(event.event),
            "digit {digit} does not map back to event {}",
            event.event
        );
    }
    Ok(())
}

#[test]
fn rfc4733_payload() {
    for raw in REGRESSIONS {
        payload(raw).unwrap();
    }
    fuzz(
        "rfc4733_payload",
        corpus_inputs(corpus(), TOKENS),
        |input| payload(input.bytes()),
    );
}

/// Timestamp steps between packets: mostly the same event, sometimes a new or an old one.
fn ts_step() -> impl Strategy<Value = u32> {
    prop_oneof![6 => Just(0u32), 2 => Just(800u32), 1 => any::<u32>()]
}

#[test]
fn rfc4733_receiver() {
    let clock = prop_oneof![Just(8000u32), Just(0u32), Just(1u32), any::<u32>()];
    let packets = vec((ts_step(), corpus_inputs(corpus(), TOKENS)), 1..24);
    fuzz("rfc4733_receiver", (clock, packets), |(clock, packets)| {
        let mut receiver = Receiver::new(clock);
        let mut ts = 0u32;
        for (step, Input(raw)) in &packets {
            ts = ts.wrapping_add(*step);
            if let Some(digit) = receiver.on_packet(ts, raw) {
                ensure!(
                    rfc4733::digit_to_event(digit.digit).is_some(),
                    "reported a non-DTMF digit {digit:?}"
                );
            }
        }
        Ok(())
    });
}

/// Digits as sent (`digit_packets`) and read back by a receiver at the same clock rate:
/// exactly one digit, the one sent, once, however many end packets repeat it.
#[test]
fn rfc4733_generate() {
    let digit = prop_oneof![
        4 => prop::sample::select("0123456789*#ABCDabcd".chars().collect::<Vec<_>>()),
        1 => any::<char>(),
    ];
    let duration = prop_oneof![Just(0u32), Just(100u32), 0u32..10_000, any::<u32>()];
    let clock = prop_oneof![
        4 => Just(8000u32),
        2 => Just(48_000u32),
        1 => Just(0u32),
        1 => 1u32..100,
        2 => any::<u32>(),
    ];
    fuzz(
        "rfc4733_generate",
        (digit, duration, clock, any::<u32>()),
        |(digit, duration_ms, clock_rate, ts)| {
            let Some(packets) = rfc4733::digit_packets(digit, duration_ms, clock_rate) else {
                ensure!(
                    rfc4733::digit_to_event(digit).is_none() || clock_rate == 0,
                    "no packets for {digit:?} at {clock_rate} Hz"
                );
                return Ok(());
            };
            ensure!(
                packets.first().is_some_and(|p| p.marker),
                "first packet without marker"
            );
            let mut receiver = Receiver::new(clock_rate);
            let mut heard = Vec::new();
            // A long digit at a low clock rate is tens of thousands of packets: feed the
            // first ones and the ends, as if the middle were lost (the receiver must cope).
            let ends = packets.len().saturating_sub(3);
            for packet in packets.iter().take(50.min(ends)).chain(&packets[ends..]) {
                heard.extend(receiver.on_packet(ts, &packet.payload));
            }
            ensure!(
                heard.len() == 1 && heard[0].digit == digit.to_ascii_uppercase(),
                "sent {digit:?} for {duration_ms} ms at {clock_rate} Hz, heard {heard:?}"
            );
            Ok(())
        },
    );
}
