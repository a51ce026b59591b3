//! Third-party call control (click to call, the flows of RFC 3725): the switch calls a
//! caller, and once the caller answers calls the callee and connects the two. A session
//! is an id over the channels it made, with its user's data; the channels are ordinary
//! channels every face sees, and the session's end (who answered, why it ended, how
//! long they talked) is kept in the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use switchboard_store::SessionRecord;

use crate::cause::Cause;
use crate::channel::Channel;
use crate::events::EventKind;
use crate::originate::{Originate, Then};
use crate::state::ChannelState;
use crate::switch::{ControlError, Switch};
use crate::time;

/// Sessions in progress at once; more are refused (a face answers 503).
pub const MAX_CALL_SESSIONS: usize = 10_000;

/// A session to start: what it is listed as, and the two calls to place. Each leg's
/// `then` is the session's to set (the caller waits, the callee is connected to it).
#[derive(Debug, Clone)]
pub struct NewCallSession {
    pub caller: String,
    pub caller_display_name: String,
    pub callee: String,
    pub trunk: Option<String>,
    pub user_data: Option<String>,
    pub caller_leg: Originate,
    pub callee_leg: Originate,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallSessionOutcome {
    /// The caller never answered.
    CallerFailed,
    /// The caller answered, the callee did not.
    CalleeFailed,
    /// The caller hung up, or the session was destroyed, before the callee answered.
    Cancelled,
    /// The two talked.
    Connected,
}

impl CallSessionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallerFailed => "caller_failed",
            Self::CalleeFailed => "callee_failed",
            Self::Cancelled => "cancelled",
            Self::Connected => "connected",
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSessionProgress {
    pub caller_channel: Option<String>,
    pub callee_channel: Option<String>,
    pub caller_answered_at: Option<SystemTime>,
    /// When the callee answered and the two were connected.
    pub connected_at: Option<SystemTime>,
    pub ended: Option<(CallSessionOutcome, Cause)>,
}

/// One of a session's two parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionParty {
    Caller,
    Callee,
}

impl CallSessionProgress {
    /// Whole seconds from the connection to `now` (0 before it).
    fn talking_time(&self, now: SystemTime) -> i64 {
        self.connected_at
            .map_or(0, |at| time::seconds_between(at, now))
    }
}

#[derive(Debug)]
pub struct CallSession {
    pub id: String,
    pub caller: String,
    pub caller_display_name: String,
    pub callee: String,
    pub trunk: Option<String>,
    pub user_data: Option<String>,
    pub started_at: SystemTime,
    progress: Mutex<CallSessionProgress>,
    /// Wakes the session's task when a transfer swapped one of its channels.
    swapped: tokio::sync::Notify,
}

impl CallSession {
    pub fn progress(&self) -> CallSessionProgress {
        self.state().clone()
    }

    fn state(&self) -> MutexGuard<'_, CallSessionProgress> {
        crate::lock(&self.progress)
    }

    /// Whole seconds since the two were connected (0 before), growing while they talk.
    pub fn talking_time(&self) -> i64 {
        self.state().talking_time(SystemTime::now())
    }

    /// The session's channels that exist, caller first.
    pub fn channels(&self) -> Vec<String> {
        let state = self.state();
        state
            .caller_channel
            .iter()
            .chain(&state.callee_channel)
            .cloned()
            .collect()
    }
}

/// The sessions in progress, by id.
pub(crate) type CallSessions = Mutex<HashMap<String, Arc<CallSession>>>;

impl Switch {
    /// Starts a session: places the caller's call at once and goes on in the
    /// background; the session is listed until both calls are over.
    pub fn start_call_session(
        &self,
        new: NewCallSession,
    ) -> Result<Arc<CallSession>, ControlError> {
        let session = Arc::new(CallSession {
            id: uuid::Uuid::new_v4().to_string(),
            caller: new.caller,
            caller_display_name: new.caller_display_name,
            callee: new.callee,
            trunk: new.trunk,
            user_data: new.user_data,
            started_at: SystemTime::now(),
            progress: Mutex::default(),
            swapped: tokio::sync::Notify::new(),
        });
        {
            let mut sessions = crate::lock(&self.shared().call_sessions);
            if sessions.len() >= MAX_CALL_SESSIONS {
                return Err(ControlError::Unprocessable(format!(
                    "{MAX_CALL_SESSIONS} sessions are in progress already"
                )));
            }
            sessions.insert(session.id.clone(), session.clone());
        }
        self.events().publish(
            &session.id,
            EventKind::CallSessionStarted {
                session: session.id.clone(),
            },
        );
        tokio::spawn(run(
            self.clone(),
            session.clone(),
            new.caller_leg,
            new.callee_leg,
        ));
        Ok(session)
    }

    /// The sessions in progress, oldest first.
    pub fn call_sessions(&self) -> Vec<Arc<CallSession>> {
        let mut list: Vec<_> = crate::lock(&self.shared().call_sessions)
            .values()
            .cloned()
            .collect();
        list.sort_by_key(|s| s.started_at);
        list
    }

    pub fn call_session(&self, id: &str) -> Result<Arc<CallSession>, ControlError> {
        crate::lock(&self.shared().call_sessions)
            .get(id)
            .cloned()
            .ok_or(ControlError::NotFound)
    }

    /// Hangs up a session's calls; it ends as they go.
    pub fn end_call_session(&self, id: &str) -> Result<(), ControlError> {
        let session = self.call_session(id)?;
        {
            let mut state = session.state();
            let outcome = if state.connected_at.is_some() {
                CallSessionOutcome::Connected
            } else {
                CallSessionOutcome::Cancelled
            };
            state.ended.get_or_insert((outcome, Cause::NORMAL_CLEARING));
        }
        for channel in session.channels() {
            self.hangup(&channel, Cause::NORMAL_CLEARING);
        }
        Ok(())
    }

    /// Blind transfer by the B2BUA: `party` leaves the other, who is hung up, and is
    /// connected to `to` once it answers (its `then` is the session's to set). The
    /// session goes on with `to` in the other's place; it ends if `to` fails.
    pub async fn transfer_call_session(
        &self,
        id: &str,
        party: SessionParty,
        mut to: Originate,
    ) -> Result<(), ControlError> {
        let session = self.call_session(id)?;
        let (kept, dropped) = {
            let mut state = session.state();
            if state.connected_at.is_none() || state.ended.is_some() {
                return Err(ControlError::WrongState(
                    "the session's parties are not connected",
                ));
            }
            let (kept, dropped) = match party {
                SessionParty::Caller => (state.caller_channel.clone(), state.callee_channel.take()),
                SessionParty::Callee => (state.callee_channel.clone(), state.caller_channel.take()),
            };
            let (Some(kept), Some(dropped)) = (kept, dropped) else {
                return Err(ControlError::WrongState("the session is being transferred"));
            };
            (kept, dropped)
        };
        session.swapped.notify_one();
        if let Some(bridge) = self.channel(&kept)?.bridge_id() {
            // Gone already is fine: the hangup below empties it anyway.
            let _ = self.remove_from_bridge(&bridge, &kept);
        }
        self.hangup(&dropped, Cause::NORMAL_CLEARING);
        to.then = Then::Bridge(kept);
        let placed = self.originate(to).await;
        let new = match &placed {
            Ok(channel) => Some(channel.id.clone()),
            Err(_) => None,
        };
        {
            let mut state = session.state();
            let slot = match party {
                SessionParty::Caller => &mut state.callee_channel,
                SessionParty::Callee => &mut state.caller_channel,
            };
            *slot = new;
            if let Err(e) = &placed {
                state
                    .ended
                    .get_or_insert((CallSessionOutcome::Connected, e.cause()));
            }
        }
        session.swapped.notify_one();
        placed.map(|_| ()).map_err(|e| match e {
            crate::switch::OriginateError::Refused(e) => e,
            down @ crate::switch::OriginateError::TrunkDown { .. } => {
                ControlError::Conflict(down.to_string())
            }
            // The session's state (its party gone with the failed target) is what
            // the request ran into.
            crate::switch::OriginateError::Failed(cause) => {
                ControlError::Conflict(format!("the transfer target failed: {}", cause.name()))
            }
        })
    }

    /// An ended session as the store keeps it.
    pub fn call_session_record(&self, id: &str) -> Result<Option<SessionRecord>, ControlError> {
        self.store()
            .session_record(id)
            .map_err(|e| ControlError::Failed(e.to_string()))
    }
}

/// The whole session: the calls, then the record, then out of the list.
async fn run(switch: Switch, session: Arc<CallSession>, caller: Originate, callee: Originate) {
    let (outcome, cause) = connect(&switch, &session, caller, callee).await;
    for channel in session.channels() {
        switch.hangup(&channel, Cause::NORMAL_CLEARING);
    }
    let (progress, record) = {
        let mut state = session.state();
        // A destroyed session keeps what its destroyer said of it.
        let (outcome, cause) = *state.ended.get_or_insert((outcome, cause));
        let record = record_of(&session, &state, outcome, cause);
        (state.clone(), record)
    };
    tracing::info!(
        session = %session.id,
        outcome = ?progress.ended,
        talking_time = record.talking_time,
        "call session ended"
    );
    let store = switch.store().clone();
    let written = tokio::task::spawn_blocking(move || store.put_session_blocking(record)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!(session = %session.id, ?written, "call session record not written");
    }
    crate::lock(&switch.shared().call_sessions).remove(&session.id);
    switch.events().publish(
        &session.id,
        EventKind::CallSessionEnded {
            session: session.id.clone(),
        },
    );
}

fn record_of(
    session: &CallSession,
    state: &CallSessionProgress,
    outcome: CallSessionOutcome,
    cause: Cause,
) -> SessionRecord {
    let now = SystemTime::now();
    SessionRecord {
        id: session.id.clone(),
        caller: session.caller.clone(),
        caller_display_name: session.caller_display_name.clone(),
        callee: session.callee.clone(),
        trunk: session.trunk.clone().unwrap_or_default(),
        user_data: session.user_data.clone().unwrap_or_default(),
        started_at: time::rfc3339(session.started_at),
        caller_answered_at: state.caller_answered_at.map(time::rfc3339),
        connected_at: state.connected_at.map(time::rfc3339),
        ended_at: time::rfc3339(now),
        outcome: outcome.as_str().to_owned(),
        cause: cause.name().to_owned(),
        talking_time: state.talking_time(now),
    }
}

/// Waits until `channel` is answered; the cause when it is gone first.
async fn answered(channel: &Channel) -> Result<(), Cause> {
    let mut status = channel.subscribe();
    tokio::select! {
        up = status.wait_for(|s| s.state == ChannelState::Up) => {
            up.map(|_| ()).map_err(|_| Cause::NORMAL_CLEARING)
        }
        cause = channel.hung_up() => Err(cause),
    }
}

/// Calls the caller, then the callee, connects them and waits for the end.
async fn connect(
    switch: &Switch,
    session: &CallSession,
    mut caller: Originate,
    mut callee: Originate,
) -> (CallSessionOutcome, Cause) {
    use CallSessionOutcome::*;
    caller.then = Then::Park;
    let a = match switch.originate(caller).await {
        Ok(channel) => channel,
        Err(e) => return (CallerFailed, e.cause()),
    };
    session.state().caller_channel = Some(a.id.clone());
    if let Err(cause) = answered(&a).await {
        return (CallerFailed, cause);
    }
    if session.state().ended.is_some() {
        return (Cancelled, Cause::NORMAL_CLEARING);
    }
    session.state().caller_answered_at = Some(SystemTime::now());
    callee.then = Then::Bridge(a.id.clone());
    let b = match switch.originate(callee).await {
        Ok(channel) => channel,
        Err(e) => return (CalleeFailed, e.cause()),
    };
    session.state().callee_channel = Some(b.id.clone());
    tokio::select! {
        result = answered(&b) => {
            if let Err(cause) = result {
                return (CalleeFailed, cause);
            }
        }
        cause = a.hung_up() => return (Cancelled, cause),
    }
    session.state().connected_at = Some(SystemTime::now());
    switch.events().publish(
        &session.id,
        EventKind::CallSessionConnected {
            session: session.id.clone(),
        },
    );
    (Connected, talking(switch, session).await)
}

/// Resolves with the channel's cause when it hangs up; never for a party being
/// replaced by a transfer (the swap wakes the waiter instead).
async fn gone(channel: Option<Arc<Channel>>) -> Cause {
    match channel {
        Some(c) => c.hung_up().await,
        None => std::future::pending().await,
    }
}

/// Waits until one of the two parties hangs up (or a transfer to a new party fails),
/// following the channels a transfer swaps in.
async fn talking(switch: &Switch, session: &CallSession) -> Cause {
    loop {
        let swapped = session.swapped.notified();
        let (a, b, ended) = {
            let state = session.state();
            let find = |id: &Option<String>| id.as_deref().and_then(|id| switch.channel(id).ok());
            (
                find(&state.caller_channel),
                find(&state.callee_channel),
                state.ended,
            )
        };
        if let Some((_, cause)) = ended {
            return cause;
        }
        let ids: Vec<String> = [&a, &b]
            .into_iter()
            .flatten()
            .map(|c| c.id.clone())
            .collect();
        let cause = tokio::select! {
            cause = gone(a) => cause,
            cause = gone(b) => cause,
            () = swapped => continue,
        };
        // A party a transfer let go of is hung up on purpose: the session goes on.
        let still = session.channels();
        if ids.iter().all(|id| still.contains(id)) {
            return cause;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::testing::{data_dir, start_in};

    /// `talk` answers and waits; `short` answers and hangs up after a second.
    async fn switch(name: &str) -> Switch {
        let step = |apps: &[&str]| apps.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let t: BTreeMap<String, Vec<String>> = [
            ("talk".to_owned(), step(&["Answer()", "Wait(30)"])),
            (
                "short".to_owned(),
                step(&["Answer()", "Wait(1)", "Hangup()"]),
            ),
        ]
        .into();
        start_in(data_dir(name), [("t".to_owned(), t)].into()).await
    }

    fn new(caller: &str, callee: &str) -> NewCallSession {
        NewCallSession {
            caller: "1000".into(),
            caller_display_name: "Desk".into(),
            callee: "1001".into(),
            trunk: None,
            user_data: Some("u".into()),
            caller_leg: Originate::new(caller, Then::Park),
            callee_leg: Originate::new(callee, Then::Park),
        }
    }

    async fn ended(switch: &Switch, id: &str) -> SessionRecord {
        for _ in 0..100 {
            if let Ok(Some(record)) = switch.call_session_record(id) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("session {id} never ended");
    }

    #[tokio::test]
    async fn a_session_connects_and_its_end_is_recorded() {
        let switch = switch("call-session-connect").await;
        let mut events = switch.events().subscribe();
        let session = switch
            .start_call_session(new("Local/talk@t", "Local/short@t"))
            .expect("started");
        assert_eq!(switch.call_sessions().len(), 1);
        let record = ended(&switch, &session.id).await;
        assert_eq!(record.outcome, "connected");
        assert_eq!(record.user_data, "u");
        assert!(record.connected_at.is_some() && record.caller_answered_at.is_some());
        assert!(switch.call_sessions().is_empty());
        assert!(matches!(
            switch.call_session(&session.id),
            Err(ControlError::NotFound)
        ));
        let mut kinds = Vec::new();
        while let Ok(event) = events.try_recv() {
            if event.source == session.id {
                kinds.push(event.kind.clone());
            }
        }
        let id = session.id.clone();
        assert_eq!(
            kinds,
            [
                EventKind::CallSessionStarted {
                    session: id.clone()
                },
                EventKind::CallSessionConnected {
                    session: id.clone()
                },
                EventKind::CallSessionEnded { session: id },
            ]
        );
        switch.shutdown().await;
    }

    #[tokio::test]
    async fn a_callee_that_is_not_there_ends_the_session_and_the_caller() {
        let switch = switch("call-session-callee-fails").await;
        let session = switch
            .start_call_session(new("Local/talk@t", "Local/nowhere@t"))
            .expect("started");
        let record = ended(&switch, &session.id).await;
        assert_eq!(record.outcome, "callee_failed");
        assert_eq!(record.talking_time, 0);
        // The caller's call went with it.
        let caller = session
            .progress()
            .caller_channel
            .expect("the caller was called");
        assert!(
            switch.channel(&caller).is_err()
                || switch
                    .channel(&caller)
                    .is_ok_and(|c| c.status().hangup.is_some())
        );
        switch.shutdown().await;
    }

    #[tokio::test]
    async fn an_ended_session_is_destroyed_on_request() {
        let switch = switch("call-session-destroy").await;
        let session = switch
            .start_call_session(new("Local/talk@t", "Local/talk@t"))
            .expect("started");
        for _ in 0..100 {
            if session.progress().connected_at.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(session.progress().connected_at.is_some(), "connected");
        switch.end_call_session(&session.id).expect("destroyed");
        let record = ended(&switch, &session.id).await;
        // Destroyed after the two talked: it connected.
        assert_eq!(record.outcome, "connected");
        assert_eq!(record.cause, "NORMAL_CLEARING");
        switch.shutdown().await;
    }
}
