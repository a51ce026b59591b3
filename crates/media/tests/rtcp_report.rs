//! A leg that sends media reports it in RTCP sender reports whose RTP timestamp is the
//! stream's clock at the report's NTP time (RFC 3550 §6.4.1), not zero.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchboard_media::codec::Codec;
use switchboard_media::engine::{EngineConfig, MediaEngine, Remote, Source};
use switchboard_media::rtcp::{self, RtcpPacket};
use switchboard_media::rtp;

/// An RTP socket and the RTCP one on the next port.
fn phone(ip: IpAddr) -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("rtp socket");
        let port = rtp.local_addr().expect("addr").port();
        if port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
            return (rtp, rtcp);
        }
    }
    panic!("no pair of consecutive ports");
}

#[test]
fn sender_reports_carry_the_stream_clock() {
    let ip = IpAddr::from([127, 0, 0, 1]);
    let engine = MediaEngine::start(EngineConfig {
        ip,
        ports: (42_000, 42_400),
        threads: 1,
        net: None,
    })
    .expect("media engine");
    let (rtp_socket, rtcp_socket) = phone(ip);
    rtp_socket.set_nonblocking(true).expect("nonblocking");
    rtcp_socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let leg = engine.create_leg("rtcp-test").expect("leg");
    leg.set_remote(Remote {
        addr: rtp_socket.local_addr().expect("addr"),
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        send: true,
    });
    let _tone = leg.play(Source::Tone {
        freqs: vec![440.0],
        duration_ms: 20_000,
    });
    let mut last: Option<(u32, Instant)> = None;
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(12);
    let report = loop {
        assert!(Instant::now() < deadline, "no sender report within 12 s");
        while let Ok((len, _)) = rtp_socket.recv_from(&mut buf) {
            if let Ok(packet) = rtp::parse(&buf[..len]) {
                last = Some((packet.header.timestamp, Instant::now()));
            }
        }
        let Ok((len, _)) = rtcp_socket.recv_from(&mut buf) else {
            continue;
        };
        let arrived = Instant::now();
        let sr = rtcp::parse_compound(&buf[..len])
            .into_iter()
            .find_map(|p| match p {
                RtcpPacket::SenderReport {
                    rtp_ts,
                    packet_count,
                    ..
                } => Some((rtp_ts, packet_count)),
                _ => None,
            });
        if let (Some(sr), Some(last)) = (sr, last) {
            break (sr, last, arrived);
        }
    };
    let ((rtp_ts, packet_count), (last_ts, last_at), arrived) = report;
    assert!(packet_count > 0);
    // The last data packet's timestamp, moved on by the time since at 8 kHz.
    let expected = last_ts.wrapping_add((arrived.duration_since(last_at).as_millis() * 8) as u32);
    let off = rtp_ts.wrapping_sub(expected) as i32;
    assert!(
        off.abs() < 800,
        "SR timestamp {rtp_ts} is {off} ticks from the stream's clock ({expected})"
    );
    leg.close();
}
