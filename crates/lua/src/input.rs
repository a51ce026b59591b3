//! Waiting with an ear open: playing, sleeping, recording and collecting while the
//! input callback hears each digit and says what happens next (`switch_ivr_process_fh`:
//! `true`/nothing goes on, `pause` toggles, `seek:±ms`, `restart`, anything else
//! stops).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mlua::Lua;
use switchboard_core::recording::{LiveRecording, RecordingCommand};
use switchboard_core::{Channel, CollectDigits, Play, PlaybackControl, Switch};

use crate::session::Session;

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It ran its course (the file played out, the time passed, silence ended it).
    Finished,
    /// The input callback stopped it.
    Broken,
    HungUp,
}

/// What the input callback's answer asks of a playback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reaction {
    Continue,
    Stop,
    PauseToggle,
    Restart,
    /// Relative, in milliseconds.
    Seek(i64),
    /// From the start, in milliseconds.
    SeekTo(i64),
}

fn reaction(answer: Option<&str>) -> Reaction {
    let Some(answer) = answer.map(str::trim).filter(|a| !a.is_empty()) else {
        return Reaction::Continue;
    };
    let lower = answer.to_ascii_lowercase();
    let value = lower.split_once(':').map(|(_, v)| v.trim());
    match lower.as_str() {
        "true" | "undefined" => Reaction::Continue,
        "pause" => Reaction::PauseToggle,
        "restart" => Reaction::Restart,
        // Speed and volume are accepted and kept going: the media engine plays at one
        // speed and level.
        _ if lower.starts_with("speed") || lower.starts_with("volume") => Reaction::Continue,
        _ if lower.starts_with("seek") => match value {
            Some(v) if v.starts_with(['+', '-']) => {
                Reaction::Seek(v.parse().ok().filter(|&ms| ms != 0).unwrap_or(1000))
            }
            Some(v) => Reaction::SeekTo(v.parse().unwrap_or(0)),
            None => Reaction::Continue,
        },
        _ => Reaction::Stop,
    }
}

/// The next digit the channel's far end presses, taken from its buffer.
async fn next_digit(switch: &Switch, channel: &Channel) -> Option<char> {
    let one = CollectDigits::default();
    let got = switch.collect_digits(&channel.id, one).await.ok()?;
    got.digits.chars().next()
}

/// Waits for the next digit when the session has an input callback; never otherwise
/// (digits then wait in the buffer, as in FreeSWITCH).
async fn heard(session: &Session, channel: &Channel) -> Option<char> {
    if session.has_input_callback() {
        next_digit(session.switch(), channel).await
    } else {
        std::future::pending().await
    }
}

/// The callback's answer to `digit`.
async fn react(session: &Session, lua: &Lua, digit: char) -> mlua::Result<Reaction> {
    let answer = session.on_digit(lua, digit).await?;
    Ok(reaction(answer.flatten().as_deref()))
}

pub(crate) async fn play(
    session: &Session,
    lua: &Lua,
    channel: &Arc<Channel>,
    media: Vec<String>,
    offset_ms: u64,
) -> mlua::Result<Ended> {
    let switch = session.switch();
    let play = Play {
        offset_ms: i64::try_from(offset_ms).unwrap_or(i64::MAX),
        ..Play::channel(&channel.id, media)
    };
    let playback = switch
        .play(play)
        .map_err(|e| mlua::Error::runtime(format!("streamFile: {e}")))?;
    let _stop = StopPlayback(switch, &playback.id);
    let mut paused = false;
    loop {
        let digit = tokio::select! {
            () = playback.wait() => return Ok(Ended::Finished),
            _ = channel.hung_up() => return Ok(Ended::HungUp),
            Some(digit) = heard(session, channel) => digit,
        };
        let control = |op| {
            // Finished meanwhile: nothing left to control.
            let _ = switch.control_playback(&playback.id, op);
        };
        match react(session, lua, digit).await? {
            Reaction::Continue => {}
            Reaction::Stop => return Ok(Ended::Broken),
            Reaction::PauseToggle => {
                paused = !paused;
                control(if paused {
                    PlaybackControl::Pause
                } else {
                    PlaybackControl::Unpause
                });
            }
            Reaction::Restart => control(PlaybackControl::Restart),
            Reaction::Seek(ms) => control(PlaybackControl::Seek(ms)),
            Reaction::SeekTo(ms) => {
                control(PlaybackControl::Restart);
                control(PlaybackControl::Seek(ms));
            }
        }
    }
}

/// Stops a playback when the wait for it ends early (a break, a hangup, the script
/// dropped).
struct StopPlayback<'a>(&'a Switch, &'a str);

impl Drop for StopPlayback<'_> {
    fn drop(&mut self) {
        let _ = self.0.stop_playback(self.1);
    }
}

/// `session:sleep`: the callback hears digits meanwhile; any answer but "go on" ends it.
pub(crate) async fn sleep(
    session: &Session,
    lua: &Lua,
    channel: &Arc<Channel>,
    wait: Duration,
) -> mlua::Result<Ended> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let digit = tokio::select! {
            () = tokio::time::sleep_until(until) => return Ok(Ended::Finished),
            _ = channel.hung_up() => return Ok(Ended::HungUp),
            Some(digit) = heard(session, channel) => digit,
        };
        if react(session, lua, digit).await? != Reaction::Continue {
            return Ok(Ended::Broken);
        }
    }
}

/// `session:collectDigits`: hands digits to the callback until it says stop, the time
/// is up, or (with a digit timeout) no digit comes in time.
pub(crate) async fn collect(
    session: &Session,
    lua: &Lua,
    channel: &Arc<Channel>,
    digit_timeout: Option<Duration>,
    total: Duration,
) -> mlua::Result<Ended> {
    let until = tokio::time::Instant::now() + total;
    loop {
        let quiet = async {
            match digit_timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        let digit = tokio::select! {
            () = tokio::time::sleep_until(until), if !total.is_zero() => return Ok(Ended::Finished),
            () = quiet => return Ok(Ended::Finished),
            _ = channel.hung_up() => return Ok(Ended::HungUp),
            Some(digit) = heard(session, channel) => digit,
        };
        if react(session, lua, digit).await? != Reaction::Continue {
            return Ok(Ended::Broken);
        }
    }
}

/// `session:recordFile`: until the limit, silence or a hangup ends the recording, or the
/// callback stops it (the file is kept either way).
pub(crate) async fn record(
    session: &Session,
    lua: &Lua,
    channel: &Arc<Channel>,
    recording: &Arc<LiveRecording>,
) -> mlua::Result<Ended> {
    let switch = session.switch();
    loop {
        let digit = tokio::select! {
            _ = recording.finished() => return Ok(Ended::Finished),
            Some(digit) = heard(session, channel) => digit,
        };
        if react(session, lua, digit).await? != Reaction::Continue {
            // Finished meanwhile is fine: the file is there either way.
            let _ = switch.control_recording(&recording.name, RecordingCommand::Stop);
            recording.finished().await;
            return Ok(Ended::Broken);
        }
    }
}

/// Runs the configured text-to-speech command to make `file` say `text`.
pub(crate) async fn run_tts(command: &str, text: &str, file: &Path) -> Result<(), String> {
    let file = file.display().to_string();
    let mut words = command.split_whitespace();
    let program = words.next().ok_or("tts_command is empty")?;
    // Substituted per argument, so the text is one argument however it is spelt.
    let args: Vec<String> = words
        .map(|w| w.replace("{text}", text).replace("{file}", &file))
        .collect();
    let status = tokio::process::Command::new(program)
        .args(&args)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_answers() {
        assert_eq!(reaction(None), Reaction::Continue);
        assert_eq!(reaction(Some("")), Reaction::Continue);
        assert_eq!(reaction(Some("true")), Reaction::Continue);
        assert_eq!(reaction(Some("break")), Reaction::Stop);
        assert_eq!(reaction(Some("false")), Reaction::Stop);
        assert_eq!(reaction(Some("stop")), Reaction::Stop);
        assert_eq!(reaction(Some("pause")), Reaction::PauseToggle);
        assert_eq!(reaction(Some("restart")), Reaction::Restart);
        assert_eq!(reaction(Some("seek:+2000")), Reaction::Seek(2000));
        assert_eq!(reaction(Some("seek:-500")), Reaction::Seek(-500));
        assert_eq!(reaction(Some("seek:1500")), Reaction::SeekTo(1500));
        assert_eq!(reaction(Some("volume:+1")), Reaction::Continue);
        assert_eq!(reaction(Some("speed:-1")), Reaction::Continue);
    }
}
