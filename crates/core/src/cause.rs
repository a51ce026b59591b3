//! Hangup causes: Q.850 codes inside the switch, and every outside view of them (SIP
//! status codes, FreeSWITCH cause names, Asterisk's cause text) mapped here, once.

/// A Q.850 cause code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cause(pub u16);

macro_rules! causes {
    ($( $name:ident = $code:literal, $fs:literal, $text:literal; )*) => {
        impl Cause {
            $( pub const $name: Cause = Cause($code); )*

            /// FreeSWITCH's name, e.g. `NORMAL_CLEARING`.
            pub fn name(self) -> &'static str {
                match self.0 { $( $code => $fs, )* _ => "UNKNOWN" }
            }

            /// Asterisk's `cause_txt`.
            pub fn text(self) -> &'static str {
                match self.0 { $( $code => $text, )* _ => "Unknown" }
            }

            /// By FreeSWITCH name (case-insensitive) or number.
            pub fn parse(value: &str) -> Option<Cause> {
                let value = value.trim();
                if let Ok(code) = value.parse::<u16>() {
                    return Some(Cause(code));
                }
                let upper = value.to_ascii_uppercase();
                match upper.as_str() { $( $fs => Some(Cause($code)), )* _ => None }
            }
        }
    };
}

causes! {
    UNALLOCATED = 1, "UNALLOCATED_NUMBER", "Unallocated (unassigned) number";
    NO_ROUTE_DESTINATION = 3, "NO_ROUTE_DESTINATION", "No route to destination";
    NORMAL_CLEARING = 16, "NORMAL_CLEARING", "Normal Clearing";
    USER_BUSY = 17, "USER_BUSY", "User busy";
    NO_USER_RESPONSE = 18, "NO_USER_RESPONSE", "No user responding";
    NO_ANSWER = 19, "NO_ANSWER", "User alerting, no answer";
    SUBSCRIBER_ABSENT = 20, "SUBSCRIBER_ABSENT", "Subscriber absent";
    CALL_REJECTED = 21, "CALL_REJECTED", "Call Rejected";
    NUMBER_CHANGED = 22, "NUMBER_CHANGED", "Number changed";
    ANSWERED_ELSEWHERE = 26, "ANSWERED_ELSEWHERE", "Answered elsewhere";
    DESTINATION_OUT_OF_ORDER = 27, "DESTINATION_OUT_OF_ORDER", "Destination out of order";
    INVALID_NUMBER_FORMAT = 28, "INVALID_NUMBER_FORMAT", "Invalid number format";
    FACILITY_REJECTED = 29, "FACILITY_REJECTED", "Facility rejected";
    NORMAL_UNSPECIFIED = 31, "NORMAL_UNSPECIFIED", "Normal, unspecified";
    NORMAL_CIRCUIT_CONGESTION = 34, "NORMAL_CIRCUIT_CONGESTION", "Circuit/channel congestion";
    NETWORK_OUT_OF_ORDER = 38, "NETWORK_OUT_OF_ORDER", "Network out of order";
    NORMAL_TEMPORARY_FAILURE = 41, "NORMAL_TEMPORARY_FAILURE", "Temporary failure";
    SWITCH_CONGESTION = 42, "SWITCH_CONGESTION", "Switching equipment congestion";
    REQUESTED_CHAN_UNAVAIL = 44, "REQUESTED_CHAN_UNAVAIL", "Requested channel not available";
    BEARERCAPABILITY_NOTAVAIL = 58, "BEARERCAPABILITY_NOTAVAIL", "Bearer capability not available";
    INCOMPATIBLE_DESTINATION = 88, "INCOMPATIBLE_DESTINATION", "Incompatible destination";
    RECOVERY_ON_TIMER_EXPIRE = 102, "RECOVERY_ON_TIMER_EXPIRE", "Recovery on timer expiry";
    INTERWORKING = 127, "INTERWORKING", "Interworking, unspecified";
    ORIGINATOR_CANCEL = 487, "ORIGINATOR_CANCEL", "Originator cancel";
    // FreeSWITCH's own cause for a hangup by API (`hupall`'s default).
    MANAGER_REQUEST = 503, "MANAGER_REQUEST", "Manager request";
    // FreeSWITCH's cause for a call cut at its time limit (`sched_hangup`'s default).
    ALLOTTED_TIMEOUT = 602, "ALLOTTED_TIMEOUT", "Allotted timeout";
    // FreeSWITCH's cause for a call refused because its gateway (trunk) is down.
    GATEWAY_DOWN = 609, "GATEWAY_DOWN", "Gateway down";
}

impl Cause {
    /// The SIP final response for a call refused with this cause (RFC 3398 §8.2).
    pub fn sip_status(self) -> u16 {
        match self.0 {
            1 | 3 => 404,
            17 => 486,
            18 => 408,
            19 | 20 => 480,
            21 => 603,
            22 => 410,
            27 => 502,
            28 => 484,
            29 => 501,
            34 | 38 | 41 | 42 | 44 => 503,
            58 | 88 => 488,
            102 => 504,
            487 => 487,
            // As FreeSWITCH answers a call it cannot pass to a down gateway.
            609 => 502,
            _ => 480,
        }
    }

    /// The cause a SIP final response stands for (RFC 3398 §7.2.4.1).
    pub fn from_sip_status(status: u16) -> Self {
        match status {
            200..=299 => Self::NORMAL_CLEARING,
            400 | 405 | 415 | 420 | 482 | 483 | 493 | 501 => Self::INTERWORKING,
            401 | 402 | 403 | 407 | 603 => Self::CALL_REJECTED,
            404 | 485 | 604 => Self::UNALLOCATED,
            408 | 504 => Self::RECOVERY_ON_TIMER_EXPIRE,
            410 => Self::NUMBER_CHANGED,
            480 => Self::NO_ANSWER,
            484 => Self::INVALID_NUMBER_FORMAT,
            486 | 600 => Self::USER_BUSY,
            487 => Self::ORIGINATOR_CANCEL,
            488 | 606 => Self::INCOMPATIBLE_DESTINATION,
            502 => Self::DESTINATION_OUT_OF_ORDER,
            503 => Self::NORMAL_CIRCUIT_CONGESTION,
            _ => Self::NORMAL_TEMPORARY_FAILURE,
        }
    }

    /// ARI's hangup `reason` words (`DELETE /channels/{id}?reason=`), as Asterisk's
    /// `res/ari/resource_channels.c` maps them.
    pub fn from_ari_reason(reason: &str) -> Option<Self> {
        Some(match reason {
            "normal" => Self::NORMAL_CLEARING,
            "busy" => Self::USER_BUSY,
            "congestion" => Self::NORMAL_CIRCUIT_CONGESTION,
            "no_answer" => Self::NO_ANSWER,
            "timeout" => Self::NO_USER_RESPONSE,
            "rejected" => Self::CALL_REJECTED,
            "unallocated" => Self::UNALLOCATED,
            "normal_unspecified" => Self::NORMAL_UNSPECIFIED,
            "number_incomplete" => Self::INVALID_NUMBER_FORMAT,
            "codec_mismatch" => Self::BEARERCAPABILITY_NOTAVAIL,
            "interworking" => Self::INTERWORKING,
            "failure" => Self::NETWORK_OUT_OF_ORDER,
            "answered_elsewhere" => Self::ANSWERED_ELSEWHERE,
            _ => return None,
        })
    }

    /// Asterisk's `DIALSTATUS` for a dial attempt that ended with this cause.
    pub fn dial_status(self) -> &'static str {
        match self.0 {
            17 => "BUSY",
            18 | 19 => "NOANSWER",
            487 => "CANCEL",
            1 | 3 | 20 | 27 | 44 => "CHANUNAVAIL",
            _ => "CONGESTION",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_mapping_round_trips_for_common_causes() {
        for cause in [
            Cause::USER_BUSY,
            Cause::ORIGINATOR_CANCEL,
            Cause::UNALLOCATED,
        ] {
            assert_eq!(Cause::from_sip_status(cause.sip_status()), cause);
        }
        assert_eq!(Cause::NO_ANSWER.sip_status(), 480);
        assert_eq!(Cause::from_sip_status(480), Cause::NO_ANSWER);
        assert_eq!(Cause::from_sip_status(599), Cause::NORMAL_TEMPORARY_FAILURE);
    }

    #[test]
    fn names_and_parsing() {
        assert_eq!(Cause::NORMAL_CLEARING.name(), "NORMAL_CLEARING");
        assert_eq!(Cause::NORMAL_CLEARING.text(), "Normal Clearing");
        assert_eq!(Cause::parse("user_busy"), Some(Cause::USER_BUSY));
        assert_eq!(Cause::parse("17"), Some(Cause::USER_BUSY));
        assert_eq!(Cause::parse("nonsense"), None);
        assert_eq!(Cause(999).name(), "UNKNOWN");
        assert_eq!(Cause::USER_BUSY.dial_status(), "BUSY");
    }

    #[test]
    fn ari_reasons() {
        assert_eq!(
            Cause::from_ari_reason("normal"),
            Some(Cause::NORMAL_CLEARING)
        );
        assert_eq!(Cause::from_ari_reason("busy"), Some(Cause::USER_BUSY));
        assert_eq!(
            Cause::from_ari_reason("congestion"),
            Some(Cause::NORMAL_CIRCUIT_CONGESTION)
        );
        assert_eq!(Cause::from_ari_reason("no_answer"), Some(Cause::NO_ANSWER));
        assert_eq!(
            Cause::from_ari_reason("timeout"),
            Some(Cause::NO_USER_RESPONSE)
        );
        assert_eq!(
            Cause::from_ari_reason("answered_elsewhere"),
            Some(Cause(26))
        );
        assert_eq!(Cause::from_ari_reason("codec_mismatch"), Some(Cause(58)));
        // Words are exact, as Asterisk compares them.
        assert_eq!(Cause::from_ari_reason("Busy"), None);
        assert_eq!(Cause::from_ari_reason("user_busy"), None);
    }
}
