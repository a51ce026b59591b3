//! `sounds`: the sound files of `general.sounds_dirs`
//! (`<dir>/<lang>/<name>.<ext>` and `<dir>/<name>.<ext>`).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

pub fn resource() -> Resource {
    Resource {
        name: "sounds",
        description: "Sound resources",
        models: &[models::SOUNDS],
        apis: vec![
            api(
                "/sounds",
                "Sounds",
                vec![op(Get, "list", "List all sounds.", "List[Sound]", h!(list))
                    .query("lang", "string", "Lookup sound for a specific language.")
                    .query("format", "string", "Lookup sound in a specific format.")],
            ),
            api(
                "/sounds/{soundId}",
                "Individual sound",
                vec![op(Get, "get", "Get a sound's details.", "Sound", h!(get))
                    .path("soundId", "Sound's id")
                    .error(404, "Sound not found")],
            ),
        ],
    }
}

/// The format of a file by its extension, named as Asterisk's sounds index names it:
/// the name of the format its format module reads the extension as
/// (`ast_get_format_for_file_ext`, then `ast_format_get_name`), so `.sln` and `.raw`
/// are `slin`, `.ulaw` and `.pcm` are `ulaw`, and `.wav16` is `slin16`. A `.wav` is
/// read from its header (see [`wav_format`]); other unknown extensions are not sounds.
fn format_of(path: &Path, ext: &str) -> Option<&'static str> {
    Some(match ext.to_ascii_lowercase().as_str() {
        "wav" => return wav_format(path),
        "wav16" => "slin16",
        "sln" | "slin" | "raw" => "slin",
        "sln12" => "slin12",
        "sln16" => "slin16",
        "sln24" => "slin24",
        "sln32" => "slin32",
        "sln44" => "slin44",
        "sln48" => "slin48",
        "sln96" => "slin96",
        "sln192" => "slin192",
        "ulaw" | "pcm" | "ul" | "mu" | "ulw" | "au" => "ulaw",
        "alaw" | "al" | "alw" => "alaw",
        "g722" => "g722",
        "g729" => "g729",
        "g723" | "g723sf" => "g723",
        "g726-40" | "g726-32" | "g726-24" | "g726-16" => "g726",
        "gsm" | "wav49" => "gsm",
        "ilbc" => "ilbc",
        "vox" => "adpcm",
        "siren7" => "siren7",
        "siren14" => "siren14",
        "g719" => "g719",
        "spx" => "speex",
        "spx16" => "speex16",
        "spx32" => "speex32",
        "opus" => "opus",
        // Asterisk decodes these to 8 kHz signed linear.
        "ogg" | "mp3" => "slin",
        _ => return None,
    })
}

/// The format of a WAV file by its `fmt ` chunk. Asterisk's `.wav` is 8 kHz 16-bit
/// only (`slin`; 16 kHz goes in `.wav16`, `slin16`), but we play a WAV of any rate and
/// width through signed linear, so PCM and float WAVs are named by their rate as
/// Asterisk names signed linear (`slin`, `slin16`, ... `slin192`); a rate Asterisk has
/// no name for gets the next named rate above it, so a name never claims less than the
/// file holds. G.711 and GSM WAVs are `ulaw`, `alaw` and `gsm`. `None` for what is not
/// a readable WAV.
fn wav_format(path: &Path) -> Option<&'static str> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut riff = [0u8; 12];
    file.read_exact(&mut riff).ok()?;
    if &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        return None;
    }
    // Chunks (LIST, bext, JUNK, ...) may come before `fmt `; a few are enough.
    for _ in 0..16 {
        let mut header = [0u8; 8];
        file.read_exact(&mut header).ok()?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[..4] != b"fmt " {
            // Chunks are padded to an even length.
            file.seek(SeekFrom::Current(i64::from(size) + i64::from(size & 1)))
                .ok()?;
            continue;
        }
        // WAVE_FORMAT_EXTENSIBLE carries the real tag first in its SubFormat GUID.
        let mut fmt = [0u8; 26];
        let len = usize::try_from(size).ok()?.min(fmt.len());
        if len < 16 {
            return None;
        }
        file.read_exact(&mut fmt[..len]).ok()?;
        let mut tag = u16::from_le_bytes([fmt[0], fmt[1]]);
        if tag == 0xFFFE && len == fmt.len() {
            tag = u16::from_le_bytes([fmt[24], fmt[25]]);
        }
        let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
        return match tag {
            // PCM, IEEE float.
            1 | 3 => slin_format(rate),
            6 => Some("alaw"),
            7 => Some("ulaw"),
            0x31 => Some("gsm"),
            _ => None,
        };
    }
    None
}

/// Asterisk's signed-linear formats by rate.
const SLIN: [(u32, &str); 9] = [
    (8000, "slin"),
    (12000, "slin12"),
    (16000, "slin16"),
    (24000, "slin24"),
    (32000, "slin32"),
    (44100, "slin44"),
    (48000, "slin48"),
    (96000, "slin96"),
    (192000, "slin192"),
];

/// The signed-linear format of `rate`, or of the next named rate above it.
fn slin_format(rate: u32) -> Option<&'static str> {
    if rate == 0 {
        return None;
    }
    SLIN.iter()
        .find(|(named, _)| *named >= rate)
        .map(|(_, name)| *name)
}

/// A language folder's name: `en`, `fr`, `en_US`, `pt-BR`.
fn is_language(name: &str) -> bool {
    let (base, region) = match name.split_once(['_', '-']) {
        Some((base, region)) => (base, Some(region)),
        None => (name, None),
    };
    (2..=3).contains(&base.len())
        && base.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// id -> (language, format) pairs.
type Index = BTreeMap<String, Vec<(String, String)>>;

fn walk(dir: &Path, prefix: &str, language: &str, index: &mut Index, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if depth == 0 && is_language(&name) {
                walk(&path, "", &name, index, depth + 1);
            } else if depth < 8 {
                walk(
                    &path,
                    &format!("{prefix}{name}/"),
                    language,
                    index,
                    depth + 1,
                );
            }
            continue;
        }
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        let Some(format) = format_of(&path, ext) else {
            continue;
        };
        let pair = (language.to_owned(), format.to_owned());
        let formats = index.entry(format!("{prefix}{stem}")).or_default();
        if !formats.contains(&pair) {
            formats.push(pair);
        }
    }
}

/// Every sound of the sounds dirs, read afresh (files come and go), off the runtime:
/// a sounds dir may hold thousands of files and each WAV's header is read.
async fn index(ari: &Ari) -> Result<Index, AriError> {
    let dirs: Vec<PathBuf> = ari.switch().config().general.sounds_dirs.clone();
    tokio::task::spawn_blocking(move || {
        let mut index = Index::new();
        for dir in &dirs {
            // Files directly in a sounds dir are the default language's.
            walk(dir, "", "en", &mut index, 0);
        }
        // In a stable order, whatever order the directories were read in.
        for formats in index.values_mut() {
            formats.sort();
        }
        index
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "ARI: indexing the sounds failed");
        AriError::new(500, "Error indexing the sounds")
    })
}

fn sound_json(id: &str, formats: &[(String, String)]) -> Value {
    let formats: Vec<Value> = formats
        .iter()
        .map(|(language, format)| json!({"language": language, "format": format}))
        .collect();
    json!({"id": id, "formats": formats})
}

async fn list(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let (lang, format) = (args.str("lang"), args.str("format"));
    let sounds: Vec<Value> = index(&ari)
        .await?
        .into_iter()
        .filter_map(|(id, formats)| {
            let formats: Vec<(String, String)> = formats
                .into_iter()
                .filter(|(l, f)| lang.is_none_or(|x| x == l) && format.is_none_or(|x| x == f))
                .collect();
            (!formats.is_empty()).then(|| sound_json(&id, &formats))
        })
        .collect();
    Ok(Reply::Json(sounds.into()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.path("soundId");
    let index = index(&ari).await?;
    let formats = index
        .get(id)
        .ok_or_else(|| AriError::not_found("Sound not found"))?;
    Ok(Reply::Json(sound_json(id, formats)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file's bytes: `before` chunks, then a `fmt ` chunk of `tag` at `rate`
    /// (extensible when `extensible`), then a short `data` chunk.
    fn wav(before: &[(&[u8; 4], &[u8])], tag: u16, rate: u32, extensible: bool) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&(if extensible { 0xFFFE } else { tag }).to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        fmt.extend_from_slice(&(rate * 2).to_le_bytes());
        fmt.extend_from_slice(&2u16.to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        if extensible {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&16u16.to_le_bytes());
            fmt.extend_from_slice(&4u32.to_le_bytes());
            fmt.extend_from_slice(&tag.to_le_bytes());
            fmt.extend_from_slice(b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71");
        }
        let mut body = b"WAVE".to_vec();
        let chunks = before
            .iter()
            .map(|(id, data)| (*id, *data))
            .chain([(b"fmt ", fmt.as_slice()), (b"data", &[0u8; 4][..])]);
        for (id, data) in chunks {
            body.extend_from_slice(id);
            body.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn format_of_bytes(name: &str, bytes: &[u8]) -> Option<&'static str> {
        let path =
            std::env::temp_dir().join(format!("switchboard-ari-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let format = format_of(&path, name.rsplit_once('.').unwrap().1);
        let _ = std::fs::remove_file(&path);
        format
    }

    #[test]
    fn wav_formats_are_named_by_their_header() {
        assert_eq!(
            format_of_bytes("a.wav", &wav(&[], 1, 8000, false)),
            Some("slin")
        );
        assert_eq!(
            format_of_bytes("b.wav", &wav(&[], 1, 16000, false)),
            Some("slin16")
        );
        assert_eq!(
            format_of_bytes("c.wav", &wav(&[], 3, 48000, false)),
            Some("slin48")
        );
        assert_eq!(
            format_of_bytes("d.wav", &wav(&[], 1, 44100, true)),
            Some("slin44")
        );
        assert_eq!(
            format_of_bytes("e.wav", &wav(&[], 7, 8000, false)),
            Some("ulaw")
        );
        assert_eq!(
            format_of_bytes("f.wav", &wav(&[], 6, 8000, false)),
            Some("alaw")
        );
        assert_eq!(
            format_of_bytes("g.WAV", &wav(&[], 0x31, 8000, false)),
            Some("gsm")
        );
        // Other chunks first (odd-sized ones padded), an unnamed rate.
        let odd = wav(
            &[(b"LIST", b"INFO\x01"), (b"JUNK", &[0; 28])],
            1,
            22050,
            false,
        );
        assert_eq!(format_of_bytes("h.wav", &odd), Some("slin24"));
        // Not WAVs, or not formats with a name.
        assert_eq!(format_of_bytes("i.wav", b"not a wav file at all"), None);
        assert_eq!(format_of_bytes("j.wav", &wav(&[], 0x55, 8000, false)), None);
        assert_eq!(format_of_bytes("k.wav", &wav(&[], 1, 0, false)), None);
        assert_eq!(
            format_of_bytes("l.wav", &wav(&[], 1, 8000, false)[..30]),
            None
        );
    }

    #[test]
    fn extensions_are_named_as_asterisk_names_their_formats() {
        let path = Path::new("/nonexistent");
        for (ext, format) in [
            ("sln", "slin"),
            ("raw", "slin"),
            ("sln16", "slin16"),
            ("wav16", "slin16"),
            ("ulaw", "ulaw"),
            ("pcm", "ulaw"),
            ("alaw", "alaw"),
            ("g722", "g722"),
            ("gsm", "gsm"),
            ("vox", "adpcm"),
        ] {
            assert_eq!(format_of(path, ext), Some(format), "{ext}");
        }
        assert_eq!(format_of(path, "txt"), None);
        // A `.wav` that cannot be read is not listed.
        assert_eq!(format_of(path, "wav"), None);
    }
}
