//! Playbacks: media played into a channel (bridges later), each with an id that the
//! faces can query and stop — ARI's `playbacks` resource, Lua's `streamFile`, the
//! dialplan's `Playback()`.

use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_media::engine::{Control, PlaybackEnd, Source};
use switchboard_media::tone_plan::TonePlan;

use crate::events::EventKind;
use crate::say;
use crate::switch::{ControlError, Switch};

/// What a running playback can be told (stopping is [`Switch::stop_playback`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackControl {
    Pause,
    Unpause,
    /// From the start of the current item.
    Restart,
    /// Forward (positive) or back (negative) by milliseconds.
    Seek(i64),
}

impl From<PlaybackControl> for Control {
    fn from(op: PlaybackControl) -> Self {
        match op {
            PlaybackControl::Pause => Self::Pause,
            PlaybackControl::Unpause => Self::Unpause,
            PlaybackControl::Restart => Self::Restart,
            PlaybackControl::Seek(ms) => Self::Seek(ms),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackState {
    Queued,
    Playing,
    Complete,
}

impl PlaybackState {
    /// The seed's `Playback.state` values.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Playing => "playing",
            Self::Complete => "complete",
        }
    }
}

#[derive(Debug)]
struct Progress {
    state: PlaybackState,
    /// Index into `media` of what plays now.
    current: usize,
    stop: Option<switchboard_media::engine::Playback>,
    stopped: bool,
}

/// What to play, and how it is reported.
struct Request {
    media: Vec<String>,
    playback_id: Option<String>,
    offset_ms: i64,
    skip_ms: i64,
    announced: bool,
}

/// What a playback plays into.
pub type PlaybackTarget = crate::MediaTarget;

/// One playback request: a list of media URIs played in order.
#[derive(Debug)]
pub struct Playback {
    pub id: String,
    pub target: PlaybackTarget,
    pub media: Vec<String>,
    pub language: String,
    /// Where the first media starts (ARI `offsetms`).
    pub offset_ms: i64,
    /// How far forward/reverse control moves (ARI `skipms`).
    pub skip_ms: i64,
    /// Whether PlaybackStarted/Finished are published: not for music on hold,
    /// silence and Playtones, which Asterisk does not report as playbacks either.
    pub announced: bool,
    progress: Mutex<Progress>,
    complete: tokio::sync::watch::Sender<bool>,
}

impl Playback {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        crate::lock(&self.progress)
    }

    pub fn state(&self) -> PlaybackState {
        self.progress().state
    }

    /// Resolves once the playback is complete (finished, stopped or its channel gone).
    pub async fn wait(&self) {
        let mut rx = self.complete.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// The URI playing now (ARI's `media_uri`).
    pub fn media_uri(&self) -> String {
        let current = self.progress().current;
        self.media.get(current).cloned().unwrap_or_default()
    }

    /// The URI after the current one, if any (ARI's `next_media_uri`).
    pub fn next_media_uri(&self) -> Option<String> {
        let current = self.progress().current;
        self.media.get(current + 1).cloned()
    }

    fn stop(&self) {
        let mut progress = self.progress();
        progress.stopped = true;
        if let Some(playing) = &progress.stop {
            playing.stop();
        }
    }

    fn control(&self, op: Control) {
        if let Some(playing) = &self.progress().stop {
            playing.control(op);
        }
    }
}

/// ARI's default `skipms`.
pub const DEFAULT_SKIP_MS: i64 = 3000;

/// Play media into a channel or a bridge (ARI `play`, the dialplan's `Playback()`,
/// Lua's `streamFile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    pub target: PlaybackTarget,
    /// Media URIs played in order (`sound:`, `tone:`, `silence:`, `recording:`, …).
    pub media: Vec<String>,
    /// The sounds' language; the channel's (a bridge: `en`) when `None`.
    pub lang: Option<String>,
    /// Where the first media starts (ARI `offsetms`).
    pub offset_ms: i64,
    /// How far forward/reverse control moves (ARI `skipms`).
    pub skip_ms: i64,
    pub playback_id: Option<String>,
}

impl Play {
    /// `media` into `target`, from the start, with the defaults.
    pub fn new(target: PlaybackTarget, media: Vec<String>) -> Self {
        Self {
            target,
            media,
            lang: None,
            offset_ms: 0,
            skip_ms: DEFAULT_SKIP_MS,
            playback_id: None,
        }
    }

    /// `media` into channel `id`.
    pub fn channel(id: &str, media: Vec<String>) -> Self {
        Self::new(PlaybackTarget::Channel(id.to_owned()), media)
    }
}

impl Switch {
    /// Starts playing and returns at once; events report the start and the end.
    pub fn play(&self, play: Play) -> Result<Arc<Playback>, ControlError> {
        let request = Request {
            media: play.media,
            playback_id: play.playback_id,
            offset_ms: play.offset_ms,
            skip_ms: play.skip_ms,
            announced: true,
        };
        match play.target {
            PlaybackTarget::Channel(id) => self.play_on_channel(&id, play.lang.as_deref(), request),
            PlaybackTarget::Bridge(id) => {
                self.bridge(&id)?;
                let language = play.lang.unwrap_or_else(|| "en".to_owned());
                let target = PlaybackTarget::Bridge(id);
                self.start_playback(target, language, request, std::future::pending())
            }
        }
    }

    /// A background playback (music on hold, silence, Playtones): no Playback events.
    pub(crate) fn play_quietly(
        &self,
        channel_id: &str,
        media: &str,
        offset_ms: i64,
    ) -> Result<Arc<Playback>, ControlError> {
        let request = Request {
            media: vec![media.to_owned()],
            playback_id: None,
            offset_ms,
            skip_ms: DEFAULT_SKIP_MS,
            announced: false,
        };
        self.play_on_channel(channel_id, None, request)
    }

    fn play_on_channel(
        &self,
        channel_id: &str,
        language: Option<&str>,
        request: Request,
    ) -> Result<Arc<Playback>, ControlError> {
        let channel = self.channel(channel_id)?;
        let language = language.map_or_else(|| channel.data().language.clone(), str::to_owned);
        let target = PlaybackTarget::Channel(channel.id.clone());
        let ended = async move {
            channel.hung_up().await;
        };
        self.start_playback(target, language, request, ended)
    }

    /// Music on hold of `class` (a folder of files, looped) into a channel.
    pub fn music_on_hold(
        &self,
        channel_id: &str,
        class: &str,
    ) -> Result<Arc<Playback>, ControlError> {
        if self.moh_files(class).is_empty() {
            return Err(ControlError::Invalid(format!(
                "music on hold class {class:?} is not configured or has no files"
            )));
        }
        self.play_quietly(channel_id, &format!("moh:{class}"), self.moh_offset(class))
    }

    /// Music on hold of `class` played to every member of a bridge.
    pub(crate) fn music_on_hold_in_bridge(
        &self,
        bridge_id: &str,
        class: &str,
    ) -> Result<Arc<Playback>, ControlError> {
        self.bridge(bridge_id)?;
        if self.moh_files(class).is_empty() {
            return Err(ControlError::Invalid(format!(
                "music on hold class {class:?} is not configured or has no files"
            )));
        }
        let request = Request {
            media: vec![format!("moh:{class}")],
            playback_id: None,
            offset_ms: self.moh_offset(class),
            skip_ms: DEFAULT_SKIP_MS,
            announced: false,
        };
        let target = PlaybackTarget::Bridge(bridge_id.to_owned());
        self.start_playback(target, "en".to_owned(), request, std::future::pending())
    }

    /// Where a class is now: like Asterisk's `files` mode, everyone on a class hears
    /// the same point of it, on a clock that started when the class was first used.
    fn moh_offset(&self, class: &str) -> i64 {
        let mut epochs = self.moh_epochs();
        let epoch = *epochs
            .entry(class.to_owned())
            .or_insert_with(std::time::Instant::now);
        i64::try_from(epoch.elapsed().as_millis()).unwrap_or(0)
    }

    /// The WAV files of a music-on-hold class, in name order.
    fn moh_files(&self, class: &str) -> Vec<std::path::PathBuf> {
        let Some(moh) = self.config().musiconhold.get(class) else {
            return Vec::new();
        };
        let mut files: Vec<_> = std::fs::read_dir(&moh.directory)
            .map(|dir| {
                dir.filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    fn start_playback(
        &self,
        target: PlaybackTarget,
        language: String,
        request: Request,
        target_gone: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<Arc<Playback>, ControlError> {
        let Request {
            media,
            playback_id,
            offset_ms,
            skip_ms,
            announced,
        } = request;
        if media.is_empty() {
            return Err(ControlError::Invalid("no media to play".into()));
        }
        let id = playback_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut playbacks = self.playback_registry();
        if playbacks.contains_key(&id) {
            return Err(ControlError::Conflict(format!(
                "playback {id} already exists"
            )));
        }
        let playback = Arc::new(Playback {
            id: id.clone(),
            target,
            media,
            language,
            offset_ms,
            skip_ms,
            announced,
            progress: Mutex::new(Progress {
                state: PlaybackState::Queued,
                current: 0,
                stop: None,
                stopped: false,
            }),
            complete: tokio::sync::watch::channel(false).0,
        });
        playbacks.insert(id, playback.clone());
        drop(playbacks);
        let switch = self.clone();
        let task = playback.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = switch.run_playback(&task) => {}
                () = target_gone => task.stop(),
            }
            task.progress().state = PlaybackState::Complete;
            task.complete.send_replace(true);
            if task.announced {
                switch.events().publish(
                    task.target.id(),
                    EventKind::PlaybackFinished {
                        playback: task.id.clone(),
                    },
                );
            }
            // Registered until PlaybackFinished is out, so it carries the snapshot.
            switch.playback_registry().remove(&task.id);
        });
        Ok(playback)
    }

    async fn run_playback(&self, playback: &Playback) {
        let mut started = false;
        let sources = playback.media.iter().enumerate().flat_map(|(index, uri)| {
            let sources = self.media_sources(uri, &playback.language);
            if sources.is_empty() {
                tracing::warn!(target = %playback.target.uri(), uri, "media not found; skipped");
            }
            sources.into_iter().map(move |source| (index, source))
        });
        for (index, source) in sources {
            let offset = if started { 0 } else { playback.offset_ms };
            // A bridge mixes while an announcement plays into it.
            let (handle, _audio) = match &playback.target {
                PlaybackTarget::Channel(id) => match self.channel(id) {
                    Ok(channel) => (channel.leg.play_from(source, offset), None),
                    Err(_) => return,
                },
                PlaybackTarget::Bridge(id) => match self.bridge(id) {
                    Ok(bridge) => {
                        let (mixer, guard) = bridge.need_audio();
                        (mixer.play_from(source, offset), Some(guard))
                    }
                    Err(_) => return,
                },
            };
            let done = {
                let mut progress = playback.progress();
                if progress.stopped {
                    handle.stop();
                    return;
                }
                progress.current = index;
                progress.state = PlaybackState::Playing;
                let done = handle.finished_signal();
                progress.stop = Some(handle);
                done
            };
            if !started && playback.announced {
                self.events().publish(
                    playback.target.id(),
                    EventKind::PlaybackStarted {
                        playback: playback.id.clone(),
                    },
                );
            }
            started = true;
            let end = done.await;
            if end == PlaybackEnd::Stopped || playback.progress().stopped {
                return;
            }
        }
    }

    /// What a media URI stands for: the sources found, in order (several for
    /// `number:`, `digits:` and `characters:`, which are read out of sound files).
    fn media_sources(&self, uri: &str, language: &str) -> Vec<Source> {
        let (scheme, rest) = uri.split_once(':').unwrap_or(("sound", uri));
        let spoken = match scheme {
            "number" => rest.trim().parse().ok().map(say::number),
            "digits" => Some(say::digits(rest)),
            "characters" => Some(say::characters(rest)),
            // Seconds since the epoch, said as a date, a time, or both.
            "date" | "time" | "datetime" => rest.trim().parse().ok().map(|secs: u64| {
                let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                match scheme {
                    "date" => say::date(at),
                    "time" => say::time_of_day(at),
                    _ => [say::date(at), say::time_of_day(at)].concat(),
                }
            }),
            _ => None,
        };
        match spoken {
            Some(sounds) => sounds
                .iter()
                .filter_map(|name| self.find_sound(name, language).map(Source::File))
                .collect(),
            None => self
                .media_source(scheme, rest, uri, language)
                .into_iter()
                .collect(),
        }
    }

    fn media_source(&self, scheme: &str, rest: &str, uri: &str, language: &str) -> Option<Source> {
        match scheme {
            "sound" => self.find_sound(rest, language).map(Source::File),
            "tone" => TonePlan::parse_tone_uri(rest, "us").ok().map(Source::Tones),
            "silence" => Some(Source::Silence {
                duration_ms: rest.parse().unwrap_or(u32::MAX),
            }),
            "moh" => {
                let files = self.moh_files(rest);
                (!files.is_empty()).then_some(Source::Loop(files))
            }
            "recording" => {
                let path = self.config().general.data_dir.join("recordings").join(rest);
                let path = if path.extension().is_some() {
                    path
                } else {
                    path.with_extension("wav")
                };
                path.is_file().then_some(Source::File(path))
            }
            _ if uri.starts_with('/') => self.find_sound(uri, language).map(Source::File),
            // FreeSWITCH's silence, in milliseconds (`silence_stream://1000[,noise]`).
            _ if uri.starts_with("silence_stream://") => {
                let ms = uri["silence_stream://".len()..]
                    .split(',')
                    .next()
                    .unwrap_or("");
                Some(Source::Silence {
                    duration_ms: ms
                        .trim()
                        .parse()
                        .ok()
                        .filter(|&ms| ms > 0)
                        .unwrap_or(u32::MAX),
                })
            }
            _ if uri.starts_with("tone_stream://") => {
                TonePlan::parse_tone_stream(uri.trim_start_matches("tone_stream://"))
                    .ok()
                    .map(Source::Tones)
            }
            _ => None,
        }
    }

    pub fn playback(&self, id: &str) -> Result<Arc<Playback>, ControlError> {
        self.playback_registry()
            .get(id)
            .cloned()
            .ok_or(ControlError::NotFound)
    }

    pub fn stop_playback(&self, id: &str) -> Result<(), ControlError> {
        self.playback(id)?.stop();
        Ok(())
    }

    /// Pause, unpause, restart, or move a playback forward or back.
    pub fn control_playback(&self, id: &str, op: PlaybackControl) -> Result<(), ControlError> {
        let playback = self.playback(id)?;
        if playback.state() != PlaybackState::Playing {
            return Err(ControlError::WrongState("playback is not playing"));
        }
        playback.control(op.into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_play_request_for_channels_and_bridges_keeps_its_skip() {
        let (switch, channel) = crate::testing::switch_with_channel("play-request").await;
        let playback = switch
            .play(Play {
                skip_ms: 1234,
                playback_id: Some("p1".into()),
                ..Play::channel(&channel.id, vec!["silence:5000".into()])
            })
            .unwrap();
        assert_eq!(playback.skip_ms, 1234);
        assert_eq!(playback.target, PlaybackTarget::Channel(channel.id.clone()));
        assert_eq!(switch.playback("p1").unwrap().skip_ms, 1234);
        let again = Play {
            playback_id: Some("p1".into()),
            ..Play::channel(&channel.id, vec!["silence:5000".into()])
        };
        assert!(matches!(switch.play(again), Err(ControlError::Conflict(_))));
        let nothing = Play::channel(&channel.id, Vec::new());
        assert!(matches!(
            switch.play(nothing),
            Err(ControlError::Invalid(_))
        ));
        let nowhere = Play::new(
            PlaybackTarget::Bridge("missing".into()),
            vec!["silence:10".into()],
        );
        assert_eq!(switch.play(nowhere).err(), Some(ControlError::NotFound));
        let bridge = switch
            .create_bridge(crate::NewBridge {
                transient: false,
                ..crate::NewBridge::transient("b")
            })
            .unwrap();
        let into_bridge = Play::new(
            PlaybackTarget::Bridge(bridge.id.clone()),
            vec!["silence:5000".into()],
        );
        let played = switch.play(into_bridge).unwrap();
        assert_eq!(
            (played.language.as_str(), played.skip_ms),
            ("en", DEFAULT_SKIP_MS)
        );
        switch.stop_playback(&playback.id).unwrap();
        playback.wait().await;
        assert_eq!(playback.state(), PlaybackState::Complete);
    }
}
