//! Server side of HTTP digest authentication for SIP (RFC 3261 §22, RFC 8760 for SHA-256).
//!
//! Nonces are stateless: a timestamp sealed with a per-process secret, so a restart or a
//! flood of unauthenticated requests costs no memory. A nonce older than [`NONCE_LIFETIME_SECS`]
//! is answered with `stale=true` and the client retries without asking its user again.

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::fmt::Write as _;

pub const NONCE_LIFETIME_SECS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "SHA-256" => Some(Self::Sha256),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
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
    /// Right password, old nonce: challenge again with `stale=true`.
    Stale,
    Forged,
}

/// Issues and checks challenges for one realm.
#[derive(Debug, Clone)]
pub struct Authenticator {
    realm: String,
    secret: String,
}

impl Authenticator {
    pub fn new(realm: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            realm: realm.into(),
            secret: secret.into(),
        }
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn seal(&self, issued: u64) -> String {
        Algorithm::Md5.hash(&format!("{issued:x}:{}", self.secret))
    }

    pub fn nonce(&self, now_secs: u64) -> String {
        format!("{now_secs:x}{}", self.seal(now_secs))
    }

    /// Challenge header values, MD5 first: many deployed clients (SIPp among them) answer
    /// only the first challenge, and RFC 8760 clients pick SHA-256 from the list.
    pub fn challenges(&self, now_secs: u64, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now_secs);
        let stale = if stale { ", stale=true" } else { "" };
        [Algorithm::Md5, Algorithm::Sha256]
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

    /// Checks an answer for `method` against the user's password.
    pub fn verify(
        &self,
        answer: &DigestResponse,
        method: &str,
        password: &str,
        now_secs: u64,
    ) -> Verdict {
        let algorithm = match answer.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(name) => match Algorithm::parse(name) {
                Some(alg) => alg,
                None => return Verdict::Forged,
            },
        };
        let ha1 = algorithm.hash(&format!("{}:{}:{password}", answer.username, answer.realm));
        let ha2 = algorithm.hash(&format!("{method}:{}", answer.uri));
        let expected = match (&answer.qop, &answer.nc, &answer.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) => {
                algorithm.hash(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", answer.nonce))
            }
            (None, _, _) => algorithm.hash(&format!("{ha1}:{}:{ha2}", answer.nonce)),
            _ => return Verdict::Forged,
        };
        if answer.realm != self.realm || !expected.eq_ignore_ascii_case(&answer.response) {
            return Verdict::Forged;
        }
        match self.nonce_age(&answer.nonce, now_secs) {
            Some(age) if age <= NONCE_LIFETIME_SECS => Verdict::Ok,
            Some(_) => Verdict::Stale,
            None => Verdict::Forged,
        }
    }

    fn nonce_age(&self, nonce: &str, now_secs: u64) -> Option<u64> {
        let split = nonce.len().checked_sub(32)?;
        let (stamp, seal) = (nonce.get(..split)?, nonce.get(split..)?);
        let issued = u64::from_str_radix(stamp, 16).ok()?;
        (self.seal(issued) == seal).then(|| now_secs.saturating_sub(issued))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_answer(auth: &Authenticator, alg: &str, password: &str, now: u64) -> DigestResponse {
        let nonce = auth.nonce(now);
        let algorithm = Algorithm::parse(alg).unwrap();
        let ha1 = algorithm.hash(&format!("1000:switchboard:{password}"));
        let ha2 = algorithm.hash("REGISTER:sip:switchboard");
        let response = algorithm.hash(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
        let header = format!(
            "Digest username=\"1000\", realm=\"switchboard\", nonce=\"{nonce}\", uri=\"sip:switchboard\", \
             response=\"{response}\", algorithm={alg}, qop=auth, nc=00000001, cnonce=\"abc\""
        );
        DigestResponse::parse(&header).unwrap()
    }

    #[test]
    fn accepts_md5_and_sha256_with_the_right_password() {
        let auth = Authenticator::new("switchboard", "s3cret");
        for alg in ["MD5", "SHA-256"] {
            let answer = client_answer(&auth, alg, "pw", 1000);
            assert_eq!(auth.verify(&answer, "REGISTER", "pw", 1010), Verdict::Ok);
            assert_eq!(
                auth.verify(&answer, "REGISTER", "bad", 1010),
                Verdict::Forged
            );
            assert_eq!(auth.verify(&answer, "INVITE", "pw", 1010), Verdict::Forged);
        }
    }

    #[test]
    fn old_nonce_is_stale_and_foreign_nonce_forged() {
        let auth = Authenticator::new("switchboard", "s3cret");
        let answer = client_answer(&auth, "MD5", "pw", 1000);
        assert_eq!(
            auth.verify(&answer, "REGISTER", "pw", 1000 + 301),
            Verdict::Stale
        );
        let other = Authenticator::new("switchboard", "other");
        assert_eq!(
            other.verify(&answer, "REGISTER", "pw", 1000),
            Verdict::Forged
        );
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

    #[test]
    fn challenges_offer_md5_then_sha256() {
        let auth = Authenticator::new("switchboard", "s");
        let c = auth.challenges(5, true);
        assert!(c[0].contains("algorithm=MD5") && c[0].contains("stale=true"));
        assert!(c[1].contains("algorithm=SHA-256"));
    }
}
