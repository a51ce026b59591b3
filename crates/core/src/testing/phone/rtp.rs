//! A phone's audio: PCMU over RTP on the memory network, as the phone's SDP answer says.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_media::codec::g711;
use switchboard_media::goertzel;
use switchboard_media::rtp::{self, RtpHeader};
use switchboard_media::tone::ToneGenerator;

use super::Call;

/// Samples in one 20 ms PCMU frame.
const FRAME: usize = 160;

/// The audio address of an SDP offer inside a message's text (`c=` and `m=audio`).
pub(super) fn offered_address(message: &str) -> SocketAddr {
    let ip = message
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("the offer has a connection address");
    let port = message
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|m| m.split(' ').next())
        .expect("the offer has an audio stream");
    format!("{}:{port}", ip.trim())
        .parse()
        .expect("the offer's address parses")
}

impl Call {
    /// Sends a `freq` Hz tone for `duration` to the switch, one 20 ms packet at a time.
    pub(crate) async fn send_tone(&self, freq: f32, duration: Duration) {
        let mut tone = ToneGenerator::new(&[freq], 8000, 8000);
        let mut pcm = [0i16; FRAME];
        let mut packet = Vec::new();
        let frames = duration.as_millis() / 20;
        let mut clock = tokio::time::interval(Duration::from_millis(20));
        for n in 0..frames {
            clock.tick().await;
            tone.fill(&mut pcm);
            let n = u16::try_from(n).expect("a short tone");
            let header = RtpHeader {
                marker: n == 0,
                payload_type: 0,
                sequence: n,
                timestamp: u32::from(n) * 160,
                ssrc: 0x5eed,
            };
            let payload: Vec<u8> = pcm.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
            packet.clear();
            rtp::write(&header, &payload, &mut packet);
            self.rtp
                .try_send_to(&packet, self.switch_rtp)
                .expect("sent on the memory network");
        }
    }

    /// The PCMU audio that reaches the phone within `window`, decoded.
    pub(crate) async fn receive_audio(&self, window: Duration) -> Vec<i16> {
        let deadline = tokio::time::Instant::now() + window;
        let mut audio = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(received) =
            tokio::time::timeout_at(deadline, self.rtp.recv_from(&mut buf)).await
        {
            let (len, _) = received.expect("the phone's socket is open");
            let Ok(packet) = rtp::parse(&buf[..len]) else {
                continue;
            };
            if packet.header.payload_type == 0 {
                audio.extend(packet.payload.iter().map(|&u| g711::ulaw_to_linear(u)));
            }
        }
        audio
    }
}

/// How many 20 ms frames of `audio` have `freq` as their strongest of `candidates`.
pub(crate) fn frames_of(audio: &[i16], freq: f32, candidates: &[f32]) -> usize {
    audio
        .chunks_exact(FRAME)
        .filter(|frame| goertzel::dominant_frequency(frame, 8000, candidates) == Some(freq))
        .count()
}
