//! WAV file reading (for prompts/music on hold) and writing (for tests and
//! recordings), always yielding or taking mono 16-bit PCM.

use std::path::Path;

use crate::MediaError;

/// Mono 16-bit PCM with its sample rate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pcm {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
}

fn wav_error(e: hound::Error) -> MediaError {
    match e {
        hound::Error::IoError(io) => MediaError::Io(io),
        hound::Error::Unsupported => MediaError::Unsupported("unsupported wav encoding".into()),
        other => MediaError::Wav(other.to_string()),
    }
}

/// Reads a WAV file of 8/16/24/32-bit integer or 32-bit float samples,
/// averaging all channels down to mono and converting to 16 bits.
pub fn read_wav(path: &Path) -> Result<Pcm, MediaError> {
    let mut reader = hound::WavReader::open(path).map_err(wav_error)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 || spec.sample_rate == 0 {
        return Err(MediaError::Wav("zero channels or sample rate".into()));
    }
    // Every sample is first scaled to a 16-bit range held in an i32.
    let interleaved: Vec<i32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => reader
            .samples::<i32>()
            .map(|s| {
                s.map(|v| {
                    if bits <= 16 {
                        v << (16 - bits)
                    } else {
                        v >> (bits - 16)
                    }
                })
            })
            .collect::<Result<_, _>>()
            .map_err(wav_error)?,
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0).round() as i32))
            .collect::<Result<_, _>>()
            .map_err(wav_error)?,
        (format, bits) => {
            return Err(MediaError::Unsupported(format!("{bits}-bit {format:?}")));
        }
    };
    let samples = interleaved
        .chunks(channels)
        .map(|frame| {
            let sum: i64 = frame.iter().map(|&v| i64::from(v)).sum();
            (sum / frame.len() as i64).clamp(-32768, 32767) as i16
        })
        .collect();
    Ok(Pcm {
        samples,
        sample_rate: spec.sample_rate,
    })
}

/// Writes `pcm` as a 16-bit mono WAV file.
pub fn write_wav(path: &Path, pcm: &Pcm) -> Result<(), MediaError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: pcm.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(wav_error)?;
    for &s in &pcm.samples {
        writer.write_sample(s).map_err(wav_error)?;
    }
    writer.finalize().map_err(wav_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A per-test scratch file in the system temp dir, removed on drop.
    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str) -> Self {
            let file = format!("switchboard-media-{}-{name}", std::process::id());
            TempFile(std::env::temp_dir().join(file))
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn write_with(
        path: &Path,
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<std::io::BufWriter<std::fs::File>>),
    ) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        write(&mut w);
        w.finalize().unwrap();
    }

    #[test]
    fn round_trip_16bit_mono() {
        let f = TempFile::new("mono16.wav");
        let pcm = Pcm {
            samples: vec![0, 1, -1, 32767, -32768, 1234],
            sample_rate: 8000,
        };
        write_wav(&f.0, &pcm).unwrap();
        assert_eq!(read_wav(&f.0).unwrap(), pcm);
    }

    #[test]
    fn stereo_is_averaged() {
        let f = TempFile::new("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        write_with(&f.0, spec, |w| {
            for (l, r) in [(100i16, 300i16), (-1000, 1000), (32767, 32767)] {
                w.write_sample(l).unwrap();
                w.write_sample(r).unwrap();
            }
        });
        let pcm = read_wav(&f.0).unwrap();
        assert_eq!(pcm.sample_rate, 16000);
        assert_eq!(pcm.samples, vec![200, 0, 32767]);
    }

    #[test]
    fn other_sample_formats() {
        let int = |bits| hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let f = TempFile::new("pcm8.wav");
        write_with(&f.0, int(8), |w| {
            for v in [0i8, 64, -128, 127] {
                w.write_sample(v).unwrap();
            }
        });
        assert_eq!(
            read_wav(&f.0).unwrap().samples,
            vec![0, 16384, -32768, 32512]
        );

        let f = TempFile::new("pcm24.wav");
        write_with(&f.0, int(24), |w| {
            for v in [0i32, 0x40_0000, -0x80_0000, 0x7F_FFFF] {
                w.write_sample(v).unwrap();
            }
        });
        assert_eq!(
            read_wav(&f.0).unwrap().samples,
            vec![0, 16384, -32768, 32767]
        );

        let f = TempFile::new("pcm32.wav");
        write_with(&f.0, int(32), |w| {
            for v in [0i32, 0x4000_0000, i32::MIN, i32::MAX] {
                w.write_sample(v).unwrap();
            }
        });
        assert_eq!(
            read_wav(&f.0).unwrap().samples,
            vec![0, 16384, -32768, 32767]
        );

        let f = TempFile::new("float.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 44100,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        write_with(&f.0, spec, |w| {
            for v in [0.0f32, 0.5, -1.0, 2.0] {
                w.write_sample(v).unwrap();
            }
        });
        let pcm = read_wav(&f.0).unwrap();
        assert_eq!(pcm.sample_rate, 44100);
        assert_eq!(pcm.samples, vec![0, 16384, -32767, 32767]);
    }

    #[test]
    fn errors() {
        let missing = TempFile::new("missing.wav");
        assert!(matches!(read_wav(&missing.0), Err(MediaError::Io(_))));
        let garbage = TempFile::new("garbage.wav");
        std::fs::write(&garbage.0, b"RIFF\x10\0\0\0WAVEjunkjunkjunk").unwrap();
        assert!(read_wav(&garbage.0).is_err());
        std::fs::write(&garbage.0, b"not a wav file at all").unwrap();
        assert!(read_wav(&garbage.0).is_err());
    }
}
