//! `freeswitch.Event` and `freeswitch.EventConsumer`: FreeSWITCH's events as a script
//! makes, fires and receives them.

use std::time::Duration;

use mlua::{UserData, UserDataMethods};
use switchboard_commands::event::{subscribed, FsEvent};
use switchboard_core::Switch;
use tokio::sync::{broadcast, mpsc};

use crate::script::context;

/// An event in a script's hands.
#[derive(Debug, Clone)]
pub(crate) struct Event(pub FsEvent);

impl UserData for Event {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        for name in ["addHeader", "add_header"] {
            methods.add_method_mut(name, |_, this, (header, value): (String, String)| {
                this.0.add_header(&header, &value);
                Ok(true)
            });
        }
        for name in ["getHeader", "get_header"] {
            methods.add_method(name, |_, this, header: String| {
                Ok(this.0.header(&header).map(str::to_owned))
            });
        }
        for name in ["delHeader", "del_header"] {
            methods.add_method_mut(name, |_, this, header: String| {
                this.0.del_header(&header);
                Ok(true)
            });
        }
        for name in ["addBody", "add_body"] {
            methods.add_method_mut(name, |_, this, body: String| {
                this.0.add_body(&body);
                Ok(true)
            });
        }
        for name in ["getBody", "get_body"] {
            methods.add_method(name, |_, this, ()| Ok(this.0.body.clone()));
        }
        for name in ["getType", "get_type"] {
            methods.add_method(name, |_, this, ()| Ok(this.0.name().to_owned()));
        }
        methods.add_method("serialize", |_, this, format: Option<String>| {
            Ok(this.0.serialize(format.as_deref().unwrap_or("")))
        });
        methods.add_method("fire", |lua, this, ()| {
            let switch = context(lua)?.switch.clone();
            fire(&switch, this.0.clone());
            Ok(true)
        });
    }
}

/// Publishes a script's event on the core's bus, about the channel its `Unique-ID`
/// names (or the switch).
pub(crate) fn fire(switch: &Switch, mut event: FsEvent) {
    event.stamp();
    let source = event.header("Unique-ID").unwrap_or_default().to_owned();
    switch.events().publish(&source, event.into_core());
}

/// Events queued for a script until it pops them. Bounded: a script that stops popping
/// loses the newest, not the switch's memory.
pub(crate) struct EventConsumer {
    rx: mpsc::Receiver<FsEvent>,
    bindings: tokio::sync::watch::Sender<Vec<(String, Option<String>)>>,
}

/// FreeSWITCH's default queue length for a consumer.
const DEFAULT_QUEUE: usize = 5000;

impl EventConsumer {
    pub(crate) fn new(
        switch: &Switch,
        name: Option<String>,
        subclass: Option<String>,
        len: Option<usize>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(len.filter(|&l| l > 0).unwrap_or(DEFAULT_QUEUE));
        let bindings: Vec<_> = name
            .into_iter()
            .flat_map(|n| n.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .map(|n| (n, subclass.clone()))
            .collect();
        let (bindings, watched) = tokio::sync::watch::channel(bindings);
        tokio::spawn(feed(switch.events().subscribe(), tx, watched));
        Self { rx, bindings }
    }
}

/// Copies the bus's events that match the consumer's bindings into its queue, until the
/// consumer is gone.
async fn feed(
    mut bus: broadcast::Receiver<std::sync::Arc<switchboard_core::Event>>,
    tx: mpsc::Sender<FsEvent>,
    bindings: tokio::sync::watch::Receiver<Vec<(String, Option<String>)>>,
) {
    loop {
        let event = tokio::select! {
            event = bus.recv() => event,
            () = tx.closed() => return,
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::info!(dropped = n, "Lua event consumer fell behind");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        // Matched by name first: the headers (every channel variable) are built only
        // for the events this consumer takes.
        let Some((event_name, event_subclass)) = FsEvent::name_of(&event.kind) else {
            continue;
        };
        let wanted = bindings.borrow().iter().any(|(name, subclass)| {
            subscribed(event_name, event_subclass, name, subclass.as_deref())
        });
        if !wanted {
            continue;
        }
        let Some(fs) = FsEvent::from_core(&event) else {
            continue;
        };
        if tx.try_send(fs).is_err() && tx.is_closed() {
            return;
        }
    }
}

impl UserData for EventConsumer {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method(
            "bind",
            |_, this, (name, subclass): (String, Option<String>)| {
                this.bindings
                    .send_modify(|b| b.push((name.clone(), subclass.clone())));
                Ok(true)
            },
        );
        // pop([block[, timeout_ms]]): the next event, or nil.
        methods.add_async_method_mut(
            "pop",
            |lua, mut this, (block, timeout): (Option<i64>, Option<i64>)| async move {
                let event = match (block.unwrap_or(0) != 0, timeout.unwrap_or(0)) {
                    (false, _) => this.rx.try_recv().ok(),
                    (true, ms) if ms > 0 => {
                        let wait = Duration::from_millis(ms.unsigned_abs());
                        tokio::time::timeout(wait, this.rx.recv())
                            .await
                            .ok()
                            .flatten()
                    }
                    (true, _) => this.rx.recv().await,
                };
                context(&lua)?.waited();
                Ok(event.map(Event))
            },
        );
    }
}
