//! Recordings of a channel (what it hears, what it says, or both) or of a bridge (the
//! full mix), written crash-safely and indexed in the store when finished — ARI's live
//! and stored recordings, and the dialplan's `Record()` and `MixMonitor()`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use switchboard_media::engine::TapDirection;
use switchboard_media::raw::{RawFormat, RawWriter};
use switchboard_media::resample::Resampler;
use switchboard_media::wav_writer::{recover_partial, WavWriter};
use switchboard_media::MediaError;
use switchboard_store::StoredRecording as StoreRow;
use tokio::sync::{mpsc, watch};

use crate::bridge::AudioGuard;
use crate::channel::Channel;
use crate::events::EventKind;
use crate::switch::{ControlError, Switch};
use crate::time;

/// Below this RMS a frame counts as silence (about -44 dBFS).
const SILENCE_RMS: f64 = 200.0;

/// What a recording records.
pub type RecordTarget = crate::MediaTarget;

/// Which audio of a channel to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordDirection {
    /// What the channel says.
    In,
    /// What the channel hears.
    Out,
    Both,
}

/// DTMF that ends a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminateOn {
    None,
    Any,
    Digit(char),
}

impl TerminateOn {
    /// ARI's `terminateOn`: none, any, *, #.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "none" | "" => Some(Self::None),
            "any" => Some(Self::Any),
            "*" => Some(Self::Digit('*')),
            "#" => Some(Self::Digit('#')),
            _ => None,
        }
    }

    fn matches(self, digit: char) -> bool {
        match self {
            Self::None => false,
            Self::Any => true,
            Self::Digit(d) => d == digit,
        }
    }
}

/// What to do when the recording's file already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Refuse to record.
    Fail,
    /// Replace the file when the new recording is finished.
    Overwrite,
    /// Continue the file (which must be in the same format).
    Append,
}

impl IfExists {
    /// ARI's `ifExists`: fail, overwrite, append.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "fail" => Some(Self::Fail),
            "overwrite" => Some(Self::Overwrite),
            "append" => Some(Self::Append),
            _ => None,
        }
    }
}

impl From<IfExists> for switchboard_media::wav_writer::IfExists {
    fn from(value: IfExists) -> Self {
        match value {
            IfExists::Fail => Self::Fail,
            IfExists::Overwrite => Self::Overwrite,
            IfExists::Append => Self::Append,
        }
    }
}

/// Whether recordings can be written in `format` (a file extension: `wav`, `ulaw`,
/// `alaw`, `sln`, `sln16`, any case).
pub fn is_known_format(format: &str) -> bool {
    let format = format.to_ascii_lowercase();
    format == "wav" || RawFormat::from_extension(&format).is_some()
}

/// A finished recording, indexed in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecording {
    /// Name without extension, relative to the recordings folder.
    pub name: String,
    /// File extension: `wav`, `ulaw`, `alaw`, `sln`, `sln16`.
    pub format: String,
    pub path: String,
    pub duration_ms: i64,
    /// RFC 3339 UTC.
    pub created: String,
}

impl From<StoreRow> for StoredRecording {
    fn from(row: StoreRow) -> Self {
        Self {
            name: row.name,
            format: row.format,
            path: row.path,
            duration_ms: row.duration_ms,
            created: row.created,
        }
    }
}

impl From<StoredRecording> for StoreRow {
    fn from(r: StoredRecording) -> Self {
        Self {
            name: r.name,
            format: r.format,
            path: r.path,
            duration_ms: r.duration_ms,
            created: r.created,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Name without extension; relative names live under `data_dir/recordings`.
    pub name: String,
    /// `wav`, `ulaw`, `alaw`, `sln` or `sln16`.
    pub format: String,
    /// 0: no limit.
    pub max_duration_seconds: u32,
    /// 0: no limit.
    pub max_silence_seconds: u32,
    /// The level (RMS of 16-bit samples) below which a frame counts as silence;
    /// `None`: about -44 dBFS. FreeSWITCH's `silence_threshold`.
    pub silence_level: Option<u32>,
    pub if_exists: IfExists,
    pub beep: bool,
    pub terminate_on: TerminateOn,
    pub direction: RecordDirection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingState {
    Queued,
    Recording,
    Paused,
    Done,
    Failed,
    Canceled,
}

impl RecordingState {
    /// ARI's `LiveRecording.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Recording => "recording",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingCommand {
    /// Finish and keep the file.
    Stop,
    /// Finish and delete the file.
    Cancel,
    Pause,
    Unpause,
    Mute,
    Unmute,
}

#[derive(Debug, Default)]
struct Progress {
    total_ms: u64,
    talking_ms: u64,
    silence_ms: u64,
    cause: Option<String>,
}

/// A recording in progress.
#[derive(Debug)]
pub struct LiveRecording {
    pub name: String,
    pub format: String,
    pub target: RecordTarget,
    pub path: PathBuf,
    state: watch::Sender<RecordingState>,
    progress: Mutex<Progress>,
    commands: mpsc::UnboundedSender<RecordingCommand>,
}

impl LiveRecording {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        crate::lock(&self.progress)
    }

    pub fn state(&self) -> RecordingState {
        *self.state.borrow()
    }

    /// (duration, talking, silence) in whole seconds, as ARI reports them.
    pub fn durations(&self) -> (u64, u64, u64) {
        let p = self.progress();
        (p.total_ms / 1000, p.talking_ms / 1000, p.silence_ms / 1000)
    }

    pub fn cause(&self) -> Option<String> {
        self.progress().cause.clone()
    }

    /// Resolves once the recording has ended (done, failed or canceled).
    pub async fn finished(&self) -> RecordingState {
        let mut rx = self.state.subscribe();
        let ended = rx
            .wait_for(|s| {
                matches!(
                    s,
                    RecordingState::Done | RecordingState::Failed | RecordingState::Canceled
                )
            })
            .await
            .map(|s| *s);
        ended.unwrap_or(RecordingState::Done)
    }
}

/// The file being written, in its format.
enum Writer {
    Wav(WavWriter),
    Raw(RawWriter, Resampler),
}

impl Writer {
    fn write(&mut self, pcm: &[i16]) -> Result<(), MediaError> {
        match self {
            Self::Wav(w) => w.write(pcm),
            Self::Raw(w, resampler) => {
                let mut converted = Vec::with_capacity(pcm.len() * 2);
                resampler.process(pcm, &mut converted);
                w.write(&converted)
            }
        }
    }

    fn finish(self) -> Result<PathBuf, MediaError> {
        match self {
            Self::Wav(w) => w.finish(),
            Self::Raw(w, _) => w.finish(),
        }
    }

    fn discard(self) -> Result<(), MediaError> {
        match self {
            Self::Wav(w) => w.discard(),
            Self::Raw(w, _) => w.discard(),
        }
    }
}

/// Where the audio comes from, and what keeps it flowing.
pub(crate) struct Feed {
    first: mpsc::Receiver<Vec<i16>>,
    /// For `Both`: the other direction, summed into the first.
    second: Option<mpsc::Receiver<Vec<i16>>>,
    pub(crate) rate: u32,
    _audio: AudioHold,
}

impl Feed {
    /// Drops the frames already waiting.
    fn discard_queued(&mut self) {
        while self.first.try_recv().is_ok() {}
        if let Some(second) = self.second.as_mut() {
            while second.try_recv().is_ok() {}
        }
    }

    /// The next 20 ms frame (both directions summed for `Both`); `None` once the
    /// source is gone.
    pub(crate) async fn next(&mut self) -> Option<Vec<i16>> {
        let mut pcm = self.first.recv().await?;
        if let Some(Ok(other)) = self.second.as_mut().map(mpsc::Receiver::try_recv) {
            for (a, b) in pcm.iter_mut().zip(other) {
                *a = a.saturating_add(b);
            }
        }
        Some(pcm)
    }
}

/// Keeps the audio decoded while the recording runs.
enum AudioHold {
    Bridge {
        _guard: AudioGuard,
    },
    /// A channel's audio is needed wherever it goes: its bridges mix while this lives,
    /// and outside any bridge it has a mixer of its own.
    Channel {
        switch: Switch,
        channel: Arc<Channel>,
    },
}

impl Drop for AudioHold {
    fn drop(&mut self) {
        if let Self::Channel { switch, channel } = self {
            let private = {
                let mut data = channel.data();
                data.audio_users -= 1;
                // The last user closes the channel's own mixer.
                if data.audio_users == 0 {
                    data.private_mixer.take()
                } else {
                    None
                }
            };
            if let Some(mixer) = private {
                mixer.close();
            }
            switch.refresh_bridge_of(channel);
        }
    }
}

fn rms(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let sum: f64 = pcm.iter().map(|s| f64::from(*s).powi(2)).sum();
    (sum / pcm.len() as f64).sqrt()
}

impl Switch {
    pub(crate) fn recordings_dir(&self) -> PathBuf {
        self.config().general.data_dir.join("recordings")
    }

    fn recording_path(&self, name: &str, format: &str) -> PathBuf {
        let base = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            self.recordings_dir().join(name)
        };
        let mut path = base.into_os_string();
        path.push(".");
        path.push(format);
        PathBuf::from(path)
    }

    /// Finishes what a crash left half-written and indexes every recording on disk
    /// that the store does not know yet (run at startup, before any recording).
    pub(crate) fn recover_recordings(&self) {
        let dir = self.recordings_dir();
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        match recover_partial(&dir) {
            Ok(recovered) => {
                for path in recovered {
                    tracing::warn!(path = %path.display(), "recovered a recording cut short by a crash");
                }
            }
            Err(e) => tracing::error!(error = %e, "recording recovery failed"),
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let (Some(stem), Some(ext)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            if stem.starts_with('.') || (ext != "wav" && RawFormat::from_extension(ext).is_none()) {
                continue;
            }
            if matches!(self.store().recording(stem), Ok(Some(_))) {
                continue;
            }
            let duration_ms = file_duration_ms(&path, ext);
            let _ = self.store().put_recording_blocking(StoreRow {
                name: stem.to_owned(),
                format: ext.to_owned(),
                path: path.display().to_string(),
                duration_ms,
                created: time::rfc3339(SystemTime::now()),
            });
        }
    }

    /// Starts recording; the file appears under its final name when it ends.
    pub fn record(
        &self,
        target: RecordTarget,
        options: RecordOptions,
    ) -> Result<Arc<LiveRecording>, ControlError> {
        let format = options.format.to_ascii_lowercase();
        if !is_known_format(&format) {
            return Err(ControlError::Invalid(format!(
                "unknown recording format {format:?}"
            )));
        }
        if options.name.is_empty() || options.name.contains("..") {
            return Err(ControlError::Invalid("bad recording name".into()));
        }
        if self.live_recordings().contains_key(&options.name) {
            return Err(ControlError::Conflict(
                "a recording with that name is in progress".into(),
            ));
        }
        let feed = self.feed_for(&target, options.direction)?;
        let path = self.recording_path(&options.name, &format);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ControlError::Invalid(e.to_string()))?;
        }
        let writer = match RawFormat::from_extension(&format) {
            Some(raw) => RawWriter::create(&path, raw, options.if_exists.into())
                .map(|w| Writer::Raw(w, Resampler::new(feed.rate, raw.sample_rate()))),
            None => WavWriter::create(&path, feed.rate, options.if_exists.into()).map(Writer::Wav),
        }
        .map_err(|e| match e {
            MediaError::Exists(_) => {
                ControlError::Unprocessable("the recording file exists".into())
            }
            other => ControlError::Invalid(other.to_string()),
        })?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let recording = Arc::new(LiveRecording {
            name: options.name.clone(),
            format,
            target,
            path,
            state: watch::channel(RecordingState::Queued).0,
            progress: Mutex::default(),
            commands,
        });
        self.live_recordings()
            .insert(recording.name.clone(), recording.clone());
        let switch = self.clone();
        let task = recording.clone();
        tokio::spawn(async move {
            switch
                .run_recording(&task, writer, feed, options, commands_rx)
                .await;
            switch.live_recordings().remove(&task.name);
        });
        Ok(recording)
    }

    /// Makes sure a channel with audio users has its audio decoded: its bridge mixes,
    /// or, outside any bridge, it has a mixer of its own (shared by all its users).
    pub(crate) fn keep_audio_flowing(&self, channel: &Channel) {
        let bridged = {
            let mut data = channel.data();
            if data.audio_users == 0 {
                return;
            }
            if data.bridge.is_none() {
                let mixer = data
                    .private_mixer
                    .get_or_insert_with(|| self.media().create_bridge());
                mixer.add(&channel.leg);
            }
            data.bridge.is_some()
        };
        if bridged {
            self.refresh_bridge_of(channel);
        }
    }

    pub(crate) fn feed_for(
        &self,
        target: &RecordTarget,
        direction: RecordDirection,
    ) -> Result<Feed, ControlError> {
        match target {
            RecordTarget::Bridge(id) => {
                let (mixer, guard) = self.bridge(id)?.need_audio();
                Ok(Feed {
                    first: mixer.tap(),
                    second: None,
                    rate: mixer.rate(),
                    _audio: AudioHold::Bridge { _guard: guard },
                })
            }
            RecordTarget::Channel(id) => {
                let channel = self.channel(id)?;
                channel.data().audio_users += 1;
                self.keep_audio_flowing(&channel);
                let audio = AudioHold::Channel {
                    switch: self.clone(),
                    channel: channel.clone(),
                };
                let rate = channel.leg.codec().map_or(8000, |c| c.sample_rate());
                let (first, second) = match direction {
                    RecordDirection::In => (channel.leg.tap(TapDirection::In), None),
                    RecordDirection::Out => (channel.leg.tap(TapDirection::Out), None),
                    RecordDirection::Both => (
                        channel.leg.tap(TapDirection::In),
                        Some(channel.leg.tap(TapDirection::Out)),
                    ),
                };
                Ok(Feed {
                    first,
                    second,
                    rate,
                    _audio: audio,
                })
            }
        }
    }

    async fn run_recording(
        &self,
        recording: &LiveRecording,
        mut writer: Writer,
        mut feed: Feed,
        options: RecordOptions,
        mut commands: mpsc::UnboundedReceiver<RecordingCommand>,
    ) {
        let target_id = recording.target.id().to_owned();
        let channel = match &recording.target {
            RecordTarget::Channel(id) => self.channel(id).ok(),
            RecordTarget::Bridge(_) => None,
        };
        if let (true, Some(channel)) = (options.beep, &channel) {
            if let Ok(beep) = self.play_quietly(&channel.id, "tone:!1000/250", 0) {
                beep.wait().await;
            }
            // As in Asterisk, the recording starts after the beep: what was said
            // during it is not kept.
            feed.discard_queued();
        }
        let mut events = self.events().subscribe();
        recording.state.send_replace(RecordingState::Recording);
        self.events().publish(
            &target_id,
            EventKind::RecordingStarted {
                recording: recording.name.clone(),
            },
        );
        let frame_ms = 20;
        let max_ms = u64::from(options.max_duration_seconds) * 1000;
        let max_silence_ms = u64::from(options.max_silence_seconds) * 1000;
        let silence_level = options.silence_level.map_or(SILENCE_RMS, f64::from);
        let (mut paused, mut muted) = (false, false);
        let mut silent_run_ms = 0u64;
        let hung_up = async {
            match &channel {
                Some(channel) => {
                    channel.hung_up().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::pin!(hung_up);
        let ending = loop {
            tokio::select! {
                frame = feed.next() => {
                    let Some(mut pcm) = frame else { break RecordingCommand::Stop };
                    if paused {
                        continue;
                    }
                    if muted {
                        pcm.iter_mut().for_each(|s| *s = 0);
                    }
                    if let Err(e) = writer.write(&pcm) {
                        recording.progress().cause = Some(e.to_string());
                        recording.state.send_replace(RecordingState::Failed);
                        let _ = writer.discard();
                        self.events().publish(&target_id, EventKind::RecordingFailed { recording: recording.name.clone() });
                        return;
                    }
                    let silent = rms(&pcm) < silence_level;
                    let mut p = recording.progress();
                    p.total_ms += frame_ms;
                    if silent {
                        p.silence_ms += frame_ms;
                        silent_run_ms += frame_ms;
                    } else {
                        p.talking_ms += frame_ms;
                        silent_run_ms = 0;
                    }
                    let total = p.total_ms;
                    drop(p);
                    if (max_ms > 0 && total >= max_ms) || (max_silence_ms > 0 && silent_run_ms >= max_silence_ms) {
                        break RecordingCommand::Stop;
                    }
                }
                command = commands.recv() => match command.unwrap_or(RecordingCommand::Stop) {
                    RecordingCommand::Pause => {
                        paused = true;
                        recording.state.send_replace(RecordingState::Paused);
                    }
                    RecordingCommand::Unpause => {
                        paused = false;
                        recording.state.send_replace(RecordingState::Recording);
                    }
                    RecordingCommand::Mute => muted = true,
                    RecordingCommand::Unmute => muted = false,
                    end @ (RecordingCommand::Stop | RecordingCommand::Cancel) => break end,
                },
                event = events.recv() => {
                    if let Ok(event) = event {
                        if let EventKind::ChannelDtmfReceived { digit, .. } = event.kind {
                            if event.source == target_id && options.terminate_on.matches(digit) {
                                break RecordingCommand::Stop;
                            }
                        }
                    }
                }
                () = &mut hung_up => break RecordingCommand::Stop,
            }
        };
        drop(feed);
        if ending == RecordingCommand::Cancel {
            let _ = writer.discard();
            recording.state.send_replace(RecordingState::Canceled);
            self.events().publish(
                &target_id,
                EventKind::RecordingFinished {
                    recording: recording.name.clone(),
                },
            );
            return;
        }
        let finished = tokio::task::spawn_blocking(move || writer.finish()).await;
        match finished {
            Ok(Ok(path)) => {
                let stored = StoreRow {
                    name: recording.name.clone(),
                    format: recording.format.clone(),
                    path: path.display().to_string(),
                    duration_ms: i64::try_from(recording.progress().total_ms).unwrap_or(i64::MAX),
                    created: time::rfc3339(SystemTime::now()),
                };
                let store = self.store().clone();
                let _ =
                    tokio::task::spawn_blocking(move || store.put_recording_blocking(stored)).await;
                recording.state.send_replace(RecordingState::Done);
                self.events().publish(
                    &target_id,
                    EventKind::RecordingFinished {
                        recording: recording.name.clone(),
                    },
                );
            }
            Ok(Err(e)) => {
                recording.progress().cause = Some(e.to_string());
                recording.state.send_replace(RecordingState::Failed);
                self.events().publish(
                    &target_id,
                    EventKind::RecordingFailed {
                        recording: recording.name.clone(),
                    },
                );
            }
            Err(e) => {
                recording.progress().cause = Some(e.to_string());
                recording.state.send_replace(RecordingState::Failed);
                self.events().publish(
                    &target_id,
                    EventKind::RecordingFailed {
                        recording: recording.name.clone(),
                    },
                );
            }
        }
    }

    pub fn live_recording(&self, name: &str) -> Result<Arc<LiveRecording>, ControlError> {
        self.live_recordings()
            .get(name)
            .cloned()
            .ok_or(ControlError::NotFound)
    }

    /// Stop, cancel, pause, unpause, mute or unmute a live recording.
    pub fn control_recording(
        &self,
        name: &str,
        command: RecordingCommand,
    ) -> Result<(), ControlError> {
        let recording = self.live_recording(name)?;
        let state = recording.state();
        let allowed = match command {
            RecordingCommand::Pause => state == RecordingState::Recording,
            RecordingCommand::Unpause => state == RecordingState::Paused,
            _ => true,
        };
        if !allowed {
            return Err(ControlError::WrongState(
                "recording is not in a state for that",
            ));
        }
        // The state is visible at once, not when the recording task gets to it.
        match command {
            RecordingCommand::Pause => {
                recording.state.send_replace(RecordingState::Paused);
            }
            RecordingCommand::Unpause => {
                recording.state.send_replace(RecordingState::Recording);
            }
            _ => {}
        }
        let _ = recording.commands.send(command);
        Ok(())
    }

    pub fn stored_recordings(&self) -> Vec<StoredRecording> {
        let rows = self.store().recordings().unwrap_or_default();
        rows.into_iter().map(StoredRecording::from).collect()
    }

    pub fn stored_recording(&self, name: &str) -> Result<StoredRecording, ControlError> {
        match self.store().recording(name) {
            Ok(Some(recording)) => Ok(recording.into()),
            Ok(None) => Err(ControlError::NotFound),
            Err(e) => Err(ControlError::Invalid(e.to_string())),
        }
    }

    pub fn delete_stored_recording(&self, name: &str) -> Result<(), ControlError> {
        let recording = self.stored_recording(name)?;
        std::fs::remove_file(&recording.path)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        self.store()
            .delete_recording_blocking(name)
            .map_err(|e| ControlError::Invalid(e.to_string()))
    }

    /// Copies a stored recording to a new name (ARI `copy`).
    pub fn copy_stored_recording(
        &self,
        name: &str,
        destination: &str,
    ) -> Result<StoredRecording, ControlError> {
        let source = self.stored_recording(name)?;
        if destination.is_empty() || destination.contains("..") {
            return Err(ControlError::Invalid("bad destination name".into()));
        }
        if matches!(self.store().recording(destination), Ok(Some(_))) {
            return Err(ControlError::Conflict(
                "a recording with that name exists".into(),
            ));
        }
        let path = self.recording_path(destination, &source.format);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ControlError::Invalid(e.to_string()))?;
        }
        std::fs::copy(&source.path, &path).map_err(|e| ControlError::Invalid(e.to_string()))?;
        let copy = StoredRecording {
            name: destination.to_owned(),
            path: path.display().to_string(),
            created: time::rfc3339(SystemTime::now()),
            ..source
        };
        self.store()
            .put_recording_blocking(copy.clone().into())
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        Ok(copy)
    }
}

fn file_duration_ms(path: &Path, ext: &str) -> i64 {
    let pcm = match RawFormat::from_extension(ext) {
        Some(format) => switchboard_media::raw::read_raw(path, format),
        None => switchboard_media::wav::read_wav(path),
    };
    pcm.map(|p| {
        i64::try_from(p.samples.len() as u64 * 1000 / u64::from(p.sample_rate.max(1))).unwrap_or(0)
    })
    .unwrap_or(0)
}
