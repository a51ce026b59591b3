//! Error type for the fallible (file-backed) parts of the media crate.

/// Errors from reading or writing media files.
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
}
