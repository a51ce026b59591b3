//! Fuzzing of RTP and RTCP: packet parsing with write/re-parse round trips, and packet
//! sequences through the receive path (statistics, relay continuity, jitter buffer).
//! Property: nothing panics (arithmetic overflow included: tests build with debug
//! assertions), round trips hold. Budget and seed: see `switchboard_fuzz`.

use switchboard_fuzz::proptest::collection::vec;
use switchboard_fuzz::proptest::prelude::*;
use switchboard_fuzz::{corpus_inputs, ensure, fuzz, Dictionary, Outcome};
use switchboard_media::jitter_buffer::JitterBuffer;
use switchboard_media::rtcp::{self, ReportBlock, RtcpPacket, SenderInfo};
use switchboard_media::rtp::{self, OutStream, RtpHeader};
use switchboard_media::stats::RxStats;

/// Edge values of the binary formats, inserted as whole words.
const BINARY_TOKENS: Dictionary = &[
    &[0x80],
    &[0x90],
    &[0xA0],
    &[0xBF],
    &[0x00, 0x00],
    &[0xFF, 0xFF],
    &[0x7F, 0xFF, 0xFF, 0xFF],
    &[0x80, 0x00, 0x00, 0x00],
    &[0xFF, 0xFF, 0xFF, 0xFF],
    &[0xBE, 0xDE, 0x00, 0x01],
    &[0x81, 200, 0x00, 0x0C],
    &[0x81, 201, 0x00, 0x07],
    &[0x81, 202, 0x00, 0x02],
];

fn header(marker: bool, payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32) -> RtpHeader {
    RtpHeader {
        marker,
        payload_type,
        sequence,
        timestamp,
        ssrc,
    }
}

fn rtp_corpus() -> Vec<Vec<u8>> {
    let mut plain = Vec::new();
    rtp::write(
        &header(true, 0, 1, 160, 0x1234_5678),
        &[0xFF; 160],
        &mut plain,
    );
    let mut dtmf = Vec::new();
    rtp::write(
        &header(false, 101, 65535, u32::MAX, 1),
        &[5, 0x8A, 0x03, 0x20],
        &mut dtmf,
    );
    // Two CSRCs, a one-word header extension and three bytes of padding.
    let mut full = vec![0xB2, 0x08, 0x00, 0x02, 0, 0, 0, 160, 0xCA, 0xFE, 0xBA, 0xBE];
    full.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    full.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0, 0]);
    full.extend_from_slice(&[0xD5; 20]);
    full.extend_from_slice(&[0, 0, 3]);
    vec![plain, dtmf, full, vec![0x80, 0x00]]
}

/// Crashes found by these targets (none so far), replayed on every run.
const RTP_REGRESSIONS: &[&[u8]] = &[];
const RTCP_REGRESSIONS: &[&[u8]] = &[];

fn rtp_packet(raw: &[u8]) -> Outcome {
    let _ = rtp::is_rtcp(raw);
    let Ok(packet) = rtp::parse(raw) else {
        return Ok(());
    };
    ensure!(packet.header_len >= 12, "header_len {}", packet.header_len);
    ensure!(
        packet.header_len + packet.payload.len() <= raw.len(),
        "payload runs past the packet"
    );
    // Written back without CSRC, extension and padding: the same header and payload.
    let mut written = Vec::new();
    rtp::write(&packet.header, packet.payload, &mut written);
    let again = rtp::parse(&written);
    ensure!(
        again.map(|p| (p.header, p.payload)) == Ok((packet.header, packet.payload)),
        "write/parse round trip changed {:?} into {again:?}",
        packet.header
    );
    // Rewritten in place: the new header, the payload untouched.
    let new = header(
        !packet.header.marker,
        packet.header.payload_type ^ 1,
        packet.header.sequence.wrapping_add(1),
        packet.header.timestamp.wrapping_add(160),
        !packet.header.ssrc,
    );
    let mut rewritten = raw.to_vec();
    ensure!(
        rtp::rewrite_header(&mut rewritten, &new).is_ok(),
        "rewrite refused a parsed packet"
    );
    let again = rtp::parse(&rewritten);
    ensure!(
        again.map(|p| (p.header, p.payload)) == Ok((new, packet.payload)),
        "rewrite_header round trip gave {again:?}"
    );
    Ok(())
}

#[test]
fn rtp_packet_parse() {
    for raw in RTP_REGRESSIONS {
        rtp_packet(raw).unwrap();
    }
    fuzz(
        "rtp_packet",
        corpus_inputs(rtp_corpus(), BINARY_TOKENS),
        |input| rtp_packet(input.bytes()),
    );
}

/// One arriving packet of a generated stream.
#[derive(Debug, Clone)]
struct Arrival {
    seq_step: u16,
    ts_step: u32,
    /// Index into a few SSRCs, so streams switch source now and then.
    ssrc: u8,
    marker: bool,
    /// Milliseconds since the previous arrival.
    delay_ms: u16,
}

fn arrival() -> impl Strategy<Value = Arrival> {
    let seq_step = prop_oneof![
        8 => Just(1u16),
        4 => 0u16..8,
        2 => (1u16..200).prop_map(u16::wrapping_neg),
        1 => any::<u16>(),
    ];
    let ts_step = prop_oneof![
        8 => Just(160u32),
        2 => Just(0u32),
        2 => 0u32..4000,
        1 => any::<u32>(),
    ];
    let ssrc = prop_oneof![10 => Just(0u8), 1 => 0u8..3];
    let delay = prop_oneof![8 => 15u16..25, 2 => Just(0u16), 1 => any::<u16>()];
    (seq_step, ts_step, ssrc, any::<bool>(), delay).prop_map(
        |(seq_step, ts_step, ssrc, marker, delay_ms)| Arrival {
            seq_step,
            ts_step,
            ssrc,
            marker,
            delay_ms,
        },
    )
}

/// Feeds a packet sequence through the receive path as the media engine does, with a
/// 20 ms playout tick. Checks what the wire format needs (24-bit loss) and that relayed
/// packets carry our SSRC and consecutive sequence numbers within one source.
fn receive_path(start: (u16, u32), arrivals: &[Arrival]) -> Outcome {
    const SSRCS: [u32; 3] = [0x1111, 0x2222, u32::MAX];
    const OUR_SSRC: u32 = 0xABCD;
    let mut stats = RxStats::new(8000);
    let mut out = OutStream::new(OUR_SSRC, 65_000, u32::MAX - 500);
    let mut jitter = JitterBuffer::new(8000, 160, 160);
    let (mut seq, mut ts) = start;
    let mut now = 0u64;
    let mut tick = 0u64;
    let mut previous: Option<(RtpHeader, RtpHeader)> = None;
    for a in arrivals {
        seq = seq.wrapping_add(a.seq_step);
        ts = ts.wrapping_add(a.ts_step);
        now += u64::from(a.delay_ms);
        let src = header(
            a.marker,
            0,
            seq,
            ts,
            SSRCS[usize::from(a.ssrc) % SSRCS.len()],
        );
        stats.on_packet(&src, 160, now);
        let relayed = out.relay(&src, 0);
        ensure!(relayed.ssrc == OUR_SSRC, "relay kept the source SSRC");
        if let Some((prev_src, prev_out)) = previous {
            if prev_src.ssrc == src.ssrc && src.sequence == prev_src.sequence.wrapping_add(1) {
                ensure!(
                    relayed.sequence == prev_out.sequence.wrapping_add(1),
                    "relay broke sequence continuity: {prev_src:?}->{src:?} gave {prev_out:?}->{relayed:?}"
                );
            }
        }
        previous = Some((src, relayed));
        jitter.push(seq, ts, now, vec![0; 160]);
        // Playout ticks up to now; after a long gap the clock jumps (a stalled media
        // thread), which also keeps a case from spending its time on silence.
        for _ in 0..50 {
            if tick + 20 > now {
                break;
            }
            tick += 20;
            let frame = jitter.pop(tick);
            ensure!(
                frame.samples.len() == 160,
                "frame of {} samples",
                frame.samples.len()
            );
        }
        tick = tick.max(now - now % 20);
        if a.seq_step == 7 {
            if let Some(block) = stats.report_block() {
                ensure!(
                    (-0x80_0000..=0x7F_FFFF).contains(&block.cumulative_lost),
                    "cumulative loss {} does not fit 24 bits",
                    block.cumulative_lost
                );
                let _ = rtcp::round_trip_time(now as u32, &block);
            }
        }
        let _ = (stats.lost(), stats.fraction_lost(), stats.jitter_seconds());
        let _ = jitter.stats();
    }
    Ok(())
}

#[test]
fn rtp_receive_path() {
    let streams = (any::<(u16, u32)>(), vec(arrival(), 1..80));
    fuzz("rtp_receive_path", streams, |(start, arrivals)| {
        receive_path(start, &arrivals)
    });
}

fn rtcp_corpus() -> Vec<Vec<u8>> {
    let block = ReportBlock {
        ssrc: 0x1234,
        fraction_lost: 12,
        cumulative_lost: -3,
        highest_seq: 70_000,
        jitter: 44,
        lsr: 0xDEAD_BEEF,
        dlsr: 65536,
    };
    let info = SenderInfo {
        ntp_sec: 3_900_000_000,
        ntp_frac: 1 << 31,
        rtp_ts: 160,
        packet_count: 50,
        octet_count: 8000,
    };
    let mut sr = Vec::new();
    rtcp::write_sender_report(1, &info, &[block], &mut sr);
    rtcp::write_sdes_cname(1, "switchboard@127.0.0.1", &mut sr);
    let mut rr = Vec::new();
    rtcp::write_receiver_report(2, &[block, ReportBlock::default()], &mut rr);
    rtcp::write_sdes_cname(2, "", &mut rr);
    let mut empty_rr = Vec::new();
    rtcp::write_receiver_report(3, &[], &mut empty_rr);
    // BYE with padding.
    let bye = vec![0xA1, 203, 0x00, 0x02, 0, 0, 0, 3, 0, 0, 0, 4];
    vec![sr, rr, empty_rr, bye]
}

fn rtcp_compound(raw: &[u8]) -> Outcome {
    let packets = rtcp::parse_compound(raw);
    // The reports re-written in order parse back to the same reports.
    let mut written = Vec::new();
    let mut reports = Vec::new();
    let mut stats = RxStats::new(8000);
    for packet in &packets {
        match packet {
            RtcpPacket::SenderReport {
                ssrc,
                ntp_sec,
                ntp_frac,
                rtp_ts,
                packet_count,
                octet_count,
                reports: blocks,
            } => {
                let info = SenderInfo {
                    ntp_sec: *ntp_sec,
                    ntp_frac: *ntp_frac,
                    rtp_ts: *rtp_ts,
                    packet_count: *packet_count,
                    octet_count: *octet_count,
                };
                rtcp::write_sender_report(*ssrc, &info, blocks, &mut written);
                reports.push(packet.clone());
                stats.on_sender_report(*ntp_sec, *ntp_frac, 1000);
                for block in blocks {
                    let rtt = rtcp::round_trip_time(rtcp::compact_ntp(*ntp_sec, *ntp_frac), block);
                    ensure!(rtt.is_none_or(|s| s >= 0.0), "negative round trip {rtt:?}");
                }
            }
            RtcpPacket::ReceiverReport {
                ssrc,
                reports: blocks,
            } => {
                rtcp::write_receiver_report(*ssrc, blocks, &mut written);
                reports.push(packet.clone());
            }
            RtcpPacket::Other => {}
        }
    }
    let again = rtcp::parse_compound(&written);
    ensure!(
        again == reports,
        "write/parse round trip changed {reports:?} into {again:?}"
    );
    Ok(())
}

#[test]
fn rtcp_compound_parse() {
    for raw in RTCP_REGRESSIONS {
        rtcp_compound(raw).unwrap();
    }
    fuzz(
        "rtcp_compound",
        corpus_inputs(rtcp_corpus(), BINARY_TOKENS),
        |input| rtcp_compound(input.bytes()),
    );
}
