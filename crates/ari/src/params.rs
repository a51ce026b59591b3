//! Request arguments: path, query string and JSON body merged, checked against the
//! operation's declaration (required, data type, allowable values) and completed with
//! its defaults, before any handler runs.

use std::collections::HashMap;

use serde_json::Value;

use crate::decl::{Allowable, Operation, Param, ParamType};
use crate::error::AriError;

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    List(Vec<String>),
    /// A body object (`variables`, `fields`, `filter`).
    Object(Value),
}

/// Validated arguments of one request.
#[derive(Debug, Default, Clone)]
pub struct Args {
    values: HashMap<&'static str, Arg>,
}

impl Args {
    /// A path parameter (always present once the route matched).
    pub fn path(&self, name: &str) -> &str {
        self.str(name).unwrap_or_default()
    }

    /// A string parameter; an empty string counts as absent, as in Asterisk.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Arg::Str(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Arg::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(Arg::Bool(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(Arg::List(v)) => v.clone(),
            Some(Arg::Str(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    pub fn object(&self, name: &str) -> Option<&Value> {
        match self.values.get(name) {
            Some(Arg::Object(v)) => Some(v),
            _ => None,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// For handlers building arguments themselves (tests, internal calls).
    pub fn set(&mut self, name: &'static str, arg: Arg) {
        self.values.insert(name, arg);
    }
}

/// Merges and validates a request's parameters for `op`.
pub fn parse(
    op: &Operation,
    path: Vec<(&'static str, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Args, AriError> {
    let mut raw: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        raw.entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let mut args = Args::default();
    let body = body.trim_ascii();
    if !body.is_empty() {
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|e| AriError::bad_request(format!("Could not parse body: {e}")))?;
        let Value::Object(object) = parsed else {
            return Err(AriError::bad_request("Body must be a JSON object"));
        };
        // A body parameter other than `variables` / `fields` is the whole body
        // (`filter` of applications).
        if let Some(whole) = op
            .params
            .iter()
            .find(|p| p.param_type == ParamType::Body && !["variables", "fields"].contains(&p.name))
        {
            args.values
                .insert(whole.name, Arg::Object(Value::Object(object.clone())));
        }
        for (key, value) in object {
            match op.param(&key) {
                Some(p) if p.param_type == ParamType::Body => {
                    args.values.insert(p.name, Arg::Object(value));
                }
                // Other keys of the body are parameters, as Asterisk reads them.
                Some(_) => {
                    raw.insert(key, body_strings(&value));
                }
                None => {}
            }
        }
    }
    for (name, value) in path {
        args.values.insert(name, Arg::Str(value));
    }
    for param in &op.params {
        match param.param_type {
            ParamType::Path => continue,
            ParamType::Body => {
                if param.required && !args.values.contains_key(param.name) {
                    return Err(missing(param));
                }
                if let Some(Arg::Object(value)) = args.values.get(param.name) {
                    if !value.is_object() {
                        return Err(AriError::bad_request(format!(
                            "{} must be a JSON object",
                            param.name
                        )));
                    }
                }
                continue;
            }
            ParamType::Query => {}
        }
        let given = raw.remove(param.name).filter(|v| !v.is_empty());
        let Some(values) = given else {
            if param.required {
                return Err(missing(param));
            }
            if let Some(default) = &param.default {
                args.values.insert(param.name, from_default(param, default));
            }
            continue;
        };
        let arg = if param.allow_multiple {
            let items: Vec<String> = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if items.is_empty() && param.required {
                return Err(missing(param));
            }
            for item in &items {
                check_allowable(param, item)?;
            }
            Arg::List(items)
        } else {
            let value = values.last().cloned().unwrap_or_default();
            if value.is_empty() && param.required {
                return Err(missing(param));
            }
            typed(param, value)?
        };
        args.values.insert(param.name, arg);
    }
    Ok(args)
}

fn missing(param: &Param) -> AriError {
    AriError::bad_request(format!("Missing required parameter {}", param.name))
}

/// A JSON body value as the strings a query string would carry.
fn body_strings(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => vec![items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")],
        other => vec![other.to_string()],
    }
}

fn from_default(param: &Param, default: &Value) -> Arg {
    match (param.data_type, default) {
        ("int" | "long", Value::Number(n)) => Arg::Int(n.as_i64().unwrap_or_default()),
        ("double", Value::Number(n)) => Arg::Double(n.as_f64().unwrap_or_default()),
        ("boolean", Value::Bool(b)) => Arg::Bool(*b),
        (_, Value::String(s)) if param.allow_multiple => Arg::List(vec![s.clone()]),
        (_, Value::String(s)) => Arg::Str(s.clone()),
        (_, other) => Arg::Str(other.to_string()),
    }
}

fn typed(param: &Param, value: String) -> Result<Arg, AriError> {
    let invalid = |what: &str| {
        AriError::bad_request(format!(
            "Invalid value {value:?} for parameter {}: {what}",
            param.name
        ))
    };
    let arg = match param.data_type {
        "int" | "long" => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| invalid("not an integer"))?;
            if let Some(Allowable::Range { min, max }) = &param.allowable {
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(invalid("out of range"));
                }
            }
            Arg::Int(n)
        }
        "double" => Arg::Double(value.trim().parse().map_err(|_| invalid("not a number"))?),
        "boolean" => Arg::Bool(parse_bool(&value).ok_or_else(|| invalid("not a boolean"))?),
        _ => {
            check_allowable(param, &value)?;
            Arg::Str(value)
        }
    };
    Ok(arg)
}

/// Asterisk's `ast_true` / `ast_false`.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "t" | "1" | "on" => Some(true),
        "false" | "no" | "n" | "f" | "0" | "off" => Some(false),
        _ => None,
    }
}

fn check_allowable(param: &Param, value: &str) -> Result<(), AriError> {
    if let Some(Allowable::List(values)) = &param.allowable {
        if !values.contains(&value) {
            return Err(AriError::bad_request(format!(
                "Invalid value {value:?} for parameter {} (one of: {})",
                param.name,
                values.join(", ")
            )));
        }
    }
    Ok(())
}
