//! Crash-safe WAV recording, and recovery of recordings a crash cut short.
//!
//! A recording of `dir/name.wav` is written as 16-bit mono PCM to the hidden
//! temporary file `dir/.name.wav.part` and renamed to `name.wav` by
//! [`WavWriter::finish`], so a file under the final name is always complete.
//! While recording, [`WavWriter::sync`] (called by the owner about once a
//! second, and by [`WavWriter::write`] itself after each second of audio)
//! rewrites the header sizes and flushes the data to disk, so the temporary
//! file is a valid WAV file up to the last sync even if the process or the
//! machine dies. [`recover_partial`], run at startup, fixes the header of
//! any temporary file left behind from its actual length and renames it
//! into place.
//!
//! Dropping a writer does nothing but close the file: a dropped writer and
//! a killed process leave the same state behind, which recovery handles.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::part_file::{self, PartFile};
use crate::raw::{self, RawFormat};
use crate::MediaError;

/// What to do when the final file already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Refuse: creating the writer fails with [`MediaError::Exists`].
    Fail,
    /// Replace it when the new recording is finished (it stays intact
    /// until then).
    Overwrite,
    /// Continue it: the new recording starts as a copy of the existing
    /// file, which must be in the same format.
    Append,
}

/// Size of the header this module writes.
const HEADER_LEN: u64 = 44;
/// RIFF chunk sizes are 32-bit.
const MAX_RIFF_SIZE: u64 = u32::MAX as u64;
const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Writes a 16-bit mono WAV recording, crash-safely.
#[derive(Debug)]
pub struct WavWriter {
    part: PartFile,
    sample_rate: u32,
    /// Where the samples start in the file, and how many bytes of them.
    data_offset: u64,
    data_bytes: u64,
    /// `data_bytes` at the last sync.
    synced_bytes: u64,
    scratch: Vec<u8>,
}

impl WavWriter {
    /// Starts a recording of `final_path` (see the module documentation
    /// for the temporary file), 16-bit mono at `sample_rate`. Fails with
    /// [`MediaError::Exists`] if the temporary file exists (a recording in
    /// progress, or one not yet recovered), or the final file does and
    /// `if_exists` is [`IfExists::Fail`]; with [`IfExists::Append`], fails
    /// with [`MediaError::Unsupported`] if the existing file is not 16-bit
    /// mono PCM at `sample_rate`.
    pub fn create(
        final_path: &Path,
        sample_rate: u32,
        if_exists: IfExists,
    ) -> Result<Self, MediaError> {
        if sample_rate == 0 || sample_rate > u32::MAX / 2 {
            return Err(MediaError::Unsupported(format!(
                "sample rate {sample_rate}"
            )));
        }
        let (mut part, appended) = PartFile::create(final_path, if_exists)?;
        let prepared = if appended {
            continue_existing(&mut part, sample_rate)
        } else {
            part.append(&header(sample_rate, 0))
                .map(|()| (HEADER_LEN, 0))
                .map_err(MediaError::from)
        };
        match prepared {
            Ok((data_offset, data_bytes)) => Ok(WavWriter {
                part,
                sample_rate,
                data_offset,
                data_bytes,
                synced_bytes: data_bytes,
                scratch: Vec::new(),
            }),
            Err(e) => {
                let _ = part.discard();
                Err(e)
            }
        }
    }

    /// Appends samples. Syncs by itself once a second of audio has been
    /// written since the last sync. Fails without writing anything if the
    /// file would exceed the 4 GiB a WAV file can describe.
    pub fn write(&mut self, pcm: &[i16]) -> Result<(), MediaError> {
        let bytes = pcm.len() as u64 * 2;
        if self.data_offset - 8 + self.data_bytes + bytes > MAX_RIFF_SIZE {
            return Err(MediaError::Wav(
                "recording exceeds the 4 GiB wav size limit".into(),
            ));
        }
        self.scratch.clear();
        self.scratch
            .extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
        self.part.append(&self.scratch)?;
        self.data_bytes += bytes;
        if self.data_bytes - self.synced_bytes >= u64::from(self.sample_rate) * 2 {
            self.sync()?;
        }
        Ok(())
    }

    /// Rewrites the header sizes to cover everything written and flushes
    /// the data to disk (`sync_data`): the temporary file is then a valid
    /// WAV file of the recording so far.
    pub fn sync(&mut self) -> Result<(), MediaError> {
        write_sizes(self.part.file(), self.data_offset, self.data_bytes)?;
        self.part.sync_data()?;
        self.synced_bytes = self.data_bytes;
        Ok(())
    }

    /// Duration of the audio written so far (including any appended to).
    pub fn duration_ms(&self) -> u64 {
        self.data_bytes / 2 * 1000 / u64::from(self.sample_rate)
    }

    /// The temporary file being written.
    pub fn temp_path(&self) -> &Path {
        self.part.temp_path()
    }

    /// Writes the final header, flushes everything to disk and renames the
    /// temporary file to the final path, which is returned.
    pub fn finish(mut self) -> Result<PathBuf, MediaError> {
        write_sizes(self.part.file(), self.data_offset, self.data_bytes)?;
        self.part.finish()
    }

    /// Abandons the recording: deletes the temporary file (an existing
    /// final file is left as it was).
    pub fn discard(self) -> Result<(), MediaError> {
        self.part.discard()
    }
}

/// Checks that the copy of an existing final file in `part` can be
/// continued and cuts it to the end of its samples; returns its data offset
/// and length.
fn continue_existing(part: &mut PartFile, sample_rate: u32) -> Result<(u64, u64), MediaError> {
    let layout = read_layout(part.file())?;
    let is_pcm = layout.format_tag == FORMAT_PCM
        || (layout.format_tag == FORMAT_EXTENSIBLE && layout.sub_format == Some(FORMAT_PCM));
    if !is_pcm || layout.channels != 1 || layout.bits != 16 || layout.sample_rate != sample_rate {
        return Err(MediaError::Unsupported(format!(
            "cannot append 16-bit mono PCM at {sample_rate} Hz to {}-bit {}-channel \
             format {:#06x} at {} Hz",
            layout.bits, layout.channels, layout.format_tag, layout.sample_rate
        )));
    }
    let available = part.size().saturating_sub(layout.data_offset);
    let declared = u64::from(layout.data_size);
    // A declared size of 0 (or the maximum) is a streaming writer's
    // placeholder; one beyond the end, a truncated file.
    let data = if declared == 0 || layout.data_size == u32::MAX || declared >= available {
        available
    } else {
        return Err(MediaError::Unsupported(
            "chunks after the data chunk".into(),
        ));
    };
    let data = data.min(MAX_RIFF_SIZE - (layout.data_offset - 8)) & !1;
    part.truncate(layout.data_offset + data)?;
    write_sizes(part.file(), layout.data_offset, data)?;
    Ok((layout.data_offset, data))
}

/// The canonical 44-byte header of 16-bit mono PCM.
fn header(sample_rate: u32, data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36u32.wrapping_add(data_bytes)).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

/// Sets the RIFF and data chunk sizes for `data_bytes` of samples starting
/// at `data_offset` (the caller keeps the total within 4 GiB).
fn write_sizes<F: Write + Seek>(file: &mut F, data_offset: u64, data_bytes: u64) -> io::Result<()> {
    let riff = (data_offset - 8 + data_bytes).min(MAX_RIFF_SIZE) as u32;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff.to_le_bytes())?;
    file.seek(SeekFrom::Start(data_offset - 4))?;
    file.write_all(&(data_bytes.min(MAX_RIFF_SIZE) as u32).to_le_bytes())
}

/// What the header of a WAV file says.
#[derive(Debug)]
struct Layout {
    format_tag: u16,
    /// The sub-format code of a `WAVE_FORMAT_EXTENSIBLE` file.
    sub_format: Option<u16>,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    /// Where the samples start, and the data chunk's declared size.
    data_offset: u64,
    data_size: u32,
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<(), MediaError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => MediaError::Wav(format!("truncated {what}")),
        _ => MediaError::Io(e),
    })
}

/// Walks the chunks of a WAV file up to its data chunk.
fn read_layout<R: Read + Seek>(r: &mut R) -> Result<Layout, MediaError> {
    r.seek(SeekFrom::Start(0))?;
    let mut riff = [0u8; 12];
    read_exact(r, &mut riff, "header")?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(MediaError::Wav("not a RIFF/WAVE file".into()));
    }
    let mut fmt: Option<[u8; 26]> = None;
    let mut pos = 12u64;
    loop {
        let mut chunk = [0u8; 8];
        read_exact(r, &mut chunk, "chunk list (no data chunk)")?;
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        pos += 8;
        match &chunk[0..4] {
            b"fmt " => {
                if size < 16 {
                    return Err(MediaError::Wav(format!("fmt chunk of {size} bytes")));
                }
                let mut f = [0u8; 26];
                let len = (size as usize).min(f.len());
                read_exact(r, &mut f[..len], "fmt chunk")?;
                fmt = Some(f);
            }
            b"data" => {
                let f = fmt.ok_or_else(|| MediaError::Wav("data chunk before fmt".into()))?;
                if pos > MAX_RIFF_SIZE {
                    return Err(MediaError::Wav("data chunk beyond 4 GiB".into()));
                }
                let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
                let format_tag = u16_at(0);
                return Ok(Layout {
                    format_tag,
                    // The sub-format GUID starts at byte 24 of a 40-byte fmt.
                    sub_format: (format_tag == FORMAT_EXTENSIBLE).then(|| u16_at(24)),
                    channels: u16_at(2),
                    sample_rate: u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                    bits: u16_at(14),
                    data_offset: pos,
                    data_size: size,
                });
            }
            _ => {}
        }
        pos += u64::from(size) + u64::from(size & 1);
        r.seek(SeekFrom::Start(pos))?;
    }
}

/// Fixes the header sizes of a temporary WAV file from its length (cutting
/// a partly written sample).
fn repair_wav(temp: &Path) -> Result<(), MediaError> {
    let mut file = OpenOptions::new().read(true).write(true).open(temp)?;
    let layout = read_layout(&mut file)?;
    let len = file.metadata()?.len();
    let max_data = MAX_RIFF_SIZE - (layout.data_offset - 8);
    let data = len.saturating_sub(layout.data_offset).min(max_data) & !1;
    file.set_len(layout.data_offset + data)?;
    write_sizes(&mut file, layout.data_offset, data)?;
    file.sync_all()?;
    Ok(())
}

/// Recovers the recordings a crash left in `dir`: each temporary file of a
/// `.wav` recording gets its header sizes fixed from its length, each of a
/// raw recording ([`RawFormat::from_extension`]) is cut to whole samples,
/// and both are renamed to their final names (replacing an existing file,
/// which for an append is the shorter original). Returns the recovered
/// final paths, sorted. Temporary files that cannot be repaired (a crash
/// before the header was written) are left in place with a warning; other
/// files are not touched. Run it before recording into `dir` starts: it
/// would take over a recording in progress.
pub fn recover_partial(dir: &Path) -> Result<Vec<PathBuf>, MediaError> {
    let mut recovered = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(final_name) = name.to_str().and_then(part_file::final_name) else {
            continue;
        };
        if !entry.file_type()?.is_file() {
            continue;
        }
        let ext = Path::new(final_name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        let temp = entry.path();
        let repaired = if ext.eq_ignore_ascii_case("wav") {
            repair_wav(&temp)
        } else if let Some(format) = RawFormat::from_extension(ext) {
            raw::repair(&temp, format)
        } else {
            continue;
        };
        if let Err(e) = repaired {
            tracing::warn!(path = %temp.display(), error = %e, "cannot recover partial recording");
            continue;
        }
        let final_path = dir.join(final_name);
        part_file::commit(&temp, &final_path)?;
        tracing::info!(path = %final_path.display(), "recovered partial recording");
        recovered.push(final_path);
    }
    recovered.sort();
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part_file::TempDir;
    use crate::raw::RawWriter;
    use crate::tone::ToneGenerator;
    use crate::wav::{read_wav, write_wav, Pcm};

    fn tone(ms: u32, rate: u32) -> Vec<i16> {
        let mut pcm = vec![0i16; (ms * rate / 1000) as usize];
        ToneGenerator::new(&[440.0], 8000, rate).fill(&mut pcm);
        pcm
    }

    fn write_frames(w: &mut WavWriter, pcm: &[i16]) {
        for frame in pcm.chunks(160) {
            w.write(frame).unwrap();
        }
    }

    #[test]
    fn sync_keeps_the_temp_file_valid_and_finish_renames() {
        let dir = TempDir::new("wav-sync");
        let path = dir.0.join("call.wav");
        let pcm = tone(2500, 8000);
        let mut w = WavWriter::create(&path, 8000, IfExists::Fail).unwrap();
        assert_eq!(w.temp_path(), dir.0.join(".call.wav.part"));
        assert_eq!(read_wav(w.temp_path()).unwrap().samples.len(), 0);
        write_frames(&mut w, &pcm[..12000]);
        // write() synced by itself after the first second.
        assert_eq!(read_wav(w.temp_path()).unwrap().samples, pcm[..8000]);
        write_frames(&mut w, &pcm[12000..]);
        w.sync().unwrap();
        let partial = read_wav(w.temp_path()).unwrap();
        assert_eq!(partial.sample_rate, 8000);
        assert_eq!(partial.samples, pcm);
        assert_eq!(w.duration_ms(), 2500);
        assert!(!path.exists());
        let temp = w.temp_path().to_path_buf();
        assert_eq!(w.finish().unwrap(), path);
        assert!(!temp.exists());
        assert_eq!(read_wav(&path).unwrap().samples, pcm);
    }

    #[test]
    fn crash_then_recover() {
        let dir = TempDir::new("wav-recover");
        let path = dir.0.join("call.wav");
        let pcm = tone(1800, 16000);
        let mut w = WavWriter::create(&path, 16000, IfExists::Fail).unwrap();
        write_frames(&mut w, &pcm);
        let temp = w.temp_path().to_path_buf();
        // A crash: the header still says 1 s; 0.8 s more and half a sample
        // follow it.
        drop(w);
        assert_eq!(read_wav(&temp).unwrap().samples.len(), 16000);
        fs::OpenOptions::new()
            .append(true)
            .open(&temp)
            .unwrap()
            .write_all(&[0x55])
            .unwrap();
        // A raw recording cut short as well.
        let raw_path = dir.0.join("leg.sln16");
        let mut raw = RawWriter::create(&raw_path, RawFormat::Sln16, IfExists::Fail).unwrap();
        raw.write(&pcm[..1000]).unwrap();
        drop(raw);
        // Files recovery must leave alone.
        fs::write(dir.0.join(".broken.wav.part"), b"RIFF").unwrap();
        fs::write(dir.0.join(".notes.txt.part"), b"hello").unwrap();
        fs::write(dir.0.join("other.wav"), b"not really").unwrap();

        let recovered = recover_partial(&dir.0).unwrap();
        assert_eq!(recovered, [dir.0.join("call.wav"), raw_path.clone()]);
        let wav = read_wav(&path).unwrap();
        assert_eq!((wav.sample_rate, wav.samples), (16000, pcm.clone()));
        assert!(!temp.exists());
        assert_eq!(
            raw::read_raw(&raw_path, RawFormat::Sln16).unwrap().samples,
            pcm[..1000]
        );
        assert!(dir.0.join(".broken.wav.part").exists());
        assert!(dir.0.join(".notes.txt.part").exists());
        assert_eq!(fs::read(dir.0.join("other.wav")).unwrap(), b"not really");
        assert_eq!(recover_partial(&dir.0).unwrap(), Vec::<PathBuf>::new());
        assert!(recover_partial(&dir.0.join("missing")).is_err());
    }

    #[test]
    fn append_continues_the_existing_file() {
        let dir = TempDir::new("wav-append");
        let path = dir.0.join("msg.wav");
        // Appending to nothing starts a new file.
        let mut w = WavWriter::create(&path, 8000, IfExists::Append).unwrap();
        let first = tone(1000, 8000);
        write_frames(&mut w, &first);
        w.finish().unwrap();

        let mut w = WavWriter::create(&path, 8000, IfExists::Append).unwrap();
        assert_eq!(w.duration_ms(), 1000);
        let second = vec![1234i16; 4000];
        write_frames(&mut w, &second);
        assert_eq!(w.duration_ms(), 1500);
        // The original stays intact until the append is finished.
        assert_eq!(read_wav(&path).unwrap().samples, first);
        w.finish().unwrap();
        let all = read_wav(&path).unwrap().samples;
        assert_eq!(all.len(), 12000);
        assert_eq!(all[..8000], first);
        assert_eq!(all[8000..], second);

        // A file written by another writer (hound) can be continued too.
        let other = dir.0.join("other.wav");
        let pcm = Pcm {
            samples: vec![5; 100],
            sample_rate: 8000,
        };
        write_wav(&other, &pcm).unwrap();
        let mut w = WavWriter::create(&other, 8000, IfExists::Append).unwrap();
        w.write(&[6; 50]).unwrap();
        w.finish().unwrap();
        assert_eq!(read_wav(&other).unwrap().samples.len(), 150);
    }

    #[test]
    fn append_refuses_other_formats() {
        let dir = TempDir::new("wav-append-formats");
        let path = dir.0.join("msg.wav");
        let pcm = Pcm {
            samples: vec![5; 100],
            sample_rate: 16000,
        };
        write_wav(&path, &pcm).unwrap();
        let err = WavWriter::create(&path, 8000, IfExists::Append).unwrap_err();
        assert!(matches!(err, MediaError::Unsupported(_)), "{err}");
        // The failed attempt leaves no temporary file behind.
        assert!(!dir.0.join(".msg.wav.part").exists());

        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut stereo = hound::WavWriter::create(&path, spec).unwrap();
        stereo.write_sample(1i16).unwrap();
        stereo.write_sample(1i16).unwrap();
        stereo.finalize().unwrap();
        let err = WavWriter::create(&path, 8000, IfExists::Append).unwrap_err();
        assert!(matches!(err, MediaError::Unsupported(_)), "{err}");

        fs::write(&path, b"garbage that is not a wav file").unwrap();
        let err = WavWriter::create(&path, 8000, IfExists::Append).unwrap_err();
        assert!(matches!(err, MediaError::Wav(_)), "{err}");
        assert!(!dir.0.join(".msg.wav.part").exists());
    }

    #[test]
    fn fail_overwrite_and_discard() {
        let dir = TempDir::new("wav-exists");
        let path = dir.0.join("x.wav");
        fs::write(&path, b"old").unwrap();
        let err = WavWriter::create(&path, 8000, IfExists::Fail).unwrap_err();
        assert!(matches!(&err, MediaError::Exists(p) if *p == path), "{err}");

        let mut w = WavWriter::create(&path, 8000, IfExists::Overwrite).unwrap();
        // One recording per file at a time.
        let err = WavWriter::create(&path, 8000, IfExists::Overwrite).unwrap_err();
        assert!(matches!(&err, MediaError::Exists(p) if p == w.temp_path()));
        w.write(&[1, 2, 3]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"old");
        w.finish().unwrap();
        assert_eq!(read_wav(&path).unwrap().samples, [1, 2, 3]);

        let w = WavWriter::create(&path, 8000, IfExists::Overwrite).unwrap();
        let temp = w.temp_path().to_path_buf();
        w.discard().unwrap();
        assert!(!temp.exists());
        assert_eq!(read_wav(&path).unwrap().samples, [1, 2, 3]);

        assert!(WavWriter::create(&dir.0.join("y.wav"), 0, IfExists::Fail).is_err());
        assert!(!dir.0.join(".y.wav.part").exists());
    }

    #[test]
    fn header_parsing() {
        let mut h = io::Cursor::new(header(16000, 10).to_vec());
        let layout = read_layout(&mut h).unwrap();
        assert_eq!(
            (
                layout.format_tag,
                layout.channels,
                layout.sample_rate,
                layout.bits
            ),
            (1, 1, 16000, 16)
        );
        assert_eq!((layout.data_offset, layout.data_size), (44, 10));
        // Extra chunks (odd-sized, padded) before the data are skipped.
        let mut bytes = header(8000, 0)[..36].to_vec();
        bytes.extend_from_slice(b"LIST\x03\0\0\0abc\0data\0\0\0\0");
        let layout = read_layout(&mut io::Cursor::new(bytes)).unwrap();
        assert_eq!(layout.data_offset, 56);
        for bad in [
            &b"RIFF"[..],
            b"RIFF\0\0\0\0WAVEdata\0\0\0\0",
            b"RIFX\0\0\0\0WAVE",
        ] {
            assert!(matches!(
                read_layout(&mut io::Cursor::new(bad.to_vec())),
                Err(MediaError::Wav(_))
            ));
        }
    }
}
