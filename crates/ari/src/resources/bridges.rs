//! `bridges`: declared in full; the core has no bridges yet, so the list is empty, a
//! bridge is never found, and the operations that would make one answer 501.

use super::not_implemented;
use crate::decl::{api, h, op, Method::*, Operation, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

const BRIDGE_ID: &str = "Bridge's id";
const TYPES: &str = "Comma separated list of bridge type attributes (mixing, holding, dtmf_events, proxy_media, video_sfu, video_single, sdp_label).";

fn play_params(o: Operation) -> Operation {
    o.query("media", "string", "Media URIs to play.")
        .required()
        .multi()
        .query("lang", "string", "For sounds, selects language for sound.")
        .query("offsetms", "int", "Number of milliseconds to skip before playing. Only applies to the first URI if multiple media URIs are specified.")
        .default(0)
        .range(Some(0), None)
        .query("skipms", "int", "Number of milliseconds to skip for forward/reverse operations.")
        .default(3000)
        .range(Some(0), None)
        .error(404, "Bridge not found")
        .error(409, "Bridge not in a Stasis application")
}

pub fn resource() -> Resource {
    Resource {
        name: "bridges",
        description: "Bridge resources",
        models: &[models::BRIDGES],
        apis: vec![
            api("/bridges", "Active bridges", vec![
                op(Get, "list", "List all active bridges in Asterisk.", "List[Bridge]", h!(list)),
                op(Post, "create", "Create a new bridge.", "Bridge", h!(not_implemented))
                    .notes("This bridge persists until it has been shut down, or Asterisk has been shut down.")
                    .query("type", "string", TYPES)
                    .query("bridgeId", "string", "Unique ID to give to the bridge being created.")
                    .query("name", "string", "Name to give to the bridge being created.")
                    .error(409, "Bridge with the same bridgeId already exists"),
            ]),
            api("/bridges/{bridgeId}", "Individual bridge", vec![
                op(Post, "createWithId", "Create a new bridge or updates an existing one.", "Bridge", h!(not_implemented))
                    .notes("This bridge persists until it has been shut down, or Asterisk has been shut down.")
                    .path("bridgeId", "Unique ID to give to the bridge being created.")
                    .query("type", "string", TYPES)
                    .query("name", "string", "Set the name of the bridge.")
                    .error(409, "Bridge with the same bridgeId already exists"),
                op(Get, "get", "Get bridge details.", "Bridge", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found"),
                op(Delete, "destroy", "Shut down a bridge.", "void", h!(get))
                    .notes("If any channels are in this bridge, they will be removed and resume whatever they were doing beforehand.")
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found"),
            ]),
            api("/bridges/{bridgeId}/addChannel", "Add a channel to a bridge", vec![
                op(Post, "addChannel", "Add a channel to a bridge.", "void", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .query("channel", "string", "Ids of channels to add to bridge").required().multi()
                    .query("role", "string", "Channel's role in the bridge")
                    .query("absorbDTMF", "boolean", "Absorb DTMF coming from this channel, preventing it to pass through to the bridge").default(false)
                    .query("mute", "boolean", "Mute audio from this channel, preventing it to pass through to the bridge").default(false)
                    .query("inhibitConnectedLineUpdates", "boolean", "Do not present the identity of the newly connected channel to other bridge members").default(false)
                    .error(400, "Channel not found")
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application; Channel currently recording")
                    .error(422, "Channel not in Stasis application"),
            ]),
            api("/bridges/{bridgeId}/removeChannel", "Remove a channel from a bridge", vec![
                op(Post, "removeChannel", "Remove a channel from a bridge.", "void", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .query("channel", "string", "Ids of channels to remove from bridge").required().multi()
                    .error(400, "Channel not found")
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application")
                    .error(422, "Channel not in this bridge"),
            ]),
            api("/bridges/{bridgeId}/videoSource/{channelId}", "Set a channel as the video source in a multi-party bridge", vec![
                op(Post, "setVideoSource", "Set a channel as the video source in a multi-party mixing bridge. This operation has no effect on bridges with two or fewer participants.", "void", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .path("channelId", "Channel's id")
                    .error(404, "Bridge or Channel not found")
                    .error(409, "Channel not in Stasis application")
                    .error(422, "Channel not in this Bridge"),
            ]),
            api("/bridges/{bridgeId}/videoSource", "Removes any explicit video source", vec![
                op(Delete, "clearVideoSource", "Removes any explicit video source in a multi-party mixing bridge. This operation has no effect on bridges with two or fewer participants. When no explicit video source is set, talk detection will be used to determine the active video stream.", "void", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found"),
            ]),
            api("/bridges/{bridgeId}/moh", "Play music on hold to a bridge", vec![
                op(Post, "startMoh", "Play music on hold to a bridge or change the MOH class that is playing.", "void", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .query("mohClass", "string", "Channel's id")
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application"),
                op(Delete, "stopMoh", "Stop playing music on hold to a bridge.", "void", h!(get))
                    .notes("This will only stop music on hold being played via POST bridges/{bridgeId}/moh.")
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application"),
            ]),
            api("/bridges/{bridgeId}/play", "Play media to the participants of a bridge", vec![
                play_params(op(Post, "play", "Start playback of media on a bridge.", "Playback", h!(get))
                    .notes("The media URI may be any of a number of URI's. Currently sound:, recording:, number:, digits:, characters:, and tone: URI's are supported. This operation creates a playback resource that can be used to control the playback of media (pause, rewind, fast forward, etc.)")
                    .path("bridgeId", BRIDGE_ID))
                    .query("playbackId", "string", "Playback Id."),
            ]),
            api("/bridges/{bridgeId}/play/{playbackId}", "Play media to a bridge", vec![
                play_params(op(Post, "playWithId", "Start playback of media on a bridge.", "Playback", h!(get))
                    .notes("The media URI may be any of a number of URI's. Currently sound:, recording:, number:, digits:, characters:, and tone: URI's are supported. This operation creates a playback resource that can be used to control the playback of media (pause, rewind, fast forward, etc.)")
                    .path("bridgeId", BRIDGE_ID)
                    .path("playbackId", "Playback ID.")),
            ]),
            api("/bridges/{bridgeId}/record", "Record audio on a bridge", vec![
                op(Post, "record", "Start a recording.", "LiveRecording", h!(get))
                    .notes("This records the mixed audio from all channels participating in this bridge.")
                    .path("bridgeId", BRIDGE_ID)
                    .query("name", "string", "Recording's filename").required()
                    .query("format", "string", "Format to encode audio in").required()
                    .query("maxDurationSeconds", "int", "Maximum duration of the recording, in seconds. 0 for no limit.").default(0).range(Some(0), None)
                    .query("maxSilenceSeconds", "int", "Maximum duration of silence, in seconds. 0 for no limit.").default(0).range(Some(0), None)
                    .query("ifExists", "string", "Action to take if a recording with the same name already exists.").default("fail").values(&["fail", "overwrite", "append"])
                    .query("beep", "boolean", "Play beep when recording begins").default(false)
                    .query("terminateOn", "string", "DTMF input to terminate recording.").default("none").values(&["none", "any", "*", "#"])
                    .error(400, "Invalid parameters")
                    .error(404, "Bridge not found")
                    .error(409, "Bridge is not in a Stasis application; A recording with the same name already exists on the system and can not be overwritten because it is in progress or ifExists=fail")
                    .error(422, "The format specified is unknown on this system"),
            ]),
        ],
    }
}

async fn list(_ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Ok(Reply::Json(serde_json::Value::Array(Vec::new())))
}

/// No bridge exists yet: every operation on one finds nothing.
async fn get(_ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Err(AriError::not_found("Bridge not found"))
}
