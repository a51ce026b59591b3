use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::*;
use crate::events::Event;
use crate::originate::{Originate, Then};
use crate::testing::{data_dir, start_in};

fn probe() -> Application {
    Application::new(
        "Probe",
        "Probe(text)",
        "Sets PROBED to its argument.",
        |switch: Switch, channel: Arc<Channel>, args: String| async move {
            let _ = switch.set_var(&channel.id, "PROBED", &args);
            Next::Continue
        },
    )
    .alias("probe_fs")
}

#[test]
fn applications_are_found_by_name_and_alias_ignoring_case() {
    let registry = Registry::builtin();
    for (name, expected) in [
        ("Playback", "Playback"),
        ("PLAYBACK", "Playback"),
        ("bridge", "Dial"),
        ("Bridge", "Dial"),
        ("conference", "ConfBridge"),
        ("ring_ready", "Ringing"),
        ("pre_answer", "Progress"),
        ("sleep", "sleep"),
        ("transfer", "transfer"),
    ] {
        let app = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} is registered"));
        assert_eq!(app.name, expected, "{name}");
    }
    assert!(
        registry.get("Stasis").is_none(),
        "Stasis is ARI's to register"
    );
    assert!(registry.get("NoSuchApp").is_none());
    // Listed once each (aliases are not applications of their own), sorted by name.
    let names: Vec<String> = registry.all().iter().map(|a| a.name.clone()).collect();
    assert_eq!(names.iter().filter(|n| *n == "Dial").count(), 1);
    assert!(!names.iter().any(|n| n == "bridge"));
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_ascii_lowercase());
    assert_eq!(names, sorted);
    let dial = registry.get("dial").expect("Dial");
    assert_eq!(
        dial.syntax,
        "Dial(Technology/Resource[&Technology2/Resource2[&...]][,timeout])"
    );
}

#[test]
fn a_face_registers_an_app_and_cannot_take_another_apps_name() {
    let registry = Registry::builtin();
    registry.register(probe()).expect("a new name");
    assert_eq!(registry.get("PROBE_FS").expect("alias").name, "Probe");
    // Registering it again (a face restarting) replaces it.
    registry.register(probe()).expect("same app again");
    assert_eq!(
        registry.all().iter().filter(|a| a.name == "Probe").count(),
        1
    );
    let clash = Application::new(
        "Mine",
        "Mine()",
        "",
        |_: Switch, _: Arc<Channel>, _: String| async { Next::Continue },
    )
    .alias("bridge");
    assert!(matches!(
        registry.register(clash),
        Err(ControlError::Conflict(_))
    ));
    assert!(
        registry.get("mine").is_none(),
        "a refused app is not half registered"
    );
}

/// 5 s of a 1 kHz tone, 8 kHz 16-bit mono.
fn write_tone(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("sounds dir");
    let samples: Vec<i16> = (0..40_000)
        .map(|n| {
            let phase = f64::from(n) * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0;
            (phase.sin() * 8000.0) as i16
        })
        .collect();
    let data_len = u32::try_from(samples.len() * 2).expect("small");
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    let path = dir.join("tone1k.wav");
    std::fs::write(&path, wav).expect("tone written");
    path.with_extension("")
}

/// A switch whose context `t` runs `extensions`, and a 5 s tone at the returned path.
async fn switch_with(name: &str, extensions: &[(&str, &[&str])]) -> (Switch, String) {
    let dir = data_dir(name);
    let tone = write_tone(&dir.join("sounds"));
    let tone = tone.to_string_lossy().into_owned();
    let context: BTreeMap<String, Vec<String>> = extensions
        .iter()
        .map(|(exten, steps)| {
            let steps = steps.iter().map(|s| s.replace("TONE", &tone)).collect();
            ((*exten).to_owned(), steps)
        })
        .collect();
    let switch = start_in(dir, BTreeMap::from([("t".to_owned(), context)])).await;
    (switch, tone)
}

/// Calls `exten`@t through a Local channel; the `;2` half runs the dialplan.
async fn call(switch: &Switch, exten: &str) {
    switch
        .originate(Originate::new(format!("Local/{exten}@t"), Then::Park))
        .await
        .expect("Local channel");
}

async fn next_event(
    rx: &mut broadcast::Receiver<Arc<Event>>,
    what: &str,
    wanted: impl Fn(&Event) -> bool,
) -> Arc<Event> {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rx.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("bus closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within 5 s"))
}

type Wanted<'a> = (&'a str, &'a dyn Fn(&Event) -> bool);

/// Waits for every one of `wanted`, in whatever order they come; returns the events
/// in the order asked.
async fn all_events(
    rx: &mut broadcast::Receiver<Arc<Event>>,
    wanted: &[Wanted<'_>],
) -> Vec<Arc<Event>> {
    let mut found: Vec<Option<Arc<Event>>> = vec![None; wanted.len()];
    while let Some(missing) = found.iter().position(Option::is_none) {
        let event = next_event(rx, wanted[missing].0, |e| {
            wanted
                .iter()
                .zip(&found)
                .any(|((_, matches), seen)| seen.is_none() && matches(e))
        })
        .await;
        let slot = wanted
            .iter()
            .zip(&found)
            .position(|((_, matches), seen)| seen.is_none() && matches(&event));
        if let Some(slot) = slot {
            found[slot] = Some(event);
        }
    }
    found.into_iter().flatten().collect()
}

fn runs(event: &Event, wanted_app: &str, wanted_data: &str) -> bool {
    matches!(&event.kind, EventKind::ChannelDialplan { app, data } if app == wanted_app && data == wanted_data)
}

/// The `;2` channel's id, from the first application it runs.
async fn dialplan_channel(rx: &mut broadcast::Receiver<Arc<Event>>) -> String {
    let first = next_event(rx, "a dialplan step", |e| {
        matches!(e.kind, EventKind::ChannelDialplan { .. })
    })
    .await;
    first.source.clone()
}

#[tokio::test]
async fn a_face_registered_application_runs_in_the_dialplan_and_on_request() {
    let (switch, _) = switch_with("apps-face", &[("1", &["Probe(hello)", "Wait(30)"])]).await;
    switch.register_application(probe()).expect("registered");
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    let set = next_event(
        &mut rx,
        "PROBED",
        |e| matches!(&e.kind, EventKind::ChannelVarset { variable, .. } if variable == "PROBED"),
    )
    .await;
    assert_eq!(set.source, id);
    assert!(matches!(&set.kind, EventKind::ChannelVarset { value, .. } if value == "hello"));
    let next = switch.execute_application(&id, "PROBE_FS", "again").await;
    assert_eq!(next, Ok(Next::Continue));
    assert_eq!(
        switch.channel(&id).expect("up").var("PROBED").as_deref(),
        Some("again")
    );
    assert!(matches!(
        switch.execute_application(&id, "Nope", "").await,
        Err(ControlError::Invalid(_))
    ));
    switch.shutdown().await;
}

#[tokio::test]
async fn a_transfer_stops_a_playback_and_runs_the_target() {
    let (switch, _) = switch_with(
        "apps-transfer-playback",
        &[
            ("1", &["Answer()", "Playback(TONE)", "Set(AFTER=wrong)"]),
            ("2", &["Set(LANDED=yes)", "Wait(30)"]),
        ],
    )
    .await;
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    let started = next_event(&mut rx, "PlaybackStarted", |e| {
        e.source == id && matches!(e.kind, EventKind::PlaybackStarted { .. })
    })
    .await;
    let EventKind::PlaybackStarted { playback } = &started.kind else {
        unreachable!()
    };
    let asked = tokio::time::Instant::now();
    let transfer = Transfer::to("2");
    switch.transfer(&id, transfer).expect("transferred");
    let finished =
        |e: &Event| matches!(&e.kind, EventKind::PlaybackFinished { playback: p } if p == playback);
    let target = |e: &Event| e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. });
    let seen = all_events(
        &mut rx,
        &[
            ("PlaybackFinished", &finished),
            ("the target extension", &target),
        ],
    )
    .await;
    assert!(runs(&seen[1], "Set", "LANDED=yes"), "{seen:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the 5 s tone was cut short"
    );
    assert!(switch.playback(playback).is_err(), "nothing left playing");
    switch.shutdown().await;
}

#[tokio::test]
async fn a_break_ends_a_wait_and_continues_at_the_next_priority() {
    let (switch, _) = switch_with(
        "apps-break-wait",
        &[("1", &["Wait(30)", "Set(BROKE=yes)", "Wait(30)"])],
    )
    .await;
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = tokio::time::Instant::now();
    switch.break_(&id).expect("broken");
    let next = next_event(&mut rx, "the next priority", |e| {
        e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. })
    })
    .await;
    assert!(runs(&next, "Set", "BROKE=yes"), "{next:?}");
    assert!(asked.elapsed() < Duration::from_secs(1));
    // The request was used up: the second Wait is not cut short by it.
    let second = next_event(&mut rx, "the second Wait", |e| {
        e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. })
    })
    .await;
    assert!(runs(&second, "Wait", "30"), "{second:?}");
    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        next_event(&mut rx, "anything after Wait", |e| {
            e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. })
        }),
    )
    .await;
    assert!(cut.is_err(), "the second Wait still runs");
    assert!(matches!(
        switch.break_("no-such-channel"),
        Err(ControlError::NotFound)
    ));
    switch.shutdown().await;
}

#[tokio::test]
async fn a_transfer_during_read_stops_its_prompt_and_goes_to_another_context() {
    let dir = data_dir("apps-transfer-read");
    let tone = write_tone(&dir.join("sounds"));
    let tone = tone.to_string_lossy();
    let dialplan = BTreeMap::from([
        (
            "t".to_owned(),
            BTreeMap::from([(
                "1".to_owned(),
                vec![
                    format!("Read(DIGITS,{tone},4,,1,10)"),
                    "Set(AFTER=wrong)".to_owned(),
                ],
            )]),
        ),
        (
            "u".to_owned(),
            BTreeMap::from([(
                "9".to_owned(),
                vec![
                    "NoOp(first)".to_owned(),
                    "Set(LANDED=yes)".to_owned(),
                    "Wait(30)".to_owned(),
                ],
            )]),
        ),
    ]);
    let switch = start_in(dir, dialplan).await;
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    let started = next_event(&mut rx, "the prompt", |e| {
        e.source == id && matches!(e.kind, EventKind::PlaybackStarted { .. })
    })
    .await;
    let EventKind::PlaybackStarted { playback } = &started.kind else {
        unreachable!()
    };
    let transfer = Transfer {
        exten: "9".into(),
        context: Some("u".into()),
        priority: Some(2),
    };
    switch.transfer(&id, transfer).expect("transferred");
    let finished =
        |e: &Event| matches!(&e.kind, EventKind::PlaybackFinished { playback: p } if p == playback);
    let target = |e: &Event| e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. });
    let seen = all_events(
        &mut rx,
        &[("the prompt's end", &finished), ("the target", &target)],
    )
    .await;
    assert!(runs(&seen[1], "Set", "LANDED=yes"), "{seen:?}");
    let channel = switch.channel(&id).expect("still up");
    assert_eq!(channel.var("CONTEXT").as_deref(), Some("u"));
    assert_eq!(channel.var("READSTATUS"), None, "Read did not finish");
    switch.shutdown().await;
}

/// What `Stasis()` is, without ARI: the channel parks until released.
fn parker() -> Application {
    Application::new(
        "Parker",
        "Parker(app)",
        "Parks in Stasis.",
        |switch: Switch, channel: Arc<Channel>, args: String| async move {
            let _ = switch.park_in_stasis(&channel.id, &args, Vec::new()).await;
            Next::Continue
        },
    )
}

#[tokio::test]
async fn a_transfer_takes_a_channel_out_of_stasis_into_the_dialplan() {
    let (switch, _) = switch_with(
        "apps-transfer-stasis",
        &[
            ("1", &["Parker(app)", "Set(AFTER=wrong)"]),
            ("2", &["Set(LANDED=yes)", "Wait(30)"]),
            ("3", &["Answer()", "Wait(30)"]),
        ],
    )
    .await;
    switch.register_application(parker()).expect("registered");
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    next_event(&mut rx, "StasisStart", |e| {
        e.source == id && matches!(e.kind, EventKind::StasisStart { .. })
    })
    .await;
    let to_2 = || Transfer::to("2");
    switch.transfer(&id, to_2()).expect("transferred");
    let end = next_event(&mut rx, "StasisEnd", |e| {
        e.source == id && matches!(e.kind, EventKind::StasisEnd { .. })
    })
    .await;
    assert!(matches!(&end.kind, EventKind::StasisEnd { app } if app == "app"));
    let landed = next_event(&mut rx, "the target", |e| {
        e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. })
    })
    .await;
    assert!(runs(&landed, "Set", "LANDED=yes"), "{landed:?}");
    assert!(switch.channel(&id).expect("up").data().stasis.is_none());

    // A channel originated into an application has no dialplan: a transfer starts one.
    let near = switch
        .originate(Originate::new(
            "Local/3@t",
            Then::App {
                name: "app".into(),
                args: Vec::new(),
            },
        ))
        .await
        .expect("originated");
    next_event(&mut rx, "the originated channel's StasisStart", |e| {
        e.source == near.id && matches!(e.kind, EventKind::StasisStart { .. })
    })
    .await;
    switch.transfer(&near.id, to_2()).expect("transferred");
    next_event(&mut rx, "its StasisEnd", |e| {
        e.source == near.id && matches!(e.kind, EventKind::StasisEnd { .. })
    })
    .await;
    let landed = next_event(&mut rx, "its dialplan", |e| {
        e.source == near.id && matches!(e.kind, EventKind::ChannelDialplan { .. })
    })
    .await;
    assert!(runs(&landed, "Set", "LANDED=yes"), "{landed:?}");
    switch.shutdown().await;
}

#[tokio::test]
async fn a_transferred_dial_hangs_up_the_channel_it_rang() {
    let (switch, _) = switch_with(
        "apps-transfer-dial",
        &[
            ("1", &["Dial(Local/7@t)", "Set(AFTER=wrong)"]),
            ("2", &["Set(LANDED=yes)", "Wait(30)"]),
            // Rings for ever: never answers.
            ("7", &["Ringing()", "Wait(30)"]),
        ],
    )
    .await;
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    let begin = next_event(&mut rx, "ChannelDialBegin", |e| {
        e.source == id && matches!(e.kind, EventKind::ChannelDialBegin { .. })
    })
    .await;
    let EventKind::ChannelDialBegin { peer, .. } = &begin.kind else {
        unreachable!()
    };
    let transfer = Transfer::to("2");
    switch.transfer(&id, transfer).expect("transferred");
    let cancelled = |e: &Event| {
        e.source == id
            && matches!(&e.kind, EventKind::ChannelDialEnd { peer: p, status } if p == peer && status == "CANCEL")
    };
    let gone =
        |e: &Event| &e.source == peer && matches!(e.kind, EventKind::ChannelDestroyed { .. });
    let target = |e: &Event| e.source == id && matches!(e.kind, EventKind::ChannelDialplan { .. });
    let seen = all_events(
        &mut rx,
        &[
            ("the Dial's end, CANCEL", &cancelled),
            ("the dialled channel's end", &gone),
            ("the target", &target),
        ],
    )
    .await;
    assert!(runs(&seen[2], "Set", "LANDED=yes"), "{seen:?}");
    assert!(switch.channel(&id).is_ok(), "the caller stays up");
    switch.shutdown().await;
}

/// A digit from the far end of channel `id`, as the driver delivers it.
fn press(switch: &Switch, id: &str, digit: char) {
    let channel = switch.channel(id).expect("up");
    channel.digits.push(id, digit);
    switch.events().publish(
        id,
        EventKind::ChannelDtmfReceived {
            digit,
            duration_ms: 100,
        },
    );
}

/// The `READSTATUS` and `GOT` that `Read(GOT,,1,,1,1)` on `id` sets.
async fn read_result(rx: &mut broadcast::Receiver<Arc<Event>>, id: &str) -> (String, String) {
    let mut got = None;
    loop {
        let set = next_event(rx, "Read's variables", |e| {
            e.source == id && matches!(e.kind, EventKind::ChannelVarset { .. })
        })
        .await;
        let EventKind::ChannelVarset { variable, value } = &set.kind else {
            unreachable!()
        };
        match variable.as_str() {
            "GOT" => got = Some(value.clone()),
            "READSTATUS" => return (value.clone(), got.unwrap_or_default()),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_digit_that_ends_a_record_is_not_read_again() {
    let (switch, _) = switch_with(
        "apps-record-digits",
        &[(
            "1",
            &[
                "Record(record-digits.wav,,,q)",
                "Read(GOT,,1,,1,1)",
                "Wait(30)",
            ],
        )],
    )
    .await;
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    next_event(&mut rx, "RecordingStarted", |e| {
        e.source == id && matches!(e.kind, EventKind::RecordingStarted { .. })
    })
    .await;
    press(&switch, &id, '#');
    next_event(&mut rx, "Read", |e| {
        e.source == id && runs(e, "Read", "GOT,,1,,1,1")
    })
    .await;
    assert_eq!(
        read_result(&mut rx, &id).await,
        ("TIMEOUT".to_owned(), String::new()),
        "Record's # was Record's"
    );
    switch.shutdown().await;
}

#[tokio::test]
async fn digits_typed_in_stasis_are_not_read_by_the_dialplan_after_it() {
    let (switch, _) = switch_with(
        "apps-stasis-digits",
        &[("1", &["Parker(app)", "Read(GOT,,1,,1,1)", "Wait(30)"])],
    )
    .await;
    switch.register_application(parker()).expect("registered");
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    next_event(&mut rx, "StasisStart", |e| {
        e.source == id && matches!(e.kind, EventKind::StasisStart { .. })
    })
    .await;
    press(&switch, &id, '5');
    switch
        .continue_in_dialplan(&id, None, None, None)
        .expect("continued");
    assert_eq!(
        read_result(&mut rx, &id).await,
        ("TIMEOUT".to_owned(), String::new()),
        "the application had the 5"
    );
    // Typed after Stasis, a digit is read.
    call(&switch, "1").await;
    let first = id;
    let id = next_event(&mut rx, "the second StasisStart", |e| {
        e.source != first && matches!(e.kind, EventKind::StasisStart { .. })
    })
    .await
    .source
    .clone();
    switch
        .continue_in_dialplan(&id, None, None, None)
        .expect("continued");
    next_event(&mut rx, "Read", |e| {
        e.source == id && runs(e, "Read", "GOT,,1,,1,1")
    })
    .await;
    press(&switch, &id, '7');
    assert_eq!(
        read_result(&mut rx, &id).await,
        ("OK".to_owned(), "7".to_owned())
    );
    switch.shutdown().await;
}

#[tokio::test]
async fn digits_pressed_during_echo_are_not_read_after_it() {
    let (switch, _) = switch_with(
        "apps-echo-digits",
        &[
            ("1", &["Answer()", "Echo()"]),
            ("2", &["Read(GOT,,1,,1,1)", "Wait(30)"]),
        ],
    )
    .await;
    let mut rx = switch.events().subscribe();
    call(&switch, "1").await;
    let id = dialplan_channel(&mut rx).await;
    next_event(&mut rx, "Echo", |e| e.source == id && runs(e, "Echo", "")).await;
    press(&switch, &id, '7');
    let transfer = Transfer::to("2");
    switch.transfer(&id, transfer).expect("transferred");
    assert_eq!(
        read_result(&mut rx, &id).await,
        ("TIMEOUT".to_owned(), String::new()),
        "the 7 was pressed for Echo"
    );
    switch.shutdown().await;
}

#[tokio::test]
async fn two_transfers_at_once_start_one_dialplan_on_a_parked_channel() {
    let (switch, _) = switch_with(
        "apps-two-transfers",
        &[
            ("1", &["Answer()", "Wait(30)"]),
            ("2", &["Set(LANDED=first)", "Wait(30)"]),
            ("3", &["Set(LANDED=second)", "Wait(30)"]),
        ],
    )
    .await;
    let parked = switch
        .originate(Originate::new("Local/1@t", Then::Park))
        .await
        .expect("Local channel");
    let mut status = parked.subscribe();
    status
        .wait_for(|s| s.state == crate::ChannelState::Up)
        .await
        .expect("answered");
    let mut rx = switch.events().subscribe();
    for exten in ["2", "3"] {
        let transfer = Transfer::to(exten);
        switch.transfer(&parked.id, transfer).expect("transferred");
    }
    // The second transfer is handed to the task the first one started: it lands at 3.
    let landed = next_event(&mut rx, "Wait", |e| {
        e.source == parked.id && runs(e, "Wait", "30")
    })
    .await;
    assert_eq!(
        parked.var("LANDED").as_deref(),
        Some("second"),
        "{landed:?}"
    );
    let second = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            if let Ok(e) = rx.recv().await {
                if e.source == parked.id && runs(&e, "Wait", "30") {
                    return e;
                }
            }
        }
    })
    .await;
    assert!(second.is_err(), "a second dialplan task runs: {second:?}");
    switch.shutdown().await;
}
