//! Small accessors and builders over `sipx_sip` messages, so the stack reads as SIP.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sipx_sip::headers::Address;
use sipx_sip::{
    parse_datagram, HeaderName, Limits, Message, Request, Response, ResponseBuilder, StatusCode,
};

pub fn header(message_headers: &sipx_sip::Headers, name: &HeaderName) -> Option<String> {
    message_headers
        .value(name)
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

pub fn call_id(req: &Request) -> String {
    header(&req.headers, &HeaderName::CallId).unwrap_or_default()
}

/// The `tag` parameter of a From or To header.
pub fn tag(headers: &sipx_sip::Headers, name: &HeaderName) -> Option<String> {
    let value = headers.value(name)?;
    // Several lookups a message: the common shape is read without parsing the URI.
    if let Some(tag) = plain_tag(&value) {
        return tag.map(|t| String::from_utf8_lossy(t).into_owned());
    }
    parsed_tag(&value)
}

/// The tag of a value ending `>;name=value;…` in plain tokens, as nearly every peer
/// sends it: `None` for any other shape (then [`parsed_tag`] decides), `Some(None)` when
/// there is no tag. On these values both ways of [`parsed_tag`] give this answer: no
/// quote, escape or space can hide a `;` or `>`, and a `tag` spelled in other case
/// (which only the URI parser would take) sends the value to [`parsed_tag`].
fn plain_tag(value: &[u8]) -> Option<Option<&[u8]>> {
    let at = value.iter().rposition(|&b| b == b'>')?;
    let params = &value[at + 1..];
    if params.is_empty() {
        return Some(None);
    }
    let token = |s: &[u8]| {
        s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-.!*_+`'~".contains(&b))
    };
    let mut found = None;
    // `;a=1;tag=x` splits into "", "a=1", "tag=x": the first piece must be empty
    let mut pieces = params.split(|&b| b == b';');
    if pieces.next() != Some(&[][..]) {
        return None;
    }
    for piece in pieces {
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &[][..]),
        };
        if name.is_empty() || !token(name) || !token(value) {
            return None;
        }
        if name.eq_ignore_ascii_case(b"tag") {
            if name != b"tag" {
                return None;
            }
            if found.is_none() && !value.is_empty() {
                found = Some(value);
            }
        }
    }
    Some(found)
}

/// [`tag`] of any value: through the address parser, or by its parameters when the URI
/// does not parse.
fn parsed_tag(value: &[u8]) -> Option<String> {
    match Address::parse(value, "From/To") {
        // The first tag with a value: in `;tag;tag=x` the first is a valueless generic
        // parameter, where `Address::tag` stops.
        Ok(address) => address
            .params
            .iter()
            .filter(|p| p.is("tag"))
            .find_map(|p| p.value.as_deref().filter(|v| !v.is_empty()))
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        // Peers echo back what they were sent, malformed URI and all (`sip:@host`):
        // the dialog must still be found by its tag.
        Err(_) => {
            let text = String::from_utf8_lossy(value);
            let params = text.rsplit_once('>').map_or(text.as_ref(), |(_, p)| p);
            params
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("tag="))
                .map(str::trim)
                .find(|t| !t.is_empty())
                .map(str::to_owned)
        }
    }
}

/// User part and display name of a From/To header.
pub fn party(headers: &sipx_sip::Headers, name: &HeaderName) -> (String, Option<String>) {
    let parsed = headers
        .value(name)
        .and_then(|v| Address::parse(&v, "From/To").ok());
    match parsed {
        Some(address) => (
            address
                .uri
                .user()
                .map(|u| String::from_utf8_lossy(u).into_owned())
                .unwrap_or_default(),
            address
                .display_name
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .filter(|d| !d.is_empty()),
        ),
        None => (String::new(), None),
    }
}

/// The URI of the first Contact, which is where in-dialog requests go.
pub fn contact_uri(headers: &sipx_sip::Headers) -> Option<String> {
    let value = headers.value(&HeaderName::Contact)?;
    let list = Address::parse_list(&value, "Contact").ok()?;
    list.first().map(|a| a.uri.to_string())
}

pub fn cseq_number(headers: &sipx_sip::Headers) -> Option<u32> {
    headers
        .typed::<sipx_sip::CSeq>()
        .and_then(Result::ok)
        .map(|c| c.sequence)
}

pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

/// A response to `req`, with `to_tag` added to To when it has none yet.
pub fn response(
    req: &Request,
    code: u16,
    to_tag: Option<&str>,
    extra: &[(HeaderName, String)],
    body: Option<&str>,
) -> Option<Response> {
    let status = StatusCode::new(code)?;
    let mut builder = ResponseBuilder::to_request(req, status, reason_phrase(code)).ok()?;
    if let Some(tag) = to_tag {
        if self::tag(&req.headers, &HeaderName::To).is_none() {
            let to = header(&req.headers, &HeaderName::To)?;
            builder = builder
                .set_header(&HeaderName::To, format!("{to};tag={tag}"))
                .ok()?;
        }
    }
    for (name, value) in extra {
        builder = builder.header(name.clone(), value.clone()).ok()?;
    }
    if let Some(body) = body {
        builder = builder
            .header(HeaderName::ContentType, "application/sdp")
            .ok()?
            .body(Bytes::from(body.to_owned()));
    }
    Some(builder.build())
}

/// Most Via lines a stateless response copies: a request that crossed more hops than
/// Max-Forwards' usual 70 is not a routed request but an attack, and echoing its Vias would
/// both fail our own header limit and reflect its size back.
const MAX_COPIED_VIAS: usize = 70;

/// A stateless response (400, 513, …) to a request that cannot be parsed or was refused
/// before parsing: copy whatever of the mandatory headers is present, and drop the message
/// when even Via is missing. With more than [`MAX_COPIED_VIAS`] Vias only the topmost is
/// copied, which still reaches the sender.
pub fn stateless_response(raw: &[u8], code: u16, why: &str) -> Option<Message> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let start = lines.next()?;
    if start.starts_with("SIP/") {
        return None; // never answer a response
    }
    let is_via = |name: &str| name == "via" || name == "v";
    let name_of = |line: &str| {
        line.split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let vias = head.split("\r\n").filter(|l| is_via(&name_of(l))).count();
    let mut out = format!(
        "SIP/2.0 {code} {}\r\nWarning: 399 switchboard \"{}\"\r\n",
        reason_phrase(code),
        why.replace('"', "'")
    );
    let mut copied_vias = 0;
    for line in lines {
        let name = name_of(line);
        if is_via(&name) {
            if copied_vias > 0 && vias > MAX_COPIED_VIAS {
                continue;
            }
            copied_vias += 1;
        } else if !matches!(
            name.as_str(),
            "from" | "f" | "to" | "t" | "call-id" | "i" | "cseq"
        ) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    // What was copied came from a peer and may not parse: then there is no answer.
    (copied_vias > 0)
        .then(|| parse_datagram(Bytes::from(out), &Limits::datagram()).ok())
        .flatten()
}

/// Parses a message written as text (tests write theirs so).
#[cfg(test)]
pub fn build(text: String) -> Option<Message> {
    match parse_datagram(Bytes::from(text), &Limits::datagram()) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::error!(error = %e, "built an unparseable SIP message");
            None
        }
    }
}

/// `value` as the user part of a SIP URI: what RFC 3261's `user` rule does not allow
/// bare is %-escaped, so a caller id such as `1000>;x` cannot end the URI early.
pub fn uri_user(value: &str) -> String {
    const USER_UNRESERVED: &[u8] = b"-_.!~*'()&=+$,?/";
    value
        .bytes()
        .fold(String::with_capacity(value.len()), |mut out, b| {
            if b.is_ascii_alphanumeric() || USER_UNRESERVED.contains(&b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
            out
        })
}

/// `value` as a quoted-string (a display name): quotes and backslashes escaped, line
/// breaks and other control characters left out.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

pub fn new_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

pub fn new_branch() -> String {
    format!("z9hG4bK{}", uuid::Uuid::new_v4().simple())
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Headers the user agent writes itself: one set from outside would contradict the
/// dialog or the framing.
pub const RESERVED_HEADERS: [HeaderName; 11] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::Contact,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::Route,
    HeaderName::RecordRoute,
];

/// Whether `name` is a header the user agent writes on its INVITEs itself.
pub fn is_reserved_header(name: &str) -> bool {
    let parsed = HeaderName::parse(&Bytes::from(name.to_owned()));
    RESERVED_HEADERS.contains(&parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tag_agrees_with_the_parser_or_defers() {
        let values = [
            "<sip:a@b>;tag=abc",
            "\"Alice\" <sip:a@b:5060;transport=udp>;tag=1-2.3",
            "<sip:a@b>",
            "<sip:a@b;tag=uri>",
            "<sip:a@b>;tag;tag=x",
            "<sip:a@b>;tag=;tag=y",
            "<sip:a@b>;tag=1;tag=2",
            "<sip:a@b>;foo=bar;tag=t~'`*",
            "<sip:@b>;tag=malformed-uri",
            "<sip:a@b>;TAG=upper;tag=lower",
            "<sip:a@b>;Tag=mixed",
            "<sip:a@b>; tag=spaced",
            "<sip:a@b>;tag = spaced",
            "<sip:a@b>;x=\"q>;tag=2\";tag=1",
            "<sip:a@b>;x=\"a>b\";tag=1",
            "<sip:a@b>;tag=%41",
            "<sip:a@b>;;tag=z",
            "<sip:a@b>;=v;tag=z",
            "sip:a@b;tag=addr-spec",
            "sip:a>b;tag=1",
            "<sip:a@b>x;tag=1",
        ];
        let mut plain = 0;
        for v in values {
            let expect = parsed_tag(v.as_bytes());
            if let Some(tag) = plain_tag(v.as_bytes()) {
                plain += 1;
                let tag = tag.map(|t| String::from_utf8_lossy(t).into_owned());
                assert_eq!(tag, expect, "{v}");
            }
        }
        assert_eq!(plain, 9, "the plain shapes are read directly");
    }

    #[test]
    fn plain_tag_agrees_with_the_parser_on_random_values() {
        // pieces a From/To value is made of, joined at random (xorshift: reproducible)
        const PIECES: [&str; 16] = [
            "<sip:a@b>",
            "<sip:@h>",
            "\"x>y\" ",
            "sip:a@b",
            ";",
            "=",
            "tag",
            "TAG",
            "Tag",
            "t1",
            "x",
            " ",
            "\"",
            "%41",
            ">",
            ";tag=",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut plain = 0;
        for _ in 0..20_000 {
            let len = 1 + next() % 8;
            let value: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            if let Some(tag) = plain_tag(value.as_bytes()) {
                plain += 1;
                let tag = tag.map(|t| String::from_utf8_lossy(t).into_owned());
                assert_eq!(tag, parsed_tag(value.as_bytes()), "{value:?}");
            }
        }
        assert!(plain > 1_000, "only {plain} plain values drawn");
    }

    const INVITE: &str = "INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
        From: \"Alice\" <sip:1000@127.0.0.1>;tag=abc\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
        Contact: <sip:1000@127.0.0.1:5070>;expires=60\r\nContent-Length: 0\r\n\r\n";

    fn invite() -> Request {
        match build(INVITE.to_owned()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn reads_dialog_fields() {
        let req = invite();
        assert_eq!(call_id(&req), "c1");
        assert_eq!(tag(&req.headers, &HeaderName::From).as_deref(), Some("abc"));
        assert_eq!(tag(&req.headers, &HeaderName::To), None);
        assert_eq!(
            party(&req.headers, &HeaderName::From),
            ("1000".into(), Some("Alice".into()))
        );
        assert_eq!(
            contact_uri(&req.headers).as_deref(),
            Some("sip:1000@127.0.0.1:5070")
        );
        assert_eq!(cseq_number(&req.headers), Some(7));
    }

    #[test]
    fn user_parts_and_display_names_cannot_break_their_header() {
        assert_eq!(uri_user("+1 (555)"), "+1%20(555)");
        assert_eq!(uri_user("1000>;x@evil"), "1000%3E%3Bx%40evil");
        assert_eq!(quoted("Al \"Bo\\\r\n"), "\"Al \\\"Bo\\\\\"");
        let text = INVITE.replace(
            "From: \"Alice\" <sip:1000@127.0.0.1>",
            &format!(
                "From: {} <sip:{}@127.0.0.1>",
                quoted("A\"b"),
                uri_user("1>;@x")
            ),
        );
        let Some(Message::Request(req)) = build(text) else {
            panic!("escaped values still parse");
        };
        assert_eq!(
            party(&req.headers, &HeaderName::From),
            ("1%3E%3B%40x".into(), Some("A\"b".into()))
        );
        assert_eq!(tag(&req.headers, &HeaderName::From).as_deref(), Some("abc"));
    }

    #[test]
    fn tag_survives_a_malformed_uri() {
        let text = INVITE.replace("To: <sip:1001@127.0.0.1>", "To: <sip:@127.0.0.1>;tag=t1");
        let Some(Message::Request(req)) = build(text) else {
            panic!("still frames as SIP");
        };
        assert_eq!(tag(&req.headers, &HeaderName::To).as_deref(), Some("t1"));
    }

    #[test]
    fn response_adds_to_tag_once_and_body() {
        let resp = response(&invite(), 200, Some("xyz"), &[], Some("v=0\r\n")).unwrap();
        assert_eq!(tag(&resp.headers, &HeaderName::To).as_deref(), Some("xyz"));
        assert_eq!(resp.body().as_ref(), b"v=0\r\n");
        assert_eq!(resp.status.code(), 200);
    }

    #[test]
    fn stateless_response_copies_what_is_there() {
        let raw = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let out = stateless_response(raw, 400, "missing Call-ID")
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(text.contains("CSeq: 1 OPTIONS"));
        assert!(stateless_response(b"garbage", 400, "x").is_none());
        assert!(stateless_response(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 400, "x").is_none());
    }

    #[test]
    fn stateless_response_to_a_via_flood_keeps_the_top_via() {
        let mut raw = String::from("OPTIONS sip:x SIP/2.0\r\n");
        for i in 0..500 {
            raw.push_str(&format!(
                "Via: SIP/2.0/UDP 10.0.0.{}:5060;branch=z9hG4bK{i}\r\n",
                i % 250
            ));
        }
        raw.push_str("Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n");
        let out = stateless_response(raw.as_bytes(), 513, "too many headers")
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("SIP/2.0 513 Message Too Large\r\n"));
        assert_eq!(text.matches("Via:").count(), 1);
        assert!(text.contains("branch=z9hG4bK0\r\n"));
    }
}
