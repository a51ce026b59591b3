//! Commands on their arguments alone: echo, create_uuid, md5, url_encode, url_decode.

use md5::{Digest, Md5};
use switchboard_core::Switch;

use crate::Reply;

/// FreeSWITCH's `SWITCH_URL_UNSAFE`: percent-encoded besides controls and non-ASCII.
const URL_UNSAFE: &[u8] = b"\r\n #%&+:;<=>?@[\\]^`{|}\"";

pub(crate) fn echo(_: &Switch, args: &str) -> Reply {
    Reply::ok(args)
}

pub(crate) fn create_uuid(_: &Switch, _: &str) -> Reply {
    Reply::ok(uuid::Uuid::new_v4().to_string())
}

pub(crate) fn md5(_: &Switch, args: &str) -> Reply {
    if args.is_empty() {
        return Reply::err("!err!");
    }
    let digest = Md5::digest(args.as_bytes());
    Reply::ok(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
}

pub(crate) fn url_encode(_: &Switch, args: &str) -> Reply {
    Reply::ok(encode(args))
}

pub(crate) fn url_decode(_: &Switch, args: &str) -> Reply {
    Reply::ok(decode(args))
}

/// `switch_url_encode`: unsafe bytes as `%XX`, but an existing `%XX` kept (no double
/// encoding).
pub(crate) fn encode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = b == b'%'
            && bytes.get(i + 1).is_some_and(is_upper_hex)
            && bytes.get(i + 2).is_some_and(is_upper_hex);
        if !escaped && (!(b' '..=b'~').contains(&b) || URL_UNSAFE.contains(&b)) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn is_upper_hex(b: &u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'F').contains(b)
}

/// `switch_url_decode`: `%XX` to its byte (`+` stays `+`).
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_round_trip() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd/%C3%A9");
        assert_eq!(encode("100%25"), "100%25");
        assert_eq!(decode("a%20b%26c%3Dd/%C3%A9+x"), "a b&c=d/é+x");
        assert_eq!(decode("50%"), "50%");
    }
}
