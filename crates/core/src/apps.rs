//! Dialplan execution and the applications, named and behaving as Asterisk's.
//!
//! Each application is an async function over the core's control API; a hangup ends
//! whatever is running, because the dialplan task races the channel's hangup.

use std::sync::Arc;
use std::time::Duration;

use crate::cause::Cause;
use crate::channel::Channel;
use crate::dial;
use crate::dialplan::{expand, is_true, split_args, Step};
use crate::events::EventKind;
use crate::recording::{
    IfExists, RecordDirection, RecordOptions, RecordTarget, RecordingCommand, RecordingState,
    TerminateOn,
};
use crate::snoop::SnoopDirection;
use crate::switch::Switch;

/// What a step asks the dialplan to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    Goto {
        context: String,
        exten: String,
        priority: usize,
    },
    Hangup(Cause),
}

pub(crate) async fn run_dialplan(switch: Switch, channel: Arc<Channel>) {
    let cause = tokio::select! {
        cause = execute(&switch, &channel) => cause,
        _ = channel.hung_up() => return,
    };
    switch.hangup(&channel.id, cause);
}

async fn execute(switch: &Switch, channel: &Arc<Channel>) -> Cause {
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
                return Cause::UNALLOCATED;
            }
            break;
        };
        let args = expand(&step.args, &|name| channel.var(name));
        switch.events().publish(
            &channel.id,
            EventKind::ChannelDialplan {
                app: step.app.clone(),
                data: args.clone(),
            },
        );
        tracing::debug!(channel = %channel.name, %exten, priority, app = %step.app, %args, "executing");
        match run_app(switch, channel, &step.app, &args).await {
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
            Next::Hangup(cause) => return cause,
        }
    }
    let pending = channel.data().pending_cause;
    pending.unwrap_or(Cause::NORMAL_CLEARING)
}

async fn run_app(switch: &Switch, channel: &Arc<Channel>, app: &str, args: &str) -> Next {
    let id = channel.id.as_str();
    let parts = split_args(args);
    let first = parts.first().map(String::as_str).unwrap_or_default();
    match app.to_ascii_lowercase().as_str() {
        "answer" => {
            let _ = switch.answer(id);
            Next::Continue
        }
        "hangup" => Next::Hangup(
            Cause::parse(first)
                .or(channel.data().pending_cause)
                .unwrap_or(Cause::NORMAL_CLEARING),
        ),
        "progress" => {
            let _ = switch.progress(id);
            Next::Continue
        }
        "ringing" => {
            let _ = switch.ring(id);
            Next::Continue
        }
        "playback" => {
            // Playback answers first unless told `noanswer`, as in Asterisk.
            if !parts.iter().skip(1).any(|o| o.contains("noanswer")) {
                let _ = switch.answer(id);
            }
            for name in first.split('&').filter(|n| !n.is_empty()) {
                let _ = switch.play_and_wait(id, name).await;
            }
            Next::Continue
        }
        "echo" => {
            let _ = switch.echo(id);
            channel.hung_up().await;
            Next::Continue
        }
        "wait" => {
            let secs = first
                .trim()
                .parse::<f64>()
                .unwrap_or(0.0)
                .clamp(0.0, 86_400.0);
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            Next::Continue
        }
        "set" => {
            if let Some((name, value)) = args.split_once('=') {
                let _ = switch.set_var(id, name.trim(), value);
            }
            Next::Continue
        }
        "noop" | "verbose" | "log" => {
            tracing::info!(channel = %channel.name, "{app}: {args}");
            Next::Continue
        }
        "senddtmf" => {
            let duration = parts.get(1).and_then(|d| d.parse().ok()).unwrap_or(250);
            let _ = switch.send_dtmf(id, first, duration, 100).await;
            Next::Continue
        }
        "dial" => dial::dial(switch, channel, &parts).await,
        "stasis" => {
            let Some((app_name, app_args)) = parts.split_first() else {
                tracing::warn!(channel = %channel.name, "Stasis: no application named");
                return Next::Continue;
            };
            // As in Asterisk, Stasis() fails when no client has registered the app.
            if !switch.has_app(app_name) {
                tracing::warn!(channel = %channel.name, app = %app_name, "Stasis: application not registered");
                return Next::Hangup(Cause::NORMAL_CLEARING);
            }
            // Park until the application lets go (continue) or the channel hangs up.
            let resumed = channel.resume.notified();
            if switch.enter_stasis(id, app_name, app_args.to_vec()).is_ok() {
                resumed.await;
            }
            Next::Continue
        }
        "confbridge" => {
            // Join the named conference (a mixing bridge) until hangup.
            let _ = switch.answer(id);
            if let Ok(bridge) = switch.named_bridge(&format!("confbridge-{first}")) {
                if switch.add_to_bridge(&bridge.id, id).is_ok() {
                    channel.hung_up().await;
                }
            }
            Next::Continue
        }
        "playtones" => {
            // In the background, until StopPlaytones or hangup, as in Asterisk.
            let media = if first.contains(['/', '+', ',']) {
                format!("tone:{args}")
            } else {
                format!("tone:{first}")
            };
            stop_playtones(switch, channel);
            if let Ok(playback) = switch.play_quietly(id, &media, 0) {
                channel.data().playtones = Some(playback.id.clone());
            }
            Next::Continue
        }
        "stopplaytones" => {
            stop_playtones(switch, channel);
            Next::Continue
        }
        "musiconhold" => {
            let class = if first.is_empty() { "default" } else { first };
            let duration = parts.get(1).and_then(|d| d.trim().parse::<f64>().ok());
            let _ = switch.answer(id);
            match switch.music_on_hold(id, class) {
                Ok(playback) => {
                    let waited = match duration.filter(|d| *d > 0.0) {
                        Some(secs) => {
                            tokio::time::timeout(Duration::from_secs_f64(secs), playback.wait())
                                .await
                                .is_ok()
                        }
                        None => {
                            playback.wait().await;
                            true
                        }
                    };
                    if !waited {
                        let _ = switch.stop_playback(&playback.id);
                    }
                }
                Err(e) => tracing::warn!(channel = %channel.name, class, error = %e, "MusicOnHold"),
            }
            Next::Continue
        }
        "record" => record(switch, channel, &parts).await,
        "read" => read(switch, channel, &parts).await,
        "mixmonitor" => {
            let options = parts.get(1).map(String::as_str).unwrap_or_default();
            let (name, format) = split_format(first);
            let record = RecordOptions {
                name,
                format,
                max_duration_seconds: 0,
                max_silence_seconds: 0,
                if_exists: if options.contains('a') {
                    IfExists::Append
                } else {
                    IfExists::Overwrite
                },
                beep: false,
                terminate_on: TerminateOn::None,
                direction: RecordDirection::Both,
            };
            match switch.record(RecordTarget::Channel(channel.id.clone()), record) {
                Ok(recording) => channel.data().mixmonitor = Some(recording.name.clone()),
                Err(e) => tracing::warn!(channel = %channel.name, error = %e, "MixMonitor"),
            }
            Next::Continue
        }
        "stopmixmonitor" => {
            let name = channel.data().mixmonitor.take();
            if let Some(name) = name {
                let _ = switch.control_recording(&name, RecordingCommand::Stop);
            }
            Next::Continue
        }
        "chanspy" => {
            chanspy(
                switch,
                channel,
                first,
                parts.get(1).map(String::as_str).unwrap_or_default(),
            )
            .await;
            Next::Continue
        }
        "goto" => goto(channel, &parts),
        "gotoif" => {
            let (condition, labels) = args.split_once('?').unwrap_or((args, ""));
            let (if_true, if_false) = labels.split_once(':').unwrap_or((labels, ""));
            let label = if is_true(condition) {
                if_true
            } else {
                if_false
            };
            if label.trim().is_empty() {
                Next::Continue
            } else {
                goto(channel, &split_args(label))
            }
        }
        _ => {
            tracing::warn!(channel = %channel.name, app, "no such application; hanging up");
            Next::Hangup(Cause::NORMAL_CLEARING)
        }
    }
}

/// `Read(var[,prompt[,maxdigits[,options[,attempts[,timeout]]]]])`: plays the prompt
/// (sounds joined by `&`, or an indication with `i`), collects DTMF until `#`,
/// `maxdigits` or `timeout` seconds of silence after the prompt; sets `var` and
/// `READSTATUS` (OK, TIMEOUT, HANGUP).
async fn read(switch: &Switch, channel: &Arc<Channel>, parts: &[String]) -> Next {
    let arg = |i: usize| parts.get(i).map(String::as_str).unwrap_or_default().trim();
    let variable = arg(0);
    if variable.is_empty() {
        tracing::warn!(channel = %channel.name, "Read: a variable name is required");
        return Next::Continue;
    }
    let options = arg(3);
    let max_digits: usize = arg(2).parse().ok().filter(|n| *n > 0).unwrap_or(255);
    let attempts: u32 = arg(4).parse().ok().filter(|n| *n > 0).unwrap_or(1);
    let timeout = arg(5)
        .parse::<f64>()
        .ok()
        .filter(|t| *t > 0.0)
        .unwrap_or(10.0);
    if !options.contains('n') {
        let _ = switch.answer(&channel.id);
    }
    let prompt: Vec<String> = arg(1)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if options.contains('i') {
                format!("tone:{p}")
            } else {
                p.to_owned()
            }
        })
        .collect();
    let mut events = switch.events().subscribe();
    let mut digits = String::new();
    let mut status = "TIMEOUT";
    'attempts: for _ in 0..attempts {
        let playing = (!prompt.is_empty())
            .then(|| switch.play(&channel.id, prompt.clone(), None, None).ok())
            .flatten();
        let prompt_done = async {
            if let Some(playing) = &playing {
                playing.wait().await;
            }
        };
        tokio::pin!(prompt_done);
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let wait = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut prompt_done, if deadline.is_none() => {
                    deadline = Some(tokio::time::Instant::now() + Duration::from_secs_f64(timeout));
                }
                () = wait => break,
                event = events.recv() => {
                    let Ok(event) = event else { continue };
                    let EventKind::ChannelDtmfReceived { digit, .. } = event.kind else { continue };
                    if event.source != channel.id {
                        continue;
                    }
                    if let Some(playing) = &playing {
                        let _ = switch.stop_playback(&playing.id);
                    }
                    // Each digit restarts the inter-digit timeout.
                    deadline = Some(tokio::time::Instant::now() + Duration::from_secs_f64(timeout));
                    if digit == '#' {
                        status = "OK";
                        break 'attempts;
                    }
                    digits.push(digit);
                    if digits.len() >= max_digits {
                        status = "OK";
                        break 'attempts;
                    }
                }
            }
        }
        if !digits.is_empty() {
            status = "OK";
            break;
        }
    }
    let _ = switch.set_var(&channel.id, variable, &digits);
    let _ = switch.set_var(&channel.id, "READSTATUS", status);
    Next::Continue
}

/// How long ChanSpy waits between scans for a channel to spy on (Asterisk's
/// `ast_waitfordigit(chan, 100)` in its scan loop).
const SPY_SCAN_INTERVAL: Duration = Duration::from_millis(100);

/// `ChanSpy([chanprefix][,options])`, as Asterisk's: listens (both directions) to a
/// channel whose name starts with `chanprefix` (`SIP/1001`; any channel when empty or
/// `all`), scanning until one appears and again after it hangs up; only the spy hanging
/// up ends it. `w` whispers to the spied channel; `q` skips the beep Asterisk plays
/// first and after each spied channel.
async fn chanspy(switch: &Switch, channel: &Arc<Channel>, spec: &str, options: &str) {
    let _ = switch.answer(&channel.id);
    let prefix = spy_prefix(spec);
    let quiet = options.contains('q');
    let whisper = if options.contains('w') {
        SnoopDirection::Out
    } else {
        SnoopDirection::None
    };
    let mut session = SpySession::start(switch, channel);
    let mut beep = !quiet;
    loop {
        if beep {
            if let Ok(beep) = switch.play(&channel.id, vec!["tone:!1000/250".into()], None, None) {
                beep.wait().await;
            }
        }
        tokio::select! {
            _ = channel.hung_up() => return,
            () = tokio::time::sleep(SPY_SCAN_INTERVAL) => {}
        }
        // Spying channels (and our own snoops) are skipped, as Asterisk skips those
        // flagged AST_FLAG_SPYING.
        let target = switch.channels().into_iter().find(|c| {
            c.id != channel.id
                && has_prefix(&c.name, &prefix)
                && c.status().hangup.is_none()
                && !c.data().spying
        });
        let Some(target) = target else {
            beep = false;
            continue;
        };
        beep = !quiet;
        let Ok(snoop) = switch.snoop(
            &target.id,
            SnoopDirection::Both,
            whisper,
            "",
            Vec::new(),
            None,
        ) else {
            continue;
        };
        snoop.data().spying = true;
        session.snoop = Some(snoop.id.clone());
        tracing::info!(channel = %channel.name, target = %target.name, "ChanSpy: spying");
        if switch.connect(&channel.id, &snoop.id).is_ok() {
            tokio::select! {
                _ = channel.hung_up() => return,
                _ = snoop.hung_up() => {}
            }
        }
        session.end_snoop();
    }
}

/// The channel-name prefix ChanSpy scans for: `all` means any channel, and `PJSIP`
/// names our `SIP` channels.
fn spy_prefix(spec: &str) -> String {
    if spec == "all" {
        return String::new();
    }
    match spec.get(..5) {
        Some(tech) if tech.eq_ignore_ascii_case("PJSIP") => format!("SIP{}", &spec[5..]),
        _ => spec.to_owned(),
    }
}

/// Whether `name` starts with `prefix`, ignoring case as Asterisk's channel lookup does.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// ChanSpy's marks and snoop, undone however it ends: the dialplan drops its future
/// when the spy hangs up.
struct SpySession<'a> {
    switch: &'a Switch,
    channel: &'a Channel,
    snoop: Option<String>,
}

impl<'a> SpySession<'a> {
    fn start(switch: &'a Switch, channel: &'a Channel) -> Self {
        channel.data().spying = true;
        Self {
            switch,
            channel,
            snoop: None,
        }
    }

    fn end_snoop(&mut self) {
        if let Some(snoop) = self.snoop.take() {
            self.switch.hangup(&snoop, Cause::NORMAL_CLEARING);
        }
    }
}

impl Drop for SpySession<'_> {
    fn drop(&mut self) {
        self.end_snoop();
        self.channel.data().spying = false;
    }
}

/// `name.ext` → (`name`, `ext`), WAV when there is no extension.
fn split_format(file: &str) -> (String, String) {
    match file.rsplit_once('.') {
        Some((name, ext)) if !ext.contains('/') && !name.is_empty() => {
            (name.to_owned(), ext.to_ascii_lowercase())
        }
        _ => (file.to_owned(), "wav".to_owned()),
    }
}

/// `Record(file[,silence[,maxduration[,options]]])`: beeps, records what the caller
/// says until `#` (or any digit with `y`, none with `x`), silence, the time limit or
/// hangup; sets `RECORD_STATUS` as Asterisk does.
async fn record(switch: &Switch, channel: &Arc<Channel>, parts: &[String]) -> Next {
    let arg = |i: usize| parts.get(i).map(String::as_str).unwrap_or_default();
    let options = arg(3);
    let (name, format) = split_format(arg(0));
    if !options.contains('n') {
        let _ = switch.answer(&channel.id);
    }
    let terminate_on = if options.contains('x') {
        TerminateOn::None
    } else if options.contains('y') {
        TerminateOn::Any
    } else if options.contains('t') {
        TerminateOn::Digit('*')
    } else {
        TerminateOn::Digit('#')
    };
    let record = RecordOptions {
        name,
        format,
        max_duration_seconds: arg(2).trim().parse().unwrap_or(0),
        max_silence_seconds: arg(1).trim().parse().unwrap_or(0),
        if_exists: if options.contains('a') {
            IfExists::Append
        } else {
            IfExists::Overwrite
        },
        beep: !options.contains('q'),
        terminate_on,
        direction: RecordDirection::In,
    };
    let status = match switch.record(RecordTarget::Channel(channel.id.clone()), record) {
        Ok(recording) => match recording.finished().await {
            RecordingState::Done => "SUCCESS",
            _ => "ERROR",
        },
        Err(e) => {
            tracing::warn!(channel = %channel.name, error = %e, "Record");
            "ERROR"
        }
    };
    let _ = switch.set_var(&channel.id, "RECORD_STATUS", status);
    Next::Continue
}

fn stop_playtones(switch: &Switch, channel: &Channel) {
    let previous = channel.data().playtones.take();
    if let Some(previous) = previous {
        let _ = switch.stop_playback(&previous);
    }
}

/// `Goto([[context,]exten,]priority)`.
fn goto(channel: &Channel, parts: &[String]) -> Next {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chanspy_prefix_is_a_channel_name_prefix_with_technology() {
        let spies_on = |spec: &str, name: &str| has_prefix(name, &spy_prefix(spec));
        assert!(spies_on("SIP/1001", "SIP/1001-00000002"));
        assert!(spies_on("PJSIP/1001", "SIP/1001-00000002"));
        assert!(spies_on("pjsip/1001", "SIP/1001-00000002"));
        assert!(spies_on("sip/1001", "SIP/1001-00000002"));
        assert!(spies_on("", "SIP/1001-00000002"));
        assert!(spies_on("all", "Local/101@default-00000001;1"));
        // The old form without technology names no channel, as in Asterisk.
        assert!(!spies_on("1001", "SIP/1001-00000002"));
        assert!(!spies_on("SIP/1001", "SIP/1000-00000001"));
        assert!(!spies_on("SIP/1001-000000020", "SIP/1001-00000002"));
        // A prefix ending inside a character of the name does not panic.
        assert!(!spies_on("SIP/1", "SIP/é-00000001"));
    }
}
