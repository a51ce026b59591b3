//! `endpoints`: the configured SIP endpoints (and trunks) as ARI `SIP` endpoints;
//! sending messages and REFER answer 501.

use serde_json::{json, Value};

use super::not_implemented;
use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

/// The technology endpoints report. Asterisk names an endpoint by the channel driver
/// whose channels it owns (chan_sip: `SIP` endpoints with `SIP/…` channels; chan_pjsip:
/// `PJSIP` and `PJSIP/…`), and clients rely on that: they match `technology/resource`
/// against channel names and dial strings. Our channels are `SIP/<endpoint>-<seq>`, so
/// endpoints are `SIP` too; `PJSIP` stays accepted as an alias wherever a name is given
/// (URLs, event sources), as in dial strings, because Asterisk users type it.
pub const TECHNOLOGY: &str = "SIP";

pub fn resource() -> Resource {
    Resource {
        name: "endpoints",
        description: "Endpoint resources",
        models: &[models::ENDPOINTS],
        apis: vec![
            api("/endpoints", "Asterisk endpoints", vec![
                op(Get, "list", "List all endpoints.", "List[Endpoint]", h!(list)),
            ]),
            api("/endpoints/sendMessage", "Send a message to some technology URI or endpoint.", vec![
                op(Put, "sendMessage", "Send a message to some technology URI or endpoint.", "void", h!(not_implemented))
                    .query("to", "string", "The endpoint resource or technology specific URI to send the message to. Valid resources are pjsip, and xmpp.").required()
                    .query("from", "string", "The endpoint resource or technology specific identity to send this message from. Valid resources are pjsip, and xmpp.").required()
                    .query("body", "string", "The body of the message")
                    .body("variables", "The \"variables\" key in the body object holds technology specific key/value pairs to append to the message. These can be interpreted and used by the various resource types; for example, pjsip and sip resource types will add the key/value pairs as SIP headers,")
                    .error(400, "Invalid parameters for sending a message.")
                    .error(404, "Endpoint not found"),
            ]),
            api("/endpoints/refer", "Refer an endpoint or technology URI to some technology URI or endpoint.", vec![
                op(Post, "refer", "Refer an endpoint or technology URI to some technology URI or endpoint.", "void", h!(not_implemented))
                    .query("to", "string", "The endpoint resource or technology specific URI that should be referred to somewhere. Valid resource is pjsip.").required()
                    .query("from", "string", "The endpoint resource or technology specific identity to refer from.").required()
                    .query("refer_to", "string", "The endpoint resource or technology specific URI to refer to.").required()
                    .query("to_self", "boolean", "If true and \"refer_to\" refers to an Asterisk endpoint, the \"refer_to\" value is set to point to this Asterisk endpoint - so the referee is referred to Asterisk. Otherwise, use the contact URI associated with the endpoint.").default(false)
                    .body("variables", "The \"variables\" key in the body object holds technology specific key/value pairs to append to the message. These can be interpreted and used by the various resource types; for example, the pjsip resource type will add the key/value pairs as SIP headers. The \"display_name\" key is used by the PJSIP technology. Its value will be prepended as a display name to the Refer-To URI.")
                    .error(400, "Invalid parameters for referring.")
                    .error(404, "Endpoint not found"),
            ]),
            api("/endpoints/{tech}", "Asterisk endpoints", vec![
                op(Get, "listByTech", "List available endoints for a given endpoint technology.", "List[Endpoint]", h!(list_by_tech))
                    .path("tech", "Technology of the endpoints (pjsip,iax2,...)")
                    .error(404, "Endpoints not found"),
            ]),
            api("/endpoints/{tech}/{resource}", "Single endpoint", vec![
                op(Get, "get", "Details for an endpoint.", "Endpoint", h!(get))
                    .path("tech", "Technology of the endpoint")
                    .path("resource", "ID of the endpoint")
                    .error(400, "Invalid parameters for sending a message.")
                    .error(404, "Endpoints not found"),
            ]),
            api("/endpoints/{tech}/{resource}/sendMessage", "Send a message to some endpoint in a technology.", vec![
                op(Put, "sendMessageToEndpoint", "Send a message to some endpoint in a technology.", "void", h!(not_implemented))
                    .path("tech", "Technology of the endpoint")
                    .path("resource", "ID of the endpoint")
                    .query("from", "string", "The endpoint resource or technology specific identity to send this message from. Valid resources are pjsip and xmpp.").required()
                    .query("body", "string", "The body of the message")
                    .body("variables", "The \"variables\" key in the body object holds technology specific key/value pairs to append to the message.")
                    .error(400, "Invalid parameters for sending a message.")
                    .error(404, "Endpoint not found"),
            ]),
            api("/endpoints/{tech}/{resource}/refer", "Refer an endpoint in a technology to some technology URI or endpoint..", vec![
                op(Post, "referToEndpoint", "Refer an endpoint or technology URI to some technology URI or endpoint.", "void", h!(not_implemented))
                    .path("tech", "Technology of the endpoint")
                    .path("resource", "ID of the endpoint")
                    .query("from", "string", "The endpoint resource or technology specific identity to refer from.").required()
                    .query("refer_to", "string", "The endpoint resource or technology specific URI to refer to.").required()
                    .query("to_self", "boolean", "If true and \"refer_to\" refers to an Asterisk endpoint, the \"refer_to\" value is set to point to this Asterisk endpoint - so the referee is referred to Asterisk. Otherwise, use the contact URI associated with the endpoint.").default(false)
                    .body("variables", "The \"variables\" key in the body object holds technology specific key/value pairs to append to the message.")
                    .error(400, "Invalid parameters for referring.")
                    .error(404, "Endpoint not found"),
            ]),
        ],
    }
}

/// Whether `tech` names our SIP technology: `SIP`, or its alias `PJSIP`.
pub fn is_sip(tech: &str) -> bool {
    tech.eq_ignore_ascii_case(TECHNOLOGY) || tech.eq_ignore_ascii_case("PJSIP")
}

/// Every endpoint: phones (online while registered) and trunks.
async fn all(ari: &Ari) -> Vec<Value> {
    let config = ari.switch().config();
    let mut out = Vec::new();
    for endpoint in &config.endpoint {
        let online = !ari
            .switch()
            .endpoint_contacts(&endpoint.id)
            .await
            .is_empty();
        out.push(endpoint_json(
            ari,
            &endpoint.id,
            if online { "online" } else { "offline" },
        ));
    }
    for trunk in &config.trunk {
        out.push(endpoint_json(ari, &trunk.name, "unknown"));
    }
    out
}

fn endpoint_json(ari: &Ari, resource: &str, state: &str) -> Value {
    let prefix = format!("{TECHNOLOGY}/{resource}-");
    let channel_ids: Vec<String> = ari
        .switch()
        .channels()
        .iter()
        .filter(|c| c.name.starts_with(&prefix))
        .map(|c| c.id.clone())
        .collect();
    json!({
        "technology": TECHNOLOGY,
        "resource": resource,
        "state": state,
        "channel_ids": channel_ids,
    })
}

/// One endpoint's `Endpoint` model, if it exists.
pub async fn find(ari: &Ari, tech: &str, resource: &str) -> Option<Value> {
    if !is_sip(tech) {
        return None;
    }
    all(ari)
        .await
        .into_iter()
        .find(|e| e["resource"].as_str() == Some(resource))
}

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Ok(Reply::Json(all(&ari).await.into()))
}

async fn list_by_tech(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let tech = args.path("tech");
    if !is_sip(tech) {
        return Err(AriError::not_found(format!(
            "No Endpoints found - invalid tech {tech}"
        )));
    }
    Ok(Reply::Json(all(&ari).await.into()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    find(&ari, args.path("tech"), args.path("resource"))
        .await
        .map(Reply::Json)
        .ok_or_else(|| AriError::not_found("Endpoint not found"))
}
