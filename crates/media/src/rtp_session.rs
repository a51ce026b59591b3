//! One RTP session's protocol state, without sockets or clocks: the far end's address
//! (and latching it to where packets really come from), the outgoing stream (SSRC,
//! sequence and timestamp rewriting), receive statistics, RFC 4733 reception, mute, and
//! RTCP reports both ways.
//!
//! The engine's I/O shell hands it datagrams with their source and the time, and gets
//! back what to do with them and where to send what it writes, so the same logic runs on
//! UDP sockets, on the in-memory network of the tests, and in the unit tests below.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::codec::Codec;
use crate::dtmf::rfc4733;
use crate::rtcp::{self, RtcpPacket, SenderInfo};
use crate::rtp::{self, OutStream, RtpHeader};
use crate::stats::{RtpStat, RxStats, Summary};

/// The negotiated far end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub addr: SocketAddr,
    pub codec: Codec,
    /// The payload type the peer uses for `codec` (may differ from the static one).
    pub payload_type: u8,
    pub dtmf_payload_type: Option<u8>,
    /// False while the peer has put us on hold (`sendonly`/`inactive` from it).
    pub send: bool,
}

/// What a received datagram is to the session.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// Not taken: unparsable, no remote yet, from somewhere other than the latched
    /// address, muted, or a payload type that was not negotiated (comfort noise).
    Dropped,
    /// Voice in the negotiated codec.
    Audio {
        header: RtpHeader,
        payload: &'a [u8],
    },
    /// An RFC 4733 event packet; `ended` is its digit on the first packet that ends it.
    Event {
        header: RtpHeader,
        payload: &'a [u8],
        ended: Option<rfc4733::Digit>,
    },
}

/// Running summaries of the RTCP figures, for [`RtpStat`].
#[derive(Debug, Default)]
struct ReportSummaries {
    remote_jitter: Summary,
    remote_loss: Summary,
    local_jitter: Summary,
    local_loss: Summary,
    rtt: Summary,
    remote_reported_lost: u32,
    remote_reported_jitter: f64,
}

#[derive(Debug)]
pub struct RtpSession {
    remote: Option<Remote>,
    /// Symmetric RTP: the first packet after a remote is set tells where the peer really
    /// is (NAT); later packets from elsewhere are ignored.
    latched: bool,
    out: OutStream,
    rx: RxStats,
    dtmf: rfc4733::Receiver,
    /// Muted directions: what the far end says is dropped (`in`); voice is not sent
    /// (`out`).
    mute_in: bool,
    mute_out: bool,
    reports: ReportSummaries,
    /// The session's time zero, for millisecond arrival times ([`RtpSession::millis`]).
    epoch: Instant,
}

impl RtpSession {
    /// A session whose outgoing stream starts at `ssrc`, `sequence`, `timestamp`
    /// (RFC 3550 wants the last two random), created at `now`.
    pub fn new(ssrc: u32, sequence: u16, timestamp: u32, now: Instant) -> Self {
        Self {
            remote: None,
            latched: false,
            out: OutStream::new(ssrc, sequence, timestamp),
            rx: RxStats::new(8000),
            dtmf: rfc4733::Receiver::new(8000),
            mute_in: false,
            mute_out: false,
            reports: ReportSummaries::default(),
            epoch: now,
        }
    }

    pub fn remote(&self) -> Option<Remote> {
        self.remote
    }

    /// Sets (or changes, on re-INVITE) where and how to send. A new address is
    /// latched afresh.
    pub fn set_remote(&mut self, remote: Remote) {
        let moved = self.remote.map(|r| r.addr) != Some(remote.addr);
        self.latched &= !moved;
        self.remote = Some(remote);
    }

    /// Mutes or unmutes each direction (`None` leaves it as it is).
    pub fn set_mute(&mut self, incoming: Option<bool>, outgoing: Option<bool>) {
        if let Some(m) = incoming {
            self.mute_in = m;
        }
        if let Some(m) = outgoing {
            self.mute_out = m;
        }
    }

    /// Whether (incoming, outgoing) are muted.
    pub fn mutes(&self) -> (bool, bool) {
        (self.mute_in, self.mute_out)
    }

    /// Milliseconds since the session began: the arrival times of its statistics, and of
    /// the owner's jitter buffer.
    pub fn millis(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes one datagram (not RTCP) that arrived from `from` at `now`.
    pub fn receive<'a>(
        &mut self,
        datagram: &'a [u8],
        from: SocketAddr,
        now: Instant,
    ) -> Received<'a> {
        let Ok(packet) = rtp::parse(datagram) else {
            return Received::Dropped;
        };
        let Some(remote) = self.remote else {
            return Received::Dropped;
        };
        if self.latched {
            if from != remote.addr {
                return Received::Dropped;
            }
        } else {
            self.latched = true;
            if from != remote.addr {
                tracing::debug!(%from, "RTP latched to source address");
                self.remote = Some(Remote {
                    addr: from,
                    ..remote
                });
            }
        }
        let header = packet.header;
        let at = self.millis(now);
        self.rx.on_packet(&header, packet.payload.len(), at);
        if self.mute_in {
            return Received::Dropped;
        }
        if Some(header.payload_type) == remote.dtmf_payload_type {
            let ended = self.dtmf.on_packet(header.timestamp, packet.payload);
            return Received::Event {
                header,
                payload: packet.payload,
                ended,
            };
        }
        if header.payload_type != remote.payload_type {
            return Received::Dropped;
        }
        Received::Audio {
            header,
            payload: packet.payload,
        }
    }

    /// Writes into `out` packet `header` + `payload` of another stream as the next one of
    /// ours (the header rewritten into this stream, the payload as it is) and says where
    /// to send it; `None` when nothing is to be sent (no remote, on hold, voice muted,
    /// or an event towards a peer that did not negotiate RFC 4733).
    pub fn relay(
        &mut self,
        header: &RtpHeader,
        payload: &[u8],
        event: bool,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        if self.mute_out {
            return None;
        }
        let remote = self.remote.filter(|r| r.send)?;
        let payload_type = if event {
            remote.dtmf_payload_type?
        } else {
            remote.payload_type
        };
        let rewritten = self.out.relay(header, payload_type);
        Some(self.emit(&rewritten, payload, remote, now, out))
    }

    /// Counts and writes one packet of our stream; where it goes.
    fn emit(
        &mut self,
        header: &RtpHeader,
        payload: &[u8],
        remote: Remote,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> SocketAddr {
        self.out.count_sent(payload.len(), header.timestamp, now);
        rtp::write(header, payload, out);
        remote.addr
    }

    /// Writes into `out` one locally made frame of `payload` (already encoded in the
    /// remote's codec, `duration` clock units long) and says where to send it.
    pub fn send_frame(
        &mut self,
        payload: &[u8],
        duration: u32,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        let remote = self.remote?;
        let header = self.out.next_local(remote.payload_type, duration);
        let silent = self.mute_out || !remote.send;
        (!silent).then(|| self.emit(&header, payload, remote, now, out))
    }

    /// Writes into `out` one packet of a locally sent RFC 4733 event (`advance`: clock
    /// units the stream moves on after it, 0 while the event lasts) and says where to
    /// send it. Muting stops voice, not digits (as in Asterisk).
    pub fn send_event(
        &mut self,
        marker: bool,
        payload: &[u8],
        advance: u32,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        let remote = self.remote?;
        let payload_type = remote.dtmf_payload_type?;
        let mut header = self.out.next_local(payload_type, advance);
        header.marker = marker;
        remote
            .send
            .then(|| self.emit(&header, payload, remote, now, out))
    }

    /// Takes an RTCP compound packet that arrived at `now` (`wall`: the time since the
    /// Unix epoch then, for round-trip times).
    pub fn on_rtcp(&mut self, packet: &[u8], now: Instant, wall: Duration) {
        let (sec, frac) = rtcp::ntp_timestamp(wall);
        let arrival = rtcp::compact_ntp(sec, frac);
        let at = self.millis(now);
        let local_ssrc = self.out.ssrc();
        for report in rtcp::parse_compound(packet) {
            let blocks = match report {
                RtcpPacket::SenderReport {
                    ntp_sec,
                    ntp_frac,
                    reports,
                    ..
                } => {
                    self.rx.on_sender_report(ntp_sec, ntp_frac, at);
                    reports
                }
                RtcpPacket::ReceiverReport { reports, .. } => reports,
                _ => continue,
            };
            let summaries = &mut self.reports;
            for block in blocks.iter().filter(|b| b.ssrc == local_ssrc) {
                let jitter = f64::from(block.jitter) / 8000.0;
                summaries.remote_reported_jitter = jitter;
                summaries.remote_jitter.add(jitter);
                summaries.remote_reported_lost =
                    u32::try_from(block.cumulative_lost.max(0)).unwrap_or(0);
                summaries
                    .remote_loss
                    .add(f64::from(block.fraction_lost) / 256.0);
                if let Some(rtt) = rtcp::round_trip_time(arrival, block) {
                    summaries.rtt.add(rtt);
                }
            }
        }
    }

    /// Writes into `out` the periodic RTCP report (a sender report once this side has
    /// sent, a receiver report before; with `cname`) and says where to send it: the port
    /// after the remote's RTP port. `None` before a remote is known.
    pub fn report(
        &mut self,
        cname: &str,
        now: Instant,
        wall: Duration,
        out: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        let remote = self.remote?;
        let ssrc = self.out.ssrc();
        let block = self.rx.report_block();
        if let Some(block) = &block {
            let jitter = f64::from(block.jitter) / 8000.0;
            self.reports.local_jitter.add(jitter);
            self.reports
                .local_loss
                .add(f64::from(block.fraction_lost) / 256.0);
        }
        let blocks: Vec<_> = block.into_iter().collect();
        if self.out.packets_sent() > 0 {
            let (ntp_sec, ntp_frac) = rtcp::ntp_timestamp(wall);
            let info = SenderInfo {
                ntp_sec,
                ntp_frac,
                rtp_ts: self
                    .out
                    .timestamp_at(now, remote.codec.rtp_clock_rate())
                    .unwrap_or(0),
                packet_count: u32::try_from(self.out.packets_sent()).unwrap_or(u32::MAX),
                octet_count: u32::try_from(self.out.octets_sent()).unwrap_or(u32::MAX),
            };
            rtcp::write_sender_report(ssrc, &info, &blocks, out);
        } else {
            rtcp::write_receiver_report(ssrc, &blocks, out);
        }
        rtcp::write_sdes_cname(ssrc, cname, out);
        Some(SocketAddr::new(
            remote.addr.ip(),
            remote.addr.port().wrapping_add(1),
        ))
    }

    /// The session's statistics in the shape of ARI's RTPstat.
    pub fn stats(&self, channel_uniqueid: &str) -> RtpStat {
        let r = &self.reports;
        let summary = |s: &Summary| (s.max, s.min, s.mean, s.stdev);
        let (remote_maxjitter, remote_minjitter, remote_normdevjitter, remote_stdevjitter) =
            summary(&r.remote_jitter);
        let (local_maxjitter, local_minjitter, local_normdevjitter, local_stdevjitter) =
            summary(&r.local_jitter);
        let (remote_maxrxploss, remote_minrxploss, remote_normdevrxploss, remote_stdevrxploss) =
            summary(&r.remote_loss);
        let (local_maxrxploss, local_minrxploss, local_normdevrxploss, local_stdevrxploss) =
            summary(&r.local_loss);
        let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        RtpStat {
            txcount: to_u32(self.out.packets_sent()),
            rxcount: to_u32(self.rx.packets()),
            txjitter: r.remote_reported_jitter,
            rxjitter: self.rx.jitter_seconds(),
            remote_maxjitter,
            remote_minjitter,
            remote_normdevjitter,
            remote_stdevjitter,
            local_maxjitter,
            local_minjitter,
            local_normdevjitter,
            local_stdevjitter,
            txploss: r.remote_reported_lost,
            rxploss: u32::try_from(self.rx.lost().max(0)).unwrap_or(u32::MAX),
            remote_maxrxploss,
            remote_minrxploss,
            remote_normdevrxploss,
            remote_stdevrxploss,
            local_maxrxploss,
            local_minrxploss,
            local_normdevrxploss,
            local_stdevrxploss,
            rtt: r.rtt.mean,
            maxrtt: r.rtt.max,
            minrtt: r.rtt.min,
            normdevrtt: r.rtt.mean,
            stdevrtt: r.rtt.stdev,
            local_ssrc: self.out.ssrc(),
            remote_ssrc: self.rx.remote_ssrc().unwrap_or(0),
            txoctetcount: to_u32(self.out.octets_sent()),
            rxoctetcount: to_u32(self.rx.octets()),
            channel_uniqueid: channel_uniqueid.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::rfc4733::EventPayload;

    const FAR: &str = "192.0.2.10:4000";
    const NAT: &str = "198.51.100.7:61000";

    fn remote(addr: &str) -> Remote {
        Remote {
            addr: addr.parse().unwrap(),
            codec: Codec::Pcmu,
            payload_type: 0,
            dtmf_payload_type: Some(101),
            send: true,
        }
    }

    fn packet(payload_type: u8, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let header = RtpHeader {
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc: 0xfeed,
        };
        let mut out = Vec::new();
        rtp::write(&header, payload, &mut out);
        out
    }

    fn session(now: Instant) -> RtpSession {
        let mut session = RtpSession::new(0x1234, 100, 5000, now);
        session.set_remote(remote(FAR));
        session
    }

    #[test]
    fn latches_to_the_first_source_and_ignores_others() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let voice = packet(0, 1, 160, &[0xff; 160]);
        assert!(matches!(
            s.receive(&voice, NAT.parse().unwrap(), t0),
            Received::Audio { .. }
        ));
        assert_eq!(s.remote().unwrap().addr, NAT.parse().unwrap());
        // The address the SDP named is now a stranger.
        assert_eq!(
            s.receive(&voice, FAR.parse().unwrap(), t0),
            Received::Dropped
        );
        // A re-INVITE to a new address latches afresh; the same address does not.
        s.set_remote(remote(NAT));
        assert_eq!(
            s.receive(&voice, FAR.parse().unwrap(), t0),
            Received::Dropped
        );
        s.set_remote(remote(FAR));
        assert!(matches!(
            s.receive(&voice, "203.0.113.1:9".parse().unwrap(), t0),
            Received::Audio { .. }
        ));
    }

    #[test]
    fn drops_garbage_unknown_formats_and_muted_input() {
        let t0 = Instant::now();
        let mut fresh = RtpSession::new(1, 1, 1, t0);
        let from = FAR.parse().unwrap();
        assert_eq!(
            fresh.receive(&packet(0, 1, 0, &[1]), from, t0),
            Received::Dropped
        );
        let mut s = session(t0);
        assert_eq!(s.receive(&[0x80, 0], from, t0), Received::Dropped);
        assert_eq!(
            s.receive(&packet(13, 1, 0, &[1]), from, t0),
            Received::Dropped
        );
        s.set_mute(Some(true), None);
        assert_eq!(
            s.receive(&packet(0, 2, 160, &[1]), from, t0),
            Received::Dropped
        );
        assert_eq!(s.mutes(), (true, false));
        // Muted input still counts as received.
        assert_eq!(s.stats("x").rxcount, 2);
    }

    #[test]
    fn reports_a_digit_once_when_its_event_ends() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let from = FAR.parse().unwrap();
        let event = |end: bool, duration: u16| {
            let mut payload = Vec::new();
            EventPayload {
                event: 5,
                end,
                volume: 10,
                duration,
            }
            .write(&mut payload);
            packet(101, 7, 8000, &payload)
        };
        let mut ended = Vec::new();
        for (end, duration) in [(false, 160), (false, 320), (true, 800), (true, 800)] {
            match s.receive(&event(end, duration), from, t0) {
                Received::Event { ended: digit, .. } => ended.extend(digit),
                other => panic!("not an event: {other:?}"),
            }
        }
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].digit, '5');
    }

    #[test]
    fn relays_into_its_own_stream_and_honours_hold_and_mute() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let mut out = Vec::new();
        let source = RtpHeader {
            marker: false,
            payload_type: 8,
            sequence: 40_000,
            timestamp: 1_000_000,
            ssrc: 0xabcd,
        };
        let to = s.relay(&source, &[7; 160], false, t0, &mut out);
        assert_eq!(to, Some(FAR.parse().unwrap()));
        let sent = rtp::parse(&out).unwrap();
        assert_eq!(
            (
                sent.header.ssrc,
                sent.header.sequence,
                sent.header.timestamp
            ),
            (0x1234, 100, 5000),
            "the first relayed packet continues our stream"
        );
        assert_eq!(sent.header.payload_type, 0, "the remote's payload type");
        assert!(sent.header.marker, "a new source starts a talk-spurt");
        assert_eq!(sent.payload, &[7; 160]);

        // Events go out with the remote's event payload type, or not at all.
        assert!(s
            .relay(&source, &[1, 2, 3, 4], true, t0, &mut out)
            .is_some());
        assert_eq!(rtp::parse(&out).unwrap().header.payload_type, 101);
        let mut no_events = remote(FAR);
        no_events.dtmf_payload_type = None;
        s.set_remote(no_events);
        assert_eq!(s.relay(&source, &[1, 2, 3, 4], true, t0, &mut out), None);

        s.set_mute(None, Some(true));
        assert_eq!(s.relay(&source, &[7; 160], false, t0, &mut out), None);
        s.set_mute(None, Some(false));
        s.set_remote(Remote {
            send: false,
            ..remote(FAR)
        });
        assert_eq!(s.relay(&source, &[7; 160], false, t0, &mut out), None);
        assert_eq!(s.stats("x").txcount, 2, "only what went out is counted");
    }

    #[test]
    fn local_frames_advance_the_stream_even_when_muted() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let mut out = Vec::new();
        assert!(s.send_frame(&[0xff; 160], 160, t0, &mut out).is_some());
        s.set_mute(None, Some(true));
        assert_eq!(s.send_frame(&[0xff; 160], 160, t0, &mut out), None);
        s.set_mute(None, Some(false));
        s.send_frame(&[0xff; 160], 160, t0, &mut out).unwrap();
        let header = rtp::parse(&out).unwrap().header;
        assert_eq!((header.sequence, header.timestamp), (102, 5320));
        // Digits are not voice: mute does not stop them.
        s.set_mute(None, Some(true));
        assert!(s.send_event(true, &[1, 0, 0, 0], 0, t0, &mut out).is_some());
        assert_eq!(rtp::parse(&out).unwrap().header.payload_type, 101);
    }

    #[test]
    fn sender_report_carries_the_stream_clock_at_its_ntp_time() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let mut out = Vec::new();
        s.send_frame(&[0xff; 160], 160, t0, &mut out).unwrap();
        let wall = Duration::from_secs(1_800_000_000);
        out.clear();
        let to = s.report("leg", t0 + Duration::from_millis(500), wall, &mut out);
        assert_eq!(
            to,
            Some("192.0.2.10:4001".parse().unwrap()),
            "RTCP on the next port"
        );
        match rtcp::parse_compound(&out).first() {
            Some(RtcpPacket::SenderReport {
                ssrc,
                rtp_ts,
                packet_count,
                ..
            }) => {
                assert_eq!(*ssrc, 0x1234);
                assert_eq!(*packet_count, 1);
                assert_eq!(
                    *rtp_ts,
                    5000 + 4000,
                    "half a second at 8 kHz after the packet"
                );
            }
            other => panic!("not a sender report: {other:?}"),
        }
    }

    #[test]
    fn a_receiver_report_about_us_feeds_the_statistics() {
        let t0 = Instant::now();
        let mut s = session(t0);
        let mut theirs = Vec::new();
        let block = rtcp::ReportBlock {
            ssrc: 0x1234,
            fraction_lost: 64,
            cumulative_lost: 3,
            highest_seq: 10,
            jitter: 80,
            lsr: 0,
            dlsr: 0,
        };
        rtcp::write_receiver_report(0xfeed, &[block], &mut theirs);
        s.on_rtcp(&theirs, t0, Duration::from_secs(1_800_000_000));
        let stats = s.stats("x");
        assert_eq!(stats.txploss, 3);
        assert!((stats.txjitter - 0.01).abs() < 1e-9);
        assert!((stats.remote_maxrxploss - 0.25).abs() < 1e-9);
        // A session that has sent nothing reports as a receiver.
        let mut out = Vec::new();
        s.report("leg", t0, Duration::from_secs(1_800_000_000), &mut out);
        assert!(matches!(
            rtcp::parse_compound(&out).first(),
            Some(RtcpPacket::ReceiverReport { .. })
        ));
    }
}
