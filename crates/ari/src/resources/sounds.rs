//! `sounds`: the sound files of `general.sounds_dirs`
//! (`<dir>/<lang>/<name>.<ext>` and `<dir>/<name>.<ext>`).

use std::collections::BTreeMap;
use std::path::Path;

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

/// The format a file extension stands for, by Asterisk's format names.
fn format_of(ext: &str) -> Option<&'static str> {
    Some(match ext.to_ascii_lowercase().as_str() {
        "wav" => "wav",
        "wav16" => "wav16",
        "ulaw" | "pcm" | "mu" => "ulaw",
        "alaw" | "al" => "alaw",
        "gsm" => "gsm",
        "g722" => "g722",
        "g729" => "g729",
        "sln" | "raw" | "slin" => "slin",
        "sln16" => "slin16",
        "mp3" => "mp3",
        "ogg" => "ogg",
        _ => return None,
    })
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
        let Some(format) = format_of(ext) else {
            continue;
        };
        let pair = (language.to_owned(), format.to_owned());
        let formats = index.entry(format!("{prefix}{stem}")).or_default();
        if !formats.contains(&pair) {
            formats.push(pair);
        }
    }
}

fn index(ari: &Ari) -> Index {
    let mut index = Index::new();
    for dir in &ari.switch().config().general.sounds_dirs {
        // Files directly in a sounds dir are the default language's.
        walk(dir, "", "en", &mut index, 0);
    }
    index
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
    let index = index(&ari);
    let formats = index
        .get(id)
        .ok_or_else(|| AriError::not_found("Sound not found"))?;
    Ok(Reply::Json(sound_json(id, formats)))
}
