//! Headerless telephony audio files as Asterisk stores them: `.ulaw` and
//! `.alaw` (G.711 bytes at 8 kHz), `.sln` (8 kHz) and `.sln16` (16 kHz)
//! signed 16-bit little-endian PCM. Reading, and crash-safe writing with
//! the same temporary-file-then-rename scheme as [`crate::wav_writer`]
//! (a raw file has no header, so there is nothing to keep in sync but the
//! data itself).

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::codec::g711;
use crate::part_file::PartFile;
use crate::wav::Pcm;
use crate::wav_writer::IfExists;
use crate::MediaError;

/// A raw audio format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawFormat {
    /// G.711 µ-law, 8 kHz.
    Ulaw,
    /// G.711 A-law, 8 kHz.
    Alaw,
    /// Signed 16-bit little-endian PCM, 8 kHz.
    Sln,
    /// Signed 16-bit little-endian PCM, 16 kHz.
    Sln16,
}

impl RawFormat {
    /// The format of a file extension (without the dot), case-insensitive,
    /// accepting Asterisk's names: `ulaw`/`ul`/`mu`/`ulw`/`pcm`,
    /// `alaw`/`al`/`alw`, `sln`/`raw`, `sln16`.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "ulaw" | "ul" | "mu" | "ulw" | "pcm" => Some(RawFormat::Ulaw),
            "alaw" | "al" | "alw" => Some(RawFormat::Alaw),
            "sln" | "raw" => Some(RawFormat::Sln),
            "sln16" => Some(RawFormat::Sln16),
            _ => None,
        }
    }

    /// The usual extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            RawFormat::Ulaw => "ulaw",
            RawFormat::Alaw => "alaw",
            RawFormat::Sln => "sln",
            RawFormat::Sln16 => "sln16",
        }
    }

    pub fn sample_rate(self) -> u32 {
        match self {
            RawFormat::Sln16 => 16000,
            RawFormat::Ulaw | RawFormat::Alaw | RawFormat::Sln => 8000,
        }
    }

    fn bytes_per_sample(self) -> u64 {
        match self {
            RawFormat::Ulaw | RawFormat::Alaw => 1,
            RawFormat::Sln | RawFormat::Sln16 => 2,
        }
    }

    fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            RawFormat::Ulaw => out.extend(pcm.iter().map(|&s| g711::linear_to_ulaw(s))),
            RawFormat::Alaw => out.extend(pcm.iter().map(|&s| g711::linear_to_alaw(s))),
            RawFormat::Sln | RawFormat::Sln16 => {
                out.extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
            }
        }
    }

    /// Decodes `bytes`; a trailing partial sample is ignored.
    fn decode(self, bytes: &[u8]) -> Vec<i16> {
        match self {
            RawFormat::Ulaw => bytes.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
            RawFormat::Alaw => bytes.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
            RawFormat::Sln | RawFormat::Sln16 => bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect(),
        }
    }
}

/// Reads a whole raw file (a trailing partial sample is ignored).
pub fn read_raw(path: &Path, format: RawFormat) -> Result<Pcm, MediaError> {
    let bytes = fs::read(path)?;
    Ok(Pcm {
        samples: format.decode(&bytes),
        sample_rate: format.sample_rate(),
    })
}

/// Writes a raw recording crash-safely: to a temporary file renamed into
/// place by [`RawWriter::finish`], like [`crate::wav_writer::WavWriter`].
#[derive(Debug)]
pub struct RawWriter {
    part: PartFile,
    format: RawFormat,
    /// File size at the last sync.
    synced_bytes: u64,
    scratch: Vec<u8>,
}

impl RawWriter {
    /// Starts a recording of `final_path` in `format`; `if_exists` as for
    /// [`crate::wav_writer::WavWriter::create`] (an appended file is cut to
    /// whole samples first).
    pub fn create(
        final_path: &Path,
        format: RawFormat,
        if_exists: IfExists,
    ) -> Result<Self, MediaError> {
        let (mut part, appended) = PartFile::create(final_path, if_exists)?;
        if appended {
            let whole = part.size() - part.size() % format.bytes_per_sample();
            if let Err(e) = part.truncate(whole) {
                let _ = part.discard();
                return Err(e.into());
            }
        }
        Ok(RawWriter {
            synced_bytes: part.size(),
            part,
            format,
            scratch: Vec::new(),
        })
    }

    /// Appends samples (at the format's rate), syncing by itself once a
    /// second of audio has been written since the last sync.
    pub fn write(&mut self, pcm: &[i16]) -> Result<(), MediaError> {
        self.scratch.clear();
        self.format.encode(pcm, &mut self.scratch);
        self.part.append(&self.scratch)?;
        let second = u64::from(self.format.sample_rate()) * self.format.bytes_per_sample();
        if self.part.size() - self.synced_bytes >= second {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes the data written so far to disk.
    pub fn sync(&mut self) -> Result<(), MediaError> {
        self.part.sync_data()?;
        self.synced_bytes = self.part.size();
        Ok(())
    }

    /// Duration of the audio written so far (including any appended to).
    pub fn duration_ms(&self) -> u64 {
        self.part.size() / self.format.bytes_per_sample() * 1000
            / u64::from(self.format.sample_rate())
    }

    /// The temporary file being written.
    pub fn temp_path(&self) -> &Path {
        self.part.temp_path()
    }

    /// Flushes everything to disk and renames the temporary file to the
    /// final path, which is returned.
    pub fn finish(self) -> Result<PathBuf, MediaError> {
        self.part.finish()
    }

    /// Abandons the recording: deletes the temporary file.
    pub fn discard(self) -> Result<(), MediaError> {
        self.part.discard()
    }
}

/// Cuts a temporary raw file left by a crash to whole samples.
pub(crate) fn repair(temp: &Path, format: RawFormat) -> Result<(), MediaError> {
    let file = OpenOptions::new().write(true).open(temp)?;
    let len = file.metadata()?.len();
    file.set_len(len - len % format.bytes_per_sample())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part_file::TempDir;

    const ALL: [RawFormat; 4] = [
        RawFormat::Ulaw,
        RawFormat::Alaw,
        RawFormat::Sln,
        RawFormat::Sln16,
    ];

    #[test]
    fn extensions() {
        for f in ALL {
            assert_eq!(RawFormat::from_extension(f.extension()), Some(f));
            assert_eq!(
                RawFormat::from_extension(&f.extension().to_uppercase()),
                Some(f)
            );
        }
        assert_eq!(RawFormat::from_extension("ul"), Some(RawFormat::Ulaw));
        assert_eq!(RawFormat::from_extension("alw"), Some(RawFormat::Alaw));
        assert_eq!(RawFormat::from_extension("raw"), Some(RawFormat::Sln));
        assert_eq!(RawFormat::from_extension("wav"), None);
        assert_eq!(RawFormat::from_extension(""), None);
        assert_eq!(RawFormat::Sln16.sample_rate(), 16000);
        assert_eq!(RawFormat::Ulaw.sample_rate(), 8000);
    }

    #[test]
    fn write_read_round_trip() {
        let dir = TempDir::new("raw-round-trip");
        let pcm: Vec<i16> = (0..20000)
            .map(|i| ((i * 37) % 20000 - 10000) as i16)
            .collect();
        for format in ALL {
            let path = dir.0.join(format!("x.{}", format.extension()));
            let mut w = RawWriter::create(&path, format, IfExists::Fail).unwrap();
            for frame in pcm.chunks(160) {
                w.write(frame).unwrap();
            }
            let rate = u64::from(format.sample_rate());
            assert_eq!(w.duration_ms(), 20000 * 1000 / rate);
            assert!(!path.exists());
            assert_eq!(w.finish().unwrap(), path);
            let back = read_raw(&path, format).unwrap();
            assert_eq!(back.sample_rate, format.sample_rate());
            let expected: Vec<i16> = match format {
                RawFormat::Ulaw => pcm
                    .iter()
                    .map(|&s| g711::ulaw_to_linear(g711::linear_to_ulaw(s)))
                    .collect(),
                RawFormat::Alaw => pcm
                    .iter()
                    .map(|&s| g711::alaw_to_linear(g711::linear_to_alaw(s)))
                    .collect(),
                RawFormat::Sln | RawFormat::Sln16 => pcm.clone(),
            };
            assert_eq!(back.samples, expected, "{format:?}");
        }
        assert!(matches!(
            read_raw(&dir.0.join("missing.sln"), RawFormat::Sln),
            Err(MediaError::Io(_))
        ));
    }

    #[test]
    fn append_fail_and_discard() {
        let dir = TempDir::new("raw-append");
        let path = dir.0.join("m.sln");
        // An existing file with a stray half sample at the end.
        fs::write(&path, [1, 0, 2, 0, 9]).unwrap();
        assert_eq!(read_raw(&path, RawFormat::Sln).unwrap().samples, [1, 2]);
        assert!(matches!(
            RawWriter::create(&path, RawFormat::Sln, IfExists::Fail),
            Err(MediaError::Exists(_))
        ));
        let mut w = RawWriter::create(&path, RawFormat::Sln, IfExists::Append).unwrap();
        w.write(&[3, 4]).unwrap();
        w.sync().unwrap();
        assert_eq!(fs::read(w.temp_path()).unwrap(), [1, 0, 2, 0, 3, 0, 4, 0]);
        w.finish().unwrap();
        assert_eq!(
            read_raw(&path, RawFormat::Sln).unwrap().samples,
            [1, 2, 3, 4]
        );

        let mut w = RawWriter::create(&path, RawFormat::Sln, IfExists::Overwrite).unwrap();
        w.write(&[7]).unwrap();
        let temp = w.temp_path().to_path_buf();
        w.discard().unwrap();
        assert!(!temp.exists());
        assert_eq!(
            read_raw(&path, RawFormat::Sln).unwrap().samples,
            [1, 2, 3, 4]
        );
    }
}
