//! From a create request to the core's typed session: where each party is called, with
//! which caller id and which extra headers.

use std::time::Duration;

use switchboard_core::{
    CallSession, CallerId, Config, NewCallSession, Originate, SessionParty, Switch, Then,
};

use crate::error::ApiError;
use crate::request::CreateSession;

/// How long each party rings before the session gives up on it.
const RING_TIMEOUT: Duration = Duration::from_secs(60);

/// This switch's instance id (`target_instance_id` must name it).
pub fn instance_id(config: &Config) -> String {
    config
        .sessions_api
        .as_ref()
        .and_then(|s| s.instance_id.clone())
        .unwrap_or_else(|| config.general.name.clone())
}

/// The dial string for `party`: a configured endpoint, else through `trunk`.
fn party(
    config: &Config,
    field: &str,
    number: &str,
    trunk: Option<&str>,
) -> Result<(String, bool), ApiError> {
    if config.endpoint.iter().any(|e| e.id == number) {
        return Ok((format!("SIP/{number}"), false));
    }
    match trunk {
        Some(trunk) => Ok((format!("SIP/{trunk}/{number}"), true)),
        // Well-formed, but nothing by that name: not found, as an unknown id.
        None => Err(ApiError::not_found(format!(
            "{field} {number} is not an endpoint of this switch, and no trunk was given to reach it"
        ))),
    }
}

/// One leg's request: its identity, and when it goes through the trunk the rewritten
/// From / P-Asserted-Identity / Remote-Party-ID users.
struct Leg {
    endpoint: String,
    via_trunk: bool,
    caller_id: CallerId,
    headers: Vec<(String, String)>,
    late_offer: bool,
}

impl Leg {
    fn into_originate(self) -> Originate {
        Originate {
            caller_id: self.caller_id,
            timeout: Some(RING_TIMEOUT),
            headers: self.headers,
            late_offer: self.late_offer,
            ..Originate::new(self.endpoint, Then::Park)
        }
    }
}

/// The call a transfer places to `target`: an endpoint, else through the session's
/// trunk, else an extension of this switch's `default` context. The kept party's
/// number is its caller id.
pub fn transfer(
    config: &Config,
    session: &CallSession,
    party: SessionParty,
    target: &str,
) -> Originate {
    let endpoint = if config.endpoint.iter().any(|e| e.id == target) {
        format!("SIP/{target}")
    } else if let Some(trunk) = &session.trunk {
        format!("SIP/{trunk}/{target}")
    } else {
        format!("Local/{target}@default")
    };
    let number = match party {
        SessionParty::Caller => session.caller.clone(),
        SessionParty::Callee => session.callee.clone(),
    };
    Leg {
        endpoint,
        via_trunk: false,
        caller_id: CallerId {
            name: session.caller_display_name.clone(),
            number,
        },
        headers: Vec::new(),
        late_offer: false,
    }
    .into_originate()
}

pub fn plan(switch: &Switch, request: &CreateSession) -> Result<NewCallSession, ApiError> {
    let config = switch.config();
    let trunk = match &request.trunk {
        Some(name) => Some(
            config
                .trunk
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| ApiError::invalid(format!("trunk {name} does not exist")))?,
        ),
        None => None,
    };
    // A trunk that is down (registration failed, pings unanswered) takes no calls.
    if let Some(status) = trunk.and_then(|t| switch.trunk_status(&t.name)) {
        if !status.is_up() {
            return Err(
                ApiError::unavailable(format!("trunk {} is down", status.name))
                    .with_detail(status.down_reason()),
            );
        }
    }
    // A single switch is the only instance of its deployment: another id names
    // nothing it can reach (a field error, as the OpenAPI document's enum says).
    if let Some(instance) = &request.target_instance_id {
        let ours = instance_id(config);
        if *instance != ours {
            return Err(ApiError::invalid(format!(
                "target_instance_id {instance} is not an instance of this deployment (this is {ours})"
            )));
        }
    }
    let trunk_name = trunk.map(|t| t.name.as_str());
    let display = request.caller_display_name.clone().unwrap_or_default();
    let (caller_endpoint, caller_via_trunk) = party(config, "caller", &request.caller, trunk_name)?;
    let (callee_endpoint, callee_via_trunk) =
        match (&request.target_extension_number, &request.target) {
            // An extension of this instance, run through its dialplan.
            (Some(exten), _) => (format!("Local/{exten}@default"), false),
            (None, Some(target)) => (format!("SIP/sip:{}@{target}", request.callee), false),
            (None, None) => party(config, "callee", &request.callee, trunk_name)?,
        };
    let host = trunk.map_or(config.sip.realm.as_str(), |t| t.host.as_str());
    let mut caller = Leg {
        endpoint: caller_endpoint,
        via_trunk: caller_via_trunk,
        // The caller's phone shows whom it is about to be connected to.
        caller_id: CallerId {
            name: display.clone(),
            number: request.callee.clone(),
        },
        headers: Vec::new(),
        late_offer: false,
    };
    let mut callee = Leg {
        endpoint: callee_endpoint,
        via_trunk: callee_via_trunk,
        caller_id: CallerId {
            name: display.clone(),
            number: request.caller.clone(),
        },
        headers: Vec::new(),
        // Without SDP, the callee makes the offer (RFC 3725's flows).
        late_offer: !request.send_sdp,
    };
    for leg in [&mut caller, &mut callee] {
        if !leg.via_trunk {
            continue;
        }
        if let Some(user) = &request.rewrite_from {
            leg.caller_id.number.clone_from(user);
        }
        if let Some(user) = &request.rewrite_pai {
            leg.headers
                .push(("P-Asserted-Identity".into(), format!("<sip:{user}@{host}>")));
        }
        if let Some(user) = &request.rewrite_rpi {
            leg.headers.push((
                "Remote-Party-ID".into(),
                format!("<sip:{user}@{host}>;party=calling;screen=yes;privacy=off"),
            ));
        }
    }
    if let Some(header) = request.additional_header {
        let header = header.header(&config.sip.realm);
        if request.header_direction.caller() {
            caller.headers.push(header.clone());
        }
        if request.header_direction.callee() {
            callee.headers.push(header);
        }
    }
    Ok(NewCallSession {
        caller: request.caller.clone(),
        caller_display_name: display,
        callee: request.callee.clone(),
        trunk: request.trunk.clone(),
        user_data: request.user_data.clone(),
        caller_leg: caller.into_originate(),
        callee_leg: callee.into_originate(),
    })
}
