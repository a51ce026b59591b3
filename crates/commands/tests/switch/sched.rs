//! sched_api, sched_hangup, sched_transfer, sched_del and bgapi.

use std::time::Duration;

use switchboard_core::EventKind;

use super::{execute, next_event, parked_call, switch, text};

/// Waits (up to 5 s) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} in time"));
}

#[tokio::test]
async fn scheduled_hangups_and_transfers() {
    let switch = switch("sched").await;
    let mut events = switch.events().subscribe();
    let doomed = parked_call(&switch).await;
    let reply = execute(&switch, &format!("sched_hangup +1 {}", doomed.id)).await;
    assert_eq!(reply.text, "+OK\n");
    assert!(doomed.status().hangup.is_none(), "not before its time");
    let cause = tokio::time::timeout(Duration::from_secs(5), doomed.hung_up())
        .await
        .expect("hung up when its time came");
    assert_eq!(cause.name(), "ALLOTTED_TIMEOUT");

    // +0 hangs up at once, with the cause given.
    let now = parked_call(&switch).await;
    let reply = execute(&switch, &format!("sched_hangup +0 {} USER_BUSY", now.id)).await;
    assert_eq!(reply.text, "+OK\n");
    let cause = tokio::time::timeout(Duration::from_secs(5), now.hung_up())
        .await
        .expect("hung up");
    assert_eq!(cause.name(), "USER_BUSY");

    // A deleted hangup never comes (sched_del by the channel's uuid, its group).
    let spared = parked_call(&switch).await;
    execute(&switch, &format!("sched_hangup +1 {}", spared.id)).await;
    assert_eq!(
        text(&switch, &format!("sched_del {}", spared.id)).await,
        "+OK Deleted: 1\n"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(spared.status().hangup.is_none());

    let moved = execute(&switch, &format!("sched_transfer +1 {} 2 XML t", spared.id)).await;
    assert_eq!(moved.text, "+OK\n");
    let app = next_event(&mut events, &spared.id, |k| match k {
        EventKind::ChannelDialplan { app, .. } => Some(app.clone()),
        _ => None,
    })
    .await;
    assert_eq!(app, "Answer");
    assert_eq!(switch.snapshot(&spared).exten, "2");

    assert_eq!(
        text(&switch, "sched_hangup +1 nope").await,
        "-ERR No such channel!\n"
    );
    assert_eq!(
        text(&switch, "sched_hangup").await,
        "-USAGE: [+]<time> <uuid> [<cause>]\n"
    );
    assert_eq!(
        text(&switch, &format!("sched_transfer +1 {}", spared.id)).await,
        "-USAGE: [+]<time> <uuid> <extension> [<dialplan>] [<context>]\n"
    );
    switch.shutdown().await;
}

#[tokio::test]
async fn scheduled_api_commands_and_background_jobs() {
    let switch = switch("sched-api").await;
    let channel = parked_call(&switch).await;
    let id = channel.id.clone();

    let added = execute(
        &switch,
        &format!("sched_api +1 mygroup uuid_setvar {id} later yes"),
    )
    .await;
    let task: u32 = added
        .text
        .strip_prefix("+OK Added: ")
        .and_then(|n| n.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{}", added.text));
    assert!(task > 0);
    assert_eq!(channel.var("later"), None);
    eventually("the scheduled command ran", || {
        channel.var("later").as_deref() == Some("yes")
    })
    .await;

    // Deleted by id, and by group, before they run.
    let by_id = execute(&switch, &format!("sched_api +1 g1 uuid_setvar {id} a 1")).await;
    let by_id = by_id
        .text
        .trim_end()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    execute(&switch, &format!("sched_api +1 g2 uuid_setvar {id} b 1&")).await;
    execute(&switch, &format!("sched_api +1 g2 uuid_setvar {id} c 1")).await;
    assert_eq!(
        text(&switch, &format!("sched_del {by_id}")).await,
        "+OK Deleted: 1\n"
    );
    assert_eq!(text(&switch, "sched_del g2").await, "+OK Deleted: 2\n");
    assert_eq!(text(&switch, "sched_del g2").await, "+OK Deleted: 0\n");
    // A recurring one runs again and again until deleted.
    execute(
        &switch,
        &format!("sched_api @1 ticks uuid_setvar {id} tick x"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for var in ["a", "b", "c"] {
        assert_eq!(channel.var(var), None, "{var} was deleted before it ran");
    }
    assert_eq!(channel.var("tick").as_deref(), Some("x"));
    assert_eq!(text(&switch, "sched_del ticks").await, "+OK Deleted: 1\n");
    assert!(switch.scheduled_tasks().is_empty());
    assert_eq!(
        text(&switch, "sched_api +1").await,
        "-ERR Invalid syntax. USAGE: [+@]<time> <group_name> <command_string>[&]\n"
    );
    assert_eq!(text(&switch, "sched_del").await, "-ERR Invalid syntax\n");

    let job = execute(&switch, &format!("bgapi uuid_setvar {id} bg done")).await;
    let job_id = job
        .text
        .strip_prefix("+OK Job-UUID: ")
        .map(str::trim_end)
        .unwrap_or_else(|| panic!("{}", job.text));
    assert_eq!(job_id.len(), 36);
    eventually("the background job ran", || {
        channel.var("bg").as_deref() == Some("done")
    })
    .await;
    assert_eq!(
        text(&switch, "bgapi uuid:my-job msleep 10").await,
        "+OK Job-UUID: my-job\n"
    );
    assert_eq!(text(&switch, "bgapi").await, "-ERR Invalid syntax\n");
    switch.shutdown().await;
}
