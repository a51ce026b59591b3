//! Call state and flow: Answer, Hangup, Progress, Ringing, Wait, Set, NoOp, Goto,
//! GotoIf, and FreeSWITCH's `sleep` and `transfer` where their arguments differ.

use std::sync::Arc;
use std::time::Duration;

use super::{Application, Next};
use crate::cause::Cause;
use crate::channel::Channel;
use crate::dialplan::{is_true, split_args};
use crate::switch::Switch;

pub(super) fn applications() -> Vec<Application> {
    vec![
        Application::new(
            "Answer",
            "Answer([delay])",
            "Answer a channel if ringing.",
            answer,
        ),
        Application::new(
            "Hangup",
            "Hangup([causecode])",
            "Hang up the calling channel.",
            hangup,
        ),
        Application::new(
            "Progress",
            "Progress()",
            "Indicate progress (183 with early media).",
            progress,
        )
        .alias("pre_answer"),
        Application::new("Ringing", "Ringing()", "Indicate ringing tone.", ringing)
            .alias("ring_ready"),
        Application::new("Wait", "Wait(seconds)", "Waits for some time.", wait),
        Application::new(
            "sleep",
            "sleep(milliseconds)",
            "Pause the channel for a given number of milliseconds (FreeSWITCH).",
            sleep,
        ),
        Application::new(
            "Set",
            "Set(name=value)",
            "Set channel variable or function value.",
            set,
        ),
        Application::new("NoOp", "NoOp([text])", "Do Nothing (No Operation).", log),
        Application::new(
            "Verbose",
            "Verbose([level,]message)",
            "Send arbitrary text to verbose output.",
            log,
        ),
        Application::new(
            "Log",
            "Log(level,message)",
            "Send arbitrary text to a selected log level.",
            log,
        ),
        Application::new(
            "Goto",
            "Goto([[context,]extension,]priority)",
            "Jump to a particular priority, extension, or context.",
            goto,
        ),
        Application::new(
            "GotoIf",
            "GotoIf(condition?[labeliftrue][:labeliffalse])",
            "Conditional goto.",
            goto_if,
        ),
        Application::new(
            "transfer",
            "transfer(extension [dialplan [context]])",
            "Transfer a channel to an extension at priority 1 (FreeSWITCH).",
            transfer,
        ),
    ]
}

async fn answer(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    let _ = switch.answer(&channel.id);
    Next::Continue
}

async fn hangup(_switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let pending = channel.data().pending_cause;
    let first = split_args(&args).into_iter().next().unwrap_or_default();
    Next::Hangup(
        Cause::parse(first.trim())
            .or(pending)
            .unwrap_or(Cause::NORMAL_CLEARING),
    )
}

async fn progress(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    let _ = switch.progress(&channel.id);
    Next::Continue
}

async fn ringing(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    let _ = switch.ring(&channel.id);
    Next::Continue
}

/// Sleeps `secs` (bounded to a day; nothing for a bad or negative value).
async fn pause(secs: f64) {
    let secs = if secs.is_finite() { secs } else { 0.0 };
    tokio::time::sleep(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))).await;
}

async fn wait(_switch: Switch, _channel: Arc<Channel>, args: String) -> Next {
    let first = split_args(&args).into_iter().next().unwrap_or_default();
    pause(first.trim().parse().unwrap_or(0.0)).await;
    Next::Continue
}

async fn sleep(_switch: Switch, _channel: Arc<Channel>, args: String) -> Next {
    let millis: f64 = args.trim().parse().unwrap_or(0.0);
    pause(millis / 1000.0).await;
    Next::Continue
}

async fn set(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    if let Some((name, value)) = args.split_once('=') {
        let _ = switch.set_var(&channel.id, name.trim(), value);
    }
    Next::Continue
}

async fn log(_switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    tracing::info!(channel = %channel.name, "{args}");
    Next::Continue
}

async fn goto(_switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    goto_label(&channel, &split_args(&args))
}

async fn goto_if(_switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let (condition, labels) = args.split_once('?').unwrap_or((&args, ""));
    let (if_true, if_false) = labels.split_once(':').unwrap_or((labels, ""));
    let label = if is_true(condition) {
        if_true
    } else {
        if_false
    };
    if label.trim().is_empty() {
        Next::Continue
    } else {
        goto_label(&channel, &split_args(label))
    }
}

/// FreeSWITCH's `transfer <exten> [<dialplan> [<context>]]`: the dialplan type is
/// ignored (there is one), the context defaults to the current one.
async fn transfer(_switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let mut words = args.split_whitespace();
    let Some(exten) = words.next() else {
        tracing::warn!(channel = %channel.name, "transfer: an extension is required");
        return Next::Continue;
    };
    let context = words
        .nth(1)
        .map_or_else(|| channel.data().context.clone(), str::to_owned);
    Next::Goto {
        context,
        exten: exten.to_owned(),
        priority: 1,
    }
}

/// `Goto([[context,]exten,]priority)`.
fn goto_label(channel: &Channel, parts: &[String]) -> Next {
    let data = channel.data();
    let (context, exten, priority) = match parts {
        [p] => (data.context.clone(), data.exten.clone(), p),
        [e, p] => (data.context.clone(), e.clone(), p),
        [c, e, p, ..] => (c.clone(), e.clone(), p),
        [] => return Next::Continue,
    };
    match priority.trim().parse() {
        Ok(priority) if priority >= 1 => Next::Goto {
            context,
            exten,
            priority,
        },
        _ => {
            tracing::warn!(channel = %channel.name, ?parts, "Goto: bad priority; continuing");
            Next::Continue
        }
    }
}
