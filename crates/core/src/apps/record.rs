//! Recording: Record (the caller, until `#`, silence or a limit), MixMonitor and
//! StopMixMonitor (both directions, in the background).

use std::sync::Arc;

use super::{Application, Next};
use crate::channel::Channel;
use crate::dialplan::split_args;
use crate::recording::{
    IfExists, RecordDirection, RecordOptions, RecordTarget, RecordingCommand, RecordingState,
    TerminateOn,
};
use crate::switch::Switch;

pub(super) fn applications() -> Vec<Application> {
    vec![
        Application::new(
            "Record",
            "Record(filename.format[,silence[,maxduration[,options]]])",
            "Record to a file.",
            record,
        ),
        Application::new(
            "MixMonitor",
            "MixMonitor(filename.extension[,options])",
            "Record a call and mix the audio during the recording.",
            mix_monitor,
        ),
        Application::new(
            "StopMixMonitor",
            "StopMixMonitor()",
            "Stop recording a call through MixMonitor.",
            stop_mix_monitor,
        ),
    ]
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

/// Ends a recording when dropped: an interrupted Record keeps what it has (as a
/// `#` would), nothing goes on recording. The digits typed while recording (the
/// terminator among them) were Record's, as FreeSWITCH's record consumes them: they
/// are dropped, so a following Read does not end on the `#` at once.
struct StopRecording<'a> {
    switch: &'a Switch,
    channel: &'a Channel,
    name: String,
}

impl Drop for StopRecording<'_> {
    fn drop(&mut self) {
        // Already ended is fine: then there is nothing to stop.
        let _ = self
            .switch
            .control_recording(&self.name, RecordingCommand::Stop);
        self.channel.digits.flush();
    }
}

/// `Record(file[,silence[,maxduration[,options]]])`: beeps, records what the caller
/// says until `#` (or any digit with `y`, none with `x`), silence, the time limit or
/// hangup; sets `RECORD_STATUS` as Asterisk does.
async fn record(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
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
        silence_level: None,
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
        Ok(recording) => {
            let _stop = StopRecording {
                switch: &switch,
                channel: &channel,
                name: recording.name.clone(),
            };
            match recording.finished().await {
                RecordingState::Done => "SUCCESS",
                _ => "ERROR",
            }
        }
        Err(e) => {
            tracing::warn!(channel = %channel.name, error = %e, "Record");
            "ERROR"
        }
    };
    let _ = switch.set_var(&channel.id, "RECORD_STATUS", status);
    Next::Continue
}

async fn mix_monitor(switch: Switch, channel: Arc<Channel>, args: String) -> Next {
    let parts = split_args(&args);
    let options = parts.get(1).map(String::as_str).unwrap_or_default();
    let (name, format) = split_format(parts.first().map(String::as_str).unwrap_or_default());
    let record = RecordOptions {
        name,
        format,
        max_duration_seconds: 0,
        max_silence_seconds: 0,
        silence_level: None,
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

async fn stop_mix_monitor(switch: Switch, channel: Arc<Channel>, _args: String) -> Next {
    let name = channel.data().mixmonitor.take();
    if let Some(name) = name {
        let _ = switch.control_recording(&name, RecordingCommand::Stop);
    }
    Next::Continue
}
