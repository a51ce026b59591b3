//! Brute-force and flood guard, sans IO: the caller passes each request's source IP and the
//! time, and drops or refuses what the guard says. Sources that fail authentication too often
//! are banned for a while; sources that send too fast are rate limited. Memory is bounded: at
//! most `max_tracked_sources` IPs are tracked, idle ones pruned first.
//!
//! [`log_auth_failure`] writes the one line per failed authentication that fail2ban's filter
//! (contrib/fail2ban) matches, for bans at the firewall.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// The `tracing` target of security events (failed authentications, bans).
pub const SECURITY_TARGET: &str = "switchboard::security";

/// What a banned source gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanAction {
    /// Nothing: its requests are dropped unanswered.
    Drop,
    /// A 403 Forbidden to each request.
    Forbidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failed authentications from one IP within `failure_window` that ban it; 0 = no bans.
    pub max_auth_failures: u32,
    pub failure_window: Duration,
    pub ban_time: Duration,
    pub ban_action: BanAction,
    /// Requests one IP may send per `rate_window`; 0 = no limit.
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub max_tracked_sources: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_auth_failures: 5,
            failure_window: Duration::from_secs(600),
            ban_time: Duration::from_secs(600),
            ban_action: BanAction::Drop,
            rate_limit: 200,
            rate_window: Duration::from_secs(2),
            max_tracked_sources: 65_536,
        }
    }
}

/// The guard's word on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allow,
    Banned(BanAction),
    /// Over the rate limit: drop it (answering would feed the flood).
    RateLimited,
}

#[derive(Debug)]
struct Source {
    /// Times of recent failed authentications, oldest first, fewer than the ban threshold.
    failures: VecDeque<Instant>,
    banned_at: Option<Instant>,
    window_start: Instant,
    requests: u32,
    last_seen: Instant,
}

impl Source {
    fn new(now: Instant) -> Self {
        Self {
            failures: VecDeque::new(),
            banned_at: None,
            window_start: now,
            requests: 0,
            last_seen: now,
        }
    }

    fn banned(&self, now: Instant, ban_time: Duration) -> bool {
        self.banned_at
            .is_some_and(|at| now.saturating_duration_since(at) < ban_time)
    }

    /// Nothing worth remembering: no ban, no recent failure, no open rate window.
    fn idle(&self, now: Instant, config: &GuardConfig) -> bool {
        !self.banned(now, config.ban_time)
            && self
                .failures
                .back()
                .is_none_or(|t| now.saturating_duration_since(*t) >= config.failure_window)
            && now.saturating_duration_since(self.window_start) >= config.rate_window
    }
}

#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    sources: HashMap<IpAddr, Source>,
    exempt: HashSet<IpAddr>,
}

impl Guard {
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            sources: HashMap::new(),
            exempt: HashSet::new(),
        }
    }

    /// Never limits nor bans `ip` (trunk peers).
    pub fn exempt(&mut self, ip: IpAddr) {
        self.exempt.insert(ip.to_canonical());
    }

    /// Counts a request from `ip` and says whether it may be handled.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Admission {
        let ip = ip.to_canonical();
        if self.exempt.contains(&ip) {
            return Admission::Allow;
        }
        if let Some(source) = self.sources.get_mut(&ip) {
            source.last_seen = now;
            if source.banned(now, self.config.ban_time) {
                return Admission::Banned(self.config.ban_action);
            }
            source.banned_at = None;
        }
        let (limit, window) = (self.config.rate_limit, self.config.rate_window);
        if limit == 0 {
            return Admission::Allow;
        }
        let source = self.source(ip, now);
        if now.saturating_duration_since(source.window_start) >= window {
            source.window_start = now;
            source.requests = 0;
        }
        source.requests = source.requests.saturating_add(1);
        if source.requests <= limit {
            return Admission::Allow;
        }
        if source.requests == limit + 1 {
            tracing::warn!(
                target: SECURITY_TARGET,
                "SIP source rate limited: ip={ip} limit={limit} window={}s",
                window.as_secs_f64()
            );
        }
        Admission::RateLimited
    }

    /// Records a failed authentication from `ip`; true when it bans the IP.
    pub fn auth_failed(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        let GuardConfig {
            max_auth_failures,
            failure_window,
            ban_time,
            ..
        } = self.config;
        if max_auth_failures == 0 || self.exempt.contains(&ip) {
            return false;
        }
        let source = self.source(ip, now);
        if source.banned(now, ban_time) {
            return false;
        }
        while source
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= failure_window)
        {
            source.failures.pop_front();
        }
        source.failures.push_back(now);
        if source.failures.len() < max_auth_failures as usize {
            return false;
        }
        source.failures.clear();
        source.banned_at = Some(now);
        tracing::warn!(
            target: SECURITY_TARGET,
            "SIP source banned: ip={ip} failures={max_auth_failures} ban_time={}s",
            ban_time.as_secs()
        );
        true
    }

    /// The state of `ip`, made room for if it is new.
    fn source(&mut self, ip: IpAddr, now: Instant) -> &mut Source {
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.config.max_tracked_sources
        {
            self.make_room(now);
        }
        let source = self.sources.entry(ip).or_insert_with(|| Source::new(now));
        source.last_seen = now;
        source
    }

    /// Prunes idle sources, then, if still over 7/8 full, forgets the least recently seen
    /// (unbanned before banned) down to 7/8: each full scan buys room for many new sources.
    fn make_room(&mut self, now: Instant) {
        let config = &self.config;
        self.sources.retain(|_, s| !s.idle(now, config));
        let keep = config.max_tracked_sources - config.max_tracked_sources / 8;
        let Some(excess) = self.sources.len().checked_sub(keep).filter(|n| *n > 0) else {
            return;
        };
        let mut by_value: Vec<_> = self
            .sources
            .iter()
            .map(|(ip, s)| ((s.banned(now, config.ban_time), s.last_seen), *ip))
            .collect();
        by_value.select_nth_unstable_by_key(excess - 1, |(key, _)| *key);
        for (_, ip) in by_value.iter().take(excess) {
            self.sources.remove(ip);
        }
        tracing::warn!(
            target: SECURITY_TARGET,
            "SIP guard table full: forgot {excess} active sources"
        );
    }
}

/// Logs one failed authentication, as the line fail2ban's filter matches.
pub fn log_auth_failure(remote: SocketAddr, user: &str, method: &str, reason: &str) {
    tracing::warn!(
        target: SECURITY_TARGET,
        "{}",
        auth_failure_line(remote, user, method, reason)
    );
}

/// `SIP authentication failed: remote=1.2.3.4:5060 user="1000" method=REGISTER reason="…"`.
/// The remote address comes first and the peer's words are quoted, escaped and stripped of
/// control characters, so a hostile user name can neither fake the address nor add a line.
pub fn auth_failure_line(remote: SocketAddr, user: &str, method: &str, reason: &str) -> String {
    let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
    let method: String = method
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    format!(
        "SIP authentication failed: remote={remote} user={} method={method} reason={}",
        quoted(user),
        quoted(reason)
    )
}

fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut out = String::from('"');
    for c in text.chars().filter(|c| !c.is_control()).take(MAX_CHARS) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
    const MALLORY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn guard() -> Guard {
        Guard::new(GuardConfig {
            rate_limit: 0,
            ..GuardConfig::default()
        })
    }

    #[test]
    fn five_failures_within_the_window_ban_for_the_ban_time() {
        let mut guard = guard();
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(!guard.auth_failed(MALLORY, t0 + secs(i * 100)));
        }
        assert_eq!(guard.admit(MALLORY, t0 + secs(400)), Admission::Allow);
        assert!(guard.auth_failed(MALLORY, t0 + secs(500)));
        let banned = Admission::Banned(BanAction::Drop);
        assert_eq!(guard.admit(MALLORY, t0 + secs(501)), banned);
        // Failures while banned neither re-ban nor extend the ban.
        assert!(!guard.auth_failed(MALLORY, t0 + secs(1000)));
        assert_eq!(guard.admit(MALLORY, t0 + secs(1099)), banned);
        assert_eq!(guard.admit(MALLORY, t0 + secs(1100)), Admission::Allow);
        // After the ban the count starts over.
        for i in 0..4 {
            assert!(!guard.auth_failed(MALLORY, t0 + secs(1100 + i)));
        }
        assert!(guard.auth_failed(MALLORY, t0 + secs(1104)));
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let mut guard = guard();
        let t0 = Instant::now();
        for i in 0..20 {
            // One every 200 s: never five within 600 s.
            assert!(!guard.auth_failed(MALLORY, t0 + secs(i * 200)));
        }
        assert_eq!(guard.admit(MALLORY, t0 + secs(4000)), Admission::Allow);
    }

    #[test]
    fn a_ban_concerns_only_the_failing_source() {
        let mut guard = Guard::new(GuardConfig {
            ban_action: BanAction::Forbidden,
            max_auth_failures: 2,
            rate_limit: 0,
            ..GuardConfig::default()
        });
        let t0 = Instant::now();
        assert!(!guard.auth_failed(MALLORY, t0));
        assert!(guard.auth_failed(MALLORY, t0));
        assert!(!guard.auth_failed(ALICE, t0));
        assert_eq!(
            guard.admit(MALLORY, t0),
            Admission::Banned(BanAction::Forbidden)
        );
        assert_eq!(guard.admit(ALICE, t0), Admission::Allow);
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(
            guard.admit(mapped, t0),
            Admission::Banned(BanAction::Forbidden)
        );
    }

    #[test]
    fn rate_limit_counts_per_source_and_window() {
        let mut guard = Guard::new(GuardConfig {
            rate_limit: 3,
            ..GuardConfig::default()
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(guard.admit(MALLORY, t0), Admission::Allow);
        }
        assert_eq!(guard.admit(MALLORY, t0 + secs(1)), Admission::RateLimited);
        assert_eq!(guard.admit(ALICE, t0 + secs(1)), Admission::Allow);
        assert_eq!(guard.admit(MALLORY, t0 + secs(2)), Admission::Allow);
    }

    #[test]
    fn exempt_sources_are_never_limited_nor_banned() {
        let mut guard = Guard::new(GuardConfig {
            rate_limit: 1,
            max_auth_failures: 1,
            ..GuardConfig::default()
        });
        guard.exempt(ALICE);
        let t0 = Instant::now();
        assert!(!guard.auth_failed(ALICE, t0));
        for _ in 0..10 {
            assert_eq!(guard.admit(ALICE, t0), Admission::Allow);
        }
        assert!(guard.sources.is_empty());
    }

    #[test]
    fn zero_limits_switch_rate_limiting_and_bans_off() {
        let mut guard = Guard::new(GuardConfig {
            rate_limit: 0,
            max_auth_failures: 0,
            ..GuardConfig::default()
        });
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert!(!guard.auth_failed(MALLORY, t0));
            assert_eq!(guard.admit(MALLORY, t0), Admission::Allow);
        }
    }

    fn nth_ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn tracked_sources_stay_bounded_and_bans_outlive_a_flood() {
        let mut guard = Guard::new(GuardConfig {
            max_tracked_sources: 1000,
            max_auth_failures: 1,
            ..GuardConfig::default()
        });
        let t0 = Instant::now();
        assert!(guard.auth_failed(MALLORY, t0));
        for n in 0..50_000 {
            // A flood from ever new (spoofed) sources, all inside one rate window.
            assert_eq!(guard.admit(nth_ip(n), t0 + secs(1)), Admission::Allow);
            assert!(guard.sources.len() <= 1000);
        }
        let banned = Admission::Banned(BanAction::Drop);
        assert_eq!(guard.admit(MALLORY, t0 + secs(1)), banned);
        // Idle sources are pruned before live ones are forgotten.
        for n in 0..1000 {
            guard.admit(nth_ip(n), t0 + secs(10));
        }
        assert!(guard.sources.len() <= 1000);
        assert_eq!(guard.admit(MALLORY, t0 + secs(10)), banned);
    }

    #[test]
    fn failure_line_quotes_the_user_and_keeps_the_real_remote() {
        let remote: SocketAddr = "203.0.113.5:5062".parse().unwrap();
        assert_eq!(
            auth_failure_line(remote, "1000", "REGISTER", "wrong password"),
            "SIP authentication failed: remote=203.0.113.5:5062 user=\"1000\" \
             method=REGISTER reason=\"wrong password\""
        );
        let hostile = "x\" remote=6.6.6.6:1 \\\n2026 SIP authentication failed: remote=6.6.6.6";
        let line = auth_failure_line(remote, hostile, "INV ITE", "unknown user");
        assert!(!line.contains('\n'));
        assert!(line.starts_with(
            "SIP authentication failed: remote=203.0.113.5:5062 user=\"x\\\" remote=6.6.6.6:1 \\\\"
        ));
        assert!(line.ends_with("method=INV?ITE reason=\"unknown user\""));
        let mapped: SocketAddr = "[::ffff:203.0.113.5]:5060".parse().unwrap();
        assert!(auth_failure_line(mapped, "", "", "").contains("remote=203.0.113.5:5060 "));
        let v6: SocketAddr = "[2001:db8::1]:5060".parse().unwrap();
        assert!(auth_failure_line(v6, "", "", "").contains("remote=[2001:db8::1]:5060 "));
    }
}
