//! `events`: the WebSocket of Stasis applications and user events.

use serde_json::{json, Value};

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

pub fn resource() -> Resource {
    Resource {
        name: "events",
        description: "WebSocket resource",
        models: &[models::EVENTS],
        apis: vec![
            api("/events", "Events from Asterisk to applications", vec![
                op(Get, "eventWebsocket", "WebSocket connection for events.", "Message", h!(super::not_implemented))
                    .websocket()
                    .query("app", "string", "Applications to subscribe to.")
                    .required()
                    .multi()
                    .query("subscribeAll", "boolean", "Subscribe to all Asterisk events. If provided, the applications listed will be subscribed to all events, effectively disabling the application specific subscriptions. Default is 'false'.")
                    .query("last_event", "string", "switchboard: resume after this event's sequence number (`n` for every application, or `app:n,other:m`): the events still in the replay window are sent first."),
            ]),
            api("/events/user/{eventName}", "Stasis application user events", vec![
                op(Post, "userEvent", "Generate a user event.", "void", h!(user_event))
                    .path("eventName", "Event name")
                    .query("application", "string", "The name of the application that will receive this event")
                    .required()
                    .query("source", "string", "URI for event source (channel:{channelId}, bridge:{bridgeId}, endpoint:{tech}/{resource}, deviceState:{deviceName}")
                    .multi()
                    .body("variables", "The \"variables\" key in the body object holds custom key/value pairs to add to the user event. Ex. { \"variables\": { \"key\": \"value\" } }")
                    .error(404, "Application does not exist.")
                    .error(422, "Event source not found.")
                    .error(400, "Invalid even tsource URI or userevent data."),
            ]),
        ],
    }
}

async fn user_event(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let app = args
        .str("application")
        .ok_or_else(|| AriError::bad_request("Missing parameter application"))?;
    let variables = args
        .object("variables")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if !matches!(variables, Value::Object(_)) {
        return Err(AriError::bad_request("Invalid userevent data"));
    }
    let sources = args.list("source");
    ari.hub()
        .user_event(&ari, app, args.path("eventName"), &sources, variables)
        .await?;
    Ok(Reply::NoContent)
}
