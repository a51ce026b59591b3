//! RTP packet framing (RFC 3550) and outgoing stream continuity.
//!
//! Hand-written rather than taken from a crate: the fixed header is twelve
//! bytes, parsing sits on the per-packet hot path, and relaying needs to
//! rewrite headers in place without re-serialising the payload.

/// Size of the fixed RTP header.
const FIXED_HEADER_LEN: usize = 12;
/// A sequence jump this large (forward) means the source restarted.
const MAX_DROPOUT: u16 = 3000;
/// A sequence step this far backwards is still a late packet.
const MAX_MISORDER: u16 = 100;
/// Assumed frame duration before one has been observed (20 ms at 8 kHz).
const DEFAULT_TS_INCREMENT: u32 = 160;

/// Why a buffer is not a valid RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet shorter than the RTP header")]
    TooShort,
    #[error("RTP version is not 2")]
    BadVersion,
    #[error("CSRC list or header extension runs past the end of the packet")]
    Truncated,
    #[error("invalid padding length")]
    BadPadding,
}

/// The fields of the fixed RTP header that the softswitch uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// A parsed packet borrowing its payload (padding removed) from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub header: RtpHeader,
    pub payload: &'a [u8],
    /// Bytes before the payload: fixed header, CSRCs and extension.
    pub header_len: usize,
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

/// Parses an RTP packet. Never panics.
pub fn parse(buf: &[u8]) -> Result<RtpPacket<'_>, RtpError> {
    if buf.len() < FIXED_HEADER_LEN {
        return Err(RtpError::TooShort);
    }
    let b0 = buf[0];
    if b0 >> 6 != 2 {
        return Err(RtpError::BadVersion);
    }
    let mut header_len = FIXED_HEADER_LEN + 4 * usize::from(b0 & 0x0F);
    if b0 & 0x10 != 0 {
        let words = be16(buf, header_len + 2).ok_or(RtpError::Truncated)?;
        header_len += 4 + 4 * usize::from(words);
    }
    if header_len > buf.len() {
        return Err(RtpError::Truncated);
    }
    let mut end = buf.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(buf[end - 1]);
        if pad == 0 || pad > end - header_len {
            return Err(RtpError::BadPadding);
        }
        end -= pad;
    }
    let header = RtpHeader {
        marker: buf[1] & 0x80 != 0,
        payload_type: buf[1] & 0x7F,
        sequence: u16::from_be_bytes([buf[2], buf[3]]),
        timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
    };
    Ok(RtpPacket {
        header,
        payload: &buf[header_len..end],
        header_len,
    })
}

fn put_header_fields(buf: &mut [u8], header: &RtpHeader) {
    buf[1] = (u8::from(header.marker) << 7) | (header.payload_type & 0x7F);
    buf[2..4].copy_from_slice(&header.sequence.to_be_bytes());
    buf[4..8].copy_from_slice(&header.timestamp.to_be_bytes());
    buf[8..12].copy_from_slice(&header.ssrc.to_be_bytes());
}

/// Clears `out` and writes a 12-byte header (no CSRC, extension or
/// padding) followed by `payload`. The payload type is masked to 7 bits.
pub fn write(header: &RtpHeader, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.resize(FIXED_HEADER_LEN, 0);
    out[0] = 0x80;
    put_header_fields(out, header);
    out.extend_from_slice(payload);
}

/// Rewrites marker, payload type, sequence, timestamp and SSRC of the packet
/// in `buf` in place, keeping the version, padding, CSRC and extension.
pub fn rewrite_header(buf: &mut [u8], header: &RtpHeader) -> Result<(), RtpError> {
    if buf.len() < FIXED_HEADER_LEN {
        return Err(RtpError::TooShort);
    }
    if buf[0] >> 6 != 2 {
        return Err(RtpError::BadVersion);
    }
    put_header_fields(buf, header);
    Ok(())
}

/// Whether a datagram on a muxed RTP/RTCP port is RTCP (RFC 5761): version
/// 2 and a second byte of 200..=207 (SR, RR, SDES, BYE, APP, RTPFB, PSFB,
/// XR), which no RTP payload type with or without marker produces in practice.
pub fn is_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf[0] >> 6 == 2 && (200..=207).contains(&buf[1])
}

/// Which stream the previous outgoing packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    None,
    Local,
    Relay {
        ssrc: u32,
        /// Added to the source's sequence numbers / timestamps.
        seq_offset: u16,
        ts_offset: u32,
        /// Newest source sequence number and its timestamp.
        last_seq: u16,
        last_ts: u32,
    },
}

/// Whether `seq` after `last` is a jump too big for loss or reordering,
/// i.e. the source restarted its sequence space (RFC 3550 A.1 limits).
fn is_restart(last: u16, seq: u16) -> bool {
    let delta = seq.wrapping_sub(last);
    (MAX_DROPOUT..=u16::MAX - MAX_MISORDER).contains(&delta)
}

/// Sequence-number and timestamp continuity of one outgoing RTP stream
/// whose packets come alternately from local generation (playback, tones,
/// transcoding) and from relaying other streams.
#[derive(Debug, Clone)]
pub struct OutStream {
    ssrc: u32,
    /// Sequence number of the next packet.
    next_seq: u16,
    /// Timestamp the next packet carries if it continues the last one.
    next_ts: u32,
    /// Duration of the most recent frame, in clock units.
    last_increment: u32,
    source: Source,
    packets: u64,
    octets: u64,
    /// When the last packet went out and the timestamp it carried: where the stream's
    /// clock stood then, for the sender report's RTP timestamp.
    last_sent: Option<(std::time::Instant, u32)>,
}

impl OutStream {
    pub fn new(ssrc: u32, initial_seq: u16, initial_ts: u32) -> Self {
        OutStream {
            ssrc,
            next_seq: initial_seq,
            next_ts: initial_ts,
            last_increment: DEFAULT_TS_INCREMENT,
            source: Source::None,
            packets: 0,
            octets: 0,
            last_sent: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Header for a locally generated frame (playback/tone/transcode) of
    /// `ts_increment` clock units. The marker is set on the first packet
    /// after a source switch (a new talk-spurt).
    pub fn next_local(&mut self, payload_type: u8, ts_increment: u32) -> RtpHeader {
        let marker = self.source != Source::Local;
        self.source = Source::Local;
        let header = RtpHeader {
            marker,
            payload_type,
            sequence: self.next_seq,
            timestamp: self.next_ts,
            ssrc: self.ssrc,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_ts = self.next_ts.wrapping_add(ts_increment);
        if ts_increment > 0 {
            self.last_increment = ts_increment;
        }
        header
    }

    /// Header for relaying packet `src` of another stream. The source's
    /// sequence numbers and timestamps are mapped into this stream so the
    /// output stays continuous when the source (its SSRC) or the mode
    /// changes; within one source the relative gaps are kept (loss and
    /// same-timestamp DTMF events survive) and the source's marker is
    /// passed on. The marker is set on the first packet after a switch. A
    /// sequence jump beyond RFC 3550's dropout/misorder limits within one
    /// SSRC is treated as a switch too.
    pub fn relay(&mut self, src: &RtpHeader, payload_type: u8) -> RtpHeader {
        let continuing = match self.source {
            Source::Relay {
                ssrc,
                seq_offset,
                ts_offset,
                last_seq,
                last_ts,
            } if ssrc == src.ssrc && !is_restart(last_seq, src.sequence) => {
                Some((seq_offset, ts_offset, last_seq, last_ts))
            }
            _ => None,
        };
        let (seq_offset, ts_offset, marker) = match continuing {
            Some((seq_offset, ts_offset, last_seq, last_ts)) => {
                let seq_step = src.sequence.wrapping_sub(last_seq);
                if seq_step == 0 || seq_step > u16::MAX - MAX_MISORDER {
                    // Duplicate or late packet: map it, but the stream's
                    // position does not move.
                    return RtpHeader {
                        marker: src.marker,
                        payload_type,
                        sequence: src.sequence.wrapping_add(seq_offset),
                        timestamp: src.timestamp.wrapping_add(ts_offset),
                        ssrc: self.ssrc,
                    };
                }
                let ts_step = src.timestamp.wrapping_sub(last_ts);
                if ts_step < 0x8000_0000 {
                    let per_packet = ts_step / u32::from(seq_step);
                    if per_packet > 0 {
                        self.last_increment = per_packet;
                    }
                }
                (seq_offset, ts_offset, src.marker)
            }
            None => (
                self.next_seq.wrapping_sub(src.sequence),
                self.next_ts.wrapping_sub(src.timestamp),
                true,
            ),
        };
        let sequence = src.sequence.wrapping_add(seq_offset);
        let timestamp = src.timestamp.wrapping_add(ts_offset);
        self.next_seq = sequence.wrapping_add(1);
        self.next_ts = timestamp.wrapping_add(self.last_increment);
        self.source = Source::Relay {
            ssrc: src.ssrc,
            seq_offset,
            ts_offset,
            last_seq: src.sequence,
            last_ts: src.timestamp,
        };
        RtpHeader {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc: self.ssrc,
        }
    }

    pub fn packets_sent(&self) -> u64 {
        self.packets
    }

    pub fn octets_sent(&self) -> u64 {
        self.octets
    }

    /// Records one packet sent at `now`, with `payload_len` payload octets and
    /// `timestamp` in its header.
    pub fn count_sent(&mut self, payload_len: usize, timestamp: u32, now: std::time::Instant) {
        self.packets += 1;
        self.octets += payload_len as u64;
        self.last_sent = Some((now, timestamp));
    }

    /// The stream's RTP timestamp at `now` (RFC 3550 §6.4.1: a sender report's RTP
    /// timestamp is the same instant as its NTP one, in the stream's units): the last
    /// packet's, advanced by the time since at `clock_rate`. `None` before any packet.
    pub fn timestamp_at(&self, now: std::time::Instant, clock_rate: u32) -> Option<u32> {
        let (at, timestamp) = self.last_sent?;
        let elapsed = now.saturating_duration_since(at);
        let ticks = elapsed.as_micros() * u128::from(clock_rate) / 1_000_000;
        // Wraps as the 32-bit timestamp does.
        Some(timestamp.wrapping_add(ticks as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32) -> RtpHeader {
        RtpHeader {
            marker,
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
    }

    #[test]
    fn write_then_parse() {
        let h = hdr(true, 8, 0xBEEF, 0xDEADBEEF, 0x01020304);
        let mut buf = vec![1, 2, 3];
        write(&h, b"payload", &mut buf);
        assert_eq!(buf.len(), 12 + 7);
        assert_eq!(&buf[..2], &[0x80, 0x88]);
        let p = parse(&buf).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload, b"payload");
        assert_eq!(p.header_len, 12);
        assert!(!is_rtcp(&buf));
    }

    #[test]
    fn csrc_extension_and_padding() {
        let mut buf = vec![0xB1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]; // P, X, CC=1
        buf.extend_from_slice(&[9, 9, 9, 9]); // CSRC
        buf.extend_from_slice(&[0xBE, 0xDE, 0, 1, 7, 7, 7, 7]); // 1-word extension
        buf.extend_from_slice(b"abc");
        buf.extend_from_slice(&[0, 0, 3]); // 3 bytes of padding
        let p = parse(&buf).unwrap();
        assert_eq!(p.header_len, 24);
        assert_eq!(p.payload, b"abc");
        assert_eq!(p.header.sequence, 1);

        // Rewriting keeps CSRC/extension/padding bits and bytes.
        let new = hdr(true, 101, 77, 99, 0xAABBCCDD);
        rewrite_header(&mut buf, &new).unwrap();
        let p = parse(&buf).unwrap();
        assert_eq!(p.header, new);
        assert_eq!(p.payload, b"abc");
        assert_eq!(buf[0], 0xB1);
        assert_eq!(&buf[12..16], &[9, 9, 9, 9]);
    }

    #[test]
    fn malformed_packets() {
        assert_eq!(parse(&[]).unwrap_err(), RtpError::TooShort);
        assert_eq!(parse(&[0x80; 11]).unwrap_err(), RtpError::TooShort);
        assert_eq!(parse(&[0x40; 12]).unwrap_err(), RtpError::BadVersion);
        let mut cc = vec![0x8F; 12];
        cc.extend_from_slice(&[0; 8]);
        assert_eq!(parse(&cc).unwrap_err(), RtpError::Truncated);
        let mut ext = vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 2];
        assert_eq!(parse(&ext).unwrap_err(), RtpError::Truncated);
        ext.truncate(14);
        assert_eq!(parse(&ext).unwrap_err(), RtpError::Truncated);
        let mut pad = vec![0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(parse(&pad).unwrap_err(), RtpError::BadPadding);
        pad[13] = 3;
        assert_eq!(parse(&pad).unwrap_err(), RtpError::BadPadding);
        pad[13] = 2;
        assert_eq!(parse(&pad).unwrap().payload, b"");
        assert_eq!(
            rewrite_header(&mut [0x80; 5], &hdr(false, 0, 0, 0, 0)),
            Err(RtpError::TooShort)
        );
        assert_eq!(
            rewrite_header(&mut [0u8; 12], &hdr(false, 0, 0, 0, 0)),
            Err(RtpError::BadVersion)
        );
    }

    #[test]
    fn parse_never_panics() {
        // Every prefix of a few crafted packets, and pseudo-random bytes.
        let mut state = 0x1234_5678u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 48) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(b) = buf.first_mut() {
                *b = (*b & 0x3F) | 0x80;
            }
            if let Ok(p) = parse(&buf) {
                assert!(p.header_len + p.payload.len() <= buf.len());
            }
            let _ = is_rtcp(&buf);
        }
    }

    #[test]
    fn rtcp_demux() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 201, 0, 7]));
        assert!(is_rtcp(&[0x80, 207]));
        assert!(!is_rtcp(&[0x80, 208]));
        assert!(!is_rtcp(&[0x80, 0x80 | 8]));
        assert!(!is_rtcp(&[0x80]));
        assert!(!is_rtcp(&[0x00, 200]));
    }

    #[test]
    fn continuity_across_switches() {
        let mut out = OutStream::new(0x5EED, 1000, 50_000);
        assert_eq!(out.ssrc(), 0x5EED);

        // Local playback: first packet is marked.
        let h = out.next_local(0, 160);
        assert_eq!(h, hdr(true, 0, 1000, 50_000, 0x5EED));
        let h = out.next_local(0, 160);
        assert_eq!(h, hdr(false, 0, 1001, 50_160, 0x5EED));

        // Bridge to source A: continues where local stopped, marked.
        let h = out.relay(&hdr(false, 0, 7000, 900_000, 0xA), 0);
        assert_eq!(h, hdr(true, 0, 1002, 50_320, 0x5EED));
        let h = out.relay(&hdr(false, 0, 7001, 900_160, 0xA), 0);
        assert_eq!(h, hdr(false, 0, 1003, 50_480, 0x5EED));
        // A lost packet (7002) keeps its gap.
        let h = out.relay(&hdr(false, 0, 7003, 900_480, 0xA), 0);
        assert_eq!(h, hdr(false, 0, 1005, 50_800, 0x5EED));
        // DTMF event packets sharing one timestamp; the source marker passes.
        let h = out.relay(&hdr(true, 101, 7004, 900_640, 0xA), 96);
        assert_eq!(h, hdr(true, 96, 1006, 50_960, 0x5EED));
        let h = out.relay(&hdr(false, 101, 7005, 900_640, 0xA), 96);
        assert_eq!(h, hdr(false, 96, 1007, 50_960, 0x5EED));
        // A late packet is mapped but does not move the stream back.
        let h = out.relay(&hdr(false, 0, 7002, 900_320, 0xA), 0);
        assert_eq!(h, hdr(false, 0, 1004, 50_640, 0x5EED));

        // Back to local playback: next sequence, timestamp one frame on.
        let h = out.next_local(0, 160);
        assert_eq!(h, hdr(true, 0, 1008, 51_120, 0x5EED));

        // Bridge again to the same source: re-anchored, marked.
        let h = out.relay(&hdr(false, 0, 7100, 916_000, 0xA), 0);
        assert_eq!(h, hdr(true, 0, 1009, 51_280, 0x5EED));

        // Source switches SSRC (e.g. a transfer): re-anchored, marked.
        let h = out.relay(&hdr(false, 0, 1, 5, 0xB), 0);
        assert_eq!(h, hdr(true, 0, 1010, 51_440, 0x5EED));
        let h = out.relay(&hdr(false, 0, 2, 165, 0xB), 0);
        assert_eq!(h, hdr(false, 0, 1011, 51_600, 0x5EED));

        // The same SSRC jumping its sequence far ahead is a restart.
        let h = out.relay(&hdr(false, 0, 40_000, 1_000_000, 0xB), 0);
        assert_eq!(h, hdr(true, 0, 1012, 51_760, 0x5EED));

        let at = std::time::Instant::now();
        assert_eq!(out.timestamp_at(at, 8000), None);
        out.count_sent(160, 1000, at);
        out.count_sent(80, 1160, at + std::time::Duration::from_millis(20));
        assert_eq!(out.packets_sent(), 2);
        assert_eq!(out.octets_sent(), 240);
        // 100 ms after the last packet, an 8 kHz clock has moved 800 ticks on.
        let later = at + std::time::Duration::from_millis(120);
        assert_eq!(out.timestamp_at(later, 8000), Some(1960));
        assert_eq!(out.timestamp_at(later, 16_000), Some(2760));
    }

    #[test]
    fn wraparound() {
        let mut out = OutStream::new(1, u16::MAX, u32::MAX - 100);
        let h = out.next_local(9, 160);
        assert_eq!((h.sequence, h.timestamp), (u16::MAX, u32::MAX - 100));
        let h = out.next_local(9, 160);
        assert_eq!((h.sequence, h.timestamp), (0, 59));

        // Relayed source wrapping its own sequence and timestamp.
        let h = out.relay(&hdr(false, 9, u16::MAX, u32::MAX - 80, 7), 9);
        assert_eq!((h.sequence, h.timestamp, h.marker), (1, 219, true));
        let h = out.relay(&hdr(false, 9, 0, 79, 7), 9);
        assert_eq!((h.sequence, h.timestamp, h.marker), (2, 379, false));
        let h = out.relay(&hdr(false, 9, 1, 239, 7), 9);
        assert_eq!((h.sequence, h.timestamp, h.marker), (3, 539, false));
        let h = out.next_local(9, 160);
        assert_eq!((h.sequence, h.timestamp, h.marker), (4, 699, true));
    }
}
