//! A whole switch without sockets or a database file: its SIP goes through a memory
//! wire and its RTP through a memory network to phones the test plays, its store is in
//! memory, and time is tokio's paused clock (SIP timers and the media clock included).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::testing::memory_switch;
use crate::testing::phone::{header, rtp::frames_of};
use crate::{
    ChannelEvent, ChannelEvents, ChannelState, CollectStatus, EventKind, Originate, PlayAndCollect,
    Then, Transfer,
};

/// The next event of a channel that `wanted` accepts.
async fn next(
    events: &mut ChannelEvents,
    what: &str,
    wanted: impl Fn(&EventKind) -> bool,
) -> EventKind {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.recv().await {
            match event {
                ChannelEvent::Event(e) if wanted(&e.kind) => return Some(e.kind.clone()),
                ChannelEvent::Event(_) => {}
                ChannelEvent::Lagged(n) => panic!("lagged by {n} waiting for {what}"),
            }
        }
        None
    })
    .await;
    found.ok().flatten().unwrap_or_else(|| panic!("no {what}"))
}

async fn up(channel: &crate::Channel) {
    let mut status = channel.subscribe();
    let up = status.wait_for(|s| s.state == ChannelState::Up || s.hangup.is_some());
    let state = up.await.map(|s| s.state);
    assert_eq!(
        state.ok(),
        Some(ChannelState::Up),
        "{} answered",
        channel.name
    );
}

#[tokio::test(start_paused = true)]
async fn originate_collect_transfer_and_bridge_without_sockets() {
    let started = std::time::Instant::now();
    let landed = [(
        "2".to_owned(),
        vec!["Set(LANDED=yes)".to_owned(), "Wait(30)".to_owned()],
    )];
    let dialplan: BTreeMap<_, _> = [("t".to_owned(), landed.into_iter().collect())].into();
    let (switch, mut net) = memory_switch("memory-io", dialplan).await;

    // Originate to a phone: the INVITE goes out on the wire, the phone answers.
    let bob = switch
        .originate(Originate::new("SIP/sip:bob@192.0.2.10:5060", Then::Park))
        .await
        .expect("originated");
    let mut events = switch.channel_events(&bob.id).expect("bob's events");
    let mut call = net.answer("192.0.2.10:5060").await;
    up(&bob).await;

    // Digits as SIP INFO, typed ahead: they cut the prompt and are collected.
    net.send_info_digits(&mut call, "12#").await;
    for want in ['1', '2', '#'] {
        let digit = next(&mut events, "a digit", |k| {
            matches!(k, EventKind::ChannelDtmfReceived { .. })
        })
        .await;
        assert!(
            matches!(digit, EventKind::ChannelDtmfReceived { digit, .. } if digit == want),
            "{digit:?}"
        );
    }
    let request = PlayAndCollect {
        prompt: vec!["silence:5000".into()],
        invalid: None,
        min: 1,
        max: 4,
        tries: 1,
        timeout: Duration::from_secs(3),
        terminators: "#".into(),
        regex: Some("^12$".into()),
        variable: Some("PIN".into()),
        digit_timeout: None,
    };
    let got = switch
        .play_and_collect(&bob.id, request)
        .await
        .expect("collected");
    assert_eq!(
        (got.digits.as_str(), got.status, got.terminator),
        ("12", CollectStatus::Ok, Some('#'))
    );
    assert_eq!(bob.var("PIN").as_deref(), Some("12"));

    // A tone prompt reaches the phone as RTP; a digit then ends the collection.
    let request = PlayAndCollect {
        prompt: vec!["tone:440/60000".into()],
        invalid: None,
        min: 1,
        max: 1,
        tries: 1,
        timeout: Duration::from_secs(3),
        terminators: "#".into(),
        regex: None,
        variable: None,
        digit_timeout: None,
    };
    let phone = async {
        let heard = call.receive_audio(Duration::from_millis(500)).await;
        net.send_info_digits(&mut call, "7").await;
        heard
    };
    let (got, heard) = tokio::join!(switch.play_and_collect(&bob.id, request), phone);
    let got = got.expect("collected");
    assert_eq!((got.digits.as_str(), got.status), ("7", CollectStatus::Ok));
    let prompt_frames = frames_of(&heard, 440.0, &[440.0, 1000.0]);
    assert!(
        prompt_frames >= 15,
        "{prompt_frames} frames of the prompt tone"
    );

    // The parked channel goes into the dialplan.
    let transfer = Transfer {
        exten: "2".into(),
        context: Some("t".into()),
        priority: None,
    };
    switch.transfer(&bob.id, transfer).expect("transferred");
    let step = next(&mut events, "the target extension", |k| {
        matches!(k, EventKind::ChannelDialplan { .. })
    })
    .await;
    assert!(
        matches!(&step, EventKind::ChannelDialplan { app, data } if app == "Set" && data == "LANDED=yes"),
        "{step:?}"
    );
    assert_eq!(bob.var("LANDED").as_deref(), Some("yes"));

    // Two more phones, bridged.
    let mut legs = Vec::new();
    let mut phones = Vec::new();
    for host in ["192.0.2.11:5060", "192.0.2.12:5060"] {
        let channel = switch
            .originate(Originate::new(format!("SIP/sip:carol@{host}"), Then::Park))
            .await
            .expect("originated");
        let events = switch.channel_events(&channel.id).expect("events");
        let call = net.answer(host).await;
        up(&channel).await;
        legs.push((channel, events));
        phones.push(call);
    }
    let bridge = switch
        .connect(&legs[0].0.id, &legs[1].0.id)
        .expect("bridged");
    for (channel, events) in &mut legs {
        let entered = next(events, "ChannelEnteredBridge", |k| {
            matches!(k, EventKind::ChannelEnteredBridge { .. })
        })
        .await;
        assert!(
            matches!(&entered, EventKind::ChannelEnteredBridge { bridge: b } if *b == bridge.id),
            "{entered:?}"
        );
        assert_eq!(channel.data().bridge.as_deref(), Some(bridge.id.as_str()));
    }
    // Audio one phone sends reaches the other, both ways.
    for (from, to, freq) in [(0, 1, 1000.0), (1, 0, 440.0)] {
        let (_, heard) = tokio::join!(
            phones[from].send_tone(freq, Duration::from_millis(400)),
            phones[to].receive_audio(Duration::from_millis(600)),
        );
        let frames = frames_of(&heard, freq, &[440.0, 1000.0]);
        assert!(
            frames >= 15,
            "{frames} frames of {freq} Hz from phone {from}"
        );
    }
    // Same codec on both legs: relayed without decoding.
    assert!(switch.media().counters().relayed >= 40);
    // A bridged channel is not parked: it has no dialplan to transfer within.
    let to_2 = Transfer {
        exten: "2".into(),
        context: Some("t".into()),
        priority: None,
    };
    assert!(matches!(
        switch.transfer(&legs[0].0.id, to_2),
        Err(crate::ControlError::WrongState(_))
    ));
    let mut ids = bridge.channel_ids();
    ids.sort();
    let mut want = vec![legs[0].0.id.clone(), legs[1].0.id.clone()];
    want.sort();
    assert_eq!(ids, want);

    // Hanging up sends BYE to the phone.
    let carol = legs[0].0.id.clone();
    switch.hangup(&carol, crate::Cause::NORMAL_CLEARING);
    let remote = "192.0.2.11:5060".parse().expect("an address");
    let (_, bye) = net
        .expect("a BYE", |f, t| f.remote == remote && t.starts_with("BYE "))
        .await;
    assert!(header(&bye, "Call-ID").is_some());
    let (channel, events) = &mut legs[0];
    next(events, "ChannelDestroyed", |k| {
        matches!(k, EventKind::ChannelDestroyed { .. })
    })
    .await;
    assert!(channel.status().hangup.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

/// A registering trunk at `host` (acct/pw, no pings) with `caller_id_number`.
fn registering_trunk(
    name: &str,
    host: &str,
    caller_id_number: Option<&str>,
) -> crate::config::Trunk {
    crate::config::Trunk {
        name: name.into(),
        host: host.into(),
        context: "default".into(),
        codecs: None,
        dtmf_mode: Default::default(),
        register: true,
        username: Some("acct".into()),
        password: Some("pw".into()),
        expires: 3600,
        from_user: None,
        from_domain: None,
        qualify: Some(0),
        caller_id_number: caller_id_number.map(str::to_owned),
    }
}

/// The registrar's final answer to `request` (its Vias, From, To with a tag, Call-ID,
/// CSeq).
fn registrar_answer(request: &str, status: &str) -> String {
    let vias: String = request
        .lines()
        .filter(|l| l.starts_with("Via:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let h = |name: &str| header(request, name).unwrap_or_default().to_owned();
    format!(
        "SIP/2.0 {status}\r\n{vias}From: {}\r\nTo: {};tag=reg\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Content-Length: 0\r\n\r\n",
        h("From"),
        h("To"),
        h("Call-ID"),
        h("CSeq")
    )
}

/// Polls (in paused time) until `name`'s registration state is `registered`.
async fn registered(switch: &crate::Switch, name: &str, registered: Option<bool>) {
    for _ in 0..100 {
        if switch.trunk_status(name).and_then(|s| s.registered) == registered {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} never became {registered:?}: {:?}",
        switch.trunk_status(name)
    );
}

#[tokio::test(start_paused = true)]
async fn trunks_register_carry_their_caller_id_and_refuse_calls_when_down() {
    let (switch, mut net) =
        crate::testing::memory_switch_with("memory-trunks", BTreeMap::new(), |config| {
            config.trunk = vec![
                registering_trunk("carrier", "192.0.2.20:5060", Some("15550001")),
                registering_trunk("dead", "192.0.2.21:5060", None),
            ];
        })
        .await;
    for (host, status) in [
        ("192.0.2.20:5060", "200 OK"),
        ("192.0.2.21:5060", "403 Forbidden"),
    ] {
        let remote: std::net::SocketAddr = host.parse().unwrap();
        let (flow, register) = net
            .expect("a REGISTER", |f, t| {
                f.remote == remote && t.starts_with("REGISTER ")
            })
            .await;
        net.deliver(flow, &registrar_answer(&register, status))
            .await;
    }
    registered(&switch, "carrier", Some(true)).await;
    registered(&switch, "dead", Some(false)).await;
    let names: Vec<_> = switch
        .trunks()
        .into_iter()
        .map(|t| (t.is_up(), t.name))
        .collect();
    assert_eq!(
        names,
        vec![(true, "carrier".into()), (false, "dead".into())]
    );
    assert!(switch.trunk_status("nope").is_none());

    // Through the registered trunk: its caller id, unless the request names one.
    let carrier: std::net::SocketAddr = "192.0.2.20:5060".parse().unwrap();
    for (caller, from_user) in [("", "15550001"), ("777", "777")] {
        let mut request = Originate::new("SIP/carrier/2000", Then::Park);
        request.caller_id.number = caller.into();
        let channel = switch.originate(request).await.expect("originated");
        let (_, invite) = net
            .expect("an INVITE", |f, t| {
                f.remote == carrier && t.starts_with("INVITE ")
            })
            .await;
        let from = header(&invite, "From").unwrap_or_default();
        assert!(from.contains(&format!("<sip:{from_user}@")), "{from}");
        switch.hangup(&channel.id, crate::Cause::NORMAL_CLEARING);
    }

    // Through the trunk whose registration failed: refused at once, naming it and why.
    let refused = switch
        .originate(Originate::new("SIP/dead/2000", Then::Park))
        .await
        .expect_err("a down trunk refuses calls");
    match &refused {
        crate::OriginateError::TrunkDown { trunk, reason } => {
            assert_eq!(trunk, "dead");
            assert!(reason.contains("403"), "{reason}");
        }
        other => panic!("expected TrunkDown, got {other:?}"),
    }
    assert_eq!(refused.cause(), crate::Cause::GATEWAY_DOWN);
}

mod requests;
