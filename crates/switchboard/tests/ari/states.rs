//! ARI's `deviceStates` and `mailboxes` over HTTP: set, read, list and delete
//! with Asterisk's error codes, DeviceStateChanged to the applications that
//! subscribed to the device (and to those subscribed to everything), and both
//! kept across a restart of the server.

use std::time::Duration;

use serde_json::{json, Value};

use super::EVENT_TIMEOUT;
use crate::support::ari::{all_models, check_model, Ari, EventSocket};
use crate::support::server::{Server, ServerConfig};

/// How long a socket is watched for an event that must not come.
const QUIET: Duration = Duration::from_millis(400);

fn put(ari: &Ari, path: &str) -> crate::support::ari::Response {
    ari.call("PUT", path, None)
}

/// The next DeviceStateChanged of `ws`, checked against the api-docs' model.
fn device_event(ws: &mut EventSocket, models: &serde_json::Map<String, Value>) -> Value {
    let event = ws.wait_for("DeviceStateChanged", EVENT_TIMEOUT);
    check_model(models, "DeviceStateChanged", &event).unwrap();
    event
}

fn assert_quiet(ws: &mut EventSocket, what: &str) {
    if let Some(event) = ws.next(QUIET) {
        panic!("{what}: unexpected event {event}");
    }
}

#[test]
fn ari_device_states_set_get_list_delete_with_events() {
    let server = Server::start_with("ari-device-states", ServerConfig::default().ari());
    let addr = server.ari_addr();
    let ari = Ari::new(addr);
    let models = all_models(&ari);

    // One application subscribed to Stasis:foo, one to everything, one to nothing.
    let mut subscribed = EventSocket::connect(addr, "app=dev-app");
    let mut everything = EventSocket::connect(addr, "app=all-app&subscribeAll=true");
    let mut deaf = EventSocket::connect(addr, "app=deaf-app");
    let app = ari
        .post("/applications/dev-app/subscription?eventSource=deviceState:Stasis:foo")
        .expect(200, "subscribe to deviceState:Stasis:foo");
    assert_eq!(app["device_names"], json!(["Stasis:foo"]));

    assert_eq!(
        ari.get("/deviceStates").expect(200, "empty list"),
        json!([])
    );
    ari.get("/deviceStates/Stasis:foo")
        .expect_error(404, "a device never set");

    put(&ari, "/deviceStates/Stasis:foo?deviceState=INUSE").expect(204, "set INUSE");
    for ws in [&mut subscribed, &mut everything] {
        let event = device_event(ws, &models);
        assert_eq!(
            event["device_state"],
            json!({"name": "Stasis:foo", "state": "INUSE"})
        );
    }
    assert_eq!(
        ari.get("/deviceStates/Stasis:foo").expect(200, "get"),
        json!({"name": "Stasis:foo", "state": "INUSE"})
    );
    // Percent-encoded names are the same device.
    let got = ari
        .get("/deviceStates/Stasis%3Afoo")
        .expect(200, "get encoded");
    check_model(&models, "DeviceState", &got).unwrap();
    assert_eq!(got["state"], "INUSE");

    // The same state again changes nothing: no event (as Asterisk's cache).
    put(&ari, "/deviceStates/Stasis:foo?deviceState=INUSE").expect(204, "set INUSE again");
    assert_quiet(&mut subscribed, "same state");

    // The scheme in any case names the same device.
    put(&ari, "/deviceStates/stasis:foo?deviceState=BUSY").expect(204, "set BUSY");
    let busy = device_event(&mut subscribed, &models);
    assert_eq!(
        busy["device_state"],
        json!({"name": "Stasis:foo", "state": "BUSY"})
    );
    assert_eq!(busy["application"], "dev-app");
    assert!(busy["sequence"].as_u64().is_some(), "{busy}");
    assert_eq!(
        device_event(&mut everything, &models)["device_state"]["state"],
        "BUSY"
    );

    // Another device: only the application subscribed to everything hears it.
    put(&ari, "/deviceStates/Stasis:bar?deviceState=RINGING").expect(204, "set bar");
    assert_eq!(
        device_event(&mut everything, &models)["device_state"],
        json!({"name": "Stasis:bar", "state": "RINGING"})
    );
    assert_quiet(&mut subscribed, "a device dev-app did not subscribe to");

    let list = ari.get("/deviceStates").expect(200, "list");
    assert_eq!(
        list,
        json!([
            {"name": "Stasis:bar", "state": "RINGING"},
            {"name": "Stasis:foo", "state": "BUSY"},
        ])
    );
    for state in list.as_array().unwrap() {
        check_model(&models, "DeviceState", state).unwrap();
    }

    // Errors.
    let message = put(&ari, "/deviceStates/PJSIP%2F1000?deviceState=INUSE")
        .expect_error(409, "set an endpoint's device");
    assert_eq!(message, "Uncontrolled device specified");
    ari.delete("/deviceStates/PJSIP%2F1000")
        .expect_error(409, "delete an endpoint's device");
    ari.delete("/deviceStates/Custom:x")
        .expect_error(409, "delete another provider's device");
    put(&ari, "/deviceStates/Stasis:foo?deviceState=NOPE").expect_error(400, "bad state");
    put(&ari, "/deviceStates/Stasis:foo?deviceState=inuse")
        .expect_error(400, "states are upper case");
    put(&ari, "/deviceStates/Stasis:foo").expect_error(400, "no state");
    let message =
        put(&ari, "/deviceStates/Stasis:?deviceState=INUSE").expect_error(404, "no device name");
    assert_eq!(message, "Device name is missing");
    ari.delete("/deviceStates/Stasis:")
        .expect_error(404, "delete without a device name");
    ari.delete("/deviceStates/Stasis:nope")
        .expect_error(404, "delete a device never set");
    ari.get("/deviceStates/Stasis:nope")
        .expect_error(404, "get a device never set");
    ari.get("/deviceStates/nonsense")
        .expect_error(404, "get an unknown device");
    ari.get("/deviceStates/PJSIP%2F9999")
        .expect_error(404, "get an unknown endpoint's device");
    // None of the refused requests changed anything.
    assert_eq!(ari.get("/deviceStates").expect(200, "list"), list);
    assert_quiet(&mut subscribed, "refused requests");

    // A SIP endpoint's device can be read: 1000 is not registered.
    let endpoint = ari
        .get("/deviceStates/PJSIP%2F1000")
        .expect(200, "an endpoint's device");
    check_model(&models, "DeviceState", &endpoint).unwrap();
    assert_eq!(
        endpoint,
        json!({"name": "PJSIP/1000", "state": "UNAVAILABLE"})
    );

    // Delete: UNKNOWN to the subscribers, then gone.
    ari.delete("/deviceStates/Stasis:foo")
        .expect(204, "delete foo");
    for ws in [&mut subscribed, &mut everything] {
        assert_eq!(
            device_event(ws, &models)["device_state"],
            json!({"name": "Stasis:foo", "state": "UNKNOWN"})
        );
    }
    ari.get("/deviceStates/Stasis:foo")
        .expect_error(404, "get after delete");
    assert_eq!(
        ari.get("/deviceStates").expect(200, "list after delete"),
        json!([{"name": "Stasis:bar", "state": "RINGING"}])
    );

    // After unsubscribing, dev-app hears foo no more.
    ari.delete("/applications/dev-app/subscription?eventSource=deviceState:Stasis:foo")
        .expect(200, "unsubscribe");
    put(&ari, "/deviceStates/Stasis:foo?deviceState=ONHOLD").expect(204, "set again");
    assert_eq!(
        device_event(&mut everything, &models)["device_state"],
        json!({"name": "Stasis:foo", "state": "ONHOLD"})
    );
    assert_quiet(&mut subscribed, "after unsubscribing");
    assert_quiet(&mut deaf, "an application that subscribed to nothing");
}

#[test]
fn ari_mailboxes_update_get_list_delete() {
    let server = Server::start_with("ari-mailboxes", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    let models = all_models(&ari);

    assert_eq!(ari.get("/mailboxes").expect(200, "empty list"), json!([]));
    ari.get("/mailboxes/1000@default")
        .expect_error(404, "a mailbox never set");

    put(&ari, "/mailboxes/1000@default?oldMessages=1&newMessages=2").expect(204, "create");
    let got = ari.get("/mailboxes/1000@default").expect(200, "get");
    check_model(&models, "Mailbox", &got).unwrap();
    assert_eq!(
        got,
        json!({"name": "1000@default", "old_messages": 1, "new_messages": 2})
    );
    put(&ari, "/mailboxes/1000@default?oldMessages=3&newMessages=0").expect(204, "update");
    put(&ari, "/mailboxes/sales?newMessages=7&oldMessages=0").expect(204, "another");
    let list = ari.get("/mailboxes").expect(200, "list");
    assert_eq!(
        list,
        json!([
            {"name": "1000@default", "old_messages": 3, "new_messages": 0},
            {"name": "sales", "old_messages": 0, "new_messages": 7},
        ])
    );
    for mailbox in list.as_array().unwrap() {
        check_model(&models, "Mailbox", mailbox).unwrap();
    }

    // Errors: both counts are required whole numbers, not negative.
    for (query, what) in [
        ("oldMessages=1", "no newMessages"),
        ("newMessages=1", "no oldMessages"),
        ("", "no counts"),
        ("oldMessages=1&newMessages=x", "newMessages not a number"),
        ("oldMessages=1.5&newMessages=1", "oldMessages not whole"),
        ("oldMessages=-1&newMessages=1", "negative oldMessages"),
    ] {
        let message = put(&ari, &format!("/mailboxes/sales?{query}")).expect_error(400, what);
        assert!(!message.is_empty(), "{what}");
    }
    ari.delete("/mailboxes/nope")
        .expect_error(404, "delete a mailbox never set");
    assert_eq!(ari.get("/mailboxes").expect(200, "unchanged"), list);

    ari.delete("/mailboxes/sales").expect(204, "delete");
    ari.get("/mailboxes/sales")
        .expect_error(404, "get after delete");
    ari.delete("/mailboxes/sales")
        .expect_error(404, "delete twice");
    assert_eq!(
        ari.get("/mailboxes").expect(200, "list after delete"),
        json!([{"name": "1000@default", "old_messages": 3, "new_messages": 0}])
    );
}

/// What the applications set is in the store: it is all there after the
/// server is killed (no shutdown at all) and started again, deletions too.
#[test]
fn ari_device_states_and_mailboxes_survive_restart() {
    let mut server = Server::start_with("ari-states-restart", ServerConfig::default().ari());
    let ari = Ari::new(server.ari_addr());
    put(&ari, "/deviceStates/Stasis:kept?deviceState=INUSE").expect(204, "set kept");
    put(&ari, "/deviceStates/Stasis:kept?deviceState=RINGINUSE").expect(204, "update kept");
    put(&ari, "/deviceStates/Stasis:gone?deviceState=BUSY").expect(204, "set gone");
    ari.delete("/deviceStates/Stasis:gone")
        .expect(204, "delete gone");
    put(&ari, "/mailboxes/kept@default?oldMessages=3&newMessages=5").expect(204, "mailbox kept");
    put(&ari, "/mailboxes/gone?oldMessages=1&newMessages=1").expect(204, "mailbox gone");
    ari.delete("/mailboxes/gone")
        .expect(204, "delete mailbox gone");

    server.kill();
    server.restart();
    let ari = Ari::new(server.ari_addr());

    assert_eq!(
        ari.get("/deviceStates/Stasis:kept")
            .expect(200, "kept after restart"),
        json!({"name": "Stasis:kept", "state": "RINGINUSE"})
    );
    assert_eq!(
        ari.get("/deviceStates").expect(200, "list after restart"),
        json!([{"name": "Stasis:kept", "state": "RINGINUSE"}])
    );
    ari.get("/deviceStates/Stasis:gone")
        .expect_error(404, "deleted before the restart");
    assert_eq!(
        ari.get("/mailboxes/kept@default")
            .expect(200, "mailbox after restart"),
        json!({"name": "kept@default", "old_messages": 3, "new_messages": 5})
    );
    assert_eq!(
        ari.get("/mailboxes").expect(200, "mailboxes after restart"),
        json!([{"name": "kept@default", "old_messages": 3, "new_messages": 5}])
    );

    // Still controlled after the restart: a change is an event again.
    let mut ws = EventSocket::connect(server.ari_addr(), "app=restarted&subscribeAll=true");
    put(&ari, "/deviceStates/Stasis:kept?deviceState=NOT_INUSE").expect(204, "set after restart");
    assert_eq!(
        ws.wait_for("DeviceStateChanged", EVENT_TIMEOUT)["device_state"],
        json!({"name": "Stasis:kept", "state": "NOT_INUSE"})
    );
    ari.delete("/mailboxes/kept@default")
        .expect(204, "delete after restart");
}
