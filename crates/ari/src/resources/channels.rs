//! `channels`: the seed's channels resource, every operation declared as the seed
//! declares it. Only external media over a transport other than rtp/udp or
//! audiosocket/tcp answers 501.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_core::features::MuteDirection;
use switchboard_core::header_value::check_variable;
use switchboard_core::recording::RecordTarget;
use switchboard_core::snoop::{Encapsulation, SnoopDirection};
use switchboard_core::{
    CallerId, Cause, Channel, ChannelState, ControlError, Direction, Originate, OriginateError,
    Play, PlaybackTarget, Then, DEFAULT_SKIP_MS,
};

use crate::decl::{api, h, op, Method::*, Operation, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{json, models, Ari};

const CHANNEL_ID: &str = "Channel's id";
const NOT_FOUND: (u16, &str) = (404, "Channel not found");
const NOT_IN_STASIS: (u16, &str) = (409, "Channel not in a Stasis application");
const BAD_STATE: (u16, &str) = (412, "Channel in invalid state");

const HANGUP_REASONS: &[&str] = &[
    "normal",
    "busy",
    "congestion",
    "no_answer",
    "timeout",
    "rejected",
    "unallocated",
    "normal_unspecified",
    "number_incomplete",
    "codec_mismatch",
    "interworking",
    "failure",
    "answered_elsewhere",
];
const DIRECTIONS: &[&str] = &["both", "in", "out"];
const SPY: &[&str] = &["none", "both", "out", "in"];
const VARIABLES: &str = "The \"variables\" key in the body object holds variable key/value pairs to set on the channel on creation. Other keys in the body object are interpreted as query parameters. Ex. { \"endpoint\": \"SIP/Alice\", \"variables\": { \"CALLERID(name)\": \"Alice\" } }";
const PLAY_NOTES: &str = "The media URI may be any of a number of URI's. Currently sound:, recording:, number:, digits:, characters:, and tone: URI's are supported. This operation creates a playback resource that can be used to control the playback of media (pause, rewind, fast forward, etc.)";
const ORIGINATE_NOTES: &str = "The new channel is created immediately and a snapshot of it returned. If a Stasis application is provided it will be automatically subscribed to the originated channel for further events and updates.";

/// The 404/409/412 trio of most channel operations.
fn control(o: Operation) -> Operation {
    o.error(NOT_FOUND.0, NOT_FOUND.1)
        .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1)
        .error(BAD_STATE.0, BAD_STATE.1)
}

/// The parameters of originate after `endpoint` (shared with originateWithId).
fn originate_params(o: Operation, with_channel_id: bool) -> Operation {
    let o = o
        .query("extension", "string", "The extension to dial after the endpoint answers. Mutually exclusive with 'app'.")
        .query("context", "string", "The context to dial after the endpoint answers. If omitted, uses 'default'. Mutually exclusive with 'app'.")
        .query("priority", "long", "The priority to dial after the endpoint answers. If omitted, uses 1. Mutually exclusive with 'app'.")
        .query("label", "string", "The label to dial after the endpoint answers. Will supersede 'priority' if provided. Mutually exclusive with 'app'.")
        .query("app", "string", "The application that is subscribed to the originated channel. When the channel is answered, it will be passed to this Stasis application. Mutually exclusive with 'context', 'extension', 'priority', and 'label'.")
        .query("appArgs", "string", "The application arguments to pass to the Stasis application provided by 'app'. Mutually exclusive with 'context', 'extension', 'priority', and 'label'.")
        .query("callerId", "string", "CallerID to use when dialing the endpoint or extension.")
        .query("timeout", "int", "Timeout (in seconds) before giving up dialing, or -1 for no timeout.")
        .default(30)
        .body("variables", VARIABLES);
    let o = if with_channel_id {
        o.query(
            "channelId",
            "string",
            "The unique id to assign the channel on creation.",
        )
    } else {
        o
    };
    o.query("otherChannelId", "string", "The unique id to assign the second channel when using local channels.")
        .query("originator", "string", "The unique id of the channel which is originating this one.")
        .query("formats", "string", "The format name capability list to use if originator is not specified. Ex. \"ulaw,slin16\". Format names can be found with \"core show codecs\".")
        .error(400, "Invalid parameters for originating a channel.")
        .error(409, "Channel with given unique ID already exists.")
}

fn record_params(o: Operation) -> Operation {
    o.query("name", "string", "Recording's filename")
        .required()
        .query("format", "string", "Format to encode audio in")
        .required()
        .query(
            "maxDurationSeconds",
            "int",
            "Maximum duration of the recording, in seconds. 0 for no limit",
        )
        .default(0)
        .range(Some(0), None)
        .query(
            "maxSilenceSeconds",
            "int",
            "Maximum duration of silence, in seconds. 0 for no limit",
        )
        .default(0)
        .range(Some(0), None)
        .query(
            "ifExists",
            "string",
            "Action to take if a recording with the same name already exists.",
        )
        .default("fail")
        .values(&["fail", "overwrite", "append"])
        .query("beep", "boolean", "Play beep when recording begins")
        .default(false)
        .query("terminateOn", "string", "DTMF input to terminate recording")
        .default("none")
        .values(&["none", "any", "*", "#"])
}

fn play_params(o: Operation) -> Operation {
    o.query("media", "string", "Media URIs to play.")
        .required()
        .multi()
        .query("lang", "string", "For sounds, selects language for sound.")
        .query("offsetms", "int", "Number of milliseconds to skip before playing. Only applies to the first URI if multiple media URIs are specified.")
        .query("skipms", "int", "Number of milliseconds to skip for forward/reverse operations.")
        .default(3000)
}

fn snoop_params(o: Operation) -> Operation {
    o.query("spy", "string", "Direction of audio to spy on")
        .default("none")
        .values(SPY)
        .query("whisper", "string", "Direction of audio to whisper into")
        .default("none")
        .values(SPY)
        .query(
            "app",
            "string",
            "Application the snooping channel is placed into",
        )
        .required()
        .query(
            "appArgs",
            "string",
            "The application arguments to pass to the Stasis application",
        )
}

pub fn resource() -> Resource {
    Resource {
        name: "channels",
        description: "Channel resources",
        models: &[models::CHANNELS],
        apis: vec![
            api("/channels", "Active channels", vec![
                op(Get, "list", "List all active channels in Asterisk.", "List[Channel]", h!(list)),
                originate_params(
                    op(Post, "originate", "Create a new channel (originate).", "Channel", h!(originate))
                        .notes(ORIGINATE_NOTES)
                        .query("endpoint", "string", "Endpoint to call.")
                        .required(),
                    true,
                ),
            ]),
            api("/channels/create", "Create a channel and place it in a Stasis app, but do not dial the channel yet.", vec![
                op(Post, "create", "Create channel.", "Channel", h!(create))
                    .query("endpoint", "string", "Endpoint for channel communication").required()
                    .query("app", "string", "Stasis Application to place channel into").required()
                    .query("appArgs", "string", "The application arguments to pass to the Stasis application provided by 'app'. Mutually exclusive with 'context', 'extension', 'priority', and 'label'.")
                    .query("channelId", "string", "The unique id to assign the channel on creation.")
                    .query("otherChannelId", "string", "The unique id to assign the second channel when using local channels.")
                    .query("originator", "string", "Unique ID of the calling channel")
                    .query("formats", "string", "The format name capability list to use if originator is not specified. Ex. \"ulaw,slin16\". Format names can be found with \"core show codecs\".")
                    .body("variables", VARIABLES)
                    .error(409, "Channel with given unique ID already exists."),
            ]),
            api("/channels/{channelId}", "Active channel", vec![
                op(Get, "get", "Channel details.", "Channel", h!(get))
                    .path("channelId", CHANNEL_ID)
                    .error(NOT_FOUND.0, NOT_FOUND.1),
                originate_params(
                    op(Post, "originateWithId", "Create a new channel (originate with id).", "Channel", h!(originate_with_id))
                        .notes(ORIGINATE_NOTES)
                        .path("channelId", "The unique id to assign the channel on creation.")
                        .query("endpoint", "string", "Endpoint to call.")
                        .required(),
                    false,
                ),
                op(Delete, "hangup", "Delete (i.e. hangup) a channel.", "void", h!(hangup))
                    .path("channelId", CHANNEL_ID)
                    .query("reason_code", "string", "The reason code for hanging up the channel for detail use. Mutually exclusive with 'reason'. See detail hangup codes at here. https://docs.asterisk.org/Configuration/Miscellaneous/Hangup-Cause-Mappings/")
                    .query("reason", "string", "Reason for hanging up the channel for simple use. Mutually exclusive with 'reason_code'.")
                    .values(HANGUP_REASONS)
                    .error(400, "Invalid reason for hangup provided")
                    .error(NOT_FOUND.0, NOT_FOUND.1),
            ]),
            api("/channels/{channelId}/continue", "Exit application; continue execution in the dialplan", vec![
                control(op(Post, "continueInDialplan", "Exit application; continue execution in the dialplan.", "void", h!(continue_in_dialplan))
                    .path("channelId", CHANNEL_ID)
                    .query("context", "string", "The context to continue to.")
                    .query("extension", "string", "The extension to continue to.")
                    .query("priority", "int", "The priority to continue to.")
                    .query("label", "string", "The label to continue to - will supersede 'priority' if both are provided.")),
            ]),
            api("/channels/{channelId}/move", "Move the channel from one Stasis application to another.", vec![
                op(Post, "move", "Move the channel from one Stasis application to another.", "void", h!(move_channel))
                    .path("channelId", CHANNEL_ID)
                    .query("app", "string", "The channel will be passed to this Stasis application.").required()
                    .query("appArgs", "string", "The application arguments to pass to the Stasis application provided by 'app'.")
                    .error(NOT_FOUND.0, NOT_FOUND.1)
                    .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1),
            ]),
            api("/channels/{channelId}/redirect", "Inform the channel that it should redirect itself to a different location. Note that this will almost certainly cause the channel to exit the application.", vec![
                op(Post, "redirect", "Redirect the channel to a different location.", "void", h!(redirect))
                    .path("channelId", CHANNEL_ID)
                    .query("endpoint", "string", "The endpoint to redirect the channel to").required()
                    .error(400, "Endpoint parameter not provided")
                    .error(404, "Channel or endpoint not found")
                    .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1)
                    .error(422, "Endpoint is not the same type as the channel")
                    .error(BAD_STATE.0, BAD_STATE.1),
            ]),
            api("/channels/{channelId}/answer", "Answer a channel", vec![
                control(op(Post, "answer", "Answer a channel.", "void", h!(answer)).path("channelId", CHANNEL_ID)),
            ]),
            api("/channels/{channelId}/ring", "Send a ringing indication to a channel", vec![
                control(op(Post, "ring", "Indicate ringing to a channel.", "void", h!(ring)).path("channelId", CHANNEL_ID)),
                control(op(Delete, "ringStop", "Stop ringing indication on a channel if locally generated.", "void", h!(ring_stop)).path("channelId", CHANNEL_ID)),
            ]),
            api("/channels/{channelId}/progress", "Indicate progress on a channel", vec![
                control(op(Post, "progress", "Indicate progress on a channel.", "void", h!(progress)).path("channelId", CHANNEL_ID)),
            ]),
            api("/channels/{channelId}/dtmf", "Send DTMF to a channel", vec![
                op(Post, "sendDTMF", "Send provided DTMF to a given channel.", "void", h!(send_dtmf))
                    .path("channelId", CHANNEL_ID)
                    .query("dtmf", "string", "DTMF To send.")
                    .query("before", "int", "Amount of time to wait before DTMF digits (specified in milliseconds) start.").default(0)
                    .query("between", "int", "Amount of time in between DTMF digits (specified in milliseconds).").default(100)
                    .query("duration", "int", "Length of each DTMF digit (specified in milliseconds).").default(100)
                    .query("after", "int", "Amount of time to wait after DTMF digits (specified in milliseconds) end.").default(0)
                    .error(400, "DTMF is required")
                    .error(NOT_FOUND.0, NOT_FOUND.1)
                    .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1)
                    .error(BAD_STATE.0, BAD_STATE.1),
            ]),
            api("/channels/{channelId}/mute", "Mute a channel", vec![
                control(op(Post, "mute", "Mute a channel.", "void", h!(mute))
                    .path("channelId", CHANNEL_ID)
                    .query("direction", "string", "Direction in which to mute audio").default("both").values(DIRECTIONS)),
                control(op(Delete, "unmute", "Unmute a channel.", "void", h!(unmute))
                    .path("channelId", CHANNEL_ID)
                    .query("direction", "string", "Direction in which to unmute audio").default("both").values(DIRECTIONS)),
            ]),
            api("/channels/{channelId}/hold", "Put a channel on hold", vec![
                control(op(Post, "hold", "Hold a channel.", "void", h!(hold)).path("channelId", CHANNEL_ID)),
                control(op(Delete, "unhold", "Remove a channel from hold.", "void", h!(unhold)).path("channelId", CHANNEL_ID)),
            ]),
            api("/channels/{channelId}/moh", "Play music on hold to a channel", vec![
                control(op(Post, "startMoh", "Play music on hold to a channel.", "void", h!(start_moh))
                    .notes("Using media operations such as /play on a channel playing MOH in this manner will suspend MOH without resuming automatically. If continuing music on hold is desired, the stasis application must reinitiate music on hold.")
                    .path("channelId", CHANNEL_ID)
                    .query("mohClass", "string", "Music on hold class to use")),
                control(op(Delete, "stopMoh", "Stop playing music on hold to a channel.", "void", h!(stop_moh)).path("channelId", CHANNEL_ID)),
            ]),
            api("/channels/{channelId}/silence", "Play silence to a channel", vec![
                control(op(Post, "startSilence", "Play silence to a channel.", "void", h!(start_silence))
                    .notes("Using media operations such as /play on a channel playing silence in this manner will suspend silence without resuming automatically.")
                    .path("channelId", CHANNEL_ID)),
                control(op(Delete, "stopSilence", "Stop playing silence to a channel.", "void", h!(stop_silence)).path("channelId", CHANNEL_ID)),
            ]),
            api("/channels/{channelId}/play", "Play media to a channel", vec![
                control(play_params(op(Post, "play", "Start playback of media.", "Playback", h!(play))
                    .notes(PLAY_NOTES)
                    .path("channelId", CHANNEL_ID))
                    .query("playbackId", "string", "Playback ID.")),
            ]),
            api("/channels/{channelId}/play/{playbackId}", "Play media to a channel", vec![
                control(play_params(op(Post, "playWithId", "Start playback of media and specify the playbackId.", "Playback", h!(play))
                    .notes(PLAY_NOTES)
                    .path("channelId", CHANNEL_ID)
                    .path("playbackId", "Playback ID."))),
            ]),
            api("/channels/{channelId}/record", "Record audio from a channel", vec![
                record_params(op(Post, "record", "Start a recording.", "LiveRecording", h!(record))
                    .notes("Record audio from a channel. Note that this will not capture audio sent to the channel. The bridge itself has a record feature if that's what you want.")
                    .path("channelId", CHANNEL_ID))
                    .error(400, "Invalid parameters")
                    .error(NOT_FOUND.0, NOT_FOUND.1)
                    .error(409, "Channel is not in a Stasis application; the channel is currently bridged with other channels; A recording with the same name already exists on the system and can not be overwritten because it is in progress or ifExists=fail")
                    .error(422, "The format specified is unknown on this system"),
            ]),
            api("/channels/{channelId}/variable", "Variables on a channel", vec![
                op(Get, "getChannelVar", "Get the value of a channel variable or function.", "Variable", h!(get_var))
                    .path("channelId", CHANNEL_ID)
                    .query("variable", "string", "The channel variable or function to get").required()
                    .error(400, "Missing variable parameter.")
                    .error(404, "Channel or variable not found")
                    .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1),
                op(Post, "setChannelVar", "Set the value of a channel variable or function.", "void", h!(set_var))
                    .path("channelId", CHANNEL_ID)
                    .query("variable", "string", "The channel variable or function to set").required()
                    .query("value", "string", "The value to set the variable to")
                    .error(400, "Missing variable parameter.")
                    .error(NOT_FOUND.0, NOT_FOUND.1)
                    .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1),
            ]),
            api("/channels/{channelId}/snoop", "Snoop (spy/whisper) on a channel", vec![
                snoop_params(op(Post, "snoopChannel", "Start snooping.", "Channel", h!(snoop))
                    .notes("Snoop (spy/whisper) on a specific channel.")
                    .path("channelId", CHANNEL_ID))
                    .query("snoopId", "string", "Unique ID to assign to snooping channel")
                    .error(400, "Invalid parameters")
                    .error(NOT_FOUND.0, NOT_FOUND.1),
            ]),
            api("/channels/{channelId}/snoop/{snoopId}", "Snoop (spy/whisper) on a channel", vec![
                snoop_params(op(Post, "snoopChannelWithId", "Start snooping.", "Channel", h!(snoop))
                    .notes("Snoop (spy/whisper) on a specific channel.")
                    .path("channelId", CHANNEL_ID)
                    .path("snoopId", "Unique ID to assign to snooping channel"))
                    .error(400, "Invalid parameters")
                    .error(NOT_FOUND.0, NOT_FOUND.1),
            ]),
            api("/channels/{channelId}/dial", "Dial a channel", vec![
                op(Post, "dial", "Dial a created channel.", "void", h!(dial))
                    .path("channelId", CHANNEL_ID)
                    .query("caller", "string", "Channel ID of caller")
                    .query("timeout", "int", "Dial timeout").default(0).range(Some(0), None)
                    .error(404, "Channel cannot be found.")
                    .error(409, "Channel cannot be dialed."),
            ]),
            api("/channels/{channelId}/rtp_statistics", "Get RTP statistics information for RTP on a channel", vec![
                op(Get, "rtpstatistics", "RTP stats on a channel.", "RTPstat", h!(rtp_statistics))
                    .path("channelId", CHANNEL_ID)
                    .error(404, "Channel cannot be found."),
            ]),
            api("/channels/externalMedia", "Create a channel to an External Media source/sink.", vec![
                op(Post, "externalMedia", "Start an External Media session.", "Channel", h!(external_media))
                    .notes("Create a channel to an External Media source/sink. The combination of transport and encapsulation will select one of chan_rtp(udp/rtp), chan_audiosocket(tcp/audiosocket) or chan_websocket(websocket/none) channel drivers.")
                    .query("channelId", "string", "The unique id to assign the channel on creation.")
                    .query("app", "string", "Stasis Application to place channel into").required()
                    .body("variables", VARIABLES)
                    .query("external_host", "string", "Hostname/ip:port or websocket_client connection ID of external host. May be empty for a websocket server connection.")
                    .query("encapsulation", "string", "Payload encapsulation protocol. Must be 'none' for the websocket transport.").default("rtp").values(&["rtp", "audiosocket", "none"])
                    .query("transport", "string", "Transport protocol").default("udp").values(&["udp", "tcp", "websocket"])
                    .query("connection_type", "string", "Connection type (client/server). 'server' is only valid for the websocket transport.").default("client").values(&["client", "server"])
                    .query("format", "string", "Format to encode audio in").required()
                    .query("direction", "string", "External media direction").default("both").values(&["both"])
                    .query("data", "string", "An arbitrary data field")
                    .error(400, "Invalid parameters")
                    .error(409, "Channel is not in a Stasis application; Channel is already bridged"),
            ]),
            api("/channels/{channelId}/transfer_progress", "Inform the channel that the transfer is in progress.", vec![
                op(Post, "transfer_progress", "Inform the channel about the progress of the attended/blind transfer.", "void", h!(transfer_progress))
                    .path("channelId", CHANNEL_ID)
                    .query("states", "string", "The state of the progress").required()
                    .error(400, "Endpoint parameter not provided")
                    .error(404, "Channel or endpoint not found")
                    .error(NOT_IN_STASIS.0, NOT_IN_STASIS.1)
                    .error(BAD_STATE.0, BAD_STATE.1),
            ]),
        ],
    }
}

/// A channel that exists and is in a Stasis application (404 / 409 otherwise).
fn stasis_channel(ari: &Ari, id: &str) -> Result<Arc<Channel>, AriError> {
    let channel = ari.switch().channel(id).map_err(AriError::from_control)?;
    if !channel.in_stasis() {
        return Err(AriError::conflict("Channel not in a Stasis application"));
    }
    Ok(channel)
}

/// Creates a channel that calls nobody until `dial`; it is in `app` at once.
async fn create(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let endpoint = args
        .str("endpoint")
        .ok_or_else(|| AriError::bad_request("endpoint is required"))?;
    let app = args
        .str("app")
        .ok_or_else(|| AriError::bad_request("app is required"))?;
    let other_id = args.str("otherChannelId").map(str::to_owned);
    let channel_id = args.str("channelId").map(str::to_owned);
    if channel_id
        .as_deref()
        .is_some_and(|id| ari.switch().channel(id).is_ok())
    {
        return Err(AriError::conflict(
            "Channel with given unique ID already exists.",
        ));
    }
    let caller = match args.str("originator") {
        Some(id) => ari
            .switch()
            .channel(id)
            .map_err(|_| AriError::bad_request("Provided originator channel was not found"))?
            .caller(),
        None => CallerId::default(),
    };
    let vars = variables(&args)?;
    let app_args: Vec<String> = args
        .str("appArgs")
        .map(|a| a.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let channel = ari
        .switch()
        .create_channel(endpoint, caller, channel_id, other_id)
        .map_err(|e| match e {
            OriginateError::Refused(e) => AriError::from_control(e),
            OriginateError::Failed(cause) => AriError::bad_request(format!(
                "Cannot create a channel to {endpoint}: {}",
                cause.text()
            )),
            e @ OriginateError::TrunkDown { .. } => {
                AriError::bad_request(format!("Cannot create a channel to {endpoint}: {e}"))
            }
        })?;
    for (name, value) in &vars {
        let _ = ari.switch().set_var(&channel.id, name, value);
    }
    ari.hub().add_channel(app, &channel);
    ari.switch()
        .enter_stasis(&channel.id, app, app_args)
        .map_err(AriError::from_control)?;
    Ok(Reply::Json(json::channel(&ari, &channel)))
}

/// Places the call of a created channel; hangs it up if nobody answers in `timeout`.
async fn dial(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = ari
        .switch()
        .channel(args.path("channelId"))
        .map_err(AriError::from_control)?;
    if let Some(caller) = args.str("caller") {
        let caller = ari
            .switch()
            .channel(caller)
            .map_err(|_| AriError::not_found("Caller channel cannot be found."))?;
        let connected = caller.caller();
        ari.switch()
            .set_connected_line(&channel.id, connected)
            .map_err(AriError::from_control)?;
    }
    ari.switch().dial(&channel.id).await.map_err(|e| match e {
        ControlError::Invalid(why) => AriError::bad_request(why),
        _ => AriError::conflict("Channel cannot be dialed."),
    })?;
    let timeout = args.int("timeout").unwrap_or(0);
    if timeout > 0 {
        let switch = ari.switch().clone();
        tokio::spawn(async move {
            let mut status = channel.subscribe();
            let answered = tokio::time::timeout(
                Duration::from_secs(timeout.unsigned_abs()),
                status.wait_for(|s| s.state == ChannelState::Up || s.hangup.is_some()),
            )
            .await;
            if answered.is_err() {
                switch.hangup(&channel.id, Cause::NO_ANSWER);
            }
        });
    }
    Ok(Reply::NoContent)
}

/// Redirects a channel in Stasis (302 before answer, REFER after), unless it is bridged.
async fn redirect(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = stasis_channel(&ari, args.path("channelId"))?;
    let endpoint = args
        .str("endpoint")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| AriError::bad_request("Endpoint parameter not provided"))?;
    // As Asterisk: an endpoint of another technology than the channel's is a 422.
    let same_technology = endpoint.split_once('/').is_some_and(|(tech, _)| {
        tech.eq_ignore_ascii_case("SIP") || tech.eq_ignore_ascii_case("PJSIP")
    });
    if !same_technology {
        return Err(AriError::new(
            422,
            "Endpoint is not the same type as the channel",
        ));
    }
    if channel.bridge_id().is_some() {
        return Err(AriError::conflict("Channel is already bridged"));
    }
    ari.switch()
        .redirect(&channel.id, endpoint)
        .map_err(|e| match e {
            ControlError::NotFound => AriError::not_found("Endpoint not found"),
            other => AriError::from_control(other),
        })?;
    Ok(Reply::NoContent)
}

async fn move_channel(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = stasis_channel(&ari, args.path("channelId"))?;
    let app = args
        .str("app")
        .ok_or_else(|| AriError::bad_request("app is required"))?;
    let app_args: Vec<String> = args
        .str("appArgs")
        .map(|a| a.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    ari.hub().add_channel(app, &channel);
    ari.switch()
        .move_to_app(&channel.id, app, app_args)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

/// The states Asterisk accepts for `transfer_progress`.
const TRANSFER_STATES: &[&str] = &[
    "channel_progress",
    "channel_answered",
    "channel_unavailable",
    "channel_declined",
];

/// Acknowledges a transfer's progress on a channel in Stasis (no SIP effect here:
/// switchboard does not relay REFER progress).
async fn transfer_progress(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = live_channel(&ari, args.path("channelId"))?;
    let state = args.str("states").unwrap_or_default();
    if !TRANSFER_STATES.contains(&state) {
        return Err(AriError::bad_request(format!(
            "Invalid transfer state {state:?}"
        )));
    }
    tracing::info!(channel = %channel.name, state, "transfer progress");
    Ok(Reply::NoContent)
}

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let switch = ari.switch();
    let snapshots: Vec<_> = switch.channels().iter().map(|c| switch.snapshot(c)).collect();
    let models: Vec<json::ChannelModel<'_>> = snapshots.iter().map(Into::into).collect();
    // Strings and numbers only: serializing cannot fail.
    Ok(Reply::JsonBytes(serde_json::to_vec(&models).unwrap_or_default()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = ari
        .switch()
        .channel(args.path("channelId"))
        .map_err(AriError::from_control)?;
    Ok(Reply::Json(json::channel(&ari, &channel)))
}

async fn originate(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.str("channelId").map(str::to_owned);
    originate_common(ari, args, id).await
}

async fn originate_with_id(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.path("channelId").to_owned();
    originate_common(ari, args, Some(id)).await
}

/// `"Name" <number>`, `Name <number>`, `<number>` or `number`.
pub fn parse_caller_id(text: &str) -> CallerId {
    let text = text.trim();
    match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => CallerId {
            name: text[..open].trim().trim_matches('"').trim().to_owned(),
            number: text[open + 1..close].trim().to_owned(),
        },
        _ => CallerId {
            name: String::new(),
            number: text.to_owned(),
        },
    }
}

/// The `variables` body object as strings.
fn variables(args: &Args) -> Result<BTreeMap<String, String>, AriError> {
    let mut vars = BTreeMap::new();
    let Some(object) = args.object("variables").and_then(Value::as_object) else {
        return Ok(vars);
    };
    for (name, value) in object {
        let Value::String(value) = value else {
            return Err(AriError::bad_request(
                "Only string values in the 'variables' object allowed",
            ));
        };
        check_variable(name, value).map_err(AriError::from_control)?;
        vars.insert(name.clone(), value.clone());
    }
    Ok(vars)
}

async fn originate_common(
    ari: Ari,
    args: Args,
    channel_id: Option<String>,
) -> Result<Reply, AriError> {
    let endpoint = args
        .str("endpoint")
        .ok_or_else(|| AriError::bad_request("Endpoint must be specified"))?;
    if !endpoint.contains('/') {
        return Err(AriError::bad_request(
            "Endpoint must be in the format tech/resource",
        ));
    }
    let into_dialplan = ["extension", "context", "label"]
        .iter()
        .any(|p| args.str(p).is_some())
        || args.int("priority").is_some();
    let then =
        match (args.str("app"), into_dialplan) {
            (Some(_), true) => return Err(AriError::bad_request(
                "'app' is mutually exclusive with 'extension', 'context', 'priority' and 'label'",
            )),
            (Some(app), false) => Then::App {
                name: app.to_owned(),
                args: args
                    .str("appArgs")
                    .map(|a| a.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
            },
            (None, true) => {
                if args.str("label").is_some() {
                    return Err(AriError::bad_request(
                        "Dialplan labels are not supported; give a priority",
                    ));
                }
                Then::Dialplan {
                    context: args.str("context").unwrap_or("default").to_owned(),
                    exten: args.str("extension").unwrap_or("s").to_owned(),
                    priority: usize::try_from(args.int("priority").unwrap_or(1)).unwrap_or(1),
                }
            }
            (None, false) => {
                return Err(AriError::bad_request(
                    "Application or extension must be specified",
                ))
            }
        };
    if let Some(originator) = args.str("originator") {
        if ari.switch().channel(originator).is_err() {
            return Err(AriError::bad_request(
                "Provided originator channel was not found",
            ));
        }
    }
    let app = match &then {
        Then::App { name, .. } => Some(name.clone()),
        _ => None,
    };
    let request = Originate {
        caller_id: args
            .str("callerId")
            .map(parse_caller_id)
            .unwrap_or_default(),
        variables: variables(&args)?,
        // Asterisk: 30 s unless given; zero or less rings until the far end gives up.
        timeout: match args.int("timeout").unwrap_or(30) {
            t if t > 0 => Some(Duration::from_secs(t.unsigned_abs())),
            _ => None,
        },
        channel_id,
        other_channel_id: args.str("otherChannelId").map(str::to_owned),
        ..Originate::new(endpoint, then)
    };
    let channel = ari.switch().originate(request).await.map_err(|e| match e {
        OriginateError::Refused(e) => AriError::from_control(e),
        OriginateError::Failed(cause) => AriError::bad_request(format!(
            "Cannot originate to {endpoint}: {} ({})",
            cause.text(),
            cause.0
        )),
        e @ OriginateError::TrunkDown { .. } => AriError::bad_request(format!(
            "Cannot originate to {endpoint}: {e} ({})",
            e.cause().0
        )),
    })?;
    if let Some(app) = app {
        ari.hub().add_channel(&app, &channel);
    }
    Ok(Reply::Json(json::channel(&ari, &channel)))
}

async fn hangup(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.path("channelId");
    ari.switch().channel(id).map_err(AriError::from_control)?;
    let cause = match (args.str("reason_code"), args.str("reason")) {
        (Some(_), Some(_)) => {
            return Err(AriError::bad_request(
                "The reason and reason_code can't both be specified",
            ))
        }
        (Some(code), None) => match code.trim().parse::<u16>() {
            Ok(n) if (1..=127).contains(&n) => Cause(n),
            _ => Cause::parse(code)
                .filter(|c| (1..=127).contains(&c.0))
                .ok_or_else(|| AriError::bad_request("Invalid reason for hangup provided"))?,
        },
        (None, Some(reason)) => Cause::from_ari_reason(reason)
            .ok_or_else(|| AriError::bad_request("Invalid reason for hangup provided"))?,
        (None, None) => Cause::NORMAL_CLEARING,
    };
    ari.switch().hangup(id, cause);
    Ok(Reply::NoContent)
}

async fn continue_in_dialplan(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let id = args.path("channelId");
    let channel = stasis_channel(&ari, id)?;
    if let Some(label) = args.str("label") {
        let context = args
            .str("context")
            .map_or_else(|| channel.context(), str::to_owned);
        return Err(AriError::not_found(format!(
            "Requested label: {label} can not be found in context: {context}"
        )));
    }
    let priority = match args.int("priority") {
        Some(p) if p >= 1 => Some(usize::try_from(p).unwrap_or(usize::MAX)),
        Some(_) => return Err(AriError::bad_request("Invalid priority")),
        None => None,
    };
    if channel.direction == Direction::Outbound {
        // Originated channels have no dialplan running to go back to.
        tracing::info!(channel = %channel.name, "ARI continue: an originated channel has no dialplan to continue in");
        return Err(AriError::precondition("Channel in invalid state"));
    }
    ari.switch()
        .continue_in_dialplan(id, args.str("context"), args.str("extension"), priority)
        .map_err(|e| match e {
            ControlError::WrongState(_) => {
                AriError::conflict("Channel not in a Stasis application")
            }
            other => AriError::from_control(other),
        })?;
    Ok(Reply::NoContent)
}

async fn answer(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = stasis_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .answer(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn ring(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = live_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .ring(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn ring_stop(ari: Ari, args: Args) -> Result<Reply, AriError> {
    // Ringing is indicated by the far end's phone, not generated here: nothing to stop.
    live_channel(&ari, args.path("channelId"))?;
    Ok(Reply::NoContent)
}

async fn progress(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = live_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .progress(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

fn millis(args: &Args, name: &str) -> Result<u32, AriError> {
    let value = args.int(name).unwrap_or(0);
    u32::try_from(value)
        .map_err(|_| AriError::bad_request(format!("{name} must be a number of milliseconds")))
}

async fn send_dtmf(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    let dtmf = args
        .str("dtmf")
        .ok_or_else(|| AriError::bad_request("DTMF is required"))?
        .to_owned();
    if let Some(bad) = dtmf
        .chars()
        .find(|c| !matches!(c.to_ascii_uppercase(), '0'..='9' | 'A'..='D' | '*' | '#'))
    {
        return Err(AriError::bad_request(format!("Invalid DTMF digit {bad:?}")));
    }
    let (before, between, duration, after) = (
        millis(&args, "before")?,
        millis(&args, "between")?,
        millis(&args, "duration")?,
        millis(&args, "after")?,
    );
    let switch = ari.switch().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(before.into())).await;
        let _ = switch
            .send_dtmf(
                &channel.id,
                &dtmf.to_ascii_uppercase(),
                duration.max(40),
                between,
            )
            .await;
        tokio::time::sleep(Duration::from_millis(after.into())).await;
    });
    Ok(Reply::NoContent)
}

/// The media URI schemes ARI declares (all playable).
const DECLARED_SCHEMES: &[&str] = &[
    "sound",
    "recording",
    "number",
    "digits",
    "characters",
    "tone",
];

/// Checks the `media` URIs of a play request: 400 for a scheme ARI does not know.
pub(crate) fn check_media(media: &[String]) -> Result<(), AriError> {
    for uri in media {
        if uri.starts_with('/') {
            continue;
        }
        let scheme = uri.split_once(':').map_or("", |(s, _)| s);
        if !DECLARED_SCHEMES.contains(&scheme) {
            return Err(AriError::bad_request(format!("Invalid media URI {uri:?}")));
        }
    }
    Ok(())
}

async fn play(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    let media = args.list("media");
    check_media(&media)?;
    if args.int("skipms").is_some_and(|v| v < 0) {
        return Err(AriError::bad_request("skipms cannot be negative"));
    }
    let offset = args.int("offsetms").unwrap_or(0);
    if offset < 0 {
        return Err(AriError::bad_request("offsetms cannot be negative"));
    }
    let play = Play {
        target: PlaybackTarget::Channel(channel.id.clone()),
        media,
        lang: args.str("lang").map(str::to_owned),
        offset_ms: offset,
        skip_ms: args.int("skipms").unwrap_or(DEFAULT_SKIP_MS),
        playback_id: args.str("playbackId").map(str::to_owned),
    };
    let playback = ari.switch().play(play).map_err(AriError::from_control)?;
    Ok(super::playbacks::created(&playback))
}

async fn get_var(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = stasis_channel(&ari, args.path("channelId"))?;
    let variable = args
        .str("variable")
        .ok_or_else(|| AriError::bad_request("Variable name is required"))?;
    let value = ari
        .switch()
        .var(&channel, variable)
        .ok_or_else(|| AriError::not_found("Provided variable was not found"))?;
    Ok(Reply::Json(json!({ "value": value })))
}

async fn set_var(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = stasis_channel(&ari, args.path("channelId"))?;
    let variable = args
        .str("variable")
        .ok_or_else(|| AriError::bad_request("Variable name is required"))?;
    ari.switch()
        .set_var(&channel.id, variable, args.str("value").unwrap_or_default())
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn rtp_statistics(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = ari
        .switch()
        .channel(args.path("channelId"))
        .map_err(AriError::from_control)?;
    let s = channel.media_stats();
    Ok(Reply::Json(json!({
        "txcount": s.txcount,
        "rxcount": s.rxcount,
        "txjitter": s.txjitter,
        "rxjitter": s.rxjitter,
        "remote_maxjitter": s.remote_maxjitter,
        "remote_minjitter": s.remote_minjitter,
        "remote_normdevjitter": s.remote_normdevjitter,
        "remote_stdevjitter": s.remote_stdevjitter,
        "local_maxjitter": s.local_maxjitter,
        "local_minjitter": s.local_minjitter,
        "local_normdevjitter": s.local_normdevjitter,
        "local_stdevjitter": s.local_stdevjitter,
        "txploss": s.txploss,
        "rxploss": s.rxploss,
        "remote_maxrxploss": s.remote_maxrxploss,
        "remote_minrxploss": s.remote_minrxploss,
        "remote_normdevrxploss": s.remote_normdevrxploss,
        "remote_stdevrxploss": s.remote_stdevrxploss,
        "local_maxrxploss": s.local_maxrxploss,
        "local_minrxploss": s.local_minrxploss,
        "local_normdevrxploss": s.local_normdevrxploss,
        "local_stdevrxploss": s.local_stdevrxploss,
        "rtt": s.rtt,
        "maxrtt": s.maxrtt,
        "minrtt": s.minrtt,
        "normdevrtt": s.normdevrtt,
        "stdevrtt": s.stdevrtt,
        "local_ssrc": s.local_ssrc,
        "remote_ssrc": s.remote_ssrc,
        "txoctetcount": s.txoctetcount,
        "rxoctetcount": s.rxoctetcount,
        "channel_uniqueid": s.channel_uniqueid,
    })))
}

// ---- media features: mute, hold, music on hold, silence, record ----

/// A channel in Stasis (404 / 409) whose state allows media operations: Asterisk
/// refuses (412) channels that are Down or still ringing out.
fn media_channel(ari: &Ari, id: &str) -> Result<Arc<Channel>, AriError> {
    let channel = stasis_channel(ari, id)?;
    if matches!(channel.state(), ChannelState::Down | ChannelState::Ringing) {
        return Err(AriError::precondition("Channel in invalid state"));
    }
    Ok(channel)
}

/// A channel in Stasis (404 / 409) that exists on the wire: a created channel not
/// dialled yet (Down) is refused with 412.
fn live_channel(ari: &Ari, id: &str) -> Result<Arc<Channel>, AriError> {
    let channel = stasis_channel(ari, id)?;
    if channel.state() == ChannelState::Down {
        return Err(AriError::precondition("Channel in invalid state"));
    }
    Ok(channel)
}

fn mute_direction(args: &Args) -> Result<MuteDirection, AriError> {
    MuteDirection::parse(args.str("direction").unwrap_or("both"))
        .ok_or_else(|| AriError::bad_request("Invalid direction specified"))
}

async fn mute(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    let direction = mute_direction(&args)?;
    ari.switch()
        .mute(&channel.id, direction, true)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn unmute(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    let direction = mute_direction(&args)?;
    ari.switch()
        .mute(&channel.id, direction, false)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn hold(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .hold(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn unhold(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .unhold(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

/// Music on hold of `mohClass` (default `default`); like Asterisk, an unknown class
/// falls back to `default`, and the request succeeds even when no music can play.
async fn start_moh(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    let class = args.str("mohClass").unwrap_or("default");
    let started = match ari.switch().start_moh(&channel.id, class) {
        Err(ControlError::Invalid(_)) if class != "default" => {
            ari.switch().start_moh(&channel.id, "default")
        }
        other => other,
    };
    match started {
        Ok(()) => {}
        Err(ControlError::Invalid(why)) => {
            tracing::warn!(channel = %channel.name, class, why, "ARI startMoh: no music on hold to play");
        }
        Err(other) => return Err(AriError::from_control(other)),
    }
    Ok(Reply::NoContent)
}

async fn stop_moh(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .stop_moh(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn start_silence(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .start_silence(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

async fn stop_silence(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = media_channel(&ari, args.path("channelId"))?;
    ari.switch()
        .stop_silence(&channel.id)
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}

/// Records what the channel says and hears. The seed refuses (409) a channel bridged
/// with others: record the bridge instead.
async fn record(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let channel = stasis_channel(&ari, args.path("channelId"))?;
    let options = crate::resources::recordings::record_options(&args)?;
    let bridge = channel.bridge_id();
    let bridged_with_others = bridge
        .and_then(|b| ari.switch().bridge(&b).ok())
        .is_some_and(|b| b.channel_ids().iter().any(|c| *c != channel.id));
    if bridged_with_others {
        return Err(AriError::conflict(
            "Channel is currently bridged with other channels",
        ));
    }
    crate::resources::recordings::start_recording(
        &ari,
        RecordTarget::Channel(channel.id.clone()),
        options,
        AriError::channel_not_found,
    )
}

// ---- snoop and external media ----

/// `appArgs` as the application's arguments (comma separated, as Stasis() takes them).
fn app_args(args: &Args) -> Vec<String> {
    args.str("appArgs")
        .map(|a| a.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A snoop channel on the channel (which need not be in Stasis); the snoop channel
/// enters `app` (StasisStart) and is answered with.
async fn snoop(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let direction = |name: &str| {
        SnoopDirection::parse(args.str(name).unwrap_or("none"))
            .ok_or_else(|| AriError::bad_request(format!("Invalid direction specified for {name}")))
    };
    let (spy, whisper) = (direction("spy")?, direction("whisper")?);
    if spy == SnoopDirection::None && whisper == SnoopDirection::None {
        return Err(AriError::bad_request(
            "Direction must be specified for at least spy or whisper",
        ));
    }
    let app = args
        .str("app")
        .ok_or_else(|| AriError::bad_request("Application name is required"))?;
    let target = ari
        .switch()
        .channel(args.path("channelId"))
        .map_err(AriError::from_control)?;
    let snoop_id = args.str("snoopId").map(str::to_owned);
    let channel = ari
        .switch()
        .snoop(&target.id, spy, whisper, app, app_args(&args), snoop_id)
        .map_err(|e| match e {
            ControlError::NotFound => AriError::channel_not_found(),
            ControlError::Conflict(_) => {
                AriError::bad_request("Channel with given unique ID already exists")
            }
            ControlError::Invalid(why) | ControlError::Unprocessable(why) => {
                AriError::bad_request(why)
            }
            ControlError::WrongState(why) => AriError::bad_request(why),
            ControlError::Failed(why) => AriError::new(500, why),
        })?;
    Ok(Reply::Json(json::channel(&ari, &channel)))
}

/// A channel whose audio goes to and comes from `external_host`: RTP over UDP, or
/// AudioSocket over TCP. Answered with the channel and its variables
/// (`UNICASTRTP_LOCAL_ADDRESS` / `_PORT`: where to send the RTP), as Asterisk does.
async fn external_media(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let app = args
        .str("app")
        .ok_or_else(|| AriError::bad_request("app cannot be empty"))?
        .to_owned();
    let host = args
        .str("external_host")
        .ok_or_else(|| AriError::bad_request("external_host cannot be empty"))?;
    let format = args
        .str("format")
        .ok_or_else(|| AriError::bad_request("format cannot be empty"))?
        .to_ascii_lowercase();
    let encapsulation = match (
        args.str("encapsulation").unwrap_or("rtp"),
        args.str("transport").unwrap_or("udp"),
    ) {
        ("rtp", "udp") => Encapsulation::Rtp,
        ("audiosocket", "tcp") => Encapsulation::AudioSocket,
        _ => {
            return Err(AriError::new(
                501,
                "The encapsulation and/or transport is not supported",
            ))
        }
    };
    let data = args.str("data").map(str::to_owned);
    if encapsulation == Encapsulation::AudioSocket && data.is_none() {
        return Err(AriError::bad_request("data can not be empty"));
    }
    let bad_host = || AriError::bad_request("external_host must be <host>:<port>");
    let addr = match host.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr,
        Err(_)
            if host
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) =>
        {
            tokio::net::lookup_host(host)
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(bad_host)?
        }
        Err(_) => return Err(bad_host()),
    };
    let vars = variables(&args)?;
    let channel_id = args.str("channelId").map(str::to_owned);
    if let Some(id) = &channel_id {
        if ari.switch().channel(id).is_ok() {
            return Err(AriError::conflict(
                "Channel with given unique ID already exists",
            ));
        }
    }
    let channel = ari
        .switch()
        .external_media(&app, addr, &format, encapsulation, channel_id, data)
        .map_err(|e| match e {
            ControlError::Conflict(_) => {
                AriError::conflict("Channel with given unique ID already exists")
            }
            ControlError::Unprocessable(_) => {
                AriError::bad_request(format!("Provided format ({format}) was not found"))
            }
            other => AriError::bad_request(other.to_string()),
        })?;
    for (name, value) in &vars {
        let _ = ari.switch().set_var(&channel.id, name, value);
    }
    let mut body = json::channel(&ari, &channel);
    let channelvars: serde_json::Map<String, Value> = channel
        .variables()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    body["channelvars"] = Value::Object(channelvars);
    Ok(Reply::Json(body))
}
