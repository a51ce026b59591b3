//! The RFC 4475 vector files: a `# expect: <outcome> (RFC 4475 section …)` line, then the
//! message's exact bytes. Read by this crate's torture test and, through `#[path]`, by the
//! end-to-end one, which sends them to a running server.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Code(u16),
    /// A valid request: any answer but 400 (a registrar's 401, a 407, 200, 404, …).
    Accept,
    /// A response matching nothing: no answer.
    Drop,
}

impl Expect {
    /// Whether the final answer `status` (`None`: none came) is what this allows.
    pub fn allows(self, status: Option<u16>) -> bool {
        match (self, status) {
            (Self::Drop, None) => true,
            (Self::Code(code), Some(status)) => status == code,
            (Self::Accept, Some(status)) => status != 400 && (status < 500 || status == 501),
            _ => false,
        }
    }
}

pub struct Vector {
    pub name: String,
    /// From §3.1.1, the valid messages.
    pub valid: bool,
    pub expect: Expect,
    pub bytes: Vec<u8>,
}

impl Vector {
    /// The message with its Via branches made its own, marked with `tag`. The RFC's
    /// messages share branches (`z9hG4bKkdjuw` with the same sent-by in cparam01/cparam02
    /// and escnull/regescrt), and a copy sent over another transport repeats the first
    /// one's: a server rightly takes such a request for a retransmission and answers the
    /// first sender. The mark goes after the magic cookie, so RFC 3261 branches stay so and
    /// RFC 2543 ones (`390skdjuw`) stay legacy; a request without any branch (longreq) is
    /// matched by RFC 2543's fields, so its Call-ID is marked too. `badbranch` is about its
    /// branch: kept.
    pub fn with_own_branches(&self, tag: &str) -> Vec<u8> {
        const BRANCH: &[u8] = b"branch=";
        const COOKIE: &[u8] = b"z9hG4bK";
        if self.name == "badbranch" {
            return self.bytes.clone();
        }
        let mark = format!("{}{tag}", self.name);
        let mut out = Vec::with_capacity(self.bytes.len() + 64);
        let mut rest = self.bytes.as_slice();
        while let Some(at) = rest.windows(BRANCH.len()).position(|w| w == BRANCH) {
            let mut keep = at + BRANCH.len();
            if rest[keep..].starts_with(COOKIE) {
                keep += COOKIE.len();
            }
            out.extend_from_slice(&rest[..keep]);
            out.extend_from_slice(mark.as_bytes());
            rest = &rest[keep..];
        }
        out.extend_from_slice(rest);
        mark_call_id(out, &mark)
    }
}

/// `mark` put in front of the first `Call-ID` header's value.
fn mark_call_id(message: Vec<u8>, mark: &str) -> Vec<u8> {
    let lower = message.to_ascii_lowercase();
    let Some(name) = lower.windows(9).position(|w| w == b"\r\ncall-id") else {
        return message;
    };
    let Some(colon) = lower[name..].iter().position(|&b| b == b':') else {
        return message;
    };
    let at = name + colon + 1;
    let mut out = message[..at].to_vec();
    out.extend_from_slice(format!(" {mark}").as_bytes());
    out.extend_from_slice(message[at..].trim_ascii_start());
    out
}

/// Every vector under `root` (its `valid/`, `invalid/` and `semantic/` folders), by path.
pub fn all(root: &Path) -> Vec<Vector> {
    let mut files: Vec<PathBuf> = ["valid", "invalid", "semantic"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("vector directory"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .collect();
    files.sort();
    files.iter().map(|p| read(p)).collect()
}

fn read(path: &Path) -> Vector {
    let raw = std::fs::read(path).expect("vector file");
    let newline = raw.iter().position(|&b| b == b'\n').expect("header line");
    let header = String::from_utf8_lossy(&raw[..newline]).into_owned();
    let outcome = header
        .strip_prefix("# expect: ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{}: bad header {header:?}", path.display()));
    let expect = match outcome {
        "accept" => Expect::Accept,
        "drop" => Expect::Drop,
        code => Expect::Code(code.parse().expect("status code")),
    };
    Vector {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        valid: path.parent().is_some_and(|d| d.ends_with("valid")),
        expect,
        bytes: raw[newline + 1..].to_vec(),
    }
}
