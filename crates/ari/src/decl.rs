//! The one source of the API: every operation is declared once, as data, with its
//! handler. The router, the request validation and the Swagger 1.1 `api-docs` are all
//! generated from these declarations, so they cannot drift apart.

use std::future::Future;
use std::pin::Pin;

use serde_json::{json, Map, Value};

use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::Ari;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Reply, AriError>> + Send>>;
/// An operation's implementation: the validated arguments in, a reply out.
pub type Handler = fn(Ari, Args) -> HandlerFuture;

/// `h!(function)`: an `async fn(Ari, Args) -> Result<Reply, AriError>` as a [`Handler`].
macro_rules! h {
    ($f:path) => {
        (|ari, args| Box::pin($f(ari, args))) as $crate::decl::Handler
    };
}
pub(crate) use h;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Path,
    Query,
    /// A JSON body key (`variables`, `fields`): an object, not a scalar.
    Body,
}

impl ParamType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Body => "body",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Allowable {
    List(&'static [&'static str]),
    Range { min: Option<i64>, max: Option<i64> },
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub param_type: ParamType,
    /// Swagger 1.1 data type: `string`, `int`, `long`, `double`, `boolean`,
    /// `containers` (a body object).
    pub data_type: &'static str,
    pub required: bool,
    pub allow_multiple: bool,
    pub default: Option<Value>,
    pub allowable: Option<Allowable>,
}

/// What serves an operation.
#[derive(Clone, Copy)]
pub enum Kind {
    Rest(Handler),
    /// The events WebSocket (`upgrade: websocket`).
    WebSocket,
}

#[derive(Clone)]
pub struct Operation {
    pub method: Method,
    pub nickname: &'static str,
    pub summary: &'static str,
    pub notes: Option<&'static str>,
    pub response_class: &'static str,
    pub params: Vec<Param>,
    pub errors: Vec<(u16, &'static str)>,
    pub kind: Kind,
}

pub struct Api {
    /// Relative to `/ari`, in the `{param}` syntax shared by Swagger and axum.
    pub path: &'static str,
    pub description: &'static str,
    pub operations: Vec<Operation>,
}

pub struct Resource {
    /// `channels`: served at `/ari/api-docs/channels.json`.
    pub name: &'static str,
    pub description: &'static str,
    pub apis: Vec<Api>,
    /// The resource's models, each a JSON object `{"Name": {"id": "Name", ...}}`.
    pub models: &'static [&'static str],
}

pub fn api(path: &'static str, description: &'static str, operations: Vec<Operation>) -> Api {
    Api {
        path,
        description,
        operations,
    }
}

/// A REST operation; parameters and error responses are added with the builder methods.
pub fn op(
    method: Method,
    nickname: &'static str,
    summary: &'static str,
    response_class: &'static str,
    handler: Handler,
) -> Operation {
    Operation {
        method,
        nickname,
        summary,
        notes: None,
        response_class,
        params: Vec::new(),
        errors: Vec::new(),
        kind: Kind::Rest(handler),
    }
}

impl Operation {
    pub fn websocket(mut self) -> Self {
        self.kind = Kind::WebSocket;
        self
    }

    pub fn notes(mut self, notes: &'static str) -> Self {
        self.notes = Some(notes);
        self
    }

    fn push(
        mut self,
        param_type: ParamType,
        name: &'static str,
        data_type: &'static str,
        description: &'static str,
    ) -> Self {
        self.params.push(Param {
            name,
            description,
            param_type,
            data_type,
            required: param_type == ParamType::Path,
            allow_multiple: false,
            default: None,
            allowable: None,
        });
        self
    }

    /// A path parameter (always a required string).
    pub fn path(self, name: &'static str, description: &'static str) -> Self {
        self.push(ParamType::Path, name, "string", description)
    }

    /// An optional query parameter; see [`Operation::required`] and the others.
    pub fn query(
        self,
        name: &'static str,
        data_type: &'static str,
        description: &'static str,
    ) -> Self {
        self.push(ParamType::Query, name, data_type, description)
    }

    /// A JSON body object (`variables`, `fields`, `filter`).
    pub fn body(self, name: &'static str, description: &'static str) -> Self {
        self.push(ParamType::Body, name, "containers", description)
    }

    fn last(&mut self) -> &mut Param {
        self.params
            .last_mut()
            .expect("a parameter was declared before")
    }

    /// The last parameter is required.
    pub fn required(mut self) -> Self {
        self.last().required = true;
        self
    }

    /// The last parameter may be given several times (or comma-separated).
    pub fn multi(mut self) -> Self {
        self.last().allow_multiple = true;
        self
    }

    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.last().default = Some(value.into());
        self
    }

    pub fn values(mut self, values: &'static [&'static str]) -> Self {
        self.last().allowable = Some(Allowable::List(values));
        self
    }

    pub fn range(mut self, min: Option<i64>, max: Option<i64>) -> Self {
        self.last().allowable = Some(Allowable::Range { min, max });
        self
    }

    pub fn error(mut self, code: u16, reason: &'static str) -> Self {
        self.errors.push((code, reason));
        self
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("httpMethod".into(), self.method.as_str().into());
        if matches!(self.kind, Kind::WebSocket) {
            o.insert("upgrade".into(), "websocket".into());
            o.insert("websocketProtocol".into(), "ari".into());
        }
        o.insert("summary".into(), self.summary.into());
        if let Some(notes) = self.notes {
            o.insert("notes".into(), notes.into());
        }
        o.insert("nickname".into(), self.nickname.into());
        o.insert("responseClass".into(), self.response_class.into());
        let params: Vec<Value> = self.params.iter().map(Param::to_json).collect();
        o.insert("parameters".into(), params.into());
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .map(|(code, reason)| json!({"code": code, "reason": reason}))
                .collect();
            o.insert("errorResponses".into(), errors.into());
        }
        Value::Object(o)
    }
}

impl Param {
    fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("name".into(), self.name.into());
        o.insert("description".into(), self.description.into());
        o.insert("paramType".into(), self.param_type.as_str().into());
        o.insert("required".into(), self.required.into());
        o.insert("allowMultiple".into(), self.allow_multiple.into());
        o.insert("dataType".into(), self.data_type.into());
        if let Some(default) = &self.default {
            o.insert("defaultValue".into(), default.clone());
        }
        match &self.allowable {
            Some(Allowable::List(values)) => {
                o.insert(
                    "allowableValues".into(),
                    json!({"valueType": "LIST", "values": values}),
                );
            }
            Some(Allowable::Range { min, max }) => {
                let mut range = Map::new();
                range.insert("valueType".into(), "RANGE".into());
                if let Some(min) = min {
                    range.insert("min".into(), (*min).into());
                }
                if let Some(max) = max {
                    range.insert("max".into(), (*max).into());
                }
                o.insert("allowableValues".into(), Value::Object(range));
            }
            None => {}
        }
        Value::Object(o)
    }
}

/// Version of the declarations (Asterisk 22's ARI).
pub const API_VERSION: &str = "2.0.0";

impl Resource {
    pub fn models_json(&self) -> Map<String, Value> {
        let mut models = Map::new();
        for text in self.models {
            let parsed: Map<String, Value> = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("models of {}: {e}", self.name));
            models.extend(parsed);
        }
        models
    }

    /// The Swagger 1.1 API declaration, with `basePath` for `base` (`http://host/ari`).
    pub fn declaration(&self, base: &str) -> Value {
        let apis: Vec<Value> = self
            .apis
            .iter()
            .map(|api| {
                let ops: Vec<Value> = api.operations.iter().map(Operation::to_json).collect();
                json!({"path": api.path, "description": api.description, "operations": ops})
            })
            .collect();
        json!({
            "_copyright": "switchboard; the interface is Asterisk's ARI",
            "apiVersion": API_VERSION,
            "swaggerVersion": "1.1",
            "basePath": base,
            "resourcePath": format!("/api-docs/{}.{{format}}", self.name),
            "apis": apis,
            "models": Value::Object(self.models_json()),
        })
    }
}

/// `resources.json`: the listing of every resource's declaration.
pub fn listing(resources: &[Resource], base: &str) -> Value {
    let apis: Vec<Value> = resources
        .iter()
        .map(|r| json!({"path": format!("/api-docs/{}.{{format}}", r.name), "description": r.description}))
        .collect();
    json!({
        "_copyright": "switchboard; the interface is Asterisk's ARI",
        "apiVersion": API_VERSION,
        "swaggerVersion": "1.1",
        "basePath": base,
        "apis": apis,
    })
}

/// Matches a request path (below `/ari`) against a declared path, returning the path
/// parameters (percent-decoded).
pub fn match_path(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut segments = path.trim_end_matches('/').split('/');
    for part in template.split('/') {
        let segment = segments.next()?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                params.push((name, percent_decode(segment)));
            }
            None if part == segment => {}
            None => return None,
        }
    }
    segments.next().is_none().then_some(params)
}

/// `%XX` escapes decoded (a path segment: `+` stays `+`).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
