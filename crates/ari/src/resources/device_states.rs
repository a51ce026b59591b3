//! `deviceStates`: declared; answers 501 until device states live in the core.

use super::not_implemented;
use crate::decl::{api, h, op, Method::*, Resource};
use crate::models;

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

pub fn resource() -> Resource {
    Resource {
        name: "deviceStates",
        description: "Device state resources",
        models: &[models::DEVICE_STATES],
        apis: vec![
            api("/deviceStates", "Device states", vec![
                op(Get, "list", "List all ARI controlled device states.", "List[DeviceState]", h!(not_implemented)),
            ]),
            api("/deviceStates/{deviceName}", "Device state", vec![
                op(Get, "get", "Retrieve the current state of a device.", "DeviceState", h!(not_implemented))
                    .path("deviceName", "Name of the device"),
                op(Put, "update", "Change the state of a device controlled by ARI. (Note - implicitly creates the device state).", "void", h!(not_implemented))
                    .path("deviceName", "Name of the device")
                    .query("deviceState", "string", "Device state value").required().values(STATES)
                    .error(404, "Device name is missing")
                    .error(409, "Uncontrolled device specified"),
                op(Delete, "delete", "Destroy a device-state controlled by ARI.", "void", h!(not_implemented))
                    .path("deviceName", "Name of the device")
                    .error(404, "Device name is missing")
                    .error(409, "Uncontrolled device specified"),
            ]),
        ],
    }
}
