//! `asterisk`: system information, ping and global variables; modules, logging and
//! dynamic configuration answer 501.

use serde_json::{json, Map, Value};
use switchboard_core::time;

use super::not_implemented;
use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{models, Ari};

const CONFIG_PATH: &str = "/asterisk/config/dynamic/{configClass}/{objectType}/{id}";

pub fn resource() -> Resource {
    let config_object = |o: crate::decl::Operation| {
        o.path(
            "configClass",
            "The configuration class containing dynamic configuration objects.",
        )
        .path(
            "objectType",
            "The type of configuration object to retrieve.",
        )
        .path("id", "The unique identifier of the object to retrieve.")
    };
    Resource {
        name: "asterisk",
        description: "Asterisk resources",
        models: &[models::ASTERISK],
        apis: vec![
            api(CONFIG_PATH, "Asterisk dynamic configuration", vec![
                config_object(op(Get, "getObject", "Retrieve a dynamic configuration object.", "List[ConfigTuple]", h!(not_implemented)))
                    .error(404, "{configClass|objectType|id} not found"),
                config_object(op(Put, "updateObject", "Create or update a dynamic configuration object.", "List[ConfigTuple]", h!(not_implemented)))
                    .body("fields", "The body object should have a value that is a list of ConfigTuples, which provide the fields to update. Ex. [ { \"attribute\": \"directmedia\", \"value\": \"false\" } ]")
                    .error(400, "Bad request body")
                    .error(403, "Could not create or update object")
                    .error(404, "{configClass|objectType} not found"),
                config_object(op(Delete, "deleteObject", "Delete a dynamic configuration object.", "void", h!(not_implemented)))
                    .error(403, "Could not delete object")
                    .error(404, "{configClass|objectType|id} not found"),
            ]),
            api("/asterisk/info", "Asterisk system information (similar to core show settings)", vec![
                op(Get, "getInfo", "Gets Asterisk system information.", "AsteriskInfo", h!(info))
                    .query("only", "string", "Filter information returned")
                    .multi()
                    .values(&["build", "system", "config", "status"]),
            ]),
            api("/asterisk/ping", "Asterisk ping", vec![
                op(Get, "ping", "Response pong message.", "AsteriskPing", h!(ping)),
            ]),
            api("/asterisk/modules", "Asterisk modules", vec![
                op(Get, "listModules", "List Asterisk modules.", "List[Module]", h!(not_implemented)),
            ]),
            api("/asterisk/modules/{moduleName}", "Asterisk module", vec![
                op(Get, "getModule", "Get Asterisk module information.", "Module", h!(not_implemented))
                    .path("moduleName", "Module's name")
                    .error(404, "Module could not be found in running modules.")
                    .error(409, "Module information could not be retrieved."),
                op(Post, "loadModule", "Load an Asterisk module.", "void", h!(not_implemented))
                    .path("moduleName", "Module's name")
                    .error(409, "Module could not be loaded."),
                op(Delete, "unloadModule", "Unload an Asterisk module.", "void", h!(not_implemented))
                    .path("moduleName", "Module's name")
                    .error(404, "Module not found in running modules.")
                    .error(409, "Module could not be unloaded."),
                op(Put, "reloadModule", "Reload an Asterisk module.", "void", h!(not_implemented))
                    .path("moduleName", "Module's name")
                    .error(404, "Module not found in running modules.")
                    .error(409, "Module could not be reloaded."),
            ]),
            api("/asterisk/logging", "Asterisk log channels", vec![
                op(Get, "listLogChannels", "Gets Asterisk log channel information.", "List[LogChannel]", h!(not_implemented)),
            ]),
            api("/asterisk/logging/{logChannelName}", "Asterisk log channel", vec![
                op(Post, "addLog", "Adds a log channel.", "void", h!(not_implemented))
                    .path("logChannelName", "The log channel to add")
                    .query("configuration", "string", "levels of the log channel").required()
                    .error(400, "Bad request body")
                    .error(409, "Log channel could not be created."),
                op(Delete, "deleteLog", "Deletes a log channel.", "void", h!(not_implemented))
                    .path("logChannelName", "Log channels name")
                    .error(404, "Log channel does not exist."),
            ]),
            api("/asterisk/logging/{logChannelName}/rotate", "Asterisk log channel", vec![
                op(Put, "rotateLog", "Rotates a log channel.", "void", h!(not_implemented))
                    .path("logChannelName", "Log channel's name")
                    .error(404, "Log channel does not exist."),
            ]),
            api("/asterisk/variable", "Global variables", vec![
                op(Get, "getGlobalVar", "Get the value of a global variable.", "Variable", h!(get_global))
                    .query("variable", "string", "The variable to get").required()
                    .error(400, "Missing variable parameter."),
                op(Post, "setGlobalVar", "Set the value of a global variable.", "void", h!(set_global))
                    .query("variable", "string", "The variable to set").required()
                    .query("value", "string", "The value to set the variable to")
                    .error(400, "Missing variable parameter."),
            ]),
        ],
    }
}

fn uname(flag: &str) -> String {
    std::process::Command::new("uname")
        .arg(flag)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

async fn info(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let only = args.list("only");
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);
    let config = ari.switch().config();
    let mut info = Map::new();
    if wanted("build") {
        info.insert(
            "build".into(),
            json!({
                "os": std::env::consts::OS,
                "kernel": uname("-r"),
                "machine": std::env::consts::ARCH,
                "options": "",
                "date": "",
                "user": "",
            }),
        );
    }
    if wanted("system") {
        info.insert(
            "system".into(),
            json!({
                "version": format!("22.0.0-switchboard-{}", env!("CARGO_PKG_VERSION")),
                "entity_id": ari.entity_id(),
            }),
        );
    }
    if wanted("config") {
        let user = std::env::var("USER").unwrap_or_else(|_| "switchboard".into());
        info.insert(
            "config".into(),
            json!({
                "name": config.general.name,
                "default_language": "en",
                "setid": {"user": user, "group": ""},
            }),
        );
    }
    if wanted("status") {
        let started = time::asterisk(ari.started());
        info.insert(
            "status".into(),
            json!({"startup_time": started, "last_reload_time": started}),
        );
    }
    Ok(Reply::Json(Value::Object(info)))
}

async fn ping(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    Ok(Reply::Json(json!({
        "asterisk_id": ari.entity_id(),
        "ping": "pong",
        "timestamp": time::asterisk(std::time::SystemTime::now()),
    })))
}

async fn get_global(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let variable = args
        .str("variable")
        .ok_or_else(|| AriError::bad_request("Variable name is required"))?;
    let value = ari.switch().global(variable).unwrap_or_default();
    Ok(Reply::Json(json!({ "value": value })))
}

async fn set_global(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let variable = args
        .str("variable")
        .ok_or_else(|| AriError::bad_request("Variable name is required"))?;
    ari.switch()
        .set_global(variable, args.str("value").unwrap_or_default())
        .map_err(AriError::from_control)?;
    Ok(Reply::NoContent)
}
