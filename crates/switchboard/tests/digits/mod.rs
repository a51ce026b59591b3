//! The per-channel digit buffer end to end: a SIP caller (SIPp, with the test's RTP
//! peer sending RFC 4733 digits) calls a switch that runs in the test process, and the
//! test flushes and collects through the core's typed API, driving the switch directly;
//! `read` does the same through the dialplan's Read and flush_dtmf, `transfer`
//! interrupts a Playback and a Read with `Switch::transfer`.

mod read;
mod transfer;

use std::time::Duration;

use switchboard_core::{
    ChannelEvent, ChannelEvents, CollectDigits, CollectStatus, Collected, Config, EventKind, Switch,
};

use crate::support::calls::{self, LiveLeg, SETUP_TIMEOUT};
use crate::support::media::{RtpPeer, Segment};
use crate::support::server::{Server, ServerConfig};

/// How long the test waits for a digit the caller sends.
const DIGIT_WAIT: Duration = Duration::from_secs(5);

/// The digits `events` reports next, `n` of them.
async fn next_digits(events: &mut ChannelEvents, n: usize) -> String {
    let mut digits = String::new();
    while digits.len() < n {
        let next = tokio::time::timeout(DIGIT_WAIT, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no digit within {DIGIT_WAIT:?}; got {digits:?}"));
        match next {
            Some(ChannelEvent::Event(event)) => {
                if let EventKind::ChannelDtmfReceived { digit, .. } = event.kind {
                    digits.push(digit);
                }
            }
            Some(ChannelEvent::Lagged(n)) => panic!("the channel's queue lagged by {n}"),
            None => panic!("the channel ended before its digits; got {digits:?}"),
        }
    }
    digits
}

#[test]
fn digits_sent_before_collecting_are_buffered_and_a_flush_drops_them() {
    let config = ServerConfig::default().extension("default", "610", &["Answer()", "Wait(20)"]);
    let (server, text) = Server::in_process("digits-buffer", config);
    let config: Config = toml::from_str(&text).expect("the test config parses");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let switch = runtime
        .block_on(Switch::start(config))
        .expect("the switch starts");
    let mut all = switch.events().subscribe();

    let digit = |d| Segment::Digit(d, Duration::from_millis(100));
    let gap = || Segment::Silence(Duration::from_millis(200));
    let script = vec![
        Segment::Silence(Duration::from_millis(500)),
        digit('9'),
        gap(),
        digit('8'),
        // The test flushes here.
        Segment::Silence(Duration::from_millis(1500)),
        digit('1'),
        gap(),
        digit('2'),
        gap(),
        digit('#'),
        Segment::Silence(Duration::from_secs(8)),
    ];
    let rtp = RtpPeer::bind();
    let talk = Duration::from_secs(6);
    let caller = calls::start_caller(&server, "uac_call", "610", &rtp, "0 101", talk);
    // The channel's own queue, subscribed before any digit is sent.
    let (id, mut events) = runtime.block_on(async {
        let created = tokio::time::timeout(SETUP_TIMEOUT, async {
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
        let events = switch.channel_events(&created).expect("the channel exists");
        (created, events)
    });
    let leg = LiveLeg::start(caller, rtp, script);

    runtime.block_on(async {
        assert_eq!(next_digits(&mut events, 2).await, "98");
        switch.flush_digits(&id).expect("flush");
        // Sent, received and reported while nobody collects.
        assert_eq!(next_digits(&mut events, 3).await, "12#");
        let request = CollectDigits {
            max: 10,
            terminators: "#".into(),
            first_timeout: Some(Duration::from_secs(2)),
            ..CollectDigits::default()
        };
        let collected = tokio::time::timeout(
            Duration::from_millis(500),
            switch.collect_digits(&id, request),
        )
        .await
        .expect("buffered digits are collected at once")
        .expect("collect");
        assert_eq!(
            collected,
            Collected {
                digits: "12".into(),
                terminator: Some('#'),
                status: CollectStatus::Ok,
            },
            "the digits buffered after the flush, not those before it"
        );
        // Nothing else was left behind.
        let request = CollectDigits {
            max: 1,
            first_timeout: Some(Duration::from_millis(300)),
            ..CollectDigits::default()
        };
        let rest = switch.collect_digits(&id, request).await.expect("collect");
        assert_eq!(
            (rest.digits.as_str(), rest.status),
            ("", CollectStatus::Timeout)
        );
    });

    let leg = leg.wait();
    leg.sipp.assert_success();
    runtime.block_on(switch.shutdown());
}
