//! The recording files the server writes under `<data_dir>/recordings`:
//! waiting for them and reading them back (their index in the database is
//! read by [`super::cdr`]).

use std::fs;
use std::path::Path;
use std::time::Duration;

use switchboard_media::wav::{read_wav, Pcm};

use super::poll;

/// Sample rate of a recording of a PCMU channel.
pub const PCMU_RATE: u32 = 8000;

/// Waits (up to 5 s: a recording appears under its final name once it is
/// finished) for the file at `path`.
pub fn wait_for_file(path: &Path) {
    let timeout = Duration::from_secs(5);
    if poll(timeout, || path.exists().then_some(())).is_none() {
        let dir = path.parent().unwrap_or(path);
        panic!(
            "no recording {} within {timeout:?}; {} holds: {}",
            path.display(),
            dir.display(),
            listing(dir)
        );
    }
}

/// Reads the WAV file at `path`, which must be what the server records:
/// 16-bit mono PCM at `sample_rate`. Panics (with the reason) if it is not
/// a valid WAV file.
pub fn read(path: &Path, sample_rate: u32) -> Pcm {
    let spec = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{} is not a valid WAV file: {e}", path.display()))
        .spec();
    assert_eq!(
        (spec.channels, spec.bits_per_sample, spec.sample_format),
        (1, 16, hound::SampleFormat::Int),
        "{} should be 16-bit mono PCM: {spec:?}",
        path.display()
    );
    assert_eq!(
        spec.sample_rate,
        sample_rate,
        "sample rate of {}",
        path.display()
    );
    read_wav(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// How long `pcm` lasts.
pub fn duration(pcm: &Pcm) -> Duration {
    Duration::from_secs_f64(pcm.samples.len() as f64 / f64::from(pcm.sample_rate.max(1)))
}

/// `name (size bytes)` of every file in `dir`, for failure messages.
pub fn listing(dir: &Path) -> String {
    let Ok(entries) = fs::read_dir(dir) else {
        return format!("nothing (cannot list {})", dir.display());
    };
    let mut files: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let size = e.metadata().map_or(0, |m| m.len());
            format!("{} ({size} bytes)", e.file_name().to_string_lossy())
        })
        .collect();
    files.sort();
    if files.is_empty() {
        "no file".to_string()
    } else {
        files.join(", ")
    }
}
