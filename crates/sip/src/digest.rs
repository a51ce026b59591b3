//! Server side of HTTP digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760 for
//! SHA-256), with replay protection.
//!
//! A nonce is `hex(issued) + 128 random bits + seal`, the seal an HMAC-SHA-256 (keyed with a
//! per-process secret) over the first two parts and the client's source IP. So a nonce's age
//! and origin are checked without state, and flooding challenges costs no memory. Replays are
//! caught by a bounded table of the nonces that were answered correctly, each with the highest
//! nonce count (`nc`) accepted so far: the same `(nonce, nc)` is never accepted twice.

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

/// How many answered nonces are remembered. Each entry is a few dozen bytes.
pub const MAX_TRACKED_NONCES: usize = 65_536;

/// Hex digits of each nonce part: issued time, random, seal.
const STAMP_HEX: usize = 16;
const RANDOM_HEX: usize = 32;
const SEAL_HEX: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The RFC 7616 name (`MD5`, `SHA-256`), case-insensitive; `None` for any other.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "SHA-256" => Some(Self::Sha256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    fn hash(self, input: &str) -> String {
        match self {
            Self::Md5 => hex(&Md5::digest(input.as_bytes())),
            Self::Sha256 => hex(&Sha256::digest(input.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// HMAC-SHA-256 (RFC 2104): a plain keyed hash would allow length extension.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Compares without an early exit, so timing tells nothing about a guessed response.
fn same_hex(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()))
            == 0
}

/// The parameters of an `Authorization` / `Proxy-Authorization` digest header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestResponse {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
}

impl DigestResponse {
    /// Parses `Digest k=v, k="v", ...`; `None` for another scheme or a missing field.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.trim();
        let scheme_len = "Digest".len();
        if !rest.get(..scheme_len)?.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let mut out = Self::default();
        for (name, value) in params(rest.get(scheme_len..)?) {
            let slot = match name.to_ascii_lowercase().as_str() {
                "username" => &mut out.username,
                "realm" => &mut out.realm,
                "nonce" => &mut out.nonce,
                "uri" => &mut out.uri,
                "response" => &mut out.response,
                "algorithm" => out.algorithm.insert(String::new()),
                "qop" => out.qop.insert(String::new()),
                "nc" => out.nc.insert(String::new()),
                "cnonce" => out.cnonce.insert(String::new()),
                _ => continue,
            };
            *slot = value;
        }
        (!out.username.is_empty() && !out.nonce.is_empty() && !out.response.is_empty())
            .then_some(out)
    }
}

/// Splits `a=b, c="d, e"` into pairs, honouring quotes and backslash escapes.
fn params(input: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.trim().is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        out.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

/// Why a digest answer was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Right password, but a nonce that is expired, from another source, unknown or already
    /// used with this count: challenge again with `stale=true`.
    Stale,
    /// Wrong password, or an answer this server does not accept (realm, algorithm, qop).
    Forged,
}

/// Issues and checks challenges for one realm.
#[derive(Debug)]
pub struct Authenticator {
    realm: String,
    secret: String,
    nonce_lifetime_secs: u64,
    used: UsedNonces,
    /// Highest `now` seen, so a clock stepping back cannot revive pruned nonces.
    clock: u64,
}

/// A nonce whose seal matched: its random part identifies it.
struct Nonce {
    issued: u64,
    id: u128,
}

impl Authenticator {
    pub fn new(
        realm: impl Into<String>,
        secret: impl Into<String>,
        nonce_lifetime_secs: u64,
    ) -> Self {
        Self {
            realm: realm.into(),
            secret: secret.into(),
            nonce_lifetime_secs,
            used: UsedNonces::new(MAX_TRACKED_NONCES),
            clock: 0,
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn seal(&self, stamp_and_random: &str, source: IpAddr) -> String {
        let mut message = stamp_and_random.as_bytes().to_vec();
        match source.to_canonical() {
            IpAddr::V4(ip) => message.extend(ip.octets()),
            IpAddr::V6(ip) => message.extend(ip.octets()),
        }
        let mac = hmac_sha256(self.secret.as_bytes(), &message);
        hex(&mac[..SEAL_HEX / 2])
    }

    fn nonce(&self, now_secs: u64, source: IpAddr) -> String {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let head = format!("{now_secs:0STAMP_HEX$x}{random}");
        let seal = self.seal(&head, source);
        head + &seal
    }

    /// Checks a nonce's seal against `source`; `None` if it was not issued to that IP.
    fn open(&self, nonce: &str, source: IpAddr) -> Option<Nonce> {
        if nonce.len() != STAMP_HEX + RANDOM_HEX + SEAL_HEX {
            return None;
        }
        let head = nonce.get(..STAMP_HEX + RANDOM_HEX)?;
        let seal = nonce.get(STAMP_HEX + RANDOM_HEX..)?;
        if !same_hex(&self.seal(head, source), seal) {
            return None;
        }
        Some(Nonce {
            issued: u64::from_str_radix(head.get(..STAMP_HEX)?, 16).ok()?,
            id: u128::from_str_radix(head.get(STAMP_HEX..)?, 16).ok()?,
        })
    }

    /// Challenge header values, one per algorithm in the given order (all with the same
    /// fresh nonce). Many deployed clients (SIPp among them) answer only the first.
    pub fn challenges(
        &self,
        now_secs: u64,
        source: IpAddr,
        algorithms: &[Algorithm],
        stale: bool,
    ) -> Vec<String> {
        let nonce = self.nonce(now_secs, source);
        let stale = if stale { ", stale=true" } else { "" };
        or_md5(algorithms)
            .iter()
            .map(|alg| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.realm,
                    alg.name()
                )
            })
            .collect()
    }

    /// Checks an answer to a request for `method` from `source`, given the user's password
    /// and the algorithms the user may use (an empty list means MD5). The nonce is only
    /// looked at (and consumed) once the response hash proved the password, so a forged
    /// answer cannot burn another client's nonce.
    pub fn verify(
        &mut self,
        answer: &DigestResponse,
        method: &str,
        password: &str,
        source: IpAddr,
        now_secs: u64,
        allowed: &[Algorithm],
    ) -> Verdict {
        let algorithm = match answer.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(name) => match Algorithm::parse(name) {
                Some(alg) => alg,
                None => return Verdict::Forged,
            },
        };
        if !or_md5(allowed).contains(&algorithm) || answer.realm != self.realm {
            return Verdict::Forged;
        }
        let ha1 = algorithm.hash(&format!(
            "{}:{}:{}",
            answer.username, answer.realm, password
        ));
        let ha2 = algorithm.hash(&format!("{}:{}", method, answer.uri));
        let (expected, count) = match (&answer.qop, &answer.nc, &answer.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                let Some(count) = parse_nc(nc) else {
                    return Verdict::Forged;
                };
                let expected =
                    algorithm.hash(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", answer.nonce));
                (expected, Some(count))
            }
            (None, _, _) => (
                algorithm.hash(&format!("{ha1}:{}:{ha2}", answer.nonce)),
                None,
            ),
            _ => return Verdict::Forged,
        };
        if !same_hex(&expected, &answer.response) {
            return Verdict::Forged;
        }
        self.clock = self.clock.max(now_secs);
        let Some(nonce) = self.open(&answer.nonce, source) else {
            tracing::debug!(source = %source, "digest nonce not issued to this source");
            return Verdict::Stale;
        };
        if self.clock.saturating_sub(nonce.issued) > self.nonce_lifetime_secs {
            return Verdict::Stale;
        }
        let expires_before = self.clock.saturating_sub(self.nonce_lifetime_secs);
        if self.used.accept(&nonce, count, expires_before) {
            Verdict::Ok
        } else {
            tracing::debug!(source = %source, "digest nonce count replayed");
            Verdict::Stale
        }
    }
}

fn or_md5(algorithms: &[Algorithm]) -> &[Algorithm] {
    if algorithms.is_empty() {
        &[Algorithm::Md5]
    } else {
        algorithms
    }
}

/// `nc` is 8 hex digits (RFC 7616 §3.4); fewer are tolerated.
fn parse_nc(nc: &str) -> Option<u32> {
    if nc.is_empty() || nc.len() > 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok()
}

/// Answered nonces and the highest count accepted for each, bounded: expired entries go
/// first, then the oldest. Once a live entry had to go, every nonce issued up to its time
/// and not in the table is refused, so eviction can never let a replay through.
#[derive(Debug)]
struct UsedNonces {
    capacity: usize,
    /// Nonce id -> (issued, highest count; `u32::MAX` once used without qop).
    counts: HashMap<u128, (u64, u32)>,
    by_age: BTreeSet<(u64, u128)>,
    /// Issued time of the newest live entry evicted for room.
    evicted_up_to: Option<u64>,
}

impl UsedNonces {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            counts: HashMap::new(),
            by_age: BTreeSet::new(),
            evicted_up_to: None,
        }
    }

    /// Records a use of `nonce` with `count` (`None`: no qop, single use); false for a
    /// replay. Entries issued before `expires_before` are expired.
    fn accept(&mut self, nonce: &Nonce, count: Option<u32>, expires_before: u64) -> bool {
        let previous = self.counts.get(&nonce.id).map(|&(_, last)| last);
        let fresh = match (previous, count) {
            (None, _) => self.evicted_up_to.is_none_or(|floor| nonce.issued > floor),
            (Some(last), Some(count)) => count > last,
            (Some(_), None) => false,
        };
        if !fresh {
            return false;
        }
        if previous.is_none() {
            self.make_room(expires_before);
            self.by_age.insert((nonce.issued, nonce.id));
        }
        self.counts
            .insert(nonce.id, (nonce.issued, count.unwrap_or(u32::MAX)));
        true
    }

    fn make_room(&mut self, expires_before: u64) {
        while let Some(&(issued, id)) = self.by_age.first() {
            let expired = issued < expires_before;
            if !expired && self.counts.len() < self.capacity {
                break;
            }
            if !expired {
                self.evicted_up_to = Some(self.evicted_up_to.map_or(issued, |f| f.max(issued)));
            }
            self.by_age.pop_first();
            self.counts.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
    const MALLORY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    const BOTH: &[Algorithm] = &[Algorithm::Sha256, Algorithm::Md5];

    fn auth() -> Authenticator {
        Authenticator::new("switchboard", "s3cret", 300)
    }

    fn nonce_of(challenge: &str) -> String {
        let start = challenge.find("nonce=\"").unwrap() + 7;
        let len = challenge[start..].find('"').unwrap();
        challenge[start..start + len].to_owned()
    }

    /// What a client answers to `nonce` with `alg`; `nc: None` answers without qop.
    fn answer(nonce: &str, alg: Algorithm, password: &str, nc: Option<u32>) -> DigestResponse {
        let ha1 = alg.hash(&format!("1000:switchboard:{password}"));
        let ha2 = alg.hash("REGISTER:sip:switchboard");
        let (response, qop) = match nc {
            Some(nc) => (
                alg.hash(&format!("{ha1}:{nonce}:{nc:08x}:abc:auth:{ha2}")),
                format!(", qop=auth, nc={nc:08x}, cnonce=\"abc\""),
            ),
            None => (alg.hash(&format!("{ha1}:{nonce}:{ha2}")), String::new()),
        };
        let header = format!(
            "Digest username=\"1000\", realm=\"switchboard\", nonce=\"{nonce}\", \
             uri=\"sip:switchboard\", response=\"{response}\", algorithm={}{qop}",
            alg.name()
        );
        DigestResponse::parse(&header).unwrap()
    }

    /// Verifies a REGISTER answer allowing both algorithms.
    fn check(auth: &mut Authenticator, a: &DigestResponse, source: IpAddr, now: u64) -> Verdict {
        auth.verify(a, "REGISTER", "pw", source, now, BOTH)
    }

    fn fresh_nonce(auth: &Authenticator, now: u64, source: IpAddr) -> String {
        nonce_of(&auth.challenges(now, source, BOTH, false)[0])
    }

    #[test]
    fn accepts_md5_and_sha256_with_the_right_password_only() {
        let mut auth = auth();
        for alg in [Algorithm::Md5, Algorithm::Sha256] {
            let nonce = fresh_nonce(&auth, 1000, ALICE);
            let ok = answer(&nonce, alg, "pw", Some(1));
            let bad = answer(&nonce, alg, "bad", Some(1));
            assert_eq!(check(&mut auth, &bad, ALICE, 1010), Verdict::Forged);
            let invite = auth.verify(&ok, "INVITE", "pw", ALICE, 1010, BOTH);
            assert_eq!(invite, Verdict::Forged);
            assert_eq!(check(&mut auth, &ok, ALICE, 1010), Verdict::Ok);
        }
    }

    #[test]
    fn the_same_nonce_and_count_is_never_accepted_twice() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        let first = answer(&nonce, Algorithm::Md5, "pw", Some(1));
        assert_eq!(check(&mut auth, &first, ALICE, 1001), Verdict::Ok);
        assert_eq!(check(&mut auth, &first, ALICE, 1002), Verdict::Stale);
    }

    #[test]
    fn increasing_counts_are_accepted_and_lower_ones_refused() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        for nc in [1, 2, 5] {
            let a = answer(&nonce, Algorithm::Sha256, "pw", Some(nc));
            assert_eq!(check(&mut auth, &a, ALICE, 1001), Verdict::Ok);
        }
        for nc in [4, 5, 1] {
            let a = answer(&nonce, Algorithm::Sha256, "pw", Some(nc));
            assert_eq!(check(&mut auth, &a, ALICE, 1001), Verdict::Stale);
        }
        let a = answer(&nonce, Algorithm::Sha256, "pw", Some(6));
        assert_eq!(check(&mut auth, &a, ALICE, 1001), Verdict::Ok);
    }

    #[test]
    fn without_qop_a_nonce_is_good_once() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        let a = answer(&nonce, Algorithm::Md5, "pw", None);
        assert_eq!(check(&mut auth, &a, ALICE, 1001), Verdict::Ok);
        assert_eq!(check(&mut auth, &a, ALICE, 1001), Verdict::Stale);
        let counted = answer(&nonce, Algorithm::Md5, "pw", Some(9));
        assert_eq!(check(&mut auth, &counted, ALICE, 1001), Verdict::Stale);
    }

    #[test]
    fn a_nonce_is_bound_to_the_source_it_was_issued_to() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        let a = answer(&nonce, Algorithm::Md5, "pw", Some(1));
        assert_eq!(check(&mut auth, &a, MALLORY, 1001), Verdict::Stale);
        // The refusal did not consume it for its rightful owner.
        assert_eq!(check(&mut auth, &a, ALICE, 1001), Verdict::Ok);
        let mapped: IpAddr = "::ffff:192.0.2.10".parse().unwrap();
        let b = answer(&nonce, Algorithm::Md5, "pw", Some(2));
        assert_eq!(check(&mut auth, &b, mapped, 1001), Verdict::Ok);
    }

    #[test]
    fn expired_foreign_and_malformed_nonces_are_stale() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        let a = answer(&nonce, Algorithm::Md5, "pw", Some(1));
        assert_eq!(check(&mut auth, &a, ALICE, 1301), Verdict::Stale);
        let mut other = Authenticator::new("switchboard", "other", 300);
        assert_eq!(check(&mut other, &a, ALICE, 1000), Verdict::Stale);
        let junk = answer("00000000000003e8zz", Algorithm::Md5, "pw", Some(1));
        assert_eq!(check(&mut auth, &junk, ALICE, 1000), Verdict::Stale);
        // Ages use the latest time seen; a nonce stamped ahead of it (clock stepped back) is new.
        let fresh = fresh_nonce(&auth, 1400, ALICE);
        let b = answer(&fresh, Algorithm::Md5, "pw", Some(1));
        assert_eq!(check(&mut auth, &b, ALICE, 1000), Verdict::Ok);
    }

    #[test]
    fn every_challenge_has_its_own_nonce() {
        let auth = auth();
        let nonces: std::collections::HashSet<_> =
            (0..100).map(|_| fresh_nonce(&auth, 5, ALICE)).collect();
        assert_eq!(nonces.len(), 100);
    }

    #[test]
    fn a_forged_answer_does_not_consume_the_nonce() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        let forged = answer(&nonce, Algorithm::Md5, "guess", Some(1));
        assert_eq!(check(&mut auth, &forged, ALICE, 1001), Verdict::Forged);
        let real = answer(&nonce, Algorithm::Md5, "pw", Some(1));
        assert_eq!(check(&mut auth, &real, ALICE, 1001), Verdict::Ok);
    }

    #[test]
    fn algorithms_outside_the_allowed_list_are_refused() {
        let mut auth = auth();
        let nonce = fresh_nonce(&auth, 1000, ALICE);
        let md5_only = [Algorithm::Md5];
        let sha_only = [Algorithm::Sha256];
        let mut verify = |a: &DigestResponse, allowed: &[Algorithm]| {
            auth.verify(a, "REGISTER", "pw", ALICE, 1001, allowed)
        };
        let sha = answer(&nonce, Algorithm::Sha256, "pw", Some(1));
        assert_eq!(verify(&sha, &md5_only), Verdict::Forged);
        let md5 = answer(&nonce, Algorithm::Md5, "pw", Some(1));
        assert_eq!(verify(&md5, &sha_only), Verdict::Forged);
        let mut unnamed = md5.clone();
        unnamed.algorithm = None;
        assert_eq!(verify(&unnamed, &sha_only), Verdict::Forged);
        assert_eq!(verify(&sha, &sha_only), Verdict::Ok);
        let mut sess = answer(&nonce, Algorithm::Md5, "pw", Some(2));
        sess.algorithm = Some("MD5-sess".into());
        assert_eq!(verify(&sess, &md5_only), Verdict::Forged);
    }

    #[test]
    fn challenges_follow_the_given_algorithm_order() {
        let auth = auth();
        let c = auth.challenges(5, ALICE, BOTH, true);
        assert_eq!(c.len(), 2);
        assert!(c[0].contains("algorithm=SHA-256") && c[0].contains("stale=true"));
        assert!(c[1].contains("algorithm=MD5") && c[1].contains("qop=\"auth\""));
        assert_eq!(nonce_of(&c[0]), nonce_of(&c[1]));
        let c = auth.challenges(5, ALICE, &[], false);
        assert_eq!(c.len(), 1);
        assert!(c[0].contains("algorithm=MD5") && !c[0].contains("stale"));
        assert_eq!(Algorithm::parse("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::parse("SHA-512-256"), None);
    }

    fn used(id: u128, issued: u64) -> Nonce {
        Nonce { issued, id }
    }

    #[test]
    fn the_used_nonce_table_stays_bounded() {
        let mut table = UsedNonces::new(MAX_TRACKED_NONCES);
        for id in 0..100_000u128 {
            // Ten thousand per second; nothing expires.
            let issued = 1000 + (id / 10_000) as u64;
            assert!(table.accept(&used(id, issued), Some(1), 0));
            assert!(table.counts.len() <= MAX_TRACKED_NONCES);
            assert_eq!(table.by_age.len(), table.counts.len());
        }
        assert_eq!(table.counts.len(), MAX_TRACKED_NONCES);
        // The newest are still tracked, and the evicted ones are refused, not re-accepted.
        assert!(!table.accept(&used(99_999, 1009), Some(1), 0));
        assert!(table.accept(&used(99_999, 1009), Some(2), 0));
        assert!(!table.accept(&used(0, 1000), Some(1), 0));
    }

    #[test]
    fn expired_entries_are_evicted_before_live_ones() {
        let mut table = UsedNonces::new(3);
        assert!(table.accept(&used(1, 100), Some(1), 0));
        assert!(table.accept(&used(2, 200), Some(1), 0));
        assert!(table.accept(&used(3, 300), Some(1), 0));
        // Nonces issued before 150 are expired now: only nonce 1 goes.
        assert!(table.accept(&used(4, 400), Some(1), 150));
        assert_eq!(table.evicted_up_to, None);
        assert!(table.counts.contains_key(&2));
        // No expired entry left: the oldest live one goes, and stays refused.
        assert!(table.accept(&used(5, 500), Some(1), 150));
        assert_eq!(table.evicted_up_to, Some(200));
        assert!(!table.counts.contains_key(&2));
        assert!(!table.accept(&used(2, 200), Some(7), 150));
        assert!(table.accept(&used(3, 300), Some(2), 150));
    }

    #[test]
    fn parses_quoted_values_and_rejects_other_schemes() {
        let parsed = DigestResponse::parse(
            r#"Digest username="a\"b", realm="r", nonce="n", uri="sip:x", response="f00""#,
        )
        .unwrap();
        assert_eq!(parsed.username, "a\"b");
        assert_eq!(parsed.qop, None);
        assert!(DigestResponse::parse("Basic abc").is_none());
        assert!(DigestResponse::parse("Digest").is_none());
        assert!(DigestResponse::parse("").is_none());
    }
}
