//! The commands against a running switch: a Local channel parked on its `;1` half while
//! its `;2` half runs `Answer(),Wait(30)`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_commands::execute;
use switchboard_core::config::{General, Rtp, Sip};
use switchboard_core::{
    Channel, ChannelState, CollectDigits, Config, Event, EventKind, Originate, Switch, Then,
};

// More commands, by subject; in this one test binary to share its helpers.
#[path = "switch/data.rs"]
mod data;
#[path = "switch/media.rs"]
mod media;
#[path = "switch/reports.rs"]
mod reports;
#[path = "switch/sched.rs"]
mod sched;
#[path = "switch/strings.rs"]
mod strings;
#[path = "switch/system.rs"]
mod system;

/// A switch on loopback port 0 whose `t` context answers and waits at `1` and `2`.
async fn switch(name: &str) -> Switch {
    let config = config(name);
    let _ = std::fs::remove_dir_all(&config.general.data_dir);
    Switch::start(config).await.expect("the test switch starts")
}

/// The test switch's configuration, its data in a folder named for the test.
fn config(name: &str) -> Config {
    let data_dir = std::env::temp_dir().join(format!(
        "switchboard-commands-{name}-{}",
        std::process::id()
    ));
    let wait = vec!["Answer()".to_owned(), "Wait(30)".to_owned()];
    let t: BTreeMap<_, _> = [("1".to_owned(), wait.clone()), ("2".to_owned(), wait)].into();
    Config {
        general: General {
            data_dir,
            ..General::default()
        },
        sip: Sip {
            listen: vec!["udp:127.0.0.1:0".into()],
            ..Sip::default()
        },
        rtp: Rtp::default(),
        ari: None,
        sessions_api: None,
        lua: Default::default(),
        security: Default::default(),
        endpoint: Vec::new(),
        trunk: Vec::new(),
        musiconhold: BTreeMap::new(),
        dialplan: [("t".to_owned(), t)].into(),
    }
}

/// Originates `Local/1@t` parked and waits until it is up.
async fn parked_call(switch: &Switch) -> Arc<Channel> {
    let channel = switch
        .originate(Originate::new("Local/1@t", Then::Park))
        .await
        .expect("originate");
    let mut status = channel.subscribe();
    tokio::time::timeout(
        Duration::from_secs(5),
        status.wait_for(|s| s.state == ChannelState::Up),
    )
    .await
    .expect("answered in time")
    .expect("channel alive");
    channel
}

#[tokio::test]
async fn channel_commands() {
    let switch = switch("channels").await;
    let channel = parked_call(&switch).await;
    let id = channel.id.clone();

    let shown = execute(&switch, "show channels").await;
    assert!(shown.ok);
    let lines: Vec<&str> = shown.text.lines().collect();
    assert!(lines[0].starts_with("uuid,direction,created,created_epoch,name,state,cid_name"));
    assert!(lines[0].ends_with("initial_dest,initial_dialplan,initial_context"));
    let row = lines
        .iter()
        .find(|l| l.starts_with(&format!("{id},")))
        .expect("a row for the channel");
    let fields: Vec<&str> = row.split(',').collect();
    assert_eq!(fields.len(), 38);
    // Parked (originated to `Then::Park`), as FreeSWITCH shows `&park()`.
    assert_eq!(fields[5], "CS_PARK");
    assert_eq!(fields[25], "ACTIVE");
    assert!(shown.text.ends_with("\n\n2 total.\n"), "{}", shown.text);
    assert_eq!(
        execute(&switch, "show channels count").await.text,
        "\n2 total.\n"
    );
    let json = execute(&switch, "show channels as json").await.text;
    assert!(
        json.starts_with("{\"row_count\":2,\"rows\":[{\"uuid\":"),
        "{json}"
    );

    let set = execute(&switch, &format!("uuid_setvar {id} colour dark blue")).await;
    assert_eq!(set.text, "+OK\n");
    let got = execute(&switch, &format!("uuid_getvar {id} colour")).await;
    assert_eq!(got.text, "dark blue");
    let multi = execute(&switch, &format!("uuid_setvar_multi {id} a=1;b=2")).await;
    assert_eq!(multi.text, "+OK\n");
    assert_eq!(
        execute(&switch, &format!("uuid_getvar {id} b")).await.text,
        "2"
    );
    assert_eq!(
        execute(&switch, &format!("uuid_getvar {id} nope"))
            .await
            .text,
        "_undef_"
    );
    // Without a value, uuid_setvar unsets.
    let unset = execute(&switch, &format!("uuid_setvar {id} b")).await;
    assert!(unset.ok, "{}", unset.text);
    assert_eq!(
        execute(&switch, &format!("uuid_getvar {id} b")).await.text,
        "_undef_"
    );

    let mut events = switch.events().subscribe();
    let moved = execute(&switch, &format!("uuid_transfer {id} 2 XML t")).await;
    assert_eq!(moved.text, "+OK\n");
    let dialplan = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = events.recv().await.expect("events");
            if event.source == id {
                if let EventKind::ChannelDialplan { app, .. } = &event.kind {
                    return app.clone();
                }
            }
        }
    })
    .await
    .expect("the transferred channel runs the dialplan");
    assert_eq!(dialplan, "Answer");
    let snapshot = switch.snapshot(&channel);
    assert_eq!(
        (snapshot.context.as_str(), snapshot.exten.as_str()),
        ("t", "2")
    );

    assert_eq!(
        execute(&switch, &format!("uuid_exists {id}")).await.text,
        "true"
    );
    let kill = execute(&switch, &format!("uuid_kill {id} USER_BUSY")).await;
    assert_eq!(kill.text, "+OK\n");
    let cause = tokio::time::timeout(Duration::from_secs(5), channel.hung_up())
        .await
        .expect("hung up in time");
    assert_eq!(cause.name(), "USER_BUSY");
    tokio::time::timeout(Duration::from_secs(5), async {
        while execute(&switch, &format!("uuid_exists {id}")).await.text != "false" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("uuid_exists says false after the kill");
    let gone = execute(&switch, &format!("uuid_kill {id}")).await;
    assert_eq!(
        (gone.text.as_str(), gone.ok),
        ("-ERR No such channel!\n", false)
    );
    switch.shutdown().await;
}

/// Waits (up to 5 s) for the first event that `pick` accepts.
async fn first_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
    pick: impl Fn(&Event) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = events.recv().await.expect("events");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("the event in time")
}

/// Waits for the first event from `source` that `pick` accepts.
async fn next_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
    source: &str,
    pick: impl Fn(&EventKind) -> Option<T>,
) -> T {
    first_event(events, |event| {
        (event.source == source)
            .then(|| pick(&event.kind))
            .flatten()
    })
    .await
}

/// What a command line printed.
async fn text(switch: &Switch, line: &str) -> String {
    execute(switch, line).await.text
}

/// The other half of a Local channel.
fn other_half(switch: &Switch, channel: &Channel) -> String {
    let prefix = channel.name.trim_end_matches(char::is_numeric);
    switch
        .channels()
        .into_iter()
        .find(|c| c.id != channel.id && c.name.starts_with(prefix))
        .expect("the other half")
        .id
        .clone()
}

#[tokio::test]
async fn call_control_commands() {
    let switch = switch("control").await;
    let channel = parked_call(&switch).await;
    let id = channel.id.clone();
    let mut events = switch.events().subscribe();

    assert_eq!(
        execute(&switch, "uuid_hold").await.text,
        "-USAGE: [off|toggle] <uuid> [<display>]\n"
    );
    assert_eq!(
        execute(&switch, &format!("uuid_hold {id}")).await.text,
        "+OK Success\n"
    );
    next_event(&mut events, &id, |k| {
        (*k == EventKind::ChannelHold).then_some(())
    })
    .await;
    assert!(channel.is_held());
    assert_eq!(
        execute(&switch, &format!("uuid_hold toggle {id}"))
            .await
            .text,
        "+OK Success\n"
    );
    next_event(&mut events, &id, |k| {
        (*k == EventKind::ChannelUnhold).then_some(())
    })
    .await;
    assert!(!channel.is_held());
    execute(&switch, &format!("uuid_hold toggle {id}")).await;
    assert!(channel.is_held());
    assert_eq!(
        execute(&switch, &format!("uuid_hold off {id}")).await.text,
        "+OK Success\n"
    );
    assert!(!channel.is_held());
    assert_eq!(
        execute(&switch, "uuid_hold off nope").await.text,
        "-ERR Operation failed\n"
    );

    // Digits sent on one Local half arrive at the other.
    let other = other_half(&switch, &channel);
    let sent = execute(&switch, &format!("uuid_send_dtmf {id} 12#")).await;
    assert_eq!(sent.text, format!("+OK {id} sent DTMF 12#.\n"));
    let collect = CollectDigits {
        max: 3,
        first_timeout: Some(Duration::from_secs(5)),
        ..CollectDigits::default()
    };
    let got = switch
        .collect_digits(&other, collect)
        .await
        .expect("collect");
    assert_eq!(got.digits, "12#");
    assert_eq!(
        execute(&switch, "uuid_send_dtmf nope 1").await.text,
        "-ERR Cannot locate session!\n"
    );
    assert_eq!(
        execute(&switch, "uuid_send_dtmf x").await.text,
        "-USAGE: <uuid> <dtmf_data>\n"
    );

    // Two parked calls bridged by their uuids.
    let second = parked_call(&switch).await;
    let second_id = second.id.clone();
    let bridged = execute(&switch, &format!("uuid_bridge {id} {second_id}")).await;
    assert_eq!(bridged.text, format!("+OK {second_id}\n"));
    let entered = |k: &EventKind| match k {
        EventKind::ChannelEnteredBridge { bridge } => Some(bridge.clone()),
        _ => None,
    };
    let a = next_event(&mut events, &id, entered).await;
    let b = next_event(&mut events, &second_id, entered).await;
    assert_eq!(a, b);
    assert_eq!(
        execute(&switch, &format!("uuid_bridge {id} nope"))
            .await
            .text,
        "-ERR Invalid uuid\n"
    );
    assert_eq!(
        execute(&switch, "uuid_bridge x").await.text,
        "-USAGE: <uuid> <other_uuid>\n"
    );
    switch.shutdown().await;
}

/// The uuid in an `+OK <uuid>` reply.
fn ok_uuid(reply: &switchboard_commands::Reply) -> String {
    assert!(reply.ok, "{}", reply.text);
    reply
        .text
        .strip_prefix("+OK ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .expect("+OK <uuid>")
        .to_owned()
}

#[tokio::test]
async fn originate_command() {
    let switch = switch("originate").await;
    let mut events = switch.events().subscribe();

    // `&park()`: answered, running nothing; variables of the dial string are set.
    let parked = execute(&switch, "originate {colour=red,x=1}loopback/1/t &park()").await;
    let id = ok_uuid(&parked);
    let channel = switch.channel(&id).expect("the channel lives");
    assert_eq!(channel.status().state, ChannelState::Up);
    assert_eq!(
        execute(&switch, &format!("uuid_getvar {id} colour"))
            .await
            .text,
        "red"
    );
    // Parked, so uuid_transfer starts its dialplan.
    assert_eq!(
        execute(&switch, &format!("uuid_transfer {id} 2 XML t"))
            .await
            .text,
        "+OK\n"
    );
    let app = next_event(&mut events, &id, |k| match k {
        EventKind::ChannelDialplan { app, .. } => Some(app.clone()),
        _ => None,
    })
    .await;
    assert_eq!(app, "Answer");

    // An extension: the answered channel runs it, with the caller id given.
    let dialled = execute(&switch, "originate loopback/2/t 1 XML t Alice 1234 10").await;
    let id = ok_uuid(&dialled);
    let app = next_event(&mut events, &id, |k| match k {
        EventKind::ChannelDialplan { app, .. } => Some(app.clone()),
        _ => None,
    })
    .await;
    assert_eq!(app, "Answer");
    let snapshot = switch.snapshot(&switch.channel(&id).expect("lives"));
    assert_eq!(
        (snapshot.context.as_str(), snapshot.exten.as_str()),
        ("t", "1")
    );

    // Another application runs on the answered channel, which hangs up after it.
    let waited = execute(&switch, "originate loopback/1/t &Wait(0.2)").await;
    let id = ok_uuid(&waited);
    let app = switch.channel(&id).expect("lives");
    assert_eq!(app.status().state, ChannelState::Up);
    let cause = tokio::time::timeout(Duration::from_secs(5), app.hung_up())
        .await
        .expect("hangs up when Wait ends");
    assert_eq!(cause.name(), "NORMAL_CLEARING");

    let failed = execute(&switch, "originate loopback/9/t &park()").await;
    // No extension 9 in `t`: the Local half's dialplan finds none, and the call fails.
    assert_eq!(
        (failed.text.as_str(), failed.ok),
        ("-ERR UNALLOCATED_NUMBER\n", false)
    );
    assert_eq!(
        execute(&switch, "originate loopback/1/t").await.text,
        format!("-USAGE: {}\n", "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]")
    );
    assert!(execute(&switch, "show api")
        .await
        .text
        .contains("\noriginate,Originate a call,<call url> "));
    switch.shutdown().await;
}

#[tokio::test]
async fn park_command() {
    let switch = switch("park").await;
    let mut events = switch.events().subscribe();
    let dialplan = |k: &EventKind| match k {
        EventKind::ChannelDialplan { app, .. } => Some(app.clone()),
        _ => None,
    };
    // A channel running `Answer(),Wait(30)`.
    let channel = switch
        .originate(Originate::new(
            "Local/2@t",
            Then::Dialplan {
                context: "t".into(),
                exten: "1".into(),
                priority: 1,
            },
        ))
        .await
        .expect("originate");
    let id = channel.id.clone();
    assert_eq!(next_event(&mut events, &id, dialplan).await, "Answer");
    assert_eq!(next_event(&mut events, &id, dialplan).await, "Wait");

    assert_eq!(
        execute(&switch, &format!("uuid_park {id}")).await.text,
        "+OK\n"
    );
    // The dialplan stops (nothing is left to break) and the channel stays up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(switch.break_(&id).is_err(), "no dialplan runs");
    assert_eq!(channel.status().state, ChannelState::Up);
    assert!(channel.status().hangup.is_none());
    // Parked, a transfer starts its dialplan again.
    assert_eq!(
        execute(&switch, &format!("uuid_transfer {id} 2 XML t"))
            .await
            .text,
        "+OK\n"
    );
    assert_eq!(next_event(&mut events, &id, dialplan).await, "Answer");

    // A bridged channel leaves its bridge.
    let other = parked_call(&switch).await;
    let bridged = execute(&switch, &format!("uuid_bridge {id} {}", other.id)).await;
    assert!(bridged.ok, "{}", bridged.text);
    assert_eq!(
        execute(&switch, &format!("uuid_park {}", other.id))
            .await
            .text,
        "+OK\n"
    );
    next_event(&mut events, &other.id, |k| {
        matches!(k, EventKind::ChannelLeftBridge { .. }).then_some(())
    })
    .await;
    assert_eq!(
        execute(&switch, "uuid_park nope").await.text,
        "-ERR No such channel!\n"
    );
    assert_eq!(execute(&switch, "uuid_park").await.text, "-USAGE: <uuid>\n");
    switch.shutdown().await;
}

#[tokio::test]
async fn switch_commands() {
    let switch = switch("system").await;
    let unknown = execute(&switch, "bogus 1 2").await;
    assert_eq!(
        (unknown.text.as_str(), unknown.ok),
        ("-ERR bogus Command not found!\n", false)
    );
    assert_eq!(execute(&switch, "show channels").await.text, "\n0 total.\n");
    assert_eq!(
        execute(&switch, "uuid_kill").await.text,
        "-USAGE: <uuid> [cause]\n"
    );
    assert_eq!(
        execute(&switch, "uuid_transfer x").await.text,
        "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    );
    assert_eq!(execute(&switch, "uuid_exists nope").await.text, "false");
    assert_eq!(execute(&switch, "uuid_answer nope").await.text, "-ERROR\n");
    assert_eq!(
        execute(&switch, "uuid_flush_dtmf nope").await.text,
        "-ERR No such session\n"
    );
    assert_eq!(execute(&switch, "global_setvar g1=v1").await.text, "+OK");
    assert_eq!(execute(&switch, "global_getvar g1").await.text, "v1");
    assert_eq!(
        execute(&switch, "global_setvar g1=v2=other").await.text,
        "+OK"
    );
    assert_eq!(execute(&switch, "global_getvar g1").await.text, "v1");
    assert_eq!(execute(&switch, "global_setvar g1=v2=v1").await.text, "+OK");
    assert_eq!(execute(&switch, "global_getvar g1").await.text, "v2");
    assert_eq!(
        execute(&switch, "hupall").await.text,
        "+OK hangup all channels with cause MANAGER_REQUEST\n"
    );
    assert_eq!(
        execute(&switch, "echo hello  world").await.text,
        "hello  world"
    );
    assert_eq!(
        execute(&switch, "md5 hello").await.text,
        "5d41402abc4b2a76b9719d911017c592"
    );
    assert_eq!(execute(&switch, "url_encode a b").await.text, "a%20b");
    assert_eq!(execute(&switch, "create_uuid").await.text.len(), 36);
    let status = execute(&switch, "status").await.text;
    assert!(
        status.starts_with("UP 0 years, 0 days, 0 hours, 0 minutes, "),
        "{status}"
    );
    assert_eq!(execute(&switch, "uptime").await.text, "0\n");
    assert_eq!(
        execute(&switch, "uptime fortnights").await.text,
        "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"
    );

    let api = execute(&switch, "show api").await.text;
    assert!(
        api.starts_with("name,description,syntax,ikey\nbgapi,Execute an api command in a thread,")
    );
    assert!(api.contains("\nuuid_kill,Kill channel,<uuid> [cause],mod_commands\n"));
    let apps = execute(&switch, "show application").await.text;
    assert!(apps.starts_with("name,description,syntax,ikey\n"), "{apps}");
    assert!(apps.lines().any(|l| l.starts_with("Answer,")), "{apps}");
    let help = execute(&switch, "help uuid_kill").await.text;
    assert_eq!(help, "uuid_kill,<uuid> [cause],Kill channel,mod_commands\n");
    switch.shutdown().await;
}
