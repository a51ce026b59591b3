//! Digest authentication of requests (RFC 3261 §22, RFC 7616), with the guard told of
//! every failure.

use sipx_sip::{HeaderName, Request, TransactionKey};
use std::time::Instant;

use super::UserAgent;
use crate::digest::{Algorithm, DigestResponse, Verdict};
use crate::guard;
use crate::msg::{self, header};
use crate::transport::Flow;

impl UserAgent {
    /// Digest-checks a request; answers the challenge or the refusal itself and returns
    /// the authenticated user only when the request may proceed.
    pub(super) fn authenticate(
        &mut self,
        key: &TransactionKey,
        request: &Request,
        flow: Flow,
        header_name: HeaderName,
        now: Instant,
    ) -> Option<String> {
        let unix = self.epoch.unix(now);
        let answer = header(&request.headers, &header_name)
            .as_deref()
            .and_then(DigestResponse::parse);
        let method = request.method.to_string();
        let Some(answer) = answer else {
            self.challenge(key, request, flow, &header_name, None, false, now);
            return None;
        };
        let endpoint = self.config.endpoints.get(&answer.username).cloned();
        let verdict = match &endpoint {
            Some(endpoint) if answer.realm == self.auth.realm() => {
                let algorithms = self.algorithms_of(Some(&answer.username)).to_vec();
                self.auth.verify(
                    &answer,
                    &method,
                    &endpoint.password,
                    flow.remote.ip(),
                    unix,
                    &algorithms,
                )
            }
            _ => Verdict::Forged,
        };
        match verdict {
            Verdict::Ok => Some(answer.username),
            Verdict::Stale => {
                let user = answer.username.clone();
                self.challenge(key, request, flow, &header_name, Some(&user), true, now);
                None
            }
            Verdict::Forged => {
                let reason = if endpoint.is_none() {
                    "unknown user"
                } else {
                    "wrong password"
                };
                guard::log_auth_failure(flow.remote, &answer.username, &method, reason);
                self.guard.auth_failed(flow.remote.ip(), now);
                let response = msg::response(request, 403, Some(&msg::new_tag()), &[], None);
                self.reply(key, response, now);
                None
            }
        }
    }

    pub(super) fn algorithms_of(&self, user: Option<&str>) -> &[Algorithm] {
        user.and_then(|u| self.config.endpoints.get(u))
            .and_then(|e| e.algorithms.as_deref())
            .unwrap_or(&self.config.algorithms)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn challenge(
        &mut self,
        key: &TransactionKey,
        request: &Request,
        flow: Flow,
        header_name: &HeaderName,
        user: Option<&str>,
        stale: bool,
        now: Instant,
    ) {
        let (code, name) = if matches!(header_name, HeaderName::ProxyAuthorization) {
            (407, HeaderName::ProxyAuthenticate)
        } else {
            (401, HeaderName::WwwAuthenticate)
        };
        // Before the user is known, offer what the From user's endpoint accepts.
        let from_user = msg::party(&request.headers, &HeaderName::From).0;
        let algorithms = self
            .algorithms_of(Some(user.unwrap_or(&from_user)))
            .to_vec();
        let unix = self.epoch.unix(now);
        let extra: Vec<_> = self
            .auth
            .challenges(unix, flow.remote.ip(), &algorithms, stale)
            .into_iter()
            .map(|c| (name.clone(), c))
            .collect();
        let response = msg::response(request, code, Some(&msg::new_tag()), &extra, None);
        self.reply(key, response, now);
    }
}
