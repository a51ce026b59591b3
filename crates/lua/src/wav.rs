//! `session:insertFile`: one WAV file spliced into another at a sample point, written
//! back over the first (FreeSWITCH's `switch_ivr_insert_file`).

use std::path::Path;

/// Inserts `insert`'s audio into `file` after `sample_point` samples of `file`. Both
/// must be 16-bit PCM WAV of the same rate and channel count.
pub(crate) fn insert(file: &Path, insert: &Path, sample_point: u64) -> Result<(), String> {
    let read = |path: &Path| -> Result<(hound::WavSpec, Vec<i16>), String> {
        let reader =
            hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let spec = reader.spec();
        if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
            return Err(format!("{}: not 16-bit PCM", path.display()));
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((spec, samples))
    };
    let (spec, original) = read(file)?;
    let (other, inserted) = read(insert)?;
    if (other.sample_rate, other.channels) != (spec.sample_rate, spec.channels) {
        return Err(format!(
            "{} is {} Hz × {}, {} is {} Hz × {}",
            insert.display(),
            other.sample_rate,
            other.channels,
            file.display(),
            spec.sample_rate,
            spec.channels
        ));
    }
    let at = usize::try_from(sample_point)
        .unwrap_or(usize::MAX)
        .saturating_mul(usize::from(spec.channels))
        .min(original.len());
    // Written beside the original and renamed over it, so a crash leaves one or the
    // other whole.
    let partial = file.with_extension("insert.partial");
    let mut writer = hound::WavWriter::create(&partial, spec)
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    for &sample in original[..at]
        .iter()
        .chain(&inserted)
        .chain(&original[at..])
    {
        writer.write_sample(sample).map_err(|e| e.to_string())?;
    }
    writer.finalize().map_err(|e| e.to_string())?;
    std::fs::rename(&partial, file).map_err(|e| format!("{}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create");
        for &s in samples {
            w.write_sample(s).expect("write");
        }
        w.finalize().expect("finalize");
    }

    #[test]
    fn splices_at_the_sample_point() {
        let dir = std::env::temp_dir().join(format!("switchboard-lua-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (a, b) = (dir.join("a.wav"), dir.join("b.wav"));
        write(&a, &[1, 2, 3, 4]);
        write(&b, &[9, 9]);
        insert(&a, &b, 2).expect("inserted");
        let samples: Vec<i16> = hound::WavReader::open(&a)
            .expect("open")
            .into_samples()
            .map(|s| s.expect("sample"))
            .collect();
        assert_eq!(samples, [1, 2, 9, 9, 3, 4]);
        insert(&a, &b, 1000).expect("appended");
        assert_eq!(hound::WavReader::open(&a).expect("open").duration(), 8);
        assert!(insert(&a, &dir.join("missing.wav"), 0).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
