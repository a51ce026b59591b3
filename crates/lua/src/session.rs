//! `session`: one channel as a script drives it, with FreeSWITCH's methods and
//! semantics (mod_lua's `Session` over `CoreSession`).
//!
//! A method that waits (playing, collecting, recording, sleeping) races the channel's
//! hangup. Once the channel is gone the hangup hook runs at the script's next session
//! call, as FreeSWITCH runs it; a call that would wait on a gone channel ends the
//! script there.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mlua::{Lua, UserData, UserDataMethods, UserDataRef, Value};
use switchboard_core::recording::{IfExists, RecordDirection, RecordOptions, TerminateOn};
use switchboard_core::{
    CallerId, Cause, Channel, ChannelState, CollectDigits, CollectStatus, Collected, ControlError,
    MediaTarget, Next, PlayAndCollect, Switch, Transfer,
};

use crate::event::Event;
use crate::input::{self, Ended as InputEnded};
use crate::script::{cause_named, context};

/// Ends a script quietly: its channel is gone, or its hangup hook said `exit`.
#[derive(Debug)]
pub(crate) struct Ended(pub String);

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Ended {}

pub(crate) fn ended(why: &str) -> mlua::Error {
    mlua::Error::external(Ended(why.to_owned()))
}

/// Whether a script's error is a quiet end rather than a failure.
pub(crate) fn is_end(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } => is_end(cause),
        mlua::Error::WithContext { cause, .. } => is_end(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<Ended>().is_some(),
        _ => false,
    }
}

/// A Lua function (or the name of a global one) and the name of the global passed to it.
#[derive(Clone)]
struct Callback {
    function: Value,
    arg: Option<String>,
}

impl Callback {
    fn new(function: Value, arg: Option<String>) -> Option<Self> {
        matches!(function, Value::Function(_) | Value::String(_)).then_some(Self {
            function,
            arg: arg.filter(|a| !a.is_empty()),
        })
    }

    /// Calls it as FreeSWITCH does: `(session, kind, data, arg)`, `arg` being the value
    /// of the global of that name. Gives what it returned, as text.
    async fn call(
        &self,
        lua: &Lua,
        session: &Session,
        kind: &str,
        data: Value,
    ) -> mlua::Result<Option<String>> {
        let function: mlua::Function = match &self.function {
            Value::Function(f) => f.clone(),
            Value::String(name) => lua.globals().get(name.to_str()?.to_string())?,
            _ => return Ok(None),
        };
        let arg = match &self.arg {
            Some(name) => match lua.globals().get::<Value>(name.as_str())? {
                Value::Nil => Value::String(lua.create_string(name)?),
                value => value,
            },
            None => Value::Nil,
        };
        let me = lua.create_userdata(session.clone())?;
        let result: Value = match data {
            Value::Nil => function.call_async((me, kind, arg)).await?,
            data => function.call_async((me, kind, data, arg)).await?,
        };
        Ok(match result {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Boolean(b) => Some(b.to_string()),
            Value::Nil => None,
            other => Some(other.to_string()?),
        })
    }
}

struct State {
    input: Option<Callback>,
    hook: Option<Callback>,
    hook_ran: bool,
    auto_hangup: bool,
    /// `session:transfer` sent the channel elsewhere: it is no longer the script's.
    transferred: bool,
    /// Where the script's own channel goes when the script ends (its transfer, or an
    /// application's): FreeSWITCH lets the script run to its end first.
    goto: Option<Next>,
}

struct Inner {
    switch: Switch,
    channel: Mutex<Option<Arc<Channel>>>,
    /// Why an outbound session never got a channel.
    failed: Mutex<Option<Cause>>,
    /// The channel the script was started on (the dialplan's): its end is the
    /// dialplan's business; other sessions are hung up when the script drops them.
    attached: bool,
    state: Mutex<State>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = lock(&self.state);
        // A channel the script sent elsewhere (transfer) is the dialplan's now.
        if self.attached || !state.auto_hangup || state.transferred {
            return;
        }
        if let Some(channel) = lock(&self.channel).as_ref() {
            if channel.status().hangup.is_none() {
                self.switch.hangup(&channel.id, Cause::NORMAL_CLEARING);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone)]
pub(crate) struct Session(Arc<Inner>);

impl Session {
    fn new(switch: Switch, channel: Option<Arc<Channel>>, attached: bool) -> Self {
        Self(Arc::new(Inner {
            switch,
            channel: Mutex::new(channel),
            failed: Mutex::new(None),
            attached,
            state: Mutex::new(State {
                input: None,
                hook: None,
                hook_ran: false,
                auto_hangup: true,
                transferred: false,
                goto: None,
            }),
        }))
    }

    /// The session of the channel a script was started on.
    pub(crate) fn attached(switch: Switch, channel: Arc<Channel>) -> Self {
        Self::new(switch, Some(channel), true)
    }

    /// A session with no channel yet (`freeswitch.Session()`), for `originate`.
    pub(crate) fn empty(switch: Switch) -> Self {
        Self::new(switch, None, false)
    }

    /// Calls `dialstring` (FreeSWITCH forms and lists) and waits for an answer; a
    /// session without a channel when nobody answered, its `hangupCause` saying why.
    pub(crate) async fn originate(
        switch: Switch,
        dialstring: &str,
        caller: Option<CallerId>,
        timeout: Option<Duration>,
    ) -> Self {
        let session = Self::new(switch.clone(), None, false);
        session.dial(dialstring, caller, timeout).await;
        session
    }

    async fn dial(&self, dialstring: &str, caller: Option<CallerId>, timeout: Option<Duration>) {
        let caller = caller.unwrap_or_default();
        match switchboard_commands::dial::call(&self.0.switch, dialstring, caller, timeout).await {
            Ok(channel) => *lock(&self.0.channel) = Some(channel),
            Err(cause) => {
                tracing::info!(dialstring, cause = cause.name(), "Lua session: no answer");
                *lock(&self.0.failed) = Some(cause);
            }
        }
    }

    pub(crate) fn channel(&self) -> Option<Arc<Channel>> {
        lock(&self.0.channel).clone()
    }

    pub(crate) fn switch(&self) -> &Switch {
        &self.0.switch
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.0.state)
    }

    pub(crate) fn caller_id(&self) -> Option<CallerId> {
        self.channel().map(|c| c.caller())
    }

    /// The channel while it is up and still the script's (not hung up, not transferred).
    fn ready_channel(&self) -> Option<Arc<Channel>> {
        self.channel()
            .filter(|c| c.status().hangup.is_none() && !self.state().transferred)
    }

    fn ready(&self) -> bool {
        self.ready_channel().is_some()
    }

    /// At the script's end: what its channel does next (a transfer's target; a hangup
    /// when auto hangup is on; else the next priority). Callbacks are let go with the
    /// script's state.
    pub(crate) fn finish(&self) -> Next {
        let mut state = self.state();
        state.input = None;
        state.hook = None;
        if let Some(goto) = state.goto.take() {
            return goto;
        }
        let up = self.channel().is_some_and(|c| c.status().hangup.is_none());
        if state.auto_hangup && up {
            Next::Hangup(Cause::NORMAL_CLEARING)
        } else {
            Next::Continue
        }
    }

    /// Sends the channel to `next`: at the script's end for the script's own channel,
    /// at once for others.
    fn move_to(&self, next: Next) -> bool {
        let Some(channel) = self.channel() else {
            return false;
        };
        if self.0.attached {
            let mut state = self.state();
            state.transferred = true;
            state.goto = Some(next);
            return true;
        }
        let Next::Goto {
            context,
            exten,
            priority,
        } = next
        else {
            return false;
        };
        let to = Transfer {
            context: Some(context),
            priority: Some(priority),
            ..Transfer::to(exten)
        };
        match self.switch().transfer(&channel.id, to) {
            Ok(()) => {
                self.state().transferred = true;
                true
            }
            Err(e) => {
                tracing::info!(channel = %channel.name, "Lua transfer: {e}");
                false
            }
        }
    }

    /// Runs the hangup hook once the channel is gone (or transferred), as FreeSWITCH
    /// does at the next session call; `exit`/`die` from it ends the script.
    async fn check_hook(&self, lua: &Lua) -> mlua::Result<()> {
        let (hook, status) = {
            let mut state = self.state();
            let gone = self.channel().is_none_or(|c| c.status().hangup.is_some());
            let status = if state.transferred {
                "transfer"
            } else if gone {
                "hangup"
            } else {
                return Ok(());
            };
            if state.hook_ran {
                return Ok(());
            }
            let Some(hook) = state.hook.clone() else {
                return Ok(());
            };
            state.hook_ran = true;
            (hook, status)
        };
        let said = hook.call(lua, self, status, Value::Nil).await?;
        if let Some(said) = said {
            if let Some(channel) = self.channel() {
                // The channel may be gone already: then there is nowhere to keep it.
                let _ = self
                    .switch()
                    .set_var(&channel.id, "lua_hangup_hook_return_val", &said);
            }
            if said.eq_ignore_ascii_case("exit") || said.eq_ignore_ascii_case("die") {
                return Err(ended(&format!("hangup hook returned {said}")));
            }
        }
        Ok(())
    }

    /// The channel, for a call that waits on it: gone (or not ours any more) ends the
    /// script, after the hangup hook.
    async fn live(&self, lua: &Lua) -> mlua::Result<Arc<Channel>> {
        self.check_hook(lua).await?;
        self.ready_channel()
            .ok_or_else(|| ended("session is not ready"))
    }

    /// After a call that waited: the script's budget starts anew; a hangup meanwhile
    /// runs the hook.
    async fn after(&self, lua: &Lua) -> mlua::Result<()> {
        context(lua)?.waited();
        self.check_hook(lua).await
    }

    /// Calls the input callback for a digit; `None` without a callback.
    pub(crate) async fn on_digit(
        &self,
        lua: &Lua,
        digit: char,
    ) -> mlua::Result<Option<Option<String>>> {
        let Some(callback) = self.state().input.clone() else {
            return Ok(None);
        };
        let data = lua.create_table()?;
        data.set("digit", digit.to_string())?;
        // FreeSWITCH reports the duration in samples; the core's queue keeps digits only,
        // so this is FreeSWITCH's default length (250 ms at 8 kHz).
        data.set("duration", 2000)?;
        callback
            .call(lua, self, "dtmf", Value::Table(data))
            .await
            .map(Some)
    }

    pub(crate) fn has_input_callback(&self) -> bool {
        self.state().input.is_some()
    }

    pub(crate) async fn bridge_with(&self, other: &Session) -> mlua::Result<()> {
        let (Some(a), Some(b)) = (self.channel(), other.channel()) else {
            return Err(mlua::Error::runtime("bridge: a session has no channel"));
        };
        self.switch()
            .connect(&a.id, &b.id)
            .map_err(|e| mlua::Error::runtime(format!("bridge: {e}")))?;
        // As FreeSWITCH's bridge, this returns when either side hangs up.
        tokio::select! {
            _ = a.hung_up() => {}
            _ = b.hung_up() => {}
        }
        Ok(())
    }

    /// Plays `media` (with the input callback); `true` when it played to its end.
    async fn play(&self, lua: &Lua, media: Vec<String>, offset_ms: u64) -> mlua::Result<bool> {
        let channel = self.live(lua).await?;
        let end = input::play(self, lua, &channel, media, offset_ms).await?;
        self.after(lua).await?;
        Ok(end == InputEnded::Finished)
    }

    fn set_var(&self, name: &str, value: &str) {
        if let Some(channel) = self.channel() {
            let result = if value.is_empty() {
                self.switch().unset_var(&channel.id, name)
            } else {
                self.switch().set_var(&channel.id, name, value)
            };
            if let Err(e) = result {
                tracing::info!(channel = %channel.name, "Lua setVariable {name}: {e}");
            }
        }
    }

    /// Goes to `exten` in `context` (the channel's own when none): `session:transfer`,
    /// `transfer_on_failure`.
    fn transfer_to(&self, exten: &str, context: Option<&str>) -> bool {
        let Some(channel) = self.channel() else {
            return false;
        };
        let context = context
            .filter(|c| !c.is_empty())
            .map_or_else(|| channel.context(), str::to_owned);
        self.move_to(Next::Goto {
            context,
            exten: exten.to_owned(),
            priority: 1,
        })
    }

    async fn execute(&self, lua: &Lua, app: &str, data: &str) -> mlua::Result<()> {
        let channel = self.live(lua).await?;
        let switch = self.switch().clone();
        let position = |c: &Channel| (c.context(), c.var("EXTEN"), c.var("PRIORITY"));
        let before = position(&channel);
        match switch.execute_application(&channel.id, app, data).await {
            // The application moved the dialplan position itself (ARI `continue` with
            // a location sets the step before it, as the dialplan steps on after
            // Stasis()): the call goes there when the script ends.
            Ok(Next::Continue) if position(&channel) != before => {
                let (context, exten, priority) = position(&channel);
                let priority: usize = priority.and_then(|p| p.parse().ok()).unwrap_or(0);
                self.move_to(Next::Goto {
                    context,
                    exten: exten.unwrap_or_default(),
                    priority: priority + 1,
                });
            }
            // The application moved the call (`transfer`, ARI `continue` to an
            // extension): the dialplan takes it there.
            Ok(goto @ Next::Goto { .. }) => {
                self.move_to(goto);
            }
            Ok(Next::Hangup(cause)) => switch.hangup(&channel.id, cause),
            Ok(Next::Continue) => {}
            Err(e) => tracing::warn!(channel = %channel.name, "Lua execute {app}: {e}"),
        }
        self.after(lua).await
    }

    /// Digits gathered by `gather` (a collection, with or without a prompt) on the live
    /// channel; the terminator that ended it goes to `read_terminator_used`, as
    /// FreeSWITCH keeps it.
    async fn digits<F, Fut>(&self, lua: &Lua, gather: F) -> mlua::Result<Collected>
    where
        F: FnOnce(Switch, String) -> Fut,
        Fut: std::future::Future<Output = Result<Collected, ControlError>>,
    {
        let channel = self.live(lua).await?;
        let got = gather(self.switch().clone(), channel.id.clone())
            .await
            .map_err(|e| mlua::Error::runtime(e.to_string()))?;
        self.set_var(
            "read_terminator_used",
            &got.terminator.map(String::from).unwrap_or_default(),
        );
        self.after(lua).await?;
        Ok(got)
    }

    async fn record(
        &self,
        lua: &Lua,
        file: &str,
        limit: u32,
        threshold: u32,
        silence: u32,
    ) -> mlua::Result<bool> {
        let channel = self.live(lua).await?;
        let (name, format) = match file.rsplit_once('.') {
            Some((name, ext)) if !ext.contains('/') => (name, ext),
            _ => (file, "wav"),
        };
        let options = RecordOptions {
            name: name.to_owned(),
            format: format.to_owned(),
            max_duration_seconds: limit,
            max_silence_seconds: silence,
            silence_level: (threshold > 0).then_some(threshold),
            if_exists: IfExists::Overwrite,
            beep: false,
            terminate_on: TerminateOn::None,
            direction: RecordDirection::In,
        };
        let recording = self
            .switch()
            .record(MediaTarget::Channel(channel.id.clone()), options)
            .map_err(|e| mlua::Error::runtime(format!("recordFile {file}: {e}")))?;
        let end = input::record(self, lua, &channel, &recording).await?;
        self.after(lua).await?;
        Ok(end == InputEnded::Finished)
    }

    async fn speak(&self, lua: &Lua, text: &str) -> mlua::Result<bool> {
        let Some(command) = self.switch().config().lua.tts_command.clone() else {
            return Err(mlua::Error::runtime(
                "speak: no text-to-speech command is configured ([lua] tts_command)",
            ));
        };
        let channel = self.live(lua).await?;
        let file =
            std::env::temp_dir().join(format!("switchboard-tts-{}.wav", uuid_like(&channel.id)));
        let status = crate::input::run_tts(&command, text, &file).await;
        let played = match status {
            Ok(()) => self.play(lua, vec![file.display().to_string()], 0).await,
            Err(e) => Err(mlua::Error::runtime(format!("speak: {e}"))),
        };
        let _ = std::fs::remove_file(&file);
        played
    }
}

/// A file-name-safe form of a channel id.
fn uuid_like(id: &str) -> String {
    id.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// FreeSWITCH's `say` types and methods as the core's spoken media.
fn say_media(text: &str, kind: &str, method: &str) -> Option<String> {
    let kind = kind.to_ascii_lowercase();
    let method = method.to_ascii_lowercase();
    let scheme = match kind.as_str() {
        "number" | "items" | "persons" | "messages" if method == "iterated" => "digits",
        "number" | "items" | "persons" | "messages" | "currency" => "number",
        "telephone_number" | "telephone_extension" | "account_number" | "digits" => "digits",
        "name_spelled" | "email_address" | "url" | "ip_address" | "postal_address" => "characters",
        "current_date" => "date",
        "current_time" => "time",
        "current_date_time" | "short_date_time" => "datetime",
        _ => return None,
    };
    let text = match scheme {
        "date" | "time" | "datetime" if text.trim().is_empty() => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string(),
        _ => text.trim().to_owned(),
    };
    Some(format!("{scheme}:{text}"))
}

fn int(value: Option<i64>) -> u64 {
    value.unwrap_or(0).max(0).unsigned_abs()
}

fn millis(value: Option<i64>) -> Option<Duration> {
    value
        .filter(|&ms| ms > 0)
        .map(|ms| Duration::from_millis(ms.unsigned_abs()))
}

type Ref = UserDataRef<Session>;

impl UserData for Session {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_async_method("answer", |lua, this: Ref, ()| async move {
            let channel = this.live(&lua).await?;
            if channel.state() != ChannelState::Up {
                if let Err(e) = this.switch().answer(&channel.id) {
                    tracing::info!(channel = %channel.name, "Lua answer: {e}");
                    return Ok(0);
                }
            }
            Ok(1)
        });
        methods.add_async_method("preAnswer", |lua, this: Ref, ()| async move {
            let channel = this.live(&lua).await?;
            Ok(i32::from(this.switch().progress(&channel.id).is_ok()))
        });
        methods.add_async_method("ready", |lua, this: Ref, ()| async move {
            let ready = this.ready();
            this.check_hook(&lua).await?;
            Ok(ready)
        });
        methods.add_method("answered", |_, this, ()| {
            Ok(this
                .channel()
                .is_some_and(|c| c.state() == ChannelState::Up))
        });
        methods.add_method("bridged", |_, this, ()| {
            Ok(this.channel().is_some_and(|c| c.bridge_id().is_some()))
        });
        methods.add_method("mediaReady", |_, this, ()| {
            Ok(this.channel().is_some_and(|c| {
                let status = c.status();
                status.hangup.is_none() && (status.state == ChannelState::Up || status.early_media)
            }))
        });
        methods.add_async_method(
            "hangup",
            |lua, this: Ref, cause: Option<String>| async move {
                if let Some(channel) = this.channel() {
                    if channel.status().hangup.is_none() {
                        this.switch()
                            .hangup(&channel.id, cause_named(cause.as_deref()));
                    }
                }
                this.check_hook(&lua).await
            },
        );
        methods.add_method("hangupCause", |_, this, ()| {
            let cause = match this.channel() {
                Some(channel) => channel.status().hangup,
                None => *lock(&this.0.failed),
            };
            Ok(cause.map_or("NONE", Cause::name))
        });
        methods.add_async_method("hangupState", |lua, this: Ref, ()| async move {
            this.check_hook(&lua).await
        });
        methods.add_method("getState", |_, this, ()| {
            Ok(this.channel().map_or("ERROR", |c| c.freeswitch_state()))
        });
        methods.add_method("get_uuid", |_, this, ()| {
            Ok(this.channel().map(|c| c.id.clone()).unwrap_or_default())
        });
        methods.add_method("getVariable", |_, this, name: String| {
            Ok(this.channel().and_then(|c| this.switch().var(&c, &name)))
        });
        methods.add_method(
            "setVariable",
            |_, this, (name, value): (String, Option<String>)| {
                this.set_var(&name, value.as_deref().unwrap_or(""));
                Ok(())
            },
        );
        methods.add_method(
            "consoleLog",
            |_, this, (level, text): (String, mlua::String)| {
                let name = this.channel().map(|c| c.name.clone());
                crate::freeswitch::log(&level, &text.to_string_lossy(), name.as_deref());
                Ok(())
            },
        );
        methods.add_async_method(
            "streamFile",
            |lua, this: Ref, (file, sample): (String, Option<i64>)| async move {
                // Samples at 8 kHz, FreeSWITCH's narrowband rate.
                let played = this.play(&lua, vec![file], int(sample) / 8).await?;
                Ok(i32::from(played))
            },
        );
        methods.add_async_method(
            "sleep",
            |lua, this: Ref, (ms, _sync): (i64, Option<i64>)| async move {
                let channel = this.live(&lua).await?;
                let wait = Duration::from_millis(int(Some(ms)));
                let end = input::sleep(&this, &lua, &channel, wait).await?;
                this.after(&lua).await?;
                Ok(i32::from(end == InputEnded::Finished))
            },
        );
        methods.add_async_method(
            "say",
            |lua,
             this: Ref,
             (text, _lang, kind, method, _gender): (
                String,
                Option<String>,
                String,
                Option<String>,
                Option<String>,
            )| async move {
                let Some(media) =
                    say_media(&text, &kind, method.as_deref().unwrap_or("pronounced"))
                else {
                    tracing::warn!("Lua say: type {kind:?} is not supported");
                    return Ok(());
                };
                this.play(&lua, vec![media], 0).await?;
                Ok(())
            },
        );
        methods.add_async_method(
            "sayPhrase",
            |lua, this: Ref, (phrase, data, _lang): (String, Option<String>, Option<String>)| async move {
                // Phrase macros are recordings named after the macro, followed by the
                // data read out as digits (what the stock `voicemail_*` macros do).
                let mut media = vec![format!("sound:{phrase}")];
                media.extend(data.filter(|d| !d.is_empty()).map(|d| format!("digits:{d}")));
                this.play(&lua, media, 0).await?;
                Ok(())
            },
        );
        // Accepted for FreeSWITCH scripts; the engine and voice are the configured
        // `tts_command`'s.
        methods.add_method(
            "set_tts_params",
            |_, _, (_engine, _voice): (String, String)| Ok(()),
        );
        methods.add_async_method("speak", |lua, this: Ref, text: String| async move {
            Ok(i32::from(this.speak(&lua, &text).await?))
        });
        methods.add_async_method(
            "getDigits",
            |lua,
             this: Ref,
             (max, terminators, timeout, interdigit, _abs): (
                i64,
                Option<String>,
                i64,
                Option<i64>,
                Option<i64>,
            )| async move {
                let request = CollectDigits {
                    max: usize::try_from(max.max(1)).unwrap_or(1),
                    min: 0,
                    terminators: terminators.unwrap_or_default(),
                    first_timeout: millis(Some(timeout)),
                    inter_digit_timeout: millis(interdigit),
                };
                let got = this
                    .digits(&lua, |switch, id| async move {
                        switch.collect_digits(&id, request).await
                    })
                    .await?;
                Ok(got.digits)
            },
        );
        methods.add_async_method(
            "read",
            |lua, this: Ref, (min, max, file, timeout, terminators): (i64, i64, String, i64, Option<String>)| async move {
                let request = PlayAndCollect {
                    prompt: vec![file],
                    invalid: None,
                    min: usize::try_from(min.max(0)).unwrap_or(0),
                    max: usize::try_from(max.max(1)).unwrap_or(1),
                    tries: 1,
                    timeout: millis(Some(timeout)).unwrap_or(Duration::from_secs(5)),
                    terminators: terminators.unwrap_or_default(),
                    regex: None,
                    variable: None,
                    digit_timeout: None,
                };
                let Collected { digits, status, .. } = this
                    .digits(&lua, |switch, id| async move {
                        switch.play_and_collect(&id, request).await
                    })
                    .await?;
                let result = match status {
                    CollectStatus::Ok => "success",
                    CollectStatus::Timeout => "timeout",
                    _ => "failure",
                };
                this.set_var("read_result", result);
                Ok(digits)
            },
        );
        methods.add_async_method("playAndGetDigits", |lua, this: Ref, args: mlua::MultiValue| async move {
            let args: Vec<Value> = args.into_iter().collect();
            let text = |i: usize| match args.get(i) {
                Some(Value::String(s)) => Some(s.to_string_lossy()),
                Some(Value::Integer(n)) => Some(n.to_string()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
            .filter(|s| !s.is_empty());
            let number = |i: usize| text(i).and_then(|t| t.parse::<f64>().ok()).map(|n| n as i64);
            let (Some(min), Some(max), Some(tries), Some(timeout)) =
                (number(0), number(1), number(2), number(3))
            else {
                return Err(mlua::Error::runtime(
                    "playAndGetDigits(min, max, tries, timeout, terminators, prompt, invalid, regex[, var, digit_timeout, transfer_on_failure])",
                ));
            };
            let request = PlayAndCollect {
                prompt: text(5).into_iter().collect(),
                invalid: text(6),
                min: usize::try_from(min.max(0)).unwrap_or(0),
                max: usize::try_from(max.max(1)).unwrap_or(1),
                tries: u32::try_from(tries.max(1)).unwrap_or(1),
                timeout: millis(Some(timeout)).unwrap_or(Duration::from_secs(5)),
                terminators: text(4).unwrap_or_default(),
                regex: text(7),
                variable: text(8),
                digit_timeout: millis(number(9)),
            };
            let Collected { digits, status, .. } = this
                    .digits(&lua, |switch, id| async move {
                        switch.play_and_collect(&id, request).await
                    })
                    .await?;
            if status != CollectStatus::Ok {
                if let Some(target) = text(10) {
                    let mut parts = target.split_whitespace();
                    if let Some(exten) = parts.next() {
                        let _dialplan = parts.next();
                        this.transfer_to(exten, parts.next());
                    }
                }
            }
            Ok(digits)
        });
        methods.add_async_method(
            "collectDigits",
            |lua, this: Ref, (first, second): (i64, Option<i64>)| async move {
                // collectDigits(abs_timeout) or collectDigits(digit_timeout, abs_timeout).
                let (digit_timeout, total) = match second {
                    Some(total) => (millis(Some(first)), int(Some(total))),
                    None => (None, int(Some(first))),
                };
                let channel = this.live(&lua).await?;
                input::collect(
                    &this,
                    &lua,
                    &channel,
                    digit_timeout,
                    Duration::from_millis(total),
                )
                .await?;
                this.after(&lua).await?;
                Ok(1)
            },
        );
        methods.add_method("flushDigits", |_, this, ()| {
            if let Some(channel) = this.channel() {
                let _ = this.switch().flush_digits(&channel.id);
            }
            Ok(1)
        });
        // Events for the session go to its input callback as they come; none wait.
        methods.add_method("flushEvents", |_, _, ()| Ok(1));
        methods.add_async_method(
            "recordFile",
            |lua, this: Ref, (file, limit, threshold, silence): (String, Option<i64>, Option<i64>, Option<i64>)| async move {
                let to_u32 = |v: Option<i64>| u32::try_from(v.unwrap_or(0).max(0)).unwrap_or(u32::MAX);
                let ended = this.record(&lua, &file, to_u32(limit), to_u32(threshold), to_u32(silence)).await?;
                Ok(i32::from(ended))
            },
        );
        methods.add_method(
            "setInputCallback",
            |_, this, (function, arg): (Value, Option<String>)| {
                this.state().input = Callback::new(function, arg);
                Ok(())
            },
        );
        methods.add_method("unsetInputCallback", |_, this, ()| {
            this.state().input = None;
            Ok(())
        });
        methods.add_method(
            "setHangupHook",
            |_, this, (function, arg): (Value, Option<String>)| {
                let mut state = this.state();
                state.hook = Callback::new(function, arg);
                state.hook_ran = false;
                Ok(())
            },
        );
        methods.add_async_method("check_hangup_hook", |lua, this: Ref, ()| async move {
            this.check_hook(&lua).await
        });
        methods.add_method("setAutoHangup", |_, this, on: bool| {
            this.state().auto_hangup = on;
            Ok(1)
        });
        methods.add_method(
            "transfer",
            |_, this, (exten, _dialplan, context): (String, Option<String>, Option<String>)| {
                Ok(i32::from(this.transfer_to(&exten, context.as_deref())))
            },
        );
        methods.add_async_method(
            "execute",
            |lua, this: Ref, (app, data): (String, Option<String>)| async move {
                this.execute(&lua, &app, data.as_deref().unwrap_or(""))
                    .await
            },
        );
        methods.add_async_method("executeString", |lua, this: Ref, line: String| async move {
            let line = line.trim();
            let (app, data) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            this.execute(&lua, app, data.trim()).await
        });
        methods.add_method("sendEvent", |lua, this, event: UserDataRef<Event>| {
            let mut event = event.0.clone();
            if let Some(channel) = this.channel() {
                let snapshot = this.switch().snapshot(&channel);
                event.add_channel(&snapshot);
            }
            crate::event::fire(&context(lua)?.switch, event);
            Ok(())
        });
        methods.add_method(
            "insertFile",
            |_, this, (file, insert, sample): (String, String, i64)| {
                let resolve = |name: &str| {
                    this.switch()
                        .find_sound(name, "en")
                        .unwrap_or_else(|| std::path::PathBuf::from(name))
                };
                crate::wav::insert(&resolve(&file), &resolve(&insert), int(Some(sample)))
                    .map(|()| 1)
                    .map_err(|e| mlua::Error::runtime(format!("insertFile: {e}")))
            },
        );
        methods.add_async_method(
            "waitForAnswer",
            |lua, this: Ref, _calling: Option<Value>| async move {
                if let Some(channel) = this.channel() {
                    let mut status = channel.subscribe();
                    let _ = status
                        .wait_for(|s| s.state == ChannelState::Up || s.hangup.is_some())
                        .await;
                }
                this.after(&lua).await
            },
        );
        // Deprecated: originate(a_leg, dialstring[, timeout_s]) on a new session.
        methods.add_async_method(
            "originate",
            |lua, this: Ref, (a_leg, dialstring, timeout): (Option<Ref>, String, Option<i64>)| async move {
                let caller = a_leg.as_ref().and_then(|s| s.caller_id());
                drop(a_leg);
                let timeout = timeout.filter(|&t| t > 0).map(|t| Duration::from_secs(t.unsigned_abs()));
                this.dial(&dialstring, caller, timeout).await;
                context(&lua)?.waited();
                Ok(i32::from(this.channel().is_some()))
            },
        );
        methods.add_method("destroy", |_, this, why: Option<String>| {
            if let Some(channel) = this.channel() {
                if channel.status().hangup.is_none() && this.state().auto_hangup {
                    this.switch().hangup(&channel.id, Cause::NORMAL_CLEARING);
                }
            }
            match why {
                Some(why) if !why.is_empty() => Err(ended(&format!("destroyed: {why}"))),
                _ => Ok(()),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_types() {
        assert_eq!(
            say_media("1234", "number", "pronounced").as_deref(),
            Some("number:1234")
        );
        assert_eq!(
            say_media("1234", "NUMBER", "iterated").as_deref(),
            Some("digits:1234")
        );
        assert_eq!(
            say_media("5551", "telephone_number", "").as_deref(),
            Some("digits:5551")
        );
        assert_eq!(
            say_media("ab", "name_spelled", "").as_deref(),
            Some("characters:ab")
        );
        assert_eq!(
            say_media("86400", "current_date", "").as_deref(),
            Some("date:86400")
        );
        assert_eq!(say_media("x", "bogus", ""), None);
    }
}
