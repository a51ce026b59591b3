//! ARI errors: an HTTP status and Asterisk's `{"message": "..."}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_core::ControlError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AriError {
    pub status: u16,
    pub message: String,
}

impl AriError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(412, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, message)
    }

    pub fn not_implemented() -> Self {
        Self::new(501, "Not implemented yet")
    }

    pub fn channel_not_found() -> Self {
        Self::not_found("Channel not found")
    }

    /// A core refusal on a channel operation, in the seed's words.
    pub fn from_control(e: ControlError) -> Self {
        match e {
            ControlError::NotFound => Self::channel_not_found(),
            ControlError::WrongState(why) => {
                tracing::debug!(why, "ARI: channel in invalid state");
                Self::precondition("Channel in invalid state")
            }
            ControlError::Invalid(why) => Self::bad_request(why),
            ControlError::Conflict(why) => Self::conflict(why),
            ControlError::Unprocessable(why) => Self::unprocessable(why),
            ControlError::Failed(why) => Self::new(500, why),
        }
    }
}

impl IntoResponse for AriError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        crate::reply::json_response(status, &json!({ "message": self.message }))
    }
}
