//! The application registry and the dialplan runner.
//!
//! Every dialplan application is registered once, as FreeSWITCH modules register
//! theirs: name, aliases, syntax, description and a handler over the core's public API.
//! The dialplan, ARI's continue and (later) Lua's `session:execute` and
//! `show application` look it up; a face registers its own (ARI's `Stasis`), so the
//! core never depends upward. A channel runs one thing at a time: hangup, `Transfer`
//! and `Break` reach it at its next await point.

mod basic;
mod conf;
mod dialing;
mod interrupt;
mod media;
mod record;
mod spy;
mod stasis;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use crate::cause::Cause;
use crate::channel::Channel;
use crate::dialplan::Step;
use crate::events::EventKind;
use crate::switch::{ControlError, Switch};

use interrupt::Interrupt;
pub(crate) use interrupt::Interrupts;
pub use interrupt::Transfer;

/// What an application asks the dialplan to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The next priority.
    Continue,
    Goto {
        context: String,
        exten: String,
        priority: usize,
    },
    Hangup(Cause),
}

/// A running application: what its handler returns.
pub type AppFuture = Pin<Box<dyn Future<Output = Next> + Send>>;

/// An application's behaviour: the switch, the channel it runs on, its argument text
/// (variables already expanded).
pub type AppHandler = Arc<dyn Fn(Switch, Arc<Channel>, String) -> AppFuture + Send + Sync>;

/// One registered dialplan application.
#[derive(Clone)]
pub struct Application {
    /// As Asterisk spells it (`Playback`); looked up ignoring case.
    pub name: String,
    /// Other names for the same behaviour, e.g. FreeSWITCH's (`bridge` for `Dial`).
    pub aliases: Vec<String>,
    /// One line, as `core show applications` prints it.
    pub description: String,
    /// The argument syntax, e.g. `Wait(seconds)`.
    pub syntax: String,
    pub handler: AppHandler,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("name", &self.name)
            .field("aliases", &self.aliases)
            .field("syntax", &self.syntax)
            .finish_non_exhaustive()
    }
}

impl Application {
    pub fn new<F, Fut>(name: &str, syntax: &str, description: &str, handler: F) -> Self
    where
        F: Fn(Switch, Arc<Channel>, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Next> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            aliases: Vec::new(),
            description: description.to_owned(),
            syntax: syntax.to_owned(),
            handler: Arc::new(move |switch, channel, args| {
                Box::pin(handler(switch, channel, args))
            }),
        }
    }

    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_owned());
        self
    }

    fn names(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(&self.name)
            .chain(&self.aliases)
            .map(|n| n.to_ascii_lowercase())
    }
}

/// The applications by lower-case name and alias.
#[derive(Default)]
pub(crate) struct Registry {
    apps: RwLock<BTreeMap<String, Arc<Application>>>,
}

impl Registry {
    /// The core's own applications.
    pub(crate) fn builtin() -> Self {
        let registry = Self::default();
        for app in basic::applications()
            .into_iter()
            .chain(media::applications())
            .chain(record::applications())
            .chain(conf::applications())
            .chain(spy::applications())
            .chain(dialing::applications())
        {
            if let Err(e) = registry.register(app) {
                tracing::error!(error = %e, "built-in application not registered");
            }
        }
        registry
    }

    /// Adds `app`, replacing an application of the same name; refused when one of its
    /// names is another application's.
    fn register(&self, app: Application) -> Result<(), ControlError> {
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        let same = |other: &Application| other.name.eq_ignore_ascii_case(&app.name);
        if let Some(taken) = app
            .names()
            .find(|n| apps.get(n).is_some_and(|other| !same(other)))
        {
            return Err(ControlError::Conflict(format!(
                "application name {taken:?} is already registered"
            )));
        }
        apps.retain(|_, other| !same(other));
        let app = Arc::new(app);
        for name in app.names() {
            apps.insert(name, app.clone());
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<Arc<Application>> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        apps.get(&name.to_ascii_lowercase()).cloned()
    }

    fn all(&self) -> Vec<Arc<Application>> {
        let apps = self.apps.read().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<_> = apps
            .iter()
            .filter(|(key, app)| app.name.eq_ignore_ascii_case(key))
            .map(|(_, app)| app.clone())
            .collect();
        list.sort_by_key(|app| app.name.to_ascii_lowercase());
        list
    }
}

impl Switch {
    /// Registers a face's application (ARI's `Stasis`, a future `Lua`).
    pub fn register_application(&self, app: Application) -> Result<(), ControlError> {
        self.app_registry().register(app)
    }

    /// The application called `name` or aliased so, ignoring case.
    pub fn application(&self, name: &str) -> Option<Arc<Application>> {
        self.app_registry().get(name)
    }

    /// Every application once, by name (`show application`).
    pub fn applications(&self) -> Vec<Arc<Application>> {
        self.app_registry().all()
    }

    /// Runs one application on a channel (ARI continue, Lua's `session:execute`) and
    /// says where a dialplan would go next. Ends early on hangup (`Next::Hangup`) or on
    /// a `Transfer`/`Break` (as the dialplan would: `Goto` the target, `Continue`).
    pub async fn execute_application(
        &self,
        channel_id: &str,
        name: &str,
        args: &str,
    ) -> Result<Next, ControlError> {
        let channel = self.channel(channel_id)?;
        let app = self
            .application(name)
            .ok_or_else(|| ControlError::Invalid(format!("no application {name:?}")))?;
        let running = (app.handler)(self.clone(), channel.clone(), args.to_owned());
        Ok(tokio::select! {
            biased;
            cause = channel.hung_up() => Next::Hangup(cause),
            interrupt = channel.interrupts.recv() => interrupt.next(&channel),
            next = running => next,
        })
    }

    /// Stops what the channel runs and continues its dialplan at the target
    /// (FreeSWITCH `uuid_transfer`). A channel in Stasis leaves it (StasisEnd); one in
    /// Stasis with no dialplan behind it (originated into an application) starts one, as
    /// does a parked channel.
    pub fn transfer(&self, id: &str, transfer: Transfer) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if transfer.exten.is_empty() {
            return Err(ControlError::Invalid("an extension is required".into()));
        }
        if channel.status().hangup.is_some() {
            return Err(ControlError::WrongState("channel is hanging up"));
        }
        let Some(transfer) = channel
            .interrupts
            .post_or_start(Interrupt::Transfer(transfer))
        else {
            return Ok(());
        };
        // Answered, in no bridge and running nothing (originated to `Then::Park`): the
        // transfer starts its dialplan, as FreeSWITCH's uuid_transfer of a parked call.
        let answered = channel.status().state == crate::ChannelState::Up;
        let app = {
            let mut data = channel.data();
            let app = data.stasis.take().map(|(app, _)| app);
            if app.is_none() && !(answered && data.bridge.is_none()) {
                drop(data);
                channel.interrupts.abandon_start();
                return Err(ControlError::WrongState(
                    "channel runs neither the dialplan nor a Stasis application",
                ));
            }
            if let Next::Goto {
                context,
                exten,
                priority,
            } = transfer.next_with(&data.context)
            {
                data.context = context;
                data.exten = exten;
                data.priority = priority;
            }
            app
        };
        // As when Stasis() ends: its digits were the application's.
        channel.digits.flush();
        if let Some(app) = app {
            self.events().publish(id, EventKind::StasisEnd { app });
        }
        tokio::spawn(run_dialplan(self.clone(), channel));
        Ok(())
    }

    /// Stops what the channel runs (its application and dialplan, its bridge) and keeps
    /// it up running nothing, answered, until a transfer or a hangup (FreeSWITCH
    /// `uuid_park`).
    pub fn park(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if channel.status().hangup.is_some() {
            return Err(ControlError::WrongState("channel is hanging up"));
        }
        if let Some(bridge) = channel.bridge_id() {
            self.remove_from_bridge(&bridge, id)?;
        }
        // Nothing running is fine: the channel is parked already.
        channel.interrupts.post(Interrupt::Park);
        if channel.status().state != crate::ChannelState::Up {
            self.answer(id)?;
        }
        Ok(())
    }

    /// Stops the running application (its media, its dialled legs) and continues the
    /// dialplan at the next priority (FreeSWITCH `uuid_break`).
    pub fn break_(&self, id: &str) -> Result<(), ControlError> {
        let channel = self.channel(id)?;
        if !channel.interrupts.post(Interrupt::Break) {
            return Err(ControlError::WrongState(
                "channel is not running the dialplan",
            ));
        }
        Ok(())
    }
}

/// Drops the digits a channel's far end pressed while an application handed them to
/// someone else (Dial's callee, a conference, Echo's own ear), however it ends: they are
/// not for the next application, as FreeSWITCH's bridge consumes them.
pub(super) struct FlushDigitsOnDrop<'a>(pub(super) &'a Channel);

impl Drop for FlushDigitsOnDrop<'_> {
    fn drop(&mut self) {
        self.0.digits.flush();
    }
}

pub(crate) async fn run_dialplan(switch: Switch, channel: Arc<Channel>) {
    let _runner = channel.interrupts.runner();
    let cause = tokio::select! {
        cause = execute(&switch, &channel) => cause,
        _ = channel.hung_up() => return,
    };
    // `None`: parked, so the channel stays up.
    if let Some(cause) = cause {
        switch.hangup(&channel.id, cause);
    }
}

async fn execute(switch: &Switch, channel: &Arc<Channel>) -> Option<Cause> {
    // Bounded, so a `Goto` loop with no waiting in it cannot spin forever.
    for _ in 0..10_000 {
        let (context, exten, priority) = {
            let d = channel.data();
            (d.context.clone(), d.exten.clone(), d.priority)
        };
        let step: Option<Step> = switch
            .dialplan()
            .lookup(&context, &exten)
            .and_then(|steps| steps.get(priority.wrapping_sub(1)).cloned());
        let Some(step) = step else {
            if priority == 1 {
                tracing::info!(channel = %channel.name, %context, %exten, "no such extension");
                return Some(Cause::UNALLOCATED);
            }
            break;
        };
        // Channel variables first, then globals (Asterisk's lookup).
        let args = switch.expand(channel, &step.args);
        switch.events().publish(
            &channel.id,
            EventKind::ChannelDialplan {
                app: step.app.clone(),
                data: args.clone(),
            },
        );
        tracing::debug!(channel = %channel.name, %exten, priority, app = %step.app, %args, "executing");
        let Some(app) = switch.application(&step.app) else {
            tracing::warn!(channel = %channel.name, app = %step.app, "no such application; hanging up");
            return Some(Cause::NORMAL_CLEARING);
        };
        // An interrupt drops the application's future: its guards clean up.
        let next = tokio::select! {
            biased;
            interrupt = channel.interrupts.recv() => {
                tracing::info!(channel = %channel.name, app = %step.app, ?interrupt, "interrupted");
                if interrupt == Interrupt::Park {
                    return None;
                }
                interrupt.next(channel)
            }
            next = (app.handler)(switch.clone(), channel.clone(), args) => next,
        };
        match next {
            Next::Continue => channel.data().priority += 1,
            Next::Goto {
                context,
                exten,
                priority,
            } => {
                let mut d = channel.data();
                d.context = context;
                d.exten = exten;
                d.priority = priority;
            }
            Next::Hangup(cause) => return Some(cause),
        }
    }
    let pending = channel.data().pending_cause;
    Some(pending.unwrap_or(Cause::NORMAL_CLEARING))
}
