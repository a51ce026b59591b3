//! `bridges`: create (mixing or holding), list, get, destroy, add / remove channels,
//! play, record and music on hold, over the core's bridges. The bridges made here
//! are Asterisk's Stasis bridges; the dialplan's (Dial, ConfBridge) can be listed and
//! read but not controlled (409).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use switchboard_core::recording::RecordTarget;
use switchboard_core::{
    AddToBridge, Bridge, BridgeKind, Channel, ControlError, NewBridge, Play, PlaybackTarget,
    DEFAULT_SKIP_MS,
};

use crate::decl::{api, h, op, Method::*, Operation, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::resources::channels::check_media;
use crate::resources::recordings::{record_options, start_recording};
use crate::{json, models, Ari, STASIS_CREATOR};

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
                op(Post, "create", "Create a new bridge.", "Bridge", h!(create))
                    .notes("This bridge persists until it has been shut down, or Asterisk has been shut down.")
                    .query("type", "string", TYPES)
                    .query("bridgeId", "string", "Unique ID to give to the bridge being created.")
                    .query("name", "string", "Name to give to the bridge being created.")
                    .error(409, "Bridge with the same bridgeId already exists"),
            ]),
            api("/bridges/{bridgeId}", "Individual bridge", vec![
                op(Post, "createWithId", "Create a new bridge or updates an existing one.", "Bridge", h!(create_with_id))
                    .notes("This bridge persists until it has been shut down, or Asterisk has been shut down.")
                    .path("bridgeId", "Unique ID to give to the bridge being created.")
                    .query("type", "string", TYPES)
                    .query("name", "string", "Set the name of the bridge.")
                    .error(409, "Bridge with the same bridgeId already exists"),
                op(Get, "get", "Get bridge details.", "Bridge", h!(get))
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found"),
                op(Delete, "destroy", "Shut down a bridge.", "void", h!(destroy))
                    .notes("If any channels are in this bridge, they will be removed and resume whatever they were doing beforehand.")
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application"),
            ]),
            api("/bridges/{bridgeId}/addChannel", "Add a channel to a bridge", vec![
                op(Post, "addChannel", "Add a channel to a bridge.", "void", h!(add_channel))
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
                op(Post, "removeChannel", "Remove a channel from a bridge.", "void", h!(remove_channel))
                    .path("bridgeId", BRIDGE_ID)
                    .query("channel", "string", "Ids of channels to remove from bridge").required().multi()
                    .error(400, "Channel not found")
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application")
                    .error(422, "Channel not in this bridge"),
            ]),
            api("/bridges/{bridgeId}/videoSource/{channelId}", "Set a channel as the video source in a multi-party bridge", vec![
                op(Post, "setVideoSource", "Set a channel as the video source in a multi-party mixing bridge. This operation has no effect on bridges with two or fewer participants.", "void", h!(set_video_source))
                    .path("bridgeId", BRIDGE_ID)
                    .path("channelId", "Channel's id")
                    .error(404, "Bridge or Channel not found")
                    .error(409, "Channel not in Stasis application")
                    .error(422, "Channel not in this Bridge"),
            ]),
            api("/bridges/{bridgeId}/videoSource", "Removes any explicit video source", vec![
                op(Delete, "clearVideoSource", "Removes any explicit video source in a multi-party mixing bridge. This operation has no effect on bridges with two or fewer participants. When no explicit video source is set, talk detection will be used to determine the active video stream.", "void", h!(clear_video_source))
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found"),
            ]),
            api("/bridges/{bridgeId}/moh", "Play music on hold to a bridge", vec![
                op(Post, "startMoh", "Play music on hold to a bridge or change the MOH class that is playing.", "void", h!(start_moh))
                    .path("bridgeId", BRIDGE_ID)
                    .query("mohClass", "string", "Music on hold class to use (default: default)")
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application"),
                op(Delete, "stopMoh", "Stop playing music on hold to a bridge.", "void", h!(stop_moh))
                    .notes("This will only stop music on hold being played via POST bridges/{bridgeId}/moh.")
                    .path("bridgeId", BRIDGE_ID)
                    .error(404, "Bridge not found")
                    .error(409, "Bridge not in Stasis application; Bridge is not playing music on hold"),
            ]),
            api("/bridges/{bridgeId}/play", "Play media to the participants of a bridge", vec![
                play_params(op(Post, "play", "Start playback of media on a bridge.", "Playback", h!(play))
                    .notes("The media URI may be any of a number of URI's. Currently sound:, recording:, number:, digits:, characters:, and tone: URI's are supported. This operation creates a playback resource that can be used to control the playback of media (pause, rewind, fast forward, etc.)")
                    .path("bridgeId", BRIDGE_ID))
                    .query("playbackId", "string", "Playback Id."),
            ]),
            api("/bridges/{bridgeId}/play/{playbackId}", "Play media to a bridge", vec![
                play_params(op(Post, "playWithId", "Start playback of media on a bridge.", "Playback", h!(play))
                    .notes("The media URI may be any of a number of URI's. Currently sound:, recording:, number:, digits:, characters:, and tone: URI's are supported. This operation creates a playback resource that can be used to control the playback of media (pause, rewind, fast forward, etc.)")
                    .path("bridgeId", BRIDGE_ID)
                    .path("playbackId", "Playback ID.")),
            ]),
            api("/bridges/{bridgeId}/record", "Record audio on a bridge", vec![
                op(Post, "record", "Start a recording.", "LiveRecording", h!(record))
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

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let bridges: Vec<Value> = ari
        .switch()
        .bridges()
        .iter()
        .map(|b| json::bridge(b.as_ref()))
        .collect();
    Ok(Reply::Json(bridges.into()))
}

fn not_found() -> AriError {
    AriError::not_found("Bridge not found")
}

/// A bridge that exists (404) and was made through ARI (409), as Asterisk's
/// `find_bridge`.
fn stasis_bridge(ari: &Ari, id: &str) -> Result<Arc<Bridge>, AriError> {
    let bridge = ari.switch().bridge(id).map_err(|_| not_found())?;
    if !ari.is_stasis_bridge(id) {
        return Err(AriError::conflict("Bridge not in Stasis application"));
    }
    Ok(bridge)
}

/// `type`: a comma list of attributes; mixing or holding (not both) picks the kind,
/// the others (dtmf_events, proxy_media, video_*, sdp_label) change nothing here.
fn bridge_kind(types: Option<&str>) -> Result<BridgeKind, AriError> {
    let mut kind = None;
    for attribute in types.unwrap_or("mixing").split(',').map(str::trim) {
        let this = match attribute {
            "mixing" => BridgeKind::Mixing,
            "holding" => BridgeKind::Holding,
            "" | "dtmf_events" | "proxy_media" | "video_sfu" | "video_single" | "sdp_label" => {
                continue
            }
            other => {
                return Err(AriError::bad_request(format!(
                    "Invalid bridge type {other:?} (mixing, holding, dtmf_events, proxy_media, video_sfu, video_single, sdp_label)"
                )))
            }
        };
        if kind.is_some_and(|k| k != this) {
            return Err(AriError::bad_request(
                "A bridge cannot be both mixing and holding",
            ));
        }
        kind = Some(this);
    }
    Ok(kind.unwrap_or(BridgeKind::Mixing))
}

/// Makes a Stasis bridge (its creator is set at creation, so that its BridgeCreated
/// already describes it as one).
fn make_bridge(ari: &Ari, args: &Args, id: Option<&str>) -> Result<Reply, AriError> {
    let kind = bridge_kind(args.str("type"))?;
    let id = id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    if ari.switch().bridge(&id).is_ok() {
        return Err(AriError::conflict(format!(
            "Bridge with id '{id}' already exists"
        )));
    }
    let new = NewBridge {
        kind,
        name: args.str("name").unwrap_or_default().to_owned(),
        id: Some(id.clone()),
        transient: false,
        creator: STASIS_CREATOR.to_owned(),
    };
    match ari.switch().create_bridge(new) {
        Ok(bridge) => Ok(Reply::Json(json::bridge(&bridge))),
        Err(ControlError::Conflict(_)) => Err(AriError::conflict(format!(
            "Bridge with id '{id}' already exists"
        ))),
        Err(other) => Err(AriError::new(
            500,
            format!("Unable to create bridge: {other}"),
        )),
    }
}

async fn create(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.str("bridgeId").map(str::to_owned);
    make_bridge(&ari, &args, id.as_deref())
}

/// Creates the bridge, or answers the existing one when nothing would change (its
/// name and type cannot be changed, as in Asterisk).
async fn create_with_id(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.path("bridgeId").to_owned();
    let Ok(existing) = ari.switch().bridge(&id) else {
        return make_bridge(&ari, &args, Some(&id));
    };
    if !ari.is_stasis_bridge(&id) {
        return Err(AriError::conflict(format!(
            "Bridge with id '{id}' already exists"
        )));
    }
    if args.str("name").is_some_and(|n| n != existing.name) {
        return Err(AriError::conflict(
            "Changing bridge name is not implemented",
        ));
    }
    if args.str("type").is_some() {
        return Err(AriError::conflict(
            "Supplying a bridge type when updating a bridge is not allowed.",
        ));
    }
    Ok(Reply::Json(json::bridge(&existing)))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = ari
        .switch()
        .bridge(args.path("bridgeId"))
        .map_err(|_| not_found())?;
    Ok(Reply::Json(json::bridge(&bridge)))
}

async fn destroy(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    ari.switch()
        .destroy_bridge(&bridge.id)
        .map_err(|_| not_found())?;
    Ok(Reply::NoContent)
}

/// The channels of an add / remove request, each existing (400) and in Stasis
/// (422), as Asterisk's `control_list_create`.
fn stasis_channels(ari: &Ari, args: &Args) -> Result<Vec<Arc<Channel>>, AriError> {
    let ids = args.list("channel");
    if ids.is_empty() {
        return Err(AriError::bad_request("Missing required parameter channel"));
    }
    let mut seen = BTreeSet::new();
    let mut channels = Vec::new();
    for id in ids {
        let channel = ari
            .switch()
            .channel(&id)
            .map_err(|_| AriError::bad_request("Channel not found"))?;
        if !channel.in_stasis() {
            return Err(AriError::unprocessable("Channel not in Stasis application"));
        }
        if seen.insert(id) {
            channels.push(channel);
        }
    }
    Ok(channels)
}

async fn add_channel(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    let channels = stasis_channels(&ari, &args)?;
    for channel in &channels {
        // A channel recording on its own cannot join (Asterisk's 409).
        if ari.switch().channel_recording(&channel.id) {
            return Err(AriError::conflict(format!(
                "Channel {} currently recording",
                channel.id
            )));
        }
    }
    if let Some(role) = args.str("role") {
        tracing::debug!(bridge = %bridge.id, role, "ARI addChannel: roles have no effect here");
    }
    if args.bool("absorbDTMF") == Some(true) {
        tracing::debug!(bridge = %bridge.id, "ARI addChannel: absorbDTMF is not supported; DTMF passes");
    }
    let options = AddToBridge {
        mute: args.bool("mute") == Some(true),
    };
    for channel in &channels {
        ari.switch()
            .add_to_bridge_with(&bridge.id, &channel.id, options.clone())
            .map_err(|e| match e {
                ControlError::NotFound if ari.switch().bridge(&bridge.id).is_err() => not_found(),
                ControlError::NotFound => AriError::bad_request("Channel not found"),
                other => AriError::new(500, other.to_string()),
            })?;
    }
    Ok(Reply::NoContent)
}

async fn remove_channel(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    let channels = stasis_channels(&ari, &args)?;
    if let Some(outside) = channels.iter().find(|c| !bridge.contains(&c.id)) {
        tracing::debug!(bridge = %bridge.id, channel = %outside.id, "ARI removeChannel: not in the bridge");
        return Err(AriError::unprocessable("Channel not in this bridge"));
    }
    for channel in &channels {
        ari.switch()
            .remove_from_bridge(&bridge.id, &channel.id)
            .map_err(|e| match e {
                ControlError::NotFound => not_found(),
                _ => AriError::unprocessable("Channel not in this bridge"),
            })?;
    }
    Ok(Reply::NoContent)
}

/// Audio only: the video source is accepted and has no effect.
async fn set_video_source(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = ari
        .switch()
        .bridge(args.path("bridgeId"))
        .map_err(|_| AriError::not_found("Bridge or Channel not found"))?;
    let channel = ari
        .switch()
        .channel(args.path("channelId"))
        .map_err(|_| AriError::not_found("Bridge or Channel not found"))?;
    if !channel.in_stasis() {
        return Err(AriError::conflict("Channel not in Stasis application"));
    }
    if !bridge.contains(&channel.id) {
        return Err(AriError::unprocessable("Channel not in this Bridge"));
    }
    Ok(Reply::NoContent)
}

async fn clear_video_source(ari: Ari, args: Args) -> Result<Reply, AriError> {
    ari.switch()
        .bridge(args.path("bridgeId"))
        .map_err(|_| not_found())?;
    Ok(Reply::NoContent)
}

/// Music on hold into the bridge (`moh:<class>` played to every member), replacing
/// the bridge's previous one.
async fn start_moh(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    let mut class = args.str("mohClass").unwrap_or("default");
    if !ari.switch().config().musiconhold.contains_key(class) {
        // Asterisk falls back to its default class and answers 204 whatever happens.
        tracing::warn!(bridge = %bridge.id, class, "ARI bridge MOH: no such music-on-hold class");
        class = "default";
    }
    match ari.switch().start_bridge_moh(&bridge.id, class) {
        Ok(()) => {}
        Err(ControlError::NotFound) => return Err(not_found()),
        // No music to play: Asterisk still answers 204.
        Err(e) => tracing::warn!(bridge = %bridge.id, class, error = %e, "ARI bridge MOH"),
    }
    Ok(Reply::NoContent)
}

async fn stop_moh(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    ari.switch()
        .stop_bridge_moh(&bridge.id)
        .map_err(|_| AriError::conflict("Bridge isn't playing music on hold"))?;
    Ok(Reply::NoContent)
}

async fn play(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    let media = args.list("media");
    check_media(&media)?;
    let play = Play {
        target: PlaybackTarget::Bridge(bridge.id.clone()),
        media,
        lang: args.str("lang").map(str::to_owned),
        offset_ms: 0,
        skip_ms: args.int("skipms").unwrap_or(DEFAULT_SKIP_MS),
        playback_id: args.str("playbackId").map(str::to_owned),
    };
    let playback = ari.switch().play(play).map_err(|e| match e {
        ControlError::NotFound => not_found(),
        ControlError::Invalid(why) => AriError::bad_request(why),
        ControlError::Conflict(why) => AriError::conflict(why),
        other => AriError::new(500, other.to_string()),
    })?;
    Ok(super::playbacks::created(&playback))
}

/// Records the bridge's mix.
async fn record(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let bridge = stasis_bridge(&ari, args.path("bridgeId"))?;
    let options = record_options(&args)?;
    start_recording(
        &ari,
        RecordTarget::Bridge(bridge.id.clone()),
        options,
        not_found,
    )
}
