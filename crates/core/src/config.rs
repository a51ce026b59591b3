//! The configuration model (the TOML shape of the architecture doc). Parsing and
//! validation messages live in the binary; these types are what the switch runs on.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub general: General,
    #[serde(default)]
    pub sip: Sip,
    #[serde(default)]
    pub rtp: Rtp,
    #[serde(default)]
    pub ari: Option<Ari>,
    #[serde(default)]
    pub sessions_api: Option<SessionsApi>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub lua: Lua,
    #[serde(default)]
    pub endpoint: Vec<Endpoint>,
    #[serde(default)]
    pub trunk: Vec<Trunk>,
    #[serde(default)]
    pub musiconhold: BTreeMap<String, MusicOnHold>,
    #[serde(default)]
    pub dialplan: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct General {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_sounds_dirs")]
    pub sounds_dirs: Vec<PathBuf>,
    #[serde(default = "default_scripts_dir")]
    pub scripts_dir: PathBuf,
    /// SIP calls (channels with a SIP leg, in and out) at once; a new INVITE beyond
    /// gets 503 with Retry-After, so calls already up keep their resources. 0: no limit.
    #[serde(default)]
    pub max_channels: usize,
    /// Percent of an RTP thread's time spent on packets beyond which new calls get 503
    /// with Retry-After (the relay is about to fall behind), until the load is ten
    /// points lower. 0: never refused for load.
    #[serde(default = "default_max_media_load")]
    pub max_media_load: u8,
}

fn default_name() -> String {
    "switchboard".into()
}
fn default_data_dir() -> PathBuf {
    "./data".into()
}
fn default_sounds_dirs() -> Vec<PathBuf> {
    vec!["./data/sounds".into(), "/usr/share/asterisk/sounds".into()]
}
fn default_max_media_load() -> u8 {
    90
}
fn default_scripts_dir() -> PathBuf {
    "./scripts".into()
}

impl Default for General {
    fn default() -> Self {
        Self {
            name: default_name(),
            data_dir: default_data_dir(),
            sounds_dirs: default_sounds_dirs(),
            scripts_dir: default_scripts_dir(),
            max_channels: 0,
            max_media_load: default_max_media_load(),
        }
    }
}

/// Lua scripting (`[lua]`): scripts are found in `general.scripts_dir`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lua {
    /// Scripts run in the background when the switch starts (FreeSWITCH's
    /// `startup-script`), with their arguments: `["init.lua arg1"]`.
    pub startup_scripts: Vec<String>,
    /// Lua instructions a script may run without yielding (a session call, a sleep)
    /// before it is stopped: a loop that never waits must not hold a worker thread.
    pub max_instructions: u64,
    /// The command `session:speak` runs to make speech: `{text}` and `{file}` (a WAV
    /// to write) are replaced, e.g. `espeak-ng -w {file} {text}`. None: speak fails.
    pub tts_command: Option<String>,
}

impl Default for Lua {
    fn default() -> Self {
        Self {
            startup_scripts: Vec::new(),
            max_instructions: 100_000_000,
            tts_command: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    /// `udp:IP:PORT` / `tcp:IP:PORT`.
    #[serde(default = "default_sip_listen")]
    pub listen: Vec<String>,
    #[serde(default = "default_name")]
    pub realm: String,
    /// `Server`/`User-Agent` header text; empty sends none.
    #[serde(default = "default_name")]
    pub user_agent: String,
    /// Digest algorithms challenged with, in order. MD5 alone by default, as Asterisk
    /// offers: some phones (Debian 12's baresip) give up when SHA-256 is offered at all.
    #[serde(default = "default_auth_algorithms")]
    pub auth_algorithms: Vec<DigestAlgorithm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

fn default_auth_algorithms() -> Vec<DigestAlgorithm> {
    vec![DigestAlgorithm::Md5]
}

/// Defences of the SIP listeners: credential replay, brute force, floods, idle sockets.
/// Defaults follow fail2ban's Asterisk jail and Kamailio's pike.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    /// Seconds a digest nonce stays usable.
    pub nonce_lifetime: u64,
    /// Failed authentications from one address within `failure_window` seconds that ban it.
    pub max_auth_failures: u32,
    pub failure_window: u64,
    /// Seconds a banned address stays banned.
    pub ban_time: u64,
    pub ban_action: BanAction,
    /// Requests per source address per `rate_window` seconds; 0 turns the limit off.
    pub rate_limit: u32,
    pub rate_window: u64,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_source: usize,
    /// Seconds a TCP connection may stay silent (keep-alives count as traffic).
    pub tcp_idle_timeout: u64,
    /// Seconds to complete a message once its first byte has arrived.
    pub tcp_message_timeout: u64,
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            nonce_lifetime: 300,
            max_auth_failures: 5,
            failure_window: 600,
            ban_time: 600,
            ban_action: BanAction::Drop,
            rate_limit: 200,
            rate_window: 2,
            tcp_max_connections: 1024,
            tcp_max_connections_per_source: 32,
            tcp_idle_timeout: 300,
            tcp_message_timeout: 10,
            max_header_bytes: 65_536,
            max_body_bytes: 65_536,
        }
    }
}

/// What a banned address gets: silence, or 403 Forbidden.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BanAction {
    #[default]
    Drop,
    Forbidden,
}

fn default_sip_listen() -> Vec<String> {
    vec!["udp:127.0.0.1:5060".into(), "tcp:127.0.0.1:5060".into()]
}

impl Default for Sip {
    fn default() -> Self {
        Self {
            listen: default_sip_listen(),
            realm: default_name(),
            user_agent: default_name(),
            auth_algorithms: default_auth_algorithms(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rtp {
    #[serde(default = "default_rtp_ports")]
    pub ports: [u16; 2],
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
}

fn default_rtp_ports() -> [u16; 2] {
    [10000, 20000]
}
fn default_codecs() -> Vec<String> {
    ["PCMU", "PCMA", "G722", "telephone-event"]
        .map(String::from)
        .to_vec()
}

impl Default for Rtp {
    fn default() -> Self {
        Self {
            ports: default_rtp_ports(),
            codecs: default_codecs(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ari {
    pub listen: String,
    #[serde(default)]
    pub users: Vec<User>,
    /// Origins allowed to call ARI from a browser (CORS); `*` allows any.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsApi {
    pub listen: String,
    /// HTTPS (the default); plain HTTP only when false.
    #[serde(default = "default_true")]
    pub tls: bool,
    /// PEM certificate chain and private key; none: a self-signed pair is made in
    /// `data_dir` on first start and kept.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Static bearer tokens.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Users who get tokens from `POST /api/login/oauth/token`.
    #[serde(default)]
    pub users: Vec<User>,
    /// This instance's id, for `target_instance_id`; `general.name` when unset.
    #[serde(default)]
    pub instance_id: Option<String>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub id: String,
    pub password: String,
    #[serde(default = "default_context")]
    pub context: String,
    /// This endpoint's codec order; the `[rtp]` list when absent.
    #[serde(default)]
    pub codecs: Option<Vec<String>>,
    /// `auto` (RFC 4733 when negotiated, else in-band), `rfc4733`, `inband` or `info`
    /// (SIP INFO `application/dtmf-relay`).
    #[serde(default)]
    pub dtmf_mode: DtmfMode,
    /// This endpoint's digest algorithms; `[sip] auth_algorithms` when absent.
    #[serde(default)]
    pub auth_algorithms: Option<Vec<DigestAlgorithm>>,
    /// Send calls over the flow its REGISTER came on, whatever its Contact says (PJSIP).
    #[serde(default)]
    pub force_rport: bool,
    /// Rewrite its Contact to the REGISTER's source address (PJSIP).
    #[serde(default)]
    pub rewrite_contact: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    #[default]
    Auto,
    Rfc4733,
    Inband,
    Info,
}

fn default_context() -> String {
    "default".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    pub name: String,
    /// `IP:PORT` of the peer.
    pub host: String,
    #[serde(default = "default_context")]
    pub context: String,
    #[serde(default)]
    pub codecs: Option<Vec<String>>,
    #[serde(default)]
    pub dtmf_mode: DtmfMode,
    /// Register with the carrier (digest auth with `username`/`password`), refreshed
    /// before `expires` runs out.
    #[serde(default)]
    pub register: bool,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Seconds asked for in REGISTER.
    #[serde(default = "default_trunk_expires")]
    pub expires: u32,
    /// User and domain of our address of record at the carrier (From/To of REGISTER and
    /// pings); `username` and the carrier's `host` when absent.
    #[serde(default)]
    pub from_user: Option<String>,
    #[serde(default)]
    pub from_domain: Option<String>,
    /// Seconds between OPTIONS pings; 0 sends none. Default: 60 for a trunk that
    /// registers, none otherwise.
    #[serde(default)]
    pub qualify: Option<u64>,
    /// The From user of calls out through this trunk, unless the call sets a caller id.
    #[serde(default)]
    pub caller_id_number: Option<String>,
}

fn default_trunk_expires() -> u32 {
    3600
}

impl Trunk {
    /// Seconds between OPTIONS pings (0: none), defaults applied.
    pub fn qualify_secs(&self) -> u64 {
        self.qualify
            .unwrap_or(if self.register { DEFAULT_QUALIFY } else { 0 })
    }
}

/// Seconds between OPTIONS pings of a registering trunk that does not say.
const DEFAULT_QUALIFY: u64 = 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MusicOnHold {
    #[serde(default = "default_moh_mode")]
    pub mode: String,
    pub directory: PathBuf,
}

fn default_moh_mode() -> String {
    "files".into()
}
