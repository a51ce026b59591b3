//! Round trip measured in the audio itself, sans-IO, for paths that decode
//! (transcoding, where the payload stamp does not survive): every `every`-th
//! packet of a stream is silence instead of tone, and the first quiet packet that
//! comes back from the target's address after loud ones closes the round trip
//! opened when that silent packet was sent. Times are microseconds since the run began.

use crate::rtp::{ulaw_decode, SAMPLES_PER_PACKET};

/// The PCMU payload of a marker packet: digital silence.
pub const SILENCE: [u8; SAMPLES_PER_PACKET] = [0xff; SAMPLES_PER_PACKET];

/// Which packets are markers and what counts as quiet.
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    every: u64,
    /// Mean |sample| under which a packet is quiet: half the tone's. A codec's delay
    /// smears the edge over a few samples of the next packet; half the tone's level
    /// still tells the packet holding most of the silence (delays under 10 ms).
    quiet_below: u32,
}

impl Marker {
    /// `every` >= 2 (a stream must be loud between markers); `tone` is a PCMU table
    /// of the audio sent between them.
    pub fn new(every: u64, tone: &[u8]) -> Option<Marker> {
        (every >= 2 && !tone.is_empty()).then(|| Marker {
            every,
            quiet_below: level(tone) / 2,
        })
    }

    /// Packet `n` (0-based) of a stream is a marker; never the first, so a stream
    /// is heard loud before its first marker.
    pub fn is_mark(&self, n: u64) -> bool {
        n % self.every == self.every - 1
    }

    /// Longest round trip attributed to a marker: after that the next marker is out.
    pub fn window_us(&self) -> u64 {
        self.every * 20_000
    }

    pub fn is_quiet(&self, pcmu: &[u8]) -> bool {
        level(pcmu) < self.quiet_below
    }
}

/// Mean |sample| of a PCMU payload.
fn level(pcmu: &[u8]) -> u32 {
    if pcmu.is_empty() {
        return 0;
    }
    let sum: u64 = pcmu
        .iter()
        .map(|&b| u64::from(ulaw_decode(b).unsigned_abs()))
        .sum();
    (sum / pcmu.len() as u64) as u32
}

/// One target's marker in flight and the loudness of what last came back.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkState {
    sent_us: Option<u64>,
    loud: bool,
}

impl MarkState {
    /// A marker left at `now_us` (a lost one is replaced by the next).
    pub fn on_send(&mut self, now_us: u64) {
        self.sent_us = Some(now_us);
    }

    /// A PCMU packet back from the target at `at_us`, quiet or not: the round trip
    /// when it is the first quiet one after loud audio, within `window_us` of the marker.
    pub fn on_receive(&mut self, quiet: bool, at_us: u64, window_us: u64) -> Option<u64> {
        let edge = self.loud && quiet;
        self.loud = !quiet;
        if !edge {
            return None;
        }
        let sent = self.sent_us.take()?;
        let trip = at_us.checked_sub(sent)?;
        (trip < window_us).then_some(trip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{tone_frame, tone_second};

    #[test]
    fn marks_every_nth_packet_but_the_first() {
        let tone = tone_second(400, 8000);
        assert!(Marker::new(1, &tone).is_none());
        let m = Marker::new(25, &tone).unwrap();
        let marks: Vec<u64> = (0..100).filter(|&n| m.is_mark(n)).collect();
        assert_eq!(marks, [24, 49, 74, 99]);
        assert_eq!(m.window_us(), 500_000);
    }

    #[test]
    fn tone_is_loud_silence_and_a_short_smear_are_quiet() {
        let tone = tone_second(400, 8000);
        let m = Marker::new(50, &tone).unwrap();
        assert!(!m.is_quiet(tone_frame(&tone, 7)));
        assert!(m.is_quiet(&SILENCE));
        // a codec delay of 3 ms: the silent packet back still holds 24 samples of tone
        let mut smeared = SILENCE;
        smeared[..24].copy_from_slice(&tone_frame(&tone, 7)[136..]);
        assert!(m.is_quiet(&smeared));
    }

    #[test]
    fn round_trip_from_the_marker_to_the_first_quiet_packet() {
        let mut s = MarkState::default();
        assert_eq!(s.on_receive(false, 1_000, 500_000), None);
        s.on_send(10_000);
        assert_eq!(s.on_receive(false, 11_000, 500_000), None);
        assert_eq!(s.on_receive(true, 12_500, 500_000), Some(2_500));
        // the rest of the quiet stretch and the next edge without a marker: nothing
        assert_eq!(s.on_receive(true, 13_000, 500_000), None);
        assert_eq!(s.on_receive(false, 14_000, 500_000), None);
        assert_eq!(s.on_receive(true, 15_000, 500_000), None);
    }

    #[test]
    fn quiet_start_and_stale_markers_give_nothing() {
        let mut s = MarkState::default();
        s.on_send(0);
        // quiet from the start is no edge
        assert_eq!(s.on_receive(true, 1_000, 500_000), None);
        assert_eq!(s.on_receive(false, 2_000, 500_000), None);
        // an edge long after the marker (the marker lost, the quiet from elsewhere)
        assert_eq!(s.on_receive(true, 900_000, 500_000), None);
        // a marker replaced by a later one measures from the later
        s.on_send(1_000_000);
        s.on_send(1_500_000);
        assert_eq!(s.on_receive(false, 1_501_000, 500_000), None);
        assert_eq!(s.on_receive(true, 1_503_000, 500_000), Some(3_000));
    }
}
