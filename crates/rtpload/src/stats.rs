//! Receive statistics, sans-IO: times are microseconds since the run began.

use crate::rtp::{Header, RATE};

/// Fixed-width histogram of durations in microseconds, bounded memory:
/// `buckets` of `width_us` each, plus one overflow bucket.
#[derive(Debug, Clone)]
pub struct Histogram {
    width_us: u64,
    counts: Vec<u64>,
    total: u64,
}

impl Histogram {
    pub fn new(width_us: u64, buckets: usize) -> Histogram {
        Histogram {
            width_us: width_us.max(1),
            counts: vec![0; buckets + 1],
            total: 0,
        }
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn record(&mut self, us: u64) {
        let last = self.counts.len() - 1;
        let i = usize::try_from(us / self.width_us).map_or(last, |i| i.min(last));
        self.counts[i] += 1;
        self.total += 1;
    }

    /// The upper edge (µs) of the bucket holding the `p`-quantile (0..=1),
    /// `None` when empty; the overflow bucket reports `u64::MAX`.
    pub fn quantile(&self, p: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        let last = self.counts.len() - 1;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(if i == last {
                    u64::MAX
                } else {
                    (i as u64 + 1) * self.width_us
                });
            }
        }
        Some(u64::MAX)
    }
}

/// One RTP source (one remote address): counts, sequence tracking for the
/// expected count, inter-arrival times and RFC 3550 transit differences.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub received: u64,
    pub first_us: u64,
    pub last_us: u64,
    last_ts: u32,
    base_seq: u16,
    max_seq: u16,
    cycles: u64,
    /// RFC 3550 interarrival jitter estimate, in RTP timestamp units.
    pub jitter: f64,
    /// Packets since the last [`Source::restart`] (the current stream from this address).
    stream_received: u64,
    /// Expected and due counts of the earlier streams from this address.
    earlier_expected: u64,
    earlier_due: u64,
}

impl Source {
    /// Packets the sequence numbers say were sent (RFC 3550 A.3).
    pub fn expected(&self) -> u64 {
        self.earlier_expected + self.stream_expected()
    }

    /// Packets due at one per 20 ms between the first and the last arrival (of each stream).
    pub fn due_20ms(&self) -> u64 {
        self.earlier_due + self.stream_due()
    }

    /// The next packet starts a new stream from the same address (a new call on
    /// a reused port): sequence, timestamp and arrival continuity start over,
    /// the counts carry on.
    pub fn restart(&mut self) {
        self.earlier_expected += self.stream_expected();
        self.earlier_due += self.stream_due();
        self.stream_received = 0;
    }

    fn stream_expected(&self) -> u64 {
        if self.stream_received == 0 {
            return 0;
        }
        let extended_max = self.cycles + u64::from(self.max_seq);
        (extended_max + 1).saturating_sub(u64::from(self.base_seq))
    }

    fn stream_due(&self) -> u64 {
        if self.stream_received == 0 {
            return 0;
        }
        (self.last_us - self.first_us + 10_000) / 20_000 + 1
    }
}

/// What every received packet adds to.
#[derive(Debug, Clone)]
pub struct RecvStats {
    /// Arrival interval between consecutive packets of one source.
    pub interarrival: Histogram,
    /// |D(i-1,i)| of RFC 3550: the arrival interval minus the RTP timestamp interval.
    pub transit_diff: Histogram,
    pub packets: u64,
}

impl Default for RecvStats {
    fn default() -> Self {
        RecvStats {
            // 0.1 ms buckets up to 1 s
            interarrival: Histogram::new(100, 10_000),
            transit_diff: Histogram::new(100, 10_000),
            packets: 0,
        }
    }
}

impl RecvStats {
    /// Accounts one packet of `src` with header `h` arrived at `now_us`.
    pub fn on_packet(&mut self, src: &mut Source, h: &Header, now_us: u64) {
        self.packets += 1;
        if src.stream_received == 0 {
            src.first_us = now_us;
            src.base_seq = h.seq;
            src.max_seq = h.seq;
            src.cycles = 0;
        } else {
            let arrival = now_us.saturating_sub(src.last_us);
            self.interarrival.record(arrival);
            let ts_delta = h.timestamp.wrapping_sub(src.last_ts) as i32;
            // a jump of more than 10 s of audio is a new stream, not jitter
            if ts_delta.unsigned_abs() < 10 * RATE as u32 {
                let ts_us = i64::from(ts_delta) * 1_000_000 / RATE as i64;
                let d = (arrival as i64 - ts_us).unsigned_abs();
                self.transit_diff.record(d);
                let d_ts = d as f64 * RATE as f64 / 1e6;
                src.jitter += (d_ts - src.jitter) / 16.0;
            }
            let delta = h.seq.wrapping_sub(src.max_seq);
            if delta != 0 && delta < 0x8000 {
                if h.seq < src.max_seq {
                    src.cycles += 1 << 16;
                }
                src.max_seq = h.seq;
            }
        }
        src.received += 1;
        src.stream_received += 1;
        src.last_us = now_us;
        src.last_ts = h.timestamp;
    }
}

/// Percentage `part / whole`, 0 when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// A quantile in milliseconds for the summary line ("-" when empty, ">1000" on overflow).
pub fn ms(q: Option<u64>) -> String {
    match q {
        None => "-".to_string(),
        Some(u64::MAX) => ">1000".to_string(),
        Some(us) => format!("{:.1}", us as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(seq: u16, timestamp: u32) -> Header {
        Header {
            marker: false,
            payload_type: 0,
            seq,
            timestamp,
            ssrc: 7,
        }
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new(100, 100);
        assert_eq!(h.quantile(0.5), None);
        for us in 0..100 {
            h.record(us * 100 + 50); // one per bucket
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(5_000));
        assert_eq!(h.quantile(0.99), Some(9_900));
        assert_eq!(h.quantile(1.0), Some(10_000));
        h.record(1_000_000);
        assert_eq!(h.quantile(1.0), Some(u64::MAX));
        assert_eq!(ms(h.quantile(1.0)), ">1000");
        assert_eq!(ms(Some(20_100)), "20.1");
    }

    #[test]
    fn steady_stream_has_no_jitter_and_no_loss() {
        let mut stats = RecvStats::default();
        let mut src = Source::default();
        for i in 0..100u16 {
            stats.on_packet(&mut src, &hdr(i, u32::from(i) * 160), u64::from(i) * 20_000);
        }
        assert_eq!(src.received, 100);
        assert_eq!(src.expected(), 100);
        assert_eq!(src.due_20ms(), 100);
        assert_eq!(stats.interarrival.quantile(0.5), Some(20_100));
        assert_eq!(stats.transit_diff.quantile(0.99), Some(100));
        assert!(src.jitter < 1e-9);
    }

    #[test]
    fn loss_and_sequence_wrap() {
        let mut stats = RecvStats::default();
        let mut src = Source::default();
        let mut t = 0;
        // seq 65530..=65535, 0..=9, with 65533 and 2 lost
        for seq in (65530u16..=65535).chain(0..10) {
            t += 20_000;
            if seq == 65533 || seq == 2 {
                continue;
            }
            stats.on_packet(&mut src, &hdr(seq, u32::from(seq) * 160), t);
        }
        assert_eq!(src.received, 14);
        assert_eq!(src.expected(), 16);
    }

    #[test]
    fn late_packet_counts_as_transit_difference() {
        let mut stats = RecvStats::default();
        let mut src = Source::default();
        stats.on_packet(&mut src, &hdr(0, 0), 0);
        stats.on_packet(&mut src, &hdr(1, 160), 25_000); // 5 ms late
        stats.on_packet(&mut src, &hdr(2, 320), 40_000); // 5 ms early
        assert_eq!(stats.transit_diff.quantile(1.0), Some(5_100));
        // J = 40/16 after the first, then += (40 - J)/16
        let j1 = 40.0 / 16.0;
        let j2 = j1 + (40.0 - j1) / 16.0;
        assert!((src.jitter - j2).abs() < 1e-9);
        assert_eq!(src.due_20ms(), 3);
    }

    #[test]
    fn restart_keeps_counts_but_not_continuity() {
        let mut stats = RecvStats::default();
        let mut src = Source::default();
        for i in 0..10u16 {
            stats.on_packet(&mut src, &hdr(i, u32::from(i) * 160), u64::from(i) * 20_000);
        }
        src.restart();
        // a new call on the same port, 5 s later, other sequence and timestamps
        for i in 0..10u16 {
            let seq = 40_000 + i;
            stats.on_packet(
                &mut src,
                &hdr(seq, u32::from(seq) * 160 + 7),
                5_000_000 + u64::from(i) * 20_000,
            );
        }
        assert_eq!(src.received, 20);
        assert_eq!(src.expected(), 20);
        assert_eq!(src.due_20ms(), 20);
        // the 5 s gap is not an inter-arrival interval
        assert_eq!(stats.interarrival.quantile(1.0), Some(20_100));
        assert_eq!(stats.interarrival.count(), 18);
    }

    #[test]
    fn percent_of_zero() {
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
    }
}
