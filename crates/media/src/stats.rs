//! Receive statistics (RFC 3550 appendix A) and the ARI `RTPstat` shape.
//!
//! Sans-IO: the caller passes each packet's header with its arrival time,
//! and reads counters, loss and jitter or builds RTCP report blocks.

use crate::rtcp::{compact_ntp, ReportBlock};
use crate::rtp::RtpHeader;

/// A forward sequence jump this large is not loss but a possible restart.
const MAX_DROPOUT: u16 = 3000;
/// A backward sequence step this large is not reordering.
const MAX_MISORDER: u16 = 100;

/// Receive statistics of one incoming RTP stream.
#[derive(Debug, Clone)]
pub struct RxStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    packets: u64,
    octets: u64,
    /// Sequence state of the current source (RFC 3550 A.1).
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    /// Sequence number which, if seen next, confirms a restart.
    bad_seq: Option<u16>,
    /// Packets counted for loss since the current source (re)started.
    received: u64,
    /// Expected/received totals of earlier sources or restarts.
    earlier_expected: u64,
    earlier_received: u64,
    /// Totals at the previous report, for the fraction lost.
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter estimate, in clock units.
    jitter: f64,
    /// Arrival (clock units) and RTP timestamp of the previous packet.
    last_transit: Option<(f64, u32)>,
    /// Compact NTP time of the last SR from the source and its arrival.
    last_sr: Option<(u32, u64)>,
    /// Latest arrival time seen (RTP or SR), the clock for DLSR.
    now_ms: u64,
}

impl RxStats {
    pub fn new(clock_rate: u32) -> Self {
        RxStats {
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            ssrc: None,
            packets: 0,
            octets: 0,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            bad_seq: None,
            received: 0,
            earlier_expected: 0,
            earlier_received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: 0.0,
            last_transit: None,
            last_sr: None,
            now_ms: 0,
        }
    }

    /// (Re)starts sequence accounting at `seq`, keeping earlier totals.
    fn init_seq(&mut self, seq: u16) {
        self.earlier_expected += self.source_expected();
        self.earlier_received += self.received;
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.cycles = 0;
        self.bad_seq = None;
        self.received = 0;
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn source_expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    /// Records a received packet: `payload_len` payload octets, arriving at
    /// `arrival_ms` on any monotonic millisecond clock.
    pub fn on_packet(&mut self, header: &RtpHeader, payload_len: usize, arrival_ms: u64) {
        self.packets += 1;
        self.octets += payload_len as u64;
        self.now_ms = self.now_ms.max(arrival_ms);

        let seq = header.sequence;
        if self.ssrc != Some(header.ssrc) {
            if self.ssrc.is_some() {
                tracing::debug!(
                    old = ?self.ssrc,
                    new = header.ssrc,
                    "remote SSRC changed"
                );
            }
            self.init_seq(seq);
            self.ssrc = Some(header.ssrc);
            self.last_transit = None;
            self.received = 1;
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta < MAX_DROPOUT {
                if seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = seq;
                self.received += 1;
            } else if delta <= u16::MAX - MAX_MISORDER {
                // A big jump: a restart if the next packet follows it.
                if self.bad_seq == Some(seq) {
                    self.init_seq(seq);
                    self.received = 1;
                } else {
                    self.bad_seq = Some(seq.wrapping_add(1));
                    return;
                }
            } else {
                // Duplicate or reordered packet.
                self.received += 1;
            }
        }

        // Interarrival jitter (RFC 3550 A.8). Packets repeating the
        // previous timestamp (e.g. DTMF events) carry no timing information.
        let arrival = arrival_ms as f64 * f64::from(self.clock_rate) / 1000.0;
        if let Some((last_arrival, last_ts)) = self.last_transit {
            if header.timestamp != last_ts {
                let ts_delta = f64::from(header.timestamp.wrapping_sub(last_ts) as i32);
                let d = (arrival - last_arrival) - ts_delta;
                self.jitter += (d.abs() - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some((arrival, header.timestamp));
    }

    /// Records an RTCP sender report from the source, received at
    /// `arrival_ms` (same clock as [`RxStats::on_packet`]), for LSR/DLSR.
    pub fn on_sender_report(&mut self, ntp_sec: u32, ntp_frac: u32, arrival_ms: u64) {
        self.now_ms = self.now_ms.max(arrival_ms);
        self.last_sr = Some((compact_ntp(ntp_sec, ntp_frac), arrival_ms));
    }

    /// Packets received (including duplicates).
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Payload octets received.
    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// Packets expected from the sequence numbers seen.
    pub fn expected(&self) -> u64 {
        self.earlier_expected + self.source_expected()
    }

    /// Cumulative packets lost; negative when duplicates outnumber losses.
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - (self.earlier_received + self.received) as i64
    }

    /// Fraction of packets lost since the last report block, in 1/256.
    pub fn fraction_lost(&self) -> u8 {
        let expected = self.expected().saturating_sub(self.expected_prior);
        let received = (self.earlier_received + self.received).saturating_sub(self.received_prior);
        if expected == 0 || received >= expected {
            return 0;
        }
        (((expected - received) << 8) / expected).min(255) as u8
    }

    /// Interarrival jitter in RTP clock units.
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }

    /// Interarrival jitter in seconds.
    pub fn jitter_seconds(&self) -> f64 {
        self.jitter / f64::from(self.clock_rate)
    }

    /// SSRC of the stream being received, once a packet has arrived.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// A report block on the received stream, or `None` before any packet.
    /// Starts a new interval for [`RxStats::fraction_lost`]. DLSR is measured
    /// up to the latest arrival time passed in (accurate to a packet
    /// interval while media flows).
    pub fn report_block(&mut self) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let fraction_lost = self.fraction_lost();
        self.expected_prior = self.expected();
        self.received_prior = self.earlier_received + self.received;
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => {
                let held = (self.now_ms - at).saturating_mul(65536) / 1000;
                (lsr, held.min(u64::from(u32::MAX)) as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_seq: self.extended_max(),
            jitter: self.jitter(),
            lsr,
            dlsr,
        })
    }
}

/// Running minimum, maximum, mean and (population) standard deviation of
/// successive values, e.g. the jitter or loss from each RTCP report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub max: f64,
    /// The running mean; Asterisk reports it as "normdev".
    pub mean: f64,
    pub stdev: f64,
    pub count: u64,
    /// Sum of squared deviations from the mean (Welford's method).
    m2: f64,
}

impl Summary {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, value: f64) {
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        self.stdev = (self.m2 / self.count as f64).sqrt();
    }
}

/// Channel RTP statistics with exactly the fields of the Asterisk ARI
/// `RTPstat` model. Jitter and RTT values are in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RtpStat {
    pub txcount: u32,
    pub rxcount: u32,
    pub txjitter: f64,
    pub rxjitter: f64,
    pub remote_maxjitter: f64,
    pub remote_minjitter: f64,
    pub remote_normdevjitter: f64,
    pub remote_stdevjitter: f64,
    pub local_maxjitter: f64,
    pub local_minjitter: f64,
    pub local_normdevjitter: f64,
    pub local_stdevjitter: f64,
    pub txploss: u32,
    pub rxploss: u32,
    pub remote_maxrxploss: f64,
    pub remote_minrxploss: f64,
    pub remote_normdevrxploss: f64,
    pub remote_stdevrxploss: f64,
    pub local_maxrxploss: f64,
    pub local_minrxploss: f64,
    pub local_normdevrxploss: f64,
    pub local_stdevrxploss: f64,
    pub rtt: f64,
    pub maxrtt: f64,
    pub minrtt: f64,
    pub normdevrtt: f64,
    pub stdevrtt: f64,
    pub local_ssrc: u32,
    pub remote_ssrc: u32,
    pub txoctetcount: u32,
    pub rxoctetcount: u32,
    pub channel_uniqueid: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(seq: u16, ts: u32, ssrc: u32) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type: 0,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
    }

    #[test]
    fn empty() {
        let mut s = RxStats::new(8000);
        assert_eq!((s.packets(), s.expected(), s.lost()), (0, 0, 0));
        assert_eq!(s.remote_ssrc(), None);
        assert_eq!(s.report_block(), None);
    }

    #[test]
    fn counts_loss_and_fraction() {
        let mut s = RxStats::new(8000);
        // 10 packets with 2 lost (seq 3 and 7).
        for i in 0u16..10 {
            if i == 3 || i == 7 {
                continue;
            }
            s.on_packet(&hdr(100 + i, 160 * u32::from(i), 5), 160, 20 * u64::from(i));
        }
        assert_eq!(s.packets(), 8);
        assert_eq!(s.octets(), 1280);
        assert_eq!(s.expected(), 10);
        assert_eq!(s.lost(), 2);
        assert_eq!(s.fraction_lost(), (2 * 256 / 10) as u8);
        assert_eq!(s.remote_ssrc(), Some(5));
        assert_eq!(s.jitter(), 0);

        let rb = s.report_block().unwrap();
        assert_eq!(rb.ssrc, 5);
        assert_eq!(rb.fraction_lost, 51);
        assert_eq!(rb.cumulative_lost, 2);
        assert_eq!(rb.highest_seq, 109);
        assert_eq!((rb.lsr, rb.dlsr), (0, 0));
        // New interval: no loss in it.
        assert_eq!(s.fraction_lost(), 0);
        s.on_packet(&hdr(110, 1600, 5), 160, 200);
        assert_eq!(s.report_block().unwrap().fraction_lost, 0);
        // Duplicates make loss negative but fraction stays 0.
        for _ in 0..3 {
            s.on_packet(&hdr(110, 1600, 5), 160, 201);
        }
        assert_eq!(s.lost(), -1);
        assert_eq!(s.report_block().unwrap().fraction_lost, 0);
    }

    #[test]
    fn sequence_wraparound_and_reordering() {
        let mut s = RxStats::new(8000);
        let seqs = [65533u16, 65534, 0, 65535, 1, 2];
        for (i, &seq) in seqs.iter().enumerate() {
            s.on_packet(&hdr(seq, 160 * i as u32, 1), 160, 20 * i as u64);
        }
        assert_eq!(s.expected(), 6);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.report_block().unwrap().highest_seq, 65536 + 2);
    }

    #[test]
    fn restart_and_ssrc_change() {
        let mut s = RxStats::new(8000);
        for i in 0u16..5 {
            s.on_packet(&hdr(i, u32::from(i) * 160, 1), 160, u64::from(i) * 20);
        }
        // A single stray far-away packet is ignored for loss accounting...
        s.on_packet(&hdr(30_000, 0, 1), 160, 100);
        assert_eq!((s.expected(), s.lost()), (5, 0));
        // ...but two in a row mean the sender restarted its sequence.
        s.on_packet(&hdr(30_001, 160, 1), 160, 120);
        s.on_packet(&hdr(30_003, 480, 1), 160, 140);
        assert_eq!(s.expected(), 5 + 3);
        assert_eq!(s.lost(), 1);
        // A new SSRC starts new sequence accounting, keeping totals.
        s.on_packet(&hdr(9, 0, 2), 160, 160);
        s.on_packet(&hdr(10, 160, 2), 160, 180);
        assert_eq!(s.remote_ssrc(), Some(2));
        assert_eq!(s.expected(), 10);
        assert_eq!(s.lost(), 1);
        assert_eq!(s.packets(), 10);
        assert_eq!(s.report_block().unwrap().highest_seq, 10);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut s = RxStats::new(8000);
        // Arrivals alternate 10 ms early/late around a 20 ms grid: each
        // transit difference is 20 ms = 160 units; jitter converges to it.
        for i in 0u32..400 {
            let arrival = u64::from(i) * 20 + if i % 2 == 0 { 0 } else { 10 };
            s.on_packet(&hdr(i as u16, i * 160, 1), 160, arrival);
        }
        assert!((s.jitter() as i64 - 80).abs() <= 1, "{}", s.jitter());
        assert!((s.jitter_seconds() - 0.010).abs() < 0.0002);
        // Timestamps wrapping do not disturb it.
        let mut s = RxStats::new(8000);
        for i in 0u32..50 {
            let ts = (u32::MAX - 800).wrapping_add(i * 160);
            s.on_packet(&hdr(i as u16, ts, 1), 160, u64::from(i) * 20);
        }
        assert_eq!(s.jitter(), 0);
    }

    #[test]
    fn lsr_and_dlsr() {
        let mut s = RxStats::new(8000);
        s.on_packet(&hdr(1, 0, 1), 160, 1000);
        s.on_sender_report(0x0001_0002, 0x0003_0004, 1000);
        s.on_packet(&hdr(2, 160, 1), 160, 1500);
        let rb = s.report_block().unwrap();
        assert_eq!(rb.lsr, 0x0002_0003);
        assert_eq!(rb.dlsr, 32768);
    }

    #[test]
    fn summary() {
        let mut sum = Summary::new();
        assert_eq!(sum.count, 0);
        for v in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            sum.add(v);
        }
        assert_eq!(sum.count, 8);
        assert_eq!((sum.min, sum.max), (2.0, 9.0));
        assert!((sum.mean - 5.0).abs() < 1e-12);
        assert!((sum.stdev - 2.0).abs() < 1e-12);
        let mut one = Summary::new();
        one.add(-3.0);
        assert_eq!(
            (one.min, one.max, one.mean, one.stdev),
            (-3.0, -3.0, -3.0, 0.0)
        );
    }

    #[test]
    fn rtp_stat_default() {
        let stat = RtpStat {
            channel_uniqueid: "1700000000.1".into(),
            local_ssrc: 7,
            ..RtpStat::default()
        };
        assert_eq!(stat.rxcount, 0);
        assert_eq!(stat.clone(), stat);
    }
}
