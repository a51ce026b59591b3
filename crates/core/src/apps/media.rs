//! Media to the caller: Playback, Playtones/StopPlaytones, MusicOnHold, Echo, SendDTMF
//! and Read. What an application starts is stopped when it is interrupted (its future
//! dropped), through [`StopOnDrop`].

use std::sync::Arc;
use std::time::Duration;

use super::{Application, Next};
use crate::channel::Channel;
use crate::dialplan::split_args;
use crate::events::EventKind;
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
/// (sounds joined by `&`, or an indication with `i`), collects DTMF until `#`,
/// `maxdigits` or `timeout` seconds of silence after the prompt; sets `var` and
/// `READSTATUS` (OK, TIMEOUT, HANGUP).
async fn read(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
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
        .filter(|t| t.is_finite() && *t > 0.0)
        .unwrap_or(10.0)
        .min(86_400.0);
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
            .then(|| {
                switch
                    .play(crate::Play::channel(&channel.id, prompt.clone()))
                    .ok()
            })
            .flatten();
        let _stop = playing.as_ref().map(|p| StopOnDrop::new(&switch, &p.id));
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
