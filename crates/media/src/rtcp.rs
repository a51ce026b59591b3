//! RTCP sender/receiver reports and SDES CNAME (RFC 3550 section 6).
//!
//! Hand-written: only SR, RR and SDES CNAME are needed, each a few fixed
//! fields, and the parser must tolerate arbitrary bytes from the network.

use std::time::Duration;

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const SDES_CNAME: u8 = 1;
/// Report blocks fit a 5-bit count.
const MAX_REPORTS: usize = 31;
const REPORT_BLOCK_LEN: usize = 24;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A reception report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in RTP clock units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received (0 if none).
    pub lsr: u32,
    /// Delay since that SR in 1/65536 s.
    pub dlsr: u32,
}

/// Sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    pub ntp_sec: u32,
    pub ntp_frac: u32,
    pub rtp_ts: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    SenderReport {
        ssrc: u32,
        ntp_sec: u32,
        ntp_frac: u32,
        rtp_ts: u32,
        packet_count: u32,
        octet_count: u32,
        reports: Vec<ReportBlock>,
    },
    ReceiverReport {
        ssrc: u32,
        reports: Vec<ReportBlock>,
    },
    /// Any other packet type (SDES, BYE, APP, feedback, XR).
    Other,
}

fn be32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn parse_blocks(body: &[u8], count: usize) -> Option<Vec<ReportBlock>> {
    let blocks = body.get(..count * REPORT_BLOCK_LEN)?;
    blocks
        .chunks_exact(REPORT_BLOCK_LEN)
        .map(|b| {
            let lost = be32(b, 4)?;
            // Sign-extend the 24-bit cumulative loss.
            let cumulative_lost = ((lost << 8) as i32) >> 8;
            Some(ReportBlock {
                ssrc: be32(b, 0)?,
                fraction_lost: (lost >> 24) as u8,
                cumulative_lost,
                highest_seq: be32(b, 8)?,
                jitter: be32(b, 12)?,
                lsr: be32(b, 16)?,
                dlsr: be32(b, 20)?,
            })
        })
        .collect()
}

/// Parses one packet's body (after the 4-byte common header).
fn parse_one(packet_type: u8, count: usize, body: &[u8]) -> Option<RtcpPacket> {
    match packet_type {
        PT_SR => Some(RtcpPacket::SenderReport {
            ssrc: be32(body, 0)?,
            ntp_sec: be32(body, 4)?,
            ntp_frac: be32(body, 8)?,
            rtp_ts: be32(body, 12)?,
            packet_count: be32(body, 16)?,
            octet_count: be32(body, 20)?,
            reports: parse_blocks(body.get(24..)?, count)?,
        }),
        PT_RR => Some(RtcpPacket::ReceiverReport {
            ssrc: be32(body, 0)?,
            reports: parse_blocks(body.get(4..)?, count)?,
        }),
        _ => Some(RtcpPacket::Other),
    }
}

/// Parses a compound RTCP datagram. Stops at the first malformed packet,
/// returning the packets parsed before it. Never panics.
pub fn parse_compound(buf: &[u8]) -> Vec<RtcpPacket> {
    let mut packets = Vec::new();
    let mut rest = buf;
    while let [b0, packet_type, l0, l1, ..] = *rest {
        if b0 >> 6 != 2 {
            break;
        }
        let len = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        let Some(packet) = rest.get(..len) else {
            break;
        };
        let mut body = &packet[4..];
        if b0 & 0x20 != 0 {
            let pad = usize::from(*body.last().unwrap_or(&0));
            if pad == 0 || pad > body.len() {
                break;
            }
            body = &body[..body.len() - pad];
        }
        let Some(parsed) = parse_one(packet_type, usize::from(b0 & 0x1F), body) else {
            break;
        };
        packets.push(parsed);
        rest = &rest[len..];
    }
    packets
}

/// Appends a common header; the length is patched by `finish`.
fn start(out: &mut Vec<u8>, count: usize, packet_type: u8) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0x80 | count as u8, packet_type, 0, 0]);
    at
}

/// Patches the length (in 32-bit words minus one) of the packet at `at`.
fn finish(out: &mut [u8], at: usize) {
    let words = ((out.len() - at) / 4 - 1) as u16;
    out[at + 2..at + 4].copy_from_slice(&words.to_be_bytes());
}

fn put_blocks(out: &mut Vec<u8>, reports: &[ReportBlock]) {
    for r in reports {
        out.extend_from_slice(&r.ssrc.to_be_bytes());
        let lost = (r.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF;
        out.extend_from_slice(&((u32::from(r.fraction_lost) << 24) | lost).to_be_bytes());
        for v in [r.highest_seq, r.jitter, r.lsr, r.dlsr] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// Appends a sender report. At most 31 report blocks are written.
pub fn write_sender_report(
    ssrc: u32,
    info: &SenderInfo,
    reports: &[ReportBlock],
    out: &mut Vec<u8>,
) {
    let reports = &reports[..reports.len().min(MAX_REPORTS)];
    let at = start(out, reports.len(), PT_SR);
    for v in [
        ssrc,
        info.ntp_sec,
        info.ntp_frac,
        info.rtp_ts,
        info.packet_count,
        info.octet_count,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    put_blocks(out, reports);
    finish(out, at);
}

/// Appends a receiver report. At most 31 report blocks are written.
pub fn write_receiver_report(ssrc: u32, reports: &[ReportBlock], out: &mut Vec<u8>) {
    let reports = &reports[..reports.len().min(MAX_REPORTS)];
    let at = start(out, reports.len(), PT_RR);
    out.extend_from_slice(&ssrc.to_be_bytes());
    put_blocks(out, reports);
    finish(out, at);
}

/// Appends an SDES packet with one chunk carrying a CNAME item (truncated
/// to 255 bytes), which every compound RTCP packet must include.
pub fn write_sdes_cname(ssrc: u32, cname: &str, out: &mut Vec<u8>) {
    let name = &cname.as_bytes()[..cname.len().min(255)];
    let at = start(out, 1, PT_SDES);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&[SDES_CNAME, name.len() as u8]);
    out.extend_from_slice(name);
    // End-of-items null octet, then pad the chunk to a 32-bit boundary.
    out.push(0);
    while !(out.len() - at).is_multiple_of(4) {
        out.push(0);
    }
    finish(out, at);
}

/// NTP timestamp (seconds, fraction) for a time given as a duration since
/// the Unix epoch, e.g. `SystemTime::now().duration_since(UNIX_EPOCH)`.
pub fn ntp_timestamp(since_unix_epoch: Duration) -> (u32, u32) {
    let secs = since_unix_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET) as u32;
    let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs, frac as u32)
}

/// The middle 32 bits of an NTP timestamp, as used in LSR and for RTT.
pub fn compact_ntp(ntp_sec: u32, ntp_frac: u32) -> u32 {
    (ntp_sec << 16) | (ntp_frac >> 16)
}

/// Round-trip time in seconds from a report block about our stream,
/// received at `arrival` (compact NTP): arrival - LSR - DLSR. `None` when
/// the block carries no LSR or the result would be negative.
pub fn round_trip_time(arrival: u32, block: &ReportBlock) -> Option<f64> {
    if block.lsr == 0 {
        return None;
    }
    let rtt = arrival.wrapping_sub(block.lsr).wrapping_sub(block.dlsr);
    (rtt < 0x8000_0000).then(|| f64::from(rtt) / 65536.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32, lost: i32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 25,
            cumulative_lost: lost,
            highest_seq: 0x0001_0010,
            jitter: 42,
            lsr: 0x1234_5678,
            dlsr: 65536,
        }
    }

    #[test]
    fn sr_and_sdes_compound_round_trip() {
        let info = SenderInfo {
            ntp_sec: 0xE000_0000,
            ntp_frac: 0x8000_0000,
            rtp_ts: 160_000,
            packet_count: 1000,
            octet_count: 160_000,
        };
        let mut buf = Vec::new();
        write_sender_report(7, &info, &[block(9, -3), block(10, 0x7F_FFFF)], &mut buf);
        assert_eq!(buf.len(), 28 + 2 * 24);
        assert_eq!(&buf[..4], &[0x82, 200, 0, 18]);
        write_sdes_cname(7, "switchboard@example", &mut buf);
        assert_eq!(buf.len() % 4, 0);
        let parsed = parse_compound(&buf);
        assert_eq!(
            parsed,
            vec![
                RtcpPacket::SenderReport {
                    ssrc: 7,
                    ntp_sec: 0xE000_0000,
                    ntp_frac: 0x8000_0000,
                    rtp_ts: 160_000,
                    packet_count: 1000,
                    octet_count: 160_000,
                    reports: vec![block(9, -3), block(10, 0x7F_FFFF)],
                },
                RtcpPacket::Other,
            ]
        );
        assert!(crate::rtp::is_rtcp(&buf));
    }

    #[test]
    fn rr_round_trip_and_clamping() {
        let mut buf = Vec::new();
        write_receiver_report(1, &[], &mut buf);
        assert_eq!(buf, [0x80, 201, 0, 1, 0, 0, 0, 1]);
        buf.clear();
        write_receiver_report(1, &[block(2, -10_000_000)], &mut buf);
        write_sdes_cname(1, "abc", &mut buf);
        let parsed = parse_compound(&buf);
        assert_eq!(
            parsed[0],
            RtcpPacket::ReceiverReport {
                ssrc: 1,
                reports: vec![block(2, -0x80_0000)],
            }
        );
        assert_eq!(parsed.len(), 2);
        // At most 31 blocks.
        buf.clear();
        write_receiver_report(1, &[block(2, 0); 40], &mut buf);
        match &parse_compound(&buf)[0] {
            RtcpPacket::ReceiverReport { reports, .. } => assert_eq!(reports.len(), 31),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sdes_padding() {
        for len in 0..10 {
            let mut buf = Vec::new();
            write_sdes_cname(5, &"x".repeat(len), &mut buf);
            assert_eq!(buf.len() % 4, 0);
            // Header + SSRC + type + length + text + at least one null.
            assert!(buf.len() > 8 + 2 + len);
            assert_eq!(usize::from(buf[3]) * 4 + 4, buf.len());
        }
        let mut buf = Vec::new();
        write_sdes_cname(5, &"y".repeat(300), &mut buf);
        assert_eq!(buf[9], 255);
    }

    #[test]
    fn stops_at_malformed() {
        let mut buf = Vec::new();
        write_receiver_report(1, &[block(2, 1)], &mut buf);
        let good = buf.len();
        // An SR claiming two blocks but carrying none.
        buf.extend_from_slice(&[0x82, 200, 0, 6]);
        buf.extend_from_slice(&[0; 24]);
        write_receiver_report(3, &[], &mut buf);
        assert_eq!(parse_compound(&buf).len(), 1);
        // Truncated length.
        assert_eq!(parse_compound(&buf[..good - 4]).len(), 0);
        assert!(parse_compound(&[]).is_empty());
        assert!(parse_compound(&[0x00, 201, 0, 1, 0, 0, 0, 1]).is_empty());
        // Padding larger than the packet.
        assert!(parse_compound(&[0xA0, 201, 0, 1, 0, 0, 0, 9]).is_empty());
    }

    #[test]
    fn parse_never_panics() {
        let mut state = 0x9E37_79B9u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let mut valid = Vec::new();
        write_sender_report(1, &SenderInfo::default(), &[block(2, 3)], &mut valid);
        write_sdes_cname(1, "cname", &mut valid);
        for cut in 0..=valid.len() {
            let _ = parse_compound(&valid[..cut]);
        }
        for _ in 0..20_000 {
            let len = (next() % 80) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if buf.len() > 3 {
                buf[0] = 0x80 | (buf[0] & 0x3F);
                buf[1] = 200 + (buf[1] % 4);
                buf[2] = 0;
                buf[3] %= 24;
            }
            let _ = parse_compound(&buf);
        }
    }

    #[test]
    fn ntp_and_rtt() {
        let (sec, frac) = ntp_timestamp(Duration::from_millis(1_500));
        assert_eq!(sec, 2_208_988_801);
        assert_eq!(frac, 0x8000_0000);
        assert_eq!(compact_ntp(0x1234_5678, 0x9ABC_DEF0), 0x5678_9ABC);

        let lsr = compact_ntp(100, 0);
        let b = ReportBlock {
            lsr,
            dlsr: 65536 / 2, // 0.5 s held at the receiver
            ..ReportBlock::default()
        };
        let arrival = compact_ntp(100, 0) + 65536 / 2 + 65536 / 10; // +0.6 s
        let rtt = round_trip_time(arrival, &b).unwrap();
        assert!((rtt - 0.1).abs() < 0.001, "{rtt}");
        assert_eq!(round_trip_time(lsr, &b), None);
        assert_eq!(round_trip_time(arrival, &ReportBlock::default()), None);
    }
}
