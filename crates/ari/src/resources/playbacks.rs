//! `playbacks`: get, stop and control (restart, pause, unpause, reverse, forward).

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{json, models, Ari};

/// The 201 answer to a play request (channel or bridge): the playback.
pub(crate) fn created(playback: &switchboard_core::Playback) -> Reply {
    Reply::Created {
        location: format!("/playbacks/{}", playback.id),
        body: json::playback(playback),
    }
}

pub fn resource() -> Resource {
    Resource {
        name: "playbacks",
        description: "Playback control resources",
        models: &[models::PLAYBACKS],
        apis: vec![
            api(
                "/playbacks/{playbackId}",
                "Control object for a playback operation.",
                vec![
                    op(Get, "get", "Get a playback's details.", "Playback", h!(get))
                        .path("playbackId", "Playback's id")
                        .error(404, "The playback cannot be found"),
                    op(Delete, "stop", "Stop a playback.", "void", h!(stop))
                        .path("playbackId", "Playback's id")
                        .error(404, "The playback cannot be found"),
                ],
            ),
            api(
                "/playbacks/{playbackId}/control",
                "Control object for a playback operation.",
                vec![
                    op(Post, "control", "Control a playback.", "void", h!(control))
                        .path("playbackId", "Playback's id")
                        .query(
                            "operation",
                            "string",
                            "Operation to perform on the playback.",
                        )
                        .required()
                        .values(&["restart", "pause", "unpause", "reverse", "forward"])
                        .error(400, "The provided operation parameter was invalid")
                        .error(404, "The playback cannot be found")
                        .error(
                            409,
                            "The operation cannot be performed in the playback's current state",
                        ),
                ],
            ),
        ],
    }
}

fn not_found() -> AriError {
    AriError::not_found("Playback not found")
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let playback = ari
        .switch()
        .playback(args.path("playbackId"))
        .map_err(|_| not_found())?;
    Ok(Reply::Json(json::playback(&playback)))
}

async fn stop(ari: Ari, args: Args) -> Result<Reply, AriError> {
    ari.switch()
        .stop_playback(args.path("playbackId"))
        .map_err(|_| not_found())?;
    Ok(Reply::NoContent)
}

async fn control(ari: Ari, args: Args) -> Result<Reply, AriError> {
    use switchboard_core::PlaybackControl as Control;
    let id = args.path("playbackId");
    let skip = ari.switch().playback(id).map_err(|_| not_found())?.skip_ms;
    let operation = match args.str("operation") {
        Some("restart") => Control::Restart,
        Some("pause") => Control::Pause,
        Some("unpause") => Control::Unpause,
        Some("reverse") => Control::Seek(-skip),
        Some("forward") => Control::Seek(skip),
        _ => return Err(AriError::bad_request("Invalid operation")),
    };
    ari.switch()
        .control_playback(id, operation)
        .map_err(|e| match e {
            switchboard_core::ControlError::NotFound => not_found(),
            _ => AriError::conflict("Can't control a playback in its current state"),
        })?;
    Ok(Reply::NoContent)
}
