//! Playbacks: media played into a channel (bridges later), each with an id that the
//! faces can query and stop — ARI's `playbacks` resource, Lua's `streamFile`, the
//! dialplan's `Playback()`.

use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_media::engine::{PlaybackEnd, Source};

use crate::events::EventKind;
use crate::switch::{ControlError, Switch};

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

/// One playback request: a list of media URIs played in order.
#[derive(Debug)]
pub struct Playback {
    pub id: String,
    /// `channel:<id>` (ARI's `target_uri`).
    pub target_uri: String,
    pub channel: String,
    pub media: Vec<String>,
    pub language: String,
    progress: Mutex<Progress>,
    complete: tokio::sync::watch::Sender<bool>,
}

impl Playback {
    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
}

impl Switch {
    /// Starts playing `media` (URIs: `sound:name`, or a file path) into a channel and
    /// returns at once; events report the start and the end.
    pub fn play(
        &self,
        channel_id: &str,
        media: Vec<String>,
        language: Option<&str>,
        playback_id: Option<String>,
    ) -> Result<Arc<Playback>, ControlError> {
        let channel = self.channel(channel_id)?;
        if media.is_empty() {
            return Err(ControlError::Invalid("no media to play".into()));
        }
        let id = playback_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut playbacks = self.playback_registry();
        if playbacks.contains_key(&id) {
            return Err(ControlError::Invalid(format!(
                "playback {id} already exists"
            )));
        }
        let language = language.map_or_else(|| channel.data().language.clone(), str::to_owned);
        let playback = Arc::new(Playback {
            id: id.clone(),
            target_uri: format!("channel:{}", channel.id),
            channel: channel.id.clone(),
            media,
            language,
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
                _ = channel.hung_up() => task.stop(),
            }
            task.progress().state = PlaybackState::Complete;
            task.complete.send_replace(true);
            switch.playback_registry().remove(&task.id);
            switch.events().publish(
                &task.channel,
                EventKind::PlaybackFinished {
                    playback: task.id.clone(),
                },
            );
        });
        Ok(playback)
    }

    /// Plays and waits for the end (the dialplan's `Playback()`).
    pub async fn play_and_wait(&self, channel_id: &str, media: &str) -> Result<(), ControlError> {
        let playback = self.play(channel_id, vec![media.to_owned()], None, None)?;
        playback.wait().await;
        Ok(())
    }

    async fn run_playback(&self, playback: &Playback) {
        let Ok(channel) = self.channel(&playback.channel) else {
            return;
        };
        let mut started = false;
        for (index, uri) in playback.media.iter().enumerate() {
            let Some(source) = self.media_source(uri, &playback.language) else {
                tracing::warn!(channel = %channel.name, uri, "media not found; skipped");
                continue;
            };
            let handle = channel.leg.play(source);
            let done = {
                let mut progress = playback.progress();
                if progress.stopped {
                    return;
                }
                progress.current = index;
                progress.state = PlaybackState::Playing;
                let done = handle.finished_signal();
                progress.stop = Some(handle);
                done
            };
            if !started {
                started = true;
                self.events().publish(
                    &playback.channel,
                    EventKind::PlaybackStarted {
                        playback: playback.id.clone(),
                    },
                );
            }
            let end = done.await;
            if end == PlaybackEnd::Stopped || playback.progress().stopped {
                return;
            }
        }
    }

    /// What a media URI stands for, if it can be found.
    fn media_source(&self, uri: &str, language: &str) -> Option<Source> {
        let (scheme, rest) = uri.split_once(':').unwrap_or(("sound", uri));
        match scheme {
            "sound" => self.find_sound(rest, language).map(Source::File),
            _ if uri.starts_with('/') => self.find_sound(uri, language).map(Source::File),
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
}
