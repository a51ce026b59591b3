//! The SIP stack's settings, read off the switch's config.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_sip::digest::Algorithm;
use switchboard_sip::guard::{BanAction as GuardBanAction, GuardConfig};
use switchboard_sip::transport::TransportLimits;
use switchboard_sip::{EndpointAuth, StackConfig, TrunkAccount};

use crate::config::{BanAction, Config, DigestAlgorithm, Security};

pub(crate) fn stack_config(
    config: &Config,
    udp: SocketAddr,
    tcp: Option<SocketAddr>,
    trunks: Vec<(String, SocketAddr)>,
) -> StackConfig {
    let security = &config.security;
    let trunk_accounts = trunk_accounts(config, &trunks);
    StackConfig {
        udp,
        tcp,
        realm: config.sip.realm.clone(),
        endpoints: config
            .endpoint
            .iter()
            .map(|e| {
                let auth = EndpointAuth {
                    password: e.password.clone(),
                    algorithms: e.auth_algorithms.as_deref().map(algorithms),
                    force_rport: e.force_rport,
                    rewrite_contact: e.rewrite_contact,
                };
                (e.id.clone(), auth)
            })
            .collect(),
        trunks,
        trunk_accounts,
        user_agent: config.sip.user_agent.clone(),
        algorithms: algorithms(&config.sip.auth_algorithms),
        nonce_lifetime_secs: security.nonce_lifetime,
        guard: guard(security),
        limits: limits(security),
        max_calls: config.general.max_channels,
    }
}

/// The trunks that register or are pinged, with their resolved addresses.
fn trunk_accounts(config: &Config, addrs: &[(String, SocketAddr)]) -> Vec<TrunkAccount> {
    config
        .trunk
        .iter()
        .filter(|t| t.register || t.qualify_secs() > 0)
        .filter_map(|t| {
            let addr = addrs.iter().find(|(n, _)| n == &t.name)?.1;
            Some(TrunkAccount {
                name: t.name.clone(),
                addr,
                register: t.register,
                username: t.username.clone().unwrap_or_default(),
                password: t.password.clone().unwrap_or_default(),
                expires: t.expires,
                from_user: t.from_user.clone(),
                from_domain: t.from_domain.clone(),
                qualify: Duration::from_secs(t.qualify_secs()),
            })
        })
        .collect()
}

fn algorithms(names: &[DigestAlgorithm]) -> Vec<Algorithm> {
    names
        .iter()
        .map(|a| match a {
            DigestAlgorithm::Md5 => Algorithm::Md5,
            DigestAlgorithm::Sha256 => Algorithm::Sha256,
        })
        .collect()
}

fn guard(security: &Security) -> GuardConfig {
    GuardConfig {
        max_auth_failures: security.max_auth_failures,
        failure_window: Duration::from_secs(security.failure_window),
        ban_time: Duration::from_secs(security.ban_time),
        ban_action: match security.ban_action {
            BanAction::Drop => GuardBanAction::Drop,
            BanAction::Forbidden => GuardBanAction::Forbidden,
        },
        rate_limit: security.rate_limit,
        rate_window: Duration::from_secs(security.rate_window),
        ..GuardConfig::default()
    }
}

fn limits(security: &Security) -> TransportLimits {
    TransportLimits {
        tcp_max_connections: security.tcp_max_connections,
        tcp_max_connections_per_source: security.tcp_max_connections_per_source,
        tcp_idle_timeout: Duration::from_secs(security.tcp_idle_timeout),
        tcp_message_timeout: Duration::from_secs(security.tcp_message_timeout),
        max_header_bytes: security.max_header_bytes,
        max_body_bytes: security.max_body_bytes,
    }
}
