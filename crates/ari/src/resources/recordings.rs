//! `recordings`: live recordings (get, cancel, stop, pause / unpause, mute / unmute)
//! and stored ones (list, get, delete, copy, download the file); plus what the
//! channels' and bridges' `record` operations share.

use std::sync::Arc;

use serde_json::Value;
use switchboard_core::recording::{
    is_known_format, IfExists, LiveRecording, RecordDirection, RecordOptions, RecordTarget,
    RecordingCommand, TerminateOn,
};
use switchboard_core::ControlError;

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{json, models, Ari};

const STORED: &str = "The name of the recording";
const LIVE: &str = "The name of the recording";

pub fn resource() -> Resource {
    Resource {
        name: "recordings",
        description: "Recording resources",
        models: &[models::RECORDINGS],
        apis: vec![
            api("/recordings/stored", "Recordings", vec![
                op(Get, "listStored", "List recordings that are complete.", "List[StoredRecording]", h!(list_stored)),
            ]),
            api("/recordings/stored/{recordingName}", "Individual recording", vec![
                op(Get, "getStored", "Get a stored recording's details.", "StoredRecording", h!(get_stored))
                    .path("recordingName", STORED)
                    .error(404, "Recording not found"),
                op(Delete, "deleteStored", "Delete a stored recording.", "void", h!(delete_stored))
                    .path("recordingName", STORED)
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/stored/{recordingName}/file", "The actual file associated with the stored recording", vec![
                op(Get, "getStoredFile", "Get the file associated with the stored recording.", "binary", h!(get_stored_file))
                    .path("recordingName", STORED)
                    .error(403, "The recording file could not be opened")
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/stored/{recordingName}/copy", "Copy an individual recording", vec![
                op(Post, "copyStored", "Copy a stored recording.", "StoredRecording", h!(copy_stored))
                    .path("recordingName", "The name of the recording to copy")
                    .query("destinationRecordingName", "string", "The destination name of the recording").required()
                    .error(404, "Recording not found")
                    .error(409, "A recording with the same name already exists on the system"),
            ]),
            api("/recordings/live/{recordingName}", "A recording that is in progress", vec![
                op(Get, "getLive", "List live recordings.", "LiveRecording", h!(get_live))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found"),
                op(Delete, "cancel", "Stop a live recording and discard it.", "void", h!(cancel))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/live/{recordingName}/stop", "", vec![
                op(Post, "stop", "Stop a live recording and store it.", "void", h!(stop))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/live/{recordingName}/pause", "", vec![
                op(Post, "pause", "Pause a live recording.", "void", h!(pause))
                    .notes("Pausing a recording suspends silence detection, which will be restarted when the recording is unpaused. Paused time is not included in the accounting for maxDurationSeconds.")
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
                op(Delete, "unpause", "Unpause a live recording.", "void", h!(unpause))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
            ]),
            api("/recordings/live/{recordingName}/mute", "", vec![
                op(Post, "mute", "Mute a live recording.", "void", h!(mute))
                    .notes("Muting a recording suspends silence detection, which will be restarted when the recording is unmuted.")
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
                op(Delete, "unmute", "Unmute a live recording.", "void", h!(unmute))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
            ]),
        ],
    }
}

fn not_found() -> AriError {
    AriError::not_found("Recording not found")
}

// ---- starting a recording (channels' and bridges' `record`) ----

/// The options of a `record` request, checked as Asterisk checks them: an unknown
/// format is 422; the other parameters were validated against the declaration.
pub(crate) fn record_options(args: &Args) -> Result<RecordOptions, AriError> {
    let name = args
        .str("name")
        .ok_or_else(|| AriError::bad_request("Missing required parameter name"))?
        .to_owned();
    let format = args
        .str("format")
        .ok_or_else(|| AriError::bad_request("Missing required parameter format"))?
        .to_ascii_lowercase();
    if !is_known_format(&format) {
        return Err(AriError::unprocessable(
            "specified format is unknown on this system",
        ));
    }
    let seconds = |param: &str| {
        u32::try_from(args.int(param).unwrap_or(0))
            .map_err(|_| AriError::bad_request(format!("{param} cannot be negative")))
    };
    let if_exists = IfExists::parse(args.str("ifExists").unwrap_or("fail"))
        .ok_or_else(|| AriError::bad_request("ifExists invalid"))?;
    let terminate_on = TerminateOn::parse(args.str("terminateOn").unwrap_or("none"))
        .ok_or_else(|| AriError::bad_request("terminateOn invalid"))?;
    Ok(RecordOptions {
        name,
        format,
        max_duration_seconds: seconds("maxDurationSeconds")?,
        max_silence_seconds: seconds("maxSilenceSeconds")?,
        silence_level: None,
        if_exists,
        beep: args.bool("beep").unwrap_or(false),
        terminate_on,
        direction: RecordDirection::Both,
    })
}

/// Starts a recording of `target` and answers 201 with it (`Location:
/// /recordings/live/<name>`). `not_found` is the target's 404.
pub(crate) fn start_recording(
    ari: &Ari,
    target: RecordTarget,
    options: RecordOptions,
    not_found: fn() -> AriError,
) -> Result<Reply, AriError> {
    let name = options.name.clone();
    let exists = || {
        AriError::conflict(format!(
            "Recording '{name}' already exists and can not be overwritten"
        ))
    };
    let recording = ari.switch().record(target, options).map_err(|e| match e {
        ControlError::NotFound => not_found(),
        // A recording of that name in progress, or its file there with
        // ifExists=fail: the seed's 409.
        ControlError::Conflict(_) | ControlError::Unprocessable(_) => exists(),
        ControlError::Invalid(why) if why.contains("name") => {
            AriError::bad_request("Recording name invalid")
        }
        ControlError::Invalid(why) => AriError::bad_request(why),
        ControlError::WrongState(why) => AriError::conflict(why),
        ControlError::Failed(why) => AriError::new(500, why),
    })?;
    Ok(Reply::Created {
        location: format!("/recordings/live/{}", uri_encode(&recording.name)),
        body: json::live_recording(&recording),
    })
}

/// A path segment percent-encoded (everything but RFC 3986's unreserved characters).
fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- live recordings ----

fn live(ari: &Ari, args: &Args) -> Result<Arc<LiveRecording>, AriError> {
    ari.switch()
        .live_recording(args.path("recordingName"))
        .map_err(|_| not_found())
}

async fn get_live(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let recording = live(&ari, &args)?;
    Ok(Reply::Json(json::live_recording(&recording)))
}

fn control(ari: &Ari, args: &Args, command: RecordingCommand) -> Result<Reply, AriError> {
    ari.switch()
        .control_recording(args.path("recordingName"), command)
        .map_err(|e| match e {
            ControlError::NotFound => not_found(),
            _ => AriError::conflict("Recording not in session"),
        })?;
    Ok(Reply::NoContent)
}

async fn cancel(ari: Ari, args: Args) -> Result<Reply, AriError> {
    control(&ari, &args, RecordingCommand::Cancel)
}

async fn stop(ari: Ari, args: Args) -> Result<Reply, AriError> {
    control(&ari, &args, RecordingCommand::Stop)
}

async fn pause(ari: Ari, args: Args) -> Result<Reply, AriError> {
    control(&ari, &args, RecordingCommand::Pause)
}

async fn unpause(ari: Ari, args: Args) -> Result<Reply, AriError> {
    control(&ari, &args, RecordingCommand::Unpause)
}

async fn mute(ari: Ari, args: Args) -> Result<Reply, AriError> {
    control(&ari, &args, RecordingCommand::Mute)
}

async fn unmute(ari: Ari, args: Args) -> Result<Reply, AriError> {
    control(&ari, &args, RecordingCommand::Unmute)
}

// ---- stored recordings ----

async fn list_stored(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let list: Vec<Value> = ari
        .switch()
        .stored_recordings()
        .iter()
        .map(json::stored_recording)
        .collect();
    Ok(Reply::Json(list.into()))
}

async fn get_stored(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let recording = ari
        .switch()
        .stored_recording(args.path("recordingName"))
        .map_err(|_| not_found())?;
    Ok(Reply::Json(json::stored_recording(&recording)))
}

async fn delete_stored(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = args.path("recordingName").to_owned();
    let switch = ari.switch().clone();
    // File and database work: off the async workers.
    let deleted = tokio::task::spawn_blocking(move || switch.delete_stored_recording(&name))
        .await
        .map_err(|e| AriError::new(500, e.to_string()))?;
    deleted.map_err(|e| match e {
        ControlError::NotFound => not_found(),
        other => AriError::new(500, other.to_string()),
    })?;
    Ok(Reply::NoContent)
}

async fn copy_stored(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = args.path("recordingName").to_owned();
    let destination = args
        .str("destinationRecordingName")
        .ok_or_else(|| {
            AriError::bad_request("Missing required parameter destinationRecordingName")
        })?
        .to_owned();
    let switch = ari.switch().clone();
    let copied =
        tokio::task::spawn_blocking(move || switch.copy_stored_recording(&name, &destination))
            .await
            .map_err(|e| AriError::new(500, e.to_string()))?;
    let copy = copied.map_err(|e| match e {
        ControlError::NotFound => not_found(),
        ControlError::Conflict(_) => {
            AriError::conflict("A recording with the same name already exists on the system")
        }
        ControlError::Invalid(why) if why.contains("name") => {
            AriError::bad_request("Invalid destination recording name")
        }
        other => AriError::new(500, other.to_string()),
    })?;
    Ok(Reply::Json(json::stored_recording(&copy)))
}

/// The MIME type of a recording format.
fn content_type(format: &str) -> &'static str {
    match format {
        "wav" => "audio/wav",
        "ulaw" => "audio/basic",
        "alaw" => "audio/x-alaw-basic",
        _ => "application/octet-stream",
    }
}

async fn get_stored_file(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let recording = ari
        .switch()
        .stored_recording(args.path("recordingName"))
        .map_err(|_| not_found())?;
    let path = recording.path.clone();
    let read = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(|e| AriError::new(500, e.to_string()))?;
    let body = read.map_err(|e| {
        tracing::warn!(path = %recording.path, error = %e, "ARI: stored recording unreadable");
        AriError::new(403, "The recording file could not be opened")
    })?;
    let filename = std::path::Path::new(&recording.path)
        .file_name()
        .map_or_else(
            || format!("{}.{}", recording.name, recording.format),
            |f| f.to_string_lossy().into_owned(),
        );
    Ok(Reply::File {
        content_type: content_type(&recording.format),
        filename,
        body,
    })
}
