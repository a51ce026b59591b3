//! `Dial(dialstring[&dialstring…][,timeout])`: ring one or more destinations, pass
//! ringing and early media back to the caller, connect the first to answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::apps::Next;
use crate::cause::Cause;
use crate::channel::{Channel, Status};
use crate::events::EventKind;
use crate::state::ChannelState;
use crate::switch::Switch;

pub(crate) async fn dial(switch: &Switch, caller: &Arc<Channel>, args: &[String]) -> Next {
    let dialstrings = args.first().map(String::as_str).unwrap_or_default();
    let timeout = args
        .get(1)
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .map(Duration::from_secs_f64);
    let caller_id = caller.data().caller.clone();
    let events = switch.events();
    let (tx, mut updates) = mpsc::unbounded_channel::<(String, Status)>();
    let mut ringing: Vec<Arc<Channel>> = Vec::new();
    let mut last_cause = Cause::NO_ROUTE_DESTINATION;
    for dialstring in dialstrings.split('&').filter(|d| !d.is_empty()) {
        let placed = switch
            .call_out(
                dialstring,
                caller_id.clone(),
                Some(caller),
                [None, None],
                &BTreeMap::new(),
                Default::default(),
            )
            .await;
        match placed {
            Ok(callee) => {
                // The CDR's dstchannel is the dialled channel from the start, answered or not.
                caller.data().peer_name = Some(callee.name.clone());
                events.publish(
                    &caller.id,
                    EventKind::ChannelDialBegin {
                        peer: callee.id.clone(),
                        dialstring: dialstring.to_owned(),
                    },
                );
                tokio::spawn(forward_status(callee.clone(), tx.clone()));
                ringing.push(callee);
            }
            Err(e) => last_cause = e.cause(),
        }
    }
    drop(tx);
    let finish = |status: &str, cause: Option<Cause>| {
        let _ = switch.set_var(&caller.id, "DIALSTATUS", status);
        caller.data().pending_cause = cause;
    };
    if ringing.is_empty() {
        finish(last_cause.dial_status(), Some(last_cause));
        return Next::Continue;
    }

    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut rang = false;
    let mut early: Option<String> = None;
    let answered = loop {
        let update = tokio::select! {
            update = updates.recv() => update,
            () = sleep_until(deadline) => {
                for callee in &ringing {
                    switch.hangup(&callee.id, Cause::NO_ANSWER);
                    dial_end(switch, caller, callee, "NOANSWER");
                }
                finish("NOANSWER", Some(Cause::NO_ANSWER));
                return Next::Continue;
            }
        };
        let Some((id, status)) = update else {
            finish(last_cause.dial_status(), Some(last_cause));
            return Next::Continue;
        };
        let Some(callee) = ringing.iter().find(|c| c.id == id).cloned() else {
            continue;
        };
        if let Some(cause) = status.hangup {
            ringing.retain(|c| c.id != id);
            last_cause = cause;
            dial_end(switch, caller, &callee, cause.dial_status());
            if ringing.is_empty() {
                finish(cause.dial_status(), Some(cause));
                return Next::Continue;
            }
        } else if status.state == ChannelState::Up {
            break callee;
        } else if status.early_media && early.is_none() {
            // Early media: connect now, so the caller hears the far end's tones.
            let _ = switch.connect(&caller.id, &callee.id);
            let _ = switch.progress(&caller.id);
            early = Some(id);
        } else if status.state == ChannelState::Ringing && !rang && early.is_none() {
            let _ = switch.ring(&caller.id);
            rang = true;
        }
    };

    for other in ringing.iter().filter(|c| c.id != answered.id) {
        switch.hangup(&other.id, Cause::NORMAL_CLEARING);
        dial_end(switch, caller, other, "CANCEL");
    }
    let _ = switch.answer(&caller.id);
    let already = early.as_deref() == Some(answered.id.as_str());
    if !already {
        let _ = switch.connect(&caller.id, &answered.id);
    }
    dial_end(switch, caller, &answered, "ANSWER");
    finish("ANSWER", None);
    // Connected until the callee goes; the caller going ends this task (and, through
    // the parent link, the callee).
    let cause = answered.hung_up().await;
    caller.data().pending_cause = Some(cause);
    Next::Continue
}

pub(crate) fn dial_end(switch: &Switch, caller: &Channel, callee: &Channel, status: &str) {
    switch.events().publish(
        &caller.id,
        EventKind::ChannelDialEnd {
            peer: callee.id.clone(),
            status: status.to_owned(),
        },
    );
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Forwards every status change of `callee` until it hangs up.
async fn forward_status(callee: Arc<Channel>, tx: mpsc::UnboundedSender<(String, Status)>) {
    let mut rx = callee.subscribe();
    loop {
        let status = *rx.borrow_and_update();
        if tx.send((callee.id.clone(), status)).is_err() || status.hangup.is_some() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}
