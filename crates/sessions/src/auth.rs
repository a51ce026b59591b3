//! Bearer tokens: the configured static ones, and those `POST /api/login/oauth/token`
//! issues to API users (OAuth 2 password and refresh-token grants), which expire.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use switchboard_core::config::User;

use crate::error::ApiError;

/// How long an issued access token lasts (PortSIP's `expires_in`).
pub const ACCESS_LIFETIME: Duration = Duration::from_secs(1800);
/// How long a refresh token lasts.
const REFRESH_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Issued tokens kept at once; the oldest go first beyond it.
const MAX_ISSUED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Default)]
struct Issued {
    access: HashMap<String, (String, Instant)>,
    refresh: HashMap<String, (String, Instant)>,
}

impl Issued {
    fn prune(&mut self, now: Instant) {
        self.access.retain(|_, (_, until)| *until > now);
        self.refresh.retain(|_, (_, until)| *until > now);
        for map in [&mut self.access, &mut self.refresh] {
            while map.len() >= MAX_ISSUED {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(token, _)| token.clone());
                match oldest {
                    Some(token) => map.remove(&token),
                    None => break,
                };
            }
        }
    }
}

#[derive(Debug)]
pub struct Tokens {
    fixed: Vec<String>,
    users: Vec<User>,
    issued: Mutex<Issued>,
}

fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Compares without stopping at the first difference, so timing tells nothing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Tokens {
    pub fn new(fixed: Vec<String>, users: Vec<User>) -> Self {
        Self {
            fixed,
            users,
            issued: Mutex::default(),
        }
    }

    fn issued(&self) -> std::sync::MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, header: Option<&str>) -> Result<(), ApiError> {
        let token = header
            .and_then(|h| {
                let (scheme, token) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        if self.fixed.iter().any(|f| same(f, token)) {
            return Ok(());
        }
        let now = Instant::now();
        match self.issued().access.get(token) {
            Some((_, until)) if *until > now => Ok(()),
            Some(_) => Err(ApiError::unauthorized("the token has expired")),
            None => Err(ApiError::unauthorized("the token is not valid")),
        }
    }

    fn grant(&self, user: &str) -> Grant {
        let now = Instant::now();
        let grant = Grant {
            access_token: new_token(),
            refresh_token: new_token(),
            expires_in: ACCESS_LIFETIME.as_secs(),
        };
        let mut issued = self.issued();
        issued.prune(now);
        issued.access.insert(
            grant.access_token.clone(),
            (user.to_owned(), now + ACCESS_LIFETIME),
        );
        issued.refresh.insert(
            grant.refresh_token.clone(),
            (user.to_owned(), now + REFRESH_LIFETIME),
        );
        grant
    }

    /// The password grant; a failure is logged with the client's address.
    pub fn login(&self, user: &str, password: &str, from: SocketAddr) -> Result<Grant, ApiError> {
        let known = self
            .users
            .iter()
            .any(|u| same(&u.name, user) && same(&u.password, password));
        if !known {
            tracing::warn!(remote = %from, user = ?user, "Sessions API login failed");
            return Err(ApiError::unauthorized("wrong username or password"));
        }
        Ok(self.grant(user))
    }

    /// The refresh grant: a refresh token is used once.
    pub fn refresh(&self, token: &str, from: SocketAddr) -> Result<Grant, ApiError> {
        let user = {
            let mut issued = self.issued();
            match issued.refresh.remove(token) {
                Some((user, until)) if until > Instant::now() => user,
                _ => {
                    tracing::warn!(remote = %from, "Sessions API refresh with an unknown token");
                    return Err(ApiError::unauthorized("the refresh token is not valid"));
                }
            }
        };
        Ok(self.grant(&user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(
            vec!["static-token".into()],
            vec![User {
                name: "api".into(),
                password: "secret".into(),
            }],
        )
    }

    #[test]
    fn static_issued_and_refreshed_tokens() {
        let tokens = tokens();
        let from: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        assert!(tokens.check(Some("Bearer static-token")).is_ok());
        assert!(tokens.check(Some("bearer static-token")).is_ok());
        assert_eq!(tokens.check(None).unwrap_err().code, "UNAUTHORIZED");
        assert!(tokens.check(Some("Bearer nope")).is_err());
        assert!(tokens.check(Some("Basic static-token")).is_err());
        assert!(tokens.login("api", "wrong", from).is_err());
        let grant = tokens.login("api", "secret", from).expect("login");
        assert_eq!(grant.expires_in, 1800);
        assert!(tokens
            .check(Some(&format!("Bearer {}", grant.access_token)))
            .is_ok());
        let renewed = tokens.refresh(&grant.refresh_token, from).expect("refresh");
        assert!(tokens
            .check(Some(&format!("Bearer {}", renewed.access_token)))
            .is_ok());
        // A refresh token works once.
        assert!(tokens.refresh(&grant.refresh_token, from).is_err());
    }
}
