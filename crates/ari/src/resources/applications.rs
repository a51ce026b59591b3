//! `applications`: the Stasis applications, their event subscriptions and filters.

use serde_json::Value;

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

const SOURCE: &str = "URI for event source (channel:{channelId}, bridge:{bridgeId}, endpoint:{tech}[/{resource}], deviceState:{deviceName}";

pub fn resource() -> Resource {
    Resource {
        name: "applications",
        description: "Stasis application resources",
        models: &[models::APPLICATIONS],
        apis: vec![
            api("/applications", "Stasis applications", vec![
                op(Get, "list", "List all applications.", "List[Application]", h!(list)),
            ]),
            api("/applications/{applicationName}", "Stasis application", vec![
                op(Get, "get", "Get details of an application.", "Application", h!(get))
                    .path("applicationName", "Application's name")
                    .error(404, "Application does not exist."),
            ]),
            api("/applications/{applicationName}/subscription", "Stasis application", vec![
                op(Post, "subscribe", "Subscribe an application to a event source.", "Application", h!(subscribe))
                    .notes("Returns the state of the application after the subscriptions have changed")
                    .path("applicationName", "Application's name")
                    .query("eventSource", "string", SOURCE)
                    .required()
                    .multi()
                    .error(400, "Missing parameter.")
                    .error(404, "Application does not exist.")
                    .error(422, "Event source does not exist."),
                op(Delete, "unsubscribe", "Unsubscribe an application from an event source.", "Application", h!(unsubscribe))
                    .notes("Returns the state of the application after the subscriptions have changed")
                    .path("applicationName", "Application's name")
                    .query("eventSource", "string", SOURCE)
                    .required()
                    .multi()
                    .error(400, "Missing parameter; event source scheme not recognized.")
                    .error(404, "Application does not exist.")
                    .error(409, "Application not subscribed to event source.")
                    .error(422, "Event source does not exist."),
            ]),
            api("/applications/{applicationName}/eventFilter", "Stasis application", vec![
                op(Put, "filter", "Filter application events types.", "Application", h!(filter))
                    .notes("Allowed and/or disallowed event type filtering can be done. The body (parameter) should specify a JSON key/value object that describes the type of event filtering needed. One, or both of the following keys can be designated:<br /><br />\"allowed\" - Specifies an allowed list of event types<br />\"disallowed\" - Specifies a disallowed list of event types<br /><br />Further, each of those key's value should be a JSON array that holds zero, or more JSON key/value objects. Each of these objects must contain the following key with an associated value:<br /><br />\"type\" - The type name of the event to filter<br /><br />The value must be the string name (case sensitive) of the event type that needs filtering. For example:<br /><br />{ \"allowed\": [ { \"type\": \"StasisStart\" }, { \"type\": \"StasisEnd\" } ] }<br /><br />As this specifies only an allowed list, then only those two event type messages are sent to the application. No other event messages are sent.<br /><br />The following rules apply:<br /><br />* If the body is empty, both the allowed and disallowed filters are set empty.<br />* If both list types are given then both are set to their respective values (note, specifying an empty array for a given type sets that type to empty).<br />* If only one list type is given then only that type is set. The other type is not updated.<br />* An empty \"allowed\" list means all events are allowed.<br />* An empty \"disallowed\" list means no events are disallowed.<br />* Disallowed events take precedence over allowed events if the event type is specified in both lists.")
                    .path("applicationName", "Application's name")
                    .body("filter", "Specify which event types to allow/disallow")
                    .error(400, "Bad request.")
                    .error(404, "Application does not exist."),
            ]),
        ],
    }
}

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let apps: Vec<Value> = ari
        .hub()
        .app_names()
        .iter()
        .filter_map(|name| ari.hub().app_json(name))
        .collect();
    Ok(Reply::Json(apps.into()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    ari.hub()
        .app_json(args.path("applicationName"))
        .map(Reply::Json)
        .ok_or_else(|| AriError::not_found("Application not found"))
}

async fn subscribe(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let sources = args.list("eventSource");
    ari.hub()
        .subscription(&ari, args.path("applicationName"), &sources, true)
        .map(Reply::Json)
}

async fn unsubscribe(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let sources = args.list("eventSource");
    ari.hub()
        .subscription(&ari, args.path("applicationName"), &sources, false)
        .map(Reply::Json)
}

async fn filter(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = args.path("applicationName");
    let current = ari
        .hub()
        .app_json(name)
        .ok_or_else(|| AriError::not_found("Application not found"))?;
    let body = args.object("filter");
    let list = |key: &str| -> Result<Option<Vec<Value>>, AriError> {
        match body.and_then(|b| b.get(key)) {
            None => Ok(None),
            Some(Value::Array(items))
                if items
                    .iter()
                    .all(|i| i.get("type").is_some_and(Value::is_string)) =>
            {
                Ok(Some(items.clone()))
            }
            Some(_) => Err(AriError::bad_request(format!(
                "{key} must be a list of objects with a \"type\""
            ))),
        }
    };
    let (allowed, disallowed) = match (list("allowed")?, list("disallowed")?) {
        // An empty body clears both.
        (None, None) if body.is_none() => (Vec::new(), Vec::new()),
        (allowed, disallowed) => (
            allowed.unwrap_or_else(|| {
                current["events_allowed"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            }),
            disallowed.unwrap_or_else(|| {
                current["events_disallowed"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            }),
        ),
    };
    ari.hub()
        .set_filter(name, allowed, disallowed)
        .map(Reply::Json)
}
