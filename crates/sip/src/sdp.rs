//! SDP (RFC 4566) for audio calls, and the offer/answer rules of RFC 3264.
//!
//! Hand-written on purpose: a softswitch only needs the session-level connection, the
//! audio `m=` line, `rtpmap`, `fmtp`, `ptime` and the direction attribute, and owning the
//! parser keeps answers exact (an answer lists only what was offered).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP has no audio media line")]
    NoAudio,
    #[error("SDP line {0:?} is malformed")]
    Malformed(String),
    #[error("SDP has no connection address for audio")]
    NoConnection,
}

/// The media direction attribute; a hold is `sendonly` (or `inactive`) from the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn parse(attr: &str) -> Option<Self> {
        match attr {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// What the answerer says back to this offered direction (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            other => other,
        }
    }

    /// Whether the side that wrote this direction wants to receive audio.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// Whether the side that wrote this direction will send audio.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }
}

/// One payload format of an `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub payload_type: u8,
    /// Encoding name as written in `rtpmap` (or the RFC 3551 static name).
    pub encoding: String,
    pub clock_rate: u32,
    /// The `rtpmap` channel count when given (Opus always says 2).
    pub channels: Option<u8>,
    pub fmtp: Option<String>,
}

impl Format {
    pub fn new(payload_type: u8, encoding: &str, clock_rate: u32) -> Self {
        Self {
            payload_type,
            encoding: encoding.to_owned(),
            clock_rate,
            channels: None,
            fmtp: None,
        }
    }

    /// Whether this is `encoding`, or `encoding/rate` when a rate is given
    /// (`L16/16000`).
    pub fn is(&self, encoding: &str) -> bool {
        match encoding.split_once('/') {
            Some((name, rate)) => {
                self.encoding.eq_ignore_ascii_case(name) && rate.parse() == Ok(self.clock_rate)
            }
            None => self.encoding.eq_ignore_ascii_case(encoding),
        }
    }
}

/// The audio part of a session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    pub session_id: u64,
    pub version: u64,
    pub address: IpAddr,
    pub port: u16,
    /// In the writer's order of preference.
    pub formats: Vec<Format>,
    pub direction: Direction,
    pub ptime: Option<u32>,
}

/// Static payload types of RFC 3551 that may appear without `rtpmap`.
fn static_format(pt: u8) -> Option<Format> {
    match pt {
        0 => Some(Format::new(0, "PCMU", 8000)),
        8 => Some(Format::new(8, "PCMA", 8000)),
        9 => Some(Format::new(9, "G722", 8000)),
        _ => None,
    }
}

impl Sdp {
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let malformed = |line: &str| SdpError::Malformed(line.chars().take(80).collect());
        let mut session_addr = None;
        let mut media_addr = None;
        let mut origin = (0, 0);
        let mut in_audio = false;
        let mut seen_audio = false;
        let mut port = 0;
        let mut pts: Vec<u8> = Vec::new();
        let mut maps: Vec<Format> = Vec::new();
        let mut fmtps: Vec<(u8, String)> = Vec::new();
        let mut session_dir = None;
        let mut media_dir = None;
        let mut ptime = None;

        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            let Some((kind, value)) = line.split_once('=') else {
                return Err(malformed(line));
            };
            match kind {
                "o" => {
                    let fields: Vec<&str> = value.split_whitespace().collect();
                    let (Some(id), Some(ver)) = (fields.get(1), fields.get(2)) else {
                        return Err(malformed(line));
                    };
                    origin = (id.parse().unwrap_or(0), ver.parse().unwrap_or(0));
                }
                "c" => {
                    let addr = value
                        .split_whitespace()
                        .nth(2)
                        .and_then(|a| a.split('/').next())
                        .and_then(|a| a.parse::<IpAddr>().ok())
                        .ok_or_else(|| malformed(line))?;
                    if in_audio {
                        media_addr = Some(addr);
                    } else if !seen_audio {
                        session_addr = Some(addr);
                    }
                }
                "m" => {
                    let mut fields = value.split_whitespace();
                    let media = fields.next().unwrap_or_default();
                    in_audio = media == "audio" && !seen_audio;
                    if in_audio {
                        seen_audio = true;
                        port = fields
                            .next()
                            .and_then(|p| p.split('/').next())
                            .and_then(|p| p.parse().ok())
                            .ok_or_else(|| malformed(line))?;
                        let _proto = fields.next().ok_or_else(|| malformed(line))?;
                        pts = fields.filter_map(|f| f.parse().ok()).collect();
                    }
                }
                "a" if in_audio || !seen_audio => {
                    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                    match name {
                        "rtpmap" if in_audio => {
                            if let Some(format) = parse_rtpmap(arg) {
                                maps.push(format);
                            }
                        }
                        "fmtp" if in_audio => {
                            if let Some((pt, params)) = arg.split_once(' ') {
                                if let Ok(pt) = pt.parse() {
                                    fmtps.push((pt, params.trim().to_owned()));
                                }
                            }
                        }
                        "ptime" if in_audio => ptime = arg.trim().parse().ok(),
                        _ => {
                            if let Some(dir) = Direction::parse(name) {
                                if in_audio {
                                    media_dir = Some(dir);
                                } else {
                                    session_dir = Some(dir);
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if !seen_audio {
            return Err(SdpError::NoAudio);
        }
        let address = media_addr.or(session_addr).ok_or(SdpError::NoConnection)?;
        let formats = pts
            .iter()
            .filter_map(|&pt| {
                let mut format = maps
                    .iter()
                    .find(|f| f.payload_type == pt)
                    .cloned()
                    .or_else(|| static_format(pt))?;
                format.fmtp = fmtps.iter().find(|(p, _)| *p == pt).map(|(_, v)| v.clone());
                Some(format)
            })
            .collect();
        Ok(Self {
            session_id: origin.0,
            version: origin.1,
            address,
            port,
            formats,
            direction: media_dir.or(session_dir).unwrap_or_default(),
            ptime,
        })
    }

    /// Where this side wants to receive RTP.
    pub fn rtp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// The first non-DTMF format, i.e. the codec this description settles on.
    pub fn audio_format(&self) -> Option<&Format> {
        self.formats.iter().find(|f| !f.is("telephone-event"))
    }

    pub fn telephone_event(&self) -> Option<&Format> {
        self.formats.iter().find(|f| f.is("telephone-event"))
    }

    /// Answer an offer (RFC 3264 §6): the first offered codec, in the offerer's order,
    /// that the answering endpoint allows (`allowed`, as Asterisk's default
    /// `incoming_offer_codec_prefs` does), plus telephone-event when offered and allowed.
    /// Payload type numbers are the offerer's. `None` when nothing is common.
    pub fn answer(&self, allowed: &[&str], local: SocketAddr, session_id: u64) -> Option<Sdp> {
        let codec = self
            .formats
            .iter()
            .find(|f| !f.is("telephone-event") && allowed.iter().any(|name| f.is(name)))?;
        let mut formats = vec![codec.clone()];
        let wants_dtmf = allowed
            .iter()
            .any(|p| p.eq_ignore_ascii_case("telephone-event"));
        if let Some(te) = self.telephone_event().filter(|_| wants_dtmf) {
            formats.push(te.clone());
        }
        Some(Sdp {
            session_id,
            version: session_id,
            address: local.ip(),
            port: local.port(),
            formats,
            direction: self.direction.answer(),
            ptime: self.ptime,
        })
    }

    /// An offer of `codecs` (names known to RFC 3551, plus `telephone-event` at 101).
    pub fn offer(codecs: &[&str], local: SocketAddr, session_id: u64) -> Sdp {
        let formats = codecs
            .iter()
            .filter_map(|name| match name.to_ascii_uppercase().as_str() {
                "PCMU" => static_format(0),
                "PCMA" => static_format(8),
                "G722" => static_format(9),
                "L16" => Some(Format::new(96, "L16", 8000)),
                "L16/16000" => Some(Format::new(97, "L16", 16000)),
                "OPUS" => Some(Format {
                    channels: Some(2),
                    fmtp: Some("useinbandfec=1".to_owned()),
                    ..Format::new(111, "opus", 48000)
                }),
                "TELEPHONE-EVENT" => Some(Format {
                    fmtp: Some("0-16".to_owned()),
                    ..Format::new(101, "telephone-event", 8000)
                }),
                _ => None,
            })
            .collect();
        Sdp {
            session_id,
            version: session_id,
            address: local.ip(),
            port: local.port(),
            formats,
            direction: Direction::SendRecv,
            ptime: Some(20),
        }
    }
}

fn parse_rtpmap(arg: &str) -> Option<Format> {
    let (pt, rest) = arg.split_once(' ')?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next()?;
    let clock_rate = parts.next()?.parse().ok()?;
    let channels = parts.next().and_then(|c| c.parse().ok());
    Some(Format {
        channels,
        ..Format::new(pt.parse().ok()?, encoding, clock_rate)
    })
}

impl std::fmt::Display for Sdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let family = if self.address.is_ipv6() { "IP6" } else { "IP4" };
        let mut out = String::new();
        let _ = write!(
            out,
            "v=0\r\no=switchboard {} {} IN {family} {}\r\ns=switchboard\r\nc=IN {family} {}\r\nt=0 0\r\nm=audio {} RTP/AVP",
            self.session_id, self.version, self.address, self.address, self.port
        );
        for format in &self.formats {
            let _ = write!(out, " {}", format.payload_type);
        }
        out.push_str("\r\n");
        for format in &self.formats {
            let _ = write!(
                out,
                "a=rtpmap:{} {}/{}",
                format.payload_type, format.encoding, format.clock_rate
            );
            if let Some(channels) = format.channels {
                let _ = write!(out, "/{channels}");
            }
            out.push_str("\r\n");
            if let Some(fmtp) = &format.fmtp {
                let _ = write!(out, "a=fmtp:{} {fmtp}\r\n", format.payload_type);
            }
        }
        if let Some(ptime) = self.ptime {
            let _ = write!(out, "a=ptime:{ptime}\r\n");
        }
        let _ = write!(out, "a={}\r\n", self.direction.as_str());
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 42 7 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n";

    fn local() -> SocketAddr {
        "127.0.0.1:10000".parse().unwrap()
    }

    #[test]
    fn parses_static_and_mapped_formats() {
        let sdp = Sdp::parse(OFFER).unwrap();
        assert_eq!(sdp.rtp_addr(), "10.0.0.1:4000".parse().unwrap());
        let names: Vec<_> = sdp.formats.iter().map(|f| f.encoding.as_str()).collect();
        assert_eq!(names, ["PCMA", "PCMU", "telephone-event"]);
        assert_eq!(sdp.telephone_event().unwrap().fmtp.as_deref(), Some("0-15"));
        assert_eq!(sdp.direction, Direction::SendRecv);
        assert_eq!(sdp.ptime, Some(20));
    }

    #[test]
    fn answer_follows_the_offer_order_within_what_the_endpoint_allows() {
        let offer = Sdp::parse(OFFER).unwrap();
        let answer = offer
            .answer(&["PCMU", "PCMA", "telephone-event"], local(), 1)
            .unwrap();
        let pts: Vec<_> = answer.formats.iter().map(|f| f.payload_type).collect();
        assert_eq!(pts, [8, 101]);
        let only_pcmu = offer.answer(&["PCMU"], local(), 1).unwrap();
        assert!(only_pcmu.formats[0].is("PCMU"));
        let no_dtmf = offer.answer(&["G722", "PCMA"], local(), 1).unwrap();
        assert_eq!(no_dtmf.formats.len(), 1);
        assert!(no_dtmf.formats[0].is("PCMA"));
        assert!(offer.answer(&["G722"], local(), 1).is_none());
    }

    #[test]
    fn hold_offer_is_answered_recvonly_and_round_trips() {
        let held = OFFER.replace("a=ptime:20", "a=sendonly");
        let offer = Sdp::parse(&held).unwrap();
        assert_eq!(offer.direction, Direction::SendOnly);
        let answer = offer.answer(&["PCMA"], local(), 9).unwrap();
        assert_eq!(answer.direction, Direction::RecvOnly);
        let reparsed = Sdp::parse(&answer.to_string()).unwrap();
        assert_eq!(reparsed, answer);
    }

    #[test]
    fn opus_rtpmap_keeps_its_channel_count() {
        let offer = Sdp::offer(&["opus", "PCMU"], local(), 1).to_string();
        assert!(offer.contains("a=rtpmap:111 opus/48000/2\r\n"), "{offer}");
        let answer = Sdp::parse(&offer)
            .unwrap()
            .answer(&["opus"], local(), 1)
            .unwrap();
        assert_eq!(answer.formats[0].channels, Some(2));
        assert!(answer.to_string().contains("opus/48000/2"));
    }

    #[test]
    fn l16_rates_are_told_apart() {
        let offer = Sdp::offer(&["L16/16000", "L16", "PCMU"], local(), 1);
        let reparsed = Sdp::parse(&offer.to_string()).unwrap();
        let answer = reparsed.answer(&["L16"], local(), 1).unwrap();
        assert_eq!(
            answer.formats[0].clock_rate, 16000,
            "plain L16 allows any rate"
        );
        let narrow = reparsed.answer(&["L16/8000"], local(), 1).unwrap();
        assert_eq!(narrow.formats[0].payload_type, 96);
    }

    #[test]
    fn offer_lists_requested_codecs_with_dtmf() {
        let offer = Sdp::offer(&["G722", "PCMU", "telephone-event"], local(), 5);
        let reparsed = Sdp::parse(&offer.to_string()).unwrap();
        let pts: Vec<_> = reparsed.formats.iter().map(|f| f.payload_type).collect();
        assert_eq!(pts, [9, 0, 101]);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            Sdp::parse("hello"),
            Err(SdpError::Malformed("hello".into()))
        );
        assert_eq!(
            Sdp::parse("v=0\r\nc=IN IP4 1.2.3.4\r\n"),
            Err(SdpError::NoAudio)
        );
        assert!(Sdp::parse("v=0\r\nm=audio x RTP/AVP 0\r\n").is_err());
        assert_eq!(
            Sdp::parse("v=0\r\nm=audio 5 RTP/AVP 0\r\n"),
            Err(SdpError::NoConnection)
        );
    }
}
