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

pub struct Vector {
    pub name: String,
    /// From §3.1.1, the valid messages.
    pub valid: bool,
    pub expect: Expect,
    pub bytes: Vec<u8>,
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
