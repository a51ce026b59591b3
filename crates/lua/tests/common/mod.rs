//! A real switch on loopback for Lua scripts, with a `t` context, tone files, and a
//! "caller": the parked `;1` half of a Local call whose `;2` half runs the script. The
//! caller presses the digits a script puts in `send_dtmf` and plays the sound it puts
//! in `play_to_me`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::config::{General, Rtp, Sip};
use switchboard_core::{Channel, Config, EventKind, Originate, Play, Switch, Then};

pub struct Lab {
    pub switch: Switch,
    pub dir: PathBuf,
}

/// 16-bit mono 8 kHz WAV of `seconds` of `freq` Hz.
pub fn write_tone(path: &Path, freq: f32, seconds: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    let n = (8000.0 * seconds) as usize;
    for i in 0..n {
        let t = i as f32 / 8000.0;
        let s = (t * freq * std::f32::consts::TAU).sin() * 8000.0;
        w.write_sample(s as i16).expect("write sample");
    }
    w.finalize().expect("finalize wav");
}

impl Lab {
    /// A switch whose `t` context has `s` running `Lua(<script> <dir>)` and whatever
    /// `extra` adds; `answer` answers and hangs up after a second; `after` is where
    /// transfers go.
    pub async fn start(name: &str, script: &str, extra: &[(&str, &[&str])]) -> Lab {
        Self::start_with(name, script, extra, Default::default()).await
    }

    /// As [`Lab::start`], with `[lua]` settings.
    pub async fn start_with(
        name: &str,
        script: &str,
        extra: &[(&str, &[&str])],
        lua: switchboard_core::config::Lua,
    ) -> Lab {
        let dir =
            std::env::temp_dir().join(format!("switchboard-lua-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sounds = dir.join("sounds");
        std::fs::create_dir_all(sounds.join("en")).expect("sounds dir");
        write_tone(&sounds.join("en/tone1k.wav"), 1000.0, 3.0);
        write_tone(&sounds.join("en/two-part.wav"), 400.0, 8.0);
        write_tone(&dir.join("insert.wav"), 600.0, 1.0);
        let steps = |apps: &[&str]| apps.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut t: BTreeMap<String, Vec<String>> = BTreeMap::new();
        t.insert(
            "s".into(),
            steps(&[
                &format!("Lua({script} {})", dir.display()),
                "Set(after_lua=1)",
                "Wait(10)",
            ]),
        );
        t.insert("answer".into(), steps(&["Answer()", "Wait(1)", "Hangup()"]));
        t.insert("after".into(), steps(&["Set(transferred=1)", "Wait(10)"]));
        for (exten, apps) in extra {
            t.insert(exten.to_string(), steps(apps));
        }
        let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lua");
        let config = Config {
            general: General {
                data_dir: dir.join("data"),
                sounds_dirs: vec![sounds],
                scripts_dir: scripts,
                ..General::default()
            },
            sip: Sip {
                listen: vec!["udp:127.0.0.1:0".into()],
                ..Sip::default()
            },
            rtp: Rtp::default(),
            ari: None,
            sessions_api: None,
            lua,
            security: Default::default(),
            endpoint: Vec::new(),
            trunk: Vec::new(),
            musiconhold: BTreeMap::new(),
            dialplan: [("t".to_owned(), t)].into(),
        };
        let switch = Switch::start(config).await.expect("the switch starts");
        switchboard_lua::install(&switch).expect("Lua installs");
        Lab { switch, dir }
    }

    /// Calls `exten`@t; returns the caller half, which answers the script's requests
    /// for digits and sound until the call ends.
    pub async fn call(&self, exten: &str) -> Arc<Channel> {
        let mut events = self.switch.events().subscribe();
        let caller = self
            .switch
            .originate(Originate::new(format!("Local/{exten}@t"), Then::Park))
            .await
            .expect("originate");
        let switch = self.switch.clone();
        let id = caller.id.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                let EventKind::ChannelVarset { variable, value } = &event.kind else {
                    continue;
                };
                if event.source == id || value.is_empty() {
                    continue;
                }
                match variable.as_str() {
                    "send_dtmf" => {
                        let _ = switch.send_dtmf(&id, value, 100, 100).await;
                    }
                    "play_to_me" => {
                        let _ = switch.play(Play::channel(&id, vec![format!("sound:{value}")]));
                    }
                    _ => {}
                }
            }
        });
        caller
    }

    /// Waits for the global `name` to be set, up to `within`.
    pub async fn global(&self, name: &str, within: Duration) -> Option<String> {
        let until = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < until {
            if let Some(value) = self.switch.global(name) {
                return Some(value);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}
