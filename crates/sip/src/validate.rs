//! What a request must be before switchboard acts on it (RFC 3261 §8.2), as a pure check.
//!
//! The stack calls [`check_request`] on every request that parsed, before a transaction
//! exists. The questions come in the RFC's order, each failure ending the request with its own
//! status: first whether the message is well formed at all (400, 505: `sipx_sip`'s findings
//! plus the headers we read later), then the method (§8.2.1, 405/501), the Request-URI scheme
//! (§8.2.2.1, 416), `Require` (§8.2.2.3, 420), the body (§8.2.3, 415), the `Accept` of an
//! INVITE (406, RFC 4475 §3.3.15) and finally `Max-Forwards` (483, loop protection for a
//! back-to-back agent that forwards what it receives).

use sipx_sip::headers::{ContactValue, ContentType, Date, MaxForwards, To};
use sipx_sip::{Finding, HeaderName, Method, Request, Scheme};

/// The methods the stack answers; everything else is 405/501 with this list in `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER";

/// The body types an INVITE or ACK (and a re-INVITE) may carry.
const SESSION_TYPES: &[(&str, &str)] = &[("application", "sdp")];
/// The body types INFO may carry: DTMF (the stack reads both).
const INFO_TYPES: &[(&str, &str)] = &[("application", "dtmf-relay"), ("application", "dtmf")];

/// Why a request is refused, and what the response must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The response status.
    pub code: u16,
    /// What was wrong, for a `Warning` header or a log line.
    pub reason: String,
    /// Headers the RFC requires in this response (`Allow`, `Unsupported`, `Accept`, ...).
    pub extra: Vec<(HeaderName, String)>,
}

impl Rejection {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
            extra: Vec::new(),
        }
    }

    fn with(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }
}

/// RFC 3261 §8.2 checks of a UAS, in the RFC's order; `Ok` when the request may be acted on.
///
/// An ACK is never answered: an `Err` for an ACK means "drop it". ACK and CANCEL skip the
/// `Require`, body and `Max-Forwards` questions (§8.2.2.3: they must not be refused for
/// `Require`; an ACK cannot be refused at all and a CANCEL carries no body).
pub fn check_request(request: &Request) -> Result<(), Rejection> {
    well_formed(request)?;
    method(request)?;
    uri_scheme(request)?;
    if matches!(request.method, Method::Ack | Method::Cancel) {
        return Ok(());
    }
    require(request)?;
    body(request)?;
    accept(request)?;
    max_forwards(request)
}

/// 400 for a malformed request, 505 for another SIP version (RFC 4475 §3.1.2).
fn well_formed(request: &Request) -> Result<(), Rejection> {
    // A missing Max-Forwards is repairable (RFC 2543 peers, RFC 4475 §3.4.1): we act as if
    // it were 70.
    let findings: Vec<Finding> = sipx_sip::validate_request(request)
        .into_iter()
        .filter(|f| !f.is_repairable())
        .collect();
    if let Some(version) = findings
        .iter()
        .find(|f| matches!(f, Finding::UnsupportedVersion))
    {
        return Err(Rejection::new(version.status(), "unsupported SIP version"));
    }
    if let Some(finding) = findings.first() {
        return Err(Rejection::new(finding.status(), describe(finding)));
    }
    // Headers the stack reads later: a malformed one is the request's fault, not ours
    // (RFC 4475 §3.1.2.12 baddate, §3.1.2.13 regbadct).
    let date_ok = request
        .headers
        .value(&HeaderName::Date)
        .is_none_or(|value| {
            date_fields_are_digits(&value)
                && request.headers.typed::<Date>().is_some_and(|d| d.is_ok())
        });
    if !date_ok {
        return Err(Rejection::new(400, "malformed Date"));
    }
    let contacts_ok = request
        .headers
        .typed_all::<ContactValue>()
        .all(|c| c.is_ok());
    if !contacts_ok {
        return Err(Rejection::new(400, "malformed Contact"));
    }
    // RFC 3261's grammar has no bare control characters in a header value: they appear
    // only escaped, as a quoted-pair (`\` then the octet, RFC 4475 intmeth) or as %00.
    // A bare one would be echoed into our answers.
    let control = request.headers.iter().find(|h| {
        let value = h.value();
        let bare = |(i, &b): (usize, &u8)| {
            b < 0x20 && b != b'\t' && (i == 0 || value.get(i - 1) != Some(&b'\\'))
        };
        value.iter().enumerate().any(bare)
    });
    if let Some(header) = control {
        let name = String::from_utf8_lossy(header.name().canonical()).into_owned();
        return Err(Rejection::new(400, format!("control character in {name}")));
    }
    Ok(())
}

/// Whether the two-digit fields of an RFC 1123 date (`Sat, 15 Oct 2005 14:44:56 GMT`) are
/// digits. sipx-sip 1.0.1's Date parser computes `hi * 10 + lo` before it checks that both
/// are digits, which overflows (a panic in a debug build) on a letter there: such a value
/// is malformed anyway, so it is refused before sipx reads it.
fn date_fields_are_digits(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    [5, 17, 20, 23].iter().all(|&at| {
        value
            .get(at..at + 2)
            .is_some_and(|field| field.iter().all(u8::is_ascii_digit))
    })
}

fn describe(finding: &Finding) -> String {
    match finding {
        Finding::MissingRequiredHeader(h) => format!("missing {h}"),
        Finding::MalformedRequiredHeader(h) => format!("malformed {h}"),
        Finding::RepeatedSingleValueHeader(h) => format!("repeated {h}"),
        Finding::CSeqMethodMismatch => "CSeq method differs from the request method".to_owned(),
        Finding::RequestUriHasHeaders => "Request-URI carries headers".to_owned(),
        other => format!("{other:?}"),
    }
}

/// §8.2.1: a method we do not implement.
fn method(request: &Request) -> Result<(), Rejection> {
    let known = matches!(
        request.method,
        Method::Invite
            | Method::Ack
            | Method::Cancel
            | Method::Bye
            | Method::Options
            | Method::Info
            | Method::Register
    );
    if known {
        return Ok(());
    }
    // §8.2.1: 405 for a method we recognise but do not support; 501 (§21.5.2) for one we
    // do not recognise at all.
    let code = if matches!(request.method, Method::Other(_)) {
        501
    } else {
        405
    };
    let method = String::from_utf8_lossy(request.method.as_bytes())
        .escape_default()
        .to_string();
    Err(
        Rejection::new(code, format!("method {method} not supported"))
            .with(HeaderName::Allow, ALLOW),
    )
}

/// §8.2.2.1: we are addressed by sip: and sips: URIs only (RFC 4475 §3.3.2, §3.3.3), and a
/// registrar binds only SIP addresses of record (§10.3 step 3; RFC 4475 §3.3.4 unksm2).
fn uri_scheme(request: &Request) -> Result<(), Rejection> {
    supported_scheme(request.uri.scheme())?;
    if request.method == Method::Register {
        if let Some(Ok(to)) = request.headers.typed::<To>() {
            supported_scheme(to.uri.scheme())?;
        }
    }
    Ok(())
}

fn supported_scheme(scheme: &Scheme) -> Result<(), Rejection> {
    match scheme {
        Scheme::Sip | Scheme::Sips => Ok(()),
        Scheme::Other(raw) => Err(Rejection::new(
            416,
            format!(
                "unsupported URI scheme {}",
                String::from_utf8_lossy(raw).escape_default()
            ),
        )),
        // tel: and whatever else sipx learns to name: nothing we route.
        _ => Err(Rejection::new(416, "unsupported URI scheme")),
    }
}

/// §8.2.2.3: we support no extension, so every option tag in `Require` is refused, and each
/// is listed in `Unsupported` (RFC 4475 §3.3.5). `Proxy-Require` is for proxies; a UAS
/// ignores it.
fn require(request: &Request) -> Result<(), Rejection> {
    let tags = list_values(request, &HeaderName::Require);
    if tags.is_empty() {
        return Ok(());
    }
    let tags = tags.join(", ");
    Err(Rejection::new(420, format!("unsupported extension {tags}"))
        .with(HeaderName::Unsupported, tags))
}

/// §8.2.3: a body we cannot read, unless its sender marked it optional.
fn body(request: &Request) -> Result<(), Rejection> {
    if request.body().is_empty() || optional_body(request) {
        return Ok(());
    }
    let encodings = list_values(request, &HeaderName::ContentEncoding);
    if encodings
        .iter()
        .any(|e| !e.eq_ignore_ascii_case("identity"))
    {
        return Err(Rejection::new(
            415,
            format!("unsupported encoding {}", encodings.join(", ")),
        )
        .with(HeaderName::AcceptEncoding, "identity"));
    }
    let accepted = match request.method {
        Method::Info => INFO_TYPES,
        _ => SESSION_TYPES,
    };
    let readable = match request.headers.typed::<ContentType>() {
        Some(Ok(kind)) => accepted.iter().any(|(t, s)| kind.is(t, s)),
        // §7.4.1: a body without a type is not one we understand.
        None | Some(Err(_)) => false,
    };
    if readable {
        return Ok(());
    }
    let content_type = request
        .headers
        .value(&HeaderName::ContentType)
        .map(|v| String::from_utf8_lossy(&v).escape_default().to_string())
        .unwrap_or_else(|| "none".to_owned());
    let accept = accepted
        .iter()
        .map(|(t, s)| format!("{t}/{s}"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(
        Rejection::new(415, format!("unsupported Content-Type {content_type}"))
            .with(HeaderName::Accept, accept),
    )
}

/// `Content-Disposition: ...;handling=optional` (§20.11).
fn optional_body(request: &Request) -> bool {
    request
        .headers
        .value(&HeaderName::ContentDisposition)
        .is_some_and(|v| {
            String::from_utf8_lossy(&v)
                .split(';')
                .skip(1)
                .filter_map(|p| p.split_once('='))
                .any(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("handling")
                        && v.trim().eq_ignore_ascii_case("optional")
                })
        })
}

/// An INVITE whose `Accept` rules out SDP asks for an answer we cannot give: every 2xx to it
/// carries SDP (RFC 4475 §3.3.15 answers it with 406).
fn accept(request: &Request) -> Result<(), Rejection> {
    if request.method != Method::Invite || request.headers.count(&HeaderName::Accept) == 0 {
        return Ok(());
    }
    // §20.1: an empty Accept means no format is acceptable.
    let takes_sdp = list_values(request, &HeaderName::Accept)
        .iter()
        .any(|range| covers_sdp(range));
    if takes_sdp {
        return Ok(());
    }
    Err(Rejection::new(406, "Accept does not allow application/sdp")
        .with(HeaderName::Accept, "application/sdp"))
}

/// Whether a media range admits application/sdp with a non-zero quality.
fn covers_sdp(range: &str) -> bool {
    let mut parts = range.split(';');
    let kind = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let covers = matches!(kind.as_str(), "application/sdp" | "application/*" | "*/*");
    let refused = parts.filter_map(|p| p.split_once('=')).any(|(k, v)| {
        let v = v.trim();
        k.trim().eq_ignore_ascii_case("q")
            && v.starts_with('0')
            && v.chars().all(|c| c == '0' || c == '.')
    });
    covers && !refused
}

/// `Max-Forwards: 0`: a request that has gone round too often. OPTIONS is answered by us
/// (RFC 3261 §16.3, RFC 4475 §3.3.11); everything else would be forwarded by a B2BUA.
fn max_forwards(request: &Request) -> Result<(), Rejection> {
    match request.headers.typed::<MaxForwards>() {
        Some(Ok(MaxForwards(0))) if request.method != Method::Options => {
            Err(Rejection::new(483, "Max-Forwards is 0"))
        }
        _ => Ok(()),
    }
}

/// The comma-separated elements of every header with this name, trimmed, empties dropped.
fn list_values(request: &Request, name: &HeaderName) -> Vec<String> {
    request
        .headers
        .get_all(name)
        .flat_map(|h| {
            String::from_utf8_lossy(&h.value())
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sipx_sip::{parse_datagram, Limits, Message};

    const OPTIONS: &str = "OPTIONS sip:1000@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:1000@example.com>\r\n\
        From: <sip:2000@example.com>;tag=a\r\n\
        Call-ID: c1\r\n\
        CSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";

    fn request(text: &str) -> Request {
        match parse_datagram(Bytes::from(text.to_owned()), &Limits::datagram()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    /// OPTIONS turned into `method` with `extra` headers and `body`.
    fn with(method: &str, extra: &str, body: &str) -> Request {
        let text = OPTIONS
            .replace("OPTIONS sip", &format!("{method} sip"))
            .replace("1 OPTIONS", &format!("1 {method}"))
            .replace(
                "Content-Length: 0\r\n",
                &format!("{extra}Content-Length: {}\r\n", body.len()),
            );
        request(&format!("{text}{body}"))
    }

    fn code(req: &Request) -> Option<u16> {
        check_request(req).err().map(|r| r.code)
    }

    fn extra(req: &Request, name: HeaderName) -> Option<String> {
        let rejection = check_request(req).err()?;
        rejection
            .extra
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    const SDP: &str = "v=0\r\n";

    #[test]
    fn a_letter_in_a_date_field_is_400_not_an_overflow() {
        for date in [
            "Sat, 15 Oct 2005 J4:44:56 GMT",
            "Sat, 1x Oct 2005 14:44:56 GMT",
            "x",
        ] {
            let text = OPTIONS.replace("Call-ID:", &format!("Date: {date}\r\nCall-ID:"));
            assert_eq!(code(&request(&text)), Some(400), "{date}");
        }
        let good = OPTIONS.replace(
            "Call-ID:",
            "Date: Sat, 15 Oct 2005 14:44:56 GMT\r\nCall-ID:",
        );
        assert_eq!(code(&request(&good)), None);
    }

    #[test]
    fn a_raw_control_character_in_a_header_is_400() {
        let text = OPTIONS.replace("To: <sip:", "To: \"a\u{0}b\" <sip:");
        let rejection = check_request(&request(&text)).unwrap_err();
        assert_eq!(rejection.code, 400);
        assert_eq!(rejection.reason, "control character in To");
    }

    #[test]
    fn a_plain_request_passes() {
        assert_eq!(check_request(&request(OPTIONS)), Ok(()));
        assert_eq!(
            code(&with("INVITE", "Content-Type: application/sdp\r\n", SDP)),
            None
        );
    }

    #[test]
    fn malformed_requests_are_400_and_versions_505() {
        let mismatch = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        assert_eq!(code(&request(&mismatch)), Some(400));
        let twice = OPTIONS.replace("Call-ID: c1\r\n", "Call-ID: c1\r\nCall-ID: c2\r\n");
        assert_eq!(code(&request(&twice)), Some(400));
        let version = OPTIONS.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia");
        assert_eq!(code(&request(&version)), Some(505));
        let date = with("OPTIONS", "Date: Fri, 01 Jan 2010 16:00:00 EST\r\n", "");
        assert_eq!(code(&date), Some(400));
        let contact = with("OPTIONS", "Contact: Joe <sip:joe@example.org>;;;\r\n", "");
        assert_eq!(code(&contact), Some(400));
    }

    #[test]
    fn a_missing_max_forwards_is_tolerated() {
        let old = OPTIONS.replace("Max-Forwards: 70\r\n", "");
        assert_eq!(code(&request(&old)), None);
    }

    #[test]
    fn the_wildcard_contact_is_well_formed() {
        let unregister = with("REGISTER", "Contact: *\r\nExpires: 0\r\n", "");
        assert_eq!(code(&unregister), None);
    }

    #[test]
    fn an_unsupported_method_is_405_and_an_unknown_one_501_with_allow() {
        let req = with("SUBSCRIBE", "Require: foo\r\n", "");
        assert_eq!(code(&req), Some(405), "the method comes before Require");
        assert_eq!(extra(&req, HeaderName::Allow).as_deref(), Some(ALLOW));
        assert_eq!(code(&with("FROBNICATE", "", "")), Some(501));
    }

    #[test]
    fn a_register_for_a_non_sip_address_of_record_is_416() {
        let req = with("REGISTER", "", "");
        let text = String::from_utf8_lossy(&sipx_sip::Message::Request(req).to_bytes())
            .replace("To: <sip:1000@example.com>", "To: isbn:2983792873");
        assert_eq!(code(&request(&text)), Some(416));
    }

    #[test]
    fn a_uri_scheme_other_than_sip_is_416() {
        for uri in [
            "tel:+15551234",
            "http://example.com/",
            "soap.beep://192.0.2.103:3002",
        ] {
            let req = request(&OPTIONS.replace("sip:1000@example.com SIP", &format!("{uri} SIP")));
            assert_eq!(code(&req), Some(416), "{uri}");
        }
        let sips = OPTIONS.replace("sip:1000@example.com SIP", "sips:1000@example.com SIP");
        assert_eq!(code(&request(&sips)), None);
    }

    #[test]
    fn every_required_extension_is_420_with_unsupported() {
        let req = with(
            "INVITE",
            "Require: timer\r\nRequire: replaces, 100rel\r\n",
            "",
        );
        assert_eq!(code(&req), Some(420));
        assert_eq!(
            extra(&req, HeaderName::Unsupported).as_deref(),
            Some("timer, replaces, 100rel")
        );
        // Proxy-Require is not the UAS's business.
        assert_eq!(code(&with("OPTIONS", "Proxy-Require: foo\r\n", "")), None);
    }

    #[test]
    fn ack_and_cancel_are_not_refused_for_require_or_body() {
        let ack = with("ACK", "Require: foo\r\nContent-Type: text/plain\r\n", "hi");
        assert_eq!(code(&ack), None);
        assert_eq!(code(&with("CANCEL", "Require: foo\r\n", "")), None);
    }

    #[test]
    fn an_unreadable_body_is_415_with_accept() {
        let req = with(
            "INVITE",
            "Content-Type: application/unknownformat\r\n",
            "<x/>",
        );
        assert_eq!(code(&req), Some(415));
        assert_eq!(
            extra(&req, HeaderName::Accept).as_deref(),
            Some("application/sdp")
        );
        // A body without a type is not understood either.
        assert_eq!(code(&with("INVITE", "", SDP)), Some(415));
        // INFO carries DTMF, not SDP.
        let info = with(
            "INFO",
            "Content-Type: application/dtmf-relay\r\n",
            "Signal=1\r\n",
        );
        assert_eq!(code(&info), None);
        let info = with(
            "INFO",
            "Content-Type: application/media_control+xml\r\n",
            "<x/>",
        );
        assert_eq!(code(&info), Some(415));
        assert_eq!(
            extra(&info, HeaderName::Accept).as_deref(),
            Some("application/dtmf-relay, application/dtmf")
        );
        // A type with no body names nothing to read.
        assert_eq!(
            code(&with("INVITE", "Content-Type: text/html\r\n", "")),
            None
        );
        // The sender may mark a body as safe to ignore.
        let optional = with(
            "INVITE",
            "Content-Type: text/html\r\nContent-Disposition: render;handling=optional\r\n",
            "<p/>",
        );
        assert_eq!(code(&optional), None);
    }

    #[test]
    fn an_encoded_body_is_415_with_accept_encoding() {
        let gz = with(
            "INVITE",
            "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n",
            SDP,
        );
        assert_eq!(code(&gz), Some(415));
        assert_eq!(
            extra(&gz, HeaderName::AcceptEncoding).as_deref(),
            Some("identity")
        );
        let identity = with(
            "INVITE",
            "Content-Type: application/sdp\r\nContent-Encoding: identity\r\n",
            SDP,
        );
        assert_eq!(code(&identity), None);
    }

    #[test]
    fn require_comes_before_the_body() {
        let req = with(
            "INVITE",
            "Require: foo\r\nContent-Type: text/plain\r\n",
            "x",
        );
        assert_eq!(code(&req), Some(420));
    }

    #[test]
    fn an_invite_refusing_sdp_answers_is_406() {
        assert_eq!(
            code(&with("INVITE", "Accept: text/nobodyKnowsThis\r\n", "")),
            Some(406)
        );
        assert_eq!(
            code(&with("INVITE", "Accept: application/sdp;q=0\r\n", "")),
            Some(406)
        );
        for ok in ["application/sdp", "text/plain, application/*", "*/*;q=0.5"] {
            let req = with("INVITE", &format!("Accept: {ok}\r\n"), "");
            assert_eq!(code(&req), None, "{ok}");
        }
        // Only INVITE answers carry SDP.
        assert_eq!(code(&with("OPTIONS", "Accept: text/plain\r\n", "")), None);
    }

    #[test]
    fn max_forwards_zero_is_483_except_for_options() {
        let zero = |method: &str| {
            let text = OPTIONS
                .replace("Max-Forwards: 70", "Max-Forwards: 0")
                .replace("OPTIONS sip", &format!("{method} sip"))
                .replace("1 OPTIONS", &format!("1 {method}"));
            code(&request(&text))
        };
        assert_eq!(zero("INVITE"), Some(483));
        assert_eq!(zero("REGISTER"), Some(483));
        assert_eq!(zero("OPTIONS"), None);
        assert_eq!(zero("ACK"), None);
    }
}
