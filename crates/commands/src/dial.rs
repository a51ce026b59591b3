//! Calling a FreeSWITCH dial string until someone answers, as `originate` and Lua's
//! `freeswitch.Session` do: the legs of a `,` group ring at once and the first to answer
//! wins (the others are cancelled); `|` groups are tried in turn.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{CallerId, Cause, Channel, ChannelState, Originate, Switch, Then};
use tokio::sync::mpsc;

use crate::dialstring;

/// Calls `dialstring` and returns the answered channel, parked (nothing runs on it), or
/// the cause of the last failure.
pub async fn call(
    switch: &Switch,
    dialstring: &str,
    caller_id: CallerId,
    timeout: Option<Duration>,
) -> Result<Arc<Channel>, Cause> {
    let groups = dialstring::parse_list(dialstring).map_err(|e| {
        tracing::info!("dial string {dialstring:?}: {e}");
        Cause::INVALID_NUMBER_FORMAT
    })?;
    let mut last = Cause::NORMAL_CLEARING;
    for group in groups {
        let (tx, mut rx) = mpsc::channel(group.len());
        let mut legs = Vec::new();
        for leg in group {
            let request = Originate {
                caller_id: caller_id.clone(),
                variables: leg.variables,
                timeout,
                ..Originate::new(leg.endpoint, Then::Park)
            };
            match switch.originate(request).await {
                Ok(channel) => {
                    legs.push(channel.clone());
                    tokio::spawn(answered(channel, tx.clone()));
                }
                Err(e) => last = e.cause(),
            }
        }
        drop(tx);
        while let Some((channel, outcome)) = rx.recv().await {
            match outcome {
                Ok(()) => {
                    for loser in legs.iter().filter(|l| l.id != channel.id) {
                        switch.hangup(&loser.id, Cause::ORIGINATOR_CANCEL);
                    }
                    return Ok(channel);
                }
                Err(cause) => last = cause,
            }
        }
    }
    Err(last)
}

/// Reports whether `channel` answered or why it did not.
async fn answered(channel: Arc<Channel>, tx: mpsc::Sender<(Arc<Channel>, Result<(), Cause>)>) {
    let mut status = channel.subscribe();
    let outcome = tokio::select! {
        up = status.wait_for(|s| s.state == ChannelState::Up) => {
            up.map(|_| ()).map_err(|_| Cause::NORMAL_CLEARING)
        }
        cause = channel.hung_up() => Err(cause),
    };
    // The caller may have stopped listening (another leg won): nothing to report to.
    let _ = tx.send((channel, outcome)).await;
}
