//! Interrupting what a channel runs: `Transfer` (FreeSWITCH `uuid_transfer`, Asterisk's
//! redirect within the dialplan) and `Break` (`uuid_break`). A request is posted to the
//! channel and its dialplan task picks it up at its next await point, dropping the
//! running application (whose guards stop its media and dialled legs).

use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A request to the channel's running task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// Stop the running application and go on at the next priority.
    Break,
    Transfer(Transfer),
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
            Self::Break => Next::Continue,
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
    pending: Mutex<Option<Interrupt>>,
    notify: Notify,
    /// Dialplan tasks running on the channel (0 or 1).
    runners: AtomicUsize,
}

impl Interrupts {
    pub(crate) fn post(&self, interrupt: Interrupt) {
        *crate::lock(&self.pending) = Some(interrupt);
        self.notify.notify_one();
    }

    /// Resolves with the next request posted.
    pub(crate) async fn recv(&self) -> Interrupt {
        loop {
            let notified = self.notify.notified();
            if let Some(interrupt) = crate::lock(&self.pending).take() {
                return interrupt;
            }
            notified.await;
        }
    }

    pub(crate) fn has_runner(&self) -> bool {
        self.runners.load(Ordering::SeqCst) > 0
    }

    /// Marks a dialplan task running until the returned guard drops.
    pub(crate) fn runner(&self) -> Runner<'_> {
        self.runners.fetch_add(1, Ordering::SeqCst);
        Runner(self)
    }
}

pub(crate) struct Runner<'a>(&'a Interrupts);

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        self.0.runners.fetch_sub(1, Ordering::SeqCst);
        // A request nobody took must not interrupt a later task.
        crate::lock(&self.0.pending).take();
    }
}
