//! Error type for the fallible (file-backed or parsed) parts of the media crate.

use std::path::PathBuf;

/// Errors from reading or writing media files and parsing media specifications.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file could not be opened, read or written.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a well-formed WAV file.
    #[error("invalid wav file: {0}")]
    Wav(String),
    /// The file is a valid WAV file in a format this crate does not handle.
    #[error("unsupported wav format: {0}")]
    Unsupported(String),
    /// The media engine could not do what was asked (no free port, thread start).
    #[error("media engine: {0}")]
    Engine(String),
    /// A tone list or tone stream specification could not be parsed.
    #[error("invalid tone specification: {0}")]
    ToneSyntax(String),
    /// A file that must not exist does: a recording's final file (with
    /// `IfExists::Fail`) or its temporary file (a recording in progress, or
    /// left by a crash and not yet recovered).
    #[error("file already exists: {}", .0.display())]
    Exists(PathBuf),
}
