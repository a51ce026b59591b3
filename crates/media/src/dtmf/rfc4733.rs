//! RFC 4733 telephone-event payloads: parsing, generation and a receiver
//! that turns a packet stream into digits.
//!
//! Hand-written: the payload is four bytes, and the receiver's handling of
//! retransmitted end packets is specific to how the softswitch reports
//! digits.

/// Volume (-dBm0) used for generated events.
const SEND_VOLUME: u8 = 10;
/// Interval between generated event packets.
const PACKET_INTERVAL_MS: u32 = 20;
/// Number of (identical) end packets sent to survive loss.
const END_PACKETS: usize = 3;

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    pub event: u8,
    pub end: bool,
    /// Power level in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far, in RTP clock units.
    pub duration: u16,
}

impl EventPayload {
    /// Parses the first four bytes of `p` (extra bytes, e.g. redundant
    /// events, are ignored); `None` if too short.
    pub fn parse(p: &[u8]) -> Option<Self> {
        let [event, flags, d0, d1] = *p.get(..4)? else {
            return None;
        };
        Some(EventPayload {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Appends the four payload bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    fn to_bytes(self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }
}

/// Event code for a DTMF digit: 0-9, `*` (10), `#` (11), A-D (12-15).
pub fn digit_to_event(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// The DTMF digit for event code `e` (upper-case A-D).
pub fn event_to_digit(e: u8) -> Option<char> {
    match e {
        0..=9 => Some(char::from(b'0' + e)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + e - 12)),
        _ => None,
    }
}

/// A received digit and how long it lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    pub digit: char,
    pub duration_ms: u32,
}

/// The event currently being received.
#[derive(Debug, Clone, Copy)]
struct Current {
    timestamp: u32,
    event: u8,
    duration: u16,
}

impl Current {
    fn digit(self, clock_rate: u32) -> Option<Digit> {
        let duration_ms = u64::from(self.duration) * 1000 / u64::from(clock_rate);
        Some(Digit {
            digit: event_to_digit(self.event)?,
            duration_ms: duration_ms as u32,
        })
    }
}

/// Turns a stream of telephone-event packets into digits. Each digit is
/// reported once, when its end packet arrives; end retransmissions and
/// repeated packets of an already-reported event are ignored, and a new
/// event (new timestamp) arriving before the previous one ended reports the
/// previous one. Non-DTMF events (e.g. flash) are ignored.
#[derive(Debug, Clone)]
pub struct Receiver {
    clock_rate: u32,
    current: Option<Current>,
    /// Timestamp of the newest event seen (reported or not), to ignore
    /// stragglers of finished events.
    last_timestamp: Option<u32>,
}

impl Receiver {
    pub fn new(clock_rate: u32) -> Self {
        Receiver {
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            current: None,
            last_timestamp: None,
        }
    }

    /// Feeds one telephone-event packet (its RTP timestamp and payload).
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<Digit> {
        let ev = EventPayload::parse(payload)?;
        event_to_digit(ev.event)?;
        if let Some(last) = self.last_timestamp {
            let age = last.wrapping_sub(timestamp);
            if age != 0 && age < 0x8000_0000 {
                return None; // older than the newest event: a straggler
            }
            if age == 0 && self.current.is_none() {
                return None; // the newest event was already reported
            }
        }
        self.last_timestamp = Some(timestamp);

        let clock_rate = self.clock_rate;
        let mut report = None;
        match &mut self.current {
            Some(cur) if cur.timestamp == timestamp => {
                cur.duration = cur.duration.max(ev.duration);
            }
            slot => {
                // A new event: flush the previous one if it never ended.
                report = slot.take().and_then(|prev| prev.digit(clock_rate));
                *slot = Some(Current {
                    timestamp,
                    event: ev.event,
                    duration: ev.duration,
                });
            }
        }
        if ev.end && report.is_none() {
            return self.current.take().and_then(|cur| cur.digit(clock_rate));
        }
        report
    }
}

/// One packet of an outgoing event; every packet of a digit carries the
/// same RTP timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPacket {
    pub marker: bool,
    pub payload: [u8; 4],
}

/// The packets for sending `digit` for `duration_ms`: one per 20 ms while
/// the tone lasts, with growing duration (marker on the first), then three
/// identical end packets. `None` for a non-DTMF character or a zero clock
/// rate. The duration is capped at what 16 bits of clock units can hold.
pub fn digit_packets(digit: char, duration_ms: u32, clock_rate: u32) -> Option<Vec<SendPacket>> {
    let event = digit_to_event(digit)?;
    if clock_rate == 0 {
        return None;
    }
    let step = u64::from(clock_rate) * u64::from(PACKET_INTERVAL_MS) / 1000;
    let total =
        (u64::from(duration_ms) * u64::from(clock_rate) / 1000).clamp(1, u64::from(u16::MAX));
    let step = step.max(1);
    let packet = |end: bool, duration: u64| EventPayload {
        event,
        end,
        volume: SEND_VOLUME,
        duration: duration as u16,
    };
    let mut packets = Vec::new();
    let mut elapsed = step.min(total);
    loop {
        packets.push(SendPacket {
            marker: packets.is_empty(),
            payload: packet(false, elapsed).to_bytes(),
        });
        if elapsed + step >= total {
            break;
        }
        elapsed += step;
    }
    let end = packet(true, total).to_bytes();
    packets.extend((0..END_PACKETS).map(|_| SendPacket {
        marker: false,
        payload: end,
    }));
    Some(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(event: u8, end: bool, duration: u16) -> Vec<u8> {
        let mut v = Vec::new();
        EventPayload {
            event,
            end,
            volume: 10,
            duration,
        }
        .write(&mut v);
        v
    }

    #[test]
    fn payload_round_trip() {
        let p = EventPayload {
            event: 11,
            end: true,
            volume: 63,
            duration: 0x1234,
        };
        let mut buf = Vec::new();
        p.write(&mut buf);
        assert_eq!(buf, [11, 0xBF, 0x12, 0x34]);
        assert_eq!(EventPayload::parse(&buf), Some(p));
        assert_eq!(EventPayload::parse(&buf[..3]), None);
        // The reserved bit is ignored.
        assert_eq!(EventPayload::parse(&[1, 0x40, 0, 0]).unwrap().volume, 0);
    }

    #[test]
    fn digit_mapping() {
        for (c, e) in [
            ('0', 0),
            ('9', 9),
            ('*', 10),
            ('#', 11),
            ('A', 12),
            ('d', 15),
        ] {
            assert_eq!(digit_to_event(c), Some(e));
            assert_eq!(event_to_digit(e), Some(c.to_ascii_uppercase()));
        }
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(digit_to_event('x'), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn receiver_reports_once_on_end() {
        let mut rx = Receiver::new(8000);
        assert_eq!(rx.on_packet(1000, &payload(5, false, 160)), None);
        assert_eq!(rx.on_packet(1000, &payload(5, false, 320)), None);
        assert_eq!(rx.on_packet(1000, &payload(5, false, 320)), None);
        let d = rx.on_packet(1000, &payload(5, true, 800));
        assert_eq!(
            d,
            Some(Digit {
                digit: '5',
                duration_ms: 100
            })
        );
        assert_eq!(rx.on_packet(1000, &payload(5, true, 800)), None);
        assert_eq!(rx.on_packet(1000, &payload(5, true, 800)), None);
        // A late start packet of the finished event is ignored too.
        assert_eq!(rx.on_packet(1000, &payload(5, false, 160)), None);
        // The same digit again, as a new event.
        assert_eq!(rx.on_packet(2600, &payload(5, false, 160)), None);
        assert_eq!(
            rx.on_packet(2600, &payload(5, true, 400)).unwrap().digit,
            '5'
        );
        // Garbage and non-DTMF events are ignored.
        assert_eq!(rx.on_packet(4000, &[1, 2]), None);
        assert_eq!(rx.on_packet(4000, &payload(16, true, 400)), None);
    }

    #[test]
    fn receiver_flushes_event_without_end() {
        let mut rx = Receiver::new(8000);
        assert_eq!(rx.on_packet(100, &payload(1, false, 160)), None);
        assert_eq!(rx.on_packet(100, &payload(1, false, 480)), None);
        // All end packets of '1' lost; '2' starts.
        let d = rx.on_packet(2000, &payload(2, false, 160)).unwrap();
        assert_eq!((d.digit, d.duration_ms), ('1', 60));
        // Stragglers of '1' are ignored.
        assert_eq!(rx.on_packet(100, &payload(1, true, 640)), None);
        assert_eq!(
            rx.on_packet(2000, &payload(2, true, 320)).unwrap().digit,
            '2'
        );

        // A new event whose first packet is already an end, while the
        // previous one is unfinished: both are reported, one per call.
        assert_eq!(rx.on_packet(3000, &payload(3, false, 160)), None);
        assert_eq!(
            rx.on_packet(4000, &payload(4, true, 160)).unwrap().digit,
            '3'
        );
        assert_eq!(
            rx.on_packet(4000, &payload(4, true, 160)).unwrap().digit,
            '4'
        );
        assert_eq!(rx.on_packet(4000, &payload(4, true, 160)), None);
    }

    #[test]
    fn receiver_timestamp_wraps() {
        let mut rx = Receiver::new(8000);
        assert_eq!(
            rx.on_packet(u32::MAX - 10, &payload(7, true, 800))
                .unwrap()
                .digit,
            '7'
        );
        assert_eq!(
            rx.on_packet(150, &payload(8, true, 800)).unwrap().digit,
            '8'
        );
    }

    #[test]
    fn sender_packets() {
        let pkts = digit_packets('#', 100, 8000).unwrap();
        assert_eq!(pkts.len(), 4 + 3);
        assert!(pkts[0].marker);
        assert!(pkts[1..].iter().all(|p| !p.marker));
        let durations: Vec<u16> = pkts
            .iter()
            .map(|p| EventPayload::parse(&p.payload).unwrap().duration)
            .collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        for (i, p) in pkts.iter().enumerate() {
            let ev = EventPayload::parse(&p.payload).unwrap();
            assert_eq!(ev.event, 11);
            assert_eq!(ev.end, i >= 4);
        }
        assert_eq!(pkts[4], pkts[6]);

        // Round trip through the receiver.
        let mut rx = Receiver::new(8000);
        let digits: Vec<Digit> = pkts
            .iter()
            .filter_map(|p| rx.on_packet(42, &p.payload))
            .collect();
        assert_eq!(
            digits,
            [Digit {
                digit: '#',
                duration_ms: 100
            }]
        );

        let short = digit_packets('1', 5, 8000).unwrap();
        assert_eq!(short.len(), 4);
        assert!(short[0].marker);
        let long = digit_packets('1', 60_000, 8000).unwrap();
        let last = EventPayload::parse(&long.last().unwrap().payload).unwrap();
        assert_eq!(last.duration, u16::MAX);
        assert_eq!(digit_packets('x', 100, 8000), None);
        assert_eq!(digit_packets('1', 100, 0), None);
    }
}
