//! The HTTP side: the router generated from the declarations, request dispatch,
//! authentication, CORS and the api-docs.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method as HttpMethod, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodFilter, MethodRouter};
use axum::Router;
use base64::Engine as _;

use crate::decl::{self, Kind, Method, Operation};
use crate::error::AriError;
use crate::reply::json_response;
use crate::resources::resources;
use crate::Ari;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

fn filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Delete => MethodFilter::DELETE,
    }
}

/// Every declared operation routed to its handler, plus the api-docs.
pub fn router(ari: Ari) -> Router {
    let mut router: Router<Ari> = Router::new();
    for resource in resources() {
        for api in &resource.apis {
            let template = api.path;
            let mut methods: MethodRouter<Ari> = MethodRouter::new();
            for op in &api.operations {
                methods = match op.kind {
                    Kind::Rest(_) => methods.on(
                        filter(op.method),
                        move |State(ari): State<Ari>, req: Request| {
                            dispatch(ari, template, op, req)
                        },
                    ),
                    Kind::WebSocket => methods.on(
                        filter(op.method),
                        move |State(ari): State<Ari>, req: Request| {
                            crate::stasis::websocket(ari, op, req)
                        },
                    ),
                };
            }
            methods = methods
                .fallback(|| async { AriError::new(405, "Method Not Allowed").into_response() });
            router = router.route(&format!("/ari{template}"), methods);
        }
    }
    router
        .route("/ari/api-docs/resources.json", get(listing))
        .route("/ari/api-docs/{file}", get(declaration))
        .fallback(|| async { AriError::not_found("Resource not found").into_response() })
        .layer(middleware::from_fn_with_state(ari.clone(), guard))
        .with_state(ari)
}

async fn dispatch(
    ari: Ari,
    template: &'static str,
    op: &'static Operation,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/ari")
        .unwrap_or(parts.uri.path());
    let path_params = decl::match_path(template, path).unwrap_or_default();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => return AriError::bad_request("Request body too large").into_response(),
    };
    tracing::debug!(method = %parts.method, uri = %parts.uri, op = op.nickname, "ARI request");
    let args = match crate::params::parse(op, path_params, parts.uri.query(), &body) {
        Ok(args) => args,
        Err(e) => return e.into_response(),
    };
    let Kind::Rest(handler) = op.kind else {
        return AriError::new(500, "not a REST operation").into_response();
    };
    match handler(ari, args).await {
        Ok(reply) => reply.into_response(),
        Err(e) => {
            let declared = op.errors.iter().any(|(code, _)| *code == e.status);
            if !declared && ![400, 500, 501].contains(&e.status) {
                tracing::warn!(
                    op = op.nickname,
                    status = e.status,
                    message = %e.message,
                    "ARI answered a status its declaration does not list"
                );
            }
            e.into_response()
        }
    }
}

/// `http://<Host>/ari`, as Asterisk rewrites `basePath`.
fn base_path(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8088");
    format!("http://{host}/ari")
}

async fn listing(headers: HeaderMap) -> Response {
    json_response(
        StatusCode::OK,
        &decl::listing(resources(), &base_path(&headers)),
    )
}

async fn declaration(
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let name = file.strip_suffix(".json").unwrap_or(&file);
    match resources().iter().find(|r| r.name == name) {
        Some(resource) => {
            json_response(StatusCode::OK, &resource.declaration(&base_path(&headers)))
        }
        None => AriError::not_found("Resource not found").into_response(),
    }
}

impl Ari {
    /// HTTP Basic or `api_key=user:password`, against the configured users.
    fn authorized(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let users = &self.config().users;
        let known =
            |user: &str, password: &str| users.iter().any(|(u, p)| u == user && p == password);
        if let Some(query) = query {
            for (key, value) in form_urlencoded::parse(query.as_bytes()) {
                if key == "api_key" {
                    if let Some((user, password)) = value.split_once(':') {
                        return known(user, password);
                    }
                    return false;
                }
            }
        }
        let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, encoded)) = auth.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let decoded = String::from_utf8_lossy(&decoded);
        decoded
            .split_once(':')
            .is_some_and(|(user, password)| known(user, password))
    }

    fn cors_allows(&self, origin: &str) -> bool {
        self.config()
            .cors_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// The methods declared for a path (for `Allow` and CORS preflight).
fn methods_for(path: &str) -> Vec<&'static str> {
    let path = path.strip_prefix("/ari").unwrap_or(path);
    let mut methods: Vec<&'static str> = resources()
        .iter()
        .flat_map(|r| &r.apis)
        .filter(|api| decl::match_path(api.path, path).is_some())
        .flat_map(|api| api.operations.iter().map(|op| op.method.as_str()))
        .collect();
    methods.dedup();
    methods.push("OPTIONS");
    methods
}

/// Authentication and CORS around every request.
async fn guard(State(ari): State<Ari>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| ari.cors_allows(o))
        .map(str::to_owned);
    if req.method() == HttpMethod::OPTIONS {
        // Preflight: no credentials are sent with it.
        let methods = methods_for(req.uri().path()).join(",");
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        if let Ok(allow) = HeaderValue::from_str(&methods) {
            headers.insert(header::ALLOW, allow.clone());
            if origin.is_some() {
                headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, allow);
            }
        }
        if origin.is_some() {
            let requested = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned()
                .unwrap_or_else(|| HeaderValue::from_static("Content-Type, Authorization"));
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
        }
        add_cors(headers, origin.as_deref());
        return response;
    }
    if !ari.authorized(req.headers(), req.uri().query()) {
        let mut response = AriError::new(401, "Authentication required").into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Asterisk REST Interface\""),
        );
        add_cors(response.headers_mut(), origin.as_deref());
        return response;
    }
    let mut response = next.run(req).await;
    add_cors(response.headers_mut(), origin.as_deref());
    response
}

fn add_cors(headers: &mut HeaderMap, origin: Option<&str>) {
    let Some(origin) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
}

/// Extracts a WebSocket upgrade from a request, or the 400 Asterisk gives a plain GET.
pub(crate) async fn upgrade(
    ari: &Ari,
    req: Request,
) -> Result<
    (
        axum::extract::ws::WebSocketUpgrade,
        axum::http::request::Parts,
    ),
    Response,
> {
    let (mut parts, _body): (_, Body) = req.into_parts();
    match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, ari).await {
        Ok(ws) => Ok((ws, parts)),
        Err(rejection) => Err(AriError::bad_request(format!(
            "WebSocket upgrade required: {rejection}"
        ))
        .into_response()),
    }
}
