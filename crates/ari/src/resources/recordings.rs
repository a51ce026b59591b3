//! `recordings`: declared in full; the core records nothing yet, so no recording is
//! ever found (the stored list is empty).

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

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
                op(Get, "getStored", "Get a stored recording's details.", "StoredRecording", h!(not_found))
                    .path("recordingName", STORED)
                    .error(404, "Recording not found"),
                op(Delete, "deleteStored", "Delete a stored recording.", "void", h!(not_found))
                    .path("recordingName", STORED)
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/stored/{recordingName}/file", "The actual file associated with the stored recording", vec![
                op(Get, "getStoredFile", "Get the file associated with the stored recording.", "binary", h!(not_found))
                    .path("recordingName", STORED)
                    .error(403, "The recording file could not be opened")
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/stored/{recordingName}/copy", "Copy an individual recording", vec![
                op(Post, "copyStored", "Copy a stored recording.", "StoredRecording", h!(not_found))
                    .path("recordingName", "The name of the recording to copy")
                    .query("destinationRecordingName", "string", "The destination name of the recording").required()
                    .error(404, "Recording not found")
                    .error(409, "A recording with the same name already exists on the system"),
            ]),
            api("/recordings/live/{recordingName}", "A recording that is in progress", vec![
                op(Get, "getLive", "List live recordings.", "LiveRecording", h!(not_found))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found"),
                op(Delete, "cancel", "Stop a live recording and discard it.", "void", h!(not_found))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/live/{recordingName}/stop", "", vec![
                op(Post, "stop", "Stop a live recording and store it.", "void", h!(not_found))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found"),
            ]),
            api("/recordings/live/{recordingName}/pause", "", vec![
                op(Post, "pause", "Pause a live recording.", "void", h!(not_found))
                    .notes("Pausing a recording suspends silence detection, which will be restarted when the recording is unpaused. Paused time is not included in the accounting for maxDurationSeconds.")
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
                op(Delete, "unpause", "Unpause a live recording.", "void", h!(not_found))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
            ]),
            api("/recordings/live/{recordingName}/mute", "", vec![
                op(Post, "mute", "Mute a live recording.", "void", h!(not_found))
                    .notes("Muting a recording suspends silence detection, which will be restarted when the recording is unmuted.")
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
                op(Delete, "unmute", "Unmute a live recording.", "void", h!(not_found))
                    .path("recordingName", LIVE)
                    .error(404, "Recording not found")
                    .error(409, "Recording not in session"),
            ]),
        ],
    }
}

async fn list_stored(_ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Ok(Reply::Json(serde_json::Value::Array(Vec::new())))
}

async fn not_found(_ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Err(AriError::not_found("Recording not found"))
}
