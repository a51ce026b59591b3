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
    /// The session's time zero, for the millisecond arrival times of the statistics.
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

    fn millis(&self, now: Instant) -> u64 {
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
        self.out.count_sent(payload.len(), rewritten.timestamp, now);
        rtp::write(&rewritten, payload, out);
        Some(remote.addr)
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
        if self.mute_out || !remote.send {
            return None;
        }
        self.out.count_sent(payload.len(), header.timestamp, now);
        rtp::write(&header, payload, out);
        Some(remote.addr)
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
        if !remote.send {
            return None;
        }
        self.out.count_sent(payload.len(), header.timestamp, now);
        rtp::write(&header, payload, out);
        Some(remote.addr)
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
