//! RTP packets (RFC 3550 fixed header) and the PCMU tone the generator sends.

/// Size of the fixed RTP header (no CSRCs, no extension).
pub const HEADER_LEN: usize = 12;
/// PCMU samples (= payload bytes) in one 20 ms packet.
pub const SAMPLES_PER_PACKET: usize = 160;
/// A generated packet: header + one 20 ms PCMU payload.
pub const PACKET_LEN: usize = HEADER_LEN + SAMPLES_PER_PACKET;
/// G.711 sample rate.
pub const RATE: usize = 8000;

/// The fields of an RTP header the tool reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// Why a datagram is not an RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    TooShort,
    Version,
    BadLength,
}

impl Header {
    /// Writes the fixed header into `out[..12]`; `None` if `out` is shorter.
    pub fn write(&self, out: &mut [u8]) -> Option<()> {
        let h = out.get_mut(..HEADER_LEN)?;
        h[0] = 0x80;
        h[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        h[2..4].copy_from_slice(&self.seq.to_be_bytes());
        h[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        Some(())
    }

    /// Parses an RTP packet: its header and the payload's byte range
    /// (after CSRCs and extension, before padding).
    pub fn parse(pkt: &[u8]) -> Result<(Header, std::ops::Range<usize>), ParseError> {
        if pkt.len() < HEADER_LEN {
            return Err(ParseError::TooShort);
        }
        if pkt[0] >> 6 != 2 {
            return Err(ParseError::Version);
        }
        let csrcs = usize::from(pkt[0] & 0x0f);
        let mut start = HEADER_LEN + 4 * csrcs;
        if pkt[0] & 0x10 != 0 {
            let ext = pkt.get(start..start + 4).ok_or(ParseError::BadLength)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            start += 4 + 4 * words;
        }
        let mut end = pkt.len();
        if pkt[0] & 0x20 != 0 {
            let pad = usize::from(pkt[pkt.len() - 1]);
            end = end.checked_sub(pad).ok_or(ParseError::BadLength)?;
        }
        if start > end || pad_zero(pkt, end) {
            return Err(ParseError::BadLength);
        }
        let header = Header {
            marker: pkt[1] & 0x80 != 0,
            payload_type: pkt[1] & 0x7f,
            seq: u16::from_be_bytes([pkt[2], pkt[3]]),
            timestamp: u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]),
            ssrc: u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
        };
        Ok((header, start..end))
    }
}

/// A padded packet whose padding count is 0 is malformed (RFC 3550 5.1).
fn pad_zero(pkt: &[u8], end: usize) -> bool {
    pkt[0] & 0x20 != 0 && end == pkt.len()
}

/// G.711 μ-law encoding of one linear sample.
pub fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while s & mask == 0 && exponent > 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// G.711 μ-law decoding of one byte (the loudness of what comes back, see `mark`).
pub fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let exponent = i32::from((u >> 4) & 7);
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// One second of a PCMU sine tone (8,000 bytes): an integer frequency repeats
/// every second at 8 kHz, so packet `n` is bytes `(n % 50) * 160 ..` of it.
pub fn tone_second(freq_hz: u32, amplitude: i16) -> Vec<u8> {
    (0..RATE)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * f64::from(freq_hz) * n as f64 / RATE as f64;
            ulaw_encode((f64::from(amplitude) * phase.sin()).round() as i16)
        })
        .collect()
}

/// The payload of packet number `n` from a [`tone_second`] table.
pub fn tone_frame(table: &[u8], n: u64) -> &[u8] {
    let frames = (table.len() / SAMPLES_PER_PACKET).max(1) as u64;
    let start = (n % frames) as usize * SAMPLES_PER_PACKET;
    &table[start..start + SAMPLES_PER_PACKET]
}

/// Bytes a send-time stamp overwrites at the start of a payload.
pub const STAMP_LEN: usize = 16;
const STAMP_MAGIC: &[u8; 4] = b"RTPL";

/// Writes a send-time stamp into the first [`STAMP_LEN`] bytes of `payload`:
/// magic, `run` (tells this run's packets from a stale one's), `sent_us`.
/// A relay that does not decode returns it unchanged, so the generator can
/// measure the round trip. `None` if `payload` is too short.
pub fn write_stamp(payload: &mut [u8], run: u32, sent_us: u64) -> Option<()> {
    let s = payload.get_mut(..STAMP_LEN)?;
    s[..4].copy_from_slice(STAMP_MAGIC);
    s[4..8].copy_from_slice(&run.to_be_bytes());
    s[8..16].copy_from_slice(&sent_us.to_be_bytes());
    Some(())
}

/// The send time of a payload stamped by [`write_stamp`] in run `run`.
pub fn read_stamp(payload: &[u8], run: u32) -> Option<u64> {
    let s = payload.get(..STAMP_LEN)?;
    if &s[..4] != STAMP_MAGIC || s[4..8] != run.to_be_bytes() {
        return None;
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&s[8..16]);
    Some(u64::from_be_bytes(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = Header {
            marker: true,
            payload_type: 0,
            seq: 0xfffe,
            timestamp: 0xdead_beef,
            ssrc: 0x0102_0304,
        };
        let mut buf = [0u8; PACKET_LEN];
        h.write(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0x80, 0x80, 0xff, 0xfe]);
        let (parsed, payload) = Header::parse(&buf).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(payload, HEADER_LEN..PACKET_LEN);
    }

    #[test]
    fn write_refuses_short_buffer() {
        let h = Header {
            marker: false,
            payload_type: 8,
            seq: 1,
            timestamp: 2,
            ssrc: 3,
        };
        assert!(h.write(&mut [0u8; 11]).is_none());
    }

    #[test]
    fn parse_rejects_malformed() {
        assert_eq!(Header::parse(&[0x80; 11]), Err(ParseError::TooShort));
        let mut buf = [0u8; 20];
        assert_eq!(Header::parse(&buf), Err(ParseError::Version));
        // 15 CSRCs do not fit in 20 bytes.
        buf[0] = 0x8f;
        assert_eq!(Header::parse(&buf), Err(ParseError::BadLength));
        // extension header cut short
        buf[0] = 0x90;
        assert_eq!(Header::parse(&buf[..14]), Err(ParseError::BadLength));
        // padding longer than the packet
        buf[0] = 0xa0;
        buf[19] = 30;
        assert_eq!(Header::parse(&buf), Err(ParseError::BadLength));
        // padding count 0
        buf[19] = 0;
        assert_eq!(Header::parse(&buf), Err(ParseError::BadLength));
    }

    #[test]
    fn parse_skips_csrcs_extension_and_padding() {
        let mut buf = vec![0u8; 12 + 4 + 8 + 10 + 2];
        buf[0] = 0x80 | 0x20 | 0x10 | 1; // padding, extension, 1 CSRC
        buf[16 + 2..16 + 4].copy_from_slice(&1u16.to_be_bytes()); // 1 extension word
        *buf.last_mut().unwrap() = 2;
        let (_, payload) = Header::parse(&buf).unwrap();
        assert_eq!(payload, 24..34);
    }

    #[test]
    fn ulaw_known_values() {
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
    }

    #[test]
    fn ulaw_round_trip_within_quantisation() {
        for s in (-32000i32..32000).step_by(97) {
            let back = i32::from(ulaw_decode(ulaw_encode(s as i16)));
            // the step of the top segment is 1024
            assert!((back - s).abs() <= 1024 / 2 + 132, "{s} -> {back}");
        }
    }

    #[test]
    fn tone_is_periodic_and_not_silent() {
        let table = tone_second(400, 8000);
        assert_eq!(table.len(), RATE);
        assert_eq!(tone_frame(&table, 0), tone_frame(&table, 50));
        let peak = tone_frame(&table, 3)
            .iter()
            .map(|&b| i32::from(ulaw_decode(b)).abs())
            .max()
            .unwrap();
        assert!((7000..=9000).contains(&peak), "peak {peak}");
    }

    #[test]
    fn stamp_round_trips_and_rejects_others() {
        let mut payload = [0xffu8; SAMPLES_PER_PACKET];
        assert_eq!(read_stamp(&payload, 9), None);
        write_stamp(&mut payload, 9, 1_234_567).unwrap();
        assert_eq!(read_stamp(&payload, 9), Some(1_234_567));
        assert_eq!(read_stamp(&payload, 10), None, "another run's packet");
        assert_eq!(read_stamp(&payload[..15], 9), None);
        assert!(write_stamp(&mut [0u8; 15], 9, 1).is_none());
        assert_eq!(
            payload[STAMP_LEN], 0xff,
            "the rest of the payload is left alone"
        );
    }
}
