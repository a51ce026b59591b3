//! The API's OpenAPI 3 document (`GET /api/openapi.json`), written to match what the
//! routes answer, refusals included.

use serde_json::{json, Value};

use crate::request::{AdditionalHeader, Direction};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    })
}

fn session_id() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "The unique ID of session.",
        "schema": {"type": "string"}
    })
}

/// The answers every session operation may give besides its own.
fn refusals(mut own: Value, also: &[(&str, &str)]) -> Value {
    let map = own.as_object_mut().expect("responses are an object");
    map.insert("401".into(), error_response("No or a wrong bearer token."));
    for (status, description) in also {
        map.insert((*status).into(), error_response(description));
    }
    own
}

fn action(summary: &str, body: Option<&str>) -> Value {
    let mut op = json!({
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [session_id()],
        "responses": refusals(
            json!({"204": {"description": "Done."}}),
            &[("400", "The body is not valid."), ("404", "No session has this ID."),
              ("409", "The session's state does not allow it.")],
        )
    });
    if let Some(schema) = body {
        op["requestBody"] = json!({
            "required": schema == "Refer",
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
        });
    }
    op
}

/// The document for this switch: `trunk` and `target_instance_id` take the names it
/// has (anything else is a field error, 400), so a schema-valid request is one it can
/// place.
pub fn document(instance_id: &str, trunks: &[String]) -> String {
    // OpenAPI wants an enum non-empty: with no trunk, no string is a trunk.
    let trunk = if trunks.is_empty() {
        json!({"type": "string", "description": "The name of the trunk (none is configured).", "not": {}})
    } else {
        json!({"type": "string", "enum": trunks, "description": "The name of the trunk."})
    };
    // What request.rs takes: text without control characters; numbers and SIP user
    // names for the parties (RFC 3261's unreserved characters and a few more).
    let string = |min: usize, max: usize, description: &str| {
        json!({"type": "string", "minLength": min, "maxLength": max, "description": description,
               "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"})
    };
    let user = |min: usize, max: usize, description: &str| {
        json!({"type": "string", "minLength": min, "maxLength": max, "description": description,
               "pattern": "^[A-Za-z0-9+*#._~!$'()-]*$"})
    };
    let document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "switchboard Sessions API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Third-party call control: the switch calls the caller, then the callee, and connects them (PortSIP PBX's sessions API)."
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Errors": {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {"errors": {"type": "array", "items": {
                        "type": "object",
                        "required": ["code", "message", "detail"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "detail": {"type": "string"}
                        }
                    }}}
                },
                "Call": {
                    "type": "object",
                    "required": ["caller", "caller_display_name", "callee", "trunk", "started_at", "talking_time"],
                    "properties": {
                        "caller": {"type": "string"},
                        "caller_display_name": {"type": "string"},
                        "callee": {"type": "string"},
                        "trunk": {"type": "string"},
                        "started_at": {"type": "string", "format": "date-time"},
                        "talking_time": {"type": "integer", "format": "int64", "minimum": 0}
                    }
                },
                "Session": {
                    "type": "object",
                    "required": ["id", "calls"],
                    "properties": {
                        "id": {"type": "string", "description": "The unique ID of session."},
                        "user_data": {"type": "string"},
                        "calls": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}
                    }
                },
                "SessionList": {
                    "type": "object",
                    "required": ["count", "items"],
                    "properties": {
                        "count": {"type": "integer", "format": "int64", "minimum": 0},
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}
                    }
                },
                "CreateSession": {
                    "type": "object",
                    "required": ["caller", "callee", "send_sdp"],
                    "properties": {
                        "caller": user(1, 256, "The caller number of the call."),
                        "caller_display_name": string(0, 1024, "The caller display name of the call."),
                        "callee": user(1, 256, "The callee number of the call."),
                        "send_sdp": {"type": "boolean", "description": "Whether the callee's INVITE carries SDP."},
                        "trunk": trunk,
                        "rewrite_from": user(1, 16, "Through the trunk: the From header's user part."),
                        "rewrite_pai": user(1, 16, "Through the trunk: the P-Asserted-Identity user part."),
                        "rewrite_rpi": user(1, 16, "Through the trunk: the Remote-Party-ID user part."),
                        "user_data": string(0, 128, "The user context of the call."),
                        "target": string(1, 128, "The target address."),
                        "target_instance_id": {"type": "string", "enum": [instance_id], "description": "The target instance ID: this instance's."},
                        "target_extension_number": user(1, 128, "The target extension number."),
                        "additional_header": {"type": "string", "enum": AdditionalHeader::NAMES},
                        "header_direction": {"type": "string", "enum": Direction::NAMES}
                    }
                },
                "Created": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}}
                },
                "Refer": {
                    "type": "object",
                    "required": ["target"],
                    "properties": {
                        "party": {"type": "string", "enum": ["caller", "callee"]},
                        "target": user(1, 128, "An endpoint, a number through the session's trunk, or an extension of this switch.")
                    }
                },
                "Party": {
                    "type": "object",
                    "properties": {"party": {"type": "string", "enum": ["caller", "callee"]}}
                },
                "TokenRequest": {"oneOf": [
                    {
                        "type": "object",
                        "required": ["grant_type", "username", "password"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["password"]},
                            "username": {"type": "string"},
                            "password": {"type": "string"}
                        }
                    },
                    {
                        "type": "object",
                        "required": ["grant_type", "refresh_token"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["refresh_token"]},
                            "refresh_token": {"type": "string"}
                        }
                    }
                ]},
                "Token": {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_in", "refresh_token"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string", "enum": ["Bearer"]},
                        "expires_in": {"type": "integer"},
                        "refresh_token": {"type": "string"}
                    }
                }
            }
        },
        "paths": {
            "/api/login/oauth/token": {"post": {
                "summary": "Get an access token",
                "requestBody": {"required": true, "content": {
                    "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/TokenRequest"}},
                    "application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}
                }},
                "responses": {
                    "200": {"description": "A token.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}}},
                    "400": error_response("A field is missing or wrong."),
                    "401": error_response("Wrong credentials or refresh token.")
                }
            }},
            "/api/sessions": {
                "get": {
                    "summary": "List current active call sessions.",
                    "security": [{"bearer": []}],
                    "responses": refusals(json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SessionList"}}}}}), &[])
                },
                "post": {
                    "summary": "Create call session",
                    "security": [{"bearer": []}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateSession"}}}},
                    "responses": refusals(
                        json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}}}}),
                        &[("400", "The body or a field is not valid."),
                          ("404", "A party is not an endpoint of this switch and no trunk reaches it."),
                          ("503", "The trunk is down, or too many sessions are in progress.")],
                    )
                }
            },
            "/api/sessions/{id}": {"get": {
                "summary": "Retrieve call session by ID.",
                "security": [{"bearer": []}],
                "parameters": [session_id()],
                "responses": refusals(
                    json!({"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}}),
                    &[("404", "No session has this ID.")],
                )
            }},
            "/api/sessions/{id}/destroy": {"post": action("Hang up the session's calls.", None)},
            "/api/sessions/{id}/hold": {"post": action("Put a party (the callee by default) on hold.", Some("Party"))},
            "/api/sessions/{id}/unhold": {"post": action("Take a party off hold.", Some("Party"))},
            "/api/sessions/{id}/refer": {"post": action("Blind transfer: connect a party (the callee by default) to a target; the other party is hung up.", Some("Refer"))},
            "/api/openapi.json": {"get": {
                "summary": "This document.",
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }}
        }
    });
    document.to_string()
}
