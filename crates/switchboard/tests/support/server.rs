//! Runs `switchboard` with a generated config in a temp dir.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use switchboard_media::tone::ToneGenerator;
use switchboard_media::wav::{write_wav, Pcm};

use super::{poll, ports, sip, tail, Party, ALICE, BOB};

/// How long the server gets to answer its first OPTIONS.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server gets to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The config and the server's output, in the temp dir.
const CONFIG_FILE: &str = "switchboard.toml";
const LOG_FILE: &str = "server.log";

/// The ARI user of a server started with [`ServerConfig::ari`].
pub const ARI_USER: &str = "asterisk";
pub const ARI_PASSWORD: &str = "asterisk";

/// Frequency of the `tone1k` sound.
pub const TONE1K_FREQ: f32 = 1000.0;
/// Length of the `tone1k` sound.
pub const TONE1K_SECONDS: u32 = 3;

/// The two-part sound: [`TWO_PART_TONES`]`[0]` for [`TWO_PART_SECONDS`],
/// then [`TWO_PART_TONES`]`[1]` for as long (to hear where a playback is).
pub const TWO_PART: &str = "two-part";
/// The frequencies of the two parts of [`TWO_PART`], in order.
pub const TWO_PART_TONES: [f32; 2] = [1000.0, 400.0];
/// Length of each part of [`TWO_PART`].
pub const TWO_PART_SECONDS: u32 = 4;

/// An endpoint of the config.
struct Endpoint {
    party: Party,
    codecs: Option<Vec<String>>,
    /// Extra `key = value` TOML lines of this endpoint.
    settings: Vec<String>,
}

/// What goes into the server's config besides ports and paths.
pub struct ServerConfig {
    endpoints: Vec<Endpoint>,
    trunks: Vec<(String, SocketAddr, String)>,
    /// (context, extension pattern, applications), in order.
    dialplan: Vec<(String, String, Vec<String>)>,
    /// Serve ARI (on a free port, user `asterisk`/`asterisk`).
    ari: bool,
    /// Extra TOML (whole tables such as `[security]`), appended as is.
    extra: Vec<String>,
    /// Extra `key = value` lines of `[general]`.
    general: Vec<String>,
}

impl Default for ServerConfig {
    /// Endpoints 1000 and 1001, and the `default` context with `100`
    /// (play `tone1k`, hang up), `101` (echo) and `_1XXX` (dial endpoint).
    fn default() -> Self {
        ServerConfig {
            endpoints: vec![ALICE, BOB]
                .into_iter()
                .map(|party| Endpoint {
                    party,
                    codecs: None,
                    settings: Vec::new(),
                })
                .collect(),
            trunks: Vec::new(),
            dialplan: Vec::new(),
            ari: false,
            extra: Vec::new(),
            general: Vec::new(),
        }
        .extension(
            "default",
            "100",
            &["Answer()", "Playback(tone1k)", "Hangup()"],
        )
        .extension("default", "101", &["Answer()", "Echo()"])
        .extension("default", "_1XXX", &["Dial(SIP/${EXTEN},30)"])
    }
}

impl ServerConfig {
    /// Restricts endpoint `id` to `codecs` (in order of preference).
    pub fn endpoint_codecs(mut self, id: &str, codecs: &[&str]) -> Self {
        let endpoint = self
            .endpoints
            .iter_mut()
            .find(|e| e.party.id == id)
            .unwrap_or_else(|| panic!("no endpoint {id} in the test config"));
        endpoint.codecs = Some(codecs.iter().map(|c| c.to_string()).collect());
        self
    }

    /// Adds a `key = value` TOML line to endpoint `id` (e.g. `auth_algorithms = ["MD5"]`).
    pub fn endpoint_setting(mut self, id: &str, line: &str) -> Self {
        let endpoint = self
            .endpoints
            .iter_mut()
            .find(|e| e.party.id == id)
            .unwrap_or_else(|| panic!("no endpoint {id} in the test config"));
        endpoint.settings.push(line.to_string());
        self
    }

    /// Adds a `key = value` line to `[general]`.
    pub fn general(mut self, line: &str) -> Self {
        self.general.push(line.to_owned());
        self
    }

    /// Appends raw TOML tables (e.g. `"[security]\nban_time = 5"`) to the config.
    pub fn toml(mut self, tables: &str) -> Self {
        self.extra.push(tables.to_string());
        self
    }

    /// Adds (or replaces) extension `pattern` of dialplan `context`.
    pub fn extension(mut self, context: &str, pattern: &str, apps: &[&str]) -> Self {
        self.dialplan
            .retain(|(c, p, _)| !(c == context && p == pattern));
        self.dialplan.push((
            context.to_string(),
            pattern.to_string(),
            apps.iter().map(|a| a.to_string()).collect(),
        ));
        self
    }

    /// Serves ARI on a free port (see [`Server::ari_addr`]), with user
    /// [`ARI_USER`] / [`ARI_PASSWORD`].
    pub fn ari(mut self) -> Self {
        self.ari = true;
        self
    }

    /// Adds a trunk whose calls (from `host`) land in `context`.
    pub fn trunk(mut self, name: &str, host: SocketAddr, context: &str) -> Self {
        self.trunks
            .push((name.to_string(), host, context.to_string()));
        self
    }

    fn to_toml(&self, dir: &Path, sip_port: u16, rtp: (u16, u16), ari_port: Option<u16>) -> String {
        let mut t = String::new();
        let path = |p: PathBuf| p.display().to_string();
        let _ = writeln!(t, "[general]");
        let _ = writeln!(t, "name = \"switchboard-e2e\"");
        let _ = writeln!(t, "data_dir = {:?}", path(dir.join("data")));
        let _ = writeln!(t, "sounds_dirs = [{:?}]", path(dir.join("sounds")));
        for line in &self.general {
            let _ = writeln!(t, "{line}");
        }
        let _ = writeln!(t, "\n[sip]");
        let _ = writeln!(
            t,
            "listen = [\"udp:127.0.0.1:{sip_port}\", \"tcp:127.0.0.1:{sip_port}\"]"
        );
        let _ = writeln!(t, "realm = \"switchboard\"");
        if let Some(port) = ari_port {
            let _ = writeln!(t, "\n[ari]");
            let _ = writeln!(t, "listen = \"127.0.0.1:{port}\"");
            let _ = writeln!(
                t,
                "users = [{{ name = {ARI_USER:?}, password = {ARI_PASSWORD:?} }}]"
            );
            let _ = writeln!(t, "cors_origins = [{ARI_CORS_ORIGIN:?}]");
        }
        let _ = writeln!(t, "\n[rtp]");
        let _ = writeln!(t, "ports = [{}, {}]", rtp.0, rtp.1);
        let _ = writeln!(
            t,
            "codecs = [\"PCMU\", \"PCMA\", \"G722\", \"telephone-event\"]"
        );
        let _ = writeln!(t, "\n[musiconhold.default]");
        let _ = writeln!(
            t,
            "directory = {:?}",
            path(dir.join("sounds").join(MOH_DIR))
        );
        for e in &self.endpoints {
            let _ = writeln!(t, "\n[[endpoint]]");
            let _ = writeln!(t, "id = {:?}", e.party.id);
            let _ = writeln!(t, "password = {:?}", e.party.password);
            let _ = writeln!(t, "context = \"default\"");
            if let Some(codecs) = &e.codecs {
                let _ = writeln!(t, "codecs = {codecs:?}");
            }
            for line in &e.settings {
                let _ = writeln!(t, "{line}");
            }
        }
        for (name, host, context) in &self.trunks {
            let _ = writeln!(t, "\n[[trunk]]");
            let _ = writeln!(t, "name = {name:?}");
            let _ = writeln!(t, "host = \"{host}\"");
            let _ = writeln!(t, "context = {context:?}");
        }
        let mut contexts: Vec<&str> = Vec::new();
        for (context, _, _) in &self.dialplan {
            if !contexts.contains(&context.as_str()) {
                contexts.push(context);
            }
        }
        for context in contexts {
            let _ = writeln!(t, "\n[dialplan.{}]", toml_key(context));
            for (_, pattern, apps) in self.dialplan.iter().filter(|d| d.0 == context) {
                let _ = writeln!(t, "{pattern:?} = {apps:?}");
            }
        }
        for tables in &self.extra {
            let _ = writeln!(t, "\n{tables}");
        }
        t
    }
}

/// `key` as a TOML key: bare if it can be, else quoted.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// A running `switchboard`. Dropping it stops the server (SIGTERM, then
/// SIGKILL); if the test is failing, it prints the tail of the server's log
/// and keeps the temp dir, otherwise it removes the dir.
pub struct Server {
    dir: PathBuf,
    sip_port: u16,
    ari_port: Option<u16>,
    child: Option<Child>,
}

impl Server {
    /// Starts a server with the default config; `name` names its temp dir.
    pub fn start(name: &str) -> Server {
        Server::start_with(name, ServerConfig::default())
    }

    /// Starts a server with `config` and waits until it answers OPTIONS.
    pub fn start_with(name: &str, config: ServerConfig) -> Server {
        let mut server = Server::prepare(name, &config);
        server.spawn();
        server
    }

    /// The temp dir, ports, sounds and config of a server whose switch the test runs
    /// itself (`switchboard_core::Switch::start` on the returned config text), to call
    /// core APIs no face offers yet. No process: SIPp and the RTP peers work as usual.
    pub fn in_process(name: &str, config: ServerConfig) -> (Server, String) {
        let server = Server::prepare(name, &config);
        let text = fs::read_to_string(server.dir.join(CONFIG_FILE)).expect("read config");
        (server, text)
    }

    /// Writes the temp dir (config, sounds) of a server, without starting it.
    fn prepare(name: &str, config: &ServerConfig) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-e2e-{name}-{}-{:x}",
            std::process::id(),
            super::random_u64() & 0xffff_ffff
        ));
        fs::create_dir_all(dir.join("data")).expect("create data dir");
        write_sounds(&dir.join("sounds"));
        let sip_port = ports::free_udp_tcp_port();
        let ari_port = config.ari.then(ports::free_tcp_port);
        let config_path = dir.join(CONFIG_FILE);
        fs::write(
            &config_path,
            config.to_toml(&dir, sip_port, ports::rtp_range(), ari_port),
        )
        .expect("write config");
        Server {
            dir,
            sip_port,
            ari_port,
            child: None,
        }
    }

    /// Runs the binary on the config in the temp dir, its output appended
    /// to the log, and waits until it answers OPTIONS (and listens for ARI).
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(LOG_FILE))
            .expect("open server log");
        let child = Command::new(binary())
            .arg("--config")
            .arg(self.dir.join(CONFIG_FILE))
            .current_dir(&self.dir)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "debug".into()),
            )
            .env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary().display()));
        self.child = Some(child);
        self.wait_ready();
    }

    /// Kills the server with SIGKILL (no shutdown at all, as in a crash)
    /// and waits until it is gone.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("server already stopped");
        child.kill().expect("SIGKILL switchboard");
        let _ = child.wait();
    }

    /// Starts the server again after [`Server::kill`] or a crash, with the
    /// same config, ports and data dir, and waits until it is ready.
    pub fn restart(&mut self) {
        let running = self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
        assert!(!running, "restart: the server is still running");
        self.child = None;
        let mut log = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join(LOG_FILE))
            .expect("open server log");
        let _ = writeln!(log, "---- restarted by the test ----");
        self.spawn();
    }

    /// Whether the server process has exited by itself, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The server process's id (for /proc/<pid>/status).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// The server's SIP address (UDP and TCP).
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.sip_port))
    }

    /// The server's ARI address (HTTP, under `/ari`); panics unless the config
    /// enabled ARI.
    pub fn ari_addr(&self) -> SocketAddr {
        let port = self.ari_port.expect("the server was started without ARI");
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The temp dir holding config, data, sounds and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config file the server runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// The CDR database.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("data").join("switchboard.db")
    }

    /// Where relative recording names are written (`<data_dir>/recordings`).
    pub fn recordings_dir(&self) -> PathBuf {
        self.dir.join("data").join("recordings")
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join(LOG_FILE)).unwrap_or_default()
    }

    /// Panics (with the log) if the server has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child_mut().try_wait().expect("poll server") {
            panic!(
                "switchboard exited with {status}; log:\n{}",
                tail(&self.log(), 60)
            );
        }
    }

    /// Sends SIGTERM and waits for the server to exit.
    pub fn stop(mut self) -> Option<ExitStatus> {
        self.terminate()
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("server already stopped")
    }

    fn wait_ready(&mut self) {
        let addr = self.sip_addr();
        let probe = sip::UdpClient::new(addr);
        let ready = poll(STARTUP_TIMEOUT, || {
            self.assert_running();
            probe
                .options(Duration::from_millis(300))
                .filter(|r| r.status == 200)
        });
        if ready.is_none() {
            panic!(
                "switchboard did not answer OPTIONS on udp:{addr} within {STARTUP_TIMEOUT:?}; log:\n{}",
                tail(&self.log(), 60)
            );
        }
        if let Some(port) = self.ari_port {
            let listening = poll(STARTUP_TIMEOUT, || {
                self.assert_running();
                std::net::TcpStream::connect(("127.0.0.1", port)).ok()
            });
            if listening.is_none() {
                panic!(
                    "switchboard did not listen for ARI on 127.0.0.1:{port}; log:\n{}",
                    tail(&self.log(), 60)
                );
            }
        }
    }

    /// SIGTERM, then SIGKILL if the server is still there after
    /// [`SHUTDOWN_TIMEOUT`]. `None` if it had to be killed.
    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let status = self.terminate();
        if std::thread::panicking() {
            eprintln!(
                "---- switchboard log (last 80 lines; exit: {status:?}) ----\n{}\n\
                 ---- test files kept in {} ----",
                tail(&self.log(), 80),
                self.dir.display()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The binary under test: `$SWITCHBOARD_E2E_BIN` if set (e.g. a release
/// build), else the package's own `switchboard`.
pub fn binary() -> PathBuf {
    std::env::var_os("SWITCHBOARD_E2E_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_switchboard")))
}

/// `sounds/en/tone1k.wav` (3 s of 1 kHz) and `sounds/en/two-part.wav` (4 s of
/// 1 kHz, then 4 s of 400 Hz), 16-bit mono at 8 kHz.
fn write_sounds(sounds: &Path) {
    let en = sounds.join("en");
    fs::create_dir_all(&en).expect("create sounds dir");
    write_tones(&en, "tone1k", &[(TONE1K_FREQ, TONE1K_SECONDS)]);
    write_tones(
        &en,
        TWO_PART,
        &TWO_PART_TONES.map(|freq| (freq, TWO_PART_SECONDS)),
    );
    // The `default` music-on-hold class: a second of each tone, in turn.
    let moh = sounds.join(MOH_DIR);
    fs::create_dir_all(&moh).expect("create music on hold dir");
    for (name, freq) in ["a", "b"].iter().zip(MOH_TONES) {
        write_tones(&moh, name, &[(freq, 1)]);
    }
}

/// The one browser origin test servers allow to call ARI.
pub const ARI_CORS_ORIGIN: &str = "http://allowed.example";

/// Where the `default` music-on-hold class lives, under the sounds dir.
const MOH_DIR: &str = "moh/default";
/// The tones of its two one-second files, in play order.
pub const MOH_TONES: [f32; 2] = [600.0, 1400.0];

/// `<dir>/<name>.wav`: each (frequency, seconds) of `parts` in turn, 16-bit
/// mono at 8 kHz.
fn write_tones(dir: &Path, name: &str, parts: &[(f32, u32)]) {
    let rate = 8000;
    let mut samples = Vec::new();
    for &(freq, seconds) in parts {
        let mut part = vec![0i16; (rate * seconds) as usize];
        ToneGenerator::new(&[freq], 8000, rate).fill(&mut part);
        samples.extend_from_slice(&part);
    }
    let path = dir.join(format!("{name}.wav"));
    write_wav(
        &path,
        &Pcm {
            samples,
            sample_rate: rate,
        },
    )
    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
