//! `deviceStates`: the `Stasis:<name>` devices that applications control (the core
//! keeps them, in the store too, so they survive a restart, as Asterisk keeps them in
//! its astdb), and the derived state of the SIP endpoints (`SIP/<id>`, or `PJSIP/<id>`), read-only.
//! A change is a `DeviceStateChanged` event to the applications subscribed to
//! `deviceState:<name>` (and to those subscribed to everything).

use serde_json::Value;
use switchboard_core::ControlError;

use crate::decl::{api, h, op, Method::*, Resource};
use crate::error::AriError;
use crate::params::Args;
use crate::reply::Reply;
use crate::{json, models, Ari};

const STATES: &[&str] = &[
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
];

/// The devices ARI controls: `Stasis:<name>`.
const SCHEME: &str = "Stasis:";

/// The state Asterisk reports for a device that was deleted.
const UNKNOWN: &str = "UNKNOWN";

pub fn resource() -> Resource {
    Resource {
        name: "deviceStates",
        description: "Device state resources",
        models: &[models::DEVICE_STATES],
        apis: vec![
            api("/deviceStates", "Device states", vec![
                op(Get, "list", "List all ARI controlled device states.", "List[DeviceState]", h!(list)),
            ]),
            api("/deviceStates/{deviceName}", "Device state", vec![
                op(Get, "get", "Retrieve the current state of a device.", "DeviceState", h!(get))
                    .notes("A Stasis:<name> device is known once its state has been set; a SIP endpoint's device (SIP/<id>, or PJSIP/<id>) has the state its registrations and channels give it.")
                    .path("deviceName", "Name of the device")
                    .error(404, "Device not found"),
                op(Put, "update", "Change the state of a device controlled by ARI. (Note - implicitly creates the device state).", "void", h!(update))
                    .path("deviceName", "Name of the device")
                    .query("deviceState", "string", "Device state value").required().values(STATES)
                    .error(404, "Device name is missing")
                    .error(409, "Uncontrolled device specified"),
                op(Delete, "delete", "Destroy a device-state controlled by ARI.", "void", h!(delete))
                    .path("deviceName", "Name of the device")
                    .error(404, "Device name is missing")
                    .error(409, "Uncontrolled device specified"),
            ]),
        ],
    }
}

/// The `Stasis:` part of `name` in any case, as Asterisk accepts it; `None` for a
/// device ARI does not control.
fn stasis_device(name: &str) -> Option<&str> {
    name.get(..SCHEME.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(SCHEME))
        .map(|_| &name[SCHEME.len()..])
}

/// A device ARI may set or delete, named as Asterisk names it (`Stasis:<name>`).
fn controlled(name: &str) -> Result<String, AriError> {
    match stasis_device(name) {
        None => Err(AriError::conflict("Uncontrolled device specified")),
        Some("") => Err(AriError::not_found("Device name is missing")),
        Some(rest) => Ok(format!("{SCHEME}{rest}")),
    }
}

fn not_found() -> AriError {
    AriError::not_found("Device not found")
}

fn store_failed(e: ControlError) -> AriError {
    match e {
        ControlError::NotFound => not_found(),
        _ => AriError::new(500, "Error storing the device state"),
    }
}

async fn list(ari: Ari, _args: Args) -> Result<Reply, AriError> {
    let states = ari.switch().device_states().await;
    let list: Vec<Value> = states
        .iter()
        .map(|(name, state)| json::device_state(name, state))
        .collect();
    Ok(Reply::Json(list.into()))
}

async fn get(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = args.path("deviceName");
    if stasis_device(name).is_some() {
        let name = controlled(name).map_err(|_| not_found())?;
        let state = ari
            .switch()
            .device_state(&name)
            .await
            .ok_or_else(not_found)?;
        return Ok(Reply::Json(json::device_state(&name, &state)));
    }
    let state = endpoint_state(&ari, name).await.ok_or_else(not_found)?;
    Ok(Reply::Json(json::device_state(name, state)))
}

/// A SIP endpoint's device state (`SIP/<id>` or `PJSIP/<id>`), from its
/// registrations and its channels, as Asterisk derives it.
async fn endpoint_state(ari: &Ari, name: &str) -> Option<&'static str> {
    let (tech, resource) = name.split_once('/')?;
    let endpoint = super::endpoints::find(ari, tech, resource).await?;
    let channels: Vec<String> = endpoint["channel_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let states: Vec<&str> = channels
        .iter()
        .filter_map(|id| ari.switch().channel(id).ok())
        .map(|c| c.state().ari())
        .collect();
    let ringing = states.contains(&"Ringing");
    let in_use = states.iter().any(|s| *s != "Ringing" && *s != "Down");
    Some(match (ringing, in_use) {
        (true, true) => "RINGINUSE",
        (true, false) => "RINGING",
        (false, true) => "INUSE",
        (false, false) if endpoint["state"] == "offline" => "UNAVAILABLE",
        (false, false) => "NOT_INUSE",
    })
}

async fn update(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = controlled(args.path("deviceName"))?;
    let state = args
        .str("deviceState")
        .ok_or_else(|| AriError::bad_request("Missing required parameter deviceState"))?
        .to_owned();
    let changed = ari
        .switch()
        .set_device_state(&name, &state)
        .await
        .map_err(store_failed)?;
    // As Asterisk's device state cache: an event only when the state changes.
    if changed {
        ari.hub().device_state_changed(&ari, &name, &state);
    }
    Ok(Reply::NoContent)
}

async fn delete(ari: Ari, args: Args) -> Result<Reply, AriError> {
    let name = controlled(args.path("deviceName"))?;
    ari.switch()
        .delete_device_state(&name)
        .await
        .map_err(store_failed)?;
    ari.hub().device_state_changed(&ari, &name, UNKNOWN);
    Ok(Reply::NoContent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stasis_devices_are_controlled() {
        assert_eq!(controlled("Stasis:foo").unwrap(), "Stasis:foo");
        assert_eq!(controlled("stasis:foo").unwrap(), "Stasis:foo");
        assert_eq!(controlled("Stasis:").unwrap_err().status, 404);
        assert_eq!(controlled("PJSIP/1000").unwrap_err().status, 409);
        assert_eq!(controlled("Stas").unwrap_err().status, 409);
        assert_eq!(controlled("Stasis€x").unwrap_err().status, 409);
    }
}
