//! The API's routes: sessions (list, create, get, destroy, hold, unhold), the OAuth
//! token endpoint and the OpenAPI document.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use switchboard_core::{CallSession, ControlError, SessionParty, Switch};

use crate::auth::Tokens;
use crate::error::ApiError;
use crate::request::CreateSession;

pub struct Api {
    pub switch: Switch,
    pub tokens: Tokens,
    /// The OpenAPI document, made once for this switch's trunks and instance id.
    pub openapi: String,
}

/// The client's address, put on each request by the connection that carries it.
#[derive(Debug, Clone, Copy)]
pub struct Remote(pub SocketAddr);

/// A request with a valid bearer token.
pub struct Authorized;

impl FromRequestParts<Arc<Api>> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match api.tokens.check(header) {
            Ok(()) => Ok(Self),
            Err(e) => {
                let remote = parts.extensions.get::<Remote>().map(|r| r.0);
                tracing::info!(?remote, path = %parts.uri.path(), "Sessions API: {}", e.message);
                Err(e)
            }
        }
    }
}

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/api/login/oauth/token", post(token))
        .route("/api/sessions", get(list).post(create))
        .route("/api/sessions/{id}", get(get_one))
        .route("/api/sessions/{id}/destroy", post(destroy))
        .route("/api/sessions/{id}/hold", post(hold))
        .route("/api/sessions/{id}/unhold", post(unhold))
        .route("/api/sessions/{id}/refer", post(refer))
        .route("/api/openapi.json", get(openapi))
        .fallback(|| async { ApiError::not_found("no such resource") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(api)
}

fn control(e: ControlError) -> ApiError {
    match e {
        ControlError::NotFound => ApiError::not_found("session not found"),
        ControlError::WrongState(what) => ApiError::conflict(what),
        ControlError::Conflict(what) => ApiError::conflict(what),
        ControlError::Invalid(what) => ApiError::invalid(what),
        ControlError::Unprocessable(what) => ApiError::unavailable(what),
        ControlError::Failed(what) => ApiError::internal(what),
    }
}

/// A session as the API describes it: its id and its call.
fn describe(session: &CallSession) -> Value {
    json!({
        "id": session.id,
        "user_data": session.user_data.clone().unwrap_or_default(),
        "calls": [{
            "caller": session.caller,
            "caller_display_name": session.caller_display_name,
            "callee": session.callee,
            "trunk": session.trunk.clone().unwrap_or_default(),
            "started_at": switchboard_core::time::rfc3339(session.started_at),
            "talking_time": session.talking_time(),
        }]
    })
}

async fn list(_: Authorized, State(api): State<Arc<Api>>) -> Json<Value> {
    let items: Vec<Value> = api
        .switch
        .call_sessions()
        .iter()
        .map(|s| describe(s))
        .collect();
    Json(json!({ "count": items.len(), "items": items }))
}

async fn get_one(
    _: Authorized,
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let session = api.switch.call_session(&id).map_err(control)?;
    Ok(Json(describe(&session)))
}

async fn create(
    _: Authorized,
    State(api): State<Arc<Api>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = CreateSession::parse(&body)?;
    let new = crate::plan::plan(&api.switch, &request)?;
    let session = api.switch.start_call_session(new).map_err(control)?;
    tracing::info!(session = %session.id, caller = %session.caller, callee = %session.callee, "Sessions API: session created");
    Ok(Json(json!({ "id": session.id })))
}

async fn destroy(
    _: Authorized,
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.switch.end_call_session(&id).map_err(control)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A body's JSON object (an empty body is an empty object).
fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("the body must be a JSON object")),
        Err(e) => {
            Err(ApiError::invalid("the body must be a JSON object").with_detail(e.to_string()))
        }
    }
}

/// The body's `party`, the callee when absent (the one the caller puts on hold or
/// transfers).
fn party(body: &serde_json::Map<String, Value>) -> Result<SessionParty, ApiError> {
    match body.get("party") {
        None => Ok(SessionParty::Callee),
        Some(Value::String(p)) if p == "callee" => Ok(SessionParty::Callee),
        Some(Value::String(p)) if p == "caller" => Ok(SessionParty::Caller),
        Some(_) => Err(ApiError::invalid("party must be \"caller\" or \"callee\"")),
    }
}

/// The channel of the party a hold names.
fn held_party(api: &Api, id: &str, body: &[u8]) -> Result<String, ApiError> {
    let session = api.switch.call_session(id).map_err(control)?;
    let party = party(&object(body)?)?;
    let progress = session.progress();
    let channel = match party {
        SessionParty::Caller => progress.caller_channel,
        SessionParty::Callee => progress.callee_channel,
    };
    match (channel, progress.connected_at) {
        (Some(channel), Some(_)) => Ok(channel),
        _ => Err(ApiError::conflict(
            "the session's parties are not connected yet",
        )),
    }
}

/// `hold` and `unhold`: the named party's channel on or off hold.
async fn set_hold(api: &Api, id: &str, body: &[u8], on: bool) -> Result<StatusCode, ApiError> {
    let channel = held_party(api, id, body)?;
    let done = if on {
        api.switch.hold(&channel)
    } else {
        api.switch.unhold(&channel)
    };
    done.map_err(control)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn hold(
    _: Authorized,
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    set_hold(&api, &id, &body, true).await
}

async fn unhold(
    _: Authorized,
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    set_hold(&api, &id, &body, false).await
}

/// Blind transfer of one party (`{"party": "caller"|"callee", "target": "<number>"}`)
/// by the switch: the other party is hung up, the target called and connected.
async fn refer(
    _: Authorized,
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let session = api.switch.call_session(&id).map_err(control)?;
    let body = object(&body)?;
    let party = party(&body)?;
    let target = match body.get("target") {
        Some(Value::String(t)) if !t.is_empty() && t.len() <= 128 => t.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                "target must be a string of 1 to 128 characters",
            ))
        }
        None => return Err(ApiError::invalid("target is required")),
    };
    crate::request::check_user("target", &target)?;
    let to = crate::plan::transfer(api.switch.config(), &session, party, &target);
    api.switch
        .transfer_call_session(&id, party, to)
        .await
        .map_err(control)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/login/oauth/token`: form fields (or JSON) `grant_type=password` with
/// `username`/`password`, or `grant_type=refresh_token` with `refresh_token`.
async fn token(
    State(api): State<Arc<Api>>,
    remote: Option<Extension<Remote>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let from = remote.map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |r| r.0 .0);
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let field = |name: &str| -> Option<String> {
        if json {
            serde_json::from_slice::<Value>(&body)
                .ok()?
                .get(name)?
                .as_str()
                .map(str::to_owned)
        } else {
            form_field(&body, name)
        }
    };
    let grant = match field("grant_type").as_deref() {
        Some("password") => {
            let (Some(user), Some(password)) = (field("username"), field("password")) else {
                return Err(ApiError::invalid("username and password are required"));
            };
            api.tokens.login(&user, &password, from)?
        }
        Some("refresh_token") => {
            let token = field("refresh_token")
                .ok_or_else(|| ApiError::invalid("refresh_token is required"))?;
            api.tokens.refresh(&token, from)?
        }
        Some(other) => {
            return Err(
                ApiError::invalid("grant_type must be password or refresh_token")
                    .with_detail(format!("got {other:?}")),
            )
        }
        None => return Err(ApiError::invalid("grant_type is required")),
    };
    let body = json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
        "refresh_token": grant.refresh_token,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// A field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn openapi(State(api): State<Arc<Api>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        api.openapi.clone(),
    )
        .into_response()
}
