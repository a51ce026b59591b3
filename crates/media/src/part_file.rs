//! Files written under a temporary name and renamed into place when
//! complete, shared by the crash-safe recording writers
//! ([`crate::wav_writer`], [`crate::raw`]).
//!
//! A recording of `dir/name.ext` is written to the hidden sibling
//! `dir/.name.ext.part` (same directory, so the final rename is atomic), so
//! nothing under the final name is ever half-written, and a crash leaves a
//! `.part` file that [`crate::wav_writer::recover_partial`] can repair.
//! Dropping a writer just closes the file, exactly like a crash would.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::wav_writer::IfExists;
use crate::MediaError;

const TEMP_PREFIX: &str = ".";
const TEMP_SUFFIX: &str = ".part";

/// The temporary sibling `final_path` is written as.
pub(crate) fn temp_path(final_path: &Path) -> Result<PathBuf, MediaError> {
    let name = final_path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no file name in {}", final_path.display()),
        )
    })?;
    let mut temp = OsString::from(TEMP_PREFIX);
    temp.push(name);
    temp.push(TEMP_SUFFIX);
    Ok(final_path.with_file_name(temp))
}

/// The final file name a temporary file name stands for, if it is one.
pub(crate) fn final_name(temp_name: &str) -> Option<&str> {
    temp_name
        .strip_prefix(TEMP_PREFIX)?
        .strip_suffix(TEMP_SUFFIX)
        .filter(|name| !name.is_empty())
}

/// Renames a complete temporary file to its final name and makes the
/// rename durable.
pub(crate) fn commit(temp: &Path, final_path: &Path) -> Result<(), MediaError> {
    fs::rename(temp, final_path)?;
    sync_dir(final_path)?;
    Ok(())
}

/// Flushes the directory holding `path`, so a rename survives power loss.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// An open temporary file that becomes `final_path` when finished.
#[derive(Debug)]
pub(crate) struct PartFile {
    file: File,
    temp: PathBuf,
    final_path: PathBuf,
    /// Bytes in the file: appends go here.
    size: u64,
}

impl PartFile {
    /// Creates the temporary file for `final_path`. With
    /// [`IfExists::Append`] and an existing final file, the temporary file
    /// starts as a copy of it, and `true` is returned with it.
    pub(crate) fn create(
        final_path: &Path,
        if_exists: IfExists,
    ) -> Result<(PartFile, bool), MediaError> {
        let temp = temp_path(final_path)?;
        let exists = final_path.try_exists()?;
        if exists && if_exists == IfExists::Fail {
            return Err(MediaError::Exists(final_path.to_path_buf()));
        }
        // Never clobber another temporary file: it is a recording in
        // progress or one a crash left for recovery.
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(MediaError::Exists(temp));
            }
            Err(e) => return Err(e.into()),
        };
        let mut part = PartFile {
            file,
            temp,
            final_path: final_path.to_path_buf(),
            size: 0,
        };
        let append = exists && if_exists == IfExists::Append;
        if append {
            if let Err(e) = part.copy_final() {
                let _ = part.discard();
                return Err(e.into());
            }
        }
        Ok((part, append))
    }

    fn copy_final(&mut self) -> io::Result<()> {
        let mut existing = File::open(&self.final_path)?;
        self.size = io::copy(&mut existing, &mut self.file)?;
        Ok(())
    }

    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The file, for reading what an append started from and rewriting a
    /// header. ([`PartFile::append`] does not depend on its position.)
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Cuts the file to `size` bytes.
    pub(crate) fn truncate(&mut self, size: u64) -> io::Result<()> {
        self.file.set_len(size)?;
        self.size = size;
        Ok(())
    }

    /// Appends `bytes`. On failure (e.g. a full disk) the file is cut back
    /// to where it was, so later writes stay sample-aligned.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let result = self
            .file
            .seek(SeekFrom::Start(self.size))
            .and_then(|_| self.file.write_all(bytes));
        match result {
            Ok(()) => {
                self.size += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.size);
                Err(e)
            }
        }
    }

    pub(crate) fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Flushes the file to disk and renames it to its final name.
    pub(crate) fn finish(self) -> Result<PathBuf, MediaError> {
        self.file.sync_all()?;
        drop(self.file);
        commit(&self.temp, &self.final_path)?;
        Ok(self.final_path)
    }

    /// Closes and deletes the temporary file.
    pub(crate) fn discard(self) -> Result<(), MediaError> {
        drop(self.file);
        fs::remove_file(&self.temp)?;
        Ok(())
    }
}

/// A per-test scratch directory in the system temp dir, removed on drop.
#[cfg(test)]
pub(crate) struct TempDir(pub(crate) PathBuf);

#[cfg(test)]
impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = format!("switchboard-media-{}-{name}", std::process::id());
        let dir = std::env::temp_dir().join(dir);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        let t = temp_path(Path::new("/rec/call-1.wav")).unwrap();
        assert_eq!(t, Path::new("/rec/.call-1.wav.part"));
        assert_eq!(
            temp_path(Path::new("a.ulaw")).unwrap(),
            Path::new(".a.ulaw.part")
        );
        assert!(temp_path(Path::new("/")).is_err());
        assert_eq!(final_name(".call-1.wav.part"), Some("call-1.wav"));
        assert_eq!(final_name("..hidden.wav.part"), Some(".hidden.wav"));
        assert_eq!(final_name("call-1.wav.part"), None);
        assert_eq!(final_name(".call-1.wav"), None);
        assert_eq!(final_name("..part"), None);
    }

    #[test]
    fn write_then_finish_renames() {
        let dir = TempDir::new("part-file");
        let target = dir.0.join("x.raw");
        let (mut part, appended) = PartFile::create(&target, IfExists::Fail).unwrap();
        assert!(!appended);
        // A second writer for the same file is refused.
        assert!(matches!(
            PartFile::create(&target, IfExists::Overwrite),
            Err(MediaError::Exists(p)) if p == part.temp_path()
        ));
        part.append(b"abcd").unwrap();
        part.file().seek(SeekFrom::Start(0)).unwrap();
        part.file().write_all(b"A").unwrap();
        part.append(b"ef").unwrap();
        assert_eq!(part.size(), 6);
        assert_eq!(part.finish().unwrap(), target);
        assert_eq!(fs::read(&target).unwrap(), b"Abcdef");
        assert!(!dir.0.join(".x.raw.part").exists());
    }
}
