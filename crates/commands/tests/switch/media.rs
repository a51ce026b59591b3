//! uuid_pre_answer, uuid_ring_ready, uuid_recv_dtmf, uuid_dump, uuid_simplify,
//! uuid_broadcast, uuid_displace, uuid_record.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{CollectDigits, Event, EventKind};

use super::{execute, first_event, next_event, other_half, parked_call, switch, text};

/// The first event of any source that `pick` accepts.
async fn any_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
    pick: impl Fn(&EventKind) -> Option<T>,
) -> T {
    first_event(events, |event| pick(&event.kind)).await
}

#[tokio::test]
async fn signalling_digits_and_dump() {
    let switch = switch("media-signalling").await;
    let channel = parked_call(&switch).await;
    let id = channel.id.clone();
    let mut events = switch.events().subscribe();

    // On an answered channel there is nothing left to signal: FreeSWITCH says +OK.
    assert_eq!(
        text(&switch, &format!("uuid_pre_answer {id}")).await,
        "+OK\n"
    );
    assert_eq!(
        text(&switch, &format!("uuid_ring_ready {id}")).await,
        "+OK\n"
    );
    assert_eq!(
        text(&switch, &format!("uuid_ring_ready {id} queued")).await,
        "+OK\n"
    );
    assert_eq!(
        text(&switch, &format!("uuid_ring_ready {id} loudly")).await,
        "-USAGE: <uuid> [queued]\n"
    );
    assert_eq!(text(&switch, "uuid_pre_answer nope").await, "-ERROR\n");
    assert_eq!(text(&switch, "uuid_ring_ready nope").await, "-ERROR\n");

    // Received digits: the channel's own buffer and its DTMF events (not the far half).
    let got = execute(&switch, &format!("uuid_recv_dtmf {id} 4#")).await;
    assert_eq!(got.text, format!("+OK {id} received DTMF 4#.\n"));
    for want in ['4', '#'] {
        let digit = next_event(&mut events, &id, |k| match k {
            EventKind::ChannelDtmfReceived { digit, .. } => Some(*digit),
            _ => None,
        })
        .await;
        assert_eq!(digit, want);
    }
    let collect = CollectDigits {
        max: 2,
        first_timeout: Some(Duration::from_secs(1)),
        ..CollectDigits::default()
    };
    let collected = switch.collect_digits(&id, collect).await.expect("collect");
    assert_eq!(collected.digits, "4#");
    assert_eq!(
        text(&switch, &format!("uuid_recv_dtmf {id} 4x")).await,
        "-USAGE: <uuid> <dtmf_data>\n"
    );
    assert_eq!(
        text(&switch, "uuid_recv_dtmf nope 1").await,
        "-ERR Cannot locate session!\n"
    );

    switch.set_var(&id, "colour", "dark blue").expect("set");
    let dump = text(&switch, &format!("uuid_dump {id}")).await;
    assert!(dump.starts_with("Event-Name: CHANNEL_DATA\n"), "{dump}");
    assert!(dump.contains(&format!("\nUnique-ID: {id}\n")), "{dump}");
    assert!(dump.contains("\nChannel-State: CS_EXECUTE\n"), "{dump}");
    assert!(dump.contains("\nAnswer-State: answered\n"), "{dump}");
    assert!(dump.contains("\nvariable_colour: dark%20blue\n"), "{dump}");
    assert!(dump.ends_with("\n\n"));
    let plain = text(&switch, &format!("uuid_dump {id} plain")).await;
    assert!(
        plain.contains("\nvariable_colour: [dark blue]\n"),
        "{plain}"
    );
    let json = text(&switch, &format!("uuid_dump {id} json")).await;
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(parsed["Unique-ID"], id.as_str());
    assert_eq!(parsed["variable_colour"], "dark blue");
    assert_eq!(
        text(&switch, "uuid_dump nope").await,
        "-ERR No such channel!\n"
    );
    assert_eq!(
        text(&switch, "uuid_dump").await,
        "-USAGE: <uuid> [format]\n"
    );
    switch.shutdown().await;
}

#[tokio::test]
async fn simplify_shorts_a_local_pair() {
    let switch = switch("media-simplify").await;
    let mut events = switch.events().subscribe();
    // a —— q1 ~ q2 —— r: q1/q2 are a Local pair.
    let a = parked_call(&switch).await;
    let q1 = parked_call(&switch).await;
    let q2 = other_half(&switch, &q1);
    let r = parked_call(&switch).await;
    switch.connect(&a.id, &q1.id).expect("a with q1");
    switch.connect(&q2, &r.id).expect("q2 with r");

    assert_eq!(
        text(&switch, &format!("uuid_simplify {}", a.id)).await,
        "+OK Success\n"
    );
    for half in [&q1.id, &q2] {
        next_event(&mut events, half, |k| {
            matches!(k, EventKind::ChannelDestroyed { .. }).then_some(())
        })
        .await;
    }
    assert_eq!(switch.bridge_partner(&a.id).as_deref(), Some(r.id.as_str()));
    assert!(a.status().hangup.is_none() && r.status().hangup.is_none());

    // Nothing to simplify: FreeSWITCH's endpoints ignore it, +OK all the same.
    assert_eq!(
        text(&switch, &format!("uuid_simplify {}", a.id)).await,
        "+OK Success\n"
    );
    assert_eq!(
        text(&switch, "uuid_simplify nope").await,
        "-ERR Operation failed\n"
    );
    assert_eq!(text(&switch, "uuid_simplify").await, "-USAGE: <uuid>\n");
    switch.shutdown().await;
}

#[tokio::test]
async fn broadcast_displace_and_record() {
    let switch = switch("media-play").await;
    let channel = parked_call(&switch).await;
    let id = channel.id.clone();
    let mut events = switch.events().subscribe();
    let started = |k: &EventKind| match k {
        EventKind::PlaybackStarted { playback } => Some(playback.clone()),
        _ => None,
    };

    assert_eq!(
        text(
            &switch,
            &format!("uuid_broadcast {id} silence_stream://300")
        )
        .await,
        "+OK Message sent\n"
    );
    any_event(&mut events, started).await;
    // An application, on both legs of a bridge.
    let other = parked_call(&switch).await;
    switch.connect(&id, &other.id).expect("bridged");
    assert_eq!(
        text(&switch, &format!("uuid_broadcast {id} Set::cast=yes both")).await,
        "+OK Message sent\n"
    );
    tokio::time::timeout(Duration::from_secs(5), async {
        while channel.var("cast").is_none() || other.var("cast").is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both legs ran Set");
    assert_eq!(
        text(&switch, "uuid_broadcast nope /tmp/x.wav").await,
        "-ERR invalid uuid\n"
    );
    assert_eq!(
        text(&switch, &format!("uuid_broadcast {id} NoSuchApp::x")).await,
        "-ERR invalid uuid\n"
    );
    assert_eq!(
        text(&switch, "uuid_broadcast x").await,
        "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    );

    let displace = format!("uuid_displace {id} start silence_stream://10000 0 mux");
    assert_eq!(text(&switch, &displace).await, "+OK Success\n");
    let playing = any_event(&mut events, started).await;
    assert!(playing.starts_with(&format!("displace/{id}/")), "{playing}");
    assert_eq!(
        text(
            &switch,
            &format!("uuid_displace {id} stop silence_stream://10000")
        )
        .await,
        "+OK Success\n"
    );
    let finished = any_event(&mut events, |k| match k {
        EventKind::PlaybackFinished { playback } => Some(playback.clone()),
        _ => None,
    })
    .await;
    assert_eq!(finished, playing);
    assert_eq!(
        text(
            &switch,
            &format!("uuid_displace {id} stop silence_stream://10000")
        )
        .await,
        "-ERR Cannot stop displace session!\n"
    );
    assert_eq!(
        text(&switch, "uuid_displace nope start /tmp/x.wav").await,
        "-ERR Cannot locate session!\n"
    );

    let dir = switch.config().general.data_dir.join("uuid-record");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("call.wav");
    let record = |action: &str| format!("uuid_record {id} {action} {}", path.display());
    assert_eq!(text(&switch, &record("start")).await, "+OK Success\n");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(text(&switch, &record("mask")).await, "+OK Success\n");
    assert_eq!(text(&switch, &record("stop")).await, "+OK Success\n");
    any_event(&mut events, |k| {
        matches!(k, EventKind::RecordingFinished { .. }).then_some(())
    })
    .await;
    let size = std::fs::metadata(&path)
        .expect("the recording was written")
        .len();
    assert!(size > 44, "more than a WAV header: {size} bytes");
    assert_eq!(
        text(&switch, &record("stop")).await,
        "-ERR Cannot stop record session!\n"
    );
    assert_eq!(
        text(&switch, &format!("uuid_record {id} rewind /tmp/x.wav")).await,
        "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    );
    switch.shutdown().await;
}
