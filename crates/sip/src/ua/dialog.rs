//! The dialogs of the back-to-back user agent: incoming and outgoing INVITEs, CANCEL,
//! BYE, re-INVITE, INFO and REFER, and the core's commands on them.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use sipx_sip::{
    HeaderName, Message, Method, Reliability, Request, RequestBuilder, Response, Timers,
    TransactionKey, Uri,
};

use super::{
    reliability, with_server, Call, CallId, NewCall, Output, Phase, TimerId, UserAgent, ALLOW,
};
use crate::msg::{self, header};
use crate::stack::{CallEvent, CallInfo, InviteError, Origin, OutgoingCall, Target};
use crate::transport::{Flow, Transport};

/// What a 503 for overload asks the caller to wait before trying again.
const RETRY_AFTER_SECS: u32 = 5;

impl UserAgent {
    /// Numbers a new call and makes it findable by its dialog and its INVITE transaction.
    fn add_call(&mut self, call: Call) -> CallId {
        let id = self.next_call;
        self.next_call += 1;
        self.dialogs
            .insert((call.call_id.clone(), call.local_tag.clone()), id);
        self.invites.insert(call.invite_key.clone(), id);
        self.calls.insert(id, call);
        id
    }

    pub(super) fn on_invite(
        &mut self,
        key: &TransactionKey,
        request: Request,
        flow: Flow,
        now: Instant,
    ) {
        // Overload: refused before any work is spent on it, so the calls already up
        // keep their share of the machine.
        let at_limit = self.config.max_calls > 0 && self.calls.len() >= self.config.max_calls;
        if at_limit || self.overloaded {
            let why = if at_limit {
                "call limit reached"
            } else {
                "media overloaded"
            };
            tracing::warn!(remote = %flow.remote, calls = self.calls.len(), "{why}: INVITE refused with 503");
            let retry = [(HeaderName::RetryAfter, RETRY_AFTER_SECS.to_string())];
            let response = msg::response(&request, 503, None, &retry, None);
            self.reply(key, response, now);
            return;
        }
        let trunk = self
            .config
            .trunks
            .iter()
            .find(|(_, addr)| *addr == flow.remote)
            .map(|(name, _)| name.clone());
        let origin = match trunk {
            Some(name) => Origin::Trunk(name),
            None => {
                match self.authenticate(key, &request, flow, HeaderName::ProxyAuthorization, now) {
                    Some(user) => Origin::Endpoint(user),
                    None => return,
                }
            }
        };
        let local_tag = msg::new_tag();
        let call_id = msg::call_id(&request);
        let (caller, caller_name) = msg::party(&request.headers, &HeaderName::From);
        let mut callee = request
            .uri
            .user()
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_default();
        if let Origin::Trunk(name) = &origin {
            // A carrier we register with sends calls to our Contact (its user is our
            // account), the dialled number in To: the number is what the dialplan needs.
            let account = self.config.trunk_accounts.iter().find(|a| &a.name == name);
            let contact_user = account
                .filter(|a| a.register)
                .map(|a| a.from_user.as_deref().unwrap_or(&a.username));
            if contact_user.is_some_and(|u| !u.is_empty() && msg::uri_user(u) == callee) {
                let (to_user, _) = msg::party(&request.headers, &HeaderName::To);
                if !to_user.is_empty() {
                    callee = to_user;
                }
            }
        }
        let offer = (!request.body().is_empty())
            .then(|| String::from_utf8_lossy(request.body()).into_owned());
        let to = header(&request.headers, &HeaderName::To).unwrap_or_default();
        let call = Call {
            outgoing: false,
            invite_key: key.clone(),
            flow,
            call_id: call_id.clone(),
            local_header: format!("{to};tag={local_tag}"),
            remote_header: header(&request.headers, &HeaderName::From).unwrap_or_default(),
            remote_target: msg::contact_uri(&request.headers)
                .unwrap_or_else(|| request.uri.to_string()),
            local_tag,
            local_cseq: 1,
            phase: Phase::Early,
            provisional_seen: false,
            last_2xx: None,
            ack: None,
            reinvite: None,
            late_offer: false,
            ack_pending: false,
            trunk: None,
            auth_rounds: 0,
            invite: request.clone(),
        };
        let response = msg::response(&request, 100, None, &[], None);
        self.reply(key, response, now);
        let id = self.add_call(call);
        let info = CallInfo {
            origin,
            caller,
            caller_name,
            callee,
            call_id,
            offer,
            source: flow.remote,
        };
        self.out.push_back(Output::Incoming(NewCall { id, info }));
    }

    pub(super) fn on_cancel(&mut self, key: &TransactionKey, request: &Request, now: Instant) {
        let invite = TransactionKey::for_cancelled_invite(request)
            .and_then(|k| self.invites.get(&k).copied().map(|id| (k, id)));
        let Some((invite_key, id)) = invite else {
            let response = msg::response(request, 481, None, &[], None);
            self.reply(key, response, now);
            return;
        };
        let response = msg::response(request, 200, None, &[], None);
        self.reply(key, response, now);
        // CANCEL racing our 200: the 200 wins, the call goes on (RFC 3261 §9.2).
        let early = self
            .calls
            .get(&id)
            .filter(|c| !c.outgoing && c.phase == Phase::Early)
            .map(|c| (c.invite.clone(), c.local_tag.clone()));
        if let Some((invite, tag)) = early {
            let response = msg::response(&invite, 487, Some(&tag), &[], None);
            self.reply(&invite_key, response, now);
            self.emit(id, CallEvent::Cancelled);
            self.forget(id);
        }
    }

    pub(super) fn on_in_dialog(
        &mut self,
        key: &TransactionKey,
        id: CallId,
        request: Request,
        now: Instant,
    ) {
        match request.method {
            Method::Bye => {
                let response = msg::response(&request, 200, None, &[], None);
                self.reply(key, response, now);
                self.emit(id, CallEvent::Bye);
                self.forget(id);
            }
            Method::Info => {
                let dtmf = dtmf_relay(&String::from_utf8_lossy(request.body()));
                let response = msg::response(&request, 200, None, &[], None);
                self.reply(key, response, now);
                if let Some((digit, duration_ms)) = dtmf {
                    self.emit(id, CallEvent::Dtmf { digit, duration_ms });
                }
            }
            _ => {
                // re-INVITE; one at a time (glare is answered 491, RFC 3261 §14.2)
                let pending = self.calls.get(&id).is_some_and(|c| c.reinvite.is_some());
                if pending {
                    let response = msg::response(&request, 491, None, &[], None);
                    self.reply(key, response, now);
                    return;
                }
                let sdp = (!request.body().is_empty())
                    .then(|| String::from_utf8_lossy(request.body()).into_owned());
                if let Some(call) = self.calls.get_mut(&id) {
                    if let Some(target) = msg::contact_uri(&request.headers) {
                        call.remote_target = target;
                    }
                    call.reinvite = Some((key.clone(), request));
                }
                self.emit(id, CallEvent::Reinvite { sdp });
            }
        }
    }

    pub(super) fn on_ack(&mut self, ack: &Request) {
        let Some(id) = self.dialog_of(ack) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if matches!(call.phase, Phase::Answering { .. }) {
            call.phase = Phase::Confirmed;
            call.last_2xx = None;
            self.timers.clear(&TimerId::Retransmit2xx(id));
            let sdp =
                (!ack.body().is_empty()).then(|| String::from_utf8_lossy(ack.body()).into_owned());
            self.emit(id, CallEvent::Acked { sdp });
        }
    }

    pub(super) fn on_tx_response(
        &mut self,
        key: &TransactionKey,
        response: Response,
        now: Instant,
    ) {
        let Some(id) = self.invites.get(key).copied() else {
            return; // BYE, CANCEL, re-INVITE answers: nothing to do
        };
        let code = response.status.code();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if code < 200 {
            if code == 100 {
                return;
            }
            call.provisional_seen = true;
            if call.phase == Phase::Cancelling {
                self.send_cancel(id, now);
                return;
            }
            self.emit(
                id,
                CallEvent::Provisional {
                    code,
                    sdp: body_of(&response),
                },
            );
            return;
        }
        if (code == 401 || code == 407)
            && call.phase != Phase::Cancelling
            && self.reinvite_with_credentials(id, &response, now)
        {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if code >= 300 {
            if call.phase != Phase::Cancelling {
                self.emit(id, CallEvent::Failed { code });
            }
            self.forget(id);
            return;
        }
        if call.ack.is_some() || call.ack_pending {
            // A retransmission: resend our ACK (none yet while the core works on the
            // answer to a late offer; the peer resends until it comes).
            self.reack(&response);
            return;
        }
        if msg::tag(&response.headers, &HeaderName::To).is_some() {
            call.remote_header = header(&response.headers, &HeaderName::To).unwrap_or_default();
        }
        if let Some(target) = msg::contact_uri(&response.headers) {
            call.remote_target = target;
        }
        let sdp = body_of(&response);
        if call.late_offer && sdp.is_some() && call.phase != Phase::Cancelling {
            // The 2xx carries the offer: the ACK must carry our answer (RFC 3261 §13.2.1),
            // which the core computes; `ack()` sends it.
            call.ack_pending = true;
            call.phase = Phase::Confirmed;
            self.timers
                .set(TimerId::LateAck(id), now + Timers::default().t1 * 64);
            self.emit(id, CallEvent::Answered { sdp });
            return;
        }
        let cseq = msg::cseq_number(&call.invite.headers).unwrap_or(1);
        let ack = self.in_dialog_request(id, Method::Ack, cseq, &[], None);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let ack = ack.map(Message::Request);
        call.ack.clone_from(&ack);
        let flow = call.flow;
        let cancelling = call.phase == Phase::Cancelling;
        if let Some(ack) = ack {
            self.send(flow, ack);
        }
        if cancelling {
            // Answered while we were cancelling: ACK it, then end it (RFC 3261 §9.1).
            self.send_bye(id, now);
            return;
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Confirmed;
        }
        self.emit(id, CallEvent::Answered { sdp });
    }

    /// Sends the ACK of a late-offer call's 2xx with our answer (bare when `None`).
    pub fn ack(&mut self, id: CallId, sdp: Option<String>, now: Instant) {
        let _ = now;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.ack_pending {
            return;
        }
        call.ack_pending = false;
        self.timers.clear(&TimerId::LateAck(id));
        let cseq = msg::cseq_number(&call.invite.headers).unwrap_or(1);
        let flow = call.flow;
        let body = sdp.as_deref().map(|s| ("application/sdp", s));
        let ack = self
            .in_dialog_request(id, Method::Ack, cseq, &[], body)
            .map(Message::Request);
        if let Some(call) = self.calls.get_mut(&id) {
            call.ack.clone_from(&ack);
        }
        if let Some(ack) = ack {
            self.send(flow, ack);
        }
    }

    /// A provisional or final response to an incoming call's INVITE.
    pub fn respond(&mut self, id: CallId, code: u16, sdp: Option<String>, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.outgoing || call.phase != Phase::Early {
            return;
        }
        let mut extra = vec![self.contact_header(call.flow.transport)];
        if code >= 200 {
            extra.push((HeaderName::Allow, ALLOW.to_owned()));
        }
        let response = msg::response(
            &call.invite,
            code,
            Some(&call.local_tag),
            &extra,
            sdp.as_deref(),
        );
        let key = call.invite_key.clone();
        let unreliable = reliability(call.flow) == Reliability::Unreliable;
        if (200..300).contains(&code) {
            let t1 = Timers::default().t1;
            if let Some(call) = self.calls.get_mut(&id) {
                call.phase = Phase::Answering {
                    interval: t1,
                    give_up: now + t1 * 64,
                };
                call.last_2xx = response
                    .clone()
                    .map(|r| Message::Response(with_server(&self.config.user_agent, r)));
            }
            if unreliable {
                self.timers.set(TimerId::Retransmit2xx(id), now + t1);
            }
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.provisional_seen |= code < 200;
        }
        self.reply(&key, response, now);
        if code >= 300 {
            self.forget(id);
        }
    }

    /// Ends the call the way its state allows.
    pub fn hangup(&mut self, id: CallId, code: u16, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match (call.outgoing, call.phase) {
            (false, Phase::Early) => self.respond(id, code.max(300), None, now),
            (true, Phase::Early) => {
                call.phase = Phase::Cancelling;
                // A CANCEL may only follow a provisional response (RFC 3261 §9.1).
                if call.provisional_seen {
                    self.send_cancel(id, now);
                }
            }
            (_, Phase::Cancelling) => {}
            (_, Phase::Answering { .. } | Phase::Confirmed) => {
                // A late-offer 2xx still owed its ACK: acknowledged bare, then ended.
                self.ack(id, None, now);
                self.send_bye(id, now);
            }
        }
    }

    pub fn answer_reinvite(&mut self, id: CallId, sdp: Result<String, u16>, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some((key, request)) = call.reinvite.take() else {
            return;
        };
        let transport = call.flow.transport;
        let response = match &sdp {
            Ok(sdp) => {
                let contact = self.contact_header(transport);
                msg::response(&request, 200, None, &[contact], Some(sdp))
            }
            Err(code) => msg::response(&request, *code, None, &[], None),
        };
        self.reply(&key, response, now);
    }

    pub fn send_info_dtmf(&mut self, id: CallId, digit: char, duration_ms: u32, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
        let request = self.in_dialog_request(
            id,
            Method::Info,
            cseq,
            &[],
            Some(("application/dtmf-relay", &body)),
        );
        if let Some(request) = request {
            self.send_request(flow, request, now);
        }
    }

    /// 302 before answer, REFER after.
    pub fn redirect(&mut self, id: CallId, target: &Target, now: Instant) {
        let uri = match self.resolve(target, now) {
            Ok((uri, _, _)) => uri,
            Err(e) => {
                tracing::info!(error = %e, "redirect target cannot be resolved");
                return;
            }
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.outgoing && call.phase == Phase::Early {
            let extra = [(HeaderName::Contact, format!("<{uri}>"))];
            let response = msg::response(&call.invite, 302, Some(&call.local_tag), &extra, None);
            let key = call.invite_key.clone();
            self.reply(&key, response, now);
            self.forget(id);
            return;
        }
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        let refer_to = [(HeaderName::ReferTo, format!("<{uri}>"))];
        if let Some(request) = self.in_dialog_request(id, Method::Refer, cseq, &refer_to, None) {
            self.send_request(flow, request, now);
        }
    }

    /// Starts an outgoing call.
    pub fn invite(&mut self, out: &OutgoingCall, now: Instant) -> Result<CallId, InviteError> {
        let extra = extra_headers(&out.headers)?;
        let (request_uri, flow, to_uri) = self.resolve(&out.target, now)?;
        let local = self.local.of(flow.transport);
        let local_tag = msg::new_tag();
        let call_id = format!("{}@switchboard", uuid::Uuid::new_v4().simple());
        let display = out
            .caller_name
            .as_deref()
            .map(|n| format!("{} ", msg::quoted(n)))
            .unwrap_or_default();
        // A From URI needs a user part: calls without a caller id go out as anonymous.
        let caller = if out.caller.is_empty() {
            "anonymous".to_owned()
        } else {
            msg::uri_user(&out.caller)
        };
        // A carrier that wants its own domain in From says so with the trunk's
        // `from_domain`; elsewhere our address is the From host.
        let from_host = match &out.target {
            Target::Trunk { name, .. } => self
                .config
                .trunk_accounts
                .iter()
                .find(|a| &a.name == name)
                .and_then(|a| a.from_domain.clone()),
            _ => None,
        }
        .unwrap_or_else(|| local.ip().to_string());
        let from = format!("{display}<sip:{caller}@{from_host}>;tag={local_tag}");
        let to = format!("<{to_uri}>");
        let uri = parse_uri(&request_uri)?;
        let mut builder = RequestBuilder::new(Method::Invite, uri);
        let (_, contact) = self.contact_header(flow.transport);
        let mut headers = vec![
            (HeaderName::Via, self.via(flow.transport)),
            (HeaderName::From, from.clone()),
            (HeaderName::To, to.clone()),
            (HeaderName::CallId, call_id.clone()),
            (HeaderName::Contact, contact),
            (HeaderName::Allow, ALLOW.to_owned()),
        ];
        if !self.config.user_agent.is_empty() {
            headers.push((HeaderName::UserAgent, self.config.user_agent.clone()));
        }
        headers.extend(extra);
        for (name, value) in headers {
            builder = builder
                .header(name, value)
                .map_err(|_| InviteError::BadHeader)?;
        }
        builder = builder
            .max_forwards(70)
            .cseq(1, &Method::Invite)
            .map_err(|_| InviteError::BadHeader)?;
        let offer = out.offer.clone().filter(|o| !o.is_empty());
        let late_offer = offer.is_none();
        if let Some(offer) = offer {
            builder = builder
                .header(HeaderName::ContentType, "application/sdp")
                .map_err(|_| InviteError::BadHeader)?
                .body(Bytes::from(offer));
        }
        let request = builder.build();
        let key = TransactionKey::from_sent_request(&request)
            .ok_or_else(|| InviteError::BadUri(request_uri.clone()))?;
        let id = self.add_call(Call {
            outgoing: true,
            invite: request.clone(),
            invite_key: key,
            flow,
            call_id,
            local_tag,
            local_header: from,
            remote_header: to,
            remote_target: request_uri,
            local_cseq: 1,
            phase: Phase::Early,
            provisional_seen: false,
            last_2xx: None,
            ack: None,
            reinvite: None,
            late_offer,
            ack_pending: false,
            trunk: match &out.target {
                Target::Trunk { name, .. } => Some(name.clone()),
                _ => None,
            },
            auth_rounds: 0,
        });
        self.send_request(flow, request, now);
        Ok(id)
    }

    /// The SIP Call-ID of a call.
    pub fn call_id(&self, id: CallId) -> Option<&str> {
        self.calls.get(&id).map(|c| c.call_id.as_str())
    }

    pub(super) fn send_cancel(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let invite = &call.invite;
        let mut builder = RequestBuilder::new(Method::Cancel, invite.uri.clone());
        // CANCEL copies the INVITE's Via, From, To and Call-ID (RFC 3261 §9.1).
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(value) = invite.headers.value(&name) {
                match builder.header(name, value.into_owned()) {
                    Ok(b) => builder = b,
                    Err(_) => return,
                }
            }
        }
        let cseq = msg::cseq_number(&invite.headers).unwrap_or(1);
        let Ok(builder) = builder.max_forwards(70).cseq(cseq, &Method::Cancel) else {
            return;
        };
        let flow = call.flow;
        self.send_request(flow, builder.build(), now);
    }

    pub(super) fn send_bye(&mut self, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.local_cseq += 1;
        let (cseq, flow) = (call.local_cseq, call.flow);
        if let Some(request) = self.in_dialog_request(id, Method::Bye, cseq, &[], None) {
            self.send_request(flow, request, now);
        }
        self.forget(id);
    }

    pub(super) fn via(&self, transport: Transport) -> String {
        format!(
            "SIP/2.0/{} {};branch={};rport",
            transport.via_name(),
            self.local.of(transport),
            msg::new_branch()
        )
    }

    /// An in-dialog request (ACK, BYE, INFO, REFER) from the dialog's state.
    pub(super) fn in_dialog_request(
        &self,
        id: CallId,
        method: Method,
        cseq: u32,
        extra: &[(HeaderName, String)],
        body: Option<(&str, &str)>,
    ) -> Option<Request> {
        let call = self.calls.get(&id)?;
        let uri = parse_uri(&call.remote_target).ok()?;
        let mut headers = vec![
            (HeaderName::Via, self.via(call.flow.transport)),
            (HeaderName::From, call.local_header.clone()),
            (HeaderName::To, call.remote_header.clone()),
            (HeaderName::CallId, call.call_id.clone()),
        ];
        if !self.config.user_agent.is_empty() {
            headers.push((HeaderName::UserAgent, self.config.user_agent.clone()));
        }
        headers.extend(extra.iter().cloned());
        let mut builder = RequestBuilder::new(method.clone(), uri);
        for (name, value) in headers {
            builder = builder.header(name, value).ok()?;
        }
        builder = builder.max_forwards(70).cseq(cseq, &method).ok()?;
        if let Some((kind, body)) = body {
            builder = builder
                .header(HeaderName::ContentType, kind.to_owned())
                .ok()?
                .body(Bytes::from(body.to_owned()));
        }
        Some(builder.build())
    }

    pub(super) fn resolve(
        &self,
        target: &Target,
        now: Instant,
    ) -> Result<(String, Flow, String), InviteError> {
        match target {
            Target::Endpoint(aor) => {
                let binding = self
                    .registrar
                    .lookup(aor, now)
                    .into_iter()
                    .next()
                    .ok_or_else(|| InviteError::NotRegistered(aor.clone()))?;
                let host = binding.target.remote;
                Ok((binding.contact, binding.target, format!("sip:{aor}@{host}")))
            }
            Target::Trunk { name, number } => {
                let (_, addr) = self
                    .config
                    .trunks
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| InviteError::UnknownTrunk(name.clone()))?;
                let uri = format!("sip:{}@{addr}", msg::uri_user(number));
                let flow = Flow {
                    transport: Transport::Udp,
                    remote: *addr,
                };
                Ok((uri.clone(), flow, uri))
            }
            Target::Uri(uri) => {
                let parsed = parse_uri(uri)?;
                let host = parsed
                    .host()
                    .map(|h| String::from_utf8_lossy(&h.to_bytes()).into_owned())
                    .ok_or_else(|| InviteError::BadUri(uri.clone()))?;
                let ip: IpAddr = match host.trim_matches(['[', ']']) {
                    "localhost" => IpAddr::from([127, 0, 0, 1]),
                    other => other
                        .parse()
                        .map_err(|_| InviteError::BadUri(uri.clone()))?,
                };
                let tcp = uri.to_ascii_lowercase().contains("transport=tcp");
                let flow = Flow {
                    transport: if tcp { Transport::Tcp } else { Transport::Udp },
                    remote: SocketAddr::new(ip, parsed.port().unwrap_or(5060)),
                };
                Ok((uri.clone(), flow, uri.clone()))
            }
        }
    }

    pub(super) fn contact_header(&self, transport: Transport) -> (HeaderName, String) {
        let local = self.local.of(transport);
        let param = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        (
            HeaderName::Contact,
            format!("<sip:switchboard@{local}{param}>"),
        )
    }
}

/// The caller's extra headers, typed; the builder checks names are tokens and values
/// hold no line break.
fn extra_headers(headers: &[(String, String)]) -> Result<Vec<(HeaderName, String)>, InviteError> {
    headers
        .iter()
        .map(|(name, value)| {
            let parsed = HeaderName::parse(&Bytes::from(name.trim().to_owned()));
            if msg::RESERVED_HEADERS.contains(&parsed) {
                return Err(InviteError::ReservedHeader(name.clone()));
            }
            sipx_sip::Header::build(parsed.clone(), value.clone())
                .map_err(|_| InviteError::BadHeader)?;
            Ok((parsed, value.clone()))
        })
        .collect()
}

fn parse_uri(uri: &str) -> Result<Uri, InviteError> {
    Uri::parse(Bytes::from(uri.to_owned())).map_err(|_| InviteError::BadUri(uri.to_owned()))
}

fn body_of(response: &Response) -> Option<String> {
    (!response.body().is_empty()).then(|| String::from_utf8_lossy(response.body()).into_owned())
}

/// `Signal=5\r\nDuration=160` (application/dtmf-relay).
pub(super) fn dtmf_relay(body: &str) -> Option<(char, u32)> {
    let mut digit = None;
    let mut duration = 250;
    for line in body.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "signal" => digit = value.trim().chars().next(),
            "duration" => duration = value.trim().parse().unwrap_or(duration),
            _ => {}
        }
    }
    digit
        .map(|d| d.to_ascii_uppercase())
        .filter(|d| d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D'))
        .map(|d| (d, duration))
}
