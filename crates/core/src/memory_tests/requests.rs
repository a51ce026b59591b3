//! The typed requests without sockets: each test plays phones on the memory network
//! and checks what they hear, the events and the files the request leads to.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_media::rtp;

use super::{next, up};
use crate::features::MuteDirection;
use crate::recording::{IfExists, RecordDirection, RecordOptions, RecordingCommand, TerminateOn};
use crate::snoop::SnoopDirection;
use crate::testing::memory_switch;
use crate::testing::phone::rtp::frames_of;
use crate::testing::phone::{header, Call, Network};
use crate::{Cause, Channel, ChannelEvents, EventKind, MediaTarget, Originate, Play, Switch, Then};

const TONES: [f32; 2] = [440.0, 1000.0];

/// A memory switch and `hosts.len()` answered phones, with their channels' events.
async fn phones(
    name: &str,
    hosts: &[&str],
) -> (Switch, Network, Vec<(Arc<Channel>, ChannelEvents, Call)>) {
    let (switch, mut net) = memory_switch(name, BTreeMap::new()).await;
    let mut legs = Vec::new();
    for host in hosts {
        let channel = switch
            .originate(Originate::new(format!("SIP/sip:p@{host}"), Then::Park))
            .await
            .expect("originated");
        let events = switch.channel_events(&channel.id).expect("events");
        let call = net.answer(host).await;
        up(&channel).await;
        legs.push((channel, events, call));
    }
    (switch, net, legs)
}

/// How many 20 ms frames of `freq` reach phone `to` while phone `from` sends it.
async fn heard(from: &Call, to: &Call, freq: f32) -> usize {
    let (_, audio) = tokio::join!(
        from.send_tone(freq, Duration::from_millis(400)),
        to.receive_audio(Duration::from_millis(600)),
    );
    frames_of(&audio, freq, &TONES)
}

#[tokio::test(start_paused = true)]
async fn a_tone_played_into_a_channel_reaches_its_phone() {
    let (switch, _net, mut legs) = phones("mem-play", &["192.0.2.20:5060"]).await;
    let (channel, events, call) = &mut legs[0];
    let playback = switch
        .play(Play::channel(&channel.id, vec!["tone:440/60000".into()]))
        .expect("playing");
    let started = next(events, "PlaybackStarted", |k| {
        matches!(k, EventKind::PlaybackStarted { .. })
    })
    .await;
    assert_eq!(
        started,
        EventKind::PlaybackStarted {
            playback: playback.id.clone()
        }
    );
    let audio = call.receive_audio(Duration::from_millis(500)).await;
    let frames = frames_of(&audio, 440.0, &TONES);
    assert!(frames >= 20, "{frames} frames of the tone");
}

#[tokio::test(start_paused = true)]
async fn a_held_phone_is_not_heard_until_unheld() {
    let hosts = ["192.0.2.21:5060", "192.0.2.22:5060"];
    let (switch, _net, mut legs) = phones("mem-hold", &hosts).await;
    switch
        .connect(&legs[0].0.id, &legs[1].0.id)
        .expect("bridged");
    assert!(heard(&legs[0].2, &legs[1].2, 1000.0).await >= 15);

    switch.hold(&legs[0].0.id).expect("held");
    next(&mut legs[0].1, "ChannelHold", |k| {
        matches!(k, EventKind::ChannelHold)
    })
    .await;
    // No music-on-hold class is configured: the held phone gets no music, and
    // what it says no longer reaches the other party.
    let frames = heard(&legs[0].2, &legs[1].2, 1000.0).await;
    assert_eq!(frames, 0, "the other party hears the held phone");

    switch.unhold(&legs[0].0.id).expect("unheld");
    next(&mut legs[0].1, "ChannelUnhold", |k| {
        matches!(k, EventKind::ChannelUnhold)
    })
    .await;
    let frames = heard(&legs[0].2, &legs[1].2, 1000.0).await;
    assert!(frames >= 15, "{frames} frames after unhold");
}

#[tokio::test(start_paused = true)]
async fn a_muted_phone_is_not_heard_in_a_bridge() {
    let hosts = ["192.0.2.23:5060", "192.0.2.24:5060"];
    let (switch, _net, legs) = phones("mem-mute", &hosts).await;
    let (a, b) = (&legs[0], &legs[1]);
    switch.connect(&a.0.id, &b.0.id).expect("bridged");

    switch
        .mute(&a.0.id, MuteDirection::In, true)
        .expect("muted");
    assert_eq!(heard(&a.2, &b.2, 1000.0).await, 0, "muted in, yet heard");
    // Muting what a channel says leaves what it hears alone.
    assert!(heard(&b.2, &a.2, 440.0).await >= 15);
    switch
        .mute(&a.0.id, MuteDirection::In, false)
        .expect("unmuted");
    assert!(heard(&a.2, &b.2, 1000.0).await >= 15);

    // Muting what `b` hears stops `a`'s audio too.
    switch
        .mute(&b.0.id, MuteDirection::Out, true)
        .expect("muted");
    assert_eq!(heard(&a.2, &b.2, 1000.0).await, 0, "muted out, yet heard");
}

#[tokio::test(start_paused = true)]
async fn recording_a_channel_writes_what_its_phone_says() {
    let (switch, _net, mut legs) = phones("mem-record", &["192.0.2.25:5060"]).await;
    let (channel, events, call) = &mut legs[0];
    let options = RecordOptions {
        name: "memo".into(),
        format: "wav".into(),
        max_duration_seconds: 0,
        max_silence_seconds: 0,
        silence_level: None,
        if_exists: IfExists::Fail,
        beep: false,
        terminate_on: TerminateOn::None,
        direction: RecordDirection::In,
    };
    let recording = switch
        .record(MediaTarget::Channel(channel.id.clone()), options)
        .expect("recording");
    let started = next(events, "RecordingStarted", |k| {
        matches!(k, EventKind::RecordingStarted { .. })
    })
    .await;
    assert_eq!(
        started,
        EventKind::RecordingStarted {
            recording: "memo".into()
        }
    );
    call.send_tone(1000.0, Duration::from_secs(1)).await;
    switch
        .control_recording("memo", RecordingCommand::Stop)
        .expect("stopped");
    recording.finished().await;
    next(
        events,
        "RecordingFinished",
        |k| matches!(k, EventKind::RecordingFinished { recording } if recording == "memo"),
    )
    .await;
    assert!(recording
        .path
        .starts_with(&switch.config().general.data_dir));
    let wav = switchboard_media::wav::read_wav(&recording.path).expect("the WAV reads");
    assert_eq!(wav.sample_rate, 8000);
    let frames = frames_of(&wav.samples, 1000.0, &TONES);
    assert!(frames >= 40, "{frames} frames of the tone in the file");
}

#[tokio::test(start_paused = true)]
async fn a_snoop_channel_carries_the_spied_phones_audio() {
    let hosts = ["192.0.2.26:5060", "192.0.2.27:5060"];
    let (switch, _net, legs) = phones("mem-snoop", &hosts).await;
    let (spied, listener) = (&legs[0], &legs[1]);
    let snoop = switch
        .snoop(
            &spied.0.id,
            SnoopDirection::In,
            SnoopDirection::None,
            "spy",
            Vec::new(),
            None,
        )
        .expect("snooping");
    // The snoop channel is bridged to a listening phone, as a supervisor would be.
    switch.connect(&snoop.id, &listener.0.id).expect("bridged");
    let frames = heard(&spied.2, &listener.2, 440.0).await;
    assert!(frames >= 15, "{frames} frames of the spied phone's tone");
}

#[tokio::test(start_paused = true)]
async fn a_hangup_byes_the_phone_with_its_cause() {
    let host = "192.0.2.28:5060";
    let (switch, mut net, mut legs) = phones("mem-hangup", &[host]).await;
    let (channel, events, _call) = &mut legs[0];
    switch.hangup(&channel.id, Cause::USER_BUSY);
    let remote = host.parse().expect("an address");
    let (_, bye) = net
        .expect("a BYE", |f, t| f.remote == remote && t.starts_with("BYE "))
        .await;
    assert!(header(&bye, "Call-ID").is_some());
    let destroyed = next(events, "ChannelDestroyed", |k| {
        matches!(k, EventKind::ChannelDestroyed { .. })
    })
    .await;
    assert_eq!(
        destroyed,
        EventKind::ChannelDestroyed {
            cause: Cause::USER_BUSY
        }
    );
    assert_eq!(channel.status().hangup, Some(Cause::USER_BUSY));
}

#[tokio::test(start_paused = true)]
async fn channel_variables_fall_back_to_globals() {
    let (switch, _net, mut legs) = phones("mem-vars", &["192.0.2.29:5060"]).await;
    let (channel, events, _call) = &mut legs[0];
    switch.set_var(&channel.id, "COLOR", "red").expect("set");
    let set = next(events, "ChannelVarset", |k| {
        matches!(k, EventKind::ChannelVarset { .. })
    })
    .await;
    assert_eq!(
        set,
        EventKind::ChannelVarset {
            variable: "COLOR".into(),
            value: "red".into()
        }
    );
    assert_eq!(switch.var(channel, "COLOR").as_deref(), Some("red"));

    switch.set_global("SHAPE", "round").expect("set");
    assert_eq!(switch.var(channel, "SHAPE").as_deref(), Some("round"));
    switch.set_var(&channel.id, "SHAPE", "square").expect("set");
    assert_eq!(switch.var(channel, "SHAPE").as_deref(), Some("square"));
    assert_eq!(
        switch.var(channel, "GLOBAL(SHAPE)").as_deref(),
        Some("round")
    );
    // An empty global is removed.
    switch.set_global("SHAPE", "").expect("removed");
    assert_eq!(switch.var(channel, "GLOBAL(SHAPE)"), None);
}

#[tokio::test(start_paused = true)]
async fn dtmf_reaches_the_phone_as_rfc4733_events() {
    let (switch, _net, legs) = phones("mem-dtmf", &["192.0.2.30:5060"]).await;
    let (channel, _events, call) = &legs[0];
    // The phone's answer offered telephone-event 101, so digits go as RFC 4733.
    let received = async {
        let mut digits = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(got) = tokio::time::timeout_at(deadline, call.rtp.recv_from(&mut buf)).await {
            let (len, _) = got.expect("the phone's socket is open");
            let Ok(packet) = rtp::parse(&buf[..len]) else {
                continue;
            };
            if packet.header.payload_type == 101 {
                let event = packet.payload.first().copied();
                if event.is_some() && digits.last() != Some(&event) {
                    digits.push(event);
                }
            }
        }
        digits
    };
    let (sent, digits) = tokio::join!(switch.send_dtmf(&channel.id, "1#", 100, 100), received);
    sent.expect("sent");
    // RFC 4733 event codes: `1` is 1, `#` is 11.
    assert_eq!(digits, vec![Some(1), Some(11)]);
}
