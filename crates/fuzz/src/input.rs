//! One fuzz input: bytes that print as a Rust byte string.

use std::fmt;

/// Bytes fed to a parser. `Debug` prints a `b"..."` literal, so a reported failure can be
/// pasted into a regression test as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Input(pub Vec<u8>);

impl Input {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The input as text, invalid UTF-8 replaced (for parsers that take `&str`).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &b in &self.0 {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str("\"")
    }
}
