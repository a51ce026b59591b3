//! The body of `POST /api/sessions`, checked field by field so that every refusal
//! names the field and says what is wrong (PortSIP's limits on lengths and values).

use serde_json::{Map, Value};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdditionalHeader {
    AnswerMode,
    CallInfo,
    AlertInfoAutoAnswerDelay0,
    AlertInfoAutoAnswer,
    AlertInfoIntercom,
}

impl AdditionalHeader {
    pub const NAMES: [&'static str; 5] = [
        "ANSWER_MODE",
        "CALL_INFO",
        "ALERT_INFO_AUTO_ANSWER_DELAY0",
        "ALERT_INFO_AUTO_ANSWER",
        "ALERT_INFO_INTERCOM",
    ];

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "ANSWER_MODE" => Self::AnswerMode,
            "CALL_INFO" => Self::CallInfo,
            "ALERT_INFO_AUTO_ANSWER_DELAY0" => Self::AlertInfoAutoAnswerDelay0,
            "ALERT_INFO_AUTO_ANSWER" => Self::AlertInfoAutoAnswer,
            "ALERT_INFO_INTERCOM" => Self::AlertInfoIntercom,
            _ => return None,
        })
    }

    /// The header it adds (RFC 5373 and the phones' Alert-Info conventions); `host`
    /// is the switch's SIP address, for Call-Info's URI.
    pub fn header(self, host: &str) -> (String, String) {
        let (name, value) = match self {
            Self::AnswerMode => ("Answer-Mode", "Auto".to_owned()),
            Self::CallInfo => ("Call-Info", format!("<sip:{host}>;answer-after=0")),
            Self::AlertInfoAutoAnswerDelay0 => {
                ("Alert-Info", "info=alert-autoanswer;delay=0".to_owned())
            }
            Self::AlertInfoAutoAnswer => ("Alert-Info", "info=Auto Answer".to_owned()),
            Self::AlertInfoIntercom => ("Alert-Info", "info=intercom".to_owned()),
        };
        (name.to_owned(), value)
    }
}

/// Which party's INVITE gets the additional header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Caller,
    Callee,
    All,
}

impl Direction {
    pub const NAMES: [&'static str; 3] = ["CALLER", "CALLEE", "ALL"];

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "CALLER" => Self::Caller,
            "CALLEE" => Self::Callee,
            "ALL" => Self::All,
            _ => return None,
        })
    }

    pub fn caller(self) -> bool {
        matches!(self, Self::Caller | Self::All)
    }

    pub fn callee(self) -> bool {
        matches!(self, Self::Callee | Self::All)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSession {
    pub caller: String,
    pub caller_display_name: Option<String>,
    pub callee: String,
    pub send_sdp: bool,
    pub trunk: Option<String>,
    pub rewrite_from: Option<String>,
    pub rewrite_pai: Option<String>,
    pub rewrite_rpi: Option<String>,
    pub user_data: Option<String>,
    pub target: Option<String>,
    pub target_instance_id: Option<String>,
    pub target_extension_number: Option<String>,
    pub additional_header: Option<AdditionalHeader>,
    /// As given, or the caller when a header is asked for without a direction (the
    /// caller's phone answering by itself is what click-to-call wants).
    pub header_direction: Direction,
}

/// Length limits, in characters (PortSIP's).
struct Limit {
    min: usize,
    max: usize,
}

const PARTY: Limit = Limit { min: 1, max: 256 };
const DISPLAY: Limit = Limit { min: 0, max: 1024 };
const TRUNK: Limit = Limit { min: 1, max: 64 };
const REWRITE: Limit = Limit { min: 1, max: 16 };
const USER_DATA: Limit = Limit { min: 0, max: 128 };
const TARGET: Limit = Limit { min: 1, max: 128 };

/// A user part of a SIP URI we can put in a request line and headers as it is.
fn is_sip_user(text: &str) -> bool {
    // RFC 3261's unreserved characters and a few user-part ones; no `;`, `?`, `@`,
    // `:` or `>`, which would end the user part or the URI.
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+*#._-~!$'()".contains(&b))
}

/// Refuses a field that cannot be a SIP URI's user part, naming it.
pub(crate) fn check_user(name: &str, value: &str) -> Result<(), ApiError> {
    if is_sip_user(value) {
        return Ok(());
    }
    Err(
        ApiError::invalid(format!("{name} must be a number or a SIP user name")).with_detail(
            format!("{value:?} has characters a SIP URI's user part cannot carry"),
        ),
    )
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn string(&self, name: &str, limit: &Limit) -> Result<Option<String>, ApiError> {
        // An explicit null is a wrong type, as the schema has no nullable fields.
        let value = match self.0.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(ApiError::invalid(format!("{name} must be a string"))
                    .with_detail(format!("got {}", kind(other))))
            }
        };
        let length = value.chars().count();
        if length < limit.min || length > limit.max {
            return Err(ApiError::invalid(format!(
                "{name} must be {} to {} characters long",
                limit.min, limit.max
            ))
            .with_detail(format!("got {length}")));
        }
        if value.chars().any(|c| c.is_control()) {
            return Err(ApiError::invalid(format!(
                "{name} must not hold control characters"
            )));
        }
        Ok(Some(value.clone()))
    }

    fn required(&self, name: &str, limit: &Limit) -> Result<String, ApiError> {
        self.string(name, limit)?
            .ok_or_else(|| ApiError::invalid(format!("{name} is required")))
    }

    fn user(&self, name: &str, limit: &Limit) -> Result<Option<String>, ApiError> {
        let value = self.string(name, limit)?;
        if let Some(v) = &value {
            check_user(name, v)?;
        }
        Ok(value)
    }

    fn choice<T>(
        &self,
        name: &str,
        names: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.string(name, &Limit { min: 1, max: 64 })? {
            None => Ok(None),
            Some(value) => parse(&value).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("{name} must be one of {}", names.join(", ")))
                    .with_detail(format!("got {value:?}"))
            }),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl CreateSession {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid("the body must be a JSON object").with_detail(e.to_string())
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::invalid("the body must be a JSON object")
                .with_detail(format!("got {}", kind(&value))));
        };
        let f = Fields(&map);
        let send_sdp = match map.get("send_sdp") {
            Some(Value::Bool(b)) => *b,
            None => return Err(ApiError::invalid("send_sdp is required")),
            Some(other) => {
                return Err(ApiError::invalid("send_sdp must be a boolean")
                    .with_detail(format!("got {}", kind(other))))
            }
        };
        let caller = f.required("caller", &PARTY)?;
        let callee = f.required("callee", &PARTY)?;
        check_user("caller", &caller)?;
        check_user("callee", &callee)?;
        let additional_header = f.choice(
            "additional_header",
            &AdditionalHeader::NAMES,
            AdditionalHeader::parse,
        )?;
        let header_direction = f
            .choice("header_direction", &Direction::NAMES, Direction::parse)?
            .unwrap_or(Direction::Caller);
        Ok(Self {
            caller,
            caller_display_name: f.string("caller_display_name", &DISPLAY)?,
            callee,
            send_sdp,
            trunk: f.string("trunk", &TRUNK)?,
            rewrite_from: f.user("rewrite_from", &REWRITE)?,
            rewrite_pai: f.user("rewrite_pai", &REWRITE)?,
            rewrite_rpi: f.user("rewrite_rpi", &REWRITE)?,
            user_data: f.string("user_data", &USER_DATA)?,
            target: f.string("target", &TARGET)?,
            target_instance_id: f.string("target_instance_id", &TARGET)?,
            target_extension_number: f.user("target_extension_number", &TARGET)?,
            additional_header,
            header_direction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<CreateSession, ApiError> {
        CreateSession::parse(body.as_bytes())
    }

    #[test]
    fn a_full_request() {
        let got = parse(
            r#"{"caller":"1000","callee":"1001","send_sdp":false,"caller_display_name":"Desk",
                "trunk":"carrier","rewrite_from":"555","additional_header":"ANSWER_MODE",
                "header_direction":"CALLEE","user_data":"ticket 7","extra":1}"#,
        )
        .expect("valid");
        assert_eq!(got.caller, "1000");
        assert!(!got.send_sdp);
        assert_eq!(got.additional_header, Some(AdditionalHeader::AnswerMode));
        assert_eq!(got.header_direction, Direction::Callee);
        assert_eq!(got.rewrite_from.as_deref(), Some("555"));
    }

    #[test]
    fn refusals_name_the_field() {
        let message = |body: &str| parse(body).unwrap_err().message;
        assert_eq!(
            message(r#"{"callee":"1","send_sdp":true}"#),
            "caller is required"
        );
        assert_eq!(
            message(r#"{"caller":1,"callee":"1","send_sdp":true}"#),
            "caller must be a string"
        );
        assert_eq!(
            message(r#"{"caller":"1","callee":"1"}"#),
            "send_sdp is required"
        );
        assert_eq!(
            message(r#"{"caller":"1","callee":"1","send_sdp":"yes"}"#),
            "send_sdp must be a boolean"
        );
        assert_eq!(message("[1]"), "the body must be a JSON object");
        assert_eq!(message("{"), "the body must be a JSON object");
        assert!(
            message(r#"{"caller":"1","callee":"1","send_sdp":true,"additional_header":"X"}"#)
                .starts_with("additional_header must be one of")
        );
        assert!(message(&format!(
            r#"{{"caller":"1","callee":"1","send_sdp":true,"trunk":"{}"}}"#,
            "t".repeat(65)
        ))
        .starts_with("trunk must be 1 to 64"));
        assert!(message(
            r#"{"caller":"1","callee":"1","send_sdp":true,"rewrite_pai":"12345678901234567"}"#
        )
        .starts_with("rewrite_pai must be 1 to 16"));
        assert!(
            message(r#"{"caller":"10 00>","callee":"1","send_sdp":true}"#)
                .starts_with("caller must be a number")
        );
        assert!(message(
            r#"{"caller":"1","callee":"1","send_sdp":true,"caller_display_name":"a\r\nX: y"}"#
        )
        .contains("control characters"));
        assert_eq!(
            parse(r#"{"caller":"1","callee":"2","send_sdp":true}"#)
                .expect("minimal")
                .header_direction,
            Direction::Caller
        );
    }
}
