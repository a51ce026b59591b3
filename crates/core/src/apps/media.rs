//! Media to the caller: Playback, Playtones/StopPlaytones, MusicOnHold, Echo, SendDTMF,
//! Read and flush_dtmf. What an application starts is stopped when it is interrupted (its future
//! dropped), through [`StopOnDrop`].

use std::sync::Arc;
use std::time::Duration;

use super::{Application, Next};
use crate::channel::Channel;
use crate::dialplan::split_args;
use crate::digits::{CollectStatus, PlayAndCollect};
use crate::state::ChannelState;
use crate::switch::Switch;

pub(super) fn applications() -> Vec<Application> {
    vec![
        Application::new(
            "Playback",
            "Playback(filename[&filename2[&...]][,options])",
            "Play a file.",
            playback,
        ),
        Application::new(
            "Playtones",
            "Playtones(arg)",
            "Play a tone list in the background.",
            playtones,
        ),
        Application::new(
            "StopPlaytones",
            "StopPlaytones()",
            "Stop playing a tone list.",
            stop_playtones_app,
        ),
        Application::new(
            "MusicOnHold",
            "MusicOnHold([class[,duration]])",
            "Play Music On Hold indefinitely.",
            music_on_hold,
        ),
        Application::new(
            "Echo",
            "Echo()",
            "Echo media, DTMF back to the calling party.",
            echo,
        ),
        Application::new(
            "SendDTMF",
            "SendDTMF(digits[,duration_ms])",
            "Sends arbitrary DTMF digits.",
            send_dtmf,
        ),
        Application::new(
            "Read",
            "Read(variable[,filename[&filename2[&...]][,maxdigits[,options[,attempts[,timeout]]]]])",
            "Read a variable.",
            read,
        ),
        Application::new(
            "flush_dtmf",
            "flush_dtmf()",
            "Drop the DTMF digits buffered on the channel.",
            flush_dtmf,
        ),
    ]
}

/// Stops a playback when dropped: an interrupted application leaves nothing playing.
pub(super) struct StopOnDrop<'a> {
    switch: &'a Switch,
    id: String,
}

impl<'a> StopOnDrop<'a> {
    pub(super) fn new(switch: &'a Switch, id: &str) -> Self {
        Self {
            switch,
            id: id.to_owned(),
        }
    }
}

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        // Already finished is fine: then there is nothing to stop.
        let _ = self.switch.stop_playback(&self.id);
    }
}

async fn playback(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    // Playback answers first unless told `noanswer`, as in Asterisk.
    if !parts.iter().skip(1).any(|o| o.contains("noanswer")) {
        let _ = switch.answer(&channel.id);
    }
    let files = parts.first().map(String::as_str).unwrap_or_default();
    for name in files.split('&').filter(|n| !n.is_empty()) {
        if let Ok(playing) = switch.play(crate::Play::channel(&channel.id, vec![name.to_owned()])) {
            let _stop = StopOnDrop::new(&switch, &playing.id);
            playing.wait().await;
        }
    }
    Next::Continue
}

/// In the background, until StopPlaytones or hangup, as in Asterisk.
async fn playtones(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let first = split_args(&args).into_iter().next().unwrap_or_default();
    let media = if first.contains(['/', '+', ',']) {
        format!("tone:{args}")
    } else {
        format!("tone:{first}")
    };
    stop_playtones(&switch, &channel);
    if let Ok(playback) = switch.play_quietly(&channel.id, &media, 0) {
        channel.data().playtones = Some(playback.id.clone());
    }
    Next::Continue
}

async fn stop_playtones_app(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    stop_playtones(&switch, &channel);
    Next::Continue
}

fn stop_playtones(switch: &Switch, channel: &Channel) {
    let previous = channel.data().playtones.take();
    if let Some(previous) = previous {
        let _ = switch.stop_playback(&previous);
    }
}

async fn music_on_hold(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    let class = parts
        .first()
        .map(String::as_str)
        .filter(|c| !c.is_empty())
        .unwrap_or("default");
    let duration = parts.get(1).and_then(|d| d.trim().parse::<f64>().ok());
    let _ = switch.answer(&channel.id);
    match switch.music_on_hold(&channel.id, class) {
        Ok(playback) => {
            // Stops it at the duration's end, or when interrupted.
            let _stop = StopOnDrop::new(&switch, &playback.id);
            match duration.filter(|d| d.is_finite() && *d > 0.0) {
                Some(secs) => {
                    let limit = Duration::from_secs_f64(secs.min(86_400.0));
                    let _ = tokio::time::timeout(limit, playback.wait()).await;
                }
                None => playback.wait().await,
            }
        }
        Err(e) => tracing::warn!(channel = %channel.name, class, error = %e, "MusicOnHold"),
    }
    Next::Continue
}

async fn echo(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    if switch.echo(&channel.id).is_ok() {
        // Interrupted, the channel stops hearing itself.
        let _echo = EchoGuard(&channel);
        let _digits = super::FlushDigitsOnDrop(&channel);
        channel.hung_up().await;
    }
    Next::Continue
}

struct EchoGuard<'a>(&'a Channel);

impl Drop for EchoGuard<'_> {
    fn drop(&mut self) {
        self.0.leg.disconnect();
    }
}

async fn send_dtmf(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    let digits = parts.first().map(String::as_str).unwrap_or_default();
    let duration = parts.get(1).and_then(|d| d.parse().ok()).unwrap_or(250);
    let _ = switch.send_dtmf(&channel.id, digits, duration, 100).await;
    Next::Continue
}

/// `Read(var[,prompt[,maxdigits[,options[,attempts[,timeout]]]]])`: plays the prompt
/// (sounds joined by `&`, or indications with `i`), collects DTMF until `#`,
/// `maxdigits` or `timeout` seconds of silence, over [`Switch::play_and_collect`]; sets
/// `var` (empty when nothing came) and `READSTATUS` (OK, TIMEOUT, HANGUP; SKIPPED with
/// `s` on a channel not answered). Digits typed before Read starts are read first, as
/// FreeSWITCH's type-ahead does (Asterisk drops what arrives while no application
/// reads); `flush_dtmf()` before Read drops them.
async fn read(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    let arg = |i: usize| parts.get(i).map(String::as_str).unwrap_or_default().trim();
    let variable = arg(0);
    if variable.is_empty() {
        tracing::warn!(channel = %channel.name, "Read: a variable name is required");
        return Next::Continue;
    }
    let options = arg(3);
    if channel.state() != ChannelState::Up {
        if options.contains('s') {
            let _ = switch.set_var(&channel.id, "READSTATUS", "SKIPPED");
            return Next::Continue;
        }
        if !options.contains('n') {
            let _ = switch.answer(&channel.id);
        }
    }
    let timeout = arg(5)
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t > 0.0)
        .unwrap_or(10.0)
        .min(86_400.0);
    let timeout = Duration::from_secs_f64(timeout);
    let prompt = arg(1)
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
    let request = PlayAndCollect {
        prompt,
        invalid: None,
        min: 0,
        // Asterisk's limit, also for 0 or none.
        max: arg(2)
            .parse()
            .ok()
            .filter(|n| (1..=255).contains(n))
            .unwrap_or(255),
        tries: arg(4).parse().ok().filter(|n| *n > 0).unwrap_or(1),
        timeout,
        terminators: "#".into(),
        regex: None,
        variable: None,
        digit_timeout: Some(timeout),
    };
    let (digits, status) = match switch.play_and_collect(&channel.id, request).await {
        Ok(got) => {
            let status = match got.status {
                CollectStatus::Ok => "OK",
                CollectStatus::Hangup => "HANGUP",
                CollectStatus::Timeout | CollectStatus::TooShort | CollectStatus::NoMatch => {
                    "TIMEOUT"
                }
            };
            (got.digits, status)
        }
        Err(e) => {
            tracing::warn!(channel = %channel.name, error = %e, "Read");
            (String::new(), "ERROR")
        }
    };
    let _ = switch.set_var(&channel.id, variable, &digits);
    let _ = switch.set_var(&channel.id, "READSTATUS", status);
    Next::Continue
}

/// `flush_dtmf()` (FreeSWITCH's): drops the digits buffered on the channel.
async fn flush_dtmf(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    let _ = switch.flush_digits(&channel.id);
    Next::Continue
}
