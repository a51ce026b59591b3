//! Trunks' health as the core reports it: whether each is registered with its carrier
//! and answers pings, and the refusal of calls through one that is down.

use crate::switch::{OriginateError, Switch};

/// One trunk's state (FreeSWITCH's `sofia status gateway`, Asterisk's
/// `pjsip show registrations` and qualify status, in one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkStatus {
    pub name: String,
    /// `Some(true)` registered, `Some(false)` the last registration failed, `None` when
    /// the trunk does not register or its first attempt has not finished.
    pub registered: Option<bool>,
    /// False once an OPTIONS ping went unanswered, until one is answered again.
    pub reachable: bool,
    /// Why the trunk is, or last was, down.
    pub last_error: Option<String>,
}

impl TrunkStatus {
    fn from_stack(name: String, state: switchboard_sip::TrunkState) -> Self {
        Self {
            name,
            registered: state.registered,
            reachable: state.reachable,
            last_error: state.last_error,
        }
    }

    /// Whether calls may go through: not failed to register, and answering pings.
    pub fn is_up(&self) -> bool {
        self.reachable && self.registered != Some(false)
    }

    /// Why calls are refused, for the error a face shows.
    pub fn down_reason(&self) -> String {
        let what = if self.registered == Some(false) {
            "registration failed"
        } else {
            "no answer to OPTIONS pings"
        };
        match &self.last_error {
            Some(error) => format!("{what} ({error})"),
            None => what.to_owned(),
        }
    }
}

impl Switch {
    /// A configured trunk's state; `None` for an unknown trunk.
    pub fn trunk_status(&self, name: &str) -> Option<TrunkStatus> {
        self.sip()
            .trunk_state(name)
            .map(|state| TrunkStatus::from_stack(name.to_owned(), state))
    }

    /// Every configured trunk's state, by name.
    pub fn trunks(&self) -> Vec<TrunkStatus> {
        self.sip()
            .trunk_states()
            .into_iter()
            .map(|(name, state)| TrunkStatus::from_stack(name, state))
            .collect()
    }

    /// Refuses a call through a trunk that is down, naming it and why.
    pub(crate) fn check_trunk_up(&self, name: &str) -> Result<(), OriginateError> {
        match self.trunk_status(name) {
            Some(status) if !status.is_up() => Err(OriginateError::TrunkDown {
                trunk: name.to_owned(),
                reason: status.down_reason(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(registered: Option<bool>, reachable: bool, error: Option<&str>) -> TrunkStatus {
        TrunkStatus {
            name: "carrier".into(),
            registered,
            reachable,
            last_error: error.map(str::to_owned),
        }
    }

    #[test]
    fn a_trunk_is_down_when_registration_failed_or_pings_go_unanswered() {
        assert!(status(None, true, None).is_up());
        assert!(status(Some(true), true, None).is_up());
        let failed = status(Some(false), true, Some("REGISTER answered 403 Forbidden"));
        assert!(!failed.is_up());
        assert_eq!(
            failed.down_reason(),
            "registration failed (REGISTER answered 403 Forbidden)"
        );
        let silent = status(Some(true), false, Some("OPTIONS ping timed out"));
        assert!(!silent.is_up());
        assert_eq!(
            silent.down_reason(),
            "no answer to OPTIONS pings (OPTIONS ping timed out)"
        );
        let error = OriginateError::TrunkDown {
            trunk: "carrier".into(),
            reason: failed.down_reason(),
        };
        assert_eq!(error.cause(), crate::Cause::GATEWAY_DOWN);
        assert_eq!(
            error.to_string(),
            "trunk carrier is down: registration failed (REGISTER answered 403 Forbidden)"
        );
    }
}
