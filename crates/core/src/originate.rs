//! Originate: a typed request every face makes the same way (ARI `originate`, FreeSWITCH
//! `originate` and Lua `freeswitch.Session`, the Sessions API), and what happens to the
//! channel once it answers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
use crate::channel::{CallerId, Channel};
use crate::header_value;
use crate::state::ChannelState;
use crate::switch::{parse_dialstring, parse_local, ControlError, OriginateError, Switch};
use switchboard_sip::Target;

/// Where an originated channel goes once it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// A Stasis application, with its arguments.
    App { name: String, args: Vec<String> },
    /// The dialplan, at `exten`@`context`, `priority`.
    Dialplan {
        context: String,
        exten: String,
        priority: usize,
    },
    /// Nothing runs: the answered channel waits to be controlled (FreeSWITCH `&park()`).
    Park,
    /// Connected to this channel (FreeSWITCH `originate … &bridge`, the Sessions API).
    Bridge(String),
}

/// Call `endpoint` and send the channel to `then` once it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    /// A dial string: `SIP/1001`, `SIP/<trunk>/<number>`, `SIP/sip:u@host`,
    /// `Local/<exten>@<context>` (`PJSIP/` is an alias of `SIP/`).
    pub endpoint: String,
    pub caller_id: CallerId,
    /// Channel variables, set before the INVITE is built. The caller id variables
    /// (`CALLERID(name)`/`CALLERID(num)`, FreeSWITCH's `origination_caller_id_name`/
    /// `_number`) shape the INVITE's From.
    pub variables: BTreeMap<String, String>,
    /// How long to ring before giving up with NO_ANSWER; `None` rings until the far end
    /// gives up.
    pub timeout: Option<Duration>,
    /// Go to `then` on early media (183 with SDP) already, not only on answer.
    pub early_media: bool,
    pub then: Then,
    /// The new channel's id (ARI `channelId`), and the second half's for a Local
    /// channel (`otherChannelId`).
    pub channel_id: Option<String>,
    pub other_channel_id: Option<String>,
    /// Extra headers on the INVITE, in order (`Answer-Mode: Auto`, `Call-Info`,
    /// `Alert-Info`, `P-Asserted-Identity`, `Remote-Party-ID`, …). Refused (400) when a
    /// name is not a token or is a header the switch writes itself (Via, From, To,
    /// Call-ID, CSeq, Contact, …), or a name or value holds CR, LF or NUL.
    pub headers: Vec<(String, String)>,
    /// Send the INVITE without SDP: the far end offers in its 200 and our answer goes
    /// in the ACK (RFC 3261 §13.2.1; the RFC 3725 third-party call control flows).
    pub late_offer: bool,
}

/// How an outbound channel's INVITE is shaped beyond its target and caller id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InviteShape {
    pub headers: Vec<(String, String)>,
    pub late_offer: bool,
    /// The request named its caller number itself: a trunk's `caller_id_number` does
    /// not replace it.
    pub caller_set: bool,
}

impl Originate {
    /// A request with no variables, no ids and no timeout.
    pub fn new(endpoint: impl Into<String>, then: Then) -> Self {
        Self {
            endpoint: endpoint.into(),
            caller_id: CallerId::default(),
            variables: BTreeMap::new(),
            timeout: None,
            early_media: false,
            then,
            channel_id: None,
            other_channel_id: None,
            headers: Vec::new(),
            late_offer: false,
        }
    }
}

impl Switch {
    /// Places the call of an [`Originate`] request. The channel exists (state Down) once
    /// the INVITE is on its way; it goes to the request's `then` when it answers.
    pub async fn originate(&self, request: Originate) -> Result<Arc<Channel>, OriginateError> {
        for (name, value) in &request.variables {
            header_value::check_variable(name, value)?;
        }
        let (headers, late_offer) = invite_shape(&request);
        for (name, value) in &headers {
            header_value::check_extra_header(name, value)?;
        }
        for id in [&request.channel_id, &request.other_channel_id]
            .into_iter()
            .flatten()
        {
            if self.channel(id).is_ok() {
                return Err(ControlError::Conflict(
                    "Channel with given unique ID already exists".into(),
                )
                .into());
            }
        }
        if let Then::Bridge(other) = &request.then {
            self.channel(other)?;
        }
        let caller = caller_from_variables(request.caller_id, &request.variables);
        let caller_set = !caller.number.is_empty();
        let channel = self
            .call_out(
                &request.endpoint,
                caller,
                None,
                [request.channel_id, request.other_channel_id],
                &request.variables,
                InviteShape {
                    headers,
                    late_offer,
                    caller_set,
                },
            )
            .await?;
        tokio::spawn(self.clone().when_answered(
            channel.clone(),
            request.then,
            request.timeout,
            request.early_media,
        ));
        Ok(channel)
    }

    /// Dials `dialstring` for `parent` (Dial) or for a face: the channel, with its
    /// variables set, once the INVITE is on its way.
    pub(crate) async fn call_out(
        &self,
        dialstring: &str,
        caller: CallerId,
        parent: Option<&Arc<Channel>>,
        [channel_id, other_id]: [Option<String>; 2],
        variables: &BTreeMap<String, String>,
        shape: InviteShape,
    ) -> Result<Arc<Channel>, OriginateError> {
        header_value::check_outbound(dialstring, &caller)?;
        if let Ok(Target::Trunk { name, .. }) = parse_dialstring(dialstring, self.config()) {
            // Refused before a channel exists: nothing rings, nothing to clean up.
            self.check_trunk_up(&name)?;
        }
        if let Some((exten, context)) = parse_local(dialstring) {
            let channel = self.local_pair(
                &exten,
                &context,
                caller,
                parent,
                [channel_id, other_id],
                true,
            )?;
            self.set_vars(&channel, variables);
            return Ok(channel);
        }
        let (channel, target) = self.prepare_outbound(dialstring, caller, parent, channel_id)?;
        self.set_vars(&channel, variables);
        channel.data().invite = shape;
        if let Err(cause) = self.place_call(&channel, target).await {
            self.hangup(&channel.id, cause);
            return Err(cause.into());
        }
        Ok(channel)
    }

    fn set_vars(&self, channel: &Channel, variables: &BTreeMap<String, String>) {
        for (name, value) in variables {
            // Checked with the request; the channel was made a moment ago.
            let _ = self.set_var(&channel.id, name, value);
        }
    }

    /// Waits for the answer (or early media), then hands the channel to `then`; hangs up
    /// with NO_ANSWER after `timeout`.
    async fn when_answered(
        self,
        channel: Arc<Channel>,
        then: Then,
        timeout: Option<Duration>,
        early_media: bool,
    ) {
        let mut status = channel.subscribe();
        let answered = status.wait_for(|s| {
            s.hangup.is_some() || s.state == ChannelState::Up || (early_media && s.early_media)
        });
        let answered = match timeout {
            Some(limit) => match tokio::time::timeout(limit, answered).await {
                Ok(result) => result.map(|s| s.hangup.is_none()).unwrap_or(false),
                Err(_) => {
                    tracing::info!(channel = %channel.name, ?limit, "originate: no answer");
                    self.hangup(&channel.id, Cause::NO_ANSWER);
                    false
                }
            },
            None => answered.await.map(|s| s.hangup.is_none()).unwrap_or(false),
        };
        if !answered {
            return;
        }
        match then {
            Then::App { name, args } => {
                let _ = self.enter_stasis(&channel.id, &name, args);
            }
            Then::Dialplan {
                context,
                exten,
                priority,
            } => {
                {
                    let mut data = channel.data();
                    data.context = context;
                    data.exten = exten;
                    data.priority = priority.max(1);
                }
                crate::apps::run_dialplan(self, channel).await;
            }
            Then::Park => {}
            Then::Bridge(other) => {
                if let Err(e) = self.connect(&channel.id, &other) {
                    tracing::info!(channel = %channel.name, %other, error = %e, "originate: cannot bridge");
                    self.hangup(&channel.id, Cause::NORMAL_CLEARING);
                }
            }
        }
    }
}

/// The INVITE's extra headers and whether it goes without SDP: the request's own, plus
/// FreeSWITCH's `sip_h_<Name>` variables (each adds header `Name`) and
/// `sip_late_offer=true` (switchboard's; FreeSWITCH has no per-call switch for it), so
/// dial strings (`{sip_h_Answer-Mode=Auto}sofia/gateway/…`) can shape the INVITE too.
fn invite_shape(request: &Originate) -> (Vec<(String, String)>, bool) {
    let mut headers = request.headers.clone();
    let mut late_offer = request.late_offer;
    for (name, value) in &request.variables {
        if let Some(header) = name.strip_prefix("sip_h_") {
            headers.push((header.to_owned(), value.clone()));
        } else if name == "sip_late_offer" {
            // FreeSWITCH's switch_true().
            late_offer |= ["true", "yes", "on", "1", "enabled", "active", "allow"]
                .iter()
                .any(|t| value.trim().eq_ignore_ascii_case(t));
        }
    }
    (headers, late_offer)
}

/// The caller id, with what the request's variables say of it (Asterisk's
/// `CALLERID(name)`/`CALLERID(num)`, FreeSWITCH's `origination_caller_id_*`).
fn caller_from_variables(mut caller: CallerId, variables: &BTreeMap<String, String>) -> CallerId {
    for (name, value) in variables {
        match name.as_str() {
            "CALLERID(name)" | "origination_caller_id_name" => caller.name.clone_from(value),
            "CALLERID(num)" | "CALLERID(number)" | "origination_caller_id_number" => {
                caller.number.clone_from(value);
            }
            _ => {}
        }
    }
    caller
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_h_variables_and_sip_late_offer_shape_the_invite() {
        let mut request = Originate::new("SIP/carrier/2000", Then::Park);
        request.headers = vec![("Answer-Mode".into(), "Auto".into())];
        request.variables = [
            ("sip_h_Alert-Info", "info=intercom"),
            ("sip_late_offer", "true"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (headers, late) = invite_shape(&request);
        assert_eq!(
            headers,
            vec![
                ("Answer-Mode".to_owned(), "Auto".to_owned()),
                ("Alert-Info".to_owned(), "info=intercom".to_owned())
            ]
        );
        assert!(late);
        request.variables.clear();
        assert!(!invite_shape(&request).1);
    }

    #[test]
    fn caller_id_variables_shape_the_caller() {
        let vars: BTreeMap<String, String> = [
            ("CALLERID(name)", "Alice"),
            ("origination_caller_id_number", "2000"),
            ("OTHER", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let caller = caller_from_variables(
            CallerId {
                name: "old".into(),
                number: "1000".into(),
            },
            &vars,
        );
        assert_eq!(
            caller,
            CallerId {
                name: "Alice".into(),
                number: "2000".into()
            }
        );
    }
}
