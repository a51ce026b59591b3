//! Commands that play into or record a live call: uuid_broadcast, uuid_displace,
//! uuid_record.

use std::time::Duration;

use switchboard_core::recording::{
    IfExists, RecordDirection, RecordOptions, RecordingCommand, TerminateOn,
};
use switchboard_core::{MediaTarget, Play, Switch};

use crate::args::separate;
use crate::clock::atol;
use crate::Reply;

pub(crate) const BROADCAST_SYNTAX: &str = "<uuid> <path> [aleg|bleg|holdb|both]";
pub(crate) const DISPLACE_SYNTAX: &str = "<uuid> [start|stop] <path> [<limit>] [mux]";
pub(crate) const RECORD_SYNTAX: &str =
    "<uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]";

/// A FreeSWITCH file string as one of the core's media URIs.
fn media_uri(path: &str) -> String {
    if let Some(ms) = path.strip_prefix("silence_stream://") {
        // `silence_stream://<ms>[,<noise>]`; -1 (forever) is the core's default.
        let ms = ms.split(',').next().unwrap_or_default();
        return match ms.parse::<u32>() {
            Ok(ms) => format!("silence:{ms}"),
            Err(_) => "silence:".to_owned(),
        };
    }
    if path.starts_with('/') || path.starts_with("tone_stream://") {
        return path.to_owned();
    }
    // A relative name is a sound, found under the sounds directories.
    format!("sound:{path}")
}

/// `<uuid> <path> [aleg|bleg|holdb|both]`: plays a file, or runs `app::args`, on the
/// channel, its bridge partner (`bleg`) or both.
pub(crate) fn broadcast(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, ' ', 4);
    if parts.len() < 2 {
        return Reply::usage(BROADCAST_SYNTAX);
    }
    let (id, path) = (parts[0].as_str(), parts[1].as_str());
    let legs = parts
        .get(2)
        .map_or("aleg", String::as_str)
        .to_ascii_lowercase();
    if switch.channel(id).is_err() {
        return Reply::err("-ERR invalid uuid\n");
    }
    let partner = switch.bridge_partner(id);
    let mut targets = Vec::new();
    if legs.contains("aleg") || legs.contains("both") || legs.contains("holdb") {
        targets.push(id.to_owned());
    }
    if legs.contains("bleg") || legs.contains("both") {
        targets.extend(partner);
    }
    for target in targets {
        if broadcast_one(switch, &target, path).is_err() {
            return Reply::err("-ERR invalid uuid\n");
        }
    }
    Reply::ok("+OK Message sent\n")
}

fn broadcast_one(switch: &Switch, id: &str, path: &str) -> Result<(), ()> {
    match path.split_once("::") {
        Some((app, app_args)) => {
            if switch.application(app).is_none() {
                return Err(());
            }
            let (switch, id, app, app_args) = (
                switch.clone(),
                id.to_owned(),
                app.to_owned(),
                app_args.to_owned(),
            );
            tokio::spawn(async move {
                if let Err(e) = switch.execute_application(&id, &app, &app_args).await {
                    tracing::debug!(channel = %id, "uuid_broadcast {app}: {e}");
                }
            });
            Ok(())
        }
        None => switch
            .play(Play::channel(id, vec![media_uri(path)]))
            .map(|_| ())
            .map_err(|_| ()),
    }
}

/// The playback id of a displacement, so that `stop` finds it by channel and path.
fn displace_id(id: &str, path: &str) -> String {
    format!("displace/{id}/{path}")
}

/// `<uuid> start|stop <path> [<limit>] [mux]`: plays the file over the channel's
/// audio (the core plays it to the channel; `mux` is accepted and plays the same).
pub(crate) fn displace(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, ' ', 5);
    if parts.len() < 3 {
        return Reply::usage(DISPLACE_SYNTAX);
    }
    let (id, action, path) = (parts[0].as_str(), parts[1].as_str(), parts[2].as_str());
    let limit = parts.get(3).map_or(0, |l| atol(l));
    if switch.channel(id).is_err() {
        return Reply::err("-ERR Cannot locate session!\n");
    }
    let playback_id = displace_id(id, path);
    if action.eq_ignore_ascii_case("start") {
        let play = Play {
            playback_id: Some(playback_id.clone()),
            ..Play::channel(id, vec![media_uri(path)])
        };
        if switch.play(play).is_err() {
            return Reply::err("-ERR Cannot displace session!\n");
        }
        if let Ok(secs) = u64::try_from(limit) {
            if secs > 0 {
                let switch = switch.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    let _ = switch.stop_playback(&playback_id);
                });
            }
        }
        Reply::ok("+OK Success\n")
    } else if action.eq_ignore_ascii_case("stop") {
        match switch.stop_playback(&playback_id) {
            Ok(()) => Reply::ok("+OK Success\n"),
            Err(_) => Reply::err("-ERR Cannot stop displace session!\n"),
        }
    } else {
        Reply::usage(DISPLACE_SYNTAX)
    }
}

/// A recording's path as the core's (name without extension, format).
fn recording_name(path: &str) -> (String, String) {
    let file = path.rsplit('/').next().unwrap_or(path);
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => (
            path[..path.len() - ext.len() - 1].to_owned(),
            ext.to_ascii_lowercase(),
        ),
        _ => (path.to_owned(), "wav".to_owned()),
    }
}

/// `<uuid> start|stop|mask|unmask <path> [<limit>]`: records both directions of the
/// channel into `path` (relative: under the recordings folder).
pub(crate) fn record(switch: &Switch, args: &str) -> Reply {
    let parts = separate(args, ' ', 5);
    if parts.len() < 3 {
        return Reply::usage(RECORD_SYNTAX);
    }
    let (id, action, path) = (parts[0].as_str(), parts[1].to_ascii_lowercase(), &parts[2]);
    if switch.channel(id).is_err() {
        return Reply::err("-ERR Cannot locate session!\n");
    }
    let (name, format) = recording_name(path);
    let (command, failure) = match action.as_str() {
        "start" => {
            let limit = parts.get(3).map_or(0, |l| atol(l));
            let options = RecordOptions {
                name,
                format,
                max_duration_seconds: u32::try_from(limit).unwrap_or(0),
                max_silence_seconds: 0,
                silence_level: None,
                if_exists: IfExists::Overwrite,
                beep: false,
                terminate_on: TerminateOn::None,
                direction: RecordDirection::Both,
            };
            return match switch.record(MediaTarget::Channel(id.to_owned()), options) {
                Ok(_) => Reply::ok("+OK Success\n"),
                Err(e) => {
                    tracing::debug!(channel = %id, "uuid_record: {e}");
                    Reply::err("-ERR Cannot record session!\n")
                }
            };
        }
        "stop" => (RecordingCommand::Stop, "-ERR Cannot stop record session!\n"),
        "pause" => (
            RecordingCommand::Pause,
            "-ERR Cannot pause recording session!\n",
        ),
        "resume" => (
            RecordingCommand::Unpause,
            "-ERR Cannot resume recording session!\n",
        ),
        "mask" => (
            RecordingCommand::Mute,
            "-ERR Cannot mask recording session!\n",
        ),
        "unmask" => (
            RecordingCommand::Unmute,
            "-ERR Cannot unmask recording session!\n",
        ),
        _ => return Reply::usage(RECORD_SYNTAX),
    };
    match switch.control_recording(&name, command) {
        Ok(()) => Reply::ok("+OK Success\n"),
        Err(_) => Reply::err(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(media_uri("silence_stream://500"), "silence:500");
        assert_eq!(media_uri("/tmp/a.wav"), "/tmp/a.wav");
        assert_eq!(media_uri("hello-world"), "sound:hello-world");
        assert_eq!(
            recording_name("/tmp/x/rec.wav"),
            ("/tmp/x/rec".to_owned(), "wav".to_owned())
        );
        assert_eq!(
            recording_name("calls/a"),
            ("calls/a".to_owned(), "wav".to_owned())
        );
    }
}
