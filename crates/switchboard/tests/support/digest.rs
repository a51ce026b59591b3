//! The client side of SIP digest authentication (MD5, and SHA-256 of RFC 8760,
//! which SIPp cannot do), with the nonce count in the test's hands so that
//! replays can be tried.

use md5::Md5;
use sha2::{Digest as _, Sha256};

/// A `WWW-Authenticate` / `Proxy-Authenticate` digest challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    /// `None` when absent (MD5, RFC 2617).
    pub algorithm: Option<String>,
    pub qop: Option<String>,
    pub opaque: Option<String>,
}

impl Challenge {
    /// Parses `Digest realm="..", nonce="..", ...`; `None` for another
    /// scheme or without realm and nonce.
    pub fn parse(value: &str) -> Option<Challenge> {
        let rest = value.trim().strip_prefix("Digest ")?;
        let params = params(rest);
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Some(Challenge {
            realm: get("realm")?,
            nonce: get("nonce")?,
            algorithm: get("algorithm"),
            qop: get("qop"),
            opaque: get("opaque"),
        })
    }

    /// Whether the challenge offers `qop=auth` (among others).
    pub fn offers_qop_auth(&self) -> bool {
        self.qop
            .as_deref()
            .is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"))
    }

    /// The `Authorization` value answering this challenge with SHA-256 and
    /// `qop=auth` (nonce count 1) for `method` on `uri`.
    pub fn answer_sha256(
        &self,
        method: &str,
        uri: &str,
        user: &str,
        password: &str,
        cnonce: &str,
    ) -> String {
        self.answer("SHA-256", 1, method, uri, (user, password), cnonce)
    }

    /// The `Authorization` value answering this challenge with `algorithm`
    /// (`MD5` or `SHA-256`), `qop=auth` and nonce count `nc`:
    /// `response = H(H(user:realm:password):nonce:nc:cnonce:auth:H(method:uri))`.
    pub fn answer(
        &self,
        algorithm: &str,
        nc: u32,
        method: &str,
        uri: &str,
        (user, password): (&str, &str),
        cnonce: &str,
    ) -> String {
        let hash = |input: String| match algorithm {
            "MD5" => hex(&Md5::digest(input.as_bytes())),
            _ => hex(&Sha256::digest(input.as_bytes())),
        };
        let nc = format!("{nc:08x}");
        let ha1 = hash(format!("{user}:{}:{password}", self.realm));
        let ha2 = hash(format!("{method}:{uri}"));
        let response = hash(format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce));
        let opaque = self
            .opaque
            .as_ref()
            .map(|o| format!(", opaque=\"{o}\""))
            .unwrap_or_default();
        format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={algorithm}, qop=auth, nc={nc}, \
             cnonce=\"{cnonce}\"{opaque}",
            self.realm, self.nonce
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits `a=b, c="d, e"` into (name, unquoted value) pairs.
fn params(input: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let Some((name, after)) = rest.split_once('=') else {
            return out;
        };
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.split_once('"') {
                Some((value, next)) => (value, next),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.push((name.trim().to_string(), value.trim().to_string()));
        rest = next;
    }
}
