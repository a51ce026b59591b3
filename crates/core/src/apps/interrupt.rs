//! Interrupting what a channel runs: `Transfer` (FreeSWITCH `uuid_transfer`, Asterisk's
//! redirect within the dialplan) and `Break` (`uuid_break`). A request is posted to the
//! channel and its dialplan task picks it up at its next await point, dropping the
//! running application (whose guards stop its media and dialled legs).

use std::sync::Mutex;

use tokio::sync::Notify;

use super::Next;
use crate::channel::Channel;

/// Stop what the channel runs and continue the dialplan at `exten@context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub exten: String,
    /// The channel's current context when `None`.
    pub context: Option<String>,
    /// Priority 1 when `None`.
    pub priority: Option<usize>,
}

impl Transfer {
    /// To `exten`, priority 1, in the channel's current context.
    pub fn to(exten: impl Into<String>) -> Self {
        Self {
            exten: exten.into(),
            context: None,
            priority: None,
        }
    }
}

/// A request to the channel's running task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// Stop the running application and go on at the next priority.
    Break,
    Transfer(Transfer),
    /// Stop the application and the dialplan; the channel stays up running nothing
    /// (FreeSWITCH `uuid_park`).
    Park,
}

impl Interrupt {
    /// Where the dialplan goes on after the interrupted application.
    pub(crate) fn next(self, channel: &Channel) -> Next {
        let context = channel.data().context.clone();
        self.next_with(&context)
    }

    /// [`Interrupt::next`] for a channel now in `context`.
    pub(crate) fn next_with(self, context_now: &str) -> Next {
        match self {
            // A face running one application (ARI continue, Lua) gets the channel back.
            Self::Break | Self::Park => Next::Continue,
            Self::Transfer(Transfer {
                exten,
                context,
                priority,
            }) => Next::Goto {
                context: context.unwrap_or_else(|| context_now.to_owned()),
                exten,
                priority: priority.unwrap_or(1).max(1),
            },
        }
    }
}

/// A channel's interrupt mailbox: the latest request wins.
#[derive(Debug, Default)]
pub(crate) struct Interrupts {
    state: Mutex<Mailbox>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Mailbox {
    pending: Option<Interrupt>,
    /// Dialplan tasks running on the channel (0 or 1).
    runners: usize,
    /// A dialplan task has been spawned for the channel and has not started yet.
    starting: bool,
}

impl Interrupts {
    /// Hands `interrupt` to the running (or starting) task; gives it back when there is
    /// none, for the caller to start one. One decision under one lock, so two requests
    /// at once never start two tasks, and none is dropped by a task that is ending.
    pub(crate) fn post_or_start(&self, interrupt: Interrupt) -> Option<Interrupt> {
        let mut mailbox = crate::lock(&self.state);
        if mailbox.runners == 0 && !mailbox.starting {
            mailbox.starting = true;
            return Some(interrupt);
        }
        mailbox.pending = Some(interrupt);
        drop(mailbox);
        self.notify.notify_one();
        None
    }

    /// Posts `interrupt` to a running task; false when none runs.
    pub(crate) fn post(&self, interrupt: Interrupt) -> bool {
        let mut mailbox = crate::lock(&self.state);
        if mailbox.runners == 0 && !mailbox.starting {
            return false;
        }
        mailbox.pending = Some(interrupt);
        drop(mailbox);
        self.notify.notify_one();
        true
    }

    /// A start claimed with [`Interrupts::post_or_start`] that did not happen after all.
    pub(crate) fn abandon_start(&self) {
        crate::lock(&self.state).starting = false;
    }

    /// Resolves with the next request posted.
    pub(crate) async fn recv(&self) -> Interrupt {
        loop {
            let notified = self.notify.notified();
            if let Some(interrupt) = crate::lock(&self.state).pending.take() {
                return interrupt;
            }
            notified.await;
        }
    }

    /// Whether a dialplan task runs on the channel.
    pub(crate) fn running(&self) -> bool {
        let mailbox = crate::lock(&self.state);
        mailbox.runners > 0 || mailbox.starting
    }

    /// Marks a dialplan task running until the returned guard drops.
    pub(crate) fn runner(&self) -> Runner<'_> {
        let mut mailbox = crate::lock(&self.state);
        mailbox.runners += 1;
        mailbox.starting = false;
        Runner(self)
    }
}

pub(crate) struct Runner<'a>(&'a Interrupts);

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        let mut mailbox = crate::lock(&self.0.state);
        mailbox.runners = mailbox.runners.saturating_sub(1);
        // A request nobody took must not interrupt a later task.
        mailbox.pending = None;
    }
}
