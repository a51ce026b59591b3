//! The one check on values a face hands the switch that can end up in a SIP header
//! (caller ids, dialstrings, channel variables): CR and LF would end the header line
//! and start a new one of the sender's choosing, NUL truncates it in many peers.

use crate::channel::CallerId;
use crate::switch::ControlError;

/// Refuses a value with CR, LF or NUL, naming `field` so the face can tell its client
/// which part of the request was refused.
pub fn check_header_value(field: &str, value: &str) -> Result<(), ControlError> {
    match value.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        None => Ok(()),
        Some(c) => Err(ControlError::Invalid(format!(
            "{field} must not contain {}",
            match c {
                '\r' => "CR",
                '\n' => "LF",
                _ => "NUL",
            }
        ))),
    }
}

/// A channel variable: its value can reach a header (through `${}` into a dialstring,
/// or Asterisk's header functions), its name too.
pub fn check_variable(name: &str, value: &str) -> Result<(), ControlError> {
    check_header_value("variable name", name)?;
    check_header_value(&format!("variable {name}"), value)
}

/// What an outbound call puts on the wire: the dialstring (Request-URI and To) and
/// the caller id (From).
pub(crate) fn check_outbound(dialstring: &str, caller: &CallerId) -> Result<(), ControlError> {
    check_header_value("endpoint", dialstring)?;
    check_caller_id(caller)
}

/// An extra header for an outbound INVITE: a token name (RFC 3261 §25.1) that the
/// switch does not write itself, and a value that cannot start a header of its own.
pub fn check_extra_header(name: &str, value: &str) -> Result<(), ControlError> {
    check_header_value("header name", name)?;
    let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(ControlError::Invalid(format!(
            "header name {name:?} is not a token"
        )));
    }
    if switchboard_sip::is_reserved_header(name) {
        return Err(ControlError::Invalid(format!(
            "header {name} is set by the switch and cannot be given"
        )));
    }
    check_header_value(&format!("header {name}"), value)
}

pub(crate) fn check_caller_id(caller: &CallerId) -> Result<(), ControlError> {
    check_header_value("callerId name", &caller.name)?;
    check_header_value("callerId number", &caller.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<(), ControlError>) -> String {
        match result {
            Err(ControlError::Invalid(why)) => why,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn plain_values_pass() {
        assert_eq!(check_header_value("callerId", "\"Alice\" <1000>"), Ok(()));
        assert_eq!(
            check_header_value("endpoint", "SIP/sip:bob@127.0.0.1:5070"),
            Ok(())
        );
        assert_eq!(check_header_value("x", ""), Ok(()));
        // Tabs and non-ASCII text are legal in header values.
        assert_eq!(check_header_value("x", "Zoë\tMüller"), Ok(()));
    }

    #[test]
    fn cr_lf_and_nul_are_refused_naming_the_field() {
        assert_eq!(
            refusal(check_header_value("callerId", "a\r\nX-Evil: 1")),
            "callerId must not contain CR"
        );
        assert_eq!(
            refusal(check_header_value("endpoint", "SIP/1001\nX: y")),
            "endpoint must not contain LF"
        );
        assert_eq!(
            refusal(check_header_value("field", "a\0b")),
            "field must not contain NUL"
        );
    }

    #[test]
    fn caller_ids_are_checked_in_both_parts() {
        let caller = |name: &str, number: &str| CallerId {
            name: name.into(),
            number: number.into(),
        };
        assert_eq!(check_caller_id(&caller("Alice", "1000")), Ok(()));
        assert!(refusal(check_caller_id(&caller("Al\rice", "1000"))).starts_with("callerId name"));
        assert!(refusal(check_caller_id(&caller("Alice", "10\n00"))).starts_with("callerId number"));
        assert!(refusal(check_outbound("SIP/10\r01", &caller("", ""))).starts_with("endpoint"));
    }

    #[test]
    fn extra_headers_need_token_names_of_our_own_and_clean_values() {
        assert_eq!(check_extra_header("Answer-Mode", "Auto"), Ok(()));
        assert_eq!(
            check_extra_header("Remote-Party-ID", "<sip:a@b>;party=calling;screen=yes"),
            Ok(())
        );
        assert!(refusal(check_extra_header("X Bad", "1")).contains("not a token"));
        assert!(refusal(check_extra_header("X:Bad", "1")).contains("not a token"));
        assert!(refusal(check_extra_header("", "1")).contains("not a token"));
        assert!(refusal(check_extra_header("Via", "x")).contains("set by the switch"));
        assert!(refusal(check_extra_header("call-id", "x")).contains("set by the switch"));
        assert_eq!(
            refusal(check_extra_header("Alert-Info", "a\r\nVia: x")),
            "header Alert-Info must not contain CR"
        );
        assert!(refusal(check_extra_header("X\nY", "1")).starts_with("header name"));
    }

    #[test]
    fn variables_are_checked_by_name_and_value() {
        assert_eq!(check_variable("FOO", "bar baz"), Ok(()));
        assert_eq!(
            refusal(check_variable("FOO", "a\0")),
            "variable FOO must not contain NUL"
        );
        assert!(refusal(check_variable("X\r\nY", "1")).starts_with("variable name"));
    }
}
