//! `Switch::transfer` in the middle of an application: the caller hears the first
//! extension's prompt, then, at once, the target extension's tone.

use std::time::{Duration, Instant};

use switchboard_core::{Config, EventKind, Switch, Transfer};

use crate::support::calls::{self, LiveLeg, SETUP_TIMEOUT};
use crate::support::media::{Received, RtpPeer, Segment};
use crate::support::server::{Server, ServerConfig, TONE1K_FREQ};

/// What the transfer target plays, and what the first extension would play after its
/// prompt if it were not interrupted.
const TARGET: f32 = 400.0;
const NOT_INTERRUPTED: f32 = 2000.0;

/// How long after the prompt starts the test transfers.
const INTO_PROMPT: Duration = Duration::from_millis(1500);

/// Calls `extension` (whose prompt is 6 s of 1 kHz), transfers the channel to 700
/// 1.5 s into the prompt and returns what the caller heard and when the transfer was.
fn transfer_during(name: &str, extension: &str) -> (Received, Instant) {
    let config = ServerConfig::default()
        .extension(
            "default",
            "620",
            &[
                "Answer()",
                "Playback(tone1k&tone1k)",
                "Playtones(2000)",
                "Wait(5)",
            ],
        )
        .extension(
            "default",
            "621",
            &[
                "Answer()",
                "Read(PIN,tone1k&tone1k,4,,1,5)",
                "Playtones(2000)",
                "Wait(5)",
            ],
        )
        .extension("default", "700", &["Playtones(400)", "Wait(10)"]);
    let (server, text) = Server::in_process(name, config);
    let config: Config = toml::from_str(&text).expect("the test config parses");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let switch = runtime
        .block_on(Switch::start(config))
        .expect("the switch starts");
    let mut all = switch.events().subscribe();
    let rtp = RtpPeer::bind();
    let talk = Duration::from_secs(5);
    let caller = calls::start_caller(&server, "uac_call", extension, &rtp, "0 101", talk);
    let leg = LiveLeg::start(caller, rtp, vec![Segment::Silence(talk)]);
    let transferred = runtime.block_on(async {
        let id = tokio::time::timeout(SETUP_TIMEOUT, async {
            loop {
                match all.recv().await {
                    Ok(e) if e.kind == EventKind::ChannelCreated => return e.source.clone(),
                    Ok(_) => {}
                    Err(e) => panic!("global bus: {e}"),
                }
            }
        })
        .await
        .expect("the call creates a channel");
        // The global bus: the prompt may start before a channel subscription would.
        tokio::time::timeout(SETUP_TIMEOUT, async {
            loop {
                match all.recv().await {
                    Ok(e)
                        if e.source == id
                            && matches!(e.kind, EventKind::PlaybackStarted { .. }) =>
                    {
                        return
                    }
                    Ok(_) => {}
                    Err(e) => panic!("global bus: {e}"),
                }
            }
        })
        .await
        .expect("the prompt starts");
        tokio::time::sleep(INTO_PROMPT).await;
        let at = Instant::now();
        let to = Transfer::to("700");
        switch.transfer(&id, to).expect("transfer");
        at
    });
    let leg = leg.wait();
    leg.sipp.assert_success();
    runtime.block_on(switch.shutdown());
    (leg.received, transferred)
}

/// Before the transfer the prompt's 1 kHz, after it the target's tone and never the
/// prompt again (nor what followed it).
fn assert_prompt_then_target(received: &Received, at: Instant, what: &str) {
    let ms = Duration::from_millis;
    let before = received
        .slice(at - ms(1000)..at - ms(100))
        .tone_report(Duration::ZERO);
    let after = received
        .slice(at + ms(400)..at + ms(2500))
        .tone_report(Duration::ZERO);
    eprintln!("{what}: before the transfer {before}; after it {after}");
    let audio: Vec<_> = received.audio().map(|a| a.at).collect();
    if let (Some(first), Some(last)) = (audio.first(), audio.last()) {
        eprintln!(
            "audio from {:?} before to {:?} after the transfer",
            at - *first,
            *last - at
        );
    }
    assert!(
        before.frames >= 20 && before.fraction(TONE1K_FREQ) >= 0.8,
        "{what}: the prompt before the transfer: {before}"
    );
    assert!(
        after.frames >= 50 && after.fraction(TARGET) >= 0.8,
        "{what}: the target's tone after the transfer: {after}"
    );
    assert!(
        after.count(TONE1K_FREQ) <= 2 && after.count(NOT_INTERRUPTED) == 0,
        "{what}: the prompt stops and its extension goes no further: {after}"
    );
}

#[test]
fn a_transfer_interrupts_a_playback() {
    let (received, at) = transfer_during("transfer-playback", "620");
    assert_prompt_then_target(&received, at, "Playback");
}

#[test]
fn a_transfer_interrupts_a_read() {
    let (received, at) = transfer_during("transfer-read", "621");
    assert_prompt_then_target(&received, at, "Read");
}
