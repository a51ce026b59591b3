//! Successful replies, serialized as Asterisk does (compact JSON, 204 for void).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub enum Reply {
    /// 204: operations whose `responseClass` is `void`.
    NoContent,
    /// 200 with a JSON body.
    Json(Value),
    /// 200 with a JSON body serialized already (large lists).
    JsonBytes(Vec<u8>),
    /// 201 with a JSON body and a `Location` (play, record).
    Created { location: String, body: Value },
    /// 200 with a file's bytes (a stored recording's file).
    File {
        content_type: &'static str,
        filename: String,
        body: Vec<u8>,
    },
}

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    bytes_response(status, serde_json::to_vec(value).unwrap_or_default())
}

fn bytes_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Reply::NoContent => StatusCode::NO_CONTENT.into_response(),
            Reply::Json(value) => json_response(StatusCode::OK, &value),
            Reply::JsonBytes(body) => bytes_response(StatusCode::OK, body),
            Reply::Created { location, body } => {
                let mut response = json_response(StatusCode::CREATED, &body);
                if let Ok(location) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response
            }
            Reply::File {
                content_type,
                filename,
                body,
            } => {
                let mut response = Response::new(Body::from(body));
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                let disposition = format!("attachment; filename=\"{}\"", filename.replace('"', ""));
                if let Ok(value) = HeaderValue::from_str(&disposition) {
                    headers.insert(header::CONTENT_DISPOSITION, value);
                }
                response
            }
        }
    }
}
